/**
 * A certificate authority that issues device certificates on the fly: EC P-256 keys, ECDSA with SHA-256,
 * the structures built with @peculiar/x509 and its ASN.1 schema (no hand-written ASN.1), signed with
 * node:crypto so that issuing is synchronous (`iot.createThing()` returns its credentials at once).
 *
 * Loaded only when an endpoint needs certificates (TLS on, or `createThing()` called): @peculiar/x509 and
 * its Reflect polyfill take ~50 ms to load.
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its parts with tsyringe, which needs the Reflect metadata API
import { type KeyObject, X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

/** ecdsa-with-SHA256 (RFC 5758 §3.2): its AlgorithmIdentifier has no parameters. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** AWS names the certificates it issues (CreateKeysAndCertificate) this way. */
export const AWS_ISSUED_SUBJECT = 'CN=AWS IoT Certificate';

/** A certificate with its private key, in PEM, and its DER. */
export interface IssuedCertificate {
  certificatePem: string;
  privateKeyPem: string;
  der: Buffer;
  /** Lowercase hex SHA-256 of the DER: AWS's certificate id. */
  certificateId: string;
}

/** AWS's certificate id: the lowercase hex SHA-256 of the certificate's DER. */
export function certificateIdOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

const toArrayBuffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: asn1.SubjectPublicKeyInfo): string {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest('hex');
}

/** A random positive serial number of 16 bytes, minimal in DER (first byte 0x40..0x7f). */
function serialNumber(): ArrayBuffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return toArrayBuffer(bytes);
}

export interface IssueOptions {
  /** Distinguished name of the subject, e.g. `CN=device-1`. Default `CN=AWS IoT Certificate`. */
  subject?: string;
  /** Validity in days from now (the certificate is valid from a day back). Default 10 years. */
  days?: number;
  /** Extended key usage: client (device) or server authentication. Default client. */
  usage?: 'client' | 'server';
  /** Subject alternative names (server certificates). */
  altNames?: { type: 'dns' | 'ip'; value: string }[];
}

export class CertificateAuthority {
  readonly certificatePem: string;
  private readonly subject: asn1.Name;
  private readonly keyId: string;

  private constructor(
    certificatePem: string,
    private readonly key: KeyObject,
  ) {
    const der = new X509Certificate(certificatePem).raw;
    const cert = AsnConvert.parse(der, asn1.Certificate);
    this.certificatePem = certificatePem.endsWith('\n') ? certificatePem : `${certificatePem}\n`;
    this.subject = cert.tbsCertificate.subject;
    const ski = new x509.X509Certificate(der).getExtension(x509.SubjectKeyIdentifierExtension);
    this.keyId = ski?.keyId ?? keyIdentifier(cert.tbsCertificate.subjectPublicKeyInfo);
  }

  /** A CA from its certificate and private key (PEM). Throws when they do not belong together. */
  static fromPem(certificatePem: string | Buffer, keyPem: string | Buffer): CertificateAuthority {
    const cert = new X509Certificate(certificatePem);
    const key = createPrivateKey(keyPem);
    if (!cert.checkPrivateKey(key)) throw new Error('the CA private key does not belong to the CA certificate');
    if (!cert.ca) throw new Error('the CA certificate is not a CA certificate (basicConstraints CA:FALSE)');
    return new CertificateAuthority(cert.toString(), key);
  }

  /** A new self-signed CA with a fresh key (for tests: a CA the endpoint does not trust). */
  static create(subject = 'CN=fake-aws-iot other CA', days = 3650): CertificateAuthority {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), asn1.SubjectPublicKeyInfo);
    const name = AsnConvert.parse(new x509.Name(subject).toArrayBuffer(), asn1.Name);
    const keyId = keyIdentifier(spki);
    const der = signCertificate(privateKey, name, name, spki, days, [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectKeyIdentifierExtension(keyId),
    ]);
    return new CertificateAuthority(new x509.X509Certificate(der).toString('pem'), privateKey);
  }

  /** Issues a certificate for a new EC P-256 key pair. Synchronous: about a millisecond. */
  issue(options: IssueOptions = {}): IssuedCertificate {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), asn1.SubjectPublicKeyInfo);
    const subject = AsnConvert.parse(new x509.Name(options.subject ?? AWS_ISSUED_SUBJECT).toArrayBuffer(), asn1.Name);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectKeyIdentifierExtension(keyIdentifier(spki)),
      new x509.AuthorityKeyIdentifierExtension(this.keyId),
    ];
    if (options.altNames?.length) extensions.push(new x509.SubjectAlternativeNameExtension(options.altNames));
    const der = signCertificate(this.key, this.subject, subject, spki, options.days ?? 3650, extensions);
    return {
      certificatePem: `${new x509.X509Certificate(der).toString('pem')}\n`,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      der,
      certificateId: certificateIdOf(der),
    };
  }

  /** The CA's private key in PEM (PKCS#8). */
  get privateKeyPem(): string {
    return this.key.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
}

/** Builds the TBSCertificate, signs its DER with `key` (ECDSA, SHA-256) and returns the certificate's DER. */
function signCertificate(key: KeyObject, issuer: asn1.Name, subject: asn1.Name, spki: asn1.SubjectPublicKeyInfo, days: number, extensions: x509.Extension[]): Buffer {
  const notBefore = new Date(Date.now() - 24 * 3600 * 1000); // a day back: a peer whose clock runs late still accepts it
  const notAfter = new Date(Date.now() + days * 24 * 3600 * 1000);
  const algorithm = new asn1.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const tbsCertificate = new asn1.TBSCertificate({
    version: asn1.Version.v3,
    serialNumber: serialNumber(),
    signature: algorithm,
    issuer,
    validity: new asn1.Validity({ notBefore, notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new asn1.Extensions(extensions.map((e) => AsnConvert.parse(e.rawData, asn1.Extension))),
  });
  const tbs = Buffer.from(AsnConvert.serialize(tbsCertificate));
  const signature = sign('sha256', tbs, { key, dsaEncoding: 'der' });
  const certificate = new asn1.Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: toArrayBuffer(signature) });
  return Buffer.from(AsnConvert.serialize(certificate));
}
