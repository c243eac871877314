/**
 * fixtures/ (made by `npm run fixtures`): what it holds, that it fits together, and that it does not expire
 * under us — this test fails when less than a year of validity is left on any certificate.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { FIXTURES, fixture } from './tls-helpers';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const certificates = readdirSync(FIXTURES).filter((f) => f.endsWith('.pem'));

describe('fixtures/', () => {
  test('holds the CA, the server certificate and two device certificates, each with its key (and the example device policy)', () => {
    expect(readdirSync(FIXTURES).sort()).toEqual([
      'ca.key', 'ca.pem', 'device-1.cert.pem', 'device-1.private.key', 'device-2.cert.pem', 'device-2.private.key', 'device-policy.json', 'server.key', 'server.pem',
    ]);
    for (const [cert, key] of [['ca.pem', 'ca.key'], ['server.pem', 'server.key'], ['device-1.cert.pem', 'device-1.private.key'], ['device-2.cert.pem', 'device-2.private.key']]) {
      expect(new X509Certificate(fixture(cert!)).checkPrivateKey(createPrivateKey(fixture(key!)))).toBe(true);
    }
  });

  test.each(certificates)('%s has more than a year of validity left (renew with `npm run fixtures`)', (file) => {
    const cert = new X509Certificate(fixture(file));
    const left = new Date(cert.validTo).getTime() - Date.now();
    expect(left).toBeGreaterThan(YEAR_MS);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(Date.now());
  });

  test('EC P-256 keys everywhere (cheap handshakes), signed by the CA', () => {
    const ca = new X509Certificate(fixture('ca.pem'));
    expect(ca.ca).toBe(true);
    for (const file of certificates) {
      const cert = new X509Certificate(fixture(file));
      expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
      expect(cert.verify(ca.publicKey)).toBe(true);
      if (file !== 'ca.pem') expect(cert.ca).toBe(false);
    }
  });

  test('the server certificate names localhost, 127.0.0.1, ::1 and *.iot.us-east-1.amazonaws.com', () => {
    const server = new X509Certificate(fixture('server.pem'));
    expect(server.subjectAltName).toBe('DNS:localhost, DNS:*.iot.us-east-1.amazonaws.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com')).toBe('*.iot.us-east-1.amazonaws.com');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('example.com')).toBeUndefined();
  });
});
