import { checkKnownKeys, fail, show } from './validate';
import { DEFAULT_TRACE_MAX_BYTES } from './trace/recorder';
import { type Limits, type Profile, type ProfileName, type Reactions, featuresOf, profiles } from './aws/profile';
import { type ResolvedChaos, resolveChaos } from './chaos/options';
import { isSeed, randomSeed } from './chaos/prng';
import type { ChaosOptions } from './chaos/types';
import type { Clock } from './clock/clock';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFixture } from './identity/fixtures';
import type { TlsOptions } from './identity/types';
import { DEFAULT_ALPN } from './transport/alpn';
import { type PolicyDocument, PolicyError, parsePolicy } from './auth/policy';
import type { AwsCredentials } from './transport/sigv4';
import { type CustomAuthorizerConfig, type CustomAuthorizerHandler, type DefaultAuthorizerConfig, type ResolvedAuthorizers, resolveAuthorizers } from './auth/authorizers';

/** MQTT over WebSocket (`wss://host:port/mqtt`, or `ws://` with `tls: false`). */
export interface WebSocketOptions {
  /** Port of the WebSocket listener, beside the plain MQTT port. Default 0: a free one (read it from `iot.ws.port`). */
  port?: number;
  /**
   * `true` (default): `wss://`, with the server certificate given as `{ cert, key }` (PEM). Until the
   * endpoint ships a default certificate, `true` alone is refused: pass `{ cert, key }`, or `false` for `ws://`.
   */
  tls?: boolean | { cert: string | Buffer; key: string | Buffer };
  /** The one path that upgrades. Default `'/mqtt'`, as AWS IoT. */
  path?: string;
}

/** AWS IoT's data-plane REST API (Publish, the Device Shadow REST calls) for `@aws-sdk/client-iot-data-plane`. */
export interface HttpOptions {
  /** Port of the HTTP(S) listener. Default 0: a free one (read it from `iot.http.port`). */
  port?: number;
}

/** Trace settings: memory is bounded in entries and in payload bytes. */
export interface TraceOptions {
  /** How many of the most recent entries are kept. Default 10,000. */
  maxEntries?: number;
  /**
   * Payload bytes the kept entries may hold. Beyond it, the oldest payloads are cut to their first 64 bytes
   * (the entry then has `truncated: { payloadBytes }`). Default 8 MiB.
   */
  maxBytes?: number;
}

export const DEFAULT_TRACE_MAX_ENTRIES = 10_000;

