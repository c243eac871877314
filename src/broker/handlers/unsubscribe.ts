/** UNSUBSCRIBE: removes the filters from the session and acknowledges [MQTT-3.10.4-4]. */
import type { UnsubscribePacket } from '../../codec/codec';
import { hasInvalidUtf8, invalidUtf8 } from '../../topics/validate';
import { isProblem, isShared, parseShared } from '../../topics/shared';
import type { HandlerContext } from './context';

export function handleUnsubscribe(ctx: HandlerContext, packet: UnsubscribePacket): void {
  // [MQTT-3.10.3-2] an UNSUBSCRIBE carries at least one topic filter.
  if (packet.unsubscriptions.length === 0) return ctx.violation({ rule: 'MQTT-3.10.3-2', message: 'UNSUBSCRIBE without a topic filter' });
  // [MQTT-1.5.3-1] malformed UTF-8 closes the connection.
  if (packet.unsubscriptions.some(hasInvalidUtf8)) return ctx.violation(invalidUtf8('topic filter'));
  // A shared subscription's share name is checked as at SUBSCRIBE (empty, `+`/`#`, too long, no filter after it).
  const { limits, reactions } = ctx.profile;
  if (reactions.sharedSubscriptions) {
    for (const filter of packet.unsubscriptions) {
      if (!isShared(filter)) continue;
      const shared = parseShared(filter, limits, reactions.basicIngestPrefixExempt);
      if (isProblem(shared)) return ctx.violation(shared);
    }
  }
  ctx.broker.unsubscribe(ctx.link, packet.unsubscriptions);
  ctx.send({ cmd: 'unsuback', messageId: packet.messageId });
  ctx.broker.subscriptionsChanged(ctx.link, 'unsubscribed', packet.unsubscriptions);
}
