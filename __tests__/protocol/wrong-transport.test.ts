/**
 * A user who points a TLS or WebSocket client at the plain MQTT port learns so in one line.
 */
import * as http from 'node:http';
import * as tls from 'node:tls';
import { endpoint } from '../helpers';

describe('the wrong transport on the plain MQTT port', () => {
  test('a TLS ClientHello is named as TLS, with the port and the URL scheme to use', async () => {
    const iot = await endpoint();
    const socket = tls.connect({ host: iot.host, port: iot.port, rejectUnauthorized: false });
    socket.on('error', () => {});
    const v = await iot.trace.waitFor({ event: 'violation', rule: 'transport.tls-on-plain-port' });
    expect(v.message).toContain(`port ${iot.port} speaks plain MQTT`);
    expect(v.message).toContain('mqtt://');
    await iot.trace.waitFor({ event: 'disconnect', connectionId: v.connectionId, reason: 'CLIENT_ERROR' });
    socket.destroy();
  });

  test('an HTTP request (a WebSocket upgrade) is named as HTTP', async () => {
    const iot = await endpoint();
    const req = http.get({ host: iot.host, port: iot.port, path: '/mqtt', headers: { Connection: 'Upgrade', Upgrade: 'websocket' } });
    req.on('error', () => {});
    const v = await iot.trace.waitFor({ event: 'violation', rule: 'transport.http-on-plain-port' });
    expect(v.message).toContain('not ws://');
    req.destroy();
  });
});
