import type { FakeIot, TraceEntry } from '../../src';

/** Out PUBLISH entries to `clientId`, in the order they were written. */
export function deliveries(iot: FakeIot, clientId: string) {
  return iot.trace.filter({ direction: 'out', clientId, packet: { cmd: 'publish' } });
}

/** Payload text of a PUBLISH entry. */
export const text = (e: TraceEntry): string => (e.kind === 'packet' && e.packet.cmd === 'publish' ? (e.packet.payload as Buffer).toString() : '');
