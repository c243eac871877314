/** PUBLISH from the client: checked against the profile, routed, acknowledged at QoS 1. */
import type { PublishPacket } from '../../codec/codec';
import { type HandlerContext, type Problem, limitProblem } from './context';

/** Whether a RETAIN message to `topic` is kept under the profile: retain 'store', and not a `$` topic (§1.7). */
export function storesRetained(ctx: HandlerContext, topic: string, retain: boolean): boolean {
  return retain && ctx.profile.reactions.retain === 'store' && topic.charCodeAt(0) !== 36;
}

/**
 * Checks a message a client wants published (PUBLISH or will). Returns a problem that closes the
 * connection, `'ignore'` for QoS 2 under `qos2: 'ignore'`, or undefined when it may go ahead.
 */
export function checkMessage(ctx: HandlerContext, topic: string, qos: number, retain: boolean, payloadBytes: number, what: string): Problem | 'ignore' | undefined {
  const { limits, reactions } = ctx.profile;
  if (qos === 2) {
    // AWS: QoS 2 is not supported; the broker sends no PUBACK (or closes the connection): reactions.qos2.
    return reactions.qos2 === 'ignore' ? 'ignore' : { rule: 'aws.qos2', message: `${what} with QoS 2 is not supported` };
  }
  // AWS (classic): a request to retain a message disconnects the client; nothing is stored (reactions.retain).
  if (retain && reactions.retain === 'disconnect') return { rule: 'aws.retain', message: `${what} with RETAIN: AWS IoT does not support retained messages` };
  const topicProblem = ctx.broker.checkTopic(topic);
  if (topicProblem) return topicProblem;
  // AWS: `$` topics are AWS's; clients publish only where AWS allows (reactions.reservedTopics, profile.reserved).
  if (topic.charCodeAt(0) === 36 && reactions.reservedTopics === 'disconnect' && !ctx.broker.reservedPublishAllowed(topic)) {
    return { rule: 'aws.reserved-topic', message: `${what} to ${JSON.stringify(topic)}: a reserved topic clients may not publish to` };
  }
  // AWS: RETAIN "is not allowed on reserved topics" (§1.7); the reaction is not documented (reactions.reservedRetain).
  if (retain && reactions.retain === 'store' && topic.charCodeAt(0) === 36 && reactions.reservedRetain === 'disconnect') {
    return { rule: 'aws.reserved-retain', message: `${what} to ${JSON.stringify(topic)} with RETAIN: AWS IoT does not allow retained messages on reserved topics` };
  }
  if (payloadBytes > limits.maxPayloadBytes) {
    // AWS: payloads are limited to limits.maxPayloadBytes (128 KB).
    return limitProblem('maxPayloadBytes', limits.maxPayloadBytes, payloadBytes, `${what} payload is ${payloadBytes} bytes; AWS allows ${limits.maxPayloadBytes}`);
  }
  return undefined;
}

export function handlePublish(ctx: HandlerContext, packet: PublishPacket): void {
  const payload = packet.payload as Buffer;
  const problem = checkMessage(ctx, packet.topic, packet.qos, packet.retain, payload.length, 'PUBLISH');
  if (problem === 'ignore') return ctx.ignored('aws.qos2', 'QoS 2 PUBLISH: no PUBACK, not delivered');
  if (problem) return ctx.violation(problem);
  // AWS: a connection may publish limits.maxPublishesPerSecond (in + out); the excess is discarded
  // (reactions.publishRate) — with no PUBACK, so a QoS 1 publisher finds out [UNVERIFIED].
  if (!ctx.admitPublish('in', packet.topic)) return;
  const message = { topic: packet.topic, payload, qos: packet.qos as 0 | 1 };
  if (storesRetained(ctx, packet.topic, packet.retain)) {
    // AWS (§1.7): a RETAIN publish is stored (an empty one deletes) and delivered as usual; while the account's
    // retained store is full, a non-empty one is throttled (reactions.retainedQuota): neither stored nor delivered.
    const outcome = ctx.broker.retain(message, 'client', ctx.link.clientId, ctx.link.connectionId);
    if (outcome.action === 'throttled') {
      return ctx.throttle({ limit: outcome.limit, direction: 'in', action: ctx.profile.reactions.retainedQuota === 'disconnect' ? 'disconnected' : 'discarded', topic: packet.topic });
    }
  }
  // AWS ignores an inbound DUP flag ("the MQTT DUP flag is not supported"): a re-sent message is routed like any other.
  ctx.broker.route(message, ctx.link.clientId);
  // [MQTT-4.3.2-2] QoS 1 is acknowledged with a PUBACK carrying the same packet id.
  if (packet.qos === 1) ctx.send({ cmd: 'puback', messageId: packet.messageId });
}
