/**
 * A client's session: its subscriptions and the QoS 1 messages it still has to receive, kept across
 * connections when the client connected with cleanSession = false.
 *
 * A session is state only. It does not know whether or where its client is connected: the broker asks
 * it what to send and does the sending (data flows one way: broker → session state, broker → link).
 */
import type { ChaosTag } from '../chaos/types';
import type { TimerHandle } from '../clock/clock';
import type { UserProperties } from '../codec/packets';

/**
 * MQTT 5 properties that travel with a message from its publisher to every subscriber (AWS forwards them,
 * aws-iot-behaviour.md §1.11). MQTT 3.1.1 subscribers get the message without them.
 */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

/**
 * A message in the broker. The same shape carries a message entering the broker (a PUBLISH, a will, an API
 * publish) and each client's copy of it; MQTT 5's properties (expiry, user properties, ...) join it here, so
 * they travel with the message through routing, sessions, the retained store and shared-subscription queues.
 */
export interface Message {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /**
   * RETAIN. On a message entering the broker: the publisher's flag. On a client's copy: set only on the copy
   * sent because of a new subscription (AWS: live forwards of a retained publish have RETAIN cleared, §1.7).
   */
  retain?: boolean;
  /** Set on copies chaos made. */
  chaos?: ChaosTag;
  /** MQTT 5 properties forwarded to MQTT 5 subscribers. */
  properties?: MessageProperties;
  /** Bytes the properties take (user properties, correlation data, ...): counted with the payload. */
  propertyBytes?: number;
  /**
   * MQTT 5 Message Expiry: when the message expires (endpoint clock, ms). An expired message is not delivered;
   * a copy carries the remaining time. Decided by the publisher's version: a v5 message expires for v3 subscribers too.
   */
  expiresAt?: number;
  /** A will's Message Expiry Interval (s): its clock starts when the will is published (at disconnect). */
  expiryInterval?: number;
  /** QoS 1 in flight: when it was first sent, and last sent (endpoint clock). */
  firstSentAt?: number;
  sentAt?: number;
}

/** What bounds a session. */
export interface SessionLimits {
  /** QoS 1 messages in flight at once (limits.maxInflightMessages). */
  maxInflight: number;
  /** QoS 1 messages waiting (limits.maxQueuedMessages). */
  maxQueued: number;
  /** Bytes in flight, queued and waiting in the client's socket (limits.maxQueuedBytes). */
  maxBytes: number;
  /** Socket bytes beyond which QoS 0 to the client is dropped (limits.maxBufferedBytes). */
  maxBuffered: number;
}

/** `offer()` results that are not a packet id: the message waits, or it is gone. */
export const QUEUED = -1;
export const DROPPED = -2;

/** Bytes an endpoint may hold for its clients: messages in flight and queued, and bytes waiting in sockets. */
export class ByteBudget {
  used = 0;
  constructor(readonly max: number) {}
}

/** What a message costs to keep: its payload and topic. */
export function messageBytes(message: Message): number {
  return message.payload.length + message.topic.length + (message.propertyBytes ?? 0);
}

/**
 * The last view copied, and its copy: the broker hands a fanned-out message to its subscribers' sessions one
 * after another, so they share one copy. (One view and one copy stay referenced until the next copy: a bound of
 * one socket read and one payload.)
 */
let lastView: Buffer | undefined;
let lastCopy: Buffer | undefined;

/**
 * A message's payload as a session keeps it. A decoded payload is a view into the socket read it came in
 * (up to 64 KB); one that waits in a session (queued, or in flight until acknowledged) gets a copy of its own
 * when it is a small part of a larger buffer, so that the byte limits, which count the payload, count what is
 * held. Views into Node's 8 KB buffer pool, and payloads that are most of their buffer, are kept as they are.
 * The copies of one message share the view, and so the copy: 50 offline subscribers hold one, not 50.
 */
