/** SUBSCRIBE: filters checked against MQTT 3.1.1 and the profile's limits, then added to the session. */
import type { SubscribePacket } from '../../codec/codec';
import { filterAllowed } from '../../topics/reserved';
import { isProblem, isShared, parseShared } from '../../topics/shared';
import { checkTopicFilter } from '../../topics/validate';
import { type HandlerContext, limitProblem } from './context';

export function handleSubscribe(ctx: HandlerContext, packet: SubscribePacket): void {
  const { limits, reactions } = ctx.profile;
  const subs = packet.subscriptions;
  // [MQTT-3.8.3-3] a SUBSCRIBE carries at least one topic filter.
  if (subs.length === 0) return ctx.violation({ rule: 'MQTT-3.8.3-3', message: 'SUBSCRIBE without a topic filter' });
  // AWS: at most limits.maxFiltersPerSubscribe (8) filters in one SUBSCRIBE.
  if (subs.length > limits.maxFiltersPerSubscribe) {
    return ctx.violation(limitProblem('maxFiltersPerSubscribe', limits.maxFiltersPerSubscribe, subs.length, `SUBSCRIBE carries ${subs.length} topic filters; AWS allows ${limits.maxFiltersPerSubscribe}`));
  }
  if (subs.some((s) => s.qos === 2)) {
    // AWS: a SUBSCRIBE asking for QoS 2 gets no SUBACK (or the connection is closed): reactions.qos2.
    if (reactions.qos2 === 'ignore') return ctx.ignored('aws.qos2', 'SUBSCRIBE with QoS 2: no SUBACK, no subscription');
    return ctx.violation({ rule: 'aws.qos2', message: 'SUBSCRIBE with QoS 2 is not supported' });
  }
  for (const s of subs) {
    // AWS: `$share/{ShareName}/{TopicFilter}` is a shared subscription (reactions.sharedSubscriptions); the
    // filter after the share name is checked like any other, the prefix not counted toward the limits (§1.12).
    // Without shared subscriptions (classic), `$share/...` is one more reserved filter.
    let filter = s.topic;
    if (reactions.sharedSubscriptions && isShared(filter)) {
      const shared = parseShared(filter, limits, reactions.basicIngestPrefixExempt);
      if (isProblem(shared)) return ctx.violation(shared);
      filter = shared.filter;
    } else {
      const problem = checkTopicFilter(filter, limits, reactions.basicIngestPrefixExempt);
      if (problem) return ctx.violation(problem);
    }
    // AWS: `$` topics are AWS's; clients subscribe only where AWS allows (reactions.reservedTopics, profile.reserved).
    if (filter.charCodeAt(0) === 36 && reactions.reservedTopics === 'disconnect' && !filterAllowed(filter, ctx.profile.reserved.subscribe)) {
      return ctx.violation({ rule: 'aws.reserved-topic', message: `SUBSCRIBE to ${JSON.stringify(s.topic)}: a reserved topic filter clients may not subscribe to` });
    }
  }
  // AWS: at most limits.maxSubscriptionsPerConnection (50) subscriptions per connection.
  const current = ctx.broker.subscriptionsOf(ctx.link);
  const added = new Set(subs.map((s) => s.topic).filter((t) => !current.has(t)));
  const total = current.size + added.size;
  if (total > limits.maxSubscriptionsPerConnection) {
    return ctx.violation(limitProblem('maxSubscriptionsPerConnection', limits.maxSubscriptionsPerConnection, total, `${total} subscriptions; AWS allows ${limits.maxSubscriptionsPerConnection} per connection`));
  }
  // AWS: there may be a delay between SUBACK and the first matching message (chaos: subscriptionDelay).
  const chaos = ctx.chaos();
  const granted = ctx.broker.subscribe(
    ctx.link,
    subs.map((s) => ({ filter: s.topic, qos: s.qos as 0 | 1 })),
    chaos && ((filter) => chaos.subscriptionDelay(filter)),
  );
  // [MQTT-3.8.4-1] SUBACK with the granted QoS of each filter, in order.
  ctx.send({ cmd: 'suback', messageId: packet.messageId, granted });
  // AWS (§1.7): after SUBACK, the retained message of each exact-topic filter (none for wildcards and shared ones).
  ctx.broker.sendRetained(ctx.link, subs.map((s) => s.topic));
  ctx.broker.subscriptionsChanged(ctx.link, 'subscribed', subs.map((s) => s.topic));
}
