/**
 * The broker: owns the sessions, the subscription index, the clients online, routing, takeover, wills
 * and lifecycle events. Handlers call its commands (attach, subscribe, publish, ack, detach); it reaches
 * a connected client only through the narrow `ClientLink` the client attached with, and knows nothing
 * of sockets or packets.
 */
import type { Profile } from '../aws/profile';
import type { AuthAction, AuthSubject, Authorization, ResourceKind } from '../auth/authorization';
import type { Authorizers } from '../auth/authorizers';
import {
  type SessionFacts,
  connectFailedPayload,
  connectedPayload,
  disconnectedPayload,
  hasLifecycleEvents,
  lifecycleTopics,
  principalFor,
  subscriptionPayload,
} from '../aws/lifecycle';
import type { ChaosEngine, ConnectionChaos, Decided } from '../chaos/engine';
import { type RandomStream, streamFor } from '../chaos/prng';
import type { ChaosTag } from '../chaos/types';
import type { Clock, TimerHandle } from '../clock/clock';
import { ByteBudget, DROPPED, type Message, Session, type SessionLimits, messageBytes, ownPayload } from '../session/session';
import { TopicIndex, topicMatcher } from '../topics/topic-index';
import { isShared } from '../topics/shared';
import { type RetainOutcome, RetainedStore } from './retained';
import { RateBuckets } from './throttle';
import { type ShadowResponse, ShadowService, type ShadowTopic, parseShadowTopic } from '../services/shadow';
import { type JobsTopic, parseJobsTopic } from '../services/jobs';
import { JobsRuntime } from '../services/jobs-runtime';
import { JOBS_ERROR_CODES } from '../chaos/types';
import { guarded, guardedMicrotask } from '../clock/clock';
import { basicIngest } from '../topics/reserved';
import { type TopicProblem, checkTopicName } from '../topics/validate';
import type { AuthorizationEvent, DisconnectReason } from '../trace/entry';
import type { TraceRecorder } from '../trace/recorder';

/** What the broker needs of a connected client. */
export interface ClientLink {
  readonly connectionId: number;
  /** Set before the client attaches. */
  readonly clientId: string | undefined;
  readonly remoteAddress: string;
  /** What AWS puts in this connection's lifecycle events as principalIdentifier (the certificate id on mTLS, an IAM-style id for SigV4); absent on plain TCP. */
  readonly principalIdentifier?: string;
  /** Bytes written to the client and not yet taken by it (and held back by the byte rate). */
  readonly bufferedBytes: number;
  /** 4 (MQTT 3.1.1) or 5 (MQTT 5). Absent: 4. */
  readonly protocolVersion?: 4 | 5;
  /**
   * Whether the client takes a PUBLISH of this message: false when it is larger than the client's MQTT 5
   * Maximum Packet Size (AWS: such a message is not sent to it, §1.11). Absent: always.
   */
  fits?(message: Message): boolean;
  /**
   * Whether a new message may go to the client under its PUBLISH rate (limits.maxPublishesPerSecond, in +
   * out). When not, the link has recorded the throttling (and closed the connection if the profile says so).
   */
  mayDeliver(topic: string): boolean;
  /**
   * Whether a message could go to the client now under its PUBLISH rate, without taking a token or recording
   * anything (a shared-subscription group looks for a member that is not over its rate).
   */
  canDeliver(): boolean;
  /**
   * Sends a PUBLISH to the client. The broker never sets DUP (AWS: "the MQTT DUP flag is not supported").
   * `repeat`: a QoS 1 message sent again (retry, resumed session), not a new delivery for chaos to copy.
   */
  sendPublish(message: Message, messageId: number | undefined, repeat?: boolean): void;
  /** This connection's chaos state, when chaos is on (decisions about what the client asked, e.g. shadowErrors). */
  chaos?(): ConnectionChaos | undefined;
  /** The connection as IoT policies see it (principal, policy variables); absent: no principal, the client id only. */
  readonly auth?: AuthSubject;
  /** The thing the connection's certificate is attached to, when there is one (lifecycle events carry it). */
  readonly thingName?: string;
  /** Ends the connection from the server side. The connection then reports back with `detach()`. */
  close(reason: DisconnectReason, options?: CloseOptions): void;
}

export interface CloseOptions {
  /**
   * False: the will is not published (DeleteConnection's preventWillMessage). True: it is, even after the
   * client's DISCONNECT (MQTT 5 reason 0x04 "Disconnect with Will Message"). Absent: AWS's rule (§3.2).
   */
  publishWill?: boolean;
  /** MQTT 5 clients: the DISCONNECT reason code sent before the socket closes (default: one for the lifecycle reason). */
  reasonCode?: number;
  /** MQTT 5 clients: the DISCONNECT's reason string (sent unless the client asked for no problem information). */
  reasonString?: string;
  /** Set when chaos ended the connection. */
  chaos?: ChaosTag;
}

/** What a CONNECT asks of the broker, once the handler found it acceptable. */
export interface AttachRequest {
  clientId: string;
  /** MQTT 3.1.1: Clean Session. MQTT 5: Clean Start (whether an existing session is discarded). */
  cleanSession: boolean;
  /** How long the session outlives the connection, in seconds (0: it ends with the connection). Default (MQTT
   *  3.1.1): 0 for a clean session, limits.sessionExpirySeconds for a persistent one. */
  sessionExpirySeconds?: number;
  /** The connection's protocol version (AWS: a session is not resumed across versions). Default 4. */
  protocolVersion?: 4 | 5;
  /** MQTT 5 Receive Maximum: outbound QoS 1 in flight is the lower of it and limits.maxInflightMessages. */
  receiveMaximum?: number;
  will: Message | undefined;
}

/** A subscription the SUBSCRIBE handler accepted. */
export interface SubscriptionRequest {
  filter: string;
  qos: 0 | 1;
}

/** For a new subscription: how long after SUBACK it starts matching (chaos: subscriptionDelay). */
export type ActivationDelay = (filter: string) => { value: number; tag: ChaosTag } | undefined;

/** A message that reached an AWS IoT rule by basic ingest. */
export interface RuleMessage {
  ruleName: string;
  /** The topic the rule sees: without the `$aws/rules/<ruleName>/` prefix. */
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** The client that published it (absent for `iot.publish()`). */
  clientId?: string;
}

export interface ClientInfo {
  clientId: string;
  connectionId: number;
  /** 4 (MQTT 3.1.1) or 5 (MQTT 5). */
  protocolVersion: 4 | 5;
  /** Whether the session ends with the connection (MQTT 5: Session Expiry Interval 0). */
  cleanSession: boolean;
  /** How long the session outlives the connection, in seconds (0 for a clean session). */
  sessionExpirySeconds: number;
  sessionIdentifier: string;
  subscriptions: { topic: string; qos: 0 | 1 }[];
  /** QoS 1 messages sent and not yet acknowledged. */
  inflight: number;
  /** QoS 1 messages waiting: for room in flight, or stored ones still to come at limits.storedMessagesPerSecond. */
  queued: number;
}

