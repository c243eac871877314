import type { Profile } from './aws/profile';
import { Broker, type RuleMessage } from './broker/broker';
import type { RetainedMessage, RetainedSummary } from './broker/retained';
import type { ByteStream } from './broker/connection';
import { Dispatcher } from './broker/dispatcher';
import { propertiesBytes } from './broker/mqtt5';
import type { Message, MessageProperties } from './session/session';
import { isUtf8 } from 'node:buffer';
import { parseShadowTopic } from './services/shadow';
import { type JobsControl, jobsControl } from './services/jobs-control';
import { ChaosEngine } from './chaos/engine';
import { streamFor } from './chaos/prng';
import { resolveChaos } from './chaos/options';
import type { ChaosDecision, ChaosOptions, ScriptStep } from './chaos/types';
import { type Clock, type TimerHandle, createRealClock, guarded, realClock, warnError } from './clock/clock';
import { VirtualClock } from './clock/virtual';
import { asyncDispose } from './dispose';
import { FakeIotError } from './errors';
import { Authorization } from './auth/authorization';
import { Authorizers, CUSTOM_AUTH_ALPN, type CustomAuthTransport } from './auth/authorizers';
import type { PolicyDocument } from './auth/policy';
import { type FakeIotOptions, resolveOptions } from './options';
import { DEFAULT_WAIT_TIMEOUT_MS, type Trace, TraceRecorder, seedHint } from './trace/recorder';

/** How often settled() looks again, in real milliseconds. */
const SETTLE_POLL_MS = 2;
import type { SigV4Verifier } from './transport/sigv4';
import { type Listener, listenTcp } from './transport/tcp';
import type { DataPlaneAnswer, DataPlaneRequest, HttpListener } from './transport/http';
import type { WebSocketListener } from './transport/websocket';

/**
 * The WebSocket listener (`ws`), the data plane and SigV4 are loaded when an endpoint asks for them, not by
 * every importer of the library (they cost ~15 ms at import; most tests use plain TCP).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const lazy = {
  sigv4: () => require('./transport/sigv4') as typeof import('./transport/sigv4'),
  websocket: () => require('./transport/websocket') as typeof import('./transport/websocket'),
  tls: () => require('./transport/tls') as typeof import('./transport/tls'),
  http: () => require('./transport/http') as typeof import('./transport/http'),
  dataPlane: () => require('./services/data-plane') as typeof import('./services/data-plane'),
  jobsDataPlane: () => require('./services/jobs-data-plane') as typeof import('./services/jobs-data-plane'),
};
/* eslint-enable @typescript-eslint/no-require-imports */
import { fixturePath } from './identity/fixtures';
import type { Registry } from './identity/registry';
import type { CertificateCredentials, CertificateStatus, ClientInfo, CreateThingOptions, ThingCredentials, TlsEndpoint } from './identity/types';
import type { ConnectionIdentity } from './trace/entry';
import { announceEndpoint } from './trace/watch';

/**
 * The registry issues certificates with @peculiar/x509 (~50 ms to load): loaded the first time an endpoint
 * needs it (TLS on, or createThing() called), not by every importer of the library.
 */
function loadRegistry(): typeof import('./identity/registry') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./identity/registry') as typeof import('./identity/registry');
}

export interface PublishOptions {
  /** 0 (default) or 1. AWS IoT has no QoS 2. */
  qos?: 0 | 1;
  /**
   * Retain the message as the topic's retained message (an empty payload deletes it), as a RETAIN publish
   * from a client would: only where the profile stores retained messages (`retain: 'store'`, profile `current`).
   */
  retain?: boolean;
  /**
   * MQTT 5 properties the message carries to MQTT 5 subscribers (MQTT 3.1.1 subscribers get it without them),
   * as a rule or a Lambda publishing with them would. `messageExpiryInterval` (seconds) is clamped like a
   * client's (limits.minMessageExpirySeconds..maxMessageExpirySeconds) and makes the message expire for every
   * subscriber; `payloadFormatIndicator: true` requires a UTF-8 payload.
   */
  properties?: CloudPublishProperties;
}

/** The MQTT 5 properties `iot.publish()` may give a message. */
export interface CloudPublishProperties {
  userProperties?: Record<string, string | string[]>;
  contentType?: string;
  responseTopic?: string;
  correlationData?: string | Buffer;
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
}

/** The endpoint's retained messages (profile `current`): what AWS's GetRetainedMessage and ListRetainedMessages show. */
export interface FakeIotRetained {
  /** The topic's retained message, or undefined. */
  get(topic: string): RetainedMessage | undefined;
  /** Every retained message's summary (`topic`, `payloadSize`, `qos`, `lastModifiedTime`), sorted by topic. */
  list(): RetainedSummary[];
}

/** Which shadow of a thing: the classic one (no name) or a named one. */
export interface ShadowOptions {
  shadowName?: string;
}

/** The Device Shadow service, from the cloud side (what GetThingShadow / UpdateThingShadow / DeleteThingShadow do). */
export interface ShadowControl {
  /** The shadow's document as `/get/accepted` carries it, or undefined when it does not exist. */
  get(thingName: string, options?: ShadowOptions): object | undefined;
  /**
   * Updates a shadow as the cloud side does (`{ state: { desired } }`, typically): `/update/accepted`,
   * `/update/delta` and `/update/documents` go to their subscribers. Returns the accepted document; a refused
   * update throws FakeIotError `SHADOW_REJECTED` with AWS's `status` (400, 409, 413, ...) and message.
   */
  update(thingName: string, document: object, options?: ShadowOptions): object;
  /** Deletes a shadow (`/delete/accepted` goes out); returns `{ version, timestamp }`; 404 as SHADOW_REJECTED when there is none. */
  delete(thingName: string, options?: ShadowOptions): object;
  /** The shadows that exist, of one thing or of all. */
  list(thingName?: string): { thingName: string; shadowName: string | undefined }[];
}

