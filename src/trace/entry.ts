import type { Packet } from '../codec/codec';
import type { Limits } from '../aws/profile';
import type { ChaosTag } from '../chaos/types';
import type { JobExecutionStatus, JobOperation, JobsErrorCode } from '../services/jobs';
import type { SigV4Failure } from '../transport/sigv4';

/** AWS's lifecycle `disconnectReason` values that the fake produces. */
export type DisconnectReason =
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'CLIENT_ERROR'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'API_INITIATED_DISCONNECT'
  | 'SERVER_ERROR'
  | 'THROTTLED'
  /**
   * The connection's certificate was made INACTIVE or REVOKED before its CONNECT (iot.setCertificateStatus), or
   * an IoT policy denied what it did (CONNECT, will, PUBLISH, SUBSCRIBE; see the `authorization` event), or a
   * custom authorizer refused it.
   */
  | 'AUTH_ERROR'
  /** A custom authorizer's disconnectAfterInSeconds ran out. */
  | 'CUSTOMAUTH_TTL_EXPIRATION';

/** How a client reached the endpoint: plain MQTT over TCP, MQTT over TLS (mTLS), MQTT over WebSocket (`ws://`, `wss://`). */
export type Transport = 'tcp' | 'tls' | 'ws' | 'wss';

/** Who a connection is, as far as its transport tells: what the `connect` event and `iot.clients()` carry. */
export interface ConnectionIdentity {
  transport: Transport;
  /** AWS's principal: the client certificate's id (lowercase hex SHA-256 of its DER) on TLS, the access key id for SigV4. Absent on plain TCP. */
  principal?: string;
  /** The thing the client certificate is attached to (`iot.createThing`), when it is attached to one. */
  thingName?: string;
  /** The server name the client sent in its TLS handshake (SNI), when it sent one. */
  sni?: string;
  /** The ALPN protocol agreed in the TLS handshake (`x-amzn-mqtt-ca`), when the client offered one. */
  alpn?: string;
  /** What lifecycle events carry as principalIdentifier when it is not `principal` (IAM-style for SigV4). */
  principalIdentifier?: string;
  /** The custom authorizer that let the connection in (its `principalId` is then `principal`). */
  authorizer?: string;
}

interface EntryBase {
  /** Position in the trace, from 1, never reused (also not after `clear()`). */
  seq: number;
  /** When it was recorded (ms since the epoch). */
  at: number;
  /** The connection it belongs to (numbered from 1 per endpoint); absent for endpoint-wide events. */
  connectionId?: number;
  /** The client id, once the connection's CONNECT was read. */
  clientId?: string;
  /** Set when the trace's byte budget (trace.maxBytes) cut this entry's payload to its first 64 bytes. */
  truncated?: { payloadBytes: number };
}

/** A packet that crossed the wire: `in` from the client, `out` to the client. */
export interface PacketEntry extends EntryBase {
  kind: 'packet';
  connectionId: number;
  direction: 'in' | 'out';
  /** The packet as mqtt-packet decodes (or encodes) it. */
  packet: Packet;
  /** Set when chaos produced this packet (a copy) or moved it (held back, delayed). */
  chaos?: ChaosTag;
}

/** A connection was accepted (CONNACK 0 sent). */
export interface ConnectEvent extends EntryBase {
  kind: 'event';
  event: 'connect';
  connectionId: number;
  clientId: string;
  /** 4 (MQTT 3.1.1) or 5 (MQTT 5). */
  protocolVersion: 4 | 5;
  /** MQTT 3.1.1: Clean Session. MQTT 5: Clean Start. */
  cleanSession: boolean;
  sessionPresent: boolean;
  /** How long the session outlives the connection, in seconds (0: it ends with it); MQTT 5: as granted. */
  sessionExpirySeconds: number;
  /** The keep-alive the broker applies after clamping. */
  keepAliveSeconds: number;
  /** The keep-alive the client asked for. */
  requestedKeepAliveSeconds: number;
  remoteAddress: string;
  /** `'tcp'`, `'tls'`, `'ws'` or `'wss'`. */
  transport: Transport;
  /** The client certificate's id on TLS, the access key id for SigV4, a custom authorizer's principalId (AWS's principal); absent on plain TCP. */
  principal?: string;
  /** The thing the client certificate is attached to, when it is attached to one. */
  thingName?: string;
  /** The server name the client sent (SNI), when it sent one. */
  sni?: string;
  /** The ALPN protocol agreed, when the client offered one. */
  alpn?: string;
  /** The custom authorizer that let the connection in. */
  authorizer?: string;
}

