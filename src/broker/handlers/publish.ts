/** PUBLISH from the client: checked against the profile, routed, acknowledged at QoS 1 (MQTT 5: with a reason code). */
import type { PublishPacket } from '../../codec/codec';
import type { Message } from '../../session/session';
import { REASON, forwardedProperties, invalidUtf8Payload } from '../mqtt5';
import { type HandlerContext, type Problem, limitProblem } from './context';

/**
 * An MQTT 5 Message Expiry Interval as AWS applies it (§1.11): at least limits.minMessageExpirySeconds (0 becomes 1),
 * at most limits.maxMessageExpirySeconds (7 days). Undefined when the publisher set none: the message does not expire.
 */
export function messageExpiry(ctx: HandlerContext, interval: number | undefined): number | undefined {
  if (interval === undefined) return undefined;
  const { minMessageExpirySeconds: min, maxMessageExpirySeconds: max } = ctx.profile.limits;
  return Math.min(Math.max(interval, min), max);
}

/** Problems with the topic name itself, which AWS answers on MQTT 5 with PUBACK 0x90 "Topic Name invalid" (§2). */
function topicNameProblem(problem: Problem): boolean {
  return problem.limit === 'maxTopicBytes' || problem.limit === 'maxTopicSlashes' || problem.rule === 'MQTT-3.3.2-2' || problem.rule === 'MQTT-4.7.3-1' || problem.rule === 'MQTT-4.7.3-2';
}

/** The MQTT 5 DISCONNECT reason for a PUBLISH (or will) problem that closes the connection. */
function publishReason(problem: Problem): number {
  if (problem.rule === 'aws.qos2') return REASON.qosNotSupported;
  if (problem.rule === 'aws.retain') return REASON.retainNotSupported;
  if (problem.limit === 'maxPayloadBytes') return REASON.packetTooLarge;
  if (problem.rule === 'MQTT-1.5.3-1') return REASON.malformed;
  return REASON.topicNameInvalid;
}

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

/** The IoT policy check of a PUBLISH, and AWS's reaction when it is denied (false: the PUBLISH goes no further). */
function mayPublish(ctx: HandlerContext, topic: string, qos: 0 | 1 | 2, retained: boolean): boolean {
  const { reactions } = ctx.profile;
  const v5 = ctx.mqtt5;
  const drop = v5 ? qos === 0 && reactions.unauthorizedPublishQos0Mqtt5 === 'drop' : reactions.unauthorizedPublish === 'drop';
  const reaction = v5 && qos === 1 ? 'refused' : drop ? 'dropped' : 'closed';
  const allowed = ctx.authorize('iot:Publish', 'topic', topic, reaction) && (!retained || ctx.authorize('iot:RetainPublish', 'topic', topic, reaction));
  if (allowed) return true;
  if (reaction === 'closed') ctx.close('AUTH_ERROR'); // MQTT 5: DISCONNECT 0x87 "Not authorized"
  return false;
}

