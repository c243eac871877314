/**
 * The packets the fake speaks: MQTT 3.1.1, in our own types.
 *
 * Field names and value shapes are mqtt-packet's, so the decoder hands mqtt-packet's objects through as
 * they are (no copy on the hot path) and trace consumers see what they always saw. A decoded object may
 * carry more fields than its type names (mqtt-packet sets `qos`, `dup`, `retain`, `topic: null` and
 * `payload: null` on every packet); the types list what a packet means.
 *
 * MQTT 5 later: a `properties` field on each packet and `reasonCode` where v5 has one, added as optional
 * fields (or v5 variants of these interfaces), with `protocolVersion: 5` on CONNECT telling them apart.
 */

export type QoS = 0 | 1 | 2;

interface PacketBase {
  /** Remaining length of a decoded packet (bytes after the fixed header). Ignored by encode(). */
  length?: number;
}

export interface Will {
  topic: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
}

export interface ConnectPacket extends PacketBase {
  cmd: 'connect';
  /** 'MQTT'; MQTT 3.1 called it 'MQIsdp'. */
  protocolId?: 'MQTT' | 'MQIsdp';
  /** Protocol level. A decoded CONNECT is always 4: other levels are reported as 'unsupported-protocol'. */
  protocolVersion?: 3 | 4 | 5;
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  username?: string;
  password?: Buffer;
  will?: Will;
}

export interface ConnackPacket extends PacketBase {
  cmd: 'connack';
  sessionPresent: boolean;
  returnCode: number;
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
}

/** The packet id fields below are optional to match mqtt-packet; every decoded packet of these types has one. */
export interface PubackPacket extends PacketBase {
  cmd: 'puback';
  messageId?: number;
}

export interface Subscription {
  topic: string;
  qos: QoS;
}

export interface SubscribePacket extends PacketBase {
  cmd: 'subscribe';
  messageId?: number;
  /** May be empty when decoded: [MQTT-3.8.3-3] is the broker's to enforce. */
  subscriptions: Subscription[];
}

export interface SubackPacket extends PacketBase {
  cmd: 'suback';
  messageId?: number;
  /** One return code per subscription: the granted QoS, or 0x80 for failure. */
  granted: number[];
}

export interface UnsubscribePacket extends PacketBase {
  cmd: 'unsubscribe';
  messageId?: number;
  /** May be empty when decoded: [MQTT-3.10.3-2] is the broker's to enforce. */
  unsubscriptions: string[];
}

export interface UnsubackPacket extends PacketBase {
  cmd: 'unsuback';
  messageId?: number;
}

export interface PingreqPacket extends PacketBase {
  cmd: 'pingreq';
}

export interface PingrespPacket extends PacketBase {
  cmd: 'pingresp';
}

export interface DisconnectPacket extends PacketBase {
  cmd: 'disconnect';
}

/**
 * Packets that decode but that AWS IoT does not support (QoS 2's PUBREC/PUBREL/PUBCOMP; MQTT 5's AUTH,
 * which a 3.1.1 decoder reports as malformed). The broker refuses them.
 */
export interface UnsupportedPacket extends PacketBase {
  cmd: 'pubrec' | 'pubrel' | 'pubcomp' | 'auth';
  messageId?: number;
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
