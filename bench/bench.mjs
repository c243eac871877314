// Side-by-side benchmark: fake-aws-iot against aedes (MQTT.js clients in the same process), and the CLI against
// mosquitto (each broker its own process), systems interleaved, medians. `npm run bench [-- --quick]`.
import { fork, spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { cpuMicros, findMosquitto, pin, startCli, startMosquitto } from './processes.mjs';
import { connect, id, paced, relay, shadowDevice } from './workloads.mjs';
import { measureTraceHtml } from './trace-html.mjs';
import { benchLimits, benchPolicy, deviceTls, systems, tlsSystems } from './systems.mjs';

const quick = process.argv.includes('--quick');
/** `--only=a,b`: run only these sections (cycle, relay, fanout, latency, memory, subs, external, html). */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const runs = (section) => !only || only.includes(section);
/**
 * `--pin`: in the external section, this process (the clients) runs on CPU 0 and each broker on CPU 1;
 * `--pin=shared`: all on CPU 0. Unpinned (the default), the scheduler decides, and the CPU per message of the
 * 1→1 cases moves with its choice from run to run.
 */
const pinArg = process.argv.find((a) => a === '--pin' || a.startsWith('--pin='));
const placement = pinArg === undefined ? undefined : pinArg === '--pin' ? 'separate' : pinArg.slice('--pin='.length);
if (placement !== undefined && placement !== 'separate' && placement !== 'shared') {
  console.error(`--pin takes no value (clients on CPU 0, brokers on CPU 1) or =shared (all on CPU 0); got ${pinArg}`);
  process.exit(2);
}
/** `--cli-cpu-prof=DIR`: the CLI process of the external section runs with --cpu-prof, its profile in DIR. */
const cliProfileDir = process.argv.find((a) => a.startsWith('--cli-cpu-prof='))?.slice('--cli-cpu-prof='.length);
const REPS = quick ? 3 : 5;
const here = fileURLToPath(new URL('.', import.meta.url));
const started = performance.now();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs `measure(system)` for each system, interleaved (in rotated order), `reps` times; returns medians. */
async function compare(names, measure, reps = REPS) {
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < reps; r++) {
    // Each repetition starts one system further on (A B C, B C A, ...): no system always runs right after the same one.
    for (const n of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
      // Start each measurement from a quiet process: the previous system's closing work (timers, sockets,
      // garbage) must not be charged to the next one. Without this pause the first system after aedes lost ~25 %.
      await new Promise((resolve) => setTimeout(resolve, 20));
      globalThis.gc?.();
      samples[n].push(await measure(n));
    }
  }
  if (process.env.BENCH_SAMPLES) console.log(JSON.stringify(samples, (k, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v)));
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

/** compare() for measurements of several numbers: the median of each. */
async function compareAll(names, measure, reps = REPS) {
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  await compare(names, async (n) => {
    const result = await measure(n);
    samples[n].push(result);
    return result.rate ?? 0;
  }, reps);
  return Object.fromEntries(names.map((n) => [n, Object.fromEntries(Object.keys(samples[n][0]).map((k) => [k, median(samples[n].map((x) => x[k]))]))]));
}
const pick = (results, key) => Object.fromEntries(Object.entries(results).map(([n, r]) => [n, r[key]]));

// ---- measurements -------------------------------------------------------------------------

/**
 * ms per test cycle: start, connect, subscribe, QoS 1 to itself, receive, close (`start` and `extra` pick the system
 * and the connection). One untimed cycle comes first: right after compare()'s pause and forced garbage collection
 * every system's first cycle runs 2–4× slower (+1 ms for aedes and the project alike, every phase slower, most of it
 * in the client's connect). That cost is the bench's own pause and collection, not either broker's; counted in, it
 * pulled the ratio toward 1 by 0.014 in a loop of this pattern.
 */
async function cycleWith(start, extra, tag) {
  const k = quick ? 6 : 20;
  const once = async () => {
    const b = await start();
    const c = await connect(b.url, { clientId: id(tag), ...extra });
    await c.subscribeAsync('cycle/t', { qos: 1 });
    const got = new Promise((resolve) => c.once('message', resolve));
    await c.publishAsync('cycle/t', 'ping', { qos: 1 });
    await got;
    await c.endAsync();
    await b.close();
  };
  await once();
  const t0 = performance.now();
  for (let i = 0; i < k; i++) await once();
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

/** Published messages per second through an in-process system (see relay()). */
async function throughput(name, opts) {
  return (await relayOn(name, opts)).rate;
}

/** relay() through a fresh in-process system. */
async function relayOn(name, opts) {
  const b = await systems[name]();
  try {
    return await relay(b.url, opts);
  } finally {
    await b.close();
  }
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
  // Warm-up: what a broker builds once per process on its first clients (mqtt-packet's table of 65,536 encoded
  // packet ids, ~6 MB, made at its first encoding; compiled code) is not per-client memory.
  const warm = await Promise.all(Array.from({ length: 20 }, () => connect(url, { clientId: id('warm') })));
  await Promise.all(warm.map((c) => c.subscribeAsync(`warm/${c.options.clientId}`, { qos: 1 })));
  await Promise.all(warm.map((c) => c.publishAsync(`warm/${c.options.clientId}`, 'x', { qos: 1 })));
  await Promise.all(warm.map((c) => c.endAsync(true)));
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

console.log(`fake-aws-iot vs aedes and mosquitto — ${new Date().toISOString().slice(0, 10)} — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${quick ? 'quick' : 'full'} run, medians of ${REPS}\n`);
const both = ['project', 'aedes'];
// Messages per relay run (QoS 0, QoS 1): each run ~0.2-0.5 s at steady state.
const n0 = quick ? 6000 : 20000;
const n1 = quick ? 3000 : 10000;
const notes = [];

if (runs('relay') || runs('cycle') || runs('fanout') || runs('subs') || runs('latency')) {
  // One warm-up round, discarded, so the JIT has compiled both systems' hot paths before anything is measured.
  for (const n of ['project', 'project+trace', 'project+chaos0', 'project+policies', 'aedes']) {
    await throughput(n, { qos: 0, count: n0 });
    if (!quick) await throughput(n, { qos: 1, count: n1 });
  }
  if (!quick) await throughput('project', { qos: 1, count: n1, protocolVersion: 5 }); // the MQTT 5 codec paths too
}

if (runs('cycle')) {
  // The mTLS cycle too: the first TLS endpoint loads the certificate code once per process (cold import's business).
  for (const n of both) await tlsCycle(n);
  row('per-test cycle', 'ms', 'lower', await compare(both, cycle));
  row('per-test cycle over mTLS', 'ms', 'lower', await compare(both, tlsCycle));
  row('start + close', 'ms', 'lower', await compare(both, startClose));
  row('cold import (fresh process)', 'ms', 'lower', await compare(both, coldImport));
}

/** Windowed relay rows, and what each feature costs a test that does not use it, against the plain project. */
const costs = {};
if (runs('relay')) {
  // 'project+shadow': a device using the shadow service beside the relay; '+v5': MQTT 5 clients (aedes has none);
  // '+policies': a 10-statement policy checked at every operation. Each measured for throughput and for this
  // process's CPU per message (clients and broker: the difference between two systems is the broker's).
  const variant = (n, opts) => {
    if (n === 'project+shadow') return relayOn('project', { ...opts, setup: shadowDevice });
    if (n === 'project+v5') return relayOn('project', { ...opts, protocolVersion: 5 });
    return relayOn(n, opts);
  };
  const names = ['project', 'project+trace', 'project+chaos0', 'project+policies', 'project+shadow', 'project+v5', 'aedes'];
  const q0 = await compareAll(names, (n) => variant(n, { qos: 0, count: n0 }));
  row('relay 1→1 QoS 0 (windowed)', 'msg/s', 'higher', pick(q0, 'rate'));
  const q1 = await compareAll(names, (n) => variant(n, { qos: 1, count: n1 }));
  row('relay 1→1 QoS 1 (windowed)', 'msg/s', 'higher', pick(q1, 'rate'));
  // aedes has no MQTT 5: the project with MQTT 5 clients against aedes with 3.1.1 ones.
  row('relay 1→1 QoS 1, MQTT 5 clients', 'msg/s', 'higher', { project: q1['project+v5'].rate, aedes: q1.aedes.rate });
  for (const [label, n] of [['trace on', 'project+trace'], ['chaos configured at 0', 'project+chaos0'], ['policies (10 statements)', 'project+policies'], ['shadow device', 'project+shadow'], ['MQTT 5 clients', 'project+v5']]) {
    costs[label] = [q0, q1].map((q) => ({ rate: q[n].rate / q.project.rate, processCpu: q[n].processCpu - q.project.processCpu }));
  }
  costs.vsAedes = { q0: q0.project.rate / q0.aedes.rate, q0trace: q0['project+trace'].rate / q0.aedes.rate, q1: q1.project.rate / q1.aedes.rate, q1trace: q1['project+trace'].rate / q1.aedes.rate };
  costs.processCpu = { q0: pick(q0, 'processCpu'), q1: pick(q1, 'processCpu') };
}
if (runs('fanout')) {
  row('fan-out 1→5 QoS 0 (windowed)', 'msg/s', 'higher', await compare(both, (n) => throughput(n, { qos: 0, fanout: 5, count: n0 / 5 })));
  row('fan-out 1→50 QoS 0 (windowed)', 'msg/s', 'higher', await compare(both, (n) => throughput(n, { qos: 0, fanout: 50, count: n0 / 50 })));
}
if (runs('latency')) {
  row('p50 latency QoS 0', 'ms', 'lower', await compare(both, (n) => latency(n, 0)));
  row('p50 latency QoS 1', 'ms', 'lower', await compare(both, (n) => latency(n, 1)));
}
if (runs('memory')) {
  // Memory varies little between repetitions: 3 (--quick: 1).
  row('memory per idle client', 'bytes', 'lower', await compare(both, memoryPerClient, quick ? 1 : 3));
}
let subsRatio;
if (runs('subs')) {
  // 0, 1k and 10k unrelated subscriptions (quick: 0 and 10k), all combinations interleaved so they compare.
  const counts = quick ? [0, 10000] : [0, 1000, 10000];
  const subsRuns = await compare(counts.flatMap((k) => [`project@${k}`, `aedes@${k}`]), (key) => {
    const [n, others] = key.split('@');
    return throughput(n, { qos: 0, count: n0, others: Number(others) });
  }, quick ? 2 : 3); // each run subscribes up to 10k filters first: 3 repetitions (--quick: 2) keep the run short
  const pick = (others) => ({ project: subsRuns[`project@${others}`], aedes: subsRuns[`aedes@${others}`] });
  row('relay QoS 0, 0 other subs', 'msg/s', 'higher', pick(0));
  if (!quick) row('relay QoS 0, 1k other subs', 'msg/s', 'higher', pick(1000));
  row('relay QoS 0, 10k other subs', 'msg/s', 'higher', pick(10000));
  subsRatio = { project: pick(10000).project / pick(0).project, aedes: pick(10000).aedes / pick(0).aedes };
}

// ---- the CLI in its own process against mosquitto in its own process --------------------------------

const external = [];
if (runs('external')) {
  const mosquitto = findMosquitto();
  if (!mosquitto) {
    notes.push('CLI vs mosquitto skipped: no mosquitto binary (Debian: apt-get install mosquitto; it lands in /usr/sbin).');
  } else if (cpuMicros(process.pid) === undefined) {
    notes.push('CLI vs mosquitto skipped: no /proc/<pid>/stat to read CPU time from (Linux only).');
  } else {
    // The CLI as a load test would run it: its defaults (the trace on) with --no-throttles and the per-connection
    // limits lifted as above. BENCH_CLI_TRACE=off runs it with the trace off instead (mosquitto records nothing).
    const cliOptions = { limits: benchLimits, ...(process.env.BENCH_CLI_TRACE === 'off' ? { trace: false } : {}) };
    const nodeArgs = cliProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cliProfileDir}`] : [];
    const procs = {
      project: await startCli({ options: cliOptions, nodeArgs }),
      mosquitto: await startMosquitto(mosquitto),
      // The CLI with IoT policies on (--policy, the 10-statement policy of the in-process rows): its cost per message.
      'project+policies': await startCli({ options: cliOptions, policies: { bench: benchPolicy } }),
    };
    if (placement !== undefined) {
      const brokerCpus = placement === 'shared' || os.cpus().length < 2 ? '0' : '1';
      const pinned = pin(process.pid, '0') && Object.values(procs).every((p) => pin(p.pid, brokerCpus));
      notes.push(pinned ? `CLI vs mosquitto pinned: clients on CPU 0, brokers on CPU ${brokerCpus}.` : 'CLI vs mosquitto: --pin asked for, but taskset failed; the processes ran where the scheduler put them.');
    }
    // Runs of ~1 s each (the broker's CPU time is read in 10 ms ticks), 7 repetitions: the two processes' CPU
    // per message varies more from run to run than in-process figures do.
    const m0 = quick ? 20000 : 90000;
    const m1 = quick ? 10000 : 45000;
    const reps = quick ? REPS : 7;
    const cases = [
      { label: '1→1 QoS 0', qos: 0, fanout: 1, count: m0, policies: true },
      { label: '1→1 QoS 1', qos: 1, fanout: 1, count: m1, policies: true },
      { label: '1→5 QoS 0', qos: 0, fanout: 5, count: m0 / 5 },
      { label: '1→5 QoS 1', qos: 1, fanout: 5, count: m1 / 5 },
      { label: '1→50 QoS 0', qos: 0, fanout: 50, count: m0 / 50 },
      // Both brokers speak MQTT 5: what MQTT 5 clients cost each (not a target row).
      { label: '1→1 QoS 1 v5', qos: 1, fanout: 1, count: m1, protocolVersion: 5 },
      // The same offered load for both brokers (paced(): a fixed rate, ~1.5 s), not the windowed relay: what each
      // costs per message when neither sets the pace (not target rows).
      { label: '1→1 QoS 0 at 50k/s', qos: 0, fanout: 1, count: quick ? 20000 : 75000, perMs: 50 },
      { label: '1→1 QoS 1 at 25k/s', qos: 1, fanout: 1, count: quick ? 10000 : 37500, perMs: 25 },
    ];
    try {
      for (const c of cases) {
        const names = c.policies ? ['project', 'mosquitto', 'project+policies'] : ['project', 'mosquitto'];
        const run = (n) => (c.perMs ? paced(procs[n].url, { ...c, pid: procs[n].pid }) : relay(procs[n].url, { ...c, pid: procs[n].pid }));
        // Warm-up: the CLI's JIT compiles this workload's paths before the measured runs.
        for (const n of names) await run(n);
        const results = Object.fromEntries(names.map((n) => [n, []]));
        for (let r = 0; r < (c.perMs ? Math.min(reps, 5) : reps); r++) {
          // Rotated as in compare(): no broker always runs first in a repetition, or right after the same one.
          for (const n of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            globalThis.gc?.();
            results[n].push(await run(n));
          }
        }
        if (process.env.BENCH_SAMPLES) console.log(c.label, JSON.stringify(results, (k, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v)));
        const med = (n, k) => median(results[n].map((x) => x[k]));
        const cpu = { project: med('project', 'cpu'), mosquitto: med('mosquitto', 'cpu') };
        const rate = { project: med('project', 'rate'), mosquitto: med('mosquitto', 'rate') };
        if (c.policies) {
          cpu['project+policies'] = med('project+policies', 'cpu');
          rate['project+policies'] = med('project+policies', 'rate');
        }
        // What decides the CPU per message here: how many messages each broker handles per read and per sleep.
        const ioMedian = (n) => (results[n].every((x) => x.io) ? Object.fromEntries(['reads', 'writes', 'sleeps'].map((k) => [k, median(results[n].map((x) => x.io[k]))])) : undefined);
        const io = { project: ioMedian('project'), mosquitto: ioMedian('mosquitto') };
        external.push({ case: c.label, cpu, rate, ...(io.project && io.mosquitto ? { io } : {}) });
        const took = (performance.now() - lastRow) / 1000;
        lastRow = performance.now();
        console.log(`CLI vs mosquitto ${c.label.padEnd(18)} CPU µs/msg  project ${cpu.project.toFixed(2).padStart(6)}  mosquitto ${cpu.mosquitto.toFixed(2).padStart(6)}  ratio ${(cpu.project / cpu.mosquitto).toFixed(2)} (lower is better)   msg/s project ${rate.project.toFixed(0).padStart(6)}  mosquitto ${rate.mosquitto.toFixed(0).padStart(6)}  ratio ${(rate.project / rate.mosquitto).toFixed(2)}${c.policies ? `  with --policy (10 statements) ${cpu['project+policies'].toFixed(2)} µs/msg` : ''} [${took.toFixed(1)} s]`);
        if (io.project && io.mosquitto) {
          const perK = (x) => (x * 1000 < 10 ? (x * 1000).toFixed(1) : (x * 1000).toFixed(0));
          const pair = (k) => `${k} ${perK(io.project[k])} / ${perK(io.mosquitto[k])}`;
          console.log(`${''.padEnd(35)}per 1,000 delivered messages, project / mosquitto: ${pair('reads')}  ${pair('writes')}  ${pair('sleeps')}`);
        }
      }
    } finally {
      await Promise.all(Object.values(procs).map((p) => p.close()));
      if (placement !== undefined) pin(process.pid, `0-${os.cpus().length - 1}`); // the sections after run unpinned again
    }
  }
}

// ---- the HTML trace viewer with a 10,000-entry trace --------------------------------------------------

let traceHtml;
if (runs('html')) {
  traceHtml = await measureTraceHtml(quick ? 3 : 5);
  if (traceHtml.note) notes.push(traceHtml.note);
  else console.log(`HTML trace, ${traceHtml.entries} entries (${(traceHtml.bytes / 1e6).toFixed(1)} MB): opens in ${traceHtml.openMs.toFixed(0)} ms, filters to one client in ${traceHtml.filterMs.toFixed(0)} ms (headless Chromium, median)`);
}

const seconds = (performance.now() - started) / 1000;
console.log('');
if (costs.vsAedes) {
  const v = costs.vsAedes;
  console.log(`relay vs aedes: QoS 0 ${v.q0.toFixed(2)} (trace on ${v.q0trace.toFixed(2)}), QoS 1 ${v.q1.toFixed(2)} (trace on ${v.q1trace.toFixed(2)})`);
  const pct = (x) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(0)} %`;
  const us = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} µs`;
  console.log('against the plain project (QoS 0 / QoS 1): throughput, and this process\'s CPU per message (clients + broker)');
  for (const [label, [c0, c1]] of Object.entries(costs).filter(([, c]) => Array.isArray(c))) {
    console.log(`  ${label.padEnd(26)} ${pct(c0.rate).padStart(6)} / ${pct(c1.rate).padStart(6)}    ${us(c0.processCpu).padStart(10)} / ${us(c1.processCpu).padStart(10)}`);
  }
}
if (subsRatio) console.log(`10k other subscriptions vs none: project ${subsRatio.project.toFixed(2)}, aedes ${subsRatio.aedes.toFixed(2)}`);
for (const note of notes) console.log(note);
console.log(`took ${seconds.toFixed(1)} s`);
console.log(JSON.stringify({ bench: 'fake-aws-iot-vs-aedes-and-mosquitto', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, quick, reps: REPS, seconds: Number(seconds.toFixed(1)), rows, external, costs, traceHtml, notes }));
process.exit(0);
