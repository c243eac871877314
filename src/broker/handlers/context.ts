/**
 * What a packet handler may use: the profile, the broker's commands, and a few actions on its own
 * connection. Handlers never see the socket, the codec or the connection's other state, so MQTT 5 and
 * authorization can be added as handler concerns without touching either.
 */
import type { Profile } from '../../aws/profile';
import type { ConnectionChaos } from '../../chaos/engine';
import type { Packet } from '../../codec/codec';
import type { Message } from '../../session/session';
import type { DisconnectReason, ThrottledEvent, ViolationEvent } from '../../trace/entry';
import type { Broker, ClientLink } from '../broker';

/** A broken rule, as the trace's `violation` event describes it. */
export type Problem = Omit<ViolationEvent, 'kind' | 'event' | 'seq' | 'at' | 'connectionId' | 'clientId'>;

export function limitProblem(limit: NonNullable<ViolationEvent['limit']>, max: number, actual: number, message: string): Problem {
  return { rule: `limits.${limit}`, limit, max, actual, message };
}

export interface HandlerContext {
  readonly profile: Profile;
  readonly broker: Broker;
  /** This connection, as the broker's commands know it. */
  readonly link: ClientLink;
  /** Sends a packet to the client (through chaos, when chaos is on). */
  send(packet: Packet): void;
  /** Records the broken rule, then closes the connection the way AWS does (CLIENT_ERROR unless told). */
  violation(problem: Problem, reason?: DisconnectReason): void;
  /** Records that the broker ignored what the client asked (no ack, nothing delivered). */
  ignored(rule: string, message: string): void;
  close(reason: DisconnectReason): void;
  /**
   * Counts a PUBLISH against the connection's rate (limits.maxPublishesPerSecond). False when it is over:
   * the throttling is recorded, and under publishRate: 'disconnect' the connection is closed.
   */
  admitPublish(direction: 'in' | 'out', topic: string): boolean;
  /** Records that an AWS rate limit applied; a `refused` or `disconnected` one closes the connection (THROTTLED). */
  throttle(what: Pick<ThrottledEvent, 'limit' | 'direction' | 'action'> & Partial<Pick<ThrottledEvent, 'topic'>>): void;
  /** This connection's chaos state, when chaos is on. */
  chaos(): ConnectionChaos | undefined;
}

/** What the CONNECT handler decided for an acceptable CONNECT. */
export interface Acceptance {
  clientId: string;
  cleanSession: boolean;
  will: Message | undefined;
  /** The keep-alive the broker applies, and the one the client asked for. */
  keepAliveSeconds: number;
  requestedKeepAliveSeconds: number;
}

export interface ConnectContext extends HandlerContext {
  /** The client id is known (trace entries carry it from here on). */
  identify(clientId: string): void;
  /** Takes the connection into the broker and sends CONNACK 0. */
  accept(acceptance: Acceptance): void;
}
