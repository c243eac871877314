import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

// The device code under test: it listens for commands and reports its state.
async function startMyDevice(url: string) {
  const device = await mqtt.connectAsync(url, { clientId: 'dev-1', reconnectPeriod: 0 });
  await device.subscribeAsync('cmd/dev-1', { qos: 1 });
  device.on('message', (_topic, payload) => {
    const command = JSON.parse(payload.toString());
    if (command.reboot) device.publish('state/dev-1', JSON.stringify({ rebooting: true }), { qos: 1 });
  });
  return device;
}

test('the device reports its state after a reboot command', async () => {
  await using iot = await startFakeIot();            // a real MQTT endpoint on 127.0.0.1, on a free port
  const device = await startMyDevice(iot.url);       // 'mqtt://127.0.0.1:<port>'

  iot.publish('cmd/dev-1', JSON.stringify({ reboot: true }), { qos: 1 });   // the cloud side speaks

  const report = await iot.trace.waitFor({
    direction: 'in', clientId: 'dev-1', packet: { cmd: 'publish', topic: 'state/dev-1' },
  });
  expect(JSON.parse(report.packet.payload.toString())).toEqual({ rebooting: true });
  device.end(true);
});
