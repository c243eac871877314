/**
 * AWS SigV4 query-string authentication of an MQTT-over-WebSocket upgrade, as AWS IoT defines it:
 *
 *   GET /mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<AKID>/<yyyymmdd>/<region>/iotdevicegateway/aws4_request
 *            &X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>[&X-Amz-Security-Token=<token>]
 *
 * Service `iotdevicegateway`, the payload hash of the empty string, and the session token appended after
 * signing: it is not part of the canonical query. The expected signature is computed with
 * `@smithy/signature-v4` (its canonical query and its signing-key derivation) and compared in constant time.
 */
import { type Hash, type Hmac, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { SignatureV4 } from '@smithy/signature-v4';

/**
 * @smithy/signature-v4 (~10 ms to load) is loaded when a signature is first checked or made, not by every
 * importer of the library: endpoints without WebSockets or the data plane never need it.
 */
function smithy(): typeof import('@smithy/signature-v4') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@smithy/signature-v4') as typeof import('@smithy/signature-v4');
}

export const SIGV4_SERVICE = 'iotdevicegateway';
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS refuses a request whose X-Amz-Date is more than 5 minutes from its clock (the profile's limits.sigv4ClockSkewSeconds). */
const DEFAULT_CLOCK_SKEW_SECONDS = 300;

const EMPTY_PAYLOAD_SHA256 = createHash('sha256').update('').digest('hex');
const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;

/** AWS credentials: what the endpoint verifies against, and what a client signs with. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS): sent as X-Amz-Security-Token, appended after signing. */
  sessionToken?: string;
}

export type SigV4Failure =
  | 'missing-signature'
  | 'malformed-signature'
  | 'unknown-access-key'
  | 'invalid-security-token'
  | 'clock-skew'
  | 'expired'
  | 'signature-mismatch';

export type SigV4Result =
  | { ok: true; /** Absent for an unsigned URL (accepted only when no credentials are configured). */ accessKeyId?: string }
  | { ok: false; reason: SigV4Failure; message: string };

/** What the verifier needs of the upgrade request. */
export interface SignedRequest {
  method: string;
  /** The request target as sent: path and query string. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** SHA-256 / HMAC-SHA-256 over node:crypto, in the shape `@smithy/signature-v4` takes as its `sha256`. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
  reset(): void {
    throw new Error('Sha256.reset() is not supported');
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Splits `a=1&b=2` into decoded pairs; `undefined` when a part is not valid percent-encoding. */
function parseQuery(raw: string): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    try {
      pairs.push(eq === -1 ? [decodeURIComponent(part), ''] : [decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1))]);
    } catch {
      return undefined;
    }
  }
  return pairs;
}

/** `20240102T030405Z` → epoch ms, or undefined. */
function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Date.UTC rolls 20240231 over into March: refuse dates that do not exist.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}

/** `20240102T030405Z` for a time. */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

const SIGNING_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Signature'] as const;

/**
 * Whether a request's query string carries SigV4 (any of its parameters, or one that cannot be read): an
 * unsigned WebSocket upgrade may be custom authentication instead (aws-iot-behaviour.md §7).
 */
export function hasSigV4Query(url: string): boolean {
  const q = url.indexOf('?');
  if (q === -1) return false;
  const pairs = parseQuery(url.slice(q + 1));
  return pairs === undefined || pairs.some(([name]) => (SIGNING_PARAMS as readonly string[]).includes(name));
}

/**
 * The IAM-style principal identifier AWS puts in the lifecycle events of a SigV4 connection. AWS's sample
 * is `<account>/<roleId>:<session>`; the fake has no IAM, so it names the access key id in the fake account.
 */
export function sigv4PrincipalIdentifier(accessKeyId: string, accountId: string): string {
  return `${accountId}/${accessKeyId}`;
}

