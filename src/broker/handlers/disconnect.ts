/**
 * DISCONNECT: the client leaves; its will is not published [MQTT-3.14.4-3]. MQTT 5 (§1.6): the DISCONNECT may
 * change the Session Expiry Interval (not from 0 to more [MQTT-3.14.2-2]; 0 ends the session now; another value,
 * granted up to the profile's maximum, replaces the old one), and reason 0x04 asks for the will to be published.
 */
import type { DisconnectPacket } from '../../codec/codec';
import { REASON } from '../mqtt5';
import type { HandlerContext } from './context';

export function handleDisconnect(ctx: HandlerContext, packet: DisconnectPacket): void {
  const v5 = ctx.mqtt5;
  if (v5) {
    const requested = packet.properties?.sessionExpiryInterval;
    if (requested !== undefined) {
      if (v5.connectExpiryZero && requested > 0) {
        return ctx.violation({ rule: 'MQTT-3.14.2-2', message: `DISCONNECT sets Session Expiry Interval ${requested} after a CONNECT with 0`, reasonCode: REASON.protocolError });
      }
      const { limits } = ctx.profile;
      ctx.broker.setSessionExpiry(ctx.link, Math.min(requested, limits.sessionExpirySeconds, limits.maxSessionExpiryIntervalSeconds));
    }
    if (packet.reasonCode === REASON.disconnectWithWill) return ctx.close('CLIENT_INITIATED_DISCONNECT', { publishWill: true });
  }
  ctx.close('CLIENT_INITIATED_DISCONNECT');
}
