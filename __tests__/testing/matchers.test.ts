import { fakeIotMatchers } from 'fake-aws-iot/jest';
import { client, endpoint, failure } from '../helpers';


describe('fake-aws-iot/jest matchers (registered in jest.setup.ts)', () => {
  test('toHaveDelivered / toHaveReceivedFrom / toHaveDisconnected / toContainEntry pass on what happened', async () => {
    const iot = await endpoint({ seed: 5 });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/dev-1', { qos: 1 });
    iot.publish('cmd/dev-1', 'reboot', { qos: 1 });
    await dev.publishAsync('state/dev-1', '{"on":true}', { qos: 1 });
    await dev.receivedCount(1);
    await dev.endAsync();
    await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });

    expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/dev-1', qos: 1, payload: 'reboot', times: 1 });
    expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: /^cmd\// });
    expect(iot).not.toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/other' });
    expect(iot).toHaveReceivedFrom('dev-1', { topic: 'state/dev-1', payload: /"on":true/ });
    expect(iot.trace).toHaveReceivedFrom('dev-1', { topic: 'state/dev-1', times: 1 });
    expect(iot).toHaveDisconnected('dev-1', { reason: 'CLIENT_INITIATED_DISCONNECT' });
    expect(iot).not.toHaveDisconnected('dev-1', { reason: 'CLIENT_ERROR' });
    expect(iot.trace).toContainEntry({ event: 'subscription-active', topic: 'cmd/dev-1' });
    expect(iot).not.toContainEntry({ event: 'violation' });
  });

  test('a failure shows the client\'s part of the trace, formatted, and the seed', async () => {
    const iot = await endpoint({ seed: 31337 });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/dev-1', { qos: 0 });
    iot.publish('cmd/dev-1', 'hello');
    await dev.receivedCount(1);

    const message = failure(() => expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/dev-1', qos: 1 }));
    expect(message).toContain('Expected at least one PUBLISH on cmd/dev-1 at QoS 1 sent to dev-1, found 0.');
    expect(message).toMatch(/trace of dev-1:\n.*in {2}CONNECT clientId="dev-1"/);
    expect(message).toMatch(/out PUBLISH cmd\/dev-1 q0 "hello" \(5 B\)/);
    expect(message).toContain('seed 31337');

    expect(failure(() => expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/dev-1', times: 2 }))).toContain('Expected exactly 2 PUBLISH on cmd/dev-1 sent to dev-1, found 1.');
    expect(failure(() => expect(iot).not.toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/dev-1' }))).toContain('Expected no PUBLISH on cmd/dev-1 sent to dev-1, but found 1.');
    expect(failure(() => expect(iot).toHaveDisconnected('dev-1'))).toContain('Expected a disconnect of dev-1, found 0.');
    expect(failure(() => expect(iot).toContainEntry({ event: 'violation' }))).toContain('Expected a matching entry, found none.');
  });

  test('chaos tags show in failure excerpts', async () => {
    const iot = await endpoint({ seed: 1, chaos: { duplicateQos0: { probability: 1 } } });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('t', { qos: 0 });
    iot.publish('t', 'x');
    await dev.receivedCount(2);
    expect(failure(() => expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: 't', times: 1 }))).toMatch(/\[chaos duplicateQos0 #0 copy of #\d+\]/);
  });

  test('anything else than an endpoint or a trace is refused with a clear error', () => {
    expect(() => expect({}).toHaveDelivered({ clientId: 'x', topic: 't' })).toThrow(/fake-aws-iot matchers take an endpoint from startFakeIot\(\) or its trace/);
    expect(() => fakeIotMatchers.toHaveDelivered.call({ isNot: false }, 42 as never, { clientId: 'x', topic: 't' })).toThrow(/take an endpoint from startFakeIot\(\) or its trace \(got number\)/);
  });

  test('the exported fakeIotMatchers (for expect.extend() by hand) judge the trace like the registered ones', async () => {
    const iot = await endpoint({ seed: 6 });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync('cmd/dev-1', { qos: 0 });
    iot.publish('cmd/dev-1', 'hello');
    await iot.trace.waitFor({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'publish' } });
    const { toHaveDelivered, toHaveReceivedFrom, toHaveDisconnected, toContainEntry } = fakeIotMatchers;
    const ctx = { isNot: false };
    expect(toHaveDelivered.call(ctx, iot, { clientId: 'dev-1', topic: 'cmd/dev-1', payload: 'hello', times: 1 }).pass).toBe(true);
    expect(toHaveDelivered.call(ctx, iot.trace, { clientId: 'dev-1', topic: 'cmd/other' }).pass).toBe(false);
    expect(toHaveReceivedFrom.call(ctx, iot, 'dev-1', { topic: 'cmd/dev-1' }).pass).toBe(false);
    expect(toHaveDisconnected.call(ctx, iot, 'dev-1').pass).toBe(false);
    expect(toContainEntry.call(ctx, iot, { event: 'subscription-active', topic: 'cmd/dev-1' }).pass).toBe(true);
    expect(toHaveDelivered.call(ctx, iot, { clientId: 'dev-1', topic: 'cmd/dev-1', qos: 1 }).message()).toContain('Expected at least one PUBLISH on cmd/dev-1 at QoS 1 sent to dev-1, found 0.');
  });

  test('toHaveShadow: the shadow exists and holds the given fields (and version); failures show the document', async () => {
    const iot = await endpoint();
    iot.shadows.update('lamp', { state: { desired: { on: true, level: 3 }, reported: { on: false } } });
    iot.shadows.update('lamp', { state: { reported: { mode: 'eco' } } }, { shadowName: 'cfg' });
    expect(iot).toHaveShadow('lamp', { desired: { on: true }, reported: { on: false }, version: 1 });
    expect(iot).toHaveShadow('lamp', { reported: { mode: 'eco' }, shadowName: 'cfg' });
    expect(iot).not.toHaveShadow('lamp', { reported: { on: true } });
    expect(iot).not.toHaveShadow('nobody');
    expect(failure(() => expect(iot).toHaveShadow('lamp', { version: 2 }))).toContain('lamp\'s shadow: {"state":{"desired":{"on":true,"level":3},"reported":{"on":false},"delta":{"on":true,"level":3}},"version":1}');
    expect(failure(() => expect(iot).toHaveShadow('ghost'))).toContain('ghost has no shadow.');
    expect(() => expect(iot.trace).toHaveShadow('lamp')).toThrow(/takes the endpoint/);
  });
});