/** Verifies SigV4 presigned upgrade requests against the endpoint's credentials and clock. */
export class SigV4Verifier {
  /** The checks both forms share: the endpoint's access key, its session token, and X-Amz-Date within 5 minutes of its clock. */
  private checkKeyTokenAndDate(credentials: AwsCredentials, accessKeyId: string, token: string | undefined, amzDate: string, signedAt: number): SigV4Result | undefined {
    const fail = (reason: SigV4Failure, message: string): SigV4Result => ({ ok: false, reason, message });
    if (accessKeyId !== credentials.accessKeyId) return fail('unknown-access-key', `access key id ${JSON.stringify(accessKeyId)} is not the endpoint's (options.credentials.accessKeyId)`);
    if (token !== credentials.sessionToken) {
      return fail(
        'invalid-security-token',
        credentials.sessionToken === undefined ? 'X-Amz-Security-Token was sent, but the endpoint\'s credentials have no sessionToken' : token === undefined ? 'X-Amz-Security-Token is missing (options.credentials has a sessionToken)' : 'X-Amz-Security-Token is not the endpoint\'s sessionToken',
      );
    }
    const now = this.now();
    const skewSeconds = Math.round((signedAt - now) / 1000);
    if (Math.abs(signedAt - now) > this.maxSkewSeconds * 1000) {
      return fail('clock-skew', `X-Amz-Date ${amzDate} is ${Math.abs(skewSeconds)} s ${skewSeconds > 0 ? 'ahead of' : 'behind'} the endpoint's clock (${formatAmzDate(now)}); AWS allows ${this.maxSkewSeconds} s (limits.sigv4ClockSkewSeconds)`);
    }
    return undefined;
  }

  private readonly signer: SignatureV4 | undefined;

