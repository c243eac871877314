/**
 * Custom authorizers, as AWS IoT runs them (aws-iot-behaviour.md §7): a function of the test's stands in for
 * the authorizer Lambda. It gets AWS's request (`token`, `signatureVerified`, `protocols`, `protocolData`,
 * `connectionMetadata`) and answers with AWS's response (`isAuthenticated`, `principalId`, `policyDocuments`,
 * `disconnectAfterInSeconds`, `refreshAfterInSeconds`), which is checked as AWS checks it.
 *
 * Selection as AWS does it: the `x-amz-customauthorizer-name` parameter (MQTT user name query string, or the
 * WebSocket upgrade's headers or query string), else the endpoint's default authorizer (a domain
 * configuration's `defaultAuthorizerName`). Token signing: an authorizer with public keys wants the token
 * (`<tokenKeyName>=...`) and its RSA-SHA256 signature (`x-amz-customauthorizer-signature`, base64).
 *
 * State-free but for the seeded connection ids; the Dispatcher holds the connection while an authorizer runs.
 */
import { type KeyObject, createPublicKey, verify } from 'node:crypto';
import type { Limits } from '../aws/profile';
import { type RandomStream, streamFor } from '../chaos/prng';
import type { Clock } from '../clock/clock';
import { fail, show, checkKnownKeys } from '../validate';
import { type Policy, type PolicyDocument, PolicyError, parsePolicy } from './policy';

/** The parameter (user name query, HTTP header or query) naming the authorizer. */
export const AUTHORIZER_NAME_PARAM = 'x-amz-customauthorizer-name';
/** The parameter carrying the token's signature (base64 RSA-SHA256). */
export const AUTHORIZER_SIGNATURE_PARAM = 'x-amz-customauthorizer-signature';
/** The ALPN protocol that selects custom authentication on the TLS port (AWS: port 443, ALPN `mqtt`, §7). */
export const CUSTOM_AUTH_ALPN = 'mqtt';

/** MQTT 5 CONNACK reason codes of a refused custom authentication (aws-iot-behaviour.md §1.4, §6.2). */
export const BAD_CREDENTIALS = 0x86;
export const NOT_AUTHORIZED = 0x87;

export type CustomAuthProtocol = 'tls' | 'http' | 'mqtt';

/** What AWS hands the authorizer Lambda (§7), and the fake hands your authorizer. */
export interface CustomAuthorizerRequest {
  /** The token: the value of the authorizer's `tokenKeyName` parameter, when it has one and the client sent it. */
  token?: string;
  /** True when the token's signature was checked against the authorizer's public keys (signing enabled). */
  signatureVerified: boolean;
  /** `tls` (the TLS port, wss://), `http` (a WebSocket upgrade), `mqtt` (always). */
  protocols: CustomAuthProtocol[];
  protocolData: {
    tls?: { serverName?: string };
    http?: { headers: Record<string, string>; queryString: string };
    /** The CONNECT's fields; the password base64-encoded, as AWS delivers it. */
    mqtt?: { username?: string; password?: string; clientId: string };
  };
  /** A UUID per connection (from the endpoint's seed). */
  connectionMetadata: { id: string };
}

/** What the authorizer answers (§7). With `isAuthenticated: true`, every field is required. */
export interface CustomAuthorizerResponse {
  isAuthenticated: boolean;
  /** The connection's principal: 1-128 letters and digits. */
  principalId?: string;
  /** IoT policy documents (JSON text or objects; at most 10, each at most 2048 characters) that decide what the connection may do. */
  policyDocuments?: (string | PolicyDocument)[];
  /** The connection is closed after this long (300-86400 s; lifecycle reason CUSTOMAUTH_TTL_EXPIRATION). */
  disconnectAfterInSeconds?: number;
  /** The authorizer is asked again after this long (300-86400 s); its policies hold until then. */
  refreshAfterInSeconds?: number;
}

export type CustomAuthorizerHandler = (request: CustomAuthorizerRequest) => CustomAuthorizerResponse | Promise<CustomAuthorizerResponse>;