interface Online {
  link: ClientLink;
  session: Session;
  facts: SessionFacts;
  will: Message | undefined;
  /** False between attach() and ready(): the CONNACK is not out yet, so nothing is sent. */
  live: boolean;
  /** Armed while QoS 1 messages to this client wait for their PUBACK. */
  retry?: TimerHandle;
  /** Armed while the resumed session's stored messages go out at limits.storedMessagesPerSecond. */
  stored?: TimerHandle;
}

/** Per-client counters kept after the client left (lifecycle versionNumber, session numbering). */
interface ClientHistory {
  version: number;
  sessions: number;
  /** When its last connection ended (endpoint clock); undefined while one is open. */
  leftAt: number | undefined;
}

/** A message waiting for a shared-subscription group (no member online, or all over their rate). */
interface GroupQueued {
  message: Message;
  /** When it was queued (endpoint clock): it is kept for limits.sessionExpirySeconds. */
  at: number;
}

/**
 * A shared-subscription group: everyone subscribed to one `$share/{ShareName}/{TopicFilter}` (AWS, §1.12).
 * Each message goes to one online member picked from the group's own random stream (seeded, so a seed
 * replays the picks); QoS 1 messages wait here while no member can take them, when a member is persistent.
 */
interface ShareGroup {
  /** The full filter, `$share/{ShareName}/{TopicFilter}`. */
  key: string;
  /** The topic filter the group matches with. */
  filter: string;
  /** Members in the order they joined, with their granted QoS. */
  members: Map<Session, 0 | 1>;
  queue: GroupQueued[];
  /** Bytes of the queue, counted in the endpoint's budget. */
  bytes: number;
  stream: RandomStream;
  /** Armed while queued messages go out at limits.sharedQueueMessagesPerSecond. */
  drain?: TimerHandle;
}

/**
 * A connection's facts for its lifecycle events. The session id and the plain-TCP principal (a SHA-256 each)
 * are worked out when an event is first built: with nobody listening for lifecycle events, never.
 */
class LazyFacts implements SessionFacts {
  readonly clientId: string;
  private principal: string | undefined;

  constructor(
    private readonly session: Session,
    readonly versionNumber: number,
  ) {
    this.clientId = session.clientId;
  }

  get sessionIdentifier(): string {
    return this.session.sessionIdentifier;
  }

  get principalIdentifier(): string {
    return (this.principal ??= principalFor(this.clientId));
  }

  set principalIdentifier(principal: string) {
    this.principal = principal;
  }
}

/** Client ids whose history is remembered by default; the least recently connected are forgotten first. */
export const MAX_CLIENT_HISTORY = 65_536;

/** Topic names remembered as valid (the profile never changes while the endpoint runs). */
const MAX_VALID_TOPICS = 10_000;

/** Whether a connection ending for `reason` publishes its will: not after the client's own DISCONNECT [MQTT-3.1.2-10]. */
export function publishesWill(reason: DisconnectReason, options: CloseOptions = {}): boolean {
  return options.publishWill ?? reason !== 'CLIENT_INITIATED_DISCONNECT';
}

/** Whether an MQTT 5 message's expiry passed (AWS: expired messages are not delivered, §1.6, §1.11). */
/**
 * A client's copy of a message entering the broker: RETAIN cleared, at `qos`, with the MQTT 5 fields that
 * travel. Built as a literal (not a spread): this runs once per delivery, and one object shape keeps it fast.
 */
function copyOf(inbound: Message, qos: 0 | 1): Message {
  const copy: Message = { topic: inbound.topic, payload: inbound.payload, qos };
  if (inbound.properties !== undefined) copy.properties = inbound.properties;
  if (inbound.propertyBytes !== undefined) copy.propertyBytes = inbound.propertyBytes;
  if (inbound.expiresAt !== undefined) copy.expiresAt = inbound.expiresAt;
  return copy;
}

function expired(message: Message, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now;
}

export class Broker {
  private readonly index: TopicIndex<Session>;
  /** Shared-subscription groups by their topic filter, and by their full `$share/...` filter. */
  private readonly sharedIndex: TopicIndex<ShareGroup>;
  private readonly groups = new Map<string, ShareGroup>();
  /** Retained messages (reactions.retain: 'store'); undefined when the profile does not store them. */
  readonly retained: RetainedStore | undefined;
  private readonly sessions = new Map<string, Session>();
  /** Clients whose CONNECT was accepted and whose connection is open, by client id. */
  private readonly online = new Map<string, Online>();
  private readonly history = new Map<string, ClientHistory>();
  private readonly validTopics = new Set<string>();
  private readonly assignedIds;
  /** What sessions and sockets together may hold (limits.maxTotalQueuedBytes). */
  readonly budget: ByteBudget;
  /** The bounds every session gets (one object for all). */
  private readonly sessionLimits: SessionLimits;
  /** CONNECTs per client id (limits.maxConnectsPerSecondPerClientId); undefined while throttles are off. */
  private readonly connects: RateBuckets | undefined;
  /** Shadow requests per thing (limits.shadowRequestsPerSecondPerThing); undefined while throttles are off. */
  private readonly shadowRates: RateBuckets | undefined;
  /** The Device Shadow service: answers what is published to `$aws/things/{thing}/shadow/.../(get|update|delete)`. */
  readonly shadows: ShadowService;
  /** AWS IoT Jobs: answers what clients publish under `$aws/things/{thing}/jobs/`, and `iot.jobs` / the data plane. */
  readonly jobs: JobsRuntime;
  /** The chaos engine, once chaos was configured; undefined means no chaos work at all. */
  chaos: ChaosEngine | undefined;
  /** The endpoint's IoT policies, once any was configured; undefined: everything is allowed, and nothing is checked. */
  authz: Authorization | undefined;
  /** The endpoint's custom authorizers (options.authorizers); connections ask them at CONNECT. */
  authorizers: Authorizers | undefined;
  private closed = false;

  constructor(
    readonly profile: Profile,
    readonly clock: Clock,
    readonly trace: TraceRecorder,
    private readonly seed: number,
    /** Bound on the per-client history (a client forgotten starts again at versionNumber 0). */
    private readonly maxClientHistory = MAX_CLIENT_HISTORY,
  ) {
    this.assignedIds = streamFor(seed, 'assigned-client-ids');
    this.budget = new ByteBudget(profile.limits.maxTotalQueuedBytes);
    const { limits } = profile;
    this.sessionLimits = { maxInflight: limits.maxInflightMessages, maxQueued: limits.maxQueuedMessages, maxBytes: limits.maxQueuedBytes, maxBuffered: limits.maxBufferedBytes };
    this.index = new TopicIndex<Session>({ hashMatchesParent: profile.reactions.hashMatchesParent });
    this.sharedIndex = new TopicIndex<ShareGroup>({ hashMatchesParent: profile.reactions.hashMatchesParent });
    if (profile.reactions.retain === 'store') this.retained = new RetainedStore(limits.maxRetainedMessages, limits.maxRetainedBytes);
    this.reservedPublishAllowed = topicMatcher(profile.reserved.publish);
    if (profile.reactions.throttles) {
      this.connects = new RateBuckets(limits.maxConnectsPerSecondPerClientId);
      this.shadowRates = new RateBuckets(limits.shadowRequestsPerSecondPerThing);
    }
    this.shadows = new ShadowService(limits, profile.reactions.shadowDeltaOnReportedUpdate);
    // AWS does not say at which QoS Jobs notifications go out [UNVERIFIED]: 1, so a subscriber's grant decides.
    this.jobs = new JobsRuntime(limits, { clock, trace, publish: (topic, payload) => this.publishFromBroker('jobs', topic, payload, 1) });
  }

