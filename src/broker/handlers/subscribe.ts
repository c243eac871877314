/** SUBSCRIBE: filters checked against MQTT 3.1.1 / MQTT 5 and the profile's limits, then added to the session. */
import type { SubscribePacket, Subscription } from '../../codec/codec';
import { filterAllowed } from '../../topics/reserved';
import { isProblem, isShared, parseShared } from '../../topics/shared';
import { checkTopicFilter } from '../../topics/validate';
import { REASON } from '../mqtt5';
import { type HandlerContext, type Problem, limitProblem } from './context';

export function handleSubscribe(ctx: HandlerContext, packet: SubscribePacket): void {
  const { limits, reactions } = ctx.profile;
  const subs = packet.subscriptions;
  const v5 = ctx.mqtt5;
  // [MQTT-3.8.3-3] a SUBSCRIBE carries at least one topic filter.
  if (subs.length === 0) return ctx.violation({ rule: 'MQTT-3.8.3-3', message: 'SUBSCRIBE without a topic filter' });
  // AWS: MQTT 5 Subscription Identifiers are not supported: DISCONNECT 0xA1, reason string as AWS words it (§1.10).
  if (v5 && packet.properties?.subscriptionIdentifier !== undefined) {
    return ctx.violation({ rule: 'aws.subscription-identifier', message: 'Subscription Id is not supported now', reasonCode: REASON.subscriptionIdentifiersNotSupported });
  }
  // AWS: at most limits.maxFiltersPerSubscribe (8) filters in one SUBSCRIBE.
  if (subs.length > limits.maxFiltersPerSubscribe) {
    return ctx.violation({
      ...limitProblem('maxFiltersPerSubscribe', limits.maxFiltersPerSubscribe, subs.length, `SUBSCRIBE carries ${subs.length} topic filters; AWS allows ${limits.maxFiltersPerSubscribe}`),
      reasonCode: REASON.quotaExceeded,
    });
  }
  if (v5) return subscribe5(ctx, packet);
  if (subs.some((s) => s.qos === 2)) {
    // AWS: a SUBSCRIBE asking for QoS 2 gets no SUBACK (or the connection is closed): reactions.qos2.
    if (reactions.qos2 === 'ignore') return ctx.ignored('aws.qos2', 'SUBSCRIBE with QoS 2: no SUBACK, no subscription');
    return ctx.violation({ rule: 'aws.qos2', message: 'SUBSCRIBE with QoS 2 is not supported' });
  }
  for (const s of subs) {
    const problem = filterProblem(ctx, s.topic);
    if (problem) return ctx.violation(problem);
  }
  // AWS (§6.1, §6.2): iot:Subscribe on each filter. A denied one drops the connection without SUBACK
  // (reactions.unauthorizedSubscribe: 'disconnect'), or is answered 0x80 while the others are granted.
  let allowed = subs;
  if (ctx.broker.authz !== undefined) {
    const reaction = reactions.unauthorizedSubscribe === 'disconnect' ? 'closed' : 'refused';
    allowed = subs.filter((s) => ctx.authorize('iot:Subscribe', 'topicfilter', s.topic, reaction));
    if (allowed.length < subs.length && reaction === 'closed') return ctx.close('AUTH_ERROR');
  }
  // AWS: at most limits.maxSubscriptionsPerConnection (50) subscriptions per connection.
  const current = ctx.broker.subscriptionsOf(ctx.link);
  const added = new Set(allowed.map((s) => s.topic).filter((t) => !current.has(t)));
  const total = current.size + added.size;
  if (total > limits.maxSubscriptionsPerConnection) {
    return ctx.violation(limitProblem('maxSubscriptionsPerConnection', limits.maxSubscriptionsPerConnection, total, `${total} subscriptions; AWS allows ${limits.maxSubscriptionsPerConnection} per connection`));
  }
  const grantedAllowed = add(ctx, allowed);
  // [MQTT-3.8.4-1] SUBACK with the granted QoS of each filter, in order (0x80 for a denied one).
  let g = 0;
  const granted = allowed === subs ? grantedAllowed : subs.map((s) => (allowed.includes(s) ? grantedAllowed[g++]! : SUBACK_FAILURE));
  ctx.send({ cmd: 'suback', messageId: packet.messageId, granted });
  const topics = allowed.map((s) => s.topic);
  after(ctx, topics, topics);
}

/** MQTT 3.1.1 SUBACK return code 0x80: the subscription failed. */
const SUBACK_FAILURE = 0x80;

/**
 * What is wrong with a filter, if anything. AWS: `$share/{ShareName}/{TopicFilter}` is a shared subscription
 * (reactions.sharedSubscriptions); the filter after the share name is checked like any other, the prefix not
 * counted toward the limits (§1.12). Without shared subscriptions (classic), `$share/...` is one more reserved filter.
 */
