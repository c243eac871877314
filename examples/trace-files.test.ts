import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseTraceJsonLines, startFakeIot, traceToHtml } from 'fake-aws-iot';

const dir = mkdtempSync(join(tmpdir(), 'fake-iot-trace-'));

test('a run to open in a browser, or in Wireshark', async () => {
  await using iot = await startFakeIot({ seed: 42, chaos: { script: [{ fault: 'duplicateQos0', client: 'dev-1', nth: 1 }] } });
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-1', reconnectPeriod: 0 });
  await device.subscribeAsync('cmd/dev-1');
  iot.publish('cmd/dev-1', '{"on":true}');
  await iot.trace.waitFor({ direction: 'out', clientId: 'dev-1', chaos: { fault: 'duplicateQos0' } });
  device.end(true);

  writeFileSync(join(dir, 'trace.html'), iot.trace.toHtml());    // sequence diagram, opens offline
  writeFileSync(join(dir, 'trace.pcapng'), iot.trace.toPcap());  // wireshark trace.pcapng
  expect(readFileSync(join(dir, 'trace.html'), 'utf8')).toContain('duplicateQos0');
});

test('a JSON-lines trace (--trace-file, FAKE_IOT_ARTIFACTS) read back as entries', async () => {
  await using iot = await startFakeIot({ seed: 7 });
  iot.publish('telemetry/dev-1', '{"t":21.5}');
  writeFileSync(join(dir, 'trace.jsonl'), iot.trace.toJSON().map((e) => JSON.stringify(e)).join('\n'));

  const [run] = parseTraceJsonLines(readFileSync(join(dir, 'trace.jsonl'), 'utf8'));
  expect(run!.entries).toMatchObject([{ kind: 'event', event: 'publish', topic: 'telemetry/dev-1', payload: Buffer.from('{"t":21.5}') }]);
  expect(traceToHtml(run!.entries, { title: 'telemetry' })).toContain('<title>telemetry</title>');
});
