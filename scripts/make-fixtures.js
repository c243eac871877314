#!/usr/bin/env node
// `npm run fixtures`: writes fixtures/ — the test CA, a server certificate for localhost, 127.0.0.1, ::1 and
// *.iot.us-east-1.amazonaws.com, and two device certificates with their keys. EC P-256 everywhere (cheap
// handshakes), SHA-256 signatures, valid for 20 years from the day it runs. The files are committed; run it
// again only to renew them (a test fails when less than a year of validity is left on any of them).
// Uses @peculiar/x509 over Node's WebCrypto: no hand-written ASN.1, no openssl.
'use strict';
require('reflect-metadata'); // @peculiar/x509 needs a Reflect polyfill (it uses tsyringe)
const x509 = require('@peculiar/x509');
const { webcrypto, createPrivateKey } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'fixtures');
const YEARS = 20;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

x509.cryptoProvider.set(webcrypto);

const keys = () => webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);

async function pkcs8Pem(privateKey) {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', privateKey));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' });
}

async function main() {
  const notBefore = new Date(Date.now() - 24 * 3600 * 1000); // a day back: clocks that run a little late still accept it
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + YEARS);

  const caKeys = await keys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=fake-aws-iot test CA, O=fake-aws-iot',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  async function leaf(subject, usage, extra) {
    const leafKeys = await keys();
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: ca.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage], false),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ...extra,
      ],
    });
    return { cert: cert.toString('pem') + '\n', key: await pkcs8Pem(leafKeys.privateKey) };
  }

  const server = await leaf('CN=localhost, O=fake-aws-iot', x509.ExtendedKeyUsage.serverAuth, [
    new x509.SubjectAlternativeNameExtension([
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: '*.iot.us-east-1.amazonaws.com' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]),
  ]);
  const devices = [];
  for (const name of ['device-1', 'device-2']) devices.push([name, await leaf(`CN=${name}, O=fake-aws-iot`, x509.ExtendedKeyUsage.clientAuth, [])]);

  fs.mkdirSync(out, { recursive: true });
  const write = (file, text) => fs.writeFileSync(path.join(out, file), text);
  write('ca.pem', ca.toString('pem') + '\n');
  write('ca.key', await pkcs8Pem(caKeys.privateKey));
  write('server.pem', server.cert);
  write('server.key', server.key);
  for (const [name, device] of devices) {
    write(`${name}.cert.pem`, device.cert);
    write(`${name}.private.key`, device.key);
  }
  console.log(`[fake-aws-iot] fixtures written to ${path.relative(process.cwd(), out) || '.'}/, valid until ${notAfter.toISOString()}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