export function ownPayload(payload: Buffer): Buffer {
  const held = payload.buffer.byteLength;
  if (held <= Buffer.poolSize || held <= 2 * payload.length) return payload;
  if (payload !== lastView) {
    lastView = payload;
    lastCopy = Buffer.from(payload);
  }
  return lastCopy!;
}

const NONE_IN_FLIGHT: ReadonlyMap<number, Message> = new Map();

/** The last packet id MQTT can carry; ids wrap around to 1 after it. */
const MAX_PACKET_ID = 65535;

export class Session {
  /** Filter → granted QoS. */
  readonly subscriptions = new Map<string, 0 | 1>();
  /** Sent QoS 1 messages not yet acknowledged, by packet id, in sending order (made with the first). */
  private unacked: Map<number, Message> | undefined;
  /** QoS 1 messages waiting for the client: while it is offline, or while `inflight` is full. */
  pending: Message[] = [];
  /**
   * What waited while the client was away, once it resumed the session: delivered at AWS's stored-message
   * rate (limits.storedMessagesPerSecond) while live messages go ahead of it.
   */
  stored: Message[] = [];
  /** Subscriptions acknowledged but not matching yet (chaos: subscriptionDelay), by filter. */
  readonly activations = new Map<string, TimerHandle>();
  /** Packet ids lent out for copies that are not session messages (chaos re-sends), until acknowledged. */
  private lent: Set<number> | undefined;
  expiry: TimerHandle | undefined;
  /** Bytes of the messages in flight and queued. */
  bytes = 0;
  private nextId = 1;
  /**
   * QoS 1 messages in flight at once for the connection now attached: limits.maxInflightMessages, or the
   * client's MQTT 5 Receive Maximum when lower.
   */
  maxInflight: number;
  /** The protocol version that made the session (AWS: a session is not resumed across versions, §1.1). */
  protocolVersion: 4 | 5 = 4;
  /** How long the session outlives its connection, in seconds (0: it ends with the connection). */
  expirySeconds = 0;

  /** Sent QoS 1 messages not yet acknowledged, by packet id, in sending order. */
  get inflight(): ReadonlyMap<number, Message> {
    return this.unacked ?? NONE_IN_FLIGHT;
  }

  /** The session's id as lifecycle events and clients() report it: worked out when first asked for (a SHA-256 and a draw). */
  get sessionIdentifier(): string {
    if (typeof this.identifier !== 'string') this.identifier = this.identifier();
    return this.identifier;
  }

  constructor(
    readonly clientId: string,
    public persistent: boolean,
    private identifier: string | (() => string),
    private readonly limits: SessionLimits,
    /** The endpoint-wide bound on what sessions hold. */
    private readonly budget: ByteBudget,
    /** AWS stores no QoS 0 messages for an offline client (profile: reactions.offlineQos0). */
    private readonly queueOfflineQos0: boolean,
  ) {
    this.maxInflight = limits.maxInflight;
  }

  /**
   * Takes a message for the client. Returns what to do now: a packet id (> 0) to send a QoS 1 message
   * with, 0 to send a QoS 0 message, QUEUED when it waits, DROPPED when it cannot be kept.
   * `buffered`: bytes already waiting in the client's socket; they count toward the client's byte limit.
   */
  offer(message: Message, online: boolean, buffered = 0): number {
    const size = messageBytes(message);
    // Bounded in bytes, per client and for the endpoint: a consumer that stops reading costs at most this much.
    if (this.bytes + buffered + size > this.limits.maxBytes) return DROPPED;
    if (online) {
      if (this.budget.used + size > this.budget.max) return DROPPED;
      // A client that stops reading: QoS 0 ("zero or more times") is dropped once its socket holds maxBuffered.
      if (message.qos === 0) return buffered > this.limits.maxBuffered ? DROPPED : 0;
      if (this.inflight.size < this.maxInflight && this.pending.length === 0) return this.assign(message, size);
    } else if (message.qos === 0 && !this.queueOfflineQos0) {
      return DROPPED;
    }
    if (this.pending.length + this.stored.length >= this.limits.maxQueued || this.budget.used + size > this.budget.max) return DROPPED;
    message.payload = ownPayload(message.payload);
    this.pending.push(message);
    this.hold(size);
    return QUEUED;
  }

