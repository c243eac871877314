/**
 * wss://: by default with the server certificate of fixtures/ (signed by the fixture CA), or with a throwaway
 * certificate made here (@peculiar/x509, EC P-256) given as `websockets.tls`.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata'; // @peculiar/x509 2 (through tsyringe) needs it loaded first
import * as x509 from '@peculiar/x509';
import { presignWebSocketUrl } from '../../src';
import { endpoint } from '../helpers';
import { CREDENTIALS, sendBytes, wsClient } from './ws-helpers';

async function throwawayCertificate(): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as never);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=localhost',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys: keys as never,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: certificate.toString('pem'), key };
}

test('MQTT.js over wss:// with a signed URL, trusting the endpoint\'s certificate; plain HTTP on the wss port is a TLS failure in the trace', async () => {
  const tls = await throwawayCertificate();
  const iot = await endpoint({ websockets: { tls }, credentials: CREDENTIALS });
  expect(iot.ws!.url).toBe(`wss://localhost:${iot.ws!.port}/mqtt`);
  const url = await presignWebSocketUrl({ host: 'localhost', port: iot.ws!.port, credentials: CREDENTIALS, date: iot.clock.now() });
  expect(url.startsWith(`${iot.ws!.url}?X-Amz-Algorithm=AWS4-HMAC-SHA256&`)).toBe(true);
  const device = await wsClient(url, 'wss-dev', { ca: tls.cert });
  try {
    await device.subscribeAsync('cmd/wss-dev', { qos: 1 });
    const message = new Promise<string>((resolve) => device.once('message', (_t, payload) => resolve(payload.toString())));
    iot.publish('cmd/wss-dev', 'over TLS', { qos: 1 });
    expect(await message).toBe('over TLS');
    expect(iot.trace.find({ event: 'connect', clientId: 'wss-dev' })).toMatchObject({ transport: 'wss', principal: CREDENTIALS.accessKeyId });

    await sendBytes(iot.ws!.port, Buffer.from('GET /mqtt HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    const refused = await iot.trace.waitFor({ event: 'transport-error' });
    expect(refused).toMatchObject({ transport: 'wss', reason: 'tls-handshake', remoteAddress: '127.0.0.1' });
    expect(refused.message).toMatch(/connect with wss:\/\//);
    expect(iot.trace.filter({ event: 'transport-error' })).toHaveLength(1); // one failure, one event
    device.publish('state/wss-dev', 'still here', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'wss-dev', packet: { cmd: 'publish', topic: 'state/wss-dev' } });
  } finally {
    device.end(true);
  }
});

test('websockets: true serves wss:// with the fixtures\' server certificate: a client trusting fixtures/ca.pem connects', async () => {
  const iot = await endpoint({ websockets: true, credentials: CREDENTIALS });
  expect(iot.ws!.url).toBe(`wss://localhost:${iot.ws!.port}/mqtt`);
  const ca = readFileSync(path.resolve(__dirname, '../../fixtures/ca.pem'));
  const url = await presignWebSocketUrl({ host: 'localhost', port: iot.ws!.port, credentials: CREDENTIALS, date: iot.clock.now() });
  const device = await wsClient(url, 'wss-default', { ca });
  try {
    device.publish('state/wss-default', 'hello', { qos: 1 });
    await iot.trace.waitFor({ direction: 'in', clientId: 'wss-default', packet: { cmd: 'publish', topic: 'state/wss-default' } });
    expect(iot.trace.find({ event: 'connect', clientId: 'wss-default' })).toMatchObject({ transport: 'wss', principal: CREDENTIALS.accessKeyId });
  } finally {
    device.end(true);
  }
});

test('a client that does not trust the certificate gets no connection', async () => {
  const tls = await throwawayCertificate();
  const iot = await endpoint({ websockets: { tls } });
  const error = await wsClient(iot.ws!.url, 'untrusting').then(
    (c) => (c.end(true), undefined),
    (e: Error) => e,
  );
  expect(error?.message).toMatch(/self[- ]signed certificate/);
  expect(iot.clients()).toEqual([]);
});