  /** AWS: shadow requests for one thing are limited per second (MQTT and HTTP together); false when over. */
  admitShadowRequest(thingName: string): boolean {
    return this.shadowRates === undefined || this.shadowRates.take(thingName, this.clock.now());
  }

  /** AWS: CONNECTs with one client id are limited per second; false when this one is over the limit. */
  admitConnect(clientId: string): boolean {
    return this.connects === undefined || this.connects.take(clientId, this.clock.now());
  }

  /**
   * Whether an IoT policy lets the connection do `action` on the resource (aws-iot-behaviour.md §6.1). Always
   * true while no policy is configured. A denial is recorded (`authorization` event) with `reaction`, what the
   * caller does about it.
   */
  authorize(link: ClientLink, action: AuthAction, kind: ResourceKind, name: string, reaction: AuthorizationEvent['reaction']): boolean {
    const authz = this.authz;
    if (authz === undefined) return true;
    const subject = link.auth ?? this.plainSubject(link);
    if (!authz.applies(subject)) return true;
    const decision = authz.check(subject, action, kind, name);
    if (decision.allowed) return true;
    if (this.trace.active) {
      this.trace.record({
        kind: 'event', event: 'authorization', connectionId: link.connectionId, clientId: link.clientId, action, resource: decision.resource, allowed: false,
        ...(decision.statement !== undefined ? { statement: decision.statement } : {}), reason: decision.reason, reaction,
      });
    }
    return false;
  }

  /** A link without an AuthSubject of its own (no principal): its client id and address only. */
  private plainSubject(link: ClientLink): AuthSubject {
    let subject = this.plainSubjects.get(link);
    if (!subject) this.plainSubjects.set(link, (subject = { principal: undefined, context: () => ({ clientId: link.clientId ?? '', sourceIp: link.remoteAddress }) }));
    return subject;
  }

  private readonly plainSubjects = new WeakMap<ClientLink, AuthSubject>();

  /**
   * AWS (§3.3): a client that may not connect, or may not publish its will, is refused, and
   * `$aws/events/presence/connect_failed/{clientId}` says so (AUTHORIZATION_FAILED).
   */
  connectFailed(link: ClientLink, clientId: string): void {
    const { reactions } = this.profile;
    if (!reactions.lifecycleEvents || !hasLifecycleEvents(clientId)) return;
    const payload = connectFailedPayload({
      clientId,
      ...(link.thingName !== undefined ? { thingName: link.thingName } : {}),
      principalIdentifier: link.principalIdentifier ?? principalFor(clientId),
      sessionIdentifier: (this.failedSessionIds ??= streamFor(this.seed, 'connect-failed-sessions')).uuid(),
      ipAddress: link.remoteAddress,
    }, this.clock.now());
    this.publishFromBroker('lifecycle', lifecycleTopics.connectFailed(clientId), Buffer.from(JSON.stringify(payload)), reactions.lifecycleQos, clientId);
  }

  /** Session identifiers of refused connections (connect_failed events), made when the first one is. */
  private failedSessionIds: RandomStream | undefined;

  /** A client id for a client that sent an empty one. */
  assignClientId(): string {
    return `fake-aws-iot-${this.assignedIds.uuid()}`;
  }

  // ---- connecting and leaving -----------------------------------------------------------------

  /**
   * A CONNECT was accepted: takes the client id over from a connection that holds it (AWS: the new
   * connection wins, the old one is closed with DUPLICATE_CLIENTID), then resumes or starts the session.
   * Nothing is sent to the client until `ready()`. Returns whether a stored session was resumed.
   */
  attach(link: ClientLink, request: AttachRequest): { sessionPresent: boolean } {
    const { clientId } = request;
    this.online.get(clientId)?.link.close('DUPLICATE_CLIENTID');
    const version = request.protocolVersion ?? 4;
    const expiry = request.sessionExpirySeconds ?? (request.cleanSession ? 0 : this.profile.limits.sessionExpirySeconds);
    // MQTT 3.1.1: Clean Session 0 is a persistent session (even with sessionExpirySeconds 0); MQTT 5: a Session Expiry above 0.
    const { session, resumed } = this.openSession(clientId, request.cleanSession, expiry, version, version === 5 ? expiry > 0 : !request.cleanSession);
    const { maxInflightMessages } = this.profile.limits;
    session.maxInflight = request.receiveMaximum !== undefined && request.receiveMaximum < maxInflightMessages ? request.receiveMaximum : maxInflightMessages;
    this.online.set(clientId, { link, session, facts: this.nextFacts(session), will: request.will, live: false });
    return { sessionPresent: resumed };
  }

  /**
   * The CONNACK is out: publishes the connected lifecycle event, re-sends unacknowledged messages with
   * their packet ids, then what waited while the client was away.
   */
  ready(link: ClientLink): void {
    const client = this.clientOf(link);
    if (!client) return;
    if (link.principalIdentifier !== undefined) client.facts.principalIdentifier = link.principalIdentifier;
    this.lifecycle(client.facts, lifecycleTopics.connected, (f, now) => connectedPayload(f, now, link.remoteAddress));
    client.live = true;
    const now = this.clock.now();
    for (const [id, message] of [...client.session.inflight]) {
      if (expired(message, now) || !this.fits(client, message)) {
        client.session.ack(id);
        this.dropped(client.session.clientId, message, expired(message, now) ? 'expired' : 'too-large');
        continue;
      }
      message.firstSentAt = now; // AWS's retry window counts from this connection, not the last one
      this.sendQos1(client, message, id, true);
    }
    // AWS: what was stored while the client was away goes out at limits.storedMessagesPerSecond, live
    // messages beside it (aws-iot-behaviour.md §1.6). Without throttles it all goes at once.
    if (this.profile.reactions.throttles) {
      client.session.resumeStored();
      this.sendStored(client);
    }
    this.drain(client);
    // A member of a shared-subscription group is online again: what the group queued may go now.
    for (const filter of client.session.subscriptions.keys()) {
      const group = this.shared(filter) ? this.groups.get(filter) : undefined;
      if (group && group.queue.length > 0) this.drainShared(group);
    }
  }

  /** Sends the next stored message of a resumed session, and schedules the one after at AWS's rate. */
  private sendStored(client: Online): void {
    client.stored = undefined;
    if (this.clientOf(client.link) !== client || client.session.stored.length === 0) return;
    const next = client.session.takeStored(); // none while the in-flight window is full: the next turn tries again
    if (next) this.sendTaken(client, next);
    if (client.session.stored.length > 0) {
      client.stored = this.clock.setTimeout(() => this.sendStored(client), 1000 / this.profile.limits.storedMessagesPerSecond);
    }
  }