/** A connection ended. */
export interface DisconnectEvent extends EntryBase {
  kind: 'event';
  event: 'disconnect';
  connectionId: number;
  /** AWS's lifecycle reason. */
  reason: DisconnectReason;
  /** Whether the connection's will message was published. */
  willPublished: boolean;
  /** Set when chaos closed the connection (dropConnection, takeover). */
  chaos?: ChaosTag;
}

/** A subscription started matching messages: at SUBSCRIBE, or later under chaos's subscriptionDelay. */
export interface SubscriptionActiveEvent extends EntryBase {
  kind: 'event';
  event: 'subscription-active';
  clientId: string;
  topic: string;
  qos: 0 | 1;
  /** How long after the SUBSCRIBE it became active (0: at once). */
  delayedMs: number;
  chaos?: ChaosTag;
}

/** The client broke a protocol rule or an AWS limit; the connection is closed right after. */
export interface ViolationEvent extends EntryBase {
  kind: 'event';
  event: 'violation';
  connectionId: number;
  /** The rule: an MQTT conformance id such as `MQTT-3.1.0-1`, `limits.<name>` for an AWS limit, or `aws.<rule>`. */
  rule: string;
  /** What happened, for humans. */
  message: string;
  /** For a limit: which one, the limit's value and the value that broke it. */
  limit?: keyof Limits;
  max?: number;
  actual?: number;
}

/** The client asked for something AWS does not do, and the broker ignored it (no ack, nothing delivered). */
export interface IgnoredEvent extends EntryBase {
  kind: 'event';
  event: 'ignored';
  connectionId: number;
  rule: string;
  message: string;
}

/** A message that no client sent: from `iot.publish()`, a will, or a lifecycle event. */
export interface PublishEvent extends EntryBase {
  kind: 'event';
  event: 'publish';
  /** `shadow`: a response of the Device Shadow service. `jobs`: a Jobs notification, or a Jobs answer (sent to the requester only, `clientId`). */
  origin: 'api' | 'will' | 'lifecycle' | 'shadow' | 'jobs';
  topic: string;
  qos: 0 | 1;
  payload: Buffer;
}

/** A stored persistent session ended: it expired, or `iot.disconnect(id, { cleanSession: true })` discarded it. */
export interface SessionEndEvent extends EntryBase {
  kind: 'event';
  event: 'session-ended';
  clientId: string;
  reason: 'expired' | 'discarded';
}

/**
 * A message was not delivered to a client: its queue of waiting QoS 1 messages was full
 * (limits.maxQueuedMessages, maxQueuedBytes, maxTotalQueuedBytes), it stopped reading and a QoS 0 message
 * found its socket buffer full (limits.maxBufferedBytes), or it never acknowledged a QoS 1 message within
 * limits.qos1RetryWindowSeconds.
 */
export interface DroppedEvent extends EntryBase {
  kind: 'event';
  event: 'dropped';
  /** The client it was for; absent when a shared-subscription group had no member to take it (see `shareGroup`). */
  clientId?: string;
  topic: string;
  /**
   * `no-member`: a message for a shared-subscription group none of whose members was online and able to take it
   * (QoS 0, or no persistent member to queue for); `expired`: a group's queued message outlived
   * limits.sessionExpirySeconds, or an MQTT 5 message's Message Expiry passed before it could be delivered;
   * `too-large`: larger than the MQTT 5 client's Maximum Packet Size.
   */
  reason: 'queue-full' | 'slow-consumer' | 'retry-expired' | 'no-member' | 'expired' | 'too-large';
  /** For a shared subscription's message: the group, as `$share/{ShareName}/{TopicFilter}`. */
  shareGroup?: string;
}