export interface FakeIotOptions {
  /** TCP port to listen on. Default 0: a free port picked by the OS (read it back from `iot.port`). */
  port?: number;
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /**
   * Which AWS behaviour to reproduce: `'current'` (default: today's AWS IoT Core — MQTT 3.1.1 and 5, retained
   * messages, shared subscriptions) or `'classic'` (the developer guide of 2019–2020: MQTT 3.1.1 only, RETAIN
   * disconnects, no `$share`). Options below override single values of either.
   */
  profile?: ProfileName;
  /** Seed for everything random in the endpoint (session ids now, chaos later). Random when absent; read it from `iot.seed`. */
  seed?: number;
  /** Packet trace. On by default, keeping the 10,000 most recent entries; `false` turns it off. */
  trace?: boolean | TraceOptions;
  /** Overrides of the profile's numeric limits. */
  limits?: Partial<Limits>;
  /** Reaction to QoS 2 (default `'ignore'`, as the developer guide says). */
  qos2?: Reactions['qos2'];
  /** RETAIN: `'store'` (current profile: AWS's retained messages), `'disconnect'` (classic default) or `'ignore'`. */
  retain?: Reactions['retain'];
  /** RETAIN on a `$` topic under retain: 'store': `'disconnect'` (default; AWS does not allow it) or `'ignore'` (delivered, not stored). */
  reservedRetain?: Reactions['reservedRetain'];
  /** A non-empty RETAIN publish while the retained store is full: `'discard'` (default: throttled, no PUBACK) or `'disconnect'` (THROTTLED). */
  retainedQuota?: Reactions['retainedQuota'];
  /** `$share/{group}/{filter}` subscriptions (default: `true` in the current profile, `false` in classic). */
  sharedSubscriptions?: boolean;
  /** Reaction to an empty client id on a clean session (default `'assign'`). */
  emptyClientId?: Reactions['emptyClientId'];
  /** Publish lifecycle events on `$aws/events/...` (default `true`). */
  lifecycleEvents?: boolean;
  /** QoS of lifecycle messages (default 1; AWS does not document it). */
  lifecycleQos?: Reactions['lifecycleQos'];
  /** Whether `a/#` matches `a` too (default `false`, as AWS; MQTT says `true`). */
  hashMatchesParent?: boolean;
  /** Leave the `$aws/rules/<rule>/` prefix out of the topic limits (default `true`, as AWS). */
  basicIngestPrefixExempt?: boolean;
  /** QoS 0 messages for an offline persistent session: `'drop'` (default, as AWS) or `'queue'`. */
  offlineQos0?: Reactions['offlineQos0'];
  /** A packet sent before CONNACK could be read: `'disconnect'` (default, as AWS) or `'allow'`. */
  packetBeforeConnack?: Reactions['packetBeforeConnack'];
  /** A client's use of a `$` topic AWS does not open to clients: `'disconnect'` (default, as AWS) or `'allow'`. */
  reservedTopics?: Reactions['reservedTopics'];
  /**
   * AWS's rate limits (100 PUBLISH/s and 512 KiB/s per connection, 1 CONNECT/s per client id, stored messages
   * at 10/s on resume). On by default, as on AWS: a device that bursts or reconnects in a tight loop finds out
   * in its tests. `false` turns them all off (load tests, benchmarks); single limits are set in `limits`.
   */
  throttles?: boolean;
  /** A PUBLISH over the rate limit: `'discard'` (default, as AWS) or `'disconnect'` (reason THROTTLED). */
  publishRate?: Reactions['publishRate'];
  /** Traffic over the byte rate: `'delay'` (default, as AWS) or `'disconnect'` (reason THROTTLED). */
  throughput?: Reactions['throughput'];
  /** A CONNECT over the per-client-id rate: `'close'` (default: no CONNACK) or `'server-unavailable'` (CONNACK 0x03). */
  connectRate?: Reactions['connectRate'];
  /** Device Shadow: publish `/update/delta` after a `reported`-only update that leaves a delta (default `false`; AWS is silent). */
  shadowDeltaOnReportedUpdate?: boolean;
  /** MQTT 5 SUBSCRIBE asking for QoS 2: `'downgrade'` (default: granted QoS 1, SUBACK 0x01) or `'refuse'` (0x80 for that filter). */
  qos2SubscribeMqtt5?: Reactions['qos2SubscribeMqtt5'];
  /** MQTT 3.1.1 PUBLISH an IoT policy denies: `'disconnect'` (default, as AWS) or `'drop'` (discarded, no PUBACK). */
  unauthorizedPublish?: Reactions['unauthorizedPublish'];
  /** MQTT 5 QoS 0 PUBLISH an IoT policy denies: `'drop'` (default) or `'disconnect'` (DISCONNECT 0x87). AWS is silent. */
  unauthorizedPublishQos0Mqtt5?: Reactions['unauthorizedPublishQos0Mqtt5'];
  /** MQTT 3.1.1 SUBSCRIBE an IoT policy denies: `'disconnect'` (default, as AWS: no SUBACK) or `'suback-failure'` (0x80 for that filter). */
  unauthorizedSubscribe?: Reactions['unauthorizedSubscribe'];
  /** AWS's documented misbehaviours, injected on purpose, driven by `seed`. Absent: no chaos work at all. */
  chaos?: ChaosOptions;
  /**
   * `'real'` (default) or `'virtual'`: the endpoint's timers (keep-alive, session expiry, chaos delays and
   * holds) then run on a clock the test moves with `iot.clock.advance(ms)`. Or a `Clock` object of your
   * own (`{ now(), setTimeout(fn, ms) → { cancel() } }`), e.g. one shared with the code under test.
   */
  clock?: 'real' | 'virtual' | Clock;
  /**
   * Serve MQTT over WebSocket too, with SigV4 query-string authentication as AWS IoT does: `true` for
   * `wss://` at `/mqtt` on a free port, or `{ port, tls, path }`; `{ tls: false }` for plain `ws://`.
   */
  websockets?: boolean | WebSocketOptions;
  /**
   * The AWS credentials the endpoint accepts. With them, a WebSocket upgrade must carry a valid SigV4
   * signature of these credentials (X-Amz-Date within 5 minutes of the endpoint's clock), or it gets HTTP
   * 403. Without them, any well-formed signature is accepted, and so is an unsigned URL.
   */
  credentials?: AwsCredentials;
  /**
   * Device Shadows that exist from the start, as if updated once: `{ 'dev-1': { state: { desired: { on: true } } } }`,
   * a named shadow as `'dev-1/name/cfg'`. Each document is checked like an update (an invalid one is refused).
   */
  shadows?: Record<string, object>;
  /**
   * AWS IoT policies by name: AWS's JSON documents (`Version`, `Statement`), as objects or JSON text, each
   * checked as AWS checks it (at most 2048 characters without whitespace). Attach them with
   * `iot.attachPolicy(name, principal)` or `iot.createThing(name, { policies: [name] })`. Once any policy exists
   * every operation is checked, and what no statement allows is denied; without policies everything is allowed.
   */
  policies?: Record<string, PolicyDocument | string>;
  /**
   * Custom authorizers by name, standing in for AWS's authorizer Lambdas: a function `(request) => response`
   * (AWS's request and response, aws-iot-behaviour.md §7), or `{ handler, tokenKeyName, tokenSigningPublicKeys,
   * signingDisabled }`. A client picks one with `x-amz-customauthorizer-name` in its MQTT user name's query
   * string or its WebSocket upgrade; ALPN `mqtt` on the TLS port (no client certificate) and WebSockets without
   * SigV4 authenticate this way. The response's principalId and policyDocuments then decide what it may do.
   */
  authorizers?: Record<string, CustomAuthorizerHandler | CustomAuthorizerConfig>;
  /**
   * The authorizer used when a client on the TLS port (ALPN `mqtt`) or an unsigned WebSocket names none (AWS: a
   * domain configuration's `defaultAuthorizerName`): its name, or `{ name, allowAuthorizerOverride }` (default
   * false: a name the client sends is ignored).
   */
  defaultAuthorizer?: string | DefaultAuthorizerConfig;
  /**
   * Also serve MQTT over TLS with client certificates (AWS's port 8883, and 443 with ALPN `x-amzn-mqtt-ca`)
   * on a second port: `true` for the defaults (fixtures/ certificates), or settings. Read the port, URL and CA
   * from `iot.tls`; issue device certificates with `iot.createThing()`.
   */
  tls?: boolean | TlsOptions;
  /**
   * Serve AWS IoT's data-plane REST API too (`Publish`, `GetThingShadow`, `UpdateThingShadow`,
   * `DeleteThingShadow`, `ListNamedShadowsForThing`), for backend code using `@aws-sdk/client-iot-data-plane`
   * with `endpoint: iot.http.url`: `true` or `{ port }`. HTTPS (the fixtures/ server certificate) when `tls`
   * is on, plain HTTP otherwise. SigV4 is checked against `credentials` when they are configured.
   */
  http?: boolean | HttpOptions;
  /** AWS account id in ARNs (`certificateArn`). Default `'123456789012'`. */
  accountId?: string;
  /** AWS region in ARNs. Default `'us-east-1'`. */
  region?: string;
}