  /**
   * A connection of an accepted client ended: its session is released (a clean one ends, a persistent
   * one waits for its expiry), its will is published unless it left with DISCONNECT, and the
   * disconnected lifecycle event goes out.
   */
  detach(link: ClientLink, reason: DisconnectReason, options: CloseOptions = {}): void {
    const client = this.clientOf(link);
    if (!client) return;
    const { session, facts, will } = client;
    client.retry?.cancel();
    client.stored?.cancel();
    this.online.delete(session.clientId);
    const history = this.history.get(session.clientId);
    if (history) history.leftAt = this.clock.now();
    this.releaseSession(session);
    if (will && publishesWill(reason, options)) this.publishWill(will, session.clientId, link.connectionId);
    this.lifecycle(facts, lifecycleTopics.disconnected, (f, now) => disconnectedPayload(f, now, reason));
  }

  /**
   * Closes a client's connection from the server (AWS's DeleteConnection API), optionally discarding its
   * stored session too. False when the client was neither connected nor had a session.
   */
  disconnectClient(clientId: string, options: { cleanSession?: boolean; preventWillMessage?: boolean }): boolean {
    const live = this.online.get(clientId);
    if (!live && !this.sessions.has(clientId)) return false;
    live?.link.close('API_INITIATED_DISCONNECT', { publishWill: !options.preventWillMessage });
    const stored = options.cleanSession ? this.sessions.get(clientId) : undefined;
    if (stored) this.endSession(stored, 'discarded');
    return true;
  }

  /**
   * MQTT 5: the client's DISCONNECT changed its Session Expiry Interval (AWS, §1.6): 0 ends the session with
   * the connection; another value replaces the old one (granted up to the profile's maximum).
   */
  setSessionExpiry(link: ClientLink, seconds: number): void {
    const client = this.clientOf(link);
    if (!client) return;
    client.session.expirySeconds = seconds;
    client.session.persistent = seconds > 0;
  }

  // ---- subscriptions ----------------------------------------------------------------------------

  /** The subscriptions of a connected client (filter → granted QoS). */
  subscriptionsOf(link: ClientLink): ReadonlyMap<string, 0 | 1> {
    return this.clientOf(link)?.session.subscriptions ?? new Map();
  }

  /** Adds subscriptions; a new one may start matching later (`delayFor`). Returns the granted QoS of each. */
  subscribe(link: ClientLink, requests: SubscriptionRequest[], delayFor?: ActivationDelay): (0 | 1)[] {
    const client = this.clientOf(link);
    if (!client) return [];
    const { session } = client;
    const granted: (0 | 1)[] = [];
    for (const { filter, qos } of requests) {
      const isNew = !session.subscriptions.has(filter) || session.activations.has(filter);
      session.subscriptions.set(filter, qos);
      const delay = isNew ? delayFor?.(filter) : undefined;
      this.activate(session, filter, qos, link.connectionId, delay?.value, delay?.tag);
      granted.push(qos);
    }
    return granted;
  }

  /** Removes subscriptions; returns, for each filter, whether the client had it. */
  unsubscribe(link: ClientLink, filters: string[]): boolean[] {
    const client = this.clientOf(link);
    if (!client) return filters.map(() => false);
    return filters.map((filter) => {
      if (!client.session.subscriptions.delete(filter)) return false;
      this.deactivate(client.session, filter);
      return true;
    });
  }

  /** After SUBACK / UNSUBACK: the subscribed / unsubscribed lifecycle event. */
  subscriptionsChanged(link: ClientLink, eventType: 'subscribed' | 'unsubscribed', filters: string[]): void {
    const client = this.clientOf(link);
    if (!client) return;
    const topicOf = eventType === 'subscribed' ? lifecycleTopics.subscribed : lifecycleTopics.unsubscribed;
    this.lifecycle(client.facts, topicOf, (f, now) => subscriptionPayload(f, now, eventType, filters));
  }

  /** Starts matching `filter` for the session: now, or after `delayMs` (chaos: subscriptionDelay). */
  private activate(session: Session, filter: string, qos: 0 | 1, connectionId: number, delayMs = 0, tag?: ChaosTag): void {
    session.cancelActivation(filter);
    const start = () => {
      session.activations.delete(filter);
      if (this.shared(filter)) this.joinGroup(session, filter, qos);
      else this.index.add(filter, session, qos);
      if (this.trace.active) {
        this.trace.record({ kind: 'event', event: 'subscription-active', connectionId, clientId: session.clientId, topic: filter, qos, delayedMs: delayMs, ...(tag ? { chaos: tag } : {}) });
      }
      // A subscription that starts late (chaos: subscriptionDelay) gets the retained message when it starts.
      if (delayMs > 0) this.sendRetainedTo(session, filter);
    };
    if (delayMs > 0) session.activations.set(filter, this.clock.setTimeout(start, delayMs));
    else start();
  }

  /** Stops matching `filter` for the session (also a subscription still waiting to start). */
  private deactivate(session: Session, filter: string): void {
    session.cancelActivation(filter);
    this.unindex(session, filter);
  }

  private unindex(session: Session, filter: string): void {
    if (this.shared(filter)) this.leaveGroup(session, filter);
    else this.index.remove(filter, session);
  }

  /** Whether `filter` is a shared subscription under the profile (reactions.sharedSubscriptions). */
  private shared(filter: string): boolean {
    return this.profile.reactions.sharedSubscriptions && isShared(filter);
  }

  // ---- retained messages ----------------------------------------------------------------------

  /**
   * After SUBACK: the retained message of each filter that names a topic exactly goes to the client, with
   * RETAIN set. AWS: never to a wildcard filter, never to a shared-subscription member (§1.7). A SUBSCRIBE
   * repeating a filter gets it again ([MQTT-3.8.4-3]: the subscription is replaced). A subscription that
   * starts late (chaos: subscriptionDelay) gets it when it starts.
   */
  sendRetained(link: ClientLink, filters: string[]): void {
    const client = this.clientOf(link);
    if (!client || !this.retained) return;
    for (const filter of filters) {
      if (!client.session.activations.has(filter)) this.sendRetainedTo(client.session, filter);
    }
  }

  private sendRetainedTo(session: Session, filter: string): void {
    if (!this.retained || this.retained.count === 0 || this.shared(filter) || filter.includes('+') || filter.includes('#')) return;
    const stored = this.retained.get(filter, this.clock.now()); // AWS: an MQTT 5 retained message past its expiry is gone
    const granted = session.subscriptions.get(filter);
    if (!stored || granted === undefined) return;
    const copy: Message = { topic: stored.topic, payload: stored.payload, qos: stored.qos < granted ? stored.qos : granted, retain: true };
    if (stored.properties) copy.properties = stored.properties;
    if (stored.propertyBytes) copy.propertyBytes = stored.propertyBytes;
    if (stored.expiresAt !== undefined) copy.expiresAt = stored.expiresAt;
    this.deliver(session, copy);
  }

  /**
   * A RETAIN publish under retain: 'store': stores the message (an empty payload deletes the topic's), or says
   * the store is full (the caller then throttles the publish: AWS's "throttled" response). Traced.
   */
  retain(message: Message, origin: 'client' | 'will' | 'api', clientId?: string, connectionId?: number): RetainOutcome {
    const store = this.retained;
    if (!store || this.closed) return { action: 'none' };
    const outcome = store.apply(message, this.clock.now());
    if (!this.trace.active) return outcome;
    const who = { ...(clientId !== undefined ? { clientId } : {}), ...(connectionId !== undefined ? { connectionId } : {}) };
    if (outcome.action === 'stored') {
      this.trace.record({ kind: 'event', event: 'retained-stored', ...who, topic: message.topic, qos: message.qos, payloadBytes: message.payload.length, replaced: outcome.replaced, origin, count: store.count, bytes: store.bytes });
    } else if (outcome.action === 'deleted') {
      this.trace.record({ kind: 'event', event: 'retained-deleted', ...who, topic: message.topic, origin, count: store.count, bytes: store.bytes });
    }
    return outcome;
  }

