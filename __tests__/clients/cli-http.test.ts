/**
 * `--http-port`: the CLI serves the data-plane REST API beside MQTT, for backends using the AWS SDK.
 */
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import mqtt from 'mqtt';
import { CLI, run, startCli } from './cli';

test('--http-port 0 prints the data-plane URL; the AWS SDK updates a shadow there and a device gets the delta over MQTT', async () => {
  const cli = await startCli(['--http-port', '0']);
  const url = /data plane \(AWS SDK endpoint\) on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(cli.stdout())?.[1];
  expect(url).toBeDefined();
  const device = await mqtt.connectAsync(cli.url, { clientId: 'cli-lamp', reconnectPeriod: 0 });
  await device.subscribeAsync('$aws/things/cli-lamp/shadow/update/delta', { qos: 1 });
  const delta = new Promise<unknown>((resolve) => device.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))));

  const aws = new IoTDataPlaneClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'AKIACLIEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 });
  try {
    await aws.send(new UpdateThingShadowCommand({ thingName: 'cli-lamp', payload: Buffer.from(JSON.stringify({ state: { desired: { on: true } } })) }));
    expect(await delta).toMatchObject({ state: { on: true }, version: 1 });
    const got = await aws.send(new GetThingShadowCommand({ thingName: 'cli-lamp' }));
    expect(JSON.parse(Buffer.from(got.payload!).toString())).toMatchObject({ state: { desired: { on: true } }, version: 1 });
  } finally {
    aws.destroy();
    await device.endAsync();
    await cli.stop();
  }
});

test('--http-port with something that is not a port exits 2 naming the flag', async () => {
  const result = await run(process.execPath, [CLI, '--port', '0', '--http-port', 'abc']);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/--http-port needs a whole number/);
  const high = await run(process.execPath, [CLI, '--port', '0', '--http-port', '70000']);
  expect(high.code).toBe(2);
  expect(high.stderr).toMatch(/options\.http\.port must be an integer from 0 to 65535/);
});
