/** CONNECT: protocol level, client id, will and keep-alive, checked against MQTT 3.1.1 and the profile. */
import type { ConnectPacket } from '../../codec/codec';
import { hasInvalidUtf8, invalidUtf8 } from '../../topics/validate';
import { checkMessage, storesRetained } from './publish';
import { type ConnectContext, limitProblem } from './context';

/** MQTT 3.1.1 CONNACK return codes. */
export const CONNACK = { accepted: 0, unacceptableProtocol: 1, identifierRejected: 2, serverUnavailable: 3 } as const;

export function handleConnect(ctx: ConnectContext, packet: ConnectPacket): void {
  const { limits, reactions } = ctx.profile;
  const refuse = (returnCode: number) => ctx.send({ cmd: 'connack', returnCode, sessionPresent: false });
  // Protocol levels other than 4 (MQTT 3.1.1) never get here: the codec reports them, and the dispatcher
  // answers CONNACK 0x01 [MQTT-3.1.2-2].
  const clean = packet.clean !== false;
  let clientId = packet.clientId;
  if (clientId === '') {
    if (!clean || reactions.emptyClientId === 'reject') {
      // [MQTT-3.1.3-8] an empty client id with cleanSession = 0 is rejected with 0x02 (the profile may reject all).
      refuse(CONNACK.identifierRejected);
      return ctx.violation({ rule: clean ? 'aws.empty-client-id' : 'MQTT-3.1.3-8', message: 'empty client id' });
    }
    // [MQTT-3.1.3-6] the server assigns an id to a clean session that sent none.
    clientId = ctx.broker.assignClientId();
  }
  if (hasInvalidUtf8(clientId)) return ctx.violation(invalidUtf8('client id'));
  const idBytes = Buffer.byteLength(clientId);
  if (idBytes > limits.maxClientIdBytes) {
    // AWS: client ids are limited to limits.maxClientIdBytes (128 bytes); 0x02 "identifier rejected".
    refuse(CONNACK.identifierRejected);
    return ctx.violation(limitProblem('maxClientIdBytes', limits.maxClientIdBytes, idBytes, `client id is ${idBytes} bytes; AWS allows ${limits.maxClientIdBytes}`));
  }
  ctx.identify(clientId);
  // AWS: one client id may CONNECT limits.maxConnectsPerSecondPerClientId times a second; the excess is
  // throttled (Connect.ClientIDThrottle) and the connection holding the id is not touched (reactions.connectRate).
  if (!ctx.broker.admitConnect(clientId)) {
    if (reactions.connectRate === 'server-unavailable') refuse(CONNACK.serverUnavailable);
    return ctx.throttle({ limit: 'maxConnectsPerSecondPerClientId', direction: 'in', action: 'refused' });
  }

  let will;
  if (packet.will) {
    const w = packet.will;
    const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : Buffer.from(w.payload ?? []);
    const problem = checkMessage(ctx, w.topic, w.qos ?? 0, w.retain === true, payload.length, 'will');
    // AWS: a will it cannot honour fails the connect: the socket is closed without CONNACK.
    if (problem === 'ignore') return ctx.violation({ rule: 'aws.qos2', message: 'will QoS 2 is not supported' });
    if (problem) return ctx.violation(problem);
    // AWS: Will Retain is honoured — the will is stored as the will topic's retained message when published (§1.8).
    will = { topic: w.topic, payload, qos: (w.qos ?? 0) as 0 | 1, ...(storesRetained(ctx, w.topic, w.retain === true) ? { retain: true } : {}) };
  }

  // AWS: keep-alive is clamped to [min, max]; 0 (no keep-alive) becomes the maximum.
  const requested = packet.keepalive ?? 0;
  const keepAlive = requested === 0 ? limits.maxKeepAliveSeconds : Math.min(Math.max(requested, limits.minKeepAliveSeconds), limits.maxKeepAliveSeconds);
  ctx.accept({ clientId, cleanSession: clean, will, keepAliveSeconds: keepAlive, requestedKeepAliveSeconds: requested });
}
