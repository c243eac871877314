/** UNSUBSCRIBE: removes the filters from the session and acknowledges [MQTT-3.10.4-4] (MQTT 5: a reason code each). */
import type { UnsubscribePacket } from '../../codec/codec';
import { hasInvalidUtf8, invalidUtf8 } from '../../topics/validate';
import { isProblem, isShared, parseShared } from '../../topics/shared';
import { REASON } from '../mqtt5';
import type { HandlerContext } from './context';

export function handleUnsubscribe(ctx: HandlerContext, packet: UnsubscribePacket): void {
  // [MQTT-3.10.3-2] an UNSUBSCRIBE carries at least one topic filter.
  if (packet.unsubscriptions.length === 0) return ctx.violation({ rule: 'MQTT-3.10.3-2', message: 'UNSUBSCRIBE without a topic filter' });
  // [MQTT-1.5.3-1] malformed UTF-8 closes the connection.
  if (packet.unsubscriptions.some(hasInvalidUtf8)) return ctx.violation(invalidUtf8('topic filter'));
  // A shared subscription's share name is checked as at SUBSCRIBE (empty, `+`/`#`, too long, no filter after it).
  // MQTT 5: such a filter gets UNSUBACK 0x8F "Topic Filter invalid" (AWS's UNSUBACK codes, §1.11) instead of a disconnect.
  const { limits, reactions } = ctx.profile;
  const invalid = new Set<string>();
  if (reactions.sharedSubscriptions) {
    for (const filter of packet.unsubscriptions) {
      if (!isShared(filter)) continue;
      const shared = parseShared(filter, limits, reactions.basicIngestPrefixExempt);
      if (!isProblem(shared)) continue;
      if (!ctx.mqtt5) return ctx.violation(shared);
      invalid.add(filter);
    }
  }
  const valid = packet.unsubscriptions.filter((f) => !invalid.has(f));
  const existed = ctx.broker.unsubscribe(ctx.link, valid);
  if (ctx.mqtt5) {
    // 0x00 Success, 0x11 "No subscription existed" (MQTT 5 §3.11.2.2).
    const had = new Map(valid.map((f, i) => [f, existed[i]]));
    const granted = packet.unsubscriptions.map((f) => (invalid.has(f) ? REASON.topicFilterInvalid : had.get(f) ? REASON.success : REASON.noSubscriptionExisted));
    ctx.send({ cmd: 'unsuback', messageId: packet.messageId, granted });
  } else ctx.send({ cmd: 'unsuback', messageId: packet.messageId });
  ctx.broker.subscriptionsChanged(ctx.link, 'unsubscribed', valid);
}
