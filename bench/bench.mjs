// Side-by-side benchmark: fake-aws-iot against aedes, MQTT.js clients in the same process,
// systems interleaved (A B A B ...), medians of several repetitions. `npm run bench [-- --quick]`.
import { fork, spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { deviceTls, systems, tlsSystems } from './systems.mjs';

const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 5;
const here = fileURLToPath(new URL('.', import.meta.url));
const started = performance.now();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const connect = (url, opts = {}) => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 600, ...opts });
let idCounter = 0;
const id = (p) => `${p}-${++idCounter}`;

/** Runs `measure(system)` for each system, interleaved, `reps` times; returns medians. */
async function compare(names, measure, reps = REPS) {
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < reps; r++) {
    for (const n of names) {
      // Start each measurement from a quiet process: the previous system's closing work (timers, sockets,
      // garbage) must not be charged to the next one. Without this pause the first system after aedes lost ~25 %.
      await new Promise((resolve) => setTimeout(resolve, 20));
      globalThis.gc?.();
      samples[n].push(await measure(n));
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

// ---- measurements -------------------------------------------------------------------------

/** ms per test cycle: start, connect, subscribe, QoS 1 publish to itself, receive, close. */
/** ms per test cycle: start, connect, subscribe, QoS 1 to itself, receive, close (`start` and `extra` pick the system and the connection). */
async function cycleWith(start, extra, tag) {
  const k = quick ? 6 : 20;
  const t0 = performance.now();
  for (let i = 0; i < k; i++) {
    const b = await start();
    const c = await connect(b.url, { clientId: id(tag), ...extra });
    await c.subscribeAsync('cycle/t', { qos: 1 });
    const got = new Promise((resolve) => c.once('message', resolve));
    await c.publishAsync('cycle/t', 'ping', { qos: 1 });
    await got;
    await c.endAsync();
    await b.close();
  }
  return (performance.now() - t0) / k;
}

const cycle = (name) => cycleWith(() => systems[name](), {}, 'cycle');

/** ms per test cycle over mTLS: start with TLS, TLS connect with a client certificate, subscribe, QoS 1 to itself, receive, close. */
const tlsCycle = (name) => cycleWith(() => tlsSystems[name](), deviceTls, 'tlscycle');

/** ms per start + close. */
async function startClose(name) {
  const k = quick ? 20 : 50;
  const t0 = performance.now();
  for (let i = 0; i < k; i++) await (await systems[name]()).close();
  return (performance.now() - t0) / k;
}

/** ms to import the module in a fresh process. */
function coldImport(name) {
  const code = name === 'aedes'
    ? "const t=performance.now(); await import('aedes'); await import('node:net'); console.log(performance.now()-t)"
    : "const t=performance.now(); await import('../dist/index.mjs'); console.log(performance.now()-t)";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: here, encoding: 'utf8' });
  return Number(r.stdout.trim());
}

/**
 * Messages per second, publisher → `fanout` subscribers, with `others` unrelated subscriptions present;
 * publisher and subscribers speak MQTT `protocolVersion` (4: 3.1.1, 5: MQTT 5).
 */
async function throughput(name, { qos, fanout = 1, others = 0, count, protocolVersion = 4 }) {
  const b = await systems[name]();
  const subs = await Promise.all(Array.from({ length: fanout }, () => connect(b.url, { clientId: id('sub'), protocolVersion })));
  const pub = await connect(b.url, { clientId: id('pub'), protocolVersion });
  if (others > 0) {
    const holder = await connect(b.url, { clientId: id('others') });
    const filters = Array.from({ length: others }, (_, i) => `other/${i % 97}/${i}`);
    for (let i = 0; i < filters.length; i += 1000) await holder.subscribeAsync(filters.slice(i, i + 1000), { qos: 0 });
  }
  await Promise.all(subs.map((s) => s.subscribeAsync('bench/t', { qos })));
  let left = count * fanout;
  const done = new Promise((resolve) => subs.forEach((s) => s.on('message', () => --left === 0 && resolve())));
  const payload = Buffer.alloc(64, 7);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) pub.publish('bench/t', payload, { qos });
  await done;
  const rate = count / ((performance.now() - t0) / 1000);
  await Promise.all([...subs, pub].map((c) => c.endAsync(true)));
  await b.close();
  return rate;
}

