import { FakeIotError, startFakeIot } from '../../src';

describe('startFakeIot() options are validated up front', () => {
  test.each([
    [{ prot: 1883 }, /unknown option options\.prot\. Did you mean "port"\?/],
    [{ port: -1 }, /options\.port must be an integer from 0 to 65535 \(got -1\)/],
    [{ port: 1.5 }, /options\.port must be an integer/],
    [{ host: '' }, /options\.host must be a non-empty string/],
    [{ profile: 'modern' }, /options\.profile must be one of "classic", "current" \(got "modern"\)/],
    [{ seed: -3 }, /options\.seed must be an integer from 0 to 4294967295/],
    [{ seed: 'abc' }, /options\.seed must be an integer/],
    [{ trace: 'yes' }, /options\.trace must be an object/],
    [{ trace: { maxEntries: 0 } }, /options\.trace\.maxEntries must be an integer from 1/],
    [{ trace: { maxEntry: 5 } }, /unknown option options\.trace\.maxEntry\. Did you mean "maxEntries"\?/],
    [{ limits: { maxPayloadByte: 10 } }, /unknown option options\.limits\.maxPayloadByte\. Did you mean "maxPayloadBytes"\?/],
    [{ limits: { maxPayloadByte: undefined } }, /unknown option options\.limits\.maxPayloadByte\./],
    [{ throttle: undefined }, /unknown option options\.throttle\. Did you mean "throttles"\?/],
    [{ limits: { maxPayloadBytes: 0 } }, /options\.limits\.maxPayloadBytes must be an integer from 1/],
    [{ limits: { minKeepAliveSeconds: 100, maxKeepAliveSeconds: 50 } }, /minKeepAliveSeconds \(100\) must not exceed options\.limits\.maxKeepAliveSeconds \(50\)/],
    [{ qos2: 'drop' }, /options\.qos2 must be one of "ignore", "disconnect" \(got "drop"\)/],
    [{ retain: true }, /options\.retain must be one of "store", "disconnect", "ignore" \(got true\)/],
    [{ reservedRetain: 'allow' }, /options\.reservedRetain must be one of "disconnect", "ignore" \(got "allow"\)/],
    [{ retainedQuota: 'drop' }, /options\.retainedQuota must be one of "discard", "disconnect" \(got "drop"\)/],
    [{ sharedSubscriptions: 'yes' }, /options\.sharedSubscriptions must be one of true, false \(got "yes"\)/],
    [{ limits: { maxRetainedMessages: -1 } }, /options\.limits\.maxRetainedMessages must be an integer from 0/],
    [{ limits: { maxShareNameBytes: 0 } }, /options\.limits\.maxShareNameBytes must be an integer from 1/],
    [{ lifecycleQos: 2 }, /options\.lifecycleQos must be one of 0, 1 \(got 2\)/],
    ['nope', /options must be an object/],
  ])('%j is refused', async (options, message) => {
    const error = (await startFakeIot(options as never).catch((e: unknown) => e)) as FakeIotError;
    expect(error).toBeInstanceOf(FakeIotError);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(/^\[fake-aws-iot\] /);
    expect(error.message).toMatch(message);
  });

  test('a port in use fails with LISTEN_FAILED and says what to do', async () => {
    await using first = await startFakeIot();
    const error = (await startFakeIot({ port: first.port }).catch((e: unknown) => e)) as FakeIotError;
    expect(error.code).toBe('LISTEN_FAILED');
    expect(error.message).toMatch(/EADDRINUSE.*port: 0/);
  });

  test('defaults: loopback, a free port, a random seed reported back, the current profile', async () => {
    await using iot = await startFakeIot();
    expect(iot.host).toBe('127.0.0.1');
    expect(iot.port).toBeGreaterThan(0);
    expect(iot.url).toBe(`mqtt://127.0.0.1:${iot.port}`);
    expect(Number.isInteger(iot.seed)).toBe(true);
    expect(iot.profile.name).toBe('current');
    expect(iot.profile.limits.maxPayloadBytes).toBe(131072);
    expect(iot.profile.reactions).toEqual({
      qos2: 'ignore', retain: 'store', emptyClientId: 'assign', lifecycleEvents: true, lifecycleQos: 1,
      hashMatchesParent: false, basicIngestPrefixExempt: true, offlineQos0: 'drop', packetBeforeConnack: 'disconnect', reservedTopics: 'disconnect',
      throttles: true, publishRate: 'discard', throughput: 'delay', connectRate: 'close', shadowDeltaOnReportedUpdate: false,
      reservedRetain: 'disconnect', retainedQuota: 'discard', sharedSubscriptions: true, qos2SubscribeMqtt5: 'downgrade',
      unauthorizedPublish: 'disconnect', unauthorizedPublishQos0Mqtt5: 'drop', unauthorizedSubscribe: 'disconnect',
    });
    expect(iot.profile.features).toEqual({ protocolVersions: [4, 5], retained: true, sharedSubscriptions: true });
    await using classic = await startFakeIot({ profile: 'classic' });
    expect(classic.profile.reactions).toMatchObject({ retain: 'disconnect', sharedSubscriptions: false });
    expect(classic.profile.features).toEqual({ protocolVersions: [4], retained: false, sharedSubscriptions: false });
  });

  test('profile "current": retained messages, shared subscriptions and MQTT 5, with their quotas', async () => {
    await using iot = await startFakeIot({ profile: 'current' });
    expect(iot.profile.name).toBe('current');
    expect(iot.profile.features).toEqual({ protocolVersions: [4, 5], retained: true, sharedSubscriptions: true });
    expect(iot.profile.limits).toMatchObject({ maxTopicAliases: 8, maxPacketBytes: 131072, receiveMaximum: 100, maxMessageExpirySeconds: 604_800, minMessageExpirySeconds: 1, maxSessionExpiryIntervalSeconds: 604_800 });
    expect(iot.profile.reactions).toMatchObject({ retain: 'store', reservedRetain: 'disconnect', retainedQuota: 'discard', sharedSubscriptions: true });
    expect(iot.profile.limits).toMatchObject({ maxRetainedMessages: 500_000, maxShareNameBytes: 128, sharedQueueMessagesPerSecond: 20 });
  });

  test('features follow the overrides: each profile can take the other\'s switches', async () => {
    await using current = await startFakeIot({ profile: 'current', retain: 'disconnect', sharedSubscriptions: false });
    expect(current.profile.features).toEqual({ protocolVersions: [4, 5], retained: false, sharedSubscriptions: false });
    await using classic = await startFakeIot({ profile: 'classic', retain: 'store', sharedSubscriptions: true });
    expect(classic.profile.features).toEqual({ protocolVersions: [4], retained: true, sharedSubscriptions: true });
  });

  test('overrides are merged over the profile', async () => {
    await using iot = await startFakeIot({ seed: 42, limits: { maxPayloadBytes: 10 }, qos2: 'disconnect' });
    expect(iot.seed).toBe(42);
    expect(iot.profile.limits).toMatchObject({ maxPayloadBytes: 10, maxTopicBytes: 256 });
    expect(iot.profile.reactions.qos2).toBe('disconnect');
    // The profile itself is untouched: the next endpoint without overrides has AWS's values.
    await using plain = await startFakeIot();
    expect(plain.profile.limits.maxPayloadBytes).toBe(131072);
    expect(plain.profile.reactions.qos2).toBe('ignore');
    // An override given as undefined is no override.
    await using same = await startFakeIot({ qos2: undefined, limits: { maxPayloadBytes: undefined } });
    expect(same.profile.reactions.qos2).toBe('ignore');
    expect(same.profile.limits.maxPayloadBytes).toBe(131072);
  });
});

