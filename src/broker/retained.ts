/**
 * The retained-message store (profile `current`, reactions.retain: 'store'), with AWS's rules
 * (aws-iot-behaviour.md §1.7): one message per topic, the newest replacing the older; an empty payload
 * deletes; the account's quota on stored messages (limits.maxRetainedMessages) and a bound in bytes
 * (limits.maxRetainedBytes). It lives as long as the endpoint. State only: the broker decides what to send.
 */
import type { Message, MessageProperties } from '../session/session';

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** When it was stored (endpoint clock, ms since the epoch): AWS's `lastModifiedTime`. */
  lastModifiedTime: number;
  /** MQTT 5 properties it was published with (forwarded to MQTT 5 subscribers). */
  properties?: MessageProperties;
  propertyBytes?: number;
  /** MQTT 5 Message Expiry: when it expires (endpoint clock); AWS: v5 retained messages honour it (§1.7). */
  expiresAt?: number;
}

/** What ListRetainedMessages says of each message (AWS: topic, payloadSize, qos, lastModifiedTime). */
export interface RetainedSummary {
  topic: string;
  payloadSize: number;
  qos: 0 | 1;
  lastModifiedTime: number;
}

/** The outcome of a RETAIN publish. */
export type RetainOutcome =
  | { action: 'stored'; replaced: boolean }
  | { action: 'deleted' }
  /** An empty payload for a topic with nothing stored: nothing to do. */
  | { action: 'none' }
  | { action: 'throttled'; limit: 'maxRetainedMessages' | 'maxRetainedBytes' };

/** What a retained message costs to keep: payload, topic and properties, as the session counts messages. */
function cost(topic: string, payload: Buffer, propertyBytes = 0): number {
  return payload.length + topic.length + propertyBytes;
}

export class RetainedStore {
  private readonly messages = new Map<string, RetainedMessage>();
  /** Bytes held: payloads and topics. */
  bytes = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.messages.size;
  }

  /** Whether `message` (a RETAIN publish) may be kept: a check only, nothing changes. */
  admit(message: Pick<Message, 'topic' | 'payload' | 'propertyBytes'>): RetainOutcome | undefined {
    if (message.payload.length === 0) return undefined;
    const old = this.messages.get(message.topic);
    // AWS: when the account's quota is full, RETAIN publishes with a payload are throttled "until the count
    // drops"; one that replaces a topic's message does not add to the count.
    if (!old && this.messages.size >= this.maxMessages) return { action: 'throttled', limit: 'maxRetainedMessages' };
    const bytes = this.bytes - (old ? cost(old.topic, old.payload, old.propertyBytes) : 0) + cost(message.topic, message.payload, message.propertyBytes);
    if (bytes > this.maxBytes) return { action: 'throttled', limit: 'maxRetainedBytes' };
    return undefined;
  }

  /** Applies a RETAIN publish: stores (replacing), deletes on an empty payload, or reports the quota full. */
  apply(message: Pick<Message, 'topic' | 'payload' | 'qos' | 'properties' | 'propertyBytes' | 'expiresAt'>, now: number): RetainOutcome {
    const { topic, payload } = message;
    const old = this.messages.get(topic);
    if (payload.length === 0) {
      if (!old) return { action: 'none' };
      this.delete(old);
      return { action: 'deleted' };
    }
    const refused = this.admit(message);
    if (refused) return refused;
    if (old) this.bytes -= cost(old.topic, old.payload, old.propertyBytes);
    // A copy: the publisher's buffer is not ours to keep (mqtt-packet may reuse it).
    const kept: RetainedMessage = { topic, payload: Buffer.from(payload), qos: message.qos, lastModifiedTime: now };
    if (message.properties) kept.properties = message.properties;
    if (message.propertyBytes) kept.propertyBytes = message.propertyBytes;
    if (message.expiresAt !== undefined) kept.expiresAt = message.expiresAt;
    this.messages.set(topic, kept);
    this.bytes += cost(topic, payload, message.propertyBytes);
    return { action: 'stored', replaced: old !== undefined };
  }

  private delete(old: RetainedMessage): void {
    this.messages.delete(old.topic);
    this.bytes -= cost(old.topic, old.payload, old.propertyBytes);
  }

  /** The topic's message; one whose MQTT 5 Message Expiry passed (at `now`) is deleted and not returned. */
  get(topic: string, now?: number): RetainedMessage | undefined {
    const kept = this.messages.get(topic);
    if (kept && now !== undefined && kept.expiresAt !== undefined && kept.expiresAt <= now) {
      this.delete(kept);
      return undefined;
    }
    return kept;
  }

  /** Every stored message's summary, by topic (sorted, so a test's expectation does not depend on timing); expired ones deleted first. */
  list(now?: number): RetainedSummary[] {
    if (now !== undefined) {
      for (const kept of [...this.messages.values()]) if (kept.expiresAt !== undefined && kept.expiresAt <= now) this.delete(kept);
    }
    return [...this.messages.values()]
      .map(({ topic, payload, qos, lastModifiedTime }) => ({ topic, payloadSize: payload.length, qos, lastModifiedTime }))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  clear(): void {
    this.messages.clear();
    this.bytes = 0;
  }
}