/** Median round trip (ms) of one message at a time, publisher → subscriber. */
async function latency(name, qos) {
  const b = await systems[name]();
  const sub = await connect(b.url, { clientId: id('lsub') });
  const pub = await connect(b.url, { clientId: id('lpub') });
  await sub.subscribeAsync('lat/t', { qos });
  const times = [];
  for (let i = 0; i < (quick ? 100 : 300); i++) {
    const got = new Promise((resolve) => sub.once('message', resolve));
    const t0 = performance.now();
    pub.publish('lat/t', 'x', { qos });
    await got;
    times.push(performance.now() - t0);
  }
  await Promise.all([sub, pub].map((c) => c.endAsync(true)));
  await b.close();
  return median(times);
}

/** Bytes of broker memory per connected idle client: the broker runs in a child process. */
async function memoryPerClient(name) {
  const n = quick ? 100 : 400;
  const child = fork(new URL('./memory-child.mjs', import.meta.url), [name], { execArgv: ['--expose-gc'] });
  const ask = (msg) => new Promise((resolve) => { child.once('message', resolve); child.send(msg); });
  const { url } = await new Promise((resolve) => child.once('message', resolve));
  const before = await ask('measure');
  const clients = [];
  for (let i = 0; i < n; i += 50) clients.push(...(await Promise.all(Array.from({ length: 50 }, () => connect(url, { clientId: id('idle') })))));
  await Promise.all(clients.map((c) => c.subscribeAsync(`idle/${c.options.clientId}`, { qos: 1 })));
  const after = await ask('measure');
  await Promise.all(clients.map((c) => c.endAsync(true)));
  child.kill();
  return (after - before) / n;
}

// ---- run ----------------------------------------------------------------------------------

