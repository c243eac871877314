/** DISCONNECT: the client leaves; its will is not published [MQTT-3.14.4-3]. */
import type { HandlerContext } from './context';

export function handleDisconnect(ctx: HandlerContext): void {
  ctx.close('CLIENT_INITIATED_DISCONNECT');
}
