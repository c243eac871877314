/**
 * A synchronisation point for checks that something did NOT reach a client. The broker handles one
 * connection's packets in order and writes its answers in order, so once the PINGRESP to a PINGREQ sent
 * now is back at the client, everything the broker wrote to that client before it has arrived too.
 */
import type { MqttClient } from 'mqtt';
import type { FakeIot, PacketEntry } from '../src';
import type { RawClient } from './helpers';

/**
 * Sends PINGREQ on the client's connection and resolves with the trace entry of its PINGRESP once the
 * client has received it. Checks made after this see everything the broker sent the client before.
 */
export async function pingRoundTrip(iot: FakeIot, clientId: string, c: MqttClient | RawClient): Promise<PacketEntry> {
  const mark = iot.trace.entries.at(-1)?.seq ?? 0;
  let received: Promise<unknown>;
  if ('socket' in c) {
    received = c.count('pingresp', c.received.filter((p) => p.cmd === 'pingresp').length + 1);
    c.send({ cmd: 'pingreq' });
  } else {
    received = new Promise<void>((resolve) => {
      const onPacket = (p: { cmd: string }) => {
        if (p.cmd !== 'pingresp') return;
        c.off('packetreceive', onPacket);
        resolve();
      };
      c.on('packetreceive', onPacket);
    });
    c.sendPing();
  }
  const pong = await iot.trace.waitFor(
    (e) => e.seq > mark && e.kind === 'packet' && e.direction === 'out' && e.clientId === clientId && e.packet.cmd === 'pingresp',
  );
  await received;
  return pong as PacketEntry;
}
