// The bench's client-side workloads, shared by bench.mjs and profile.mjs: MQTT.js clients in this process.
import mqtt from 'mqtt';
import { cpuMicros, ioCounts } from './processes.mjs';

export const connect = (url, opts = {}) => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 600, ...opts });
let idCounter = 0;
export const id = (p) => `${p}-${++idCounter}`;

/** The workload: a 100-byte payload on a device telemetry topic. */
const TOPIC = 'dt/things/dev-1/telemetry';
const PAYLOAD = Buffer.alloc(100, 7);
/** Messages the publisher may be ahead of its subscribers: a steady state, not one burst that corking flatters. */
const WINDOW = { 0: 500, 1: 200 };

/**
 * Counts the messages `subs` receive: `done` resolves at the `total`-th, `onMessage(received)` runs for each one
 * before it, and `done` rejects after 10 s without a new one (a lost message would otherwise hang the bench).
 * `stop()` ends the watch.
 */
function deliveries(subs, total, what, onMessage) {
  let received = 0;
  let watch;
  const done = new Promise((resolve, reject) => {
    const each = () => {
      if (++received === total) resolve();
      else onMessage?.(received);
    };
    for (const s of subs) s.on('message', each);
    let progress = -1;
    watch = setInterval(() => {
      if (received === progress) reject(new Error(`${what} stalled at ${received}/${total} deliveries`));
      progress = received;
    }, 10_000);
  });
  return { done, stop: () => clearInterval(watch) };
}

/** Per delivered message: the broker process's reads, writes and sleeps between two ioCounts() readings. */
function perMessage(before, after, delivered) {
  if (before === undefined || after === undefined) return undefined;
  return { reads: (after.reads - before.reads) / delivered, writes: (after.writes - before.writes) / delivered, sleeps: (after.sleeps - before.sleeps) / delivered };
}

/**
 * Windowed steady-state relay on a running broker: one publisher keeps at most WINDOW[qos] messages ahead
 * of what its `fanout` subscribers received (on average), `count` messages in all; `others` unrelated
 * subscriptions are present; clients speak MQTT `protocolVersion` (4: 3.1.1, 5: MQTT 5). With `pid`, the
 * broker process's CPU time over the run is read from /proc/<pid>/stat. `setup(url)` runs before the clock
 * starts (e.g. a shadow device). Returns { rate: published msg/s, cpu: the broker process's µs per delivered
 * message, io: its reads, writes and sleeps per delivered message (see ioCounts()), processCpu: this process's }.
 */
export async function relay(url, { qos, fanout = 1, others = 0, count, protocolVersion = 4, pid, setup }) {
  const subs = await Promise.all(Array.from({ length: fanout }, () => connect(url, { clientId: id('sub'), protocolVersion })));
  const pub = await connect(url, { clientId: id('pub'), protocolVersion });
  const extra = [];
  if (others > 0) {
    const holder = await connect(url, { clientId: id('others') });
    extra.push(holder);
    const filters = Array.from({ length: others }, (_, i) => `other/${i % 97}/${i}`);
    for (let i = 0; i < filters.length; i += 1000) await holder.subscribeAsync(filters.slice(i, i + 1000), { qos: 0 });
  }
  if (setup) extra.push(...(await setup(url)));
  await Promise.all(subs.map((s) => s.subscribeAsync(TOPIC, { qos })));
  const total = count * fanout;
  const window = WINDOW[qos] * fanout;
  let sent = 0;
  const pump = (received) => {
    while (sent < count && sent * fanout - received < window) {
      pub.publish(TOPIC, PAYLOAD, { qos });
      sent++;
    }
  };
  // A lost message would stall the window for good.
  const arrived = deliveries(subs, total, `relay (${url})`, pump);
  const cpu0 = pid ? cpuMicros(pid) : undefined;
  const io0 = pid ? ioCounts(pid) : undefined;
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  pump(0);
  try {
    await arrived.done;
  } finally {
    arrived.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = pid ? cpuMicros(pid) : undefined;
  const io1 = pid ? ioCounts(pid) : undefined;
  const own = process.cpuUsage(own0);
  await Promise.all([...subs, pub, ...extra].map((c) => c.endAsync(true)));
  return {
    rate: count / seconds,
    cpu: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / total : undefined,
    ...(pid ? { io: perMessage(io0, io1, total) } : {}),
    // This process's CPU per delivery: the clients', and an in-process broker's.
    processCpu: (own.user + own.system) / total,
  };
}

/**
 * Open-loop relay at a fixed rate on a running broker: one publisher sends `perMs` messages per millisecond of
 * wall time (caught up at each timer tick, whatever its subscriber has received), `count` in all, to one
 * subscriber. Every broker then sees the same offered load. In relay() each broker runs as fast as the clients
 * let it, and a faster broker finds fewer messages waiting at each socket read, so it pays the read, write and
 * wake-up of each batch over fewer messages. With `pid`, the broker process's CPU time over the run is read as
 * in relay(). Returns { rate: published msg/s, cpu: the broker's µs per delivered message, io: as in relay() }.
 */
export async function paced(url, { qos, perMs, count, pid }) {
  const sub = await connect(url, { clientId: id('paced-sub') });
  const pub = await connect(url, { clientId: id('paced-pub') });
  await sub.subscribeAsync(TOPIC, { qos });
  const arrived = deliveries([sub], count, `paced relay (${url})`);
  const cpu0 = pid ? cpuMicros(pid) : undefined;
  const io0 = pid ? ioCounts(pid) : undefined;
  const t0 = performance.now();
  let sent = 0;
  let timer;
  const tick = () => {
    const due = Math.min(count, Math.floor((performance.now() - t0) * perMs));
    while (sent < due) {
      pub.publish(TOPIC, PAYLOAD, { qos });
      sent++;
    }
    if (sent < count) timer = setTimeout(tick, 1);
  };
  tick();
  try {
    await arrived.done;
  } finally {
    arrived.stop();
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = pid ? cpuMicros(pid) : undefined;
  const io1 = pid ? ioCounts(pid) : undefined;
  await Promise.all([sub, pub].map((c) => c.endAsync(true)));
  return { rate: count / seconds, cpu: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / count : undefined, io: perMessage(io0, io1, count) };
}

/**
 * A device using the Device Shadow service beside the relay: subscribed to its shadow's topics, one update
 * answered (accepted, documents) before the relay starts, the document kept by the service.
 */
export async function shadowDevice(url) {
  const dev = await connect(url, { clientId: 'dev-1' });
  await dev.subscribeAsync('$aws/things/dev-1/shadow/#', { qos: 1 });
  const answered = new Promise((resolve) => dev.on('message', (topic) => topic.endsWith('/update/documents') && resolve()));
  await dev.publishAsync('$aws/things/dev-1/shadow/update', JSON.stringify({ state: { reported: { on: true } } }), { qos: 1 });
  await answered;
  return [dev];
}