/** An authorizer with AWS's settings (CreateAuthorizer): token key name and token signing. */
export interface CustomAuthorizerConfig {
  handler: CustomAuthorizerHandler;
  /** The parameter (user name query, HTTP header or query) whose value is the token. Required with token signing. */
  tokenKeyName?: string;
  /** Token signing: public keys (PEM, RSA of 2048 bits or more) by name; a signature from any of them is accepted. */
  tokenSigningPublicKeys?: Record<string, string | Buffer>;
  /** Default: true unless `tokenSigningPublicKeys` is given (then the token must be signed). */
  signingDisabled?: boolean;
}

/** The domain configuration's authorizer settings (AWS: `authorizerConfig`). */
export interface DefaultAuthorizerConfig {
  /** The authorizer used when the client names none. */
  name: string;
  /** Whether a client may name another one (AWS: `allowAuthorizerOverride`, default false). */
  allowAuthorizerOverride?: boolean;
}

export interface ResolvedAuthorizer {
  name: string;
  handler: CustomAuthorizerHandler;
  tokenKeyName: string | undefined;
  /** Public keys when token signing is on; undefined when it is off. */
  signingKeys: KeyObject[] | undefined;
}

export interface ResolvedAuthorizers {
  byName: Map<string, ResolvedAuthorizer>;
  defaultName: string | undefined;
  allowOverride: boolean;
}

const NAME = /^[\w=,@-]{1,128}$/;
const TOKEN_KEY_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const PRINCIPAL_ID = /^[a-zA-Z0-9]{1,128}$/;

/** Checks options.authorizers and options.defaultAuthorizer. Throws INVALID_OPTION naming the option. */
export function resolveAuthorizers(value: unknown, defaultValue: unknown): ResolvedAuthorizers | undefined {
  if (value === undefined) {
    if (defaultValue !== undefined) fail('options.defaultAuthorizer needs options.authorizers: name one of them.');
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`options.authorizers must be an object of authorizers by name, such as { 'my-authorizer': async (request) => ({ isAuthenticated: true, ... }) } (got ${show(value)}).`);
  }
  const byName = new Map<string, ResolvedAuthorizer>();
  for (const [name, entry] of Object.entries(value)) {
    const where = `options.authorizers[${JSON.stringify(name)}]`;
    if (!NAME.test(name)) fail(`options.authorizers: ${JSON.stringify(name)} is not an authorizer name AWS accepts (1-128 characters of letters, digits and _=,@-).`);
    byName.set(name, resolveOne(name, entry, where));
  }
  if (byName.size === 0) fail('options.authorizers is empty: give at least one authorizer, or leave the option out.');
  let defaultName: string | undefined;
  let allowOverride = false;
  if (defaultValue !== undefined) {
    const d: Record<string, unknown> = typeof defaultValue === 'string' ? { name: defaultValue } : (defaultValue as Record<string, unknown>);
    if (typeof d !== 'object' || d === null || Array.isArray(d)) fail(`options.defaultAuthorizer must be an authorizer's name or { name, allowAuthorizerOverride } (got ${show(defaultValue)}).`);
    checkKnownKeys(d, ['name', 'allowAuthorizerOverride'], 'options.defaultAuthorizer.');
    if (typeof d.name !== 'string' || !byName.has(d.name)) {
      fail(`options.defaultAuthorizer names ${show(d.name)}, which is not in options.authorizers (${[...byName.keys()].map((n) => JSON.stringify(n)).join(', ')}).`);
    }
    if (d.allowAuthorizerOverride !== undefined && typeof d.allowAuthorizerOverride !== 'boolean') {
      fail(`options.defaultAuthorizer.allowAuthorizerOverride must be true or false (got ${show(d.allowAuthorizerOverride)}).`);
    }
    defaultName = d.name;
    allowOverride = d.allowAuthorizerOverride === true;
  }
  return { byName, defaultName, allowOverride };
}

