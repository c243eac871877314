/**
 * The only importer of mqtt-packet: turns bytes into MQTT 3.1.1 packets and back.
 */
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

export type {
  Packet,
  IConnectPacket as ConnectPacket,
  IConnackPacket as ConnackPacket,
  IPublishPacket as PublishPacket,
  IPubackPacket as PubackPacket,
  ISubscribePacket as SubscribePacket,
  ISubackPacket as SubackPacket,
  IUnsubscribePacket as UnsubscribePacket,
  IUnsubackPacket as UnsubackPacket,
  IPingreqPacket as PingreqPacket,
  IPingrespPacket as PingrespPacket,
  IDisconnectPacket as DisconnectPacket,
  QoS,
} from 'mqtt-packet';

export interface Decoder {
  /** Feeds bytes; packets and errors are reported synchronously through the callbacks. */
  push(chunk: Buffer): void;
  /** Remaining length announced by the packet being read, or -1 while its header is incomplete. */
  pendingLength(): number;
}

export function createDecoder(onPacket: (packet: Packet) => void, onError: (error: Error) => void): Decoder {
  // Protocol level 4 (MQTT 3.1.1): packets after CONNECT are read without MQTT 5 properties.
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', onPacket);
  parser.on('error', onError);
  return {
    push(chunk) {
      parser.parse(chunk);
    },
    pendingLength: () => (parser as unknown as { packet: { length: number } }).packet.length,
  };
}

/** Serialises one packet (MQTT 3.1.1). */
export function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: 4 });
}