export function handlePublish(ctx: HandlerContext, packet: PublishPacket): void {
  const payload = packet.payload as Buffer;
  const v5 = ctx.mqtt5;
  const { limits } = ctx.profile;
  /** MQTT 5: a PUBACK with a failure reason (and a reason string, unless the client asked for none). */
  const refuse = (reasonCode: number, why: string) => {
    if (packet.qos !== 1) return;
    ctx.send({ cmd: 'puback', messageId: packet.messageId, reasonCode, ...(v5!.problemInformation ? { properties: { reasonString: why } } : {}) });
  };
  let topic = packet.topic;
  const properties = packet.properties;
  if (v5) {
    // AWS: QoS above the Maximum QoS 1 of CONNACK is DISCONNECT 0x9B "QoS not supported" (§1.2), whatever reactions.qos2 says.
    if (packet.qos === 2) return ctx.violation({ rule: 'aws.qos2', message: 'PUBLISH with QoS 2: AWS IoT announces Maximum QoS 1', reasonCode: REASON.qosNotSupported });
    // [MQTT-3.3.4-6] a client does not send a Subscription Identifier.
    if (properties?.subscriptionIdentifier !== undefined) return ctx.violation({ rule: 'MQTT-3.3.4-6', message: 'PUBLISH from a client carries a Subscription Identifier', reasonCode: REASON.protocolError });
    const alias = properties?.topicAlias;
    if (alias !== undefined) {
      // AWS: at most limits.maxTopicAliases (8) aliases; 0 or a larger one is DISCONNECT 0x94 "Topic Alias invalid" (§2).
      if (alias === 0 || alias > limits.maxTopicAliases) {
        return ctx.violation({ ...limitProblem('maxTopicAliases', limits.maxTopicAliases, alias, `topic alias ${alias}; AWS allows 1 to ${limits.maxTopicAliases}`), reasonCode: REASON.topicAliasInvalid });
      }
      if (topic === '') {
        const known = v5.topicAliases.get(alias);
        if (known === undefined) return ctx.violation({ rule: 'MQTT-3.3.2-7', message: `topic alias ${alias} was never set on this connection`, reasonCode: REASON.topicAliasInvalid });
        topic = known;
      } else v5.topicAliases.set(alias, topic);
    }
    if (properties?.responseTopic !== undefined && /[+#]/.test(properties.responseTopic)) {
      // AWS: Response Topic without wildcards (§1.11) [MQTT-3.3.2-14].
      return ctx.violation({ rule: 'MQTT-3.3.2-14', message: `Response Topic ${JSON.stringify(properties.responseTopic)} contains a wildcard`, reasonCode: REASON.protocolError });
    }
  }
  const problem = checkMessage(ctx, topic, packet.qos, packet.retain, payload.length, 'PUBLISH');
  if (problem === 'ignore') return ctx.ignored('aws.qos2', 'QoS 2 PUBLISH: no PUBACK, not delivered');
  if (problem) {
    if (!v5) return ctx.violation(problem);
    // AWS, MQTT 5: a topic name it refuses is PUBACK 0x90 (QoS 1) rather than a disconnect (§2); the rest disconnect with a reason.
    if (packet.qos === 1 && topicNameProblem(problem)) return refuse(REASON.topicNameInvalid, problem.message);
    return ctx.violation({ ...problem, reasonCode: publishReason(problem) });
  }
  if (v5 && properties?.payloadFormatIndicator && invalidUtf8Payload(payload)) {
    // [MQTT-3.3.2-4] a payload marked UTF-8 that is not: PUBACK 0x99 "Payload format invalid", not delivered;
    // AWS documents no reaction [UNVERIFIED]; a QoS 0 one is dropped (recorded as ignored).
    if (packet.qos === 1) return refuse(REASON.payloadFormatInvalid, 'the payload is marked UTF-8 (Payload Format Indicator 1) but is not valid UTF-8');
    return ctx.ignored('MQTT-3.3.2-4', 'QoS 0 PUBLISH marked UTF-8 (Payload Format Indicator 1) with a payload that is not: not delivered');
  }
  // AWS (§6.1, §6.2): iot:Publish on the topic, and iot:RetainPublish as well for a message to be retained.
  // Denied: MQTT 5 QoS 1 gets PUBACK 0x87; MQTT 5 QoS 0 is dropped or disconnected (reactions.unauthorizedPublishQos0Mqtt5);
  // MQTT 3.1.1 loses its connection (reactions.unauthorizedPublish; a QoS 1 device then retries in a loop).
  if (ctx.broker.authz !== undefined && !mayPublish(ctx, topic, packet.qos, storesRetained(ctx, topic, packet.retain))) {
    if (v5 && packet.qos === 1) refuse(REASON.notAuthorized, `not authorized to publish to ${JSON.stringify(topic)}`);
    return;
  }
  // AWS: a connection may publish limits.maxPublishesPerSecond (in + out); the excess is discarded
  // (reactions.publishRate) — on MQTT 3.1.1 with no PUBACK, so a QoS 1 publisher finds out [UNVERIFIED]; on
  // MQTT 5 with PUBACK 0x97 "Quota exceeded".
  if (!ctx.admitPublish('in', topic)) {
    if (v5) refuse(REASON.quotaExceeded, `over ${limits.maxPublishesPerSecond} PUBLISH per second on this connection (limits.maxPublishesPerSecond)`);
    return;
  }
  const message: Message = { topic, payload, qos: packet.qos as 0 | 1 };
  if (v5 && properties) {
    const forwarded = forwardedProperties(properties);
    if (forwarded) {
      message.properties = forwarded.properties;
      message.propertyBytes = forwarded.bytes;
    }
    // AWS (§1.11): the Message Expiry Interval is clamped, and the message expires on the endpoint's clock.
    const expiry = messageExpiry(ctx, properties.messageExpiryInterval);
    if (expiry !== undefined) message.expiresAt = ctx.broker.clock.now() + expiry * 1000;
  }
  if (storesRetained(ctx, topic, packet.retain)) {
    // AWS (§1.7): a RETAIN publish is stored (an empty one deletes) and delivered as usual; while the account's
    // retained store is full, a non-empty one is throttled (reactions.retainedQuota): neither stored nor delivered.
    const outcome = ctx.broker.retain(message, 'client', ctx.link.clientId, ctx.link.connectionId);
    if (outcome.action === 'throttled') {
      const discard = ctx.profile.reactions.retainedQuota !== 'disconnect';
      if (v5 && discard) refuse(REASON.quotaExceeded, `the retained-message store is full (limits.${outcome.limit})`);
      return ctx.throttle({ limit: outcome.limit, direction: 'in', action: discard ? 'discarded' : 'disconnected', topic });
    }
  }
  // AWS ignores an inbound DUP flag ("the MQTT DUP flag is not supported"): a re-sent message is routed like any other.
  ctx.broker.route(message, ctx.link.clientId);
  // [MQTT-4.3.2-2] QoS 1 is acknowledged with a PUBACK carrying the same packet id (MQTT 5: reason 0x00 Success).
  if (packet.qos === 1) ctx.send(v5 ? { cmd: 'puback', messageId: packet.messageId, reasonCode: REASON.success } : { cmd: 'puback', messageId: packet.messageId });
}
