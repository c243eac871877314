import { GetThingShadowCommand, IoTDataPlaneClient, ResourceNotFoundException, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

test('the backend sets desired state with the AWS SDK; the device gets the delta over MQTT', async () => {
  await using iot = await startFakeIot({ http: true });   // the data-plane REST API too, at iot.http.url
  const device = await mqtt.connectAsync(iot.url, { clientId: 'lamp-2', reconnectPeriod: 0 });
  await device.subscribeAsync('$aws/things/lamp-2/shadow/update/delta', { qos: 1 });
  const delta = new Promise<unknown>((resolve) => device.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))));

  // The backend's own code, unchanged but for the endpoint (AWS: https://<prefix>-ats.iot.<region>.amazonaws.com).
  const aws = new IoTDataPlaneClient({ endpoint: iot.http!.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
  await expect(aws.send(new GetThingShadowCommand({ thingName: 'lamp-2' }))).rejects.toBeInstanceOf(ResourceNotFoundException);

  await aws.send(new UpdateThingShadowCommand({ thingName: 'lamp-2', payload: Buffer.from(JSON.stringify({ state: { desired: { on: true } } })) }));
  expect(await delta).toMatchObject({ state: { on: true }, version: 1 });

  const { payload } = await aws.send(new GetThingShadowCommand({ thingName: 'lamp-2' }));
  expect(JSON.parse(Buffer.from(payload!).toString())).toMatchObject({ state: { desired: { on: true }, delta: { on: true } }, version: 1 });
  aws.destroy();
  await device.endAsync();
});
