/**
 * The SigV4 verifier on its own: each refusal reason, against URLs made by presignWebSocketUrl and edited.
 */
import { presignWebSocketUrl } from '../../src';
import { SigV4Verifier } from '../../src/transport/sigv4';

const credentials = { accessKeyId: 'AKIAUNITTEST00000000', secretAccessKey: 'unit-test-secret' };
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const verifier = new SigV4Verifier(credentials, () => NOW);

async function request(edit: (url: URL) => void = () => {}, options: Partial<Parameters<typeof presignWebSocketUrl>[0]> = {}) {
  const url = new URL(await presignWebSocketUrl({ host: 'localhost', port: 8443, credentials, date: NOW, ...options }));
  edit(url);
  return { method: 'GET', url: `${url.pathname}${url.search}`, headers: { host: url.host } };
}

test('a URL presigned with the endpoint\'s credentials passes, and names its access key', async () => {
  expect(await verifier.verify(await request())).toEqual({ ok: true, accessKeyId: credentials.accessKeyId });
});

test.each<[string, string, (url: URL) => void]>([
  ['a second X-Amz-Date', 'malformed-signature', (u) => u.searchParams.append('X-Amz-Date', '20250601T120000Z')],
  ['another algorithm', 'malformed-signature', (u) => u.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA512')],
  ['another service in the scope', 'malformed-signature', (u) => u.searchParams.set('X-Amz-Credential', u.searchParams.get('X-Amz-Credential')!.replace('iotdevicegateway', 's3'))],
  ['a scope date that is not X-Amz-Date\'s day', 'malformed-signature', (u) => u.searchParams.set('X-Amz-Credential', u.searchParams.get('X-Amz-Credential')!.replace('20250601', '20250531'))],
  ['a date that does not exist', 'malformed-signature', (u) => u.searchParams.set('X-Amz-Date', '20250231T120000Z')],
  ['SignedHeaders without host', 'malformed-signature', (u) => u.searchParams.set('X-Amz-SignedHeaders', 'x-amz-date')],
  ['a short signature', 'malformed-signature', (u) => u.searchParams.set('X-Amz-Signature', 'abc')],
  ['no signature', 'missing-signature', (u) => u.searchParams.delete('X-Amz-Signature')],
  ['an extra query parameter after signing', 'signature-mismatch', (u) => u.searchParams.append('clientId', 'x')],
  ['another path', 'signature-mismatch', (u) => (u.pathname = '/mqtt2')],
  ['another host', 'signature-mismatch', (u) => (u.host = 'example.com:8443')],
  ['a session token the credentials do not have', 'invalid-security-token', (u) => u.searchParams.append('X-Amz-Security-Token', 'tok')],
])('%s: %s', async (_what, reason, edit) => {
  const result = await verifier.verify(await request(edit));
  expect(result).toMatchObject({ ok: false, reason });
});

test('bad percent-encoding in the query is malformed, not a throw', async () => {
  expect(await verifier.verify({ method: 'GET', url: '/mqtt?X-Amz-Signature=%zz', headers: { host: 'localhost' } })).toMatchObject({ ok: false, reason: 'malformed-signature' });
});

test('X-Amz-Expires is honoured inside the 5-minute window: signed 2 minutes ago for 60 s is expired, for 300 s is not', async () => {
  expect(await verifier.verify(await request(undefined, { date: NOW - 120_000, expiresIn: 60 }))).toMatchObject({ ok: false, reason: 'expired' });
  expect(await verifier.verify(await request(undefined, { date: NOW - 120_000, expiresIn: 300 }))).toMatchObject({ ok: true });
});

test('the clock window is 5 minutes each way, on the clock it is given', async () => {
  expect(await verifier.verify(await request(undefined, { date: NOW - 299_000 }))).toMatchObject({ ok: true });
  expect(await verifier.verify(await request(undefined, { date: NOW - 301_000, expiresIn: 3600 }))).toMatchObject({ ok: false, reason: 'clock-skew' });
  expect(await verifier.verify(await request(undefined, { date: NOW + 301_000 }))).toMatchObject({ ok: false, reason: 'clock-skew' });
});

test('without credentials: unsigned passes, a well-formed signature of any key passes, a malformed one does not', async () => {
  const open = new SigV4Verifier(undefined, () => NOW);
  expect(await open.verify({ method: 'GET', url: '/mqtt', headers: { host: 'localhost' } })).toEqual({ ok: true });
  expect(await open.verify(await request(undefined, { credentials: { accessKeyId: 'AKIAOTHER', secretAccessKey: 'x' } }))).toEqual({ ok: true, accessKeyId: 'AKIAOTHER' });
  expect(await open.verify(await request((u) => u.searchParams.set('X-Amz-Signature', 'zz')))).toMatchObject({ ok: false, reason: 'malformed-signature' });
});
