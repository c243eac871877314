/**
 * Memory under a flood, measured in a process of its own (run with --expose-gc): stalled consumers that
 * never read, a publisher that sends COUNT × 64 KB at QoS 1 and QoS 0, and a bystander whose QoS 1 round
 * trips must keep completing. Prints one JSON line of figures.
 *   node --expose-gc flood-child.js <dist dir> <consumers> <count>
 */
const net = require('node:net');
const path = require('node:path');
const mqtt = require('mqtt');
const mqttPacket = require('mqtt-packet');

const [distDir, consumersArg, countArg] = process.argv.slice(2);
const { startFakeIot } = require(path.resolve(distDir));
const CONSUMERS = Number(consumersArg ?? 1);
const COUNT = Number(countArg ?? 4000);
const MB = 1024 * 1024;

const rss = () => process.memoryUsage().rss;
/** Memory the process holds on to: the JS heap and the buffers outside it. */
const held = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
};
function collect() {
  global.gc();
  global.gc();
}

async function stalledConsumer(iot, i) {
  const socket = net.connect(iot.port, iot.host);
  socket.on('error', () => {});
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const next = (cmd) => new Promise((resolve) => parser.on('packet', (p) => p.cmd === cmd && resolve()));
  socket.on('data', (d) => parser.parse(d));
  await new Promise((resolve) => socket.once('connect', resolve));
  const connack = next('connack');
  const suback = next('suback');
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 1200, clientId: `stalled-${i}` }));
  await connack; // AWS: nothing before CONNACK
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/q1', qos: 1 }, { topic: 'flood/q0', qos: 0 }] }));
  await suback;
  socket.pause(); // never reads again
  return socket;
}

async function main() {
  // The flood is far beyond AWS's 100 PUBLISH/s and 512 KiB/s per connection; the rate limits are lifted so
  // that it reaches the broker whole: the worst case for its memory.
  const iot = await startFakeIot({ seed: 1, throttles: false, ...(process.env.FLOOD_OPTIONS ? JSON.parse(process.env.FLOOD_OPTIONS) : {}) });
  const consumers = [];
  for (let i = 0; i < CONSUMERS; i++) consumers.push(await stalledConsumer(iot, i));
  const connect = (clientId) =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(iot.url, { clientId, reconnectPeriod: 0 });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
  const echo = await connect('bystander');
  await echo.subscribeAsync('by/echo', { qos: 1 });
  const publisher = await connect('publisher');

  collect();
  const before = rss();
  const heldBefore = held();
  let peak = before;

  // The bystander: QoS 1 round trips, one after another, for as long as the flood lasts.
  let flooding = true;
  let roundTrips = 0;
  const bystander = (async () => {
    while (flooding) {
      const got = new Promise((resolve) => echo.once('message', resolve));
      await echo.publishAsync('by/echo', `rt ${roundTrips}`, { qos: 1 });
      await got;
      roundTrips++;
    }
  })();

  const payload = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < COUNT; i++) {
    await publisher.publishAsync('flood/q1', payload, { qos: 1 });
    await publisher.publishAsync('flood/q0', payload, { qos: 0 });
    if (i % 250 === 0) peak = Math.max(peak, rss());
  }
  flooding = false;
  await bystander;
  const during = roundTrips;
  collect();
  const after = rss();
  const heldAfter = held();
  const dropped = iot.trace.filter({ event: 'dropped' }).length;
  const info = iot.clients().find((c) => c.clientId === 'stalled-0');
  process.stdout.write(`${JSON.stringify({ consumers: CONSUMERS, count: COUNT, growthMB: (after - before) / MB, heldGrowthMB: (heldAfter - heldBefore) / MB, peakGrowthMB: (peak - before) / MB, roundTrips: during, dropped, stalled0: info && { inflight: info.inflight, queued: info.queued } })}\n`);
  for (const s of consumers) s.destroy();
  echo.end(true);
  publisher.end(true);
  await iot.close();
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack}\n`);
  process.exit(1);
});