  /** A will goes out as a message the broker publishes; with Will Retain it is stored too (AWS: "Will Retain honoured"). */
  private publishWill(will: Message, clientId: string, connectionId: number): void {
    // AWS: a will's Message Expiry counts from the disconnect (§1.8, §1.11).
    if (will.expiryInterval !== undefined) will = { ...will, expiresAt: this.clock.now() + will.expiryInterval * 1000 };
    if (will.retain && this.retained) {
      const outcome = this.retain(will, 'will', clientId, connectionId);
      if (outcome.action === 'throttled') {
        // The store is full: the will is throttled like a client's RETAIN publish (not stored, not delivered).
        if (this.trace.active) this.trace.record({ kind: 'event', event: 'throttled', connectionId, clientId, limit: outcome.limit, direction: 'in', action: 'discarded', topic: will.topic });
        return;
      }
    }
    const { properties, propertyBytes, expiresAt } = will;
    this.publishFromBroker('will', will.topic, will.payload, will.qos, clientId, { properties, propertyBytes, expiresAt });
  }

  // ---- shared subscriptions -------------------------------------------------------------------

  private joinGroup(session: Session, key: string, qos: 0 | 1): void {
    let group = this.groups.get(key);
    if (!group) {
      const rest = key.slice('$share/'.length);
      const filter = rest.slice(rest.indexOf('/') + 1);
      group = { key, filter, members: new Map(), queue: [], bytes: 0, stream: streamFor(this.seed, `share:${key}`) };
      this.groups.set(key, group);
      this.sharedIndex.add(filter, group, 1);
    }
    group.members.set(session, qos);
    if (group.queue.length > 0) this.drainShared(group);
  }

  private leaveGroup(session: Session, key: string): void {
    const group = this.groups.get(key);
    if (!group || !group.members.delete(session) || group.members.size > 0) return;
    // The last member left (unsubscribed, or its session ended): the group and what it queued are gone.
    this.groups.delete(key);
    this.sharedIndex.remove(group.filter, group);
    group.drain?.cancel();
    for (const { message } of group.queue) this.droppedShared(group, message, 'no-member');
    this.budget.used -= group.bytes;
    group.queue = [];
    group.bytes = 0;
  }

  /** The members a message can go to now: online, past CONNACK, and not over their PUBLISH rate. */
  private available(group: ShareGroup): { live: number; ready: [Session, 0 | 1][] } {
    let live = 0;
    const ready: [Session, 0 | 1][] = [];
    for (const [session, qos] of group.members) {
      const client = this.online.get(session.clientId);
      if (!client || !client.live || client.session !== session) continue;
      live++;
      if (client.link.canDeliver()) ready.push([session, qos]);
    }
    return { live, ready };
  }

  /** One of the members that can take a message now, picked from the group's seeded stream. */
  private pick(group: ShareGroup, ready: [Session, 0 | 1][]): [Session, 0 | 1] {
    return ready[group.stream.int(0, ready.length - 1)]!;
  }

  /**
   * A message for a group: to one member picked at random (the group's seeded stream) among those that can
   * take it now. AWS (§1.12): when none can, a QoS 1 message waits in the group's queue if a member is
   * persistent; otherwise (and always for QoS 0) it is dropped.
   */
  private toGroup(group: ShareGroup, message: Message): void {
    if (group.queue.length === 0) {
      const { ready } = this.available(group);
      if (ready.length > 0) {
        const [session, granted] = this.pick(group, ready);
        this.deliver(session, { ...message, qos: message.qos < granted ? message.qos : granted });
        return;
      }
    }
    const queueable = message.qos === 1 && [...group.members.keys()].some((s) => s.persistent);
    if (!queueable) return this.droppedShared(group, message, 'no-member');
    const size = messageBytes(message);
    if (group.queue.length >= this.profile.limits.maxSharedQueuedMessages || this.budget.used + size > this.budget.max) {
      return this.droppedShared(group, message, 'queue-full'); // AWS: overflow drops the new messages
    }
    // Kept until a member takes it: its own bytes, not a view pinning the socket read it came in (as sessions keep theirs).
    const payload = ownPayload(message.payload);
    group.queue.push({ message: payload === message.payload ? message : { ...message, payload }, at: this.clock.now() });
    group.bytes += size;
    this.budget.used += size;
    this.drainShared(group);
  }

  /**
   * Sends what a group queued to members that can take it: at limits.sharedQueueMessagesPerSecond per online
   * member while throttles are on (AWS: 20/s per active member), all at once without. Stops while no member
   * is online; a member coming online (or joining) starts it again.
   */
  private drainShared(group: ShareGroup): void {
    if (group.drain || this.closed) return;
    const throttled = this.profile.reactions.throttles;
    const keepFor = this.profile.limits.sessionExpirySeconds * 1000;
    for (;;) {
      const now = this.clock.now();
      // AWS: a queued message is kept as long as a persistent session would be, or for its MQTT 5 Message
      // Expiry when it has one ("MEI wins", §1.12).
      while (group.queue.length > 0 && (group.queue[0]!.message.expiresAt === undefined ? now - group.queue[0]!.at >= keepFor : expired(group.queue[0]!.message, now))) this.takeQueued(group, 'expired');
      if (group.queue.length === 0) return;
      const { live, ready } = this.available(group);
      if (live === 0) return;
      if (ready.length > 0) {
        const [session, granted] = this.pick(group, ready);
        const message = this.takeQueued(group)!;
        this.deliver(session, { ...message, qos: message.qos < granted ? message.qos : granted });
        if (!throttled) continue;
      }
      // The next one at the queue's pace (members over their rate are looked at again then too).
      const wait = throttled ? 1000 / (this.profile.limits.sharedQueueMessagesPerSecond * live) : 10;
      group.drain = this.clock.setTimeout(() => {
        group.drain = undefined;
        if (this.groups.get(group.key) === group) this.drainShared(group);
      }, wait);
      return;
    }
  }

  /** Takes the group's oldest queued message out (recording it as dropped when a reason is given). */
  private takeQueued(group: ShareGroup, dropped?: 'expired'): Message | undefined {
    const head = group.queue.shift();
    if (!head) return undefined;
    const size = messageBytes(head.message);
    group.bytes -= size;
    this.budget.used -= size;
    if (dropped) this.droppedShared(group, head.message, dropped);
    return head.message;
  }

  private droppedShared(group: ShareGroup, message: Message, reason: 'no-member' | 'queue-full' | 'expired'): void {
    if (this.trace.active) this.trace.record({ kind: 'event', event: 'dropped', topic: message.topic, reason, shareGroup: group.key });
  }

  // ---- messages -------------------------------------------------------------------------------