export interface ResolvedWebSockets {
  port: number;
  path: string;
  /** TLS server options for `wss://`; undefined for `ws://`. */
  tls: { cert: string | Buffer; key: string | Buffer } | undefined;
}

/** The TLS listener's settings, with the defaults filled in. */
export interface ResolvedTls {
  port: number;
  cert: string | Buffer;
  key: string | Buffer;
  /** Extra trusted CAs (the endpoint's own CA is always trusted). */
  ca: (string | Buffer)[];
  requireSni: boolean;
  alpn: string[];
}

/** The fake account id in ARNs, as in AWS's documentation examples. */
export const DEFAULT_ACCOUNT_ID = '123456789012';
export const DEFAULT_REGION = 'us-east-1';

export interface ResolvedOptions {
  port: number;
  host: string;
  seed: number;
  trace: { enabled: boolean; maxEntries: number; maxBytes: number };
  profile: Profile;
  chaos: ResolvedChaos | undefined;
  clock: 'real' | 'virtual' | Clock;
  websockets: ResolvedWebSockets | undefined;
  credentials: AwsCredentials | undefined;
  /** Seeded shadows: thing, shadow name (undefined: classic) and the update that creates it. */
  shadows: { thingName: string; shadowName: string | undefined; document: object }[];
  /** The policies option, each document checked. */
  policies: { name: string; document: PolicyDocument | string }[];
  /** The authorizers and defaultAuthorizer options, checked; undefined without authorizers. */
  authorizers: ResolvedAuthorizers | undefined;
  tls: ResolvedTls | undefined;
  http: { port: number } | undefined;
  accountId: string;
  region: string;
}

