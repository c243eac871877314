// Brokers in processes of their own: the project's CLI (dist/cli.js) and Debian's mosquitto, each started
// on a free loopback port with a generated configuration, so the broker's CPU time can be read from
// /proc/<pid>/stat apart from the clients'.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const cliPath = path.join(here, '..', 'dist', 'cli.js');

/** Where Debian's `mosquitto` package installs the broker (it is not on a normal user's PATH). */
const MOSQUITTO_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/local/bin/mosquitto'];

export function findMosquitto() {
  return MOSQUITTO_CANDIDATES.find((p) => existsSync(p));
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, all threads) the process used so far, in µs; undefined without /proc. */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields after its closing parenthesis, from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[14 - 3]);
    const stime = Number(fields[15 - 3]);
    return ((utime + stime) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * How the process used the kernel so far: read- and write-type system calls (all threads, /proc/<pid>/io's syscr
 * and syscw) and the times its main thread went to sleep waiting (/proc/<pid>/status's voluntary context
 * switches); undefined where /proc does not say. Per delivered message, they show how many messages a broker
 * handles per read and per wake-up, which decides most of its CPU per message in the windowed relay.
 */
export function ioCounts(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text, name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1]);
    const counts = { reads: field(io, 'syscr'), writes: field(io, 'syscw'), sleeps: field(status, 'voluntary_ctxt_switches') };
    return Object.values(counts).every(Number.isFinite) ? counts : undefined;
  } catch {
    return undefined;
  }
}

/** A free loopback port (free a moment ago: the broker binds it right after). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port (or rejects after `ms`). */
async function waitForPort(port, ms, child) {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before listening`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on port ${port} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * The project's CLI in its own process: `node dist/cli.js --port <free> --no-throttles --config <file>`, the
 * config lifting the per-connection limits as the in-process bench does. `nodeArgs`: e.g. --cpu-prof;
 * `policies`: IoT policy documents by name, each attached to every connection with --policy.
 */
export async function startCli({ options = {}, nodeArgs = [], policies = {} } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-bench-'));
  const config = path.join(dir, 'options.json');
  writeFileSync(config, JSON.stringify(options));
  // `policies`: documents by name, each given with --policy (attached to every connection).
  const policyArgs = Object.entries(policies).flatMap(([name, document]) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(document));
    return ['--policy', file];
  });
  const child = spawn(process.execPath, [...nodeArgs, cliPath, '--port', '0', '--no-throttles', '--config', config, ...policyArgs], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the CLI printed no banner in 10 s: ${out}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the CLI exited with code ${code}: ${out}`)));
  });
  child.stdout.resume();
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid, dir, close: async () => { await stopChild(child); rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * mosquitto in its own process on a free loopback port: anonymous clients, no persistence, no logging,
 * TCP_NODELAY like the project's sockets, and no cap on QoS 1 in flight or queued (the bench's window bounds
 * what waits; the project runs with the same limits lifted).
 */
export async function startMosquitto(binary) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mosquitto-bench-'));
  const port = await freePort();
  const config = path.join(dir, 'mosquitto.conf');
  writeFileSync(config, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest none',
    'set_tcp_nodelay true',
    'max_inflight_messages 0',
    'max_queued_messages 0',
    '',
  ].join('\n'));
  const child = spawn(binary, ['-c', config], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitForPort(port, 5000, child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid, dir, close: async () => { await stopChild(child); rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * Pins a process, all its threads, to the given CPUs (`taskset -a -p -c`). Returns false where that cannot be
 * done (no taskset, not Linux). Where the scheduler puts the broker and the clients decides how many messages
 * each socket read brings, and so much of a broker's CPU per message: pinning makes runs comparable.
 */
export function pin(pid, cpus) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  return r.status === 0;
}