/** A retained message was stored (a new topic, or a newer message replacing the topic's). */
export interface RetainedStoredEvent extends EntryBase {
  kind: 'event';
  event: 'retained-stored';
  topic: string;
  qos: 0 | 1;
  payloadBytes: number;
  /** Whether it replaced a message stored for the topic. */
  replaced: boolean;
  /** Where it came from: a client's PUBLISH, a will, or `iot.publish()`. */
  origin: 'client' | 'will' | 'api';
  /** How many retained messages the endpoint holds now, and their bytes (payload + topic). */
  count: number;
  bytes: number;
}

/** A retained message was deleted by a RETAIN publish with an empty payload. */
export interface RetainedDeletedEvent extends EntryBase {
  kind: 'event';
  event: 'retained-deleted';
  topic: string;
  origin: 'client' | 'will' | 'api';
  count: number;
  bytes: number;
}

/**
 * An AWS rate limit applied (reactions.throttles): a PUBLISH over limits.maxPublishesPerSecond was discarded,
 * traffic over limits.maxBytesPerSecond was delayed, a CONNECT over limits.maxConnectsPerSecondPerClientId
 * was refused — or, under a `'disconnect'` reaction, the connection was closed (reason THROTTLED).
 */
export interface ThrottledEvent extends EntryBase {
  kind: 'event';
  event: 'throttled';
  connectionId: number;
  /** maxRetainedMessages / maxRetainedBytes: a non-empty RETAIN publish while the retained store is full. */
  limit: 'maxPublishesPerSecond' | 'maxBytesPerSecond' | 'maxConnectsPerSecondPerClientId' | 'maxRetainedMessages' | 'maxRetainedBytes';
  /** `in`: from the client; `out`: to the client. */
  direction: 'in' | 'out';
  /** What AWS did about it. */
  action: 'discarded' | 'delayed' | 'refused' | 'disconnected';
  /** The PUBLISH's topic, for a publish discarded. */
  topic?: string;
  /** How long the traffic was held back, for `delayed`. */
  delayedMs?: number;
}

/** The Device Shadow service answered a request (over MQTT, or from `iot.shadows`). */
export interface ShadowEvent extends EntryBase {
  kind: 'event';
  event: 'shadow';
  thingName: string;
  /** Absent for the classic shadow. */
  shadowName?: string;
  operation: 'get' | 'update' | 'delete';
  outcome: 'accepted' | 'rejected';
  /** The shadow's version after the request (accepted requests). */
  version?: number;
  /** AWS's error code (rejected requests): 400, 404, 409, 413, 415; 429 or 500 from chaos (shadowErrors). */
  code?: number;
  /** Set when chaos (shadowErrors) refused the request. */
  chaos?: ChaosTag;
}

/**
 * AWS IoT Jobs: an execution changed (created, started, updated, canceled, deleted, removed, timed out), or
 * the service rejected a device's request (over MQTT or the jobs data plane).
 */
export interface JobEvent extends EntryBase {
  kind: 'event';
  event: 'job';
  thingName: string;
  /** Absent for a rejected request that names no job (`jobs/get`, `jobs/start-next`, an invalid topic). */
  jobId?: string;
  operation: JobOperation;
  outcome: 'accepted' | 'rejected';
  /** Who asked: a client over MQTT, the jobs data plane (HTTP), `iot.jobs` (cloud), or a timeout (timer). */
  via: 'mqtt' | 'http' | 'cloud' | 'timer';
  /** The execution's status after the change (accepted). */
  status?: JobExecutionStatus;
  /** Its status before (absent when the execution was created). */
  previousStatus?: JobExecutionStatus;
  versionNumber?: number;
  executionNumber?: number;
  /** deleteExecution: the execution is gone. */
  deleted?: true;
  /** A timeout: the step timer or the job's in-progress timer. */
  timer?: 'step' | 'in-progress';
  /** AWS's error code (rejected): InvalidJson, InvalidRequest, VersionMismatch, ...; RequestThrottled or InternalError from chaos (jobsErrors). */
  code?: JobsErrorCode;
  /** Set when chaos (jobsErrors) refused the request. */
  chaos?: ChaosTag;
}

