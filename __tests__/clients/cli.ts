/**
 * Runs the built CLI (dist/cli.js, as `npx fake-aws-iot` would) as a child process on a free port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../dist/cli.js');

export interface RunningCli {
  child: ChildProcess;
  url: string;
  port: number;
  seed: number;
  stdout: () => string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
/** Process groups of detached children: killing the group also reaches what they started (orphans included). */
const groups = new Set<number>();
afterEach(() => {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  groups.clear();
});

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `pattern` in stdout; rejects after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /**
   * Resolves when stdout and stderr have closed: every process holding them (the child and anything it
   * started with the same stdio) has exited. Rejects after `timeoutMs`.
   */
  outputClosed(timeoutMs?: number): Promise<void>;
  /** The child's exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * Spawns `cmd` in a process group of its own (killed with everything in it after the test), with its
 * output collected.
 */
export function spawnGroup(cmd: string, args: string[], options: { cwd?: string } = {}): Spawned {
  const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(child.pid!);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const closed = Promise.all([new Promise((r) => child.stdout!.once('close', r)), new Promise((r) => child.stderr!.once('close', r))]);
  const within = <T>(promise: Promise<T>, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
      promise.then((v) => resolve(v), reject).finally(() => clearTimeout(timer));
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForOutput: (pattern, timeoutMs = 10_000) =>
      within(
        new Promise<RegExpMatchArray>((resolve) => {
          const check = () => {
            const m = pattern.exec(out);
            if (m) {
              child.stdout!.off('data', check);
              resolve(m);
            }
          };
          child.stdout!.on('data', check);
          check();
        }),
        timeoutMs,
        `no ${pattern} in the output`,
      ),
    outputClosed: (timeoutMs = 10_000) => within(closed.then(() => undefined), timeoutMs, 'the output did not close (a process still holds it)'),
    exited,
  };
}

/** Whether `port` on 127.0.0.1 can be listened on (nothing holds it). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function startCli(args: string[] = []): Promise<RunningCli> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does it for you).`);
  const child = spawn(process.execPath, [CLI, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const banner = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the CLI printed no banner within 10 s; stdout: ${out}; stderr: ${err}`)), 10_000);
    const check = () => {
      const m = /listening on (mqtt:\/\/[\d.]+:(\d+)) \(seed (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`the CLI exited (${code}) before listening; stderr: ${err}`)));
  });
  return {
    child,
    url: banner[1]!,
    port: Number(banner[2]),
    seed: Number(banner[3]),
    stdout: () => out,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited.finally(() => running.delete(child));
    },
  };
}

/** Runs a command to completion; resolves with its exit code and output. */
export function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

export type TraceLine = Record<string, unknown> & { packet?: Record<string, unknown> };

/**
 * Resolves with the first line of a --trace-file that `match` accepts, reading the file again (every 20 ms)
 * until it shows up; rejects after `timeoutMs` with the end of the file.
 */
export async function traceLine(file: string, match: (line: TraceLine) => boolean, timeoutMs = 10_000): Promise<TraceLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    // Only whole lines: the last one may still be being written.
    const found = text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as TraceLine).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching line in ${file} within ${timeoutMs} ms:\n${text.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A python3 paho device over TLS: argv port, client id, CA, certificate, key, and ALPN (`-`: plain tls_set,
 * else an SSLContext offering that protocol; certificate `-` with an ALPN: none, for custom authentication),
 * then optionally user name and password. It subscribes to cmd/<id>, answers the first command on state/<id>
 * with "done: <command>", and exits; it prints connack, granted and message lines, and "closed" (then exits)
 * when the server closes the connection.
 */
export const PAHO_TLS_DEVICE = `
import ssl, sys
import paho.mqtt.client as mqtt
port, client_id, ca, cert, key, alpn = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
credentials = sys.argv[7:9]
kwargs = {"client_id": client_id, "protocol": mqtt.MQTTv311, "clean_session": True}
if hasattr(mqtt, "CallbackAPIVersion"):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs)
else:
    client = mqtt.Client(**kwargs)
if alpn == "-":
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
else:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if cert != "-":
        context.load_cert_chain(certfile=cert, keyfile=key)
    context.set_alpn_protocols([alpn])
    client.tls_set_context(context)
if credentials:
    client.username_pw_set(*credentials)
def on_connect(c, userdata, flags, rc):
    print("connack", rc, flush=True)
    c.subscribe("cmd/" + client_id, qos=1)
def on_subscribe(c, userdata, mid, granted):
    print("granted", list(granted), flush=True)
def on_message(c, userdata, msg):
    print("message", msg.topic, msg.payload.decode(), flush=True)
    c.publish("state/" + client_id, "done: " + msg.payload.decode(), qos=1)
def on_publish(c, userdata, mid):
    c.disconnect()
def on_disconnect(c, userdata, rc):
    if rc != 0:
        print("closed", flush=True)
        c.disconnect()
client.on_disconnect = on_disconnect
client.on_connect = on_connect
client.on_publish = on_publish
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("localhost", int(port), keepalive=60)
client.loop_forever()
`;
