/**
 * The packets the fake speaks: MQTT 3.1.1, in our own types.
 *
 * Field names and value shapes are mqtt-packet's, so the decoder hands mqtt-packet's objects through as
 * they are (no copy on the hot path) and trace consumers see what they always saw. A decoded object may
 * carry more fields than its type names (mqtt-packet sets `qos`, `dup`, `retain`, `topic: null` and
 * `payload: null` on every packet); the types list what a packet means.
 *
 * MQTT 5: a `properties` field on each packet and `reasonCode` where v5 has one, as optional fields (mqtt-packet's
 * names and shapes). A connection is MQTT 5 when its CONNECT says `protocolVersion: 5`; its packets are then
 * decoded and encoded as MQTT 5, and the trace shows them with their properties and reason codes.
 */

export type QoS = 0 | 1 | 2;

interface PacketBase {
  /** Remaining length of a decoded packet (bytes after the fixed header). Ignored by encode(). */
  length?: number;
}

/**
 * MQTT 5 User Properties as mqtt-packet reads them: name → value, or → values in order when a name repeats.
 * (Pairs are kept in order per name; mqtt-packet groups repeated names together.)
 */
export type UserProperties = Record<string, string | string[]>;

/** MQTT 5 properties of a PUBLISH (or a will) that travel with the message. */
export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

/** MQTT 5 properties of a CONNECT. */
export interface ConnectProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestResponseInformation?: boolean;
  requestProblemInformation?: boolean;
  userProperties?: UserProperties;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

/** MQTT 5 properties of a CONNACK. */
export interface ConnackProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumQoS?: number;
  retainAvailable?: boolean;
  maximumPacketSize?: number;
  assignedClientIdentifier?: string;
  topicAliasMaximum?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  wildcardSubscriptionAvailable?: boolean;
  subscriptionIdentifiersAvailable?: boolean;
  sharedSubscriptionAvailable?: boolean;
  serverKeepAlive?: number;
}

/** MQTT 5 properties of the acks and DISCONNECT: a reason string and user properties (DISCONNECT: Session Expiry too). */
export interface AckProperties {
  reasonString?: string;
  userProperties?: UserProperties;
  sessionExpiryInterval?: number;
  serverReference?: string;
  subscriptionIdentifier?: number | number[];
}

export interface Will {
  topic: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
  /** MQTT 5 will properties (willDelayInterval besides the PUBLISH ones). */
  properties?: PublishProperties & { willDelayInterval?: number };
}

export interface ConnectPacket extends PacketBase {
  cmd: 'connect';
  /** 'MQTT'; MQTT 3.1 called it 'MQIsdp'. */
  protocolId?: 'MQTT' | 'MQIsdp';
  /** Protocol level: 4 (MQTT 3.1.1) or 5 (MQTT 5, where the profile speaks it); others are reported as 'unsupported-protocol'. */
  protocolVersion?: 3 | 4 | 5;
  clientId: string;
  /** MQTT 3.1.1: Clean Session. MQTT 5: Clean Start. */
  clean?: boolean;
  properties?: ConnectProperties;
  keepalive?: number;
  username?: string;
  password?: Buffer;
  will?: Will;
}

export interface ConnackPacket extends PacketBase {
  cmd: 'connack';
  sessionPresent: boolean;
  /** MQTT 3.1.1 return code. */
  returnCode?: number;
  /** MQTT 5 reason code. */
  reasonCode?: number;
  properties?: ConnackProperties;
}

export interface PublishPacket extends PacketBase {
  cmd: 'publish';
  topic: string;
  /** A decoded payload is always a Buffer. */
  payload: Buffer | string;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  /** Present when qos > 0. */
  messageId?: number;
  properties?: PublishProperties;
}

/** The packet id fields below are optional to match mqtt-packet; every decoded packet of these types has one. */
export interface PubackPacket extends PacketBase {
  cmd: 'puback';
  messageId?: number;
  /** MQTT 5. */
  reasonCode?: number;
  properties?: AckProperties;
}

export interface Subscription {
  topic: string;
  qos: QoS;
  /** MQTT 5 subscription options: No Local, Retain As Published, Retain Handling. */
  nl?: boolean;
  rap?: boolean;
  rh?: number;
}

export interface SubscribePacket extends PacketBase {
  cmd: 'subscribe';
  messageId?: number;
  /** May be empty when decoded: [MQTT-3.8.3-3] is the broker's to enforce. */
  subscriptions: Subscription[];
  properties?: AckProperties;
}

export interface SubackPacket extends PacketBase {
  cmd: 'suback';
  messageId?: number;
  /** One return code per subscription: the granted QoS, or 0x80 for failure (MQTT 5: a reason code each). */
  granted: number[];
  properties?: AckProperties;
}

export interface UnsubscribePacket extends PacketBase {
  cmd: 'unsubscribe';
  messageId?: number;
  /** May be empty when decoded: [MQTT-3.10.3-2] is the broker's to enforce. */
  unsubscriptions: string[];
  properties?: AckProperties;
}

export interface UnsubackPacket extends PacketBase {
  cmd: 'unsuback';
  messageId?: number;
  /** MQTT 5: one reason code per topic filter. */
  granted?: number[];
  properties?: AckProperties;
}

export interface PingreqPacket extends PacketBase {
  cmd: 'pingreq';
}

export interface PingrespPacket extends PacketBase {
  cmd: 'pingresp';
}

export interface DisconnectPacket extends PacketBase {
  cmd: 'disconnect';
  /** MQTT 5. */
  reasonCode?: number;
  properties?: AckProperties;
}

/**
 * Packets that decode but that AWS IoT does not support (QoS 2's PUBREC/PUBREL/PUBCOMP; MQTT 5's AUTH,
 * which a 3.1.1 decoder reports as malformed). The broker refuses them.
 */
export interface UnsupportedPacket extends PacketBase {
  cmd: 'pubrec' | 'pubrel' | 'pubcomp' | 'auth';
  messageId?: number;
  reasonCode?: number;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | UnsupportedPacket;

export type PacketCmd = Packet['cmd'];