  /** The client acknowledged `messageId`. False when no message (or lent id) waited for it. */
  ack(messageId: number): boolean {
    const message = this.unacked?.get(messageId);
    if (message) {
      this.unacked!.delete(messageId);
      this.hold(-messageBytes(message));
      return true;
    }
    return this.lent?.delete(messageId) ?? false;
  }

  /** The session ends: what it held is given back to the endpoint's budget. */
  release(): void {
    this.unacked = undefined;
    this.pending = [];
    this.stored = [];
    this.hold(-this.bytes);
  }

  private hold(delta: number): void {
    this.bytes += delta;
    this.budget.used += delta;
  }

  /**
   * The next waiting message that fits in flight now, with its new packet id (0 for a QoS 0 message kept
   * under offlineQos0: 'queue'); undefined when none.
   */
  takeReady(): [number, Message] | undefined {
    return this.take(this.pending);
  }

  /** The client resumed the session: what waited so far becomes the stored backlog (see `stored`). */
  resumeStored(): void {
    if (this.pending.length === 0) return;
    this.stored = this.stored.length === 0 ? this.pending : [...this.stored, ...this.pending];
    this.pending = [];
  }

  /** The next stored message that fits in flight now, as takeReady(). */
  takeStored(): [number, Message] | undefined {
    return this.take(this.stored);
  }

  private take(queue: Message[]): [number, Message] | undefined {
    if (queue.length === 0 || this.inflight.size >= this.maxInflight) return undefined;
    const message = queue.shift()!;
    if (message.qos === 0) {
      this.hold(-messageBytes(message)); // sent once, never acknowledged: not kept
      return [0, message];
    }
    return [this.assign(message, 0), message]; // its bytes were counted when it was queued
  }

  /**
   * A packet id for a copy that is not a session message (chaos's re-send with a new packet id): it is
   * never in use by an unacknowledged message, and is free again once the client acknowledges it.
   */
  lendId(): number {
    const id = this.freeId();
    if (id !== 0) (this.lent ??= new Set()).add(id);
    return id;
  }

  /** Lent ids not acknowledged yet (chaos copies the client still owes a PUBACK for). */
  get lentCount(): number {
    return this.lent?.size ?? 0;
  }

  /** A client left: lent ids die with its connection. */
  detached(): void {
    this.lent = undefined;
    // What the stored-message rate had not delivered yet waits for the next connection, ahead of the rest.
    if (this.stored.length > 0) {
      this.pending = [...this.stored, ...this.pending];
      this.stored = [];
    }
  }

  /** Forgets a subscription that was still waiting to start matching. */
  cancelActivation(filter: string): void {
    this.activations.get(filter)?.cancel();
    this.activations.delete(filter);
  }

  private assign(message: Message, newBytes: number): number {
    const id = this.freeId(); // never 0 here: maxInflightMessages is at most 65535 and lent ids give way
    (this.unacked ??= new Map()).set(id, message);
    if (newBytes > 0) {
      message.payload = ownPayload(message.payload); // a new message: it is held until acknowledged
      this.hold(newBytes);
    }
    return id;
  }

  /** A packet id no unacknowledged message or lent copy uses; 0 when all 65535 are taken. */
  private freeId(): number {
    let id = this.nextId;
    for (let tried = 0; this.inflight.has(id) || this.lent?.has(id); tried++) {
      if (tried === MAX_PACKET_ID) {
        // Every id is taken: lent ids are given up first (their copies simply go unacknowledged).
        if (!this.lent || this.lent.size === 0) return 0;
        this.lent = undefined;
        tried = 0;
      }
      id = id === MAX_PACKET_ID ? 1 : id + 1;
    }
    this.nextId = id === MAX_PACKET_ID ? 1 : id + 1;
    return id;
  }
}