function resolveOne(name: string, entry: unknown, where: string): ResolvedAuthorizer {
  if (typeof entry === 'function') return { name, handler: entry as CustomAuthorizerHandler, tokenKeyName: undefined, signingKeys: undefined };
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    fail(`${where} must be a function (request) => response, or { handler, tokenKeyName?, tokenSigningPublicKeys?, signingDisabled? } (got ${show(entry)}).`);
  }
  const e = entry as Record<string, unknown>;
  checkKnownKeys(e, ['handler', 'tokenKeyName', 'tokenSigningPublicKeys', 'signingDisabled'], `${where}.`);
  if (typeof e.handler !== 'function') fail(`${where}.handler must be a function (request) => response (got ${show(e.handler)}).`);
  if (e.tokenKeyName !== undefined && (typeof e.tokenKeyName !== 'string' || !TOKEN_KEY_NAME.test(e.tokenKeyName))) {
    fail(`${where}.tokenKeyName must be 1-128 letters, digits, _ and - as AWS requires (got ${show(e.tokenKeyName)}).`);
  }
  if (e.signingDisabled !== undefined && typeof e.signingDisabled !== 'boolean') fail(`${where}.signingDisabled must be true or false (got ${show(e.signingDisabled)}).`);
  let keys: KeyObject[] | undefined;
  if (e.tokenSigningPublicKeys !== undefined) {
    const given = e.tokenSigningPublicKeys;
    if (typeof given !== 'object' || given === null || Array.isArray(given) || Object.keys(given).length === 0) {
      fail(`${where}.tokenSigningPublicKeys must map key names to PEM public keys, such as { key1: '-----BEGIN PUBLIC KEY-----...' } (got ${show(given)}).`);
    }
    keys = Object.entries(given).map(([keyName, pem]) => publicKey(pem, `${where}.tokenSigningPublicKeys[${JSON.stringify(keyName)}]`));
  }
  const signing = e.signingDisabled === undefined ? keys !== undefined : !e.signingDisabled;
  if (signing && keys === undefined) fail(`${where}: token signing is on (signingDisabled: false) but there are no tokenSigningPublicKeys to check signatures with.`);
  if (signing && e.tokenKeyName === undefined) fail(`${where}: token signing needs tokenKeyName, the parameter whose value is the signed token (AWS requires it).`);
  return { name, handler: e.handler as CustomAuthorizerHandler, tokenKeyName: e.tokenKeyName as string | undefined, signingKeys: signing ? keys : undefined };
}

function publicKey(pem: unknown, where: string): KeyObject {
  if (typeof pem !== 'string' && !Buffer.isBuffer(pem)) fail(`${where} must be a PEM public key (a string or a Buffer) (got ${show(pem)}).`);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    fail(`${where} cannot be read as a public key: ${(error as Error).message}.`);
  }
  // AWS: token signing keys are RSA, 2048 bits or more (§7).
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048) fail(`${where} must be an RSA key of 2048 bits or more, as AWS requires (got ${key.asymmetricKeyType ?? 'unknown'}${bits ? ` ${bits} bits` : ''}).`);
  return key;
}

/** Query parameters in order, percent-decoded (a `+` stays a `+`: signatures are base64). */
function parameters(query: string): [string, string][] {
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return query.split('&').filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=');
    return eq === -1 ? [decode(pair), ''] : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))];
  });
}

/** What a transport saw of a connection that may authenticate with a custom authorizer. */
export interface CustomAuthTransport {
  /**
   * `tls`: ALPN `mqtt` on the TLS port; `websocket`: an upgrade without SigV4; `tcp`: the plain port (the fake's
   * own; an authorizer runs only when the user name names one, and the default authorizer never applies).
   */
  via: 'tls' | 'websocket' | 'tcp';
  /** True when the connection has no other way in: without an authorizer it is refused. */
  required: boolean;
  /** Whether the connection came over TLS (the TLS port, wss://). */
  tls: boolean;
  serverName?: string;
  http?: { headers: Record<string, string>; queryString: string };
}

/** The CONNECT's fields an authorizer gets. */
export interface ConnectCredentials {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
}

/** A custom authentication about to run: the authorizer and its request, or a refusal before any authorizer runs. */
export type Prepared =
  | { authorizer: ResolvedAuthorizer; request: CustomAuthorizerRequest }
  | { authorizer: ResolvedAuthorizer | undefined; refusal: { error: string; code: number } };

/** How one authentication ended. */
export type AuthorizerOutcome =
  | { ok: true; principalId: string; policies: Policy[]; disconnectAfterSeconds: number; refreshAfterSeconds: number }
  | { ok: false; isAuthenticated: boolean; error?: string; code: number };

export class Authorizers {
  private readonly ids: RandomStream;

  constructor(
    readonly config: ResolvedAuthorizers,
    seed: number,
    private readonly limits: Limits,
  ) {
    this.ids = streamFor(seed, 'authorizer-connections');
  }