/**
 * An IoT policy denied something a connection asked for or was about to receive (aws-iot-behaviour.md §6):
 * recorded for every decision that denied, so a failing test can say why in one line.
 */
export interface AuthorizationEvent extends EntryBase {
  kind: 'event';
  event: 'authorization';
  action: 'iot:Connect' | 'iot:Publish' | 'iot:RetainPublish' | 'iot:Subscribe' | 'iot:Receive';
  /** The ARN checked: `arn:aws:iot:<region>:<account>:client/<id>`, `…:topic/<name>` or `…:topicfilter/<filter>`. */
  resource: string;
  allowed: false;
  /** The Deny statement that decided, as `<policy>#<index>`; absent when no statement allowed it (default deny). */
  statement?: string;
  /** One line for people: what was denied and by what. */
  reason: string;
  /** What the broker did about it: the connection closed, a failure code sent back, or the message not delivered. */
  reaction: 'closed' | 'refused' | 'not-delivered' | 'dropped';
}

/**
 * A custom authorizer ran (aws-iot-behaviour.md §7): at CONNECT, or again after its refreshAfterInSeconds. Also
 * recorded when the connection was refused before any authorizer could run (no authorizer named, a token
 * signature that does not verify); `error` then says why, as it does for an authorizer that threw, timed out
 * or answered something AWS would not accept.
 */
export interface AuthorizerEvent extends EntryBase {
  kind: 'event';
  event: 'authorizer';
  /** The authorizer's name; absent when none could be chosen. */
  authorizer?: string;
  /** Whether the connection is authenticated: the authorizer said so, in a valid response. */
  isAuthenticated: boolean;
  principalId?: string;
  /** How long the authorizer took, on the endpoint's clock. */
  durationMs: number;
  /** Why the authentication failed other than by `isAuthenticated: false`. */
  error?: string;
  /** True for a run after refreshAfterInSeconds (a failed one closes the connection, AUTH_ERROR). */
  refresh?: boolean;
}

/**
 * A message for an AWS IoT rule by basic ingest (`$aws/rules/<ruleName>/<topic>`): it goes to the rule, never
 * to subscribers. `topic` is what the rule sees, without the prefix.
 */
export interface RuleEvent extends EntryBase {
  kind: 'event';
  event: 'rule';
  ruleName: string;
  topic: string;
  qos: 0 | 1;
  payload: Buffer;
}

/**
 * Something threw inside the endpoint: a bug in the fake (`source` connection or timer), or a callback
 * the test gave it (`trace-listener`, `rule-listener`). A connection where it happened is closed with SERVER_ERROR; a
 * throwing trace listener is unsubscribed, and the endpoint's `close()` then rejects with
 * `CALLBACK_FAILED` so the test that registered it fails.
 */
export interface InternalErrorEvent extends EntryBase {
  kind: 'event';
  event: 'internal-error';
  source: 'connection' | 'timer' | 'trace-listener' | 'rule-listener';
  message: string;
  stack?: string;
}