  /** checkTopicName under the profile, remembering the topics that passed. */
  checkTopic(topic: string): TopicProblem | undefined {
    if (this.validTopics.has(topic)) return undefined;
    const problem = checkTopicName(topic, this.profile.limits, this.profile.reactions.basicIngestPrefixExempt);
    if (!problem) {
      if (this.validTopics.size >= MAX_VALID_TOPICS) this.validTopics.clear();
      this.validTopics.add(topic);
    }
    return problem;
  }

  /** Whether a client may publish to a `$` topic (profile.reserved.publish), by AWS's matching rules. */
  readonly reservedPublishAllowed: (topic: string) => boolean;

  /** Listeners for basic-ingest messages, by rule name (`*`: every rule). */
  readonly ruleListeners = new Map<string, Set<(message: RuleMessage) => void>>();

  /**
   * Sends a message to every matching subscription, at min(publish QoS, granted QoS). A basic-ingest topic
   * (`$aws/rules/<rule>/...`) goes to the rule instead, never to subscribers (AWS, aws-iot-behaviour.md §3.1).
   */
  route(inbound: Message, from?: string): void {
    if (this.closed) return;
    const { topic } = inbound;
    if (topic.charCodeAt(0) === 36 /* $ */) {
      const ingest = basicIngest(topic);
      if (ingest) return this.toRule({ ...ingest, payload: inbound.payload, qos: inbound.qos, ...(from !== undefined ? { clientId: from } : {}) });
      // AWS (§5): what a client publishes under `$aws/things/{thing}/jobs/` goes to the Jobs service only, and
      // its answer goes to the requesting connection only, once the request's own handling is done.
      const jobs = from !== undefined ? parseJobsTopic(topic) : undefined;
      if (jobs) {
        const requester = this.online.get(from!)?.link;
        // Chaos (jobsErrors) decides now, in the order requests arrive, whether the service refuses this one.
        const refused = requester && this.chaos ? requester.chaos?.()?.jobsError(topic) : undefined;
        const { payload, qos } = inbound;
        guardedMicrotask(guarded(() => this.answerJobs(jobs, payload, qos, requester, refused), (error) => this.trace.internalError('timer', error)));
        return;
      }
      const shadow = parseShadowTopic(topic);
      // The request goes to its subscribers like any message, and to the shadow service, which answers
      // once the request's own handling is done (its PUBACK out first).
      if (shadow) {
        // Chaos (shadowErrors) decides now, in the order requests arrive, whether the service refuses this one.
        const refused = from !== undefined && this.chaos ? this.online.get(from)?.link.chaos?.()?.shadowError(topic) : undefined;
        // AWS: at most limits.shadowMaxInFlightRequests requests per thing wait for their answer; more is 429.
        const inFlight = (this.shadowsInFlight.get(shadow.thingName) ?? 0) + 1;
        // ... and at most limits.shadowRequestsPerSecondPerThing a second (while throttles are on).
        const overLimit = inFlight > this.profile.limits.shadowMaxInFlightRequests || !this.admitShadowRequest(shadow.thingName);
        if (!overLimit) this.shadowsInFlight.set(shadow.thingName, inFlight);
        const { payload } = inbound;
        guardedMicrotask(guarded(() => {
          if (!overLimit) {
            const left = (this.shadowsInFlight.get(shadow.thingName) ?? 1) - 1;
            if (left > 0) this.shadowsInFlight.set(shadow.thingName, left);
            else this.shadowsInFlight.delete(shadow.thingName);
          }
          this.answerShadow(shadow, payload, refused, overLimit);
        }, (error) => this.trace.internalError('timer', error)));
      }
    }
    // Each client's copy: RETAIN cleared (AWS sets it only on copies for a new subscription), QoS the lower.
    for (const [session, granted] of this.index.match(topic)) {
      this.deliver(session, copyOf(inbound, inbound.qos < granted ? inbound.qos : granted));
    }
    if (this.groups.size > 0) {
      // AWS: every matching group gets a copy (overlapping groups each one), for one of its members.
      const base = copyOf(inbound, inbound.qos);
      for (const group of this.sharedIndex.match(topic).keys()) this.toGroup(group, base);
    }
  }

  /** One client's copy: sent now, queued in its session, or dropped (traced). */
  private deliver(session: Session, message: Message): void {
    const client = this.online.get(session.clientId);
    const live = client !== undefined && client.live && client.session === session;
    // MQTT 5 (§1.11): an expired message is not delivered; one larger than the client's Maximum Packet Size is not sent to it.
    if (message.expiresAt !== undefined && expired(message, this.clock.now())) return this.dropped(session.clientId, message, 'expired');
    if (live && !this.fits(client, message)) return this.dropped(session.clientId, message, 'too-large');
    // AWS (§6.1): iot:Receive is checked at every delivery, so a policy changed since SUBSCRIBE takes effect at once.
    if (live && this.authz !== undefined && !this.authorize(client.link, 'iot:Receive', 'topic', message.topic, 'not-delivered')) return;
    // AWS: a connection's PUBLISH rate counts what it receives too; over it, the message is discarded.
    if (live && !client.link.mayDeliver(message.topic)) return;
    const id = session.offer(message, live, live ? client.link.bufferedBytes : 0);
    if (id > 0) this.sendQos1(client!, message, id);
    else if (id === 0) client!.link.sendPublish(message, undefined);
    else if (id === DROPPED && (message.qos === 1 || live)) {
      // QoS 1 that cannot be kept is dropped, as AWS drops messages over a session's quota; QoS 0 to a
      // client that stopped reading is "zero or more times".
      if (this.trace.active) this.trace.record({ kind: 'event', event: 'dropped', clientId: session.clientId, topic: message.topic, reason: message.qos === 1 ? 'queue-full' : 'slow-consumer' });
    }
  }

  /** Shadow requests published and not answered yet, per thing (limits.shadowMaxInFlightRequests). */
  private readonly shadowsInFlight = new Map<string, number>();

  private answerShadow(request: ShadowTopic, payload: Buffer, refused: Decided | undefined, overLimit: boolean): void {
    if (this.closed) return;
    this.publishShadowResponses(this.shadowRequest(request, payload, refused, overLimit));
  }

  /**
   * Runs a shadow request (or refuses it with chaos's transient error) and records its outcome in the trace
   * (`shadow` event); returns the answers.
   */
  shadowRequest(request: ShadowTopic, payload: Buffer, refused?: Decided, overLimit = false): ShadowResponse[] {
    const now = this.clock.now();
    const code = refused ? refused.value : overLimit ? 429 : undefined;
    const responses = code !== undefined ? this.shadows.refuse(request, payload, code, now) : this.shadows.request(request, payload, now);
    if (this.trace.active) {
      const first = responses[0]!.document as { version?: number; code?: number };
      const rejected = responses[0]!.topic.endsWith('/rejected');
      this.trace.record({
        kind: 'event', event: 'shadow', thingName: request.thingName, ...(request.shadowName !== undefined ? { shadowName: request.shadowName } : {}),
        operation: request.operation, outcome: rejected ? 'rejected' : 'accepted',
        ...(first.version !== undefined ? { version: first.version } : {}), ...(rejected ? { code: first.code } : {}),
        ...(refused ? { chaos: refused.tag } : {}),
      });
    }
    return responses;
  }