export const TOP_LEVEL_KEYS = [
  'port', 'host', 'profile', 'seed', 'trace', 'limits', 'qos2', 'retain', 'reservedRetain', 'retainedQuota', 'sharedSubscriptions', 'emptyClientId', 'lifecycleEvents', 'lifecycleQos',
  'hashMatchesParent', 'basicIngestPrefixExempt', 'offlineQos0', 'packetBeforeConnack', 'reservedTopics',
  'throttles', 'publishRate', 'throughput', 'connectRate', 'shadowDeltaOnReportedUpdate', 'qos2SubscribeMqtt5',
  'unauthorizedPublish', 'unauthorizedPublishQos0Mqtt5', 'unauthorizedSubscribe', 'policies', 'authorizers', 'defaultAuthorizer', 'chaos', 'clock',
  'websockets', 'credentials', 'tls', 'http', 'accountId', 'region', 'shadows',
] as const;

const REACTION_VALUES: { [K in keyof Reactions]: readonly Reactions[K][] } = {
  qos2: ['ignore', 'disconnect'],
  retain: ['store', 'disconnect', 'ignore'],
  reservedRetain: ['disconnect', 'ignore'],
  retainedQuota: ['discard', 'disconnect'],
  sharedSubscriptions: [true, false],
  emptyClientId: ['assign', 'reject'],
  lifecycleEvents: [true, false],
  lifecycleQos: [0, 1],
  hashMatchesParent: [false, true],
  basicIngestPrefixExempt: [true, false],
  offlineQos0: ['drop', 'queue'],
  packetBeforeConnack: ['disconnect', 'allow'],
  reservedTopics: ['disconnect', 'allow'],
  throttles: [true, false],
  publishRate: ['discard', 'disconnect'],
  throughput: ['delay', 'disconnect'],
  connectRate: ['close', 'server-unavailable'],
  shadowDeltaOnReportedUpdate: [false, true],
  qos2SubscribeMqtt5: ['downgrade', 'refuse'],
  unauthorizedPublish: ['disconnect', 'drop'],
  unauthorizedPublishQos0Mqtt5: ['drop', 'disconnect'],
  unauthorizedSubscribe: ['disconnect', 'suback-failure'],
};

function checkPlainObject(value: unknown, name: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`${name} must be an object (got ${show(value)}).`);
  }
}