/** Why a connection was refused before it reached the broker (`transport-error` event). */
export type TransportFailure =
  /** The first bytes were not a TLS handshake: plain MQTT, HTTP, or something else, sent to the TLS port. */
  | 'not-tls'
  /** The TLS handshake failed: bytes that are not valid TLS, an unsupported version or cipher, an alert. */
  | 'handshake-failed'
  /** The handshake did not finish within limits.connectTimeoutSeconds (real time). */
  | 'handshake-timeout'
  /** The client sent no certificate (AWS requires one on this port). */
  | 'no-client-certificate'
  /** The client certificate is not signed by a CA the endpoint trusts. */
  | 'unknown-ca'
  /** The client certificate is signed by a trusted CA but unusable: expired, not yet valid, wrong key usage. */
  | 'certificate-invalid'
  /** The certificate's status is INACTIVE (iot.setCertificateStatus). */
  | 'certificate-inactive'
  /** The certificate's status is REVOKED (iot.setCertificateStatus). */
  | 'certificate-revoked'
  /** The client offered ALPN protocols, none of which the endpoint accepts (tls.alpn). */
  | 'alpn-refused'
  /** The client sent no server name (SNI) and tls.requireSni is on. */
  | 'sni-missing'
  /** WebSocket: a plain HTTP request (426 on the MQTT path), another path (404), bytes that are not HTTP or a bad upgrade (400), an HTTP request not finished in time (408), no `mqtt` subprotocol offered (400). */
  | 'upgrade-required'
  | 'not-found'
  | 'bad-request'
  | 'bad-handshake'
  | 'request-timeout'
  | 'unsupported-subprotocol'
  /** WebSocket with SigV4 (403): see the message for what was wrong with the signature. */
  | SigV4Failure
  /** wss:// and https://: the TLS handshake failed. */
  | 'tls-handshake'
  /** HTTP data plane: a body over limits.maxPayloadBytes (413, refused before it is read). */
  | 'payload-too-large'
  /** HTTP data plane: a method the path does not take (405). */
  | 'method-not-allowed'
  /** HTTP data plane: a Publish with a bad topic, QoS or RETAIN (400). */
  | 'invalid-request'
  /** HTTP data plane: a Publish to a `$` topic AWS keeps to itself (403). */
  | 'forbidden-topic'
  /** Something failed inside fake-aws-iot while taking the connection (a bug: please report it). */
  | 'internal-error';

/**
 * A connection was refused by its transport (a failed TLS handshake, an unusable certificate): nothing of it
 * reached the broker (a failed TLS handshake or unusable certificate, a refused WebSocket upgrade with its HTTP
 * status in the message). `connectionId` is set when the refusal came after the handshake, at CONNECT.
 */
export interface TransportErrorEvent extends EntryBase {
  kind: 'event';
  event: 'transport-error';
  /** `http` / `https`: a request to the data-plane REST API (options.http). */
  transport: Transport | 'http' | 'https';
  /** What failed. */
  reason: TransportFailure;
  /** What happened, for humans, with what to do about it (for a refused HTTP request it starts with the status: `HTTP 403: ...`). */
  message: string;
  /** Node's or OpenSSL's error code, or the certificate verification error (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`). */
  code?: string;
  remoteAddress: string;
  remotePort?: number;
  /** The endpoint's port the connection came in on. */
  localPort?: number;
  /** The client certificate's id, when the handshake got as far as verifying one. */
  principal?: string;
  sni?: string;
  /** The ALPN protocols the client offered (for alpn-refused) or the one agreed. */
  alpn?: string;
}

export type EventEntry =
  | ConnectEvent
  | DisconnectEvent
  | SubscriptionActiveEvent
  | ViolationEvent
  | IgnoredEvent
  | PublishEvent
  | SessionEndEvent
  | DroppedEvent
  | RetainedStoredEvent
  | RetainedDeletedEvent
  | RuleEvent
  | ThrottledEvent
  | ShadowEvent
  | JobEvent
  | AuthorizationEvent
  | AuthorizerEvent
  | InternalErrorEvent
  | TransportErrorEvent;
export type TraceEntry = PacketEntry | EventEntry;

/** What an entry looks like before the recorder numbers and stamps it. */
export type NewEntry = TraceEntry extends infer E ? (E extends TraceEntry ? Omit<E, 'seq' | 'at'> : never) : never;
