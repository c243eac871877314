/** CONNECT: protocol level, client id, will and keep-alive, checked against MQTT 3.1.1 / MQTT 5 and the profile. */
import type { ConnackProperties, ConnectPacket } from '../../codec/codec';
import type { Message } from '../../session/session';
import { hasInvalidUtf8, invalidUtf8 } from '../../topics/validate';
import { REASON, forwardedProperties, invalidUtf8Payload } from '../mqtt5';
import { checkMessage, messageExpiry, storesRetained } from './publish';
import { type ConnectContext, type Problem, limitProblem } from './context';

/** MQTT 3.1.1 CONNACK return codes. */
export const CONNACK = { accepted: 0, unacceptableProtocol: 1, identifierRejected: 2, serverUnavailable: 3 } as const;

export function handleConnect(ctx: ConnectContext, packet: ConnectPacket): void {
  const { limits, reactions } = ctx.profile;
  const v5 = packet.protocolVersion === 5;
  /** Refuses the CONNECT: MQTT 5 with its reason code, MQTT 3.1.1 with its return code (undefined: no CONNACK). */
  const refuse = (returnCode: number | undefined, reasonCode: number) => {
    if (v5) ctx.send({ cmd: 'connack', reasonCode, sessionPresent: false });
    else if (returnCode !== undefined) ctx.send({ cmd: 'connack', returnCode, sessionPresent: false });
  };
  const fail = (problem: Problem, returnCode: number | undefined, reasonCode: number) => {
    refuse(returnCode, reasonCode);
    return ctx.violation(problem);
  };
  // Protocol levels the profile does not speak never get here: the codec reports them, and the dispatcher
  // answers CONNACK 0x01 [MQTT-3.1.2-2].
  const clean = packet.clean !== false;
  const properties = packet.properties ?? {};
  // AWS does not support MQTT 5 enhanced authentication (AUTH, §1.1): 0x8C "Bad authentication method".
  if (v5 && properties.authenticationMethod !== undefined) {
    return fail({ rule: 'aws.auth-packet', message: `authentication method ${JSON.stringify(properties.authenticationMethod)}: AWS IoT does not support MQTT 5 enhanced authentication` }, undefined, REASON.badAuthenticationMethod);
  }
  let clientId = packet.clientId;
  let assigned = false;
  if (clientId === '') {
    // MQTT 5: AWS assigns an id whatever Clean Start says (Assigned Client Identifier, §1.9). MQTT 3.1.1:
    // [MQTT-3.1.3-8] an empty client id with cleanSession = 0 is rejected with 0x02 (the profile may reject all).
    if ((!clean && !v5) || reactions.emptyClientId === 'reject') {
      return fail({ rule: clean || v5 ? 'aws.empty-client-id' : 'MQTT-3.1.3-8', message: 'empty client id' }, CONNACK.identifierRejected, REASON.clientIdNotValid);
    }
    // [MQTT-3.1.3-6] the server assigns an id to a clean session that sent none.
    clientId = ctx.broker.assignClientId();
    assigned = true;
  }
  if (hasInvalidUtf8(clientId)) return ctx.violation(invalidUtf8('client id'));
  const idBytes = Buffer.byteLength(clientId);
  if (idBytes > limits.maxClientIdBytes) {
    // AWS: client ids are limited to limits.maxClientIdBytes (128 bytes); 0x02 "identifier rejected", MQTT 5 0x85.
    return fail(limitProblem('maxClientIdBytes', limits.maxClientIdBytes, idBytes, `client id is ${idBytes} bytes; AWS allows ${limits.maxClientIdBytes}`), CONNACK.identifierRejected, REASON.clientIdNotValid);
  }
  ctx.identify(clientId);
  // AWS: one client id may CONNECT limits.maxConnectsPerSecondPerClientId times a second; the excess is
  // throttled (Connect.ClientIDThrottle) and the connection holding the id is not touched (reactions.connectRate).
  // MQTT 5 answers with a reason code, whatever connectRate says: 0x97 "Quota exceeded", the one of AWS's listed
  // CONNACK codes that fits (aws-iot-behaviour.md §1.4; MQTT's 0x9F "Connection rate exceeded" is not in AWS's list).
  if (!ctx.broker.admitConnect(clientId)) {
    refuse(reactions.connectRate === 'server-unavailable' ? CONNACK.serverUnavailable : undefined, REASON.quotaExceeded);
    return ctx.throttle({ limit: 'maxConnectsPerSecondPerClientId', direction: 'in', action: 'refused' });
  }

  let will: Message | undefined;
  if (packet.will) {
    const w = packet.will;
    const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : Buffer.from(w.payload ?? []);
    const problem = checkMessage(ctx, w.topic, w.qos ?? 0, w.retain === true, payload.length, 'will');
    if (v5 && problem) {
      // MQTT 5: the CONNACK says why (AWS: 0x9B for a will QoS 2, 0x90 for a will topic; §1.2, §1.4).
      const code = problem === 'ignore' || problem.rule === 'aws.qos2' ? REASON.qosNotSupported
        : problem.rule === 'aws.retain' ? REASON.retainNotSupported
        : problem.limit === 'maxPayloadBytes' ? REASON.packetTooLarge : REASON.topicNameInvalid;
      return fail(problem === 'ignore' ? { rule: 'aws.qos2', message: 'will QoS 2 is not supported' } : problem, undefined, code);
    }
    // AWS: a will it cannot honour fails the connect: the socket is closed without CONNACK.
    if (problem === 'ignore') return ctx.violation({ rule: 'aws.qos2', message: 'will QoS 2 is not supported' });
    if (problem) return ctx.violation(problem);
    // AWS: Will Retain is honoured — the will is stored as the will topic's retained message when published (§1.8).
    will = { topic: w.topic, payload, qos: (w.qos ?? 0) as 0 | 1, ...(storesRetained(ctx, w.topic, w.retain === true) ? { retain: true } : {}) };
    if (v5 && w.properties) {
      // MQTT 5 will properties travel with the will; its Message Expiry counts from the disconnect (§1.8).
      if (w.properties.payloadFormatIndicator && invalidUtf8Payload(payload)) {
        return fail({ rule: 'MQTT-3.1.3-15', message: 'the will payload is marked UTF-8 (Payload Format Indicator 1) but is not valid UTF-8' }, undefined, REASON.payloadFormatInvalid);
      }
      const forwarded = forwardedProperties(w.properties);
      if (forwarded) {
        will.properties = forwarded.properties;
        will.propertyBytes = forwarded.bytes;
      }
      const expiry = messageExpiry(ctx, w.properties.messageExpiryInterval);
      if (expiry !== undefined) will.expiryInterval = expiry;
    }
  }

  // AWS (§1.6, §1.8, §6): the policies must allow iot:Connect (with iot:ConnectAttributes PersistentConnect /
  // LastWill as asked) and publishing the will. Denied: MQTT 5 hears CONNACK 0x87 "Not authorized", MQTT 3.1.1
  // no CONNACK at all (the socket closes); either way a connect_failed lifecycle event (AUTHORIZATION_FAILED, §3.3).
  const persistent = v5 ? (properties.sessionExpiryInterval ?? 0) > 0 : !clean;
  if (!ctx.authorizeConnect(clientId, persistent, will, packet.will?.retain === true && will?.retain === true)) {
    refuse(undefined, REASON.notAuthorized);
    ctx.broker.connectFailed(ctx.link, clientId);
    return ctx.close('AUTH_ERROR');
  }

  // AWS: keep-alive is clamped to [min, max]; 0 (no keep-alive) becomes the maximum.
  const requested = packet.keepalive ?? 0;
  const keepAlive = requested === 0 ? limits.maxKeepAliveSeconds : Math.min(Math.max(requested, limits.minKeepAliveSeconds), limits.maxKeepAliveSeconds);
  if (!v5) {
    // MQTT 3.1.1: a persistent session lasts the account's session expiry (AWS: 1 h by default, §1.6).
    ctx.accept({ clientId, cleanSession: clean, sessionExpirySeconds: clean ? 0 : limits.sessionExpirySeconds, will, keepAliveSeconds: keepAlive, requestedKeepAliveSeconds: requested });
    return;
  }
  // MQTT 5 (§1.6): the Session Expiry Interval decides persistence (absent: 0); AWS grants at most the account's
  // maximum (limits.sessionExpirySeconds, and never more than limits.maxSessionExpiryIntervalSeconds) and says so in CONNACK.
  const requestedExpiry = properties.sessionExpiryInterval ?? 0;
  const grantedExpiry = Math.min(requestedExpiry, limits.sessionExpirySeconds, limits.maxSessionExpiryIntervalSeconds);
  const state = ctx.mqtt5!;
  state.sessionExpiry = grantedExpiry;
  state.connectExpiryZero = requestedExpiry === 0;
  // AWS's CONNACK properties (§1.4, §1.11).
  const connack: ConnackProperties = {
    ...(grantedExpiry !== requestedExpiry ? { sessionExpiryInterval: grantedExpiry } : {}),
    receiveMaximum: limits.receiveMaximum,
    maximumQoS: 1,
    retainAvailable: ctx.profile.features.retained,
    maximumPacketSize: limits.maxPacketBytes,
    ...(assigned ? { assignedClientIdentifier: clientId } : {}),
    topicAliasMaximum: limits.maxTopicAliases,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: false,
    sharedSubscriptionAvailable: reactions.sharedSubscriptions,
    // The keep-alive AWS applies, when it is not the one asked for (§1.5).
    ...(keepAlive !== requested ? { serverKeepAlive: keepAlive } : {}),
  };
  ctx.accept({
    clientId, cleanSession: clean, sessionExpirySeconds: grantedExpiry, will, keepAliveSeconds: keepAlive, requestedKeepAliveSeconds: requested,
    connackProperties: connack, receiveMaximum: state.receiveMaximum,
  });
}
