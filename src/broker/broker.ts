/**
 * The broker: sessions, the subscription index, routing, takeover, wills and lifecycle events.
 * Connections call into it; it knows nothing of sockets.
 */
import type { Profile } from '../aws/profile';
import {
  type SessionFacts,
  connectedPayload,
  disconnectedPayload,
  hasLifecycleEvents,
  lifecycleTopics,
  principalFor,
  subscriptionPayload,
} from '../aws/lifecycle';
import type { ChaosEngine } from '../chaos/engine';
import { streamFor } from '../chaos/prng';
import type { ChaosTag } from '../chaos/types';
import type { Clock } from '../clock/clock';
import { type Message, Session } from '../session/session';
import type { DisconnectReason } from '../trace/entry';
import type { TraceRecorder } from '../trace/recorder';
import { TopicIndex } from './topic-index';
import { type TopicProblem, checkTopicName } from './topics';

/** What the broker needs of a live connection. */
export interface BrokerConnection {
  readonly connectionId: number;
  readonly clientId: string | undefined;
  readonly session: Session | undefined;
  readonly remoteAddress: string;
  close(reason: DisconnectReason, options?: { publishWill?: boolean }): void;
}

export interface ClientInfo {
  clientId: string;
  connectionId: number;
  cleanSession: boolean;
  sessionIdentifier: string;
  subscriptions: { topic: string; qos: 0 | 1 }[];
  /** QoS 1 messages sent and not yet acknowledged. */
  inflight: number;
  /** QoS 1 messages waiting for room in flight. */
  queued: number;
}

export class Broker {
  readonly index = new TopicIndex<Session>();
  readonly sessions = new Map<string, Session>();
  /** Live connections that completed CONNECT, by client id. */
  readonly online = new Map<string, BrokerConnection>();
  private readonly versions = new Map<string, number>();
  private readonly sessionCounts = new Map<string, number>();
  private readonly assignedIds;
  /** The chaos engine, once chaos was configured; undefined means no chaos work at all. */
  chaos: ChaosEngine | undefined;
  closed = false;

  constructor(
    readonly profile: Profile,
    readonly clock: Clock,
    readonly trace: TraceRecorder,
    readonly seed: number,
  ) {
    this.assignedIds = streamFor(seed, 'assigned-client-ids');
  }

  /** A client id for a client that sent an empty one. */
  assignClientId(): string {
    return `fake-aws-iot-${this.assignedIds.uuid()}`;
  }

  /** Finds or creates the session for a CONNECT. Returns the session and whether it was resumed. */
  openSession(clientId: string, cleanSession: boolean): { session: Session; resumed: boolean } {
    const existing = this.sessions.get(clientId);
    if (existing) {
      existing.expiry?.cancel();
      existing.expiry = undefined;
      if (!cleanSession && existing.persistent) return { session: existing, resumed: true };
      this.dropSession(existing); // [MQTT-3.1.2-6] a clean start discards the old session.
    }
    const n = (this.sessionCounts.get(clientId) ?? 0) + 1;
    this.sessionCounts.set(clientId, n);
    const { limits } = this.profile;
    const session = new Session(
      clientId,
      !cleanSession,
      streamFor(this.seed, `session:${clientId}:${n}`).uuid(),
      limits.maxInflightMessages,
      limits.maxQueuedMessages,
    );
    this.sessions.set(clientId, session);
    return { session, resumed: false };
  }

  /** The connection left: a clean session ends now, a persistent one waits for its expiry. */
  releaseSession(session: Session): void {
    session.detach();
    if (!session.persistent || this.closed) {
      this.dropSession(session);
      return;
    }
    session.expiry = this.clock.setTimeout(() => this.endSession(session, 'expired'), this.profile.limits.sessionExpirySeconds * 1000);
  }

  /** Ends a stored session for good and says so in the trace. */
  endSession(session: Session, reason: 'expired' | 'discarded'): void {
    this.dropSession(session);
    this.trace.record({ kind: 'event', event: 'session-ended', clientId: session.clientId, reason });
  }

  /** Starts matching `filter` for the session: now, or after `delayMs` (chaos: subscriptionDelay). */
  activate(session: Session, filter: string, qos: 0 | 1, connectionId: number, delayMs = 0, tag?: ChaosTag): void {
    session.cancelActivation(filter);
    const start = () => {
      session.activations.delete(filter);
      this.index.add(filter, session, qos);
      if (this.trace.active) {
        this.trace.record({ kind: 'event', event: 'subscription-active', connectionId, clientId: session.clientId, topic: filter, qos, delayedMs: delayMs, ...(tag ? { chaos: tag } : {}) });
      }
    };
    if (delayMs > 0) session.activations.set(filter, this.clock.setTimeout(start, delayMs));
    else start();
  }

