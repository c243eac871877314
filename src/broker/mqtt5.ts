/**
 * MQTT 5 rules the handlers share: AWS's reason codes (aws-iot-behaviour.md §1.4, §1.11), which DISCONNECT
 * reason a server-side close carries, the size of a PUBLISH (for the client's Maximum Packet Size), and how
 * a PUBLISH's properties become a message's.
 */
import { isUtf8 } from 'node:buffer';
import type { ChaosTag } from '../chaos/types';
import type { PublishProperties, UserProperties } from '../codec/packets';
import type { MessageProperties } from '../session/session';
import type { DisconnectReason, ViolationEvent } from '../trace/entry';

/** MQTT 5 reason codes the fake sends, by name (MQTT 5 §2.4; the ones AWS lists, §1.11, and a few more). */
export const REASON = {
  success: 0x00,
  grantedQos0: 0x00,
  grantedQos1: 0x01,
  disconnectWithWill: 0x04,
  noSubscriptionExisted: 0x11,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  unsupportedProtocol: 0x84,
  clientIdNotValid: 0x85,
  notAuthorized: 0x87,
  badAuthenticationMethod: 0x8c,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  retainNotSupported: 0x9a,
  qosNotSupported: 0x9b,
  sharedSubscriptionsNotSupported: 0x9e,
  connectionRateExceeded: 0x9f,
  subscriptionIdentifiersNotSupported: 0xa1,
} as const;

type Problem = Omit<ViolationEvent, 'kind' | 'event' | 'seq' | 'at' | 'connectionId' | 'clientId'>;

export const DISCONNECT_REASON = {
  /**
   * The DISCONNECT a server-side close sends an MQTT 5 client, by lifecycle reason; undefined: none (the
   * client left, the network went, or chaos cut the connection as a network would).
   */
  forLifecycle(reason: DisconnectReason, chaos?: ChaosTag): number | undefined {
    switch (reason) {
      case 'DUPLICATE_CLIENTID':
        return REASON.sessionTakenOver; // AWS: 0x8E "Session taken over" (§0, §1.9)
      case 'MQTT_KEEP_ALIVE_TIMEOUT':
        return REASON.keepAliveTimeout; // AWS: 0x8D after 1.5 × keep-alive (§1.5)
      case 'API_INITIATED_DISCONNECT':
        return REASON.administrativeAction; // AWS: DeleteConnection; 0x98 [UNVERIFIED which code] (§1.13)
      case 'THROTTLED':
        return REASON.quotaExceeded;
      case 'SERVER_INITIATED_DISCONNECT':
        return chaos ? undefined : REASON.serverShuttingDown;
      case 'AUTH_ERROR':
        return REASON.notAuthorized;
      case 'CUSTOMAUTH_TTL_EXPIRATION':
        // A custom authorizer's disconnectAfterInSeconds ran out (§3.2, §7). AWS does not say which code goes with
        // it; MQTT 5's own is 0xA0 "Maximum connect time", which is not in AWS's list of server DISCONNECT codes
        // (§1.11), so the one of that list that fits: 0x87 "Not authorized" (the authorization expired) [UNVERIFIED].
        return REASON.notAuthorized;
      case 'SERVER_ERROR':
        return REASON.unspecified;
      case 'CLIENT_ERROR':
        return REASON.protocolError;
      default:
        return undefined;
    }
  },
  /** The DISCONNECT reason for a broken rule that carries none of its own. */
  forProblem(problem: Problem): number {
    if (problem.rule === 'malformed-packet' || problem.rule === 'MQTT-1.5.3-1') return REASON.malformed;
    if (problem.limit === 'maxPayloadBytes' || problem.limit === 'maxPacketBytes') return REASON.packetTooLarge;
    if (problem.rule === 'aws.qos2') return REASON.qosNotSupported;
    return REASON.protocolError;
  },
};

function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function userPropertyBytes(user: UserProperties | undefined): number {
  if (!user) return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(user)) {
    for (const v of Array.isArray(value) ? value : [value]) bytes += 1 + 2 + Buffer.byteLength(name) + 2 + Buffer.byteLength(String(v));
  }
  return bytes;
}

/** Bytes of the properties of a PUBLISH, as MQTT 5 encodes them (without their length prefix). */
export function propertiesBytes(p: PublishProperties | undefined): number {
  if (!p) return 0;
  let bytes = 0;
  if (p.payloadFormatIndicator !== undefined) bytes += 2;
  if (p.messageExpiryInterval !== undefined) bytes += 5;
  if (p.topicAlias !== undefined) bytes += 3;
  if (p.responseTopic !== undefined) bytes += 3 + Buffer.byteLength(p.responseTopic);
  if (p.correlationData !== undefined) bytes += 3 + p.correlationData.length;
  if (p.contentType !== undefined) bytes += 3 + Buffer.byteLength(p.contentType);
  bytes += userPropertyBytes(p.userProperties);
  return bytes;
}

/** Bytes of a whole MQTT 5 PUBLISH packet: fixed header, topic, packet id, properties and payload. */
export function publishBytes(topic: string, payloadBytes: number, qos: number, properties: PublishProperties | undefined): number {
  const props = propertiesBytes(properties);
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + varIntBytes(props) + props + payloadBytes;
  return 1 + varIntBytes(remaining) + remaining;
}

/**
 * The properties of a PUBLISH (or will) that travel with the message to MQTT 5 subscribers: AWS forwards
 * Payload Format Indicator, Content Type, Response Topic, Correlation Data and User Properties (§1.11). Topic
 * Alias is the connection's, Message Expiry becomes the message's expiry, Subscription Identifier is refused.
 * Returns the properties and the bytes they take (counted like the payload).
 */
export function forwardedProperties(p: PublishProperties | undefined): { properties: MessageProperties; bytes: number } | undefined {
  if (!p) return undefined;
  const properties: MessageProperties = {};
  if (p.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) properties.contentType = p.contentType;
  if (p.responseTopic !== undefined) properties.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) properties.correlationData = Buffer.from(p.correlationData);
  if (p.userProperties !== undefined) properties.userProperties = p.userProperties;
  if (Object.keys(properties).length === 0) return undefined;
  return { properties, bytes: propertiesBytes(properties) };
}

/** Whether a payload marked as UTF-8 (Payload Format Indicator 1) is not valid UTF-8. */
export function invalidUtf8Payload(payload: Buffer): boolean {
  return !isUtf8(payload);
}