  /**
   * Whether the connection authenticates with a custom authorizer, and with which (AWS's selection, §7).
   * Undefined: it does not (a plain-port client naming none, an unsigned WebSocket naming none without credentials).
   */
  prepare(transport: CustomAuthTransport, connect: ConnectCredentials): Prepared | undefined {
    const fromUser = connect.username?.includes('?') ? parameters(connect.username.slice(connect.username.indexOf('?') + 1)) : [];
    const fromQuery = transport.http ? parameters(transport.http.queryString.replace(/^\?/, '')) : [];
    const headers = transport.http?.headers ?? {};
    /** A parameter from the upgrade's headers, its query string, or the user name's query string, in that order. */
    const param = (name: string): string | undefined => {
      const lower = name.toLowerCase();
      return headers[lower] ?? fromQuery.find(([k]) => k === name)?.[1] ?? fromUser.find(([k]) => k === name)?.[1];
    };
    const { byName, defaultName, allowOverride } = this.config;
    const asked = param(AUTHORIZER_NAME_PARAM);
    const useDefault = transport.via !== 'tcp' && defaultName !== undefined && (asked === undefined || !allowOverride);
    const name = useDefault ? defaultName : asked;
    if (name === undefined) {
      if (!transport.required) return undefined;
      return { authorizer: undefined, refusal: { code: NOT_AUTHORIZED, error: `no authorizer named: the connection has no other credentials, and it sent no ${AUTHORIZER_NAME_PARAM} (the endpoint has no defaultAuthorizer)` } };
    }
    const authorizer = byName.get(name);
    if (!authorizer) return { authorizer: undefined, refusal: { code: NOT_AUTHORIZED, error: `no authorizer named ${JSON.stringify(name)} (the endpoint has ${[...byName.keys()].map((n) => JSON.stringify(n)).join(', ')})` } };

    const token = authorizer.tokenKeyName !== undefined ? param(authorizer.tokenKeyName) : undefined;
    let signatureVerified = false;
    if (authorizer.signingKeys) {
      // AWS: with token signing on, the token and its signature are checked before the Lambda is invoked.
      const signature = param(AUTHORIZER_SIGNATURE_PARAM);
      if (token === undefined || signature === undefined) {
        const missing = [token === undefined ? `the token (${authorizer.tokenKeyName}=...)` : '', signature === undefined ? AUTHORIZER_SIGNATURE_PARAM : ''].filter(Boolean).join(' and ');
        return { authorizer, refusal: { code: BAD_CREDENTIALS, error: `token signing is on and ${missing} is missing` } };
      }
      if (!signatureVerifies(token, signature, authorizer.signingKeys)) {
        return { authorizer, refusal: { code: BAD_CREDENTIALS, error: `the token's signature (${AUTHORIZER_SIGNATURE_PARAM}) does not verify with the authorizer's tokenSigningPublicKeys (RSA-SHA256 over the token, base64)` } };
      }
      signatureVerified = true;
    }

    const protocols: CustomAuthProtocol[] = [...(transport.tls ? (['tls'] as const) : []), ...(transport.http ? (['http'] as const) : []), 'mqtt'];
    const request: CustomAuthorizerRequest = {
      ...(token !== undefined ? { token } : {}),
      signatureVerified,
      protocols,
      protocolData: {
        ...(transport.tls ? { tls: transport.serverName !== undefined ? { serverName: transport.serverName } : {} } : {}),
        ...(transport.http ? { http: { headers: { ...transport.http.headers }, queryString: transport.http.queryString } } : {}),
        mqtt: {
          ...(connect.username !== undefined ? { username: connect.username } : {}),
          ...(connect.password !== undefined ? { password: connect.password.toString('base64') } : {}),
          clientId: connect.clientId,
        },
      },
      connectionMetadata: { id: this.ids.uuid() },
    };
    return { authorizer, request };
  }

