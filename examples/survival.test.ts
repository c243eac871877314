import mqtt from 'mqtt';
import { assertClientSurvives, chaosArbitrary } from 'fake-aws-iot/fast-check';

// The device code under test: handles each command once, whatever AWS does to the deliveries.
function startDevice(url: string, onCommand: (id: string) => void) {
  const seen = new Set<string>();
  const device = mqtt.connect(url, { clientId: 'dev-1', clean: false, reconnectPeriod: 0 });
  device.on('message', (_topic, payload) => {
    const { id } = JSON.parse(payload.toString());
    if (seen.has(id)) return;           // AWS may deliver a message twice, even with a new packet id
    seen.add(id);
    onCommand(id);
  });
  return device;
}

test('the device handles every command exactly once under AWS chaos', async () => {
  await assertClientSurvives({
    chaos: chaosArbitrary(),            // duplicates, re-sends with new ids, subscription delay, reordering
    numRuns: 5,                         // FAKE_IOT_RUNS=500 for a nightly job
    seed: 1,                            // the same draws every run; FAKE_IOT_SEED=<n> tries others
    scenario: async ({ iot }) => {
      const handled: string[] = [];
      const device = startDevice(iot.url, (id) => handled.push(id));
      try {
        await new Promise((resolve) => device.once('connect', resolve));
        await device.subscribeAsync('cmd/dev-1', { qos: 1 });
        await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1' });
        for (let i = 0; i < 10; i++) iot.publish('cmd/dev-1', JSON.stringify({ id: `c${i}` }), { qos: 1 });

        await iot.trace.waitFor(() => handled.length >= 10);
        await iot.settled();              // late copies and re-sends are out (and acknowledged) too
        expect([...handled].sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9']);
      } finally {
        device.end(true);
      }
    },
  });
});