  /**
   * Runs a Jobs request; its answer goes to the requesting connection only, whether or not it subscribed, at
   * the request's QoS [UNVERIFIED], through the same outbound path as any delivery (chaos included) — never to
   * other subscribers (AWS, §5). A requester that left meanwhile gets nothing.
   */
  private answerJobs(request: JobsTopic, payload: Buffer, qos: 0 | 1, requester: ClientLink | undefined, refused: Decided | undefined): void {
    if (this.closed) return;
    const client = requester && this.clientOf(requester);
    const who = client ? { clientId: client.session.clientId, connectionId: client.link.connectionId } : undefined;
    const code = refused ? { code: JOBS_ERROR_CODES[refused.value]!, tag: refused.tag } : undefined;
    this.jobs.mqtt(request, payload, who, code, ({ topic, document }) => {
      if (!client) return;
      const answer = Buffer.from(JSON.stringify(document));
      if (this.trace.active) this.trace.record({ kind: 'event', event: 'publish', origin: 'jobs', topic, qos, payload: answer, ...who! });
      this.deliver(client.session, { topic, payload: answer, qos });
    });
  }

  /** Whether the client takes this message (its MQTT 5 Maximum Packet Size). */
  private fits(client: Online, message: Message): boolean {
    return client.link.fits?.(message) ?? true;
  }

  private dropped(clientId: string, message: Message, reason: 'expired' | 'too-large'): void {
    if (this.trace.active) this.trace.record({ kind: 'event', event: 'dropped', clientId, topic: message.topic, reason });
  }

  /** Publishes the shadow service's answers to their subscribers. */
  publishShadowResponses(responses: ShadowResponse[]): void {
    // AWS does not say at which QoS shadow responses go out [UNVERIFIED]: 1, so a subscriber's grant decides.
    for (const { topic, document } of responses) this.publishFromBroker('shadow', topic, Buffer.from(JSON.stringify(document)), 1);
  }

  private toRule(message: RuleMessage): void {
    if (this.trace.active) this.trace.record({ kind: 'event', event: 'rule', ruleName: message.ruleName, topic: message.topic, qos: message.qos, payload: message.payload, clientId: message.clientId });
    for (const key of [message.ruleName, '*']) {
      for (const listener of this.ruleListeners.get(key) ?? []) {
        try {
          listener(message);
        } catch (error) {
          // The test's callback failed: recorded, and the endpoint's close() rejects so the test fails.
          this.trace.callbackFailures.push(error);
          this.trace.internalError('rule-listener', error, { clientId: message.clientId });
        }
      }
    }
  }

  /** A message that no client sent (API, will, lifecycle): traced, then routed. */
  publishFromBroker(
    origin: 'api' | 'will' | 'lifecycle' | 'shadow' | 'jobs', topic: string, payload: Buffer, qos: 0 | 1, clientId?: string,
    /** MQTT 5 fields the message carries (a will's properties and expiry). */
    extra: Pick<Message, 'properties' | 'propertyBytes' | 'expiresAt'> = {},
  ): void {
    if (this.closed) return;
    if (this.trace.active) this.trace.record({ kind: 'event', event: 'publish', origin, topic, qos, payload, clientId });
    const message: Message = { topic, payload, qos };
    if (extra.properties) message.properties = extra.properties;
    if (extra.propertyBytes) message.propertyBytes = extra.propertyBytes;
    if (extra.expiresAt !== undefined) message.expiresAt = extra.expiresAt;
    this.route(message, origin === 'will' ? clientId : undefined);
  }

  /** The client acknowledged a QoS 1 message: what waited for room in flight goes out. */
  ack(link: ClientLink, messageId: number): void {
    const client = this.clientOf(link);
    if (client && client.session.ack(messageId)) this.drain(client);
  }

  /** A packet id for a copy chaos sends (re-send with a new packet id): never one in use. */
  lendPacketId(link: ClientLink): number {
    return this.clientOf(link)?.session.lendId() ?? 0;
  }

  private drain(client: Online): void {
    for (let next = client.session.takeReady(); next; next = client.session.takeReady()) this.sendTaken(client, next);
  }

  /** Sends what the session handed out: a QoS 1 message with its packet id, or a kept QoS 0 one (id 0). */
  private sendTaken(client: Online, [id, message]: [number, Message]): void {
    // MQTT 5: a queued or stored message whose expiry passed while it waited is not delivered (§1.6).
    const gone = expired(message, this.clock.now()) ? 'expired' : this.fits(client, message) ? undefined : 'too-large';
    if (gone) {
      if (id !== 0) client.session.ack(id);
      return this.dropped(client.session.clientId, message, gone);
    }
    // A message kept while the client was away (or waiting for room in flight) is checked when it goes (iot:Receive).
    if (this.authz !== undefined && !this.authorize(client.link, 'iot:Receive', 'topic', message.topic, 'not-delivered')) {
      if (id !== 0) client.session.ack(id);
      return;
    }
    if (id === 0) client.link.sendPublish(message, undefined);
    else this.sendQos1(client, message, id);
  }

  /** Sends a QoS 1 message and makes sure it is retried if the client does not acknowledge it. */
  private sendQos1(client: Online, message: Message, id: number, repeat = false): void {
    const now = this.clock.now();
    message.firstSentAt ??= now;
    message.sentAt = now;
    client.link.sendPublish(message, id, repeat);
    client.retry ??= this.clock.setTimeout(() => this.retry(client), this.profile.limits.qos1RetryIntervalSeconds * 1000);
  }

  /**
   * AWS: a QoS 1 message a connected client does not acknowledge is sent again (same packet id), for up to
   * limits.qos1RetryWindowSeconds; then it is dropped and its in-flight slot goes to what waits.
   */
  private retry(client: Online): void {
    // `client.retry` still holds this (fired) timer, so what drain() sends below does not arm another.
    if (this.clientOf(client.link) !== client) return;
    const { session } = client;
    const now = this.clock.now();
    const interval = this.profile.limits.qos1RetryIntervalSeconds * 1000;
    const window = this.profile.limits.qos1RetryWindowSeconds * 1000;
    let next = interval;
    for (const [id, message] of [...session.inflight]) {
      if (now - message.firstSentAt! >= window) {
        session.ack(id);
        if (this.trace.active) this.trace.record({ kind: 'event', event: 'dropped', clientId: session.clientId, topic: message.topic, reason: 'retry-expired' });
      } else if (expired(message, now)) {
        // AWS (§1.11): an unacknowledged MQTT 5 message can expire; it is not sent again.
        session.ack(id);
        this.dropped(session.clientId, message, 'expired');
      } else if (now - message.sentAt! >= interval) {
        // A client that stopped reading gets no more copies once its socket holds maxBufferedBytes: they
        // would only pile up there.
        if (client.link.bufferedBytes > this.profile.limits.maxBufferedBytes) continue;
        message.sentAt = now;
        client.link.sendPublish(message, id, true);
      } else next = Math.min(next, message.sentAt! + interval - now);
    }
    this.drain(client);
    client.retry = session.inflight.size > 0 ? this.clock.setTimeout(() => this.retry(client), next) : undefined;
  }

  // ---- sessions -------------------------------------------------------------------------------