function filterProblem(ctx: HandlerContext, topic: string): Problem | undefined {
  const { limits, reactions } = ctx.profile;
  let filter = topic;
  if (reactions.sharedSubscriptions && isShared(filter)) {
    const shared = parseShared(filter, limits, reactions.basicIngestPrefixExempt);
    if (isProblem(shared)) return shared;
    filter = shared.filter;
  } else {
    const problem = checkTopicFilter(filter, limits, reactions.basicIngestPrefixExempt);
    if (problem) return problem;
  }
  // AWS: `$` topics are AWS's; clients subscribe only where AWS allows (reactions.reservedTopics, profile.reserved).
  if (filter.charCodeAt(0) === 36 && reactions.reservedTopics === 'disconnect' && !filterAllowed(filter, ctx.profile.reserved.subscribe)) {
    return { rule: 'aws.reserved-topic', message: `SUBSCRIBE to ${JSON.stringify(topic)}: a reserved topic filter clients may not subscribe to` };
  }
  return undefined;
}

/** Adds the subscriptions to the session; returns their granted QoS. */
function add(ctx: HandlerContext, subs: { topic: string; qos: 0 | 1 | 2 }[]): (0 | 1)[] {
  // AWS: there may be a delay between SUBACK and the first matching message (chaos: subscriptionDelay).
  const chaos = ctx.chaos();
  return ctx.broker.subscribe(
    ctx.link,
    subs.map((s) => ({ filter: s.topic, qos: s.qos as 0 | 1 })),
    chaos && ((filter) => chaos.subscriptionDelay(filter)),
  );
}

/** After SUBACK: retained messages for `retainedFor`, and the subscribed lifecycle event for `filters`. */
function after(ctx: HandlerContext, filters: string[], retainedFor: string[]): void {
  // AWS (§1.7): after SUBACK, the retained message of each exact-topic filter (none for wildcards and shared ones).
  if (retainedFor.length > 0) ctx.broker.sendRetained(ctx.link, retainedFor);
  if (filters.length > 0) ctx.broker.subscriptionsChanged(ctx.link, 'subscribed', filters);
}

/**
 * MQTT 5: a reason code per filter instead of a disconnect (AWS's SUBACK codes, §1.11): 0x00/0x01 granted,
 * 0x8F topic filter invalid, 0x97 quota exceeded (over limits.maxSubscriptionsPerConnection), 0x9E shared
 * subscriptions not supported (where the profile has none), 0x80 for QoS 2 under qos2SubscribeMqtt5: 'refuse'.
 * A reserved filter clients may not use still closes the connection, as on MQTT 3.1.1 (AWS: "terminated connection").
 */
function subscribe5(ctx: HandlerContext, packet: SubscribePacket): void {
  const { limits, reactions } = ctx.profile;
  const codes: number[] = [];
  const accepted: { topic: string; qos: 0 | 1; sub: Subscription }[] = [];
  const current = new Set(ctx.broker.subscriptionsOf(ctx.link).keys());
  const adding = new Set<string>();
  for (const s of packet.subscriptions) {
    let code: number | undefined;
    const qos: 0 | 1 = s.qos === 0 ? 0 : 1;
    if (s.qos === 2 && reactions.qos2SubscribeMqtt5 === 'refuse') code = REASON.unspecified;
    else if (!reactions.sharedSubscriptions && isShared(s.topic)) code = REASON.sharedSubscriptionsNotSupported;
    else {
      const problem = filterProblem(ctx, s.topic);
      if (problem?.rule === 'aws.reserved-topic') return ctx.violation({ ...problem, reasonCode: REASON.topicFilterInvalid });
      if (problem?.rule === 'MQTT-1.5.3-1') return ctx.violation({ ...problem, reasonCode: REASON.malformed });
      if (problem) code = REASON.topicFilterInvalid;
      // AWS (§6.2): a filter the policies do not allow to subscribe to is SUBACK 0x87 "Not authorized".
      else if (!ctx.authorize('iot:Subscribe', 'topicfilter', s.topic, 'refused')) code = REASON.notAuthorized;
    }
    if (code === undefined && !current.has(s.topic) && !adding.has(s.topic)) {
      // AWS: at most limits.maxSubscriptionsPerConnection (50); MQTT 5 hears 0x97 "Quota exceeded" for the excess.
      if (current.size + adding.size >= limits.maxSubscriptionsPerConnection) code = REASON.quotaExceeded;
      else adding.add(s.topic);
    }
    if (code === undefined) {
      // QoS 2 under 'downgrade': granted QoS 1, AWS's Maximum QoS (SUBACK 0x01).
      accepted.push({ topic: s.topic, qos, sub: s });
      code = qos;
    }
    codes.push(code);
  }
  const granted = accepted.length > 0 ? add(ctx, accepted) : [];
  let g = 0;
  const reasonCodes = codes.map((c) => (c <= 1 ? granted[g++] ?? c : c));
  ctx.send({ cmd: 'suback', messageId: packet.messageId, granted: reasonCodes });
  // Retain Handling: 0 sends the retained message, 1 only for a new subscription, 2 never.
  const retainedFor = accepted.filter(({ topic, sub }) => (sub.rh ?? 0) === 0 || (sub.rh === 1 && !current.has(topic))).map((a) => a.topic);
  after(ctx, accepted.map((a) => a.topic), retainedFor);
}