function checkInteger(value: unknown, name: string, min: number, max: number, hint = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max} (got ${show(value)}).${hint}`);
  }
  return value;
}

/** The names of a profile's limits, listed once per profile (its limits never change). */
const limitNamesOf = new WeakMap<Limits, string[]>();
function limitNames(limits: Limits): string[] {
  let names = limitNamesOf.get(limits);
  if (!names) limitNamesOf.set(limits, (names = Object.keys(limits)));
  return names;
}

/** The range a limit may be set to, worked out once per limit name. */
const boundsOf = new Map<string, readonly [number, number]>();
function limitBounds(key: string): readonly [number, number] {
  let bounds = boundsOf.get(key);
  if (bounds) return bounds;
  // 0 retained messages (or bytes): every non-empty RETAIN publish is throttled.
  const min = key === 'sessionExpirySeconds' || key === 'maxRetainedMessages' || key === 'maxRetainedBytes' || key === 'maxTopicAliases' || key === 'maxSessionExpiryIntervalSeconds' ? 0 : 1;
  // A limit in seconds becomes a timer: Node's timers take at most 2^31 - 1 ms (longer ones fire at once).
  const max = key.endsWith('Seconds') ? Math.floor((2 ** 31 - 1) / 1000) : key.endsWith('Minutes') ? Math.floor((2 ** 31 - 1) / 60_000) : 2 ** 31 - 1;
  boundsOf.set(key, (bounds = [min, max]));
  return bounds;
}

/**
 * A profile's frozen limits or reactions, copied to be overridden. The copy is spread from an unfrozen twin
 * made once per profile: V8 clones a frozen object of ~50 properties ten times slower than a plain one.
 */
const thawed = new WeakMap<object, object>();
function thawedCopy<T extends object>(frozen: T): T {
  let twin = thawed.get(frozen);
  if (!twin) thawed.set(frozen, (twin = { ...frozen }));
  return { ...(twin as T) };
}

/** Top-level option names, and those of them that set a reaction: looked up once per key given. */
const KNOWN_TOP_LEVEL: ReadonlySet<string> = new Set(TOP_LEVEL_KEYS);
const REACTION_KEYS: ReadonlySet<string> = new Set(Object.keys(REACTION_VALUES));

/** Validates user options and merges them over the chosen profile. Throws FakeIotError('INVALID_OPTION'). */
export function resolveOptions(options: FakeIotOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {};
  checkPlainObject(options, 'options');
  const o = options as Record<string, unknown>;
  // One look at each key given (every test starts an endpoint: this runs per test): an unknown one fails with
  // checkKnownKeys()'s "did you mean" message; whether any reaction is overridden decides below.
  let reactionKeys: (keyof Reactions)[] | undefined;
  for (const key of Object.keys(o)) {
    if (!KNOWN_TOP_LEVEL.has(key)) checkKnownKeys(o, TOP_LEVEL_KEYS, 'options.');
    if (REACTION_KEYS.has(key) && o[key] !== undefined) (reactionKeys ??= []).push(key as keyof Reactions);
  }

  const port = o.port === undefined ? 0 : checkInteger(o.port, 'options.port', 0, 65535, ' Use 0 (the default) for a free port.');

  let host = '127.0.0.1';
  if (o.host !== undefined) {
    if (typeof o.host !== 'string' || o.host.length === 0) fail(`options.host must be a non-empty string such as "127.0.0.1" (got ${show(o.host)}).`);
    host = o.host;
  }

  const profileName = o.profile ?? 'current';
  if (typeof profileName !== 'string' || !Object.hasOwn(profiles, profileName)) {
    fail(`options.profile must be one of ${Object.keys(profiles).map((p) => `"${p}"`).join(', ')} (got ${show(profileName)}).`);
  }
  const base = profiles[profileName as ProfileName];

  let seed: number;
  if (o.seed === undefined) seed = randomSeed();
  else if (isSeed(o.seed)) seed = o.seed;
  else fail(`options.seed must be an integer from 0 to 4294967295 (got ${show(o.seed)}). Use the seed a failing run printed to replay it.`);

  const trace = { enabled: true, maxEntries: DEFAULT_TRACE_MAX_ENTRIES, maxBytes: DEFAULT_TRACE_MAX_BYTES };
  if (o.trace === false) trace.enabled = false;
  else if (o.trace !== undefined && o.trace !== true) {
    checkPlainObject(o.trace, 'options.trace');
    checkKnownKeys(o.trace, ['maxEntries', 'maxBytes'], 'options.trace.');
    if (o.trace.maxBytes !== undefined) {
      trace.maxBytes = checkInteger(o.trace.maxBytes, 'options.trace.maxBytes', 0, Number.MAX_SAFE_INTEGER);
    }
    if (o.trace.maxEntries !== undefined) {
      trace.maxEntries = checkInteger(o.trace.maxEntries, 'options.trace.maxEntries', 1, 10_000_000, ' Use trace: false to turn the trace off.');
    }
  }

  // Without overrides the profile's own (frozen) limits, reactions and features serve as they are.
  let limits: Limits = base.limits;
  if (o.limits !== undefined) {
    limits = thawedCopy(base.limits);
    checkPlainObject(o.limits, 'options.limits');
    const given = o.limits;
    for (const key of Object.keys(given)) {
      if (!Object.hasOwn(base.limits, key)) checkKnownKeys(given, limitNames(base.limits), 'options.limits.');
      const value = given[key];
      if (value === undefined) continue;
      const [min, max] = limitBounds(key);
      limits[key as keyof Limits] = checkInteger(value, `options.limits.${key}`, min, max);
    }
    if (limits.minKeepAliveSeconds > limits.maxKeepAliveSeconds) {
      fail(`options.limits.minKeepAliveSeconds (${limits.minKeepAliveSeconds}) must not exceed options.limits.maxKeepAliveSeconds (${limits.maxKeepAliveSeconds}).`);
    }
    if (limits.maxInflightMessages > 65535) {
      fail(`options.limits.maxInflightMessages must be at most 65535, the number of MQTT packet ids (got ${limits.maxInflightMessages}).`);
    }
    if (limits.maxTopicAliases > 65535 || limits.receiveMaximum > 65535) {
      fail(`options.limits.maxTopicAliases and options.limits.receiveMaximum must be at most 65535, the largest MQTT 5 can carry (got ${limits.maxTopicAliases}, ${limits.receiveMaximum}).`);
    }
    if (limits.minMessageExpirySeconds > limits.maxMessageExpirySeconds) {
      fail(`options.limits.minMessageExpirySeconds (${limits.minMessageExpirySeconds}) must not exceed options.limits.maxMessageExpirySeconds (${limits.maxMessageExpirySeconds}).`);
    }
    if (limits.maxPacketBytes < 64) {
      fail(`options.limits.maxPacketBytes must be at least 64, room for a CONNECT's fields (got ${limits.maxPacketBytes}).`);
    }
    if (limits.customAuthMinTtlSeconds > limits.customAuthMaxTtlSeconds) {
      fail(`options.limits.customAuthMinTtlSeconds (${limits.customAuthMinTtlSeconds}) must not exceed options.limits.customAuthMaxTtlSeconds (${limits.customAuthMaxTtlSeconds}).`);
    }
    if (limits.maxKeepAliveSeconds > 65535) {
      fail(`options.limits.maxKeepAliveSeconds must be at most 65535, the largest keep-alive MQTT can carry (got ${limits.maxKeepAliveSeconds}).`);
    }
  }

  let reactions: Reactions = base.reactions;
  let features = base.features;
  if (reactionKeys) {
    reactions = thawedCopy(base.reactions);
    for (const key of reactionKeys) {
      const value = o[key];
      const allowed = REACTION_VALUES[key] as readonly unknown[];
      if (!allowed.includes(value)) {
        fail(`options.${key} must be one of ${allowed.map(show).join(', ')} (got ${show(value)}).`);
      }
      (reactions as unknown as Record<string, unknown>)[key] = value;
    }
    features = featuresOf(reactions, base.features.protocolVersions);
  }

  const chaos = o.chaos === undefined ? undefined : resolveChaos(o.chaos, 'options.chaos');
  const clock = o.clock ?? 'real';
  if (clock !== 'real' && clock !== 'virtual' && !isClock(clock)) {
    fail(`options.clock must be "real", "virtual" or a Clock object with now() and setTimeout(fn, ms) methods (got ${show(clock)}).`);
  }

  const websockets = resolveWebSockets(o.websockets);
  const credentials = o.credentials === undefined ? undefined : resolveCredentials(o.credentials);
  const shadows = resolveShadows(o.shadows);

  let accountId = DEFAULT_ACCOUNT_ID;
  if (o.accountId !== undefined) {
    if (typeof o.accountId !== 'string' || !/^\d{12}$/.test(o.accountId)) fail(`options.accountId must be an AWS account id: a string of 12 digits such as "123456789012" (got ${show(o.accountId)}).`);
    accountId = o.accountId;
  }
  let region = DEFAULT_REGION;
  if (o.region !== undefined) {
    if (typeof o.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(o.region)) fail(`options.region must be an AWS region name such as "us-east-1" or "eu-central-1" (got ${show(o.region)}).`);
    region = o.region;
  }
  const tls = resolveTls(o.tls, port);
  const http = resolveHttp(o.http);
  const policies = resolvePolicies(o.policies, limits.policyMaxChars);
  const authorizers = resolveAuthorizers(o.authorizers, o.defaultAuthorizer);

  return { port, host, seed, trace, profile: { name: base.name, features, limits, reactions, reserved: base.reserved }, chaos, clock: clock as ResolvedOptions['clock'], websockets, credentials, tls, http, accountId, region, shadows, policies, authorizers };
}