export interface SettledOptions {
  /** How long to wait, in real milliseconds. Default 3000. */
  timeoutMs?: number;
  /** Gives the wait up early: once it aborts, settled() rejects with the signal's reason and stops looking. */
  signal?: AbortSignal;
}

export interface DisconnectOptions {
  /** Also discard the client's persistent session (like DeleteConnection's `cleanSession=true`). Default false. */
  cleanSession?: boolean;
  /** Do not publish the client's will (like DeleteConnection's `preventWillMessage=true`). Default false. */
  preventWillMessage?: boolean;
}

/** Chaos while the endpoint runs. */
export interface ChaosControl {
  /** Replaces every knob and the script (validated like `options.chaos`); `set({})` turns every fault off. */
  set(options: ChaosOptions): void;
  /** No faults until resume(); events are still counted, so script positions stay put. */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** The decisions taken so far, in order: the most recent 10,000 (see `droppedDecisions`). */
  log(): ChaosDecision[];
  /** How many older decisions the log let go to stay bounded (0 in most tests; toScript() is exact while 0). */
  readonly droppedDecisions: number;
  /** The log as a script: `startFakeIot({ chaos: { script } })` forces the same faults at the same places. */
  toScript(): ScriptStep[];
}

/** The endpoint's clock. */
export interface FakeIotClock {
  /** `'custom'` when `options.clock` was a Clock object. */
  readonly mode: 'real' | 'virtual' | 'custom';
  /** The endpoint's "now" in ms since the epoch. */
  now(): number;
  /** Virtual clock only: moves time forward, running every timer that falls due, in order. */
  advance(ms: number): void;
}

/** The endpoint's WebSocket listener (`options.websockets`). */
export interface FakeIotWebSockets {
  readonly port: number;
  /** `wss://localhost:<port>/mqtt` (or `ws://<host>:<port>/mqtt` with `tls: false`), to presign for MQTT.js. */
  readonly url: string;
}

/** The endpoint's data-plane REST API (`options.http`). */
export interface FakeIotHttp {
  readonly port: number;
  /** `https://localhost:<port>` (with `tls`) or `http://<host>:<port>`: the AWS SDK's `endpoint`. */
  readonly url: string;
}