  /**
   * Runs the authorizer (again, for a refresh) and reports once how it ended: its answer checked as AWS checks
   * it; a throw, a rejection or no answer within limits.customAuthTimeoutSeconds (endpoint clock) fails it.
   * Returns a cancel (the connection went away): `done` is then never called.
   */
  invoke(authorizer: ResolvedAuthorizer, request: CustomAuthorizerRequest, clock: Clock, done: (outcome: AuthorizerOutcome) => void): () => void {
    let finished = false;
    const finish = (outcome: AuthorizerOutcome) => {
      if (finished) return;
      finished = true;
      timer.cancel();
      done(outcome);
    };
    const timer = clock.setTimeout(() => finish({ ok: false, isAuthenticated: false, code: NOT_AUTHORIZED, error: `no answer within ${this.limits.customAuthTimeoutSeconds} s (limits.customAuthTimeoutSeconds; AWS's Lambda timeout)` }), this.limits.customAuthTimeoutSeconds * 1000);
    let answer: Promise<unknown>;
    try {
      // A copy: what the authorizer does to its request does not reach the next refresh.
      answer = Promise.resolve(authorizer.handler(structuredClone(request)));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (response) => {
        let outcome: AuthorizerOutcome;
        try {
          outcome = this.check(response);
        } catch (error) {
          // A response that throws when read (a getter, a circular policy document) is as invalid as any other.
          outcome = { ok: false, isAuthenticated: false, code: NOT_AUTHORIZED, error: `invalid response: reading it threw ${describe(error)}` };
        }
        finish(outcome);
      },
      (error: unknown) => finish({ ok: false, isAuthenticated: false, code: NOT_AUTHORIZED, error: `the authorizer threw: ${describe(error)}` }),
    );
    return () => {
      finished = true;
      timer.cancel();
    };
  }

  /** The response checked against AWS's contract (§7): anything off makes it invalid, and the connect fails. */
  check(response: unknown): AuthorizerOutcome {
    const invalid = (what: string): AuthorizerOutcome => ({ ok: false, isAuthenticated: false, code: NOT_AUTHORIZED, error: `invalid response: ${what}` });
    if (typeof response !== 'object' || response === null) return invalid(`expected an object, got ${show(response)}`);
    const r = response as Record<string, unknown>;
    if (typeof r.isAuthenticated !== 'boolean') return invalid(`isAuthenticated must be true or false (got ${show(r.isAuthenticated)})`);
    if (!r.isAuthenticated) return { ok: false, isAuthenticated: false, code: BAD_CREDENTIALS };
    if (typeof r.principalId !== 'string' || !PRINCIPAL_ID.test(r.principalId)) return invalid(`principalId must be 1-128 letters and digits (got ${show(r.principalId)})`);
    const { customAuthMinTtlSeconds: min, customAuthMaxTtlSeconds: max, customAuthMaxPolicyDocuments: maxDocs } = this.limits;
    for (const key of ['disconnectAfterInSeconds', 'refreshAfterInSeconds'] as const) {
      const v = r[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return invalid(`${key} must be a whole number of seconds from ${min} to ${max} (got ${show(v)})`);
    }
    if (!Array.isArray(r.policyDocuments)) return invalid(`policyDocuments must be a list of policy documents (got ${show(r.policyDocuments)})`);
    if (r.policyDocuments.length > maxDocs) return invalid(`${r.policyDocuments.length} policyDocuments; AWS allows ${maxDocs} (limits.customAuthMaxPolicyDocuments)`);
    const policies: Policy[] = [];
    for (const [i, document] of r.policyDocuments.entries()) {
      try {
        policies.push(parsePolicy(`${r.principalId}/policyDocuments[${i}]`, document, this.limits.policyMaxChars));
      } catch (error) {
        if (error instanceof PolicyError) return invalid(error.message);
        throw error;
      }
    }
    return { ok: true, principalId: r.principalId, policies, disconnectAfterSeconds: r.disconnectAfterInSeconds as number, refreshAfterSeconds: r.refreshAfterInSeconds as number };
  }
}

/** What a thrown value says, whatever it is (its own toString may throw too). */
function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'a value that cannot be shown';
  }
}

/** AWS's token signing: RSA-SHA256 over the token (UTF-8), the signature base64 (§7). */
function signatureVerifies(token: string, signature: string, keys: readonly KeyObject[]): boolean {
  // A `+` decoded to a space on the way (a query string read as a form) is put back.
  const bytes = Buffer.from(signature.replace(/ /g, '+'), 'base64');
  if (bytes.length === 0) return false;
  return keys.some((key) => {
    try {
      return verify('sha256', Buffer.from(token, 'utf8'), key, bytes);
    } catch {
      return false;
    }
  });
}