function resolvePolicies(value: unknown, maxChars: number): ResolvedOptions['policies'] {
  if (value === undefined) return [];
  checkPlainObject(value, 'options.policies');
  return Object.entries(value).map(([name, document]) => {
    if (!/^[\w+=,.@-]{1,128}$/.test(name)) fail(`options.policies: ${JSON.stringify(name)} is not a policy name AWS accepts (1-128 characters of letters, digits and _+=,.@-).`);
    try {
      parsePolicy(name, document, maxChars);
    } catch (error) {
      if (error instanceof PolicyError) fail(`options.policies[${JSON.stringify(name)}]: ${error.message}`);
      throw error;
    }
    return { name, document: document as PolicyDocument | string };
  });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function isPem(value: unknown): value is string | Buffer {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

/** The certificates of a PEM bundle, each checked to parse. */
function pemCertificates(value: unknown, name: string): string[] {
  if (!isPem(value)) fail(`${name} must be PEM text (a string or a Buffer) holding certificates (got ${show(value)}).`);
  const blocks = value.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) fail(`${name} holds no PEM certificate ("-----BEGIN CERTIFICATE-----").`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      fail(`${name} holds a certificate that cannot be read: ${(error as Error).message}.`);
    }
  }
  return blocks;
}

function resolveTls(value: unknown, plainPort: number): ResolvedTls | undefined {
  if (value === undefined || value === false) return undefined;
  const t: Record<string, unknown> = value === true ? {} : (checkPlainObject(value, 'options.tls'), value);
  checkKnownKeys(t, ['port', 'ca', 'cert', 'key', 'requireSni', 'alpn'], 'options.tls.');
  const port = t.port === undefined ? 0 : checkInteger(t.port, 'options.tls.port', 0, 65535, ' Use 0 (the default) for a free port.');
  if (port !== 0 && port === plainPort) fail(`options.tls.port (${port}) must differ from options.port: the plain and the TLS listener each need a port.`);

  const ca: (string | Buffer)[] = [];
  if (t.ca !== undefined) {
    const list = Array.isArray(t.ca) ? t.ca : [t.ca];
    list.forEach((item, i) => ca.push(...pemCertificates(item, Array.isArray(t.ca) ? `options.tls.ca[${i}]` : 'options.tls.ca')));
  }

  if ((t.cert === undefined) !== (t.key === undefined)) fail(`options.tls.cert and options.tls.key go together: give both (your server certificate and its key) or neither (the fixtures' server certificate).`);
  let cert: string | Buffer = readFixture('server.pem');
  let key: string | Buffer = readFixture('server.key');
  if (t.cert !== undefined) {
    const leaf = new X509Certificate(pemCertificates(t.cert, 'options.tls.cert')[0]!);
    const keyPem = t.key;
    if (!isPem(keyPem)) fail(`options.tls.key must be a PEM private key (a string or a Buffer) (got ${show(keyPem)}).`);
    let privateKey;
    try {
      privateKey = createPrivateKey(keyPem);
    } catch (error) {
      fail(`options.tls.key cannot be read as a private key: ${(error as Error).message}.`);
    }
    if (!leaf.checkPrivateKey(privateKey)) fail('options.tls.key is not the private key of options.tls.cert (the first certificate in it).');
    cert = t.cert as string | Buffer;
    key = keyPem;
  }

  let requireSni = false;
  if (t.requireSni !== undefined) {
    if (typeof t.requireSni !== 'boolean') fail(`options.tls.requireSni must be true or false (got ${show(t.requireSni)}).`);
    requireSni = t.requireSni;
  }

  let alpn = [...DEFAULT_ALPN];
  if (t.alpn !== undefined) {
    if (!Array.isArray(t.alpn) || !t.alpn.every((p) => typeof p === 'string' && p.length > 0 && Buffer.byteLength(p) <= 255)) {
      fail(`options.tls.alpn must be a list of ALPN protocol names (non-empty strings of up to 255 bytes) such as ["x-amzn-mqtt-ca"] (got ${show(t.alpn)}).`);
    }
    alpn = [...(t.alpn as string[])];
  }
  return { port, cert, key, ca, requireSni, alpn };
}