/** A running fake AWS IoT endpoint. */
export interface FakeIot extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** `mqtt://host:port`, ready for MQTT.js's `connect()`. */
  readonly url: string;
  /** MQTT over WebSocket, when started with `websockets`; undefined otherwise. */
  readonly ws: FakeIotWebSockets | undefined;
  /** The data-plane REST API (Publish, shadows) for `@aws-sdk/client-iot-data-plane`, when started with `http`. */
  readonly http: FakeIotHttp | undefined;
  /** The seed in force (the one given, or the random one picked). Print it to replay a run. */
  readonly seed: number;
  /** The profile in force, with every override applied. */
  readonly profile: Readonly<Profile>;
  /** Every packet in and out, and the events around them. */
  readonly trace: Trace;
  /** Chaos knobs, pause/resume, and the decision log. */
  readonly chaos: ChaosControl;
  /** The endpoint's clock (`advance()` with `clock: 'virtual'`). */
  readonly clock: FakeIotClock;
  /** The Device Shadow service's state, and updates from the cloud side. */
  readonly shadows: ShadowControl;
  /** AWS IoT Jobs from the cloud side: create and cancel jobs, delete executions, read their state. */
  readonly jobs: JobsControl;
  /**
   * Retained messages: `get(topic)` and `list()`. Empty (and nothing is ever stored) unless the profile stores
   * retained messages (`retain: 'store'`, profile `current`).
   */
  readonly retained: FakeIotRetained;
  /** Publishes as the cloud side (a rule, a Lambda, the console): delivered to matching subscriptions. */
  publish(topic: string, payload: string | Buffer | Uint8Array, options?: PublishOptions): void;
  /**
   * Closes a client's connection from the server, like AWS's DeleteConnection API (lifecycle reason
   * `API_INITIATED_DISCONNECT`). Returns false when the client was neither connected nor had a session.
   */
  disconnect(clientId: string, options?: DisconnectOptions): boolean;
  /**
   * The connected clients, with their subscriptions and who their transport says they are (`transport`, and
   * on TLS `principal`, `thingName`, `sni`, `alpn`).
   */
  clients(): ClientInfo[];
  /**
   * The TLS listener (MQTT over TLS with client certificates), when the endpoint was started with `tls`:
   * `{ port, url: 'mqtts://localhost:<port>', caCertificate, caPath }`. Undefined otherwise.
   */
  readonly tls: TlsEndpoint | undefined;
  /**
   * Registers a thing and issues a device certificate for it, signed by the endpoint's CA (the fixture CA)
   * and attached to it: connections with it carry the certificate id as `principal` and the thing's name as
   * `thingName`. The certificate and key are also written to a temporary directory that `close()` removes.
   * Throws INVALID_ARGUMENT for a name AWS would refuse (1-128 of `a-zA-Z0-9:_-`) or one already taken.
   *
   * @example
   *   const dev = iot.createThing('dev-1');
   *   mqtt.connect(iot.tls!.url, { clientId: 'dev-1', cert: dev.certificatePem, key: dev.privateKey, ca: dev.caCertificate });
   */
  createThing(thingName: string, options?: CreateThingOptions): ThingCredentials;
  /** Issues a device certificate attached to no thing (AWS lets it connect all the same). */
  createCertificate(): CertificateCredentials;
  /**
   * Sets a certificate's status, like AWS's UpdateCertificate: the next TLS handshake or CONNECT with an
   * INACTIVE or REVOKED certificate is refused (connection closed, `transport-error` in the trace); open
   * connections stay. REVOKED is final. Throws INVALID_ARGUMENT for an unknown id or status.
   */
  setCertificateStatus(certificateId: string, status: CertificateStatus): void;
  /**
   * Creates or replaces an IoT policy (AWS's JSON document, an object or JSON text; at most 2048 characters
   * without whitespace). From the first policy on, every CONNECT, PUBLISH, SUBSCRIBE and delivery is checked,
   * and what no statement allows is denied; a changed policy applies to open connections at once (their
   * subscriptions stop receiving what it no longer allows). Throws INVALID_POLICY saying what is wrong.
   */
  setPolicy(name: string, document: PolicyDocument | string): void;
  /** Deletes a policy and detaches it from everyone; false when there was none of that name. */
  deletePolicy(name: string): boolean;
  /**
   * Attaches a policy to a principal: a certificate id (`createThing()`/`createCertificate()`'s `certificateId`),
   * an access key id (SigV4 WebSocket connections), or `'*'` for every connection, plain TCP ones included.
   * Throws POLICY_NOT_FOUND for an unknown policy, LIMIT_EXCEEDED past AWS's 10 policies per principal.
   */
  attachPolicy(name: string, principal: string): void;
  /** Detaches a policy from a principal; false when it was not attached. */
  detachPolicy(name: string, principal: string): boolean;
  /**
   * Listens for messages published to an AWS IoT rule by basic ingest (`$aws/rules/<ruleName>/...`), which go
   * to the rule and never to subscribers. `'*'` listens to every rule. Returns the function that stops it.
   * A listener that throws is recorded (`internal-error`) and makes `close()` reject with `CALLBACK_FAILED`.
   */
  onRule(ruleName: string, listener: (message: RuleMessage) => void): () => void;
  /**
   * Resolves once the endpoint has nothing left to deliver: no packet held back or delayed by chaos, no
   * chaos re-send still to come, no subscription waiting to start, no QoS 1 message unacknowledged or
   * queued for a connected client, no bytes waiting in a socket. With `clock: 'virtual'` only what is due
   * now counts: timers in the virtual future wait for `iot.clock.advance()`. Rejects with code
   * `SETTLE_TIMEOUT` (saying what is still pending, with the end of the trace) after `timeoutMs`.
   */
  settled(options?: SettledOptions): Promise<void>;
  /** Closes every connection and the listener, and cancels every timer. Safe to call more than once. */
  close(): Promise<void>;
}

/** A clock of the user's whose timer callbacks report what they throw instead of throwing into that clock. */
function guardedClock(clock: Clock, onError: (error: unknown) => void): Clock {
  return { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(guarded(fn, onError), ms) };
}

/**
 * Starts a fake AWS IoT Core MQTT endpoint on loopback.
 *
 * @example
 *   await using iot = await startFakeIot();
 *   const client = mqtt.connect(iot.url, { clientId: 'dev-1' });
 */
