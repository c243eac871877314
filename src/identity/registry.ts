/**
 * One endpoint's things and certificates, as AWS IoT's registry holds them: certificates by id with their
 * status, things by name with their attributes and attached certificates. Issues device certificates from
 * the endpoint's CA and writes them to a temporary directory that `close()` removes.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FakeIotError } from '../errors';
import { CertificateAuthority, certificateIdOf } from './authority';
import { FIXTURE_DEVICES, fixturePath, readFixture } from './fixtures';
import type { CertificateCredentials, CertificateStatus, CreateThingOptions, ThingCredentials } from './types';

/** AWS: thing names are 1–128 characters of [a-zA-Z0-9:_-]. */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** AWS: up to 50 attributes; names [a-zA-Z0-9_.,@/:#-]{1,128}, values [a-zA-Z0-9_.,@/:#=\[\]-]{0,800}. */
const ATTRIBUTE_NAME = /^[a-zA-Z0-9_.,@/:#-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;
const STATUSES: readonly CertificateStatus[] = ['ACTIVE', 'INACTIVE', 'REVOKED'];

interface CertificateRecord {
  certificateId: string;
  status: CertificateStatus;
  /** Things it is attached to, in attach order. */
  things: string[];
}

interface ThingRecord {
  thingName: string;
  attributes: Record<string, string>;
  thingTypeName?: string;
}

/** What the registry knows of a certificate a client presented. */
export interface KnownCertificate {
  certificateId: string;
  status: CertificateStatus;
  thingName: string | undefined;
}

export interface RegistryConfig {
  accountId: string;
  region: string;
}

/**
 * What every endpoint reads from fixtures/ and never changes, parsed once per process: the CA (its key,
 * subject and key id: ~2 ms to read and check) and the ids of the fixtures' device certificates.
 */
let fixtureCa: CertificateAuthority | undefined;
let fixtureDeviceIds: readonly string[] | undefined;

export class Registry {
  private readonly certificates = new Map<string, CertificateRecord>();
  private readonly things = new Map<string, ThingRecord>();
  private dir: string | undefined;
  private closed = false;

  constructor(private readonly config: RegistryConfig) {
    // The fixtures' device certificates are registered (ACTIVE, attached to no thing), so their status can be set too.
    fixtureDeviceIds ??= FIXTURE_DEVICES.map((name) => certificateIdOf(new X509Certificate(readFixture(`${name}.cert.pem`)).raw));
    for (const id of fixtureDeviceIds) this.register(id);
  }

  /** The endpoint's CA: fixtures/ca.pem and its key, read on first use (the same, immutable, for every endpoint). */
  get ca(): CertificateAuthority {
    return (fixtureCa ??= CertificateAuthority.fromPem(readFixture('ca.pem'), readFixture('ca.key')));
  }

  private register(certificateId: string): CertificateRecord {
    let record = this.certificates.get(certificateId);
    if (!record) this.certificates.set(certificateId, (record = { certificateId, status: 'ACTIVE', things: [] }));
    return record;
  }

  /** A certificate presented in a verified handshake: known, or registered now (ACTIVE, no thing). */
  identify(der: Uint8Array): KnownCertificate {
    const record = this.register(certificateIdOf(der));
    return { certificateId: record.certificateId, status: record.status, thingName: record.things[0] };
  }

  /** The status of a certificate id (undefined: never seen). */
  status(certificateId: string): CertificateStatus | undefined {
    return this.certificates.get(certificateId)?.status;
  }

  arnOf(certificateId: string): string {
    return `arn:aws:iot:${this.config.region}:${this.config.accountId}:cert/${certificateId}`;
  }

  createThing(thingName: unknown, options: unknown): ThingCredentials {
    const where = `createThing(${JSON.stringify(thingName)})`;
    if (typeof thingName !== 'string' || !THING_NAME.test(thingName)) {
      throw new FakeIotError('INVALID_ARGUMENT', `createThing(thingName): thingName must be 1-128 characters of a-z, A-Z, 0-9, ":", "_" and "-", as AWS requires (got ${JSON.stringify(thingName)}).`);
    }
    if (this.things.has(thingName)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: a thing of that name exists already on this endpoint.`);
    const { attributes, thingTypeName } = checkThingOptions(options, where);
    const credentials = this.issue(thingName);
    this.things.set(thingName, { thingName, attributes, ...(thingTypeName !== undefined ? { thingTypeName } : {}) });
    this.certificates.get(credentials.certificateId)!.things.push(thingName);
    return { thingName, thingArn: `arn:aws:iot:${this.config.region}:${this.config.accountId}:thing/${thingName}`, ...credentials };
  }

  createCertificate(): CertificateCredentials {
    return this.issue(undefined);
  }

  /** The thing `thingName` when `certificateId` is attached to it: its attributes and type (the thing policy variables). */
  attachedThing(certificateId: string, thingName: string): { attributes: Record<string, string>; thingTypeName?: string } | undefined {
    const thing = this.things.get(thingName);
    if (!thing || !this.certificates.get(certificateId)?.things.includes(thingName)) return undefined;
    return { attributes: thing.attributes, ...(thing.thingTypeName !== undefined ? { thingTypeName: thing.thingTypeName } : {}) };
  }

  /** The attributes of a thing (undefined: no such thing). */
  attributesOf(thingName: string): Record<string, string> | undefined {
    const thing = this.things.get(thingName);
    return thing ? { ...thing.attributes } : undefined;
  }

  setCertificateStatus(certificateId: unknown, status: unknown): void {
    const where = `setCertificateStatus(${JSON.stringify(certificateId)}, ${JSON.stringify(status)})`;
    if (typeof certificateId !== 'string' || !/^[0-9a-f]{64}$/.test(certificateId)) {
      throw new FakeIotError('INVALID_ARGUMENT', `${where}: certificateId must be a certificate id: 64 lowercase hex characters (the certificateId from createThing() or createCertificate()).`);
    }
    if (typeof status !== 'string' || !STATUSES.includes(status as CertificateStatus)) {
      throw new FakeIotError('INVALID_ARGUMENT', `${where}: status must be one of ${STATUSES.map((s) => `"${s}"`).join(', ')}.`);
    }
    const record = this.certificates.get(certificateId);
    if (!record) throw new FakeIotError('INVALID_ARGUMENT', `${where}: no certificate with that id on this endpoint (certificates come from createThing(), createCertificate(), fixtures/, or a handshake).`);
    // AWS: a revoked certificate cannot be made active or inactive again.
    if (record.status === 'REVOKED' && status !== 'REVOKED') throw new FakeIotError('INVALID_ARGUMENT', `${where}: the certificate is REVOKED; AWS does not change a revoked certificate's status.`);
    record.status = status as CertificateStatus;
  }

  /** Removes the files written for things and certificates. */
  close(): void {
    this.closed = true;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private issue(thingName: string | undefined): CertificateCredentials {
    if (this.closed) throw new FakeIotError('ENDPOINT_CLOSED', 'certificates cannot be issued after close().');
    const issued = this.ca.issue();
    this.register(issued.certificateId);
    const dir = (this.dir ??= mkdtempSync(path.join(tmpdir(), 'fake-aws-iot-certs-')));
    const base = thingName ?? issued.certificateId.slice(0, 16);
    const certPath = path.join(dir, `${base}.cert.pem`);
    const keyPath = path.join(dir, `${base}.private.key`);
    writeFileSync(certPath, issued.certificatePem);
    writeFileSync(keyPath, issued.privateKeyPem, { mode: 0o600 });
    return {
      certificateId: issued.certificateId,
      certificateArn: this.arnOf(issued.certificateId),
      certificatePem: issued.certificatePem,
      privateKey: issued.privateKeyPem,
      caCertificate: this.ca.certificatePem,
      certPath,
      keyPath,
      caPath: fixturePath('ca.pem'),
    };
  }
}

const THING_OPTIONS = ['attributes', 'thingTypeName', 'policies'];
/** AWS: a thing type name is 1-128 characters of a-zA-Z0-9:_- . */
const THING_TYPE_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

function checkThingOptions(options: unknown, where: string): { attributes: Record<string, string>; thingTypeName?: string } {
  if (options === undefined) return { attributes: {} };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: options must be an object such as { attributes: { model: "x1" } }.`);
  const unknown = Object.keys(options).filter((k) => !THING_OPTIONS.includes(k));
  if (unknown.length) throw new FakeIotError('INVALID_ARGUMENT', `${where}: unknown option ${unknown.map((k) => `"${k}"`).join(', ')}; the options are ${THING_OPTIONS.map((k) => `"${k}"`).join(', ')}.`);
  const { thingTypeName } = options as { thingTypeName?: unknown };
  if (thingTypeName !== undefined && (typeof thingTypeName !== 'string' || !THING_TYPE_NAME.test(thingTypeName))) {
    throw new FakeIotError('INVALID_ARGUMENT', `${where}: options.thingTypeName must be 1-128 characters of a-z, A-Z, 0-9, ":", "_" and "-" (got ${JSON.stringify(thingTypeName)}).`);
  }
  return { attributes: checkAttributes((options as { attributes?: unknown }).attributes, where), ...(thingTypeName !== undefined ? { thingTypeName } : {}) };
}

function checkAttributes(attributes: unknown, where: string): Record<string, string> {
  if (attributes === undefined) return {};
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: options.attributes must be an object of name/value strings.`);
  const entries = Object.entries(attributes);
  if (entries.length > 50) throw new FakeIotError('INVALID_ARGUMENT', `${where}: AWS allows at most 50 attributes (got ${entries.length}).`);
  for (const [name, value] of entries) {
    if (!ATTRIBUTE_NAME.test(name)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: attribute name ${JSON.stringify(name)} must be 1-128 characters of a-z, A-Z, 0-9 and _.,@/:#-.`);
    if (typeof value !== 'string' || !ATTRIBUTE_VALUE.test(value)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: attribute ${JSON.stringify(name)} must be a string of up to 800 characters of a-z, A-Z, 0-9 and _.,@/:#=[]- (got ${JSON.stringify(value)}).`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