const rows = [];
let lastRow = performance.now();
function row(metric, unit, better, values) {
  const took = (performance.now() - lastRow) / 1000;
  lastRow = performance.now();
  const ratio = values.project !== undefined && values.aedes ? values.project / values.aedes : undefined;
  rows.push({ metric, unit, better, ...values, ratio });
  const fmt = (v) => (v === undefined ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const extra = Object.entries(values).filter(([k]) => k !== 'project' && k !== 'aedes').map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
  console.log(`${metric.padEnd(38)} ${unit.padEnd(7)} project ${fmt(values.project).padStart(9)}  aedes ${fmt(values.aedes).padStart(9)}  ratio ${ratio === undefined ? '' : ratio.toFixed(2).padStart(5)} (${better} is better) ${extra} [${took.toFixed(1)} s]`);
}

console.log(`fake-aws-iot vs aedes — ${new Date().toISOString().slice(0, 10)} — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${quick ? 'quick' : 'full'} run, medians of ${REPS}\n`);
const both = ['project', 'aedes'];
const n0 = quick ? 6000 : 16000;
const n1 = quick ? 3000 : 10000;

// One warm-up round, discarded, so the JIT has compiled both systems' hot paths before anything is measured.
for (const n of ['project', 'project+trace', 'project+chaos0', 'aedes']) {
  await throughput(n, { qos: 0, count: n0 });
  if (!quick) await throughput(n, { qos: 1, count: n1 });
}
if (!quick) await throughput('project', { qos: 1, count: n1, protocolVersion: 5 }); // the MQTT 5 codec paths too
// The mTLS cycle too: the first TLS endpoint loads the certificate code once per process (cold import's business).
for (const n of both) await tlsCycle(n);

row('per-test cycle', 'ms', 'lower', await compare(both, cycle));
row('per-test cycle over mTLS', 'ms', 'lower', await compare(both, tlsCycle));
row('start + close', 'ms', 'lower', await compare(both, startClose));
row('cold import (fresh process)', 'ms', 'lower', await compare(both, coldImport));
const base = await compare(['project', 'project+trace', 'project+chaos0', 'aedes'], (n) => throughput(n, { qos: 0, count: n0 }));
row('throughput 1→1 QoS 0', 'msg/s', 'higher', base);
row('throughput 1→1 QoS 1', 'msg/s', 'higher', await compare(['project', 'project+trace', 'aedes'], (n) => throughput(n, { qos: 1, count: n1 })));
// aedes has no MQTT 5: the project with MQTT 5 clients against aedes with 3.1.1 ones (the row's ratio), and the
// project with 3.1.1 clients in the same interleaving, so the cost of MQTT 5 itself shows as well.
const v5q1 = await compare(['project', 'project@3.1.1', 'aedes'], (n) =>
  n === 'project@3.1.1' ? throughput('project', { qos: 1, count: n1 }) : throughput(n, { qos: 1, count: n1, protocolVersion: n === 'project' ? 5 : 4 }));
row('throughput 1→1 QoS 1, MQTT 5 clients', 'msg/s', 'higher', v5q1);
row('fan-out 1→5 QoS 0', 'msg/s', 'higher', await compare(both, (n) => throughput(n, { qos: 0, fanout: 5, count: n0 / 5 })));
row('fan-out 1→50 QoS 0', 'msg/s', 'higher', await compare(both, (n) => throughput(n, { qos: 0, fanout: 50, count: n0 / 50 })));
row('p50 latency QoS 0', 'ms', 'lower', await compare(both, (n) => latency(n, 0)));
row('p50 latency QoS 1', 'ms', 'lower', await compare(both, (n) => latency(n, 1)));
// Memory varies little between repetitions: 3 (--quick: 1).
row('memory per idle client', 'bytes', 'lower', await compare(both, memoryPerClient, quick ? 1 : 3));
// 0, 1k and 10k unrelated subscriptions (quick: 0 and 10k), all combinations interleaved so they compare.
const counts = quick ? [0, 10000] : [0, 1000, 10000];
const subsRuns = await compare(counts.flatMap((k) => [`project@${k}`, `aedes@${k}`]), (key) => {
  const [n, others] = key.split('@');
  return throughput(n, { qos: 0, count: n0, others: Number(others) });
}, quick ? 2 : 3); // each run subscribes up to 10k filters first: 3 repetitions (--quick: 2) keep the run short
const pick = (others) => ({ project: subsRuns[`project@${others}`], aedes: subsRuns[`aedes@${others}`] });
row('throughput QoS 0, 0 other subs', 'msg/s', 'higher', pick(0));
if (!quick) row('throughput QoS 0, 1k other subs', 'msg/s', 'higher', pick(1000));
row('throughput QoS 0, 10k other subs', 'msg/s', 'higher', pick(10000));
const k10 = pick(10000);
const none = pick(0);

const seconds = (performance.now() - started) / 1000;
console.log(`\n10k other subscriptions vs none: project ${(k10.project / none.project).toFixed(2)}, aedes ${(k10.aedes / none.aedes).toFixed(2)}; took ${seconds.toFixed(1)} s`);
console.log(`QoS 1 with MQTT 5 clients (aedes on 3.1.1, it has no MQTT 5): project/aedes ${(v5q1.project / v5q1.aedes).toFixed(2)}; project MQTT 5 vs 3.1.1 ${(v5q1.project / v5q1['project@3.1.1']).toFixed(2)}`);
console.log(JSON.stringify({ bench: 'fake-aws-iot-vs-aedes', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, quick, reps: REPS, seconds: Number(seconds.toFixed(1)), rows }));
process.exit(0);