  constructor(
    /** When absent, any well-formed signature is accepted, and so is an unsigned URL. */
    private readonly credentials: AwsCredentials | undefined,
    /** The endpoint's clock (virtual under `clock: 'virtual'`). */
    private readonly now: () => number,
    /** How far X-Amz-Date may be from the endpoint's clock (limits.sigv4ClockSkewSeconds). */
    private readonly maxSkewSeconds = DEFAULT_CLOCK_SKEW_SECONDS,
  ) {
    this.signer = credentials
      ? new (smithy().SignatureV4)({ credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }, region: 'us-east-1', service: SIGV4_SERVICE, sha256: Sha256 })
      : undefined;
  }

  async verify(request: SignedRequest): Promise<SigV4Result> {
    const fail = (reason: SigV4Failure, message: string): SigV4Result => ({ ok: false, reason, message });
    const q = request.url.indexOf('?');
    const path = q === -1 ? request.url : request.url.slice(0, q);
    const pairs = parseQuery(q === -1 ? '' : request.url.slice(q + 1));
    if (!pairs) return fail('malformed-signature', 'the query string is not valid percent-encoding');

    const params = new Map<string, string[]>();
    for (const [k, v] of pairs) params.set(k, [...(params.get(k) ?? []), v]);
    const single = (name: string) => {
      const values = params.get(name);
      return values?.length === 1 ? values[0] : undefined;
    };
    for (const name of [...SIGNING_PARAMS, 'X-Amz-Security-Token', 'X-Amz-Expires']) {
      if ((params.get(name)?.length ?? 0) > 1) return fail('malformed-signature', `${name} appears more than once`);
    }

    if (SIGNING_PARAMS.every((name) => !params.has(name))) {
      if (this.credentials) return fail('missing-signature', 'the URL is not signed: AWS IoT wants a SigV4 query string (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature)');
      return { ok: true };
    }
    if (!params.has('X-Amz-Signature')) return fail('missing-signature', 'X-Amz-Signature is missing');
    const missing = SIGNING_PARAMS.filter((name) => !params.has(name));
    if (missing.length > 0) return fail('malformed-signature', `${missing.join(', ')} missing`);

    const algorithm = single('X-Amz-Algorithm')!;
    if (algorithm !== SIGV4_ALGORITHM) return fail('malformed-signature', `X-Amz-Algorithm is ${JSON.stringify(algorithm)}, not ${SIGV4_ALGORITHM}`);
    const credential = single('X-Amz-Credential')!;
    const scope = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(credential);
    if (!scope) return fail('malformed-signature', `X-Amz-Credential ${JSON.stringify(credential)} is not <access key id>/<yyyymmdd>/<region>/${SIGV4_SERVICE}/aws4_request`);
    const [, accessKeyId, scopeDate, region, service] = scope as unknown as [string, string, string, string, string];
    if (service !== SIGV4_SERVICE) return fail('malformed-signature', `X-Amz-Credential names service ${JSON.stringify(service)}; AWS IoT's is ${SIGV4_SERVICE}`);
    const amzDate = single('X-Amz-Date')!;
    const signedAt = parseAmzDate(amzDate);
    if (signedAt === undefined) return fail('malformed-signature', `X-Amz-Date ${JSON.stringify(amzDate)} is not yyyymmddThhmmssZ`);
    if (!amzDate.startsWith(scopeDate)) return fail('malformed-signature', `X-Amz-Credential's date ${scopeDate} is not X-Amz-Date's day (${amzDate})`);
    const signedHeaders = single('X-Amz-SignedHeaders')!;
    const headerNames = signedHeaders.split(';');
    if (!/^[a-z0-9-]+(;[a-z0-9-]+)*$/.test(signedHeaders) || !headerNames.includes('host')) {
      return fail('malformed-signature', `X-Amz-SignedHeaders ${JSON.stringify(signedHeaders)} must be lower-case header names separated by ";", including host`);
    }
    const signature = single('X-Amz-Signature')!;
    if (!/^[0-9a-f]{64}$/.test(signature)) return fail('malformed-signature', 'X-Amz-Signature is not 64 lower-case hex digits');
    const expires = single('X-Amz-Expires');
    if (expires !== undefined && (!/^\d{1,7}$/.test(expires) || Number(expires) < 1 || Number(expires) > MAX_EXPIRES_SECONDS)) {
      return fail('malformed-signature', `X-Amz-Expires ${JSON.stringify(expires)} is not a number of seconds from 1 to ${MAX_EXPIRES_SECONDS}`);
    }

    const credentials = this.credentials;
    if (!credentials || !this.signer) return { ok: true, accessKeyId };

    const token = single('X-Amz-Security-Token');
    const refused = this.checkKeyTokenAndDate(credentials, accessKeyId, token, amzDate, signedAt);
    if (refused) return refused;
    const now = this.now();
    if (expires !== undefined && now > signedAt + Number(expires) * 1000) {
      return fail('expired', `the URL expired: signed at ${amzDate} for ${expires} s, the endpoint's clock says ${formatAmzDate(now)}`);
    }

    // The canonical query: every parameter but the signature and the session token (appended after signing).
    const signedQuery: Record<string, string | string[]> = {};
    for (const [k, values] of params) if (k !== 'X-Amz-Signature' && k !== 'X-Amz-Security-Token') signedQuery[k] = values.length === 1 ? values[0]! : values;
    const canonicalQuery = canonicalQueryOf(signedQuery);
    // Host as sent; also without its port: the AWS IoT device SDK v1 signs the bare host name.
    const host = headerValue(request.headers.host);
    const hosts = host === undefined ? [] : [host, ...(/:\d+$/.test(host) ? [host.replace(/:\d+$/, '')] : [])];
    if (hosts.length === 0) return fail('malformed-signature', 'the request has no Host header to check the signature against');
    const others = otherSignedHeaders(request.headers, headerNames);
    if (typeof others === 'string') return fail('malformed-signature', others);
    const expected = Buffer.from(signature, 'hex');
    const matches = async (canonicalQueryString: string, hostValue: string) => {
      const headerLines = [`host:${hostValue}`, ...others].sort((a, b) => (a.slice(0, a.indexOf(':')) < b.slice(0, b.indexOf(':')) ? -1 : 1));
      const canonicalRequest = `${request.method}\n${path}\n${canonicalQueryString}\n${headerLines.join('\n')}\n\n${signedHeaders}\n${EMPTY_PAYLOAD_SHA256}`;
      const stringToSign = `${SIGV4_ALGORITHM}\n${amzDate}\n${scopeDate}/${region}/${SIGV4_SERVICE}/aws4_request\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
      const actual = Buffer.from(await this.signer!.sign(stringToSign, { signingDate: new Date(signedAt), signingRegion: region, signingService: SIGV4_SERVICE }), 'hex');
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    };
    for (const h of hosts) if (await matches(canonicalQuery, h)) return { ok: true, accessKeyId };
    // A common mistake, named: the session token was signed (AWS IoT wants it appended after signing).
    if (token !== undefined) {
      const withToken = canonicalQueryOf({ ...signedQuery, 'X-Amz-Security-Token': token });
      for (const h of hosts) {
        if (await matches(withToken, h)) return fail('signature-mismatch', 'the signature covers X-Amz-Security-Token; AWS IoT wants the session token appended after signing, outside the canonical query');
      }
    }
    return fail('signature-mismatch', 'the signature does not match (wrong secret access key, or a different host, path or query was signed)');
  }

  /**
   * SigV4 with an `Authorization` header, as the AWS SDKs sign a REST request (`@aws-sdk/client-iot-data-plane`):
   *
   *   Authorization: AWS4-HMAC-SHA256 Credential=<AKID>/<yyyymmdd>/<region>/iotdata/aws4_request,
   *                  SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<hex>
   *
   * with `X-Amz-Date`, the session token as `X-Amz-Security-Token` (signed, unlike the WebSocket query), and
   * the payload hash from `X-Amz-Content-SHA256` when sent (it must be the body's) or computed from the body.
   * The canonical request is built as `@smithy/signature-v4` builds it (path normalised and encoded twice,
   * sorted RFC 3986 query); the signing key is its own. Same rules as verify() otherwise:
   * without credentials any well-formed signature, and an unsigned request, are accepted.
   */
  async verifyHeader(request: SignedRequest, body: Buffer, service: string): Promise<SigV4Result> {
    const fail = (reason: SigV4Failure, message: string): SigV4Result => ({ ok: false, reason, message });
    const authorization = headerValue(request.headers.authorization);
    if (authorization === undefined) {
      if (this.credentials) return fail('missing-signature', `the request is not signed: AWS IoT wants SigV4 (an Authorization: ${SIGV4_ALGORITHM} header for service ${service})`);
      return { ok: true };
    }
    const parsed = parseAuthorization(authorization);
    if (!parsed) return fail('malformed-signature', `the Authorization header is not "${SIGV4_ALGORITHM} Credential=..., SignedHeaders=..., Signature=..."`);
    const scope = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(parsed.credential);
    if (!scope) return fail('malformed-signature', `Credential ${JSON.stringify(parsed.credential)} is not <access key id>/<yyyymmdd>/<region>/${service}/aws4_request`);
    const [, accessKeyId, scopeDate, region, scopeService] = scope as unknown as [string, string, string, string, string];
    if (scopeService !== service) return fail('malformed-signature', `Credential names service ${JSON.stringify(scopeService)}; AWS IoT's data plane is ${service}`);
    const amzDate = headerValue(request.headers['x-amz-date']);
    if (amzDate === undefined) return fail('malformed-signature', 'X-Amz-Date header is missing');
    const signedAt = parseAmzDate(amzDate);
    if (signedAt === undefined) return fail('malformed-signature', `X-Amz-Date ${JSON.stringify(amzDate)} is not yyyymmddThhmmssZ`);
    if (!amzDate.startsWith(scopeDate)) return fail('malformed-signature', `Credential's date ${scopeDate} is not X-Amz-Date's day (${amzDate})`);
    const signedHeaders = parsed.signedHeaders;
    const headerNames = signedHeaders.split(';');
    if (!/^[a-z0-9-]+(;[a-z0-9-]+)*$/.test(signedHeaders) || !headerNames.includes('host')) {
      return fail('malformed-signature', `SignedHeaders ${JSON.stringify(signedHeaders)} must be lower-case header names separated by ";", including host`);
    }
    if (!/^[0-9a-f]{64}$/.test(parsed.signature)) return fail('malformed-signature', 'Signature is not 64 lower-case hex digits');

    const credentials = this.credentials;
    if (!credentials || !this.signer) return { ok: true, accessKeyId };

    const refused = this.checkKeyTokenAndDate(credentials, accessKeyId, headerValue(request.headers['x-amz-security-token']), amzDate, signedAt);
    if (refused) return refused;
    const bodyHash = createHash('sha256').update(body).digest('hex');
    const contentHash = headerValue(request.headers['x-amz-content-sha256']);
    if (contentHash !== undefined && contentHash !== 'UNSIGNED-PAYLOAD' && contentHash !== bodyHash) {
      return fail('signature-mismatch', 'X-Amz-Content-SHA256 is not the SHA-256 of the body that arrived');
    }

    const q = request.url.indexOf('?');
    const path = q === -1 ? request.url : request.url.slice(0, q);
    const pairs = parseQuery(q === -1 ? '' : request.url.slice(q + 1));
    if (!pairs) return fail('malformed-signature', 'the query string is not valid percent-encoding');
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of pairs) {
      const had = query[k];
      query[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
    }
    const host = headerValue(request.headers.host);
    if (host === undefined) return fail('malformed-signature', 'the request has no Host header to check the signature against');
    const others = otherSignedHeaders(request.headers, headerNames);
    if (typeof others === 'string') return fail('malformed-signature', others);
    const expected = Buffer.from(parsed.signature, 'hex');
    const canonicalHead = `${request.method}\n${canonicalPathOf(path)}\n${canonicalQueryOf(query)}\n`;
    for (const hostValue of [host, ...(/:\d+$/.test(host) ? [host.replace(/:\d+$/, '')] : [])]) {
      const headerLines = [`host:${hostValue}`, ...others].sort((a, b) => (a.slice(0, a.indexOf(':')) < b.slice(0, b.indexOf(':')) ? -1 : 1));
      const canonicalRequest = `${canonicalHead}${headerLines.join('\n')}\n\n${signedHeaders}\n${contentHash ?? bodyHash}`;
      const stringToSign = `${SIGV4_ALGORITHM}\n${amzDate}\n${scopeDate}/${region}/${service}/aws4_request\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
      const actual = Buffer.from(await this.signer.sign(stringToSign, { signingDate: new Date(signedAt), signingRegion: region, signingService: service }), 'hex');
      if (actual.length === expected.length && timingSafeEqual(actual, expected)) return { ok: true, accessKeyId };
    }
    return fail('signature-mismatch', 'the signature does not match (wrong secret access key, or a different host, path, query or body was signed)');
  }
}

/** The service name AWS IoT's HTTP data plane (Publish, the shadow REST API) is signed for. */
export const SIGV4_DATA_PLANE_SERVICE = 'iotdata';

/** SigV4's canonical URI as @smithy/signature-v4 makes it for services other than S3: normalised, encoded again. */
function canonicalPathOf(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return uriEncode(normalized).replace(/%2F/g, '/');
}

/** `Credential=...,SignedHeaders=...,Signature=...` of an Authorization header, or undefined when it is not one. */
function parseAuthorization(value: string): { credential: string; signedHeaders: string; signature: string } | undefined {
  if (!value.startsWith(`${SIGV4_ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(SIGV4_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) return undefined;
    const name = part.slice(0, eq).trim();
    if (fields.has(name)) return undefined;
    fields.set(name, part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined || fields.size !== 3) return undefined;
  return { credential, signedHeaders, signature };
}

/** SigV4's canonical query string (sorted, RFC 3986-encoded), by @smithy/signature-v4. */
function canonicalQueryOf(query: Record<string, string | string[]>): string {
  return smithy().getCanonicalQuery({ method: 'GET', protocol: 'https:', hostname: '', path: '/', headers: {}, query });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

export interface PresignOptions {
  /** The host name the client connects to (and signs), e.g. `'localhost'` or `'127.0.0.1'`. */
  host: string;
  /** The port; left out of the URL and of the signed Host when it is the protocol's default (443, 80). */
  port?: number;
  /** The region in the credential scope. Default `'us-east-1'`. */
  region?: string;
  credentials: AwsCredentials;
  /** `'wss'` (default) or `'ws'`. */
  protocol?: 'wss' | 'ws';
  /** Default `'/mqtt'`. */
  path?: string;
  /** When it is signed. Default now; pass `iot.clock.now()` under a virtual clock. */
  date?: Date | number;
  /** Seconds the URL stays valid (X-Amz-Expires). Default 300; the endpoint also refuses an X-Amz-Date 5 minutes off. */
  expiresIn?: number;
}

/**
 * A SigV4-presigned AWS IoT WebSocket URL (`wss://host:port/mqtt?X-Amz-...`), signed with
 * `@smithy/signature-v4` the way AWS IoT wants it: service `iotdevicegateway`, the session token appended
 * after signing. For MQTT.js: `mqtt.connect(await presignWebSocketUrl({ ... }))`.
 */
export async function presignWebSocketUrl(options: PresignOptions): Promise<string> {
  const { host, port, region = 'us-east-1', credentials, protocol = 'wss', path = '/mqtt', expiresIn = 300 } = options;
  const date = options.date === undefined ? new Date() : new Date(options.date);
  const defaultPort = protocol === 'wss' ? 443 : 80;
  const hostName = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const authority = port === undefined || port === defaultPort ? hostName : `${hostName}:${port}`;
  const signer = new (smithy().SignatureV4)({ credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }, region, service: SIGV4_SERVICE, sha256: Sha256 });
  const signed = await signer.presign(
    { method: 'GET', protocol: `${protocol}:`, hostname: host, ...(port === undefined ? {} : { port }), path, headers: { host: authority }, query: {} },
    { signingDate: date, expiresIn },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(String(v))}`)
    .sort();
  if (credentials.sessionToken !== undefined) query.push(`X-Amz-Security-Token=${uriEncode(credentials.sessionToken)}`);
  return `${protocol}://${authority}${path}?${query.join('&')}`;
}

/** The signed headers other than host, as `name:value` lines for the canonical request; or what is missing. */
function otherSignedHeaders(headers: IncomingHttpHeaders, names: string[]): string[] | string {
  const lines: string[] = [];
  for (const name of names) {
    if (name === 'host') continue;
    const value = headerValue(headers[name]);
    if (value === undefined) return `signed header ${name} is not in the request`;
    lines.push(`${name}:${value}`);
  }
  return lines;
}