/** PEM text: a string or Buffer with a `-----BEGIN ...-----` header. */
function looksLikePem(value: unknown): value is string | Buffer {
  return isPem(value) && /-----BEGIN [A-Z0-9 ]+-----/.test(value.toString());
}

function resolveWebSockets(value: unknown): ResolvedWebSockets | undefined {
  if (value === undefined || value === false) return undefined;
  const ws: Record<string, unknown> = value === true ? {} : (checkPlainObject(value, 'options.websockets'), value);
  checkKnownKeys(ws, ['port', 'tls', 'path'], 'options.websockets.');
  const port = ws.port === undefined ? 0 : checkInteger(ws.port, 'options.websockets.port', 0, 65535, ' Leave it out (or use 0) for a free port.');
  let path = '/mqtt';
  if (ws.path !== undefined) {
    if (typeof ws.path !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(ws.path)) {
      fail(`options.websockets.path must be a URL path starting with "/", such as "/mqtt" (got ${show(ws.path)}).`);
    }
    path = ws.path;
  }
  let tls: ResolvedWebSockets['tls'];
  if (ws.tls === false) tls = undefined;
  // wss:// by default, with the server certificate of fixtures/ (the one the TLS port uses).
  else if (ws.tls === undefined || ws.tls === true) tls = { cert: readFixture('server.pem'), key: readFixture('server.key') };
  else {
    checkPlainObject(ws.tls, 'options.websockets.tls');
    checkKnownKeys(ws.tls, ['cert', 'key'], 'options.websockets.tls.');
    if (!looksLikePem(ws.tls.cert)) fail(`options.websockets.tls.cert must be a PEM certificate (string or Buffer with "-----BEGIN CERTIFICATE-----") (got ${typeof ws.tls.cert === 'string' ? 'a string without a PEM header' : show(ws.tls.cert)}).`);
    if (!looksLikePem(ws.tls.key)) fail(`options.websockets.tls.key must be a PEM private key (string or Buffer with "-----BEGIN ... PRIVATE KEY-----") (got ${typeof ws.tls.key === 'string' ? 'a string without a PEM header' : show(ws.tls.key)}).`);
    tls = { cert: ws.tls.cert, key: ws.tls.key };
  }
  return { port, path, tls };
}