  /** The attached client behind a link; undefined once another connection took its client id over. */
  private clientOf(link: ClientLink): Online | undefined {
    const client = link.clientId === undefined ? undefined : this.online.get(link.clientId);
    return client !== undefined && client.link === link ? client : undefined;
  }

  /**
   * Finds or creates the session for a CONNECT. Returns the session and whether it was resumed. MQTT 3.1.1:
   * Clean Session 0 resumes or creates a persistent session, 1 discards any. MQTT 5 (§1.6): Clean Start 1
   * discards any, 0 resumes one if present; the Session Expiry Interval decides whether it outlives the
   * connection. AWS: a session made by one protocol version is not resumed by the other (a new one starts).
   */
  private openSession(clientId: string, cleanStart: boolean, expirySeconds: number, protocolVersion: 4 | 5, persistent: boolean): { session: Session; resumed: boolean } {
    const existing = this.sessions.get(clientId);
    if (existing) {
      existing.expiry?.cancel();
      existing.expiry = undefined;
      if (!cleanStart && existing.persistent && existing.protocolVersion === protocolVersion) {
        existing.expirySeconds = expirySeconds;
        existing.persistent = persistent;
        return { session: existing, resumed: true };
      }
      // [MQTT-3.1.2-6] a clean start discards the old session; a stored one is reported as ended.
      if (existing.persistent) this.endSession(existing, 'discarded');
      else this.dropSession(existing);
    }
    const history = this.historyOf(clientId);
    history.sessions++;
    const { reactions } = this.profile;
    const seed = this.seed;
    const key = `session:${clientId}:${history.sessions}`;
    const session = new Session(
      clientId,
      persistent,
      // Drawn when first wanted (a lifecycle event, clients()): the stream's SHA-256 is most of a CONNECT's cost otherwise.
      () => streamFor(seed, key).uuid(),
      this.sessionLimits,
      this.budget,
      reactions.offlineQos0 === 'queue',
    );
    session.expirySeconds = expirySeconds;
    session.protocolVersion = protocolVersion;
    this.sessions.set(clientId, session);
    return { session, resumed: false };
  }

  /** The connection left: a clean session ends now, a persistent one waits for its expiry. */
  private releaseSession(session: Session): void {
    session.detached();
    if (!session.persistent || this.closed) {
      this.dropSession(session);
      return;
    }
    // AWS: the expiry counts from the disconnect: the account's (limits.sessionExpirySeconds) for MQTT 3.1.1, the
    // granted Session Expiry Interval for MQTT 5.
    session.expiry = this.clock.setTimeout(() => this.endSession(session, 'expired'), session.expirySeconds * 1000);
  }

  /** Ends a stored session for good and says so in the trace. */
  private endSession(session: Session, reason: 'expired' | 'discarded'): void {
    this.dropSession(session);
    this.trace.record({ kind: 'event', event: 'session-ended', clientId: session.clientId, reason });
  }

  private dropSession(session: Session): void {
    session.release();
    session.expiry?.cancel();
    session.expiry = undefined;
    for (const filter of session.activations.keys()) session.cancelActivation(filter);
    for (const filter of session.subscriptions.keys()) this.unindex(session, filter);
    session.subscriptions.clear();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  // ---- lifecycle events -----------------------------------------------------------------------

  private historyOf(clientId: string): ClientHistory {
    let h = this.history.get(clientId);
    if (h) this.history.delete(clientId); // re-inserted below: the map stays in least-recently-used order
    else h = { version: -1, sessions: 0, leftAt: undefined };
    this.history.set(clientId, h);
    if (this.history.size > this.maxClientHistory) this.history.delete(this.history.keys().next().value!);
    return h;
  }

  /** Numbers a new connection of the client (AWS's versionNumber) and returns the facts its events carry. */
  private nextFacts(session: Session): SessionFacts {
    const history = this.historyOf(session.clientId);
    // AWS: versionNumber starts again at 0 after about an hour without a connection.
    const now = this.clock.now();
    if (history.leftAt !== undefined && now - history.leftAt >= this.profile.limits.lifecycleVersionResetSeconds * 1000) history.version = -1;
    history.leftAt = undefined;
    return new LazyFacts(session, ++history.version);
  }

  private lifecycle(facts: SessionFacts, topicOf: (clientId: string) => string, body: (facts: SessionFacts, now: number) => object): void {
    const { reactions } = this.profile;
    if (!reactions.lifecycleEvents || !hasLifecycleEvents(facts.clientId)) return;
    // Nobody to see it (no trace, no filter under `$aws`, which `+` and `#` never match): not built at all.
    if (!this.trace.active && !this.index.hasFirstLevel('$aws') && !this.sharedIndex.hasFirstLevel('$aws')) return;
    this.publishFromBroker('lifecycle', topicOf(facts.clientId), Buffer.from(JSON.stringify(body(facts, this.clock.now()))), reactions.lifecycleQos, facts.clientId);
  }

  /** Endpoint shutdown: forgets every session and cancels every session timer; nothing is routed any more. */
  close(): void {
    this.closed = true;
    this.jobs.close();
    for (const session of [...this.sessions.values()]) this.dropSession(session);
    for (const group of this.groups.values()) group.drain?.cancel();
    this.groups.clear();
    this.retained?.clear();
  }

  /** What connected clients still have coming: unacknowledged and queued QoS 1, subscriptions not active yet. */
  pendingWork(countTimers: boolean): string[] {
    const work: string[] = [];
    for (const { session: s, live } of this.online.values()) {
      if (!live) continue;
      if (s.inflight.size > 0) work.push(`${s.clientId}: ${s.inflight.size} QoS 1 message(s) not acknowledged`);
      if (s.lentCount > 0) work.push(`${s.clientId}: ${s.lentCount} chaos re-send(s) not acknowledged`);
      if (s.pending.length > 0) work.push(`${s.clientId}: ${s.pending.length} QoS 1 message(s) queued`);
      if (countTimers && s.stored.length > 0) work.push(`${s.clientId}: ${s.stored.length} stored message(s) still to come at limits.storedMessagesPerSecond`);
      if (countTimers && s.activations.size > 0) work.push(`${s.clientId}: ${s.activations.size} subscription(s) not active yet`);
    }
    for (const group of this.groups.values()) {
      // Queued for a group with a member online: it goes out at limits.sharedQueueMessagesPerSecond.
      if (countTimers && group.queue.length > 0 && this.available(group).live > 0) work.push(`${group.key}: ${group.queue.length} queued message(s) still to come at limits.sharedQueueMessagesPerSecond`);
    }
    return work;
  }

  // ---- the handle's view ----------------------------------------------------------------------

  clients(): ClientInfo[] {
    return [...this.online.values()].map(({ link, session: s }) => ({
      clientId: s.clientId,
      connectionId: link.connectionId,
      protocolVersion: link.protocolVersion ?? 4,
      cleanSession: !s.persistent,
      sessionExpirySeconds: s.persistent ? s.expirySeconds : 0,
      sessionIdentifier: s.sessionIdentifier,
      subscriptions: [...s.subscriptions].map(([topic, qos]) => ({ topic, qos })),
      inflight: s.inflight.size,
      queued: s.pending.length + s.stored.length,
    }));
  }
}
