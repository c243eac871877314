/**
 * What a packet handler may use: the profile, the broker's commands, and a few actions on its own
 * connection. Handlers never see the socket, the codec or the connection's other state, so MQTT 5 and
 * authorization can be added as handler concerns without touching either.
 */
import type { Profile } from '../../aws/profile';
import type { ConnectionChaos } from '../../chaos/engine';
import type { Packet } from '../../codec/codec';
import type { ConnackProperties } from '../../codec/packets';
import type { Message } from '../../session/session';
import type { DisconnectReason, ThrottledEvent, ViolationEvent } from '../../trace/entry';
import type { Broker, ClientLink, CloseOptions } from '../broker';

/** What an MQTT 5 connection remembers between packets. */
export interface Mqtt5State {
  /** Topic aliases the client set (alias → topic name), at most limits.maxTopicAliases. */
  readonly topicAliases: Map<number, string>;
  /** The Session Expiry Interval in force (CONNECT's, as granted; a DISCONNECT may change it). */
  sessionExpiry: number;
  /** Whether the CONNECT's Session Expiry Interval was 0 (a DISCONNECT may not raise it then [MQTT-3.14.2-2]). */
  connectExpiryZero: boolean;
  /** The client's Request Problem Information: false means no reason strings on acks. */
  problemInformation: boolean;
  /** The client's Maximum Packet Size: a message larger is not sent to it. */
  maxPacketBytes: number | undefined;
  /** The client's Receive Maximum. */
  receiveMaximum: number;
}

/**
 * A broken rule, as the trace's `violation` event describes it; `reasonCode`: the MQTT 5 DISCONNECT reason an
 * MQTT 5 client gets (by default one chosen from the rule, see `disconnectReasonFor`).
 */
export type Problem = Omit<ViolationEvent, 'kind' | 'event' | 'seq' | 'at' | 'connectionId' | 'clientId'> & { reasonCode?: number };

export function limitProblem(limit: NonNullable<ViolationEvent['limit']>, max: number, actual: number, message: string): Problem {
  return { rule: `limits.${limit}`, limit, max, actual, message };
}

export interface HandlerContext {
  readonly profile: Profile;
  /** 4 (MQTT 3.1.1) or 5 (MQTT 5): the version of the connection's CONNECT. */
  readonly protocolVersion: 4 | 5;
  /** MQTT 5 state of the connection (undefined on MQTT 3.1.1). */
  readonly mqtt5: Mqtt5State | undefined;
  readonly broker: Broker;
  /** This connection, as the broker's commands know it. */
  readonly link: ClientLink;
  /** Sends a packet to the client (through chaos, when chaos is on). */
  send(packet: Packet): void;
  /** Records the broken rule, then closes the connection the way AWS does (CLIENT_ERROR unless told). */
  violation(problem: Problem, reason?: DisconnectReason): void;
  /** Records that the broker ignored what the client asked (no ack, nothing delivered). */
  ignored(rule: string, message: string): void;
  close(reason: DisconnectReason, options?: CloseOptions): void;
  /**
   * Counts a PUBLISH against the connection's rate (limits.maxPublishesPerSecond). False when it is over:
   * the throttling is recorded, and under publishRate: 'disconnect' the connection is closed.
   */
  admitPublish(direction: 'in' | 'out', topic: string): boolean;
  /** Records that an AWS rate limit applied; a `refused` or `disconnected` one closes the connection (THROTTLED). */
  throttle(what: Pick<ThrottledEvent, 'limit' | 'direction' | 'action'> & Partial<Pick<ThrottledEvent, 'topic'>>): void;
  /** This connection's chaos state, when chaos is on. */
  chaos(): ConnectionChaos | undefined;
  /**
   * Whether the connection's IoT policies allow the action (always, while the endpoint has no policy). A
   * denial is recorded in the trace with `reaction`, what the handler then does.
   */
  authorize(action: 'iot:Publish' | 'iot:RetainPublish' | 'iot:Subscribe', kind: 'topic' | 'topicfilter', name: string, reaction: 'closed' | 'refused' | 'dropped'): boolean;
}

/** What the CONNECT handler decided for an acceptable CONNECT. */
export interface Acceptance {
  clientId: string;
  /** MQTT 3.1.1: Clean Session. MQTT 5: Clean Start. */
  cleanSession: boolean;
  /** How long the session outlives the connection, in seconds (0: it ends with it). */
  sessionExpirySeconds: number;
  will: Message | undefined;
  /** MQTT 5: the CONNACK's properties. */
  connackProperties?: ConnackProperties;
  /** MQTT 5: the client's Receive Maximum (outbound QoS 1 in flight is the lower of it and limits.maxInflightMessages). */
  receiveMaximum?: number;
  /** The keep-alive the broker applies, and the one the client asked for. */
  keepAliveSeconds: number;
  requestedKeepAliveSeconds: number;
}

export interface ConnectContext extends HandlerContext {
  /** The client id is known (trace entries carry it from here on). */
  identify(clientId: string): void;
  /** Takes the connection into the broker and sends CONNACK 0. */
  accept(acceptance: Acceptance): void;
  /** iot:Connect, and the will's iot:Publish / iot:RetainPublish (false: denied, recorded). */
  authorizeConnect(clientId: string, persistent: boolean, will: Message | undefined, willRetain: boolean): boolean;
}
