/**
 * TEMPORARY shim with the codec's new API (the codec branch replaces this file).
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

export type DecodeErrorKind = 'unsupported-protocol' | 'malformed' | 'too-large' | 'tls-on-plain-port' | 'http-on-plain-port';

export class DecodeError extends Error {
  constructor(readonly kind: DecodeErrorKind, message: string, readonly announcedBytes?: number) {
    super(message);
  }
}

export interface DecoderOptions {
  maxPacketBytes: number;
  onPacket(packet: Packet): void;
  onError(error: DecodeError): void;
}

export interface Decoder {
  push(chunk: Buffer): void;
}

export function createDecoder(options: DecoderOptions): Decoder {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let failed = false;
  parser.on('packet', (p) => {
    if (!failed) options.onPacket(p);
  });
  parser.on('error', (e: Error) => {
    if (failed) return;
    failed = true;
    options.onError(new DecodeError(/protocol version/i.test(e.message) ? 'unsupported-protocol' : 'malformed', e.message));
  });
  return {
    push(chunk) {
      if (failed) return;
      parser.parse(chunk);
      const announced = (parser as unknown as { packet: { length: number } }).packet.length;
      if (!failed && announced > options.maxPacketBytes) {
        failed = true;
        options.onError(new DecodeError('too-large', `a packet announces ${announced} bytes`, announced));
      }
    },
  };
}

export function encode(packet: Packet): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: 4 });
}
