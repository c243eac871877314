// jest.config: setupFilesAfterEnv: ['<rootDir>/jest.setup.ts'], where jest.setup.ts is one line:
//   import 'fake-aws-iot/jest';
import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

test('matchers read the trace and explain failures with it', async () => {
  await using iot = await startFakeIot();
  const device = await mqtt.connectAsync(iot.url, { clientId: 'dev-1', reconnectPeriod: 0 });
  await device.subscribeAsync('cmd/dev-1', { qos: 1 });
  iot.publish('cmd/dev-1', 'reboot', { qos: 1 });
  await device.publishAsync('state/dev-1', JSON.stringify({ rebooting: true }), { qos: 1 });
  await device.endAsync();
  await iot.trace.waitFor({ event: 'disconnect', clientId: 'dev-1' });

  expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/dev-1', qos: 1, times: 1 });
  expect(iot).toHaveReceivedFrom('dev-1', { topic: 'state/dev-1', payload: /"rebooting":true/ });
  expect(iot).toHaveDisconnected('dev-1', { reason: 'CLIENT_INITIATED_DISCONNECT' });
  expect(iot.trace).not.toContainEntry({ event: 'violation' });
});
