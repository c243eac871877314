/** PUBACK: the client acknowledged a QoS 1 message [MQTT-4.3.2-1]; what waited for room in flight goes out. */
import type { PubackPacket } from '../../codec/codec';
import type { HandlerContext } from './context';

export function handlePuback(ctx: HandlerContext, packet: PubackPacket): void {
  // An unknown packet id is ignored: AWS re-sends with new ids, so late or repeated acks are normal.
  ctx.broker.ack(ctx.link, packet.messageId!);
}
