/**
 * The retained-message store (profile `current`, reactions.retain: 'store'), with AWS's rules
 * (aws-iot-behaviour.md §1.7): one message per topic, the newest replacing the older; an empty payload
 * deletes; the account's quota on stored messages (limits.maxRetainedMessages) and a bound in bytes
 * (limits.maxRetainedBytes). It lives as long as the endpoint. State only: the broker decides what to send.
 */
import type { Message } from '../session/session';

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** When it was stored (endpoint clock, ms since the epoch): AWS's `lastModifiedTime`. */
  lastModifiedTime: number;
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

/** What a retained message costs to keep: payload and topic, as the session counts messages. */
function cost(topic: string, payload: Buffer): number {
  return payload.length + topic.length;
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
  admit(message: Pick<Message, 'topic' | 'payload'>): RetainOutcome | undefined {
    if (message.payload.length === 0) return undefined;
    const old = this.messages.get(message.topic);
    // AWS: when the account's quota is full, RETAIN publishes with a payload are throttled "until the count
    // drops"; one that replaces a topic's message does not add to the count.
    if (!old && this.messages.size >= this.maxMessages) return { action: 'throttled', limit: 'maxRetainedMessages' };
    const bytes = this.bytes - (old ? cost(old.topic, old.payload) : 0) + cost(message.topic, message.payload);
    if (bytes > this.maxBytes) return { action: 'throttled', limit: 'maxRetainedBytes' };
    return undefined;
  }

  /** Applies a RETAIN publish: stores (replacing), deletes on an empty payload, or reports the quota full. */
  apply(message: Pick<Message, 'topic' | 'payload' | 'qos'>, now: number): RetainOutcome {
    const { topic, payload } = message;
    const old = this.messages.get(topic);
    if (payload.length === 0) {
      if (!old) return { action: 'none' };
      this.messages.delete(topic);
      this.bytes -= cost(old.topic, old.payload);
      return { action: 'deleted' };
    }
    const refused = this.admit(message);
    if (refused) return refused;
    if (old) this.bytes -= cost(old.topic, old.payload);
    // A copy: the publisher's buffer is not ours to keep (mqtt-packet may reuse it).
    this.messages.set(topic, { topic, payload: Buffer.from(payload), qos: message.qos, lastModifiedTime: now });
    this.bytes += cost(topic, payload);
    return { action: 'stored', replaced: old !== undefined };
  }

  get(topic: string): RetainedMessage | undefined {
    return this.messages.get(topic);
  }

  /** Every stored message's summary, by topic (sorted, so a test's expectation does not depend on timing). */
  list(): RetainedSummary[] {
    return [...this.messages.values()]
      .map(({ topic, payload, qos, lastModifiedTime }) => ({ topic, payloadSize: payload.length, qos, lastModifiedTime }))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  clear(): void {
    this.messages.clear();
    this.bytes = 0;
  }
}