  /** Stops matching `filter` for the session (also a subscription still waiting to start). */
  deactivate(session: Session, filter: string): void {
    session.cancelActivation(filter);
    this.index.remove(filter, session);
  }

  dropSession(session: Session): void {
    session.expiry?.cancel();
    session.expiry = undefined;
    for (const filter of session.activations.keys()) session.cancelActivation(filter);
    for (const filter of session.subscriptions.keys()) this.index.remove(filter, session);
    session.subscriptions.clear();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  /** Topic names already found valid (limits never change while the endpoint runs). */
  private readonly validTopics = new Set<string>();

  /** checkTopicName, remembering the topics that passed. */
  checkTopic(topic: string): TopicProblem | undefined {
    if (this.validTopics.has(topic)) return undefined;
    const problem = checkTopicName(topic, this.profile.limits);
    if (!problem) {
      if (this.validTopics.size >= 10_000) this.validTopics.clear();
      this.validTopics.add(topic);
    }
    return problem;
  }

  /** Sends a message to every matching subscription, at min(publish QoS, granted QoS). */
  route(topic: string, payload: Buffer, qos: 0 | 1): void {
    if (this.closed) return;
    const matched = this.index.match(topic);
    for (const [session, granted] of matched) {
      const message: Message = { topic, payload, qos: qos < granted ? qos : granted };
      if (!session.deliver(message) && message.qos === 1) {
        this.trace.record({ kind: 'event', event: 'dropped', clientId: session.clientId, topic, reason: 'queue-full' });
      }
    }
  }

  /** A message that no client sent (API, will, lifecycle): traced, then routed. */
  publishFromBroker(origin: 'api' | 'will' | 'lifecycle', topic: string, payload: Buffer, qos: 0 | 1, clientId?: string): void {
    if (this.closed) return;
    if (this.trace.active) this.trace.record({ kind: 'event', event: 'publish', origin, topic, qos, payload, clientId });
    this.route(topic, payload, qos);
  }

  // ---- lifecycle events -------------------------------------------------------------------

  /** Numbers a new connection of the session's client (versionNumber) and returns the facts its events carry. */
  nextLifecycleFacts(session: Session): SessionFacts {
    const previous = this.versions.get(session.clientId);
    const versionNumber = previous === undefined ? 0 : previous + 1;
    this.versions.set(session.clientId, versionNumber);
    return {
      clientId: session.clientId,
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: principalFor(session.clientId),
      versionNumber,
    };
  }

  private lifecycle(clientId: string, topic: string, body: object): void {
    if (!this.profile.reactions.lifecycleEvents || !hasLifecycleEvents(clientId)) return;
    this.publishFromBroker('lifecycle', topic, Buffer.from(JSON.stringify(body)), this.profile.reactions.lifecycleQos, clientId);
  }

  connected(facts: SessionFacts, ipAddress: string): void {
    this.lifecycle(facts.clientId, lifecycleTopics.connected(facts.clientId), connectedPayload(facts, this.clock.now(), ipAddress));
  }

  disconnected(facts: SessionFacts, reason: DisconnectReason): void {
    this.lifecycle(facts.clientId, lifecycleTopics.disconnected(facts.clientId), disconnectedPayload(facts, this.clock.now(), reason));
  }

  subscriptionChanged(facts: SessionFacts, eventType: 'subscribed' | 'unsubscribed', topics: string[]): void {
    const topic = eventType === 'subscribed' ? lifecycleTopics.subscribed(facts.clientId) : lifecycleTopics.unsubscribed(facts.clientId);
    this.lifecycle(facts.clientId, topic, subscriptionPayload(facts, this.clock.now(), eventType, topics));
  }

  /** Endpoint shutdown: forgets every session and cancels every session timer. */
  close(): void {
    this.closed = true;
    for (const session of [...this.sessions.values()]) this.dropSession(session);
  }

  // ---- the handle's view ------------------------------------------------------------------

  clients(): ClientInfo[] {
    return [...this.online.values()].map((c) => {
      const s = c.session!;
      return {
        clientId: c.clientId!,
        connectionId: c.connectionId,
        cleanSession: !s.persistent,
        sessionIdentifier: s.sessionIdentifier,
        subscriptions: [...s.subscriptions].map(([topic, qos]) => ({ topic, qos })),
        inflight: s.inflight.size,
        queued: s.pending.length,
      };
    });
  }
}
