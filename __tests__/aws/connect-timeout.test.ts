/**
 * AWS rules around connecting: a socket that never completes its CONNECT is closed; a client id's
 * lifecycle versionNumber starts again after about an hour without a connection.
 */
import * as mqttPacket from 'mqtt-packet';
import { connectPacket, endpoint, raw } from '../helpers';

describe('connect timeout (limits.connectTimeoutSeconds)', () => {
  test('a socket that sends only part of a CONNECT is closed once the time is up, not before', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const c = await raw(iot);
    const bytes = mqttPacket.generate(connectPacket('slow'));
    c.socket.write(bytes.subarray(0, 5)); // an incomplete CONNECT
    // Accepted after the first socket: once it is connected, the first socket's timer is surely running.
    const sibling = await raw(iot);
    await sibling.connect('sibling');
    iot.clock.advance(9_999);
    sibling.send({ cmd: 'pingreq' });
    await sibling.next('pingresp'); // a later event: the first socket was not closed before it
    expect(iot.trace.filter({ event: 'violation' })).toEqual([]);
    iot.clock.advance(1);
    const v = await iot.trace.waitFor({ event: 'violation', rule: 'aws.connect-timeout' });
    expect(v.message).toContain('10 s');
    await c.closed;
    expect(iot.clients().map((x) => x.clientId)).toEqual(['sibling']);
  });

  test('a client that connects in time is never timed out', async () => {
    const iot = await endpoint({ clock: 'virtual', limits: { connectTimeoutSeconds: 2 } });
    const c = await raw(iot);
    await c.connect('quick');
    iot.clock.advance(5_000);
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    expect(iot.trace.filter({ event: 'violation' })).toEqual([]);
  });
});

describe('lifecycle versionNumber (limits.lifecycleVersionResetSeconds)', () => {
  const versions = (iot: Awaited<ReturnType<typeof endpoint>>) =>
    iot.trace.filter({ event: 'publish', origin: 'lifecycle', topic: '$aws/events/presence/connected/dev-v' }).map((e) => JSON.parse(String(e.payload)).versionNumber);

  async function connectAndLeave(iot: Awaited<ReturnType<typeof endpoint>>) {
    const c = await raw(iot);
    await c.connect('dev-v');
    c.send({ cmd: 'disconnect' });
    await c.closed;
    await iot.trace.waitFor(() => iot.clients().length === 0);
  }

  test('counts up across reconnects, and starts again at 0 after an hour without a connection', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    await connectAndLeave(iot);
    iot.clock.advance(3_599_999);
    await connectAndLeave(iot);
    iot.clock.advance(3_600_000);
    await connectAndLeave(iot);
    expect(versions(iot)).toEqual([0, 1, 0]);
  });
});
