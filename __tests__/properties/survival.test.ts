/**
 * Properties 1–3 of the testing kit, run the way a user runs them: assertClientSurvives() throws random
 * AWS misbehaviour at MQTT.js device code. Fixed seeds and a modest number of runs keep CI fast and
 * deterministic; FAKE_IOT_RUNS raises the number of runs for a nightly job.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { type FakeIot, FakeIotError } from 'fake-aws-iot';
import { type SurvivalFailure, assertClientSurvives, chaosArbitrary } from 'fake-aws-iot/fast-check';

const connect = (iot: FakeIot, clientId: string, clean = true) => mqtt.connectAsync(iot.url, { clientId, clean, reconnectPeriod: 0, protocolVersion: 4 });
const N = 25;

/** Publishes N numbered QoS 1 commands to dev-1 once its subscription is active. */
async function sendCommands(iot: FakeIot, device: MqttClient): Promise<void> {
  await device.subscribeAsync('cmd/dev-1', { qos: 1 });
  await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1' }, { timeoutMs: 2000 });
  for (let i = 0; i < N; i++) iot.publish('cmd/dev-1', JSON.stringify({ id: i }), { qos: 1 });
}

/** Waits until `done()` holds; the device's PUBACKs (sent after each message is handled) drive the checks. */
const until = (iot: FakeIot, done: () => boolean, what: string) =>
  iot.trace.waitFor(() => done(), { timeoutMs: 3000 }).catch(() => {
    throw new Error(`timed out waiting until ${what}`);
  });

async function expectFailure(run: Promise<unknown>): Promise<SurvivalFailure> {
  const error = (await run.then(() => undefined, (e: unknown) => e)) as FakeIotError & { failure: SurvivalFailure };
  expect(error).toBeInstanceOf(FakeIotError);
  expect(error.code).toBe('CLIENT_DID_NOT_SURVIVE');
  expect(error.message).toMatch(/replay this run: FAKE_IOT_SEED=\d+:[\d:]*/);
  expect(error.message).toContain(`endpoint seed: ${error.failure.endpointSeed}`);
  return error.failure;
}

test('1. a QoS 1 subscriber on a persistent session that de-duplicates by message id gets every message exactly once', async () => {
  await assertClientSurvives({
    seed: 101,
    numRuns: 8,
    chaos: chaosArbitrary(),
    scenario: async ({ iot }) => {
      const device = await connect(iot, 'dev-1', false);
      const handled: number[] = [];
      const seen = new Set<number>();
      device.on('message', (_topic, payload) => {
        const { id } = JSON.parse(payload.toString()) as { id: number };
        if (seen.has(id)) return; // application-level de-duplication
        seen.add(id);
        handled.push(id);
      });
      try {
        await sendCommands(iot, device);
        await until(iot, () => handled.length === N, `${N} commands were handled`);
        expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
      } finally {
        device.end(true);
      }
    },
  });
});

test('2a. a client that de-duplicates by packet id is caught, and the shrunk chaos names resendWithNewPacketId', async () => {
  const failure = await expectFailure(
    assertClientSurvives({
      seed: 202,
      numRuns: 20,
      scenario: async ({ iot }) => {
        const device = await connect(iot, 'dev-1');
        const packetIds = new Set<number | undefined>();
        const handled: number[] = [];
        device.on('message', (_topic, payload, packet) => {
          if (packetIds.has(packet.messageId)) return; // naive: packet ids are not message ids on AWS
          packetIds.add(packet.messageId);
          handled.push((JSON.parse(payload.toString()) as { id: number }).id);
        });
        try {
          await sendCommands(iot, device);
          const acked = () => iot.trace.filter({ direction: 'in', clientId: 'dev-1', packet: { cmd: 'puback' } }).length;
          const sent = () => iot.trace.filter({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'publish' } }).length;
          // MQTT.js acknowledges every delivery after handing it to the application; wait for the
          // originals and every copy chaos decided to send.
          const copies = iot.chaos.log().filter((d) => d.fault === 'resendWithNewPacketId').length;
          await until(iot, () => sent() === N + copies && acked() === sent(), 'every delivery was acknowledged');
          expect(handled).toHaveLength(new Set(handled).size); // each command handled once
        } finally {
          device.end(true);
        }
      },
    }),
  );
  expect(Object.keys(failure.chaos)).toEqual(['resendWithNewPacketId']);
  expect(failure.script.some((s) => s.fault === 'resendWithNewPacketId')).toBe(true);
});

