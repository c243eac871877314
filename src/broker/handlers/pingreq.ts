/** PINGREQ: answered with PINGRESP [MQTT-3.12.4-1]. (Keep-alive activity is counted by the dispatcher.) */
import type { HandlerContext } from './context';

export function handlePingreq(ctx: HandlerContext): void {
  ctx.send({ cmd: 'pingresp' });
}
