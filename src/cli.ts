#!/usr/bin/env node
/**
 * `fake-aws-iot` — runs the fake endpoint as a process, for test suites in other languages and for CI.
 */
import { chmodSync, closeSync, createWriteStream, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { realClock } from './clock/clock';
import { FakeIotError } from './errors';
import { readFixture } from './identity/fixtures';
import type { FakeIotOptions } from './options';
import { startFakeIot } from './start-fake-iot';
import { entryToJSON, formatEntry } from './trace/format';
import { traceCommand } from './cli/trace-command';

const USAGE = `Usage: fake-aws-iot [options]
       fake-aws-iot trace view|pcap <trace.jsonl> [-o <file>]   (fake-aws-iot trace --help)
       fake-aws-iot fuzz [options] -- <command...>   (property-based chaos for any client: fuzz --help)

A fake AWS IoT Core MQTT endpoint (MQTT 3.1.1 over TCP, and over TLS and WebSocket when asked).

Options:
  --port <n>              port to listen on (default 1883; 0 picks a free one)
  --host <addr>           interface to listen on (default 127.0.0.1)
  --tls-port <n>          also serve MQTT over TLS with client certificates on <n> (AWS's 8883, or 443
                          with ALPN x-amzn-mqtt-ca; 0 picks a free one)
  --ws-port <n>           also serve MQTT over WebSocket (wss://localhost:<n>/mqtt, SigV4) on <n>
  --certs-dir <dir>       write ca.pem (the CA to trust), and the files of every --thing, into <dir>
                          (made if missing; existing files of the same names are replaced)
  --thing <name>          register a thing and issue it a certificate: <dir>/<name>.cert.pem and
                          <dir>/<name>.private.key (repeatable; needs --tls-port and --certs-dir)
  --seed <n>              seed for everything random (default: random, printed at start)
  --profile <name>        current (default: today's AWS IoT: MQTT 3.1.1 and 5, retained messages,
                          shared subscriptions) or classic (AWS IoT as of 2020: MQTT 3.1.1 only)
  --trace-file <path>     write every trace entry to <path>, one JSON object per line, after a
                          header line for the run: {"kind":"run", version, seed, options, startedAt, ...}
  --trace-file-mode <m>   append (default; runs follow each other, each after its header) or truncate
  --http-port <n>         also serve AWS IoT's data-plane REST API (Publish, Get/Update/DeleteThingShadow,
                          ListNamedShadowsForThing) for the AWS SDK on port <n> (0 picks a free one);
                          https:// when the config turns tls on
  --control-port <n>      also serve the control API (HTTP+JSON on 127.0.0.1:<n>, 0 picks a free one): publish,
                          disconnect, trace and long-poll waits, chaos, clock, shadows, jobs; GET /openapi.json lists it
  --policy <file.json>    an AWS IoT policy document, named after the file (device.json: device) and attached to
                          every connection (repeatable). With any policy, what no policy allows is denied
  --config <path>         JSON file with startFakeIot() options (flags given here win)
  --no-throttles          turn AWS's rate limits off (100 PUBLISH/s and 512 KiB/s per connection,
                          1 CONNECT/s per client id, 10 stored messages/s): for load tests
  --exit-with-parent      stop when the process that started this one goes away (npm start uses it)
  --verbose               print every trace entry to stdout as it happens
  -h, --help              show this help
  --version               print the version

Stops cleanly on SIGINT or SIGTERM.`;

/** Bytes of trace lines allowed to wait for the disk before further lines are skipped. */
const TRACE_FILE_BACKLOG_BYTES = 16 * 1024 * 1024;

/** The largest --policy file read (AWS takes 2048 characters besides whitespace; this leaves room for layout). */
const MAX_POLICY_FILE_BYTES = 64 * 1024;

/** The process that started this one, read before anything can be awaited. */
const PARENT = process.ppid;
const VERSION = (require('../package.json') as { version: string }).version;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message.startsWith('[fake-aws-iot]') ? message : `[fake-aws-iot] ${message}`}\n`);
  process.exit(code);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A file's text, or undefined when it holds more than `max` bytes (read no further: /dev/zero ends too). */
function readBounded(file: string, max: number): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(max + 1);
    let size = 0;
    for (let n; size <= max && (n = readSync(fd, buffer, size, max + 1 - size, null)) > 0; ) size += n;
    return size > max ? undefined : buffer.subarray(0, size).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function integer(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) fail(`--${flag} needs a whole number (got ${JSON.stringify(text)}).`);
  return Number(text);
}

async function main(argv: string[]): Promise<void> {
  // `fake-aws-iot trace view|pcap`: a trace file to HTML or pcapng (src/cli/trace-command.ts).
  if (argv[0] === 'trace') {
    process.exitCode = traceCommand(argv.slice(1));
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'tls-port': { type: 'string' },
        'ws-port': { type: 'string' },
        'certs-dir': { type: 'string' },
        thing: { type: 'string', multiple: true },
        seed: { type: 'string' },
        profile: { type: 'string' },
        'trace-file': { type: 'string' },
        'trace-file-mode': { type: 'string' },
        config: { type: 'string' },
        'http-port': { type: 'string' },
        'control-port': { type: 'string' },
        policy: { type: 'string', multiple: true },
        'exit-with-parent': { type: 'boolean' },
        'no-throttles': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (v.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }

  let options: FakeIotOptions = {};
  if (v.config !== undefined) {
    let parsedConfig: unknown;
    try {
      parsedConfig = JSON.parse(readFileSync(v.config, 'utf8'));
    } catch (error) {
      fail(`cannot read --config ${v.config}: ${(error as Error).message}`);
    }
    if (typeof parsedConfig !== 'object' || parsedConfig === null || Array.isArray(parsedConfig)) fail(`--config ${v.config} must hold a JSON object of startFakeIot() options.`);
    options = parsedConfig as FakeIotOptions;
    // A virtual clock only moves when iot.clock.advance() is called: from outside the process, by the control API.
    if (options.clock === 'virtual' && v['control-port'] === undefined) fail(`--config ${v.config}: "clock": "virtual" needs --control-port: only its POST /clock/advance can move a virtual clock from outside the process; without it keep-alive, delays and chaos timers would never fire. Add --control-port, or remove it (the CLI runs on real time).`);
  }
  options = { ...options, port: v.port !== undefined ? integer('port', v.port) : (options.port ?? 1883) };
  if (v.host !== undefined) options.host = v.host;
  if (v.seed !== undefined) options.seed = integer('seed', v.seed);
  if (v['no-throttles']) options.throttles = false;
  if (v.profile !== undefined) {
    if (v.profile !== 'classic' && v.profile !== 'current') fail(`--profile must be classic or current (got ${JSON.stringify(v.profile)}).`);
    options.profile = v.profile;
  }
  // Flags win over --config, but keep what it says about the listener otherwise (a CA of its own, ALPN...).
  if (v['tls-port'] !== undefined) options.tls = { ...(isObject(options.tls) ? options.tls : {}), port: integer('tls-port', v['tls-port']) };
  if (v['ws-port'] !== undefined) options.websockets = { ...(isObject(options.websockets) ? options.websockets : {}), port: integer('ws-port', v['ws-port']) };
  const certsDir = v['certs-dir'];
  const things = v.thing ?? [];
  if (things.length > 0 && !options.tls) fail('--thing needs --tls-port: a thing\'s certificate authenticates MQTT over TLS.');
  if (things.length > 0 && certsDir === undefined) fail('--thing needs --certs-dir <dir> to write its certificate and key into.');
  if (certsDir !== undefined && !options.tls && !options.websockets) fail('--certs-dir needs --tls-port or --ws-port: its ca.pem is the CA of the TLS and WebSocket listeners.');
  const twice = things.find((name, i) => things.indexOf(name) !== i);
  if (twice !== undefined) fail(`--thing ${twice} is given twice: each thing has one certificate.`);
  if (certsDir !== undefined) {
    try {
      mkdirSync(certsDir, { recursive: true });
    } catch (error) {
      fail(`cannot make --certs-dir ${certsDir}: ${(error as Error).message}`);
    }
  }
  if (v['http-port'] !== undefined) options.http = { port: integer('http-port', v['http-port']) };

  // --policy: each file a policy named after it (a --config policy of that name gives way), attached to '*'
  // once the endpoint runs. startFakeIot() checks the documents; its messages name the file (policyFileOf).
  const policyFiles = new Map<string, string>();
  for (const file of v.policy ?? []) {
    const name = path.basename(file, path.extname(file));
    if (policyFiles.has(name)) fail(`--policy ${file}: ${policyFiles.get(name)} gives a policy named ${JSON.stringify(name)} already (each is named after its file).`);
    let text: string | undefined;
    try {
      text = readBounded(file, MAX_POLICY_FILE_BYTES);
    } catch (error) {
      fail(`cannot read --policy ${file}: ${(error as Error).message}`);
    }
    if (text === undefined) fail(`--policy ${file} is larger than ${MAX_POLICY_FILE_BYTES} bytes: not an IoT policy document (AWS takes 2048 characters besides whitespace).`);
    policyFiles.set(name, file);
    options.policies = { ...(isObject(options.policies) ? options.policies : {}), [name]: text };
  }
  /** startFakeIot()'s refusal of a --policy document, naming the file rather than options.policies. */
  const policyFileOf = (message: string) => {
    for (const [name, file] of policyFiles) {
      message = message
        .replace(`options.policies[${JSON.stringify(name)}]:`, `--policy ${file}:`)
        .replace(`options.policies: ${JSON.stringify(name)} is not a policy name`, `--policy ${file}: its base name ${JSON.stringify(name)} is not a policy name`);
    }
    return message;
  };

  const mode = v['trace-file-mode'];
  if (mode !== undefined && mode !== 'append' && mode !== 'truncate') fail(`--trace-file-mode must be append or truncate (got ${JSON.stringify(mode)}).`);
  if (mode !== undefined && v['trace-file'] === undefined) fail('--trace-file-mode needs --trace-file.');
  let traceFd: number | undefined;
  if (v['trace-file'] !== undefined) {
    try {
      traceFd = openSync(v['trace-file'], mode === 'truncate' ? 'w' : 'a');
    } catch (error) {
      fail(`cannot open --trace-file ${v['trace-file']}: ${(error as Error).message}`);
    }
  }

  let iot;
  try {
    iot = await startFakeIot(options);
  } catch (error) {
    if (error instanceof FakeIotError) fail(policyFileOf(error.message), error.code === 'INVALID_OPTION' ? 2 : 1);
    throw error;
  }
  for (const name of policyFiles.keys()) iot.attachPolicy(name, '*');

  let control: { url: string; close(): Promise<void> } | undefined;
  if (v['control-port'] !== undefined) {
    const port = integer('control-port', v['control-port']);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      control = await (require('./control/server') as typeof import('./control/server')).startControlServer(iot, { port });
    } catch (error) {
      await iot.close().catch(() => {});
      const message = (error as Error).message.replace('startControlServer(): ', '').replace('options.port: 0 (the default)', '--control-port 0').replace('options.port', '--control-port');
      fail(message, (error as FakeIotError).code === 'INVALID_ARGUMENT' ? 2 : 1);
    }
  }

  // Certificates for clients outside this process: the CA to trust, and per thing its certificate and key.
  const wrote: string[] = [];
  if (certsDir !== undefined) {
    let file = path.join(certsDir, 'ca.pem');
    try {
      writeFileSync(file, iot.tls?.caCertificate ?? readFixture('ca.pem'));
      wrote.push(`CA to trust: ${path.resolve(file)}`);
      for (const name of things) {
        let thing;
        try {
          thing = iot.createThing(name);
        } catch (error) {
          await iot.close().catch(() => {});
          fail(`--thing ${JSON.stringify(name)}: ${(error as Error).message.replace(/^\[fake-aws-iot\] /, '')}`);
        }
        const cert = (file = path.join(certsDir, `${name}.cert.pem`));
        writeFileSync(cert, thing.certificatePem);
        const key = (file = path.join(certsDir, `${name}.private.key`));
        writeFileSync(key, thing.privateKey, { mode: 0o600 });
        chmodSync(key, 0o600); // a key file left by an earlier run keeps its mode through writeFileSync
        wrote.push(`thing ${name}: certificate ${path.resolve(cert)} key ${path.resolve(key)} (certificate id ${thing.certificateId})`);
      }
    } catch (error) {
      await iot.close().catch(() => {});
      fail(`cannot write ${file} (--certs-dir): ${(error as Error).message}`);
    }
  }

  const traceFile = traceFd !== undefined ? createWriteStream('', { fd: traceFd }) : undefined;
  traceFile?.on('error', (error) => process.stderr.write(`[fake-aws-iot] cannot write --trace-file: ${error.message}\n`));
  const t0 = iot.clock.now();
  // Marks where this run starts in a file that several runs append to (each run's seq starts at 1).
  const header = { kind: 'run', version: VERSION, startedAt: new Date(t0).toISOString(), at: t0, seed: iot.seed, url: iot.url, profile: iot.profile.name, options, argv };
  traceFile?.write(`${JSON.stringify(header)}\n`);
  let skippedLines = 0;
  if (traceFile || v.verbose) {
    iot.trace.subscribe((entry) => {
      if (traceFile) {
        // A disk slower than the traffic must not make this process buffer without bound: lines beyond
        // TRACE_FILE_BACKLOG_BYTES waiting to be written are skipped and counted.
        if (traceFile.writableLength > TRACE_FILE_BACKLOG_BYTES) skippedLines++;
        else traceFile.write(`${JSON.stringify(entryToJSON(entry))}\n`);
      }
      if (v.verbose) process.stdout.write(`${formatEntry(entry, t0)}\n`);
    });
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // close() rejects when a callback failed (not the CLI's case); the process ends cleanly all the same.
    await iot.close().catch((error: unknown) => process.stderr.write(`[fake-aws-iot] ${(error as Error)?.message ?? String(error)}\n`));
    await control?.close();
    if (traceFile) {
      if (skippedLines > 0) traceFile.write(`${JSON.stringify({ kind: 'skipped', lines: skippedLines, reason: 'the trace file fell behind the traffic' })}\n`);
      await new Promise<void>((resolve) => traceFile.end(resolve));
    }
    process.stdout.write(`fake-aws-iot stopped (${signal})\n`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  // A parent that dies without passing a signal on (npm's `sh -c` wrapper, a killed runner) leaves this
  // process re-parented: its ppid changes.
  if (v['exit-with-parent']) {
    const watch = () => {
      if (process.ppid !== PARENT) void stop('parent exited');
      else realClock.setTimeout(watch, 200); // unref'd: it never keeps the process alive by itself
    };
    watch();
  }

  if (iot.tls) process.stdout.write(`fake-aws-iot MQTT over TLS with client certificates on ${iot.tls.url} (ALPN x-amzn-mqtt-ca or none)\n`);
  if (iot.ws) process.stdout.write(`fake-aws-iot MQTT over WebSocket on ${iot.ws.url} (SigV4)\n`);
  for (const line of wrote) process.stdout.write(`fake-aws-iot ${line}\n`);
  // Last: whoever waits for the banner may signal right away, and the handlers above must be in place.
  if (iot.http) process.stdout.write(`fake-aws-iot data plane (AWS SDK endpoint) on ${iot.http.url}\n`);
  for (const [name, file] of policyFiles) process.stdout.write(`fake-aws-iot policy ${name} (${path.resolve(file)}) attached to every connection\n`);
  if (control) process.stdout.write(`fake-aws-iot control API on ${control.url} (GET /openapi.json)\n`);
  process.stdout.write(`fake-aws-iot listening on ${iot.url} (seed ${iot.seed}, profile ${iot.profile.name})\n`);
}

// A reader that went away (a killed parent holding our stdout) must not crash the shutdown.
process.stdout.on('error', () => {});

const args = process.argv.slice(2);
// `fake-aws-iot fuzz` is a command of its own (src/cli/fuzz.ts), loaded only when asked for.
if (args[0] === 'fuzz') import('./cli/fuzz').then((m) => m.runFuzzCli(args.slice(1)), (error: unknown) => fail(`cannot load the fuzz command: ${(error as Error)?.message ?? String(error)}`, 1));
else main(args).catch((error: unknown) => fail(`unexpected error: ${(error as Error)?.stack ?? String(error)}`, 1));