function resolveShadows(value: unknown): ResolvedOptions['shadows'] {
  if (value === undefined) return [];
  checkPlainObject(value, 'options.shadows');
  return Object.entries(value).map(([key, document]) => {
    const m = /^([a-zA-Z0-9:_-]{1,128})(?:\/name\/([a-zA-Z0-9:_-]{1,64}))?$/.exec(key);
    if (!m) fail(`options.shadows: ${JSON.stringify(key)} must be a thing name ("dev-1") or a thing and a shadow name ("dev-1/name/cfg"): names of a-z A-Z 0-9 : _ -, things up to 128, shadows up to 64.`);
    checkPlainObject(document, `options.shadows[${JSON.stringify(key)}]`);
    return { thingName: m[1]!, shadowName: m[2], document };
  });
}

function resolveHttp(value: unknown): { port: number } | undefined {
  if (value === undefined || value === false) return undefined;
  const h: Record<string, unknown> = value === true ? {} : (checkPlainObject(value, 'options.http'), value);
  checkKnownKeys(h, ['port'], 'options.http.');
  return { port: h.port === undefined ? 0 : checkInteger(h.port, 'options.http.port', 0, 65535, ' Leave it out (or use 0) for a free port.') };
}

function resolveCredentials(value: unknown): AwsCredentials {
  checkPlainObject(value, 'options.credentials');
  // The AWS SDK writes `$source` into a credentials object it was given: the same object may come here after.
  checkKnownKeys(Object.fromEntries(Object.entries(value).filter(([k]) => k !== '$source')), ['accessKeyId', 'secretAccessKey', 'sessionToken'], 'options.credentials.');
  const { accessKeyId, secretAccessKey, sessionToken } = value;
  if (typeof accessKeyId !== 'string' || !/^[A-Za-z0-9]{1,128}$/.test(accessKeyId)) {
    fail(`options.credentials.accessKeyId must be an access key id: letters and digits, such as "AKIAIOSFODNN7EXAMPLE" (got ${show(accessKeyId)}).`);
  }
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length === 0) {
    fail(`options.credentials.secretAccessKey must be a non-empty string (got ${secretAccessKey === undefined ? 'nothing' : typeof secretAccessKey}).`);
  }
  if (sessionToken !== undefined && (typeof sessionToken !== 'string' || sessionToken.length === 0)) {
    fail(`options.credentials.sessionToken must be a non-empty string when given (got ${typeof sessionToken}).`);
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken: sessionToken as string }) };
}

function isClock(value: unknown): value is Clock {
  const c = value as Partial<Clock> | null;
  return typeof c === 'object' && c !== null && typeof c.now === 'function' && typeof c.setTimeout === 'function';
}