test('2b. a client that assumes messages arrive in order is caught, and the shrunk chaos names reorder', async () => {
  const failure = await expectFailure(
    assertClientSurvives({
      seed: 203,
      numRuns: 20,
      scenario: async ({ iot }) => {
        const device = await connect(iot, 'dev-1');
        const seen = new Set<number>();
        let next = 0;
        let outOfOrder: number | undefined;
        device.on('message', (_topic, payload) => {
          const { id } = JSON.parse(payload.toString()) as { id: number };
          if (seen.has(id)) return;
          seen.add(id);
          if (id !== next && outOfOrder === undefined) outOfOrder = id; // naive: expects 0, 1, 2, ...
          next = id + 1;
        });
        try {
          await sendCommands(iot, device);
          await until(iot, () => seen.size === N, `${N} commands arrived`);
          expect(outOfOrder).toBeUndefined();
        } finally {
          device.end(true);
        }
      },
    }),
  );
  expect(Object.keys(failure.chaos)).toEqual(['reorder']);
});

describe('3. request/response right after SUBSCRIBE', () => {
  // A virtual clock: subscription delays end when the test moves time, whatever the machine's load.
  const endpoint = { clock: 'virtual' as const };
  const chaos = chaosArbitrary({ faults: ['subscriptionDelay'], minDelayMs: 50, maxDelayMs: 200 });
  const DEADLINE_MS = 400;

  /** A cloud-side service answering req/<id> on res/<id>, ready before the device starts. */
  async function service(iot: FakeIot): Promise<MqttClient> {
    const svc = await connect(iot, 'service');
    svc.on('message', (topic, payload) => svc.publish(topic.replace(/^req\//, 'res/'), `answer to ${payload.toString()}`, { qos: 1 }));
    await svc.subscribeAsync('req/+', { qos: 1 });
    iot.clock.advance(200); // the longest delay chaos may put on the service's own subscription
    await iot.trace.waitFor({ event: 'subscription-active', clientId: 'service' });
    return svc;
  }

  /**
   * The device: subscribes to its response topic, sends the request, and waits up to 400 ms (virtual) for
   * the answer, sending the request again every `retryEveryMs` if given.
   */
  async function request(iot: FakeIot, retryEveryMs: number | undefined): Promise<string> {
    const device = await connect(iot, 'dev-1');
    try {
      const answer = new Promise<string>((resolve) => device.once('message', (_t, p) => resolve(p.toString())));
      await device.subscribeAsync('res/dev-1', { qos: 1 });
      let tries = 0;
      const ask = async () => {
        await device.publishAsync('req/dev-1', `question ${++tries}`, { qos: 1 });
        // The broker routes the service's answer (to dev-1, or nowhere) before it acknowledges it.
        const sent = await iot.trace.waitFor({ direction: 'in', clientId: 'service', packet: { cmd: 'publish', payload: `answer to question ${tries}` } });
        await iot.trace.waitFor({ direction: 'out', clientId: 'service', packet: { cmd: 'puback', messageId: sent.packet.messageId } });
      };
      const delivered = () => iot.trace.find({ direction: 'out', clientId: 'dev-1', packet: { cmd: 'publish', topic: 'res/dev-1' } }) !== undefined;
      await ask();
      for (let waited = 0; !delivered(); ) {
        if (waited >= DEADLINE_MS) throw new Error(`no answer within ${DEADLINE_MS} ms`);
        const step = Math.min(retryEveryMs ?? DEADLINE_MS, DEADLINE_MS - waited);
        iot.clock.advance(step);
        waited += step;
        if (retryEveryMs !== undefined) await ask();
      }
      return await answer;
    } finally {
      device.end(true);
    }
  }

  test('a client that publishes its request at once is caught by subscriptionDelay', async () => {
    const failure = await expectFailure(
      assertClientSurvives({
        seed: 301,
        numRuns: 5,
        chaos,
        endpoint,
        scenario: async ({ iot }) => {
          const svc = await service(iot);
          try {
            expect(await request(iot, undefined)).toMatch(/^answer to question/);
          } finally {
            svc.end(true);
          }
        },
      }),
    );
    expect(Object.keys(failure.chaos)).toEqual(['subscriptionDelay']);
    expect(failure.chaos.subscriptionDelay).toEqual({ minMs: 50, maxMs: 50 }); // shrunk to the mildest delay
  });

  test('the same client that retries its request until answered survives', async () => {
    await assertClientSurvives({
      seed: 302,
      numRuns: 5,
      chaos,
      endpoint,
      scenario: async ({ iot }) => {
        const svc = await service(iot);
        try {
          expect(await request(iot, 50)).toMatch(/^answer to question/);
        } finally {
          svc.end(true);
        }
      },
    });
  });
});