export async function startFakeIot(options?: FakeIotOptions): Promise<FakeIot> {
  const resolved = resolveOptions(options);
  // A timer callback that throws ends in the trace (internal-error), never in the host or the clock's caller.
  const onError = (error: unknown) => trace.internalError('timer', error);
  const virtual = resolved.clock === 'virtual' ? new VirtualClock(realClock.now(), { onError }) : undefined;
  const custom = typeof resolved.clock === 'object' ? resolved.clock : undefined;
  const clock: Clock = virtual ?? (custom ? guardedClock(custom, onError) : createRealClock({ onError }));
  // Trace entries carry the endpoint's time; waitFor() timeouts always run in real time.
  const trace = new TraceRecorder(resolved.trace.enabled, resolved.trace.maxEntries, clock, realClock, resolved.seed, resolved.trace.maxBytes);
  const broker = new Broker(resolved.profile, clock, trace, resolved.seed);
  if (resolved.chaos) broker.chaos = new ChaosEngine(resolved.chaos, resolved.seed);
  for (const { thingName, shadowName, document } of resolved.shadows) {
    const request = parseShadowTopic(`$aws/things/${thingName}/shadow${shadowName === undefined ? '' : `/name/${shadowName}`}/update`)!;
    const [answer] = broker.shadows.request(request, Buffer.from(JSON.stringify(document)), clock.now());
    if (answer!.topic.endsWith('/rejected')) {
      const { code, message } = answer!.document as { code: number; message: string };
      throw new FakeIotError('INVALID_OPTION', `options.shadows[${JSON.stringify(`${thingName}${shadowName === undefined ? '' : `/name/${shadowName}`}`)}]: the Device Shadow service refuses it: ${code} ${message}.`);
    }
  }
  let registry: Registry | undefined;
  /** The endpoint's IoT policies, made with the first policy: until then nothing is checked. */
  const authorization = (): Authorization => {
    if (broker.authz) return broker.authz;
    const authz = new Authorization(resolved.region, resolved.accountId, resolved.profile.limits);
    authz.attachedThing = (certificateId, thingName) => registry?.attachedThing(certificateId, thingName);
    return (broker.authz = authz);
  };
  for (const { name, document } of resolved.policies) authorization().setPolicy(name, document, `options.policies[${JSON.stringify(name)}]`);
  if (resolved.authorizers) {
    broker.authorizers = new Authorizers(resolved.authorizers, resolved.seed, resolved.profile.limits);
    authorization(); // what an authorizer's policies allow is checked even without policies of the endpoint's own
  }
  const connections = new Set<Dispatcher>();
  let nextConnectionId = 1;
  let closing: Promise<void> | undefined;

  /** On the plain port an authorizer runs only when the MQTT user name names one (AWS has no plain port). */
  const plainCustomAuth: CustomAuthTransport | undefined = resolved.authorizers ? { via: 'tcp', required: false, tls: false } : undefined;
  const onSocket = (socket: ByteStream, identity?: ConnectionIdentity, customAuth = identity === undefined ? plainCustomAuth : undefined) => {
    if (closing) {
      socket.destroy();
      return;
    }
    connections.add(new Dispatcher(nextConnectionId++, socket, broker, (c) => connections.delete(c), identity, customAuth ? { customAuth } : {}));
  };
  const listener = await listenTcp(resolved.host, resolved.port, onSocket);
  const verifier: SigV4Verifier | undefined = resolved.websockets || resolved.http ? new (lazy.sigv4().SigV4Verifier)(resolved.credentials, () => clock.now(), resolved.profile.limits.sigv4ClockSkewSeconds) : undefined;
  const host = resolved.host;
  const port = listener.port;
  let wsListener: WebSocketListener | undefined;
  if (resolved.websockets) {
    const { limits } = resolved.profile;
    try {
      wsListener = await lazy.websocket().listenWebSocket({
        host,
        port: resolved.websockets.port,
        path: resolved.websockets.path,
        tls: resolved.websockets.tls,
        // Room for the largest packet the codec accepts, so that its own limit (a violation in the trace) acts first.
        maxMessageBytes: 2 * (limits.maxPayloadBytes + limits.maxTopicBytes) + 65536,
        requestTimeoutMs: limits.connectTimeoutSeconds * 1000,
        verifier: verifier!, // made above whenever websockets or http is on
        accountId: resolved.accountId,
        ...(resolved.authorizers ? { customAuth: { required: resolved.credentials !== undefined } } : {}),
        accept: (stream, identity, customAuth) => onSocket(stream, identity, customAuth),
        refused: (refusal) => {
          if (trace.active) trace.record({ kind: 'event', event: 'transport-error', ...refusal });
        },
      });
    } catch (error) {
      await listener.close();
      throw error;
    }
  }
  const wsHost = wsListener?.transport === 'wss' && (host === '127.0.0.1' || host === '::1' || host === '0.0.0.0' || host === '::') ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const ws = wsListener ? { port: wsListener.port, url: `${wsListener.transport}://${wsHost}:${wsListener.port}${resolved.websockets!.path}` } : undefined;

  const things = (): Registry => (registry ??= new (loadRegistry().Registry)({ accountId: resolved.accountId, region: resolved.region }));
  let tlsListener: Listener | undefined;
  let tlsEndpoint: TlsEndpoint | undefined;
  if (resolved.tls) {
    const t = resolved.tls;
    const certificates = things();
    try {
      tlsListener = await lazy.tls().listenTls(
        {
          host, port: t.port, cert: t.cert, key: t.key, ca: [certificates.ca.certificatePem, ...t.ca], requireSni: t.requireSni, alpn: t.alpn,
          handshakeTimeoutMs: resolved.profile.limits.connectTimeoutSeconds * 1000, plainPort: port,
          ...(resolved.authorizers ? { customAuthAlpn: CUSTOM_AUTH_ALPN } : {}),
        },
        {
          secure(socket, facts) {
            if (!facts.certificate) {
              // ALPN mqtt: custom authentication; the authorizer decides at CONNECT (aws-iot-behaviour.md §7).
              const identity: ConnectionIdentity = { transport: 'tls', ...(facts.sni !== undefined ? { sni: facts.sni } : {}), ...(facts.alpn !== undefined ? { alpn: facts.alpn } : {}) };
              const customAuth: CustomAuthTransport = { via: 'tls', required: true, tls: true, ...(facts.sni !== undefined ? { serverName: facts.sni } : {}) };
              connections.add(new Dispatcher(nextConnectionId++, socket, broker, (c) => connections.delete(c), identity, { customAuth }));
              return undefined;
            }
            const known = certificates.identify(facts.certificate);
            const principal = known.certificateId;
            if (known.status !== 'ACTIVE') return { ...notActive(known.status), principal };
            const identity: ConnectionIdentity = {
              transport: 'tls', principal,
              ...(known.thingName !== undefined ? { thingName: known.thingName } : {}),
              ...(facts.sni !== undefined ? { sni: facts.sni } : {}),
              ...(facts.alpn !== undefined ? { alpn: facts.alpn } : {}),
            };
            const connectionId = nextConnectionId++;
            // AWS checks the certificate again at CONNECT: one deactivated since the handshake is refused then.
            const refuseConnect = () => {
              const status = certificates.status(principal) ?? 'ACTIVE';
              if (status === 'ACTIVE') return false;
              if (trace.active) {
                trace.record({
                  kind: 'event', event: 'transport-error', transport: 'tls', connectionId, ...notActive(status), principal,
                  remoteAddress: facts.remoteAddress, ...(facts.remotePort !== undefined ? { remotePort: facts.remotePort } : {}), localPort: socket.localPort ?? 0,
                });
              }
              return true;
            };
            const certificate = facts.certificate;
            connections.add(new Dispatcher(connectionId, socket, broker, (c) => connections.delete(c), identity, { refuseConnect, certificate }));
            return undefined;
          },
          refused(refusal) {
            if (trace.active) trace.record({ kind: 'event', event: 'transport-error', transport: 'tls', ...refusal });
          },
          failed: (error) => trace.internalError('connection', error),
        },
      );
    } catch (error) {
      await Promise.all([listener.close(), wsListener?.close()]);
      throw error;
    }
    const caCertificate = certificates.ca.certificatePem;
    tlsEndpoint = Object.freeze({ port: tlsListener.port, url: `mqtts://localhost:${tlsListener.port}`, caCertificate, caPath: fixturePath('ca.pem') });
  }

  let httpListener: HttpListener | undefined;
  if (resolved.http) {
    // The data plane's request ids come from the seed, like every other id the endpoint makes.
    const requestIds = streamFor(resolved.seed, 'http-request-ids');
    try {
      httpListener = await lazy.http().listenHttp({
        host,
        port: resolved.http.port,
        // HTTPS with the TLS port's server certificate when TLS is on (AWS serves the data plane on 443/8443).
        tls: resolved.tls ? { cert: resolved.tls.cert, key: resolved.tls.key } : undefined,
        maxBodyBytes: resolved.profile.limits.maxPayloadBytes,
        requestTimeoutMs: resolved.profile.limits.connectTimeoutSeconds * 1000,
        verifier: verifier!,
        // The jobs data plane (`/things/{thing}/jobs...`) is signed for its own service name.
        service: (rawPath) => (lazy.jobsDataPlane().isJobsDataPath(rawPath) ? lazy.jobsDataPlane().SIGV4_JOBS_DATA_SERVICE : undefined),
        requestId: () => requestIds.uuid(),
        handle: withJobs(lazy.jobsDataPlane().jobsDataPlane(broker.jobs), lazy.dataPlane().dataPlane({
          now: () => clock.now(),
          retain: resolved.profile.reactions.retain,
          checkTopic: (topic) => broker.checkTopic(topic),
          reservedPublishAllowed: (topic) => broker.reservedPublishAllowed(topic),
          publish: (topic, payload, qos, retain) => (cloudPublish(topic, payload, qos, retain) === 'ok' ? 'ok' : 'throttled'),
          shadowRequest: (request, payload) => broker.shadowRequest(request, payload),
          publishShadowResponses: (responses) => broker.publishShadowResponses(responses),
          listShadows: () => broker.shadows.list(),
          admitShadowRequest: (thingName) => broker.admitShadowRequest(thingName),
          retained: (topic) => {
            const m = broker.retained?.get(topic, clock.now());
            return m && { topic: m.topic, payload: m.payload, qos: m.qos, lastModifiedTime: m.lastModifiedTime, ...(m.properties?.userProperties ? { userProperties: m.properties.userProperties } : {}) };
          },
          retainedList: () => [...(broker.retained?.list(clock.now()) ?? [])].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)),
        })),
        refused: (refusal) => {
          if (trace.active) trace.record({ kind: 'event', event: 'transport-error', ...refusal });
        },
        failed: (error) => trace.internalError('connection', error),
      });
    } catch (error) {
      await Promise.all([listener.close(), wsListener?.close(), tlsListener?.close()]);
      throw error;
    }
  }
  const httpHost = httpListener?.transport === 'https' && (host === '127.0.0.1' || host === '::1' || host === '0.0.0.0' || host === '::') ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const http = httpListener ? Object.freeze({ port: httpListener.port, url: `${httpListener.transport}://${httpHost}:${httpListener.port}` }) : undefined;

  /** A message from the cloud side (iot.publish, the data plane's Publish); `retain` stores it too (checked by the caller). */
  const cloudPublish = (topic: string, payload: Buffer, qos: 0 | 1, retain: boolean, extra: Pick<Message, 'properties' | 'propertyBytes' | 'expiresAt'> = {}): 'ok' | 'maxRetainedMessages' | 'maxRetainedBytes' => {
    if (retain && broker.retained) {
      const outcome = broker.retain({ topic, payload, qos, ...extra }, 'api');
      if (outcome.action === 'throttled') return outcome.limit; // AWS throttles it: nothing stored or delivered
    }
    broker.publishFromBroker('api', topic, payload, qos, undefined, extra);
    return 'ok';
  };

  /** iot.publish()'s MQTT 5 properties, checked, as the broker's message carries them. */
  const cloudProperties = (topic: string, payload: Buffer, p: CloudPublishProperties): Pick<Message, 'properties' | 'propertyBytes' | 'expiresAt'> => {
    const bad = (what: string) => new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}, payload, { properties }): ${what}.`);
    if (typeof p !== 'object' || p === null) throw bad(`properties must be an object such as { userProperties: { source: 'rule' } } (got ${String(p)})`);
    const known = ['userProperties', 'contentType', 'responseTopic', 'correlationData', 'payloadFormatIndicator', 'messageExpiryInterval'];
    for (const key of Object.keys(p)) if (!known.includes(key)) throw bad(`unknown property ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    const properties: MessageProperties = {};
    if (p.userProperties !== undefined) {
      const ok = typeof p.userProperties === 'object' && p.userProperties !== null && Object.values(p.userProperties).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')));
      if (!ok) throw bad('userProperties must map names to strings (or arrays of strings)');
      properties.userProperties = p.userProperties;
    }
    if (p.contentType !== undefined) {
      if (typeof p.contentType !== 'string') throw bad('contentType must be a string');
      properties.contentType = p.contentType;
    }
    if (p.responseTopic !== undefined) {
      const problem = typeof p.responseTopic === 'string' ? broker.checkTopic(p.responseTopic) : { message: 'not a string' };
      if (problem) throw bad(`responseTopic must be a topic name without wildcards: ${problem.message}`);
      properties.responseTopic = p.responseTopic;
    }
    if (p.correlationData !== undefined) {
      if (typeof p.correlationData !== 'string' && !Buffer.isBuffer(p.correlationData)) throw bad('correlationData must be a string or a Buffer');
      properties.correlationData = Buffer.from(p.correlationData);
    }
    if (p.payloadFormatIndicator !== undefined) {
      if (typeof p.payloadFormatIndicator !== 'boolean') throw bad('payloadFormatIndicator must be true (UTF-8) or false');
      if (p.payloadFormatIndicator && !isUtf8(payload)) throw bad('payloadFormatIndicator is true but the payload is not UTF-8');
      properties.payloadFormatIndicator = p.payloadFormatIndicator;
    }
    const extra: Pick<Message, 'properties' | 'propertyBytes' | 'expiresAt'> = {};
    if (Object.keys(properties).length > 0) {
      extra.properties = properties;
      extra.propertyBytes = propertiesBytes(properties);
    }
    if (p.messageExpiryInterval !== undefined) {
      const interval = p.messageExpiryInterval;
      if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 0) throw bad(`messageExpiryInterval must be a whole number of seconds >= 0 (got ${String(interval)})`);
      // Clamped like a client's (aws-iot-behaviour.md §1.11).
      const { minMessageExpirySeconds: min, maxMessageExpirySeconds: max } = resolved.profile.limits;
      extra.expiresAt = clock.now() + Math.min(Math.max(interval, min), max) * 1000;
    }
    return extra;
  };

  /** A shadow request from the cloud side: answered like an HTTP one (errors thrown, not published). */
  const cloudShadowRequest = (operation: 'update' | 'delete', thingName: string, opts: ShadowOptions, payload: Buffer): object => {
    const what = `shadows.${operation}(${JSON.stringify(thingName)}${opts.shadowName === undefined ? '' : `, { shadowName: ${JSON.stringify(opts.shadowName)} }`})`;
    const request = typeof thingName === 'string' ? parseShadowTopic(`$aws/things/${thingName}/shadow${opts.shadowName === undefined ? '' : `/name/${opts.shadowName}`}/${operation}`) : undefined;
    if (!request) throw new FakeIotError('INVALID_ARGUMENT', `${what}: thing names are 1-128 characters of a-z A-Z 0-9 : _ -, shadow names 1-64 of them.`);
    const responses = broker.shadowRequest(request, payload);
    const rejected = responses.find((r) => r.topic.endsWith('/rejected'));
    if (rejected) {
      const { code, message } = rejected.document as { code: number; message: string };
      throw Object.assign(new FakeIotError('SHADOW_REJECTED', `${what}: ${code} ${message}`), { status: code });
    }
    broker.publishShadowResponses(responses);
    return responses[0]!.document;
  };

  const assertOpen = (what: string) => {
    if (closing) throw new FakeIotError('ENDPOINT_CLOSED', `${what} was called after close(). Start a new endpoint with startFakeIot().`);
  };

  const close = (): Promise<void> => {
    if (!closing) {
      broker.close(); // first: closing connections must not publish wills or lifecycle events any more
      const tlsClosed = tlsListener?.close(); // first too: no handshake finishing now hands a socket over
      for (const c of [...connections]) c.destroy();
      virtual?.clear();
      trace.close('the endpoint was closed');
      try {
        registry?.close(); // removes the files createThing() wrote
      } catch (error) {
        warnError(error);
      }
      closing = Promise.all([listener.close(), wsListener?.close(), tlsClosed, httpListener?.close()]).then(() => {
        const failures = trace.callbackFailures;
        if (failures.length === 0) return;
        const first = failures[0] as Error | undefined;
        throw new FakeIotError(
          'CALLBACK_FAILED',
          `${failures.length} callback(s) given to this endpoint threw (the first: ${first?.message ?? String(first)}); see the trace's internal-error entries.`,
          { cause: first },
        );
      });
    }
    return closing;
  };

  announceEndpoint({ trace, seed: resolved.seed, closed: () => closing !== undefined });
  return {
    host,
    port,
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ws,
    http,
    seed: resolved.seed,
    profile: resolved.profile,
    trace,
    publish(topic, payload, opts = {}) {
      assertOpen('publish()');
      if (typeof topic !== 'string') throw new FakeIotError('INVALID_ARGUMENT', `publish(topic): topic must be a string (got ${typeof topic}).`);
      const problem = broker.checkTopic(topic);
      if (problem) throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}): ${problem.message} (${problem.rule}).`);
      if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
        throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}, payload): payload must be a string, Buffer or Uint8Array (got ${payload === null ? 'null' : typeof payload}); use JSON.stringify() for objects.`);
      }
      const qos = opts.qos ?? 0;
      if (qos !== 0 && qos !== 1) throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}): options.qos must be 0 or 1; AWS IoT has no QoS 2 (got ${String(qos)}).`);
      const buf = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
      if (buf.length > resolved.profile.limits.maxPayloadBytes) {
        throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}): payload is ${buf.length} bytes; the limit (limits.maxPayloadBytes) is ${resolved.profile.limits.maxPayloadBytes}.`);
      }
      const retain = opts.retain ?? false;
      if (typeof retain !== 'boolean') throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}): options.retain must be true or false (got ${String(retain)}).`);
      if (retain) {
        if (!broker.retained) throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}, payload, { retain: true }): this endpoint does not store retained messages (profile "${resolved.profile.name}", retain: "${resolved.profile.reactions.retain}"); start it with profile: 'current' (or retain: 'store').`);
        if (topic.startsWith('$')) throw new FakeIotError('INVALID_ARGUMENT', `publish(${JSON.stringify(topic)}, payload, { retain: true }): AWS IoT does not allow retained messages on reserved ($) topics.`);
      }
      const extra = opts.properties === undefined ? {} : cloudProperties(topic, buf, opts.properties);
      const outcome = cloudPublish(topic, buf, qos, retain, extra);
      if (outcome !== 'ok') {
        const { limits } = resolved.profile;
        throw new FakeIotError('THROTTLED', `publish(${JSON.stringify(topic)}, payload, { retain: true }): the retained-message store is full (limits.${outcome}: ${limits[outcome]}); AWS throttles non-empty RETAIN publishes until messages are deleted. Nothing was stored or delivered.`);
      }
    },
    retained: {
      get(topic) {
        if (typeof topic !== 'string') throw new FakeIotError('INVALID_ARGUMENT', `retained.get(topic): topic must be a string (got ${typeof topic}).`);
        const m = broker.retained?.get(topic, clock.now());
        return m && { topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos, lastModifiedTime: m.lastModifiedTime };
      },
      list: () => broker.retained?.list(clock.now()) ?? [],
    },
    disconnect(clientId, opts = {}) {
      assertOpen('disconnect()');
      if (typeof clientId !== 'string' || clientId.length === 0) throw new FakeIotError('INVALID_ARGUMENT', `disconnect(clientId): clientId must be a non-empty string (got ${JSON.stringify(clientId)}).`);
      // AWS's DeleteConnection refuses client ids that start with `$`.
      if (clientId.startsWith('$')) throw new FakeIotError('INVALID_ARGUMENT', `disconnect(${JSON.stringify(clientId)}): client ids starting with "$" cannot be disconnected (AWS's DeleteConnection refuses them).`);
      return broker.disconnectClient(clientId, opts);
    },
    chaos: {
      set(options) {
        const config = resolveChaos(options, 'iot.chaos.set(options)');
        if (broker.chaos) broker.chaos.set(config);
        else broker.chaos = new ChaosEngine(config, resolved.seed);
      },
      pause: () => broker.chaos?.pause(),
      resume: () => broker.chaos?.resume(),
      get paused() {
        return broker.chaos?.isPaused ?? false;
      },
      log: () => broker.chaos?.log() ?? [],
      get droppedDecisions() {
        return broker.chaos?.dropped ?? 0;
      },
      toScript: () => broker.chaos?.toScript() ?? [],
    },
    clock: {
      mode: typeof resolved.clock === 'string' ? resolved.clock : 'custom',
      now: () => clock.now(),
      advance(ms) {
        if (!virtual) throw new FakeIotError('INVALID_ARGUMENT', "iot.clock.advance() needs the built-in virtual clock: start the endpoint with clock: 'virtual' (a custom clock is advanced by its owner).");
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new FakeIotError('INVALID_ARGUMENT', `iot.clock.advance(ms): ms must be a number >= 0 (got ${String(ms)}).`);
        virtual.advance(ms);
      },
    },
    shadows: {
      get(thingName, opts = {}) {
        return broker.shadows.document(thingName, opts.shadowName, clock.now());
      },
      update(thingName, document, opts = {}) {
        assertOpen('shadows.update()');
        if (typeof document !== 'object' || document === null) throw new FakeIotError('INVALID_ARGUMENT', 'shadows.update(thingName, document): document must be an object such as { state: { desired: { on: true } } }.');
        return cloudShadowRequest('update', thingName, opts, Buffer.from(JSON.stringify(document)));
      },
      delete(thingName, opts = {}) {
        assertOpen('shadows.delete()');
        return cloudShadowRequest('delete', thingName, opts, Buffer.alloc(0));
      },
      list: (thingName) => broker.shadows.list().filter((s) => thingName === undefined || s.thingName === thingName),
    },
    jobs: jobsControl(broker.jobs, assertOpen),
    clients() {
      const identities = new Map<number, ConnectionIdentity>();
      for (const c of connections) identities.set(c.connectionId, c.identity);
      return broker.clients().map((info) => {
        // principalIdentifier is what lifecycle events carry; the client list shows principal.
        const { principalIdentifier: _lifecycleOnly, ...identity } = identities.get(info.connectionId) ?? { transport: 'tcp' as const };
        return { ...info, ...identity };
      });
    },
    tls: tlsEndpoint,
    createThing(thingName, opts) {
      assertOpen('createThing()');
      const where = `createThing(${JSON.stringify(thingName)})`;
      const policies: unknown = (opts as { policies?: unknown } | undefined)?.policies;
      if (policies !== undefined) {
        if (!Array.isArray(policies) || !policies.every((p) => typeof p === 'string')) throw new FakeIotError('INVALID_ARGUMENT', `${where}: options.policies must be a list of policy names.`);
        // Checked before the thing exists, so a mistake leaves nothing half made.
        for (const name of policies) if (!broker.authz?.policy(name)) throw new FakeIotError('POLICY_NOT_FOUND', `${where}: no policy named ${JSON.stringify(name)} (create it with the policies option or iot.setPolicy()).`);
      }
      const thing = things().createThing(thingName, opts);
      for (const name of (policies as string[] | undefined) ?? []) authorization().attachPolicy(name, thing.certificateId, where);
      return thing;
    },
    setPolicy(name, document) {
      assertOpen('setPolicy()');
      authorization().setPolicy(name, document, `setPolicy(${JSON.stringify(name)})`);
    },
    deletePolicy: (name) => broker.authz?.deletePolicy(name) ?? false,
    attachPolicy(name, principal) {
      assertOpen('attachPolicy()');
      authorization().attachPolicy(name, principal, `attachPolicy(${JSON.stringify(name)}, ${JSON.stringify(principal)})`);
    },
    detachPolicy: (name, principal) => broker.authz?.detachPolicy(name, principal) ?? false,
    createCertificate() {
      assertOpen('createCertificate()');
      return things().createCertificate();
    },
    setCertificateStatus(certificateId, status) {
      assertOpen('setCertificateStatus()');
      things().setCertificateStatus(certificateId, status);
    },
    onRule(ruleName, listener) {
      assertOpen('onRule()');
      if (typeof ruleName !== 'string' || ruleName === '' || ruleName.includes('/')) {
        throw new FakeIotError('INVALID_ARGUMENT', `onRule(ruleName): ruleName must be a rule name such as "telemetry" (no "/"), or "*" for every rule (got ${JSON.stringify(ruleName)}).`);
      }
      if (typeof listener !== 'function') throw new FakeIotError('INVALID_ARGUMENT', 'onRule(ruleName, listener): listener must be a function.');
      let set = broker.ruleListeners.get(ruleName);
      if (!set) broker.ruleListeners.set(ruleName, (set = new Set()));
      set.add(listener);
      return () => {
        set!.delete(listener);
      };
    },
    settled(opts = {}) {
      assertOpen('settled()');
      const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
        return Promise.reject(new FakeIotError('INVALID_ARGUMENT', `iot.settled(): options.timeoutMs must be a number of milliseconds >= 0 (got ${String(timeoutMs)}).`));
      }
      const { signal } = opts;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        return Promise.reject(new FakeIotError('INVALID_ARGUMENT', `iot.settled(): options.signal must be an AbortSignal (got ${String(signal)}).`));
      }
      if (signal?.aborted) return Promise.reject(signal.reason);
      // Under the virtual clock, nothing still to come fires without advance(): only real timers are waited for.
      const countTimers = !virtual;
      const pending = () => [...broker.pendingWork(countTimers), ...[...connections].flatMap((c) => c.pendingWork(countTimers))];
      const deadline = realClock.now() + timeoutMs;
      return new Promise<void>((resolve, reject) => {
        let timer: TimerHandle;
        const abort = () => {
          timer.cancel();
          reject(signal!.reason);
        };
        const done = (error?: FakeIotError) => {
          signal?.removeEventListener('abort', abort);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (closing) return done(new FakeIotError('ENDPOINT_CLOSED', 'iot.settled(): the endpoint was closed while waiting.'));
          const work = pending();
          if (work.length === 0) return done();
          if (realClock.now() >= deadline) {
            return done(new FakeIotError('SETTLE_TIMEOUT', `iot.settled(): still busy after ${timeoutMs} ms:\n${work.map((w) => `  - ${w}`).join('\n')}\n  ${seedHint(resolved.seed)}\n  last entries:\n${trace.excerpt()}`));
          }
          timer = realClock.setTimeout(check, SETTLE_POLL_MS);
        };
        // First look after this turn's writes were flushed (they are corked until the next tick).
        timer = realClock.setTimeout(check, 0);
        signal?.addEventListener('abort', abort, { once: true });
      });
    },
    close,
    [asyncDispose]: close,
  };
}

/** The jobs data plane first (its own paths), then the IoT data plane. */
function withJobs(jobs: (request: DataPlaneRequest) => DataPlaneAnswer | undefined, data: (request: DataPlaneRequest) => DataPlaneAnswer): (request: DataPlaneRequest) => DataPlaneAnswer {
  return (request) => jobs(request) ?? data(request);
}

/** The transport-error fields for a certificate that is not ACTIVE. */
function notActive(status: CertificateStatus): { reason: 'certificate-inactive' | 'certificate-revoked'; message: string } {
  return status === 'REVOKED'
    ? { reason: 'certificate-revoked', message: 'the client certificate is REVOKED (iot.setCertificateStatus); AWS refuses it' }
    : { reason: 'certificate-inactive', message: 'the client certificate is INACTIVE (iot.setCertificateStatus); AWS refuses it until it is ACTIVE again' };
}
