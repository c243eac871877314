/**
 * Chaos: AWS IoT's documented misbehaviours (and a network's) as seeded knobs.
 */

export const FAULTS = ['duplicateQos0', 'resendWithNewPacketId', 'subscriptionDelay', 'reorder', 'latency', 'dropConnection', 'takeover', 'connackDelay', 'shadowErrors', 'jobsErrors'] as const;
export type FaultName = (typeof FAULTS)[number];

/** Limits a knob to some topics and some clients. Both absent: every topic, every client. */
export interface ChaosScope {
  /** Topic filters (`+`/`#` allowed). The knob then applies only to PUBLISH packets (and, for subscriptionDelay, subscriptions) matching one of them. */
  topics?: string[];
  /** Client ids, exactly, or RegExps over them. */
  clients?: (string | RegExp)[];
}

/** AWS: a QoS 0 message may be delivered more than once; the copies do not carry DUP. */
export interface DuplicateQos0Options extends ChaosScope {
  /** Chance that a QoS 0 delivery gets copies (0..1). */
  probability: number;
  /** Copies sent after the original: 1..maxCopies, drawn per delivery. Default 1. */
  maxCopies?: number;
}

/** AWS: the broker may send the same logical PUBLISH again with a different packet id, DUP not set. */
export interface ResendWithNewPacketIdOptions extends ChaosScope {
  /** Chance that a delivery is sent again (0..1). */
  probability: number;
  /** The copy follows the original after a delay drawn from [minDelayMs, maxDelayMs]. Default 0..50. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** AWS: after SUBACK there may be a delay before matching messages start to flow. */
export interface SubscriptionDelayOptions extends ChaosScope {
  minMs: number;
  maxMs: number;
}

/** AWS: the broker does not guarantee the order of messages and ACKs. */
export interface ReorderOptions extends ChaosScope {
  /** Chance that an outgoing PUBLISH, PUBACK, SUBACK or UNSUBACK is held back (0..1). */
  probability: number;
  /** A held packet waits 1..maxHoldMs; packets behind it may overtake it. */
  maxHoldMs: number;
}

/**
 * AWS authenticates a client before it answers its CONNECT: the CONNACK comes a while after. A client that
 * sends anything before it has read the CONNACK breaks AWS's rule and is disconnected (reactions
 * `packetBeforeConnack`); this knob makes that window wide enough to catch such a client every time.
 * Scoped by `clients` (topics do not apply).
 */
export interface ConnackDelayOptions extends ChaosScope {
  minMs: number;
  maxMs: number;
}

/** The transient errors AWS's Device Shadow service documents for a request. */
export type ShadowErrorCode = 429 | 500;

/**
 * AWS: a Device Shadow request may be refused with a transient error — 429 (too many requests in flight)
 * or 500 (internal service failure) — which a device must retry. The request then changes nothing and its
 * `/rejected` topic gets the error document. Applies to requests a client publishes (not `iot.shadows`);
 * `topics` match the request topic (`$aws/things/+/shadow/update`, ...).
 */
export interface ShadowErrorsOptions extends ChaosScope {
  /** Chance that a request is refused (0..1). */
  probability: number;
  /** The codes drawn from. Default both: [429, 500]. */
  codes?: ShadowErrorCode[];
}

/** The transient errors AWS IoT Jobs documents for a device's request (aws-iot-behaviour.md §5). */
export const JOBS_ERROR_CODES = ['RequestThrottled', 'InternalError'] as const;
export type JobsErrorsCode = (typeof JOBS_ERROR_CODES)[number];

/**
 * AWS: a Jobs request may be rejected with a transient error — RequestThrottled or InternalError — which a
 * device must retry. The request then changes nothing and the requester gets `{ code, message, timestamp,
 * clientToken }` on the request topic's `/rejected`. Applies to requests a client publishes (not `iot.jobs`,
 * not the HTTP data plane); `topics` match the request topic (`$aws/things/+/jobs/+/update`, ...).
 */
export interface JobsErrorsOptions extends ChaosScope {
  /** Chance that a request is refused (0..1). */
  probability: number;
  /** The codes drawn from. Default both: ['RequestThrottled', 'InternalError']. */
  codes?: JobsErrorsCode[];
}

/** Network latency on every outgoing packet; order is kept. */
export type LatencyOptions = ChaosScope & ({ ms: number } | { minMs: number; maxMs: number });

/** The server closes the connection (AWS: deployments, scaling — reason SERVER_INITIATED_DISCONNECT). */
export interface DropConnectionOptions extends ChaosScope {
  /** Chance, per packet the client sends after CONNECT, that the connection is closed after it (0..1). */
  probability?: number;
  /** Close the connection after the client's nth packet after CONNECT (packets the server sends do not count). */
  afterPackets?: number;
}

/** Another connection with the same client id takes over (reason DUPLICATE_CLIENTID). */
export type TakeoverOptions = DropConnectionOptions;

/** The faults a script can force (latency is shaping, not a fault: it is neither logged nor scripted). */
export type ScriptableFault = Exclude<FaultName, 'latency'>;

/** One fault forced at one precise place. */
export interface ScriptStep {
  fault: ScriptableFault;
  /** Only events of this client (default: any client). */
  client?: string;
  /** Only PUBLISH packets on (or subscriptions to) topics matching this filter. */
  topic?: string;
  /** Fire at the nth matching event (1 = the first). Each step fires once. */
  nth: number;
  /** duplicateQos0: copies to send. Default 1. */
  copies?: number;
  /** resendWithNewPacketId: delay before the copy (default 0); subscriptionDelay and connackDelay: the delay (default 100). */
  delayMs?: number;
  /** reorder: how long the packet is held (default 10). */
  holdMs?: number;
  /** shadowErrors: the error code (default 429); jobsErrors: the Jobs code (default 'RequestThrottled'). */
  code?: ShadowErrorCode | JobsErrorsCode;
}

export interface ChaosOptions {
  duplicateQos0?: DuplicateQos0Options;
  resendWithNewPacketId?: ResendWithNewPacketIdOptions;
  subscriptionDelay?: SubscriptionDelayOptions;
  reorder?: ReorderOptions;
  latency?: LatencyOptions;
  dropConnection?: DropConnectionOptions;
  takeover?: TakeoverOptions;
  connackDelay?: ConnackDelayOptions;
  shadowErrors?: ShadowErrorsOptions;
  jobsErrors?: JobsErrorsOptions;
  script?: ScriptStep[];
}

/** On a trace entry: the fault that produced or moved it. */
export interface ChaosTag {
  fault: FaultName;
  /**
   * The decision's number, counting from 0 (absent for latency, which is not logged): its index in
   * `iot.chaos.log()` until the log overflows, then that index plus the number of decisions dropped.
   */
  decision?: number;
  /** For copies (duplicateQos0, resendWithNewPacketId): the `seq` of the original delivery's trace entry. */
  of?: number;
  /** For reorder and latency: how long the packet was held. */
  heldMs?: number;
}

/** One decision the chaos engine took. */
export interface ChaosDecision {
  fault: ScriptableFault;
  clientId: string;
  connectionId: number;
  /** Which eligible event of this client, for this fault, it was (1-based); what a script step's `nth` names. */
  nth: number;
  /** The topic of the PUBLISH or subscription concerned, when there is one. */
  topic?: string;
  /** The packet type concerned, for packet-level faults. */
  cmd?: string;
  /** What took it: the seeded random stream, a knob's `afterPackets` count, or a script step. */
  source: 'random' | 'afterPackets' | 'script';
  copies?: number;
  delayMs?: number;
  holdMs?: number;
  code?: ShadowErrorCode | JobsErrorsCode;
}