describe('API misuse gives clear errors', () => {
  test('publish() checks its arguments', async () => {
    await using iot = await startFakeIot();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return [(e as FakeIotError).code, (e as Error).message];
      }
      return undefined;
    };
    expect(code(() => iot.publish('a/#', 'x'))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/wildcard/)]);
    expect(code(() => iot.publish('a', 'x', { qos: 2 as never }))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/qos must be 0 or 1/)]);
    expect(code(() => iot.publish('a', { json: true } as never))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/JSON\.stringify/)]);
    expect(code(() => iot.publish('a', Buffer.alloc(131073)))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/limits\.maxPayloadBytes/)]);
    expect(code(() => iot.disconnect(''))).toEqual(['INVALID_ARGUMENT', expect.stringMatching(/clientId must be a non-empty string/)]);
  });

  test('close() is idempotent; using the endpoint afterwards fails with ENDPOINT_CLOSED', async () => {
    const iot = await startFakeIot();
    await Promise.all([iot.close(), iot.close()]);
    await iot.close();
    expect(() => iot.publish('a', 'x')).toThrow(expect.objectContaining({ code: 'ENDPOINT_CLOSED' }));
    expect(() => iot.disconnect('a')).toThrow(expect.objectContaining({ code: 'ENDPOINT_CLOSED' }));
    await expect(iot.trace.waitFor({ event: 'connect' }, { timeoutMs: 10 })).rejects.toMatchObject({ code: 'ENDPOINT_CLOSED' });
  });
});
