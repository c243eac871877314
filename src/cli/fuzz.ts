/**
 * `fake-aws-iot fuzz [options] -- <command...>`: property-based chaos for device code in any language.
 *
 * Every run starts a fresh endpoint in this process, with chaos drawn by the arbitraries of
 * `fake-aws-iot/fast-check` from the knobs a chaos file allows, and runs the command against it (its address
 * in FAKE_IOT_* environment variables). A non-zero exit or a timeout is a failure: fast-check then shrinks the
 * chaos (fewer knobs, lower probabilities, shorter scripts), re-running the command each time, and the
 * smallest failure is printed with the line that replays it, and its trace written to disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as fc from 'fast-check';
import { ANY_LENGTH } from '../chaos/options';
import { MAX_SEED, randomSeed } from '../chaos/prng';
import { type ChaosOptions, FAULTS, type ScriptStep } from '../chaos/types';
import { realClock } from '../clock/clock';
import { type ControlServer, startControlServer } from '../control/server';
import { FakeIotError } from '../errors';
import type { FakeIotOptions } from '../options';
import { shellQuote } from '../shell';
import { type FakeIot, startFakeIot } from '../start-fake-iot';
import { type ChaosArbitraryConstraints, type ChaosScriptArbitraryConstraints, chaosArbitrary, chaosScriptArbitrary } from '../testing/fast-check';
import type { TraceEntry } from '../trace/entry';
import { entryToJSON } from '../trace/format';
import { checkTopicFilter } from '../topics/validate';
import { traceToHtml } from '../trace/html';
import { checkKnownKeys, fail, show } from '../validate';

export const FUZZ_USAGE = `Usage: fake-aws-iot fuzz [options] -- <command> [args...]

Runs <command> again and again, each time against a fresh endpoint with chaos drawn from the knobs the
--chaos file allows. A non-zero exit or a timeout is a failure: the chaos is then shrunk (fewer knobs,
lower probabilities, shorter scripts), re-running the command, and the smallest failing run is printed
with the line that replays it; its trace goes to --out as JSON lines and HTML.

The command's environment has FAKE_IOT_URL (mqtt://127.0.0.1:<port>), FAKE_IOT_HOST, FAKE_IOT_PORT and
FAKE_IOT_CONTROL_URL; with TLS also FAKE_IOT_TLS_URL, FAKE_IOT_TLS_PORT, FAKE_IOT_CA_FILE and
FAKE_IOT_CERTS_DIR (ca.pem, <thing>.cert.pem, <thing>.private.key); FAKE_IOT_WS_URL and FAKE_IOT_HTTP_URL
when --config turns those listeners on.

Options:
  --runs <n>          runs before giving up looking (default 20)
  --seed <n>          fast-check seed (default random, printed): the same seed draws the same chaos
  --path <p>          with --seed, replay the one run a failure printed (no other runs, no shrinking)
  --chaos <file>      JSON: which knobs may be drawn and how far (chaosArbitrary's constraints:
                      faults, maxProbability, minDelayMs, maxDelayMs, maxHoldMs, maxCopies, topics, clients),
                      and "script": {...} to also draw scripts (faults, clients, topics, maxSteps, maxNth,
                      maxDelayMs, maxHoldMs, maxCopies). Default: the four faults AWS documents
  --timeout <ms>      a run that takes longer fails (default 30000)
  --out <dir>         where a failure's trace and facts go (default fake-iot-failures)
  --config <file>     JSON with other startFakeIot() options for every endpoint (not seed, chaos or port)
  --tls               also serve MQTT over TLS with client certificates (on a free port)
  --thing <name>      register a thing and write its certificate and key into FAKE_IOT_CERTS_DIR
                      (repeatable; needs TLS)
  -h, --help          show this help

Exit code: 0 every run survived, 1 a failure was found, 2 usage error.`;

const DEFAULT_RUNS = 20;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_OUT = 'fake-iot-failures';
/** What is kept of a run's output (stdout and stderr interleaved): its end. */
const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Lines of the failing run's output shown in the report. */
const REPORT_OUTPUT_LINES = 30;
/** How long the processes a run leaves behind get after SIGTERM before SIGKILL. */
const GRACE_MS = 1000;
/** fast-check takes 32-bit seeds. */
const MAX_FC_SEED = 0x7fff_ffff;
const VERSION = (require('../../package.json') as { version: string }).version;

/** Environment variables fuzz sets: inherited values of these names are dropped first. */
const ENV_NAMES = ['FAKE_IOT_URL', 'FAKE_IOT_HOST', 'FAKE_IOT_PORT', 'FAKE_IOT_CONTROL_URL', 'FAKE_IOT_TLS_URL', 'FAKE_IOT_TLS_PORT', 'FAKE_IOT_CA_FILE', 'FAKE_IOT_CERTS_DIR', 'FAKE_IOT_WS_URL', 'FAKE_IOT_HTTP_URL'];

interface Plan {
  command: string[];
  runs: number;
  seed: number;
  path?: string;
  chaosFile?: string;
  arbitrary: fc.Arbitrary<ChaosOptions>;
  timeoutMs: number;
  out: string;
  configFile?: string;
  endpoint: FakeIotOptions;
  things: string[];
  /** TLS is on (by --tls or --config). */
  tls: boolean;
  /** --tls was given. */
  tlsFlag: boolean;
}

function readJsonObject(flag: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(`cannot read --${flag} ${file}: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`--${flag} ${file} must hold a JSON object (got ${show(value)}).`);
  return value as Record<string, unknown>;
}

type Kind = 'faults' | 'scriptFaults' | 'probability' | 'ms' | 'count' | 'names' | 'filters';
const KNOB_KEYS: Record<keyof ChaosArbitraryConstraints, Kind> = {
  faults: 'faults', maxProbability: 'probability', minDelayMs: 'ms', maxDelayMs: 'ms', maxHoldMs: 'count', maxCopies: 'count', topics: 'filters', clients: 'names',
};
const SCRIPT_KEYS: Record<keyof ChaosScriptArbitraryConstraints, Kind> = {
  faults: 'scriptFaults', clients: 'names', topics: 'filters', maxSteps: 'count', maxNth: 'count', maxDelayMs: 'ms', maxHoldMs: 'count', maxCopies: 'count',
};

/** Checks the types of a chaos file's section (what the arbitraries then check, and startFakeIot after them). */
function checkSection(o: Record<string, unknown>, keys: Record<string, Kind>, where: string): void {
  checkKnownKeys(o, Object.keys(keys), `${where}`);
  for (const [key, value] of Object.entries(o)) {
    const name = `${where}${key}`;
    const scriptable = FAULTS.filter((f) => f !== 'latency');
    switch (keys[key]) {
      case 'faults':
      case 'scriptFaults': {
        const allowed: readonly string[] = keys[key] === 'faults' ? FAULTS : scriptable;
        if (!Array.isArray(value) || !value.every((f) => allowed.includes(f as string))) fail(`${name} must be an array of faults from ${allowed.join(', ')} (got ${show(value)}).`);
        break;
      }
      case 'probability':
        if (typeof value !== 'number' || !(value > 0 && value <= 1)) fail(`${name} must be a number in (0, 1] (got ${show(value)}).`);
        break;
      case 'ms':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(`${name} must be a whole number of milliseconds >= 0 (got ${show(value)}).`);
        break;
      case 'count':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(`${name} must be a whole number >= 1 (got ${show(value)}).`);
        break;
      case 'names':
      case 'filters': {
        if (!Array.isArray(value) || value.length === 0 || !value.every((s) => typeof s === 'string' && s !== '')) fail(`${name} must be a non-empty array of strings (got ${show(value)}).`);
        const problem = keys[key] === 'filters' ? (value as string[]).map((f) => checkTopicFilter(f, ANY_LENGTH)).find(Boolean) : undefined;
        if (problem) fail(`${name}: ${problem.message}.`);
        break;
      }
    }
  }
}

/** The chaos file as an arbitrary: chaosArbitrary() over its knobs, plus chaosScriptArbitrary() when it has "script". */
function chaosFromFile(file: string | undefined): fc.Arbitrary<ChaosOptions> {
  const o = file === undefined ? {} : readJsonObject('chaos', file);
  const where = `in --chaos ${file}: `;
  const { script, ...knobs } = o;
  checkSection(knobs, KNOB_KEYS, where);
  if (script !== undefined && (typeof script !== 'object' || script === null || Array.isArray(script))) fail(`${where}script must be an object of script constraints, {} for the defaults (got ${show(script)}).`);
  if (script) checkSection(script as Record<string, unknown>, SCRIPT_KEYS, `${where}script.`);
  try {
    const knobArb = chaosArbitrary(knobs as ChaosArbitraryConstraints);
    if (!script) return knobArb;
    return fc.tuple(knobArb, chaosScriptArbitrary(script as ChaosScriptArbitraryConstraints)).map(([chaos, steps]) => (steps.length ? { ...chaos, script: steps } : chaos));
  } catch (error) {
    if (error instanceof FakeIotError) fail(`${where}${error.message.replace(/^\[fake-aws-iot\] /, '')}`);
    throw error;
  }
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) fail(`--${flag} needs a whole number from ${min} to ${max} (got ${JSON.stringify(text)}).`);
  return n;
}

function parse(argv: string[]): Plan | 'help' {
  const split = argv.indexOf('--');
  const own = split === -1 ? argv : argv.slice(0, split);
  let values;
  try {
    ({ values } = parseArgs({
      args: own,
      strict: true,
      allowPositionals: false,
      options: {
        runs: { type: 'string' },
        seed: { type: 'string' },
        path: { type: 'string' },
        chaos: { type: 'string' },
        timeout: { type: 'string' },
        out: { type: 'string' },
        config: { type: 'string' },
        tls: { type: 'boolean' },
        thing: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    const message = (error as Error).message;
    fail(`${message}${/positional/i.test(message) ? ' Put the command after --: fake-aws-iot fuzz [options] -- <command...>' : ''}`);
  }
  if (values.help) return 'help';
  const command = split === -1 ? [] : argv.slice(split + 1);
  if (command.length === 0 || command[0] === '') fail('fuzz needs a command to run, after --: fake-aws-iot fuzz [options] -- <command...>');
  if (values.path !== undefined && !/^\d+(:\d+)*$/.test(values.path)) fail(`--path must be a path as a failure printed it, like 3:0:1 (got ${JSON.stringify(values.path)}).`);
  if (values.path !== undefined && values.seed === undefined) fail('--path needs the --seed it was printed with.');

  const endpoint: FakeIotOptions = values.config === undefined ? {} : (readJsonObject('config', values.config) as FakeIotOptions);
  for (const key of ['seed', 'chaos', 'port'] as const) {
    if (endpoint[key] !== undefined) fail(`--config ${values.config}: "${key}" is not for fuzz: ${key === 'port' ? 'every run listens on a free port (the command reads FAKE_IOT_PORT)' : `fuzz draws the ${key} of every run`}. Remove it.`);
  }
  // Nothing outside this process can advance a virtual clock: its timers would never fire.
  if (endpoint.clock !== undefined && endpoint.clock !== 'real') fail(`--config ${values.config}: "clock" is not for fuzz: the command runs on real time. Remove it.`);
  const tls = Boolean(values.tls) || (endpoint.tls !== undefined && endpoint.tls !== false);
  if (values.tls) endpoint.tls = { ...(typeof endpoint.tls === 'object' && endpoint.tls !== null ? endpoint.tls : {}), port: 0 };
  const things = values.thing ?? [];
  if (things.length > 0 && !tls) fail('--thing needs --tls: a thing\'s certificate authenticates MQTT over TLS.');
  const twice = things.find((name, i) => things.indexOf(name) !== i);
  if (twice !== undefined) fail(`--thing ${twice} is given twice.`);
  const bad = things.find((name) => !/^[\w:-]+$/.test(name));
  if (bad !== undefined) fail(`--thing ${JSON.stringify(bad)}: a thing name has letters, digits, _, - and : only.`);

  return {
    command,
    runs: values.runs === undefined ? DEFAULT_RUNS : wholeNumber('runs', values.runs, 1, 1_000_000),
    seed: values.seed === undefined ? randomSeed() % (MAX_FC_SEED + 1) : wholeNumber('seed', values.seed, 0, MAX_FC_SEED),
    ...(values.path !== undefined ? { path: values.path } : {}),
    ...(values.chaos !== undefined ? { chaosFile: values.chaos } : {}),
    arbitrary: chaosFromFile(values.chaos),
    timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : wholeNumber('timeout', values.timeout, 1, 2 ** 31 - 1),
    out: values.out ?? DEFAULT_OUT,
    ...(values.config !== undefined ? { configFile: values.config } : {}),
    endpoint,
    things,
    tls,
    tlsFlag: Boolean(values.tls),
  };
}

/** The line that replays one run: the same options, with --seed and --path, without --runs. */
function replayLine(plan: Plan, path: string): string {
  const args = ['npx', 'fake-aws-iot', 'fuzz', '--seed', String(plan.seed), '--path', path];
  if (plan.chaosFile !== undefined) args.push('--chaos', plan.chaosFile);
  if (plan.configFile !== undefined) args.push('--config', plan.configFile);
  if (plan.tlsFlag) args.push('--tls');
  for (const name of plan.things) args.push('--thing', name);
  if (plan.timeoutMs !== DEFAULT_TIMEOUT_MS) args.push('--timeout', String(plan.timeoutMs));
  if (plan.out !== DEFAULT_OUT) args.push('--out', plan.out);
  return [...args, '--', ...plan.command].map(shellQuote).join(' ');
}

/** The end of a stream of output, within a byte budget. */
class OutputTail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly max: number) {}
  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes - this.chunks[0]!.length >= this.max) this.bytes -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

/** The run in progress, for a signal to end. */
interface Running {
  child?: ChildProcess;
  outputClosed?: Promise<unknown>;
}

interface RunOutcome {
  /** Why the run failed (undefined: it survived). */
  failure?: string;
  output: string;
  /** The command could not be started at all. */
  spawnError?: Error;
}

/** Sends `signal` to the process group `pid` leads; false when none of it is left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => realClock.setTimeout(resolve, ms));

/**
 * Ends what is left of a run's process group: SIGTERM, then, once its output has closed (or after GRACE_MS),
 * SIGKILL for anything that ignored it. (Whether the group is gone can't be asked: processes reparented to
 * an init that does not reap them stay in it as zombies.)
 */
async function endGroup(pid: number, outputClosed: Promise<unknown>): Promise<void> {
  if (!signalGroup(pid, 'SIGTERM')) return;
  await Promise.race([outputClosed, sleep(GRACE_MS)]);
  signalGroup(pid, 'SIGKILL');
}

/**
 * Runs the command in a process group of its own, so that a timeout, and the end of the run, also reach
 * what it started (a shell script's background `mosquitto_sub`, say). The endpoint's listeners keep this
 * process alive meanwhile (the clock's timers do not).
 */
function runCommand(command: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number, running: Running): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const output = new OutputTail(OUTPUT_TAIL_BYTES);
    const child = spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.child = child;
    const streamsClosed = Promise.all([child.stdout, child.stderr].map((s) => new Promise((r) => s!.once('close', r))));
    running.outputClosed = streamsClosed;
    child.stdout!.on('data', (d: Buffer) => output.add(d));
    child.stderr!.on('data', (d: Buffer) => output.add(d));
    let timedOut = false;
    const timer = realClock.setTimeout(() => {
      timedOut = true;
      void endGroup(child.pid!, streamsClosed);
    }, timeoutMs);
    let done = false;
    const finish = (outcome: RunOutcome) => {
      if (done) return;
      done = true;
      timer.cancel();
      running.child = undefined;
      running.outputClosed = undefined;
      resolve(outcome);
    };
    child.once('error', (error) => {
      if (child.pid === undefined) finish({ spawnError: error, output: '' });
    });
    child.once('exit', (code, signal) => {
      void (async () => {
        await endGroup(child.pid!, streamsClosed);
        await Promise.race([streamsClosed, sleep(GRACE_MS)]);
        const failure = timedOut ? `timed out after ${timeoutMs} ms` : signal ? `killed by ${signal}` : code !== 0 ? `exit code ${code}` : undefined;
        finish({ ...(failure ? { failure } : {}), output: output.text() });
      })();
    });
  });
}

/** Writes the CA, and each thing's certificate and key, for a run's endpoint. */
function writeCerts(iot: FakeIot, dir: string, things: readonly string[]): void {
  writeFileSync(path.join(dir, 'ca.pem'), iot.tls!.caCertificate);
  for (const name of things) {
    const thing = iot.createThing(name);
    writeFileSync(path.join(dir, `${name}.cert.pem`), thing.certificatePem);
    const key = path.join(dir, `${name}.private.key`);
    writeFileSync(key, thing.privateKey, { mode: 0o600 });
    chmodSync(key, 0o600); // the file of an earlier run keeps its mode through writeFileSync
  }
}

function environment(iot: FakeIot, control: ControlServer, certsDir: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ENV_NAMES) delete env[name];
  Object.assign(env, { FAKE_IOT_URL: iot.url, FAKE_IOT_HOST: iot.host, FAKE_IOT_PORT: String(iot.port), FAKE_IOT_CONTROL_URL: control.url });
  if (iot.tls && certsDir) {
    Object.assign(env, { FAKE_IOT_TLS_URL: iot.tls.url, FAKE_IOT_TLS_PORT: String(iot.tls.port), FAKE_IOT_CA_FILE: path.join(certsDir, 'ca.pem'), FAKE_IOT_CERTS_DIR: certsDir });
  }
  if (iot.ws) env.FAKE_IOT_WS_URL = iot.ws.url;
  if (iot.http) env.FAKE_IOT_HTTP_URL = iot.http.url;
  return env;
}

/** What is kept of a failing run. */
interface FailedRun {
  key: string;
  reason: string;
  output: string;
  endpointSeed: number;
  url: string;
  profile: string;
  startedAt: number;
  entries: TraceEntry[];
  script: ScriptStep[];
  droppedDecisions: number;
}

const runKey = (chaos: ChaosOptions, endpointSeed: number) => JSON.stringify([chaos, endpointSeed]);

function indent(text: string, prefix = '    '): string {
  return text.split('\n').map((l) => `${prefix}${l}`).join('\n');
}

/** Writes a failure's trace (JSON lines, HTML), facts and output to the --out directory; returns the paths. */
function writeFailure(plan: Plan, run: FailedRun, facts: Record<string, unknown>): string[] {
  mkdirSync(plan.out, { recursive: true });
  const base = path.join(plan.out, `fuzz-${plan.seed}`);
  // The same header line as the CLI's --trace-file, so one reader takes both.
  const header = { kind: 'run', version: VERSION, startedAt: new Date(run.startedAt).toISOString(), at: run.startedAt, seed: run.endpointSeed, url: run.url, profile: run.profile, options: { ...plan.endpoint, chaos: facts.chaos }, fuzz: { seed: plan.seed, path: facts.path } };
  const files: Record<string, string> = {
    'trace.jsonl': [header, ...run.entries.map(entryToJSON)].map((l) => JSON.stringify(l)).join('\n') + '\n',
    'trace.html': traceToHtml(run.entries, { title: `fake-aws-iot fuzz: seed ${plan.seed}, path ${String(facts.path)} — ${run.reason}` }),
    'failure.json': `${JSON.stringify(facts, null, 2)}\n`,
    // Serves the same faults by hand: npx fake-aws-iot --config <this file>
    'endpoint.json': `${JSON.stringify({ ...plan.endpoint, seed: run.endpointSeed, chaos: { script: run.script } }, null, 2)}\n`,
    'output.txt': run.output,
  };
  return Object.entries(files).map(([suffix, text]) => {
    const file = `${base}.${suffix}`;
    writeFileSync(file, text);
    return file;
  });
}

/** The smallest failing case fast-check ended with. */
interface Found {
  chaos: ChaosOptions;
  endpointSeed: number;
  path: string;
  /** The run that failed first, and how many smaller failing cases shrinking found. */
  runs: number;
  shrinks: number;
}

/** Writes the failure to --out and returns the report to print. `run` is that case's run, when it was kept. */
function reportFailure(p: Plan, found: Found, run: FailedRun | undefined, stoppedBy: NodeJS.Signals | undefined): string {
  const { chaos, endpointSeed, path: counterPath } = found;
  const replaying = p.path !== undefined;
  const replay = replayLine(p, counterPath);
  const facts = {
    command: p.command,
    seed: p.seed,
    path: counterPath,
    replay,
    failure: run?.reason,
    chaos,
    endpointSeed,
    script: run?.script,
    ...(run?.droppedDecisions ? { droppedDecisions: run.droppedDecisions } : {}),
    runs: found.runs,
    shrinks: found.shrinks,
    interrupted: Boolean(stoppedBy),
  };
  let written: string[] = [];
  let writeError = '';
  if (run) {
    try {
      written = writeFailure(p, run, facts);
    } catch (error) {
      writeError = `cannot write to --out ${p.out}: ${(error as Error).message}`;
    }
  }
  const outputLines = run?.output.trimEnd().split('\n').slice(-REPORT_OUTPUT_LINES).join('\n') ?? '';
  return [
    '',
    replaying
      ? 'fake-aws-iot fuzz: the replayed run failed again.'
      : `fake-aws-iot fuzz: the command failed under chaos (run ${found.runs} of ${p.runs}); shrunk ${found.shrinks} time(s)${stoppedBy ? `, until ${stoppedBy} stopped it` : ''}.`,
    `  failure:        ${run?.reason ?? '(not recorded)'}`,
    `  ${replaying ? 'chaos:         ' : 'chaos (shrunk):'} ${JSON.stringify(chaos)}`,
    `  seed:           ${p.seed} (fast-check; path ${counterPath}), endpoint seed ${endpointSeed}`,
    `  as a script:    ${run ? JSON.stringify(run.script) : '(not recorded)'}${run?.droppedDecisions ? ` (partial: the log let ${run.droppedDecisions} older decisions go)` : ''}`,
    `  replay it:      ${replay}`,
    ...(written.length ? [`  serve it:       npx fake-aws-iot --config ${shellQuote(written.find((f) => f.endsWith('.endpoint.json'))!)} (the same faults, scripted)`] : []),
    ...(written.length ? [`  written:        ${written.join(', ')}`] : []),
    ...(writeError ? [`  ${writeError}`] : []),
    ...(outputLines ? [`  output of the failing run (last ${REPORT_OUTPUT_LINES} lines at most):`, indent(outputLines)] : []),
  ].join('\n');
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs `fake-aws-iot fuzz` with `argv` (what follows `fuzz`); resolves with the exit code. */
export async function fuzz(argv: string[]): Promise<number> {
  let plan: Plan | 'help';
  try {
    plan = parse(argv);
  } catch (error) {
    if (!(error instanceof FakeIotError)) throw error;
    process.stderr.write(`[fake-aws-iot] fuzz: ${error.message.replace(/^\[fake-aws-iot\] /, '')}\n\nRun fake-aws-iot fuzz --help for the options.\n`);
    return 2;
  }
  if (plan === 'help') {
    say(FUZZ_USAGE);
    return 0;
  }
  const p = plan;
  const replaying = p.path !== undefined;
  const certsDir = p.tls ? mkdtempSync(path.join(os.tmpdir(), 'fake-iot-fuzz-')) : undefined;
  const running: Running = {};
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    if (running.child?.pid !== undefined) void endGroup(running.child.pid, running.outputClosed ?? Promise.resolve());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  say(`fake-aws-iot fuzz: ${replaying ? `replaying seed ${p.seed} path ${p.path}` : `${p.runs} run(s), seed ${p.seed}`}, timeout ${p.timeoutMs} ms per run: ${p.command.map(shellQuote).join(' ')}`);
  let attempts = 0;
  let firstFailure = 0; // the attempt that failed first; later attempts are shrinking
  let lastFailed: FailedRun | undefined;
  const survived = new Set<string>();
  let setupError: { message: string; usage: boolean } | undefined;

  const property = fc.asyncProperty(p.arbitrary, fc.noShrink(fc.integer({ min: 0, max: MAX_SEED })), async (chaos, endpointSeed) => {
    // Interrupting stops fast-check here: neither a pass nor a counterexample.
    if (stoppedBy || setupError) throw new fc.PreconditionFailure(true);
    attempts++;
    const label = replaying ? 'replay' : firstFailure ? `shrink ${attempts - firstFailure}` : `run ${attempts}/${p.runs}`;
    // fast-check's shrinker may offer a case again ({} after {}, say): its outcome is known, no need to wait for it twice.
    const key = runKey(chaos, endpointSeed);
    if (survived.has(key) || key === lastFailed?.key) {
      say(`${label}: ${survived.has(key) ? 'survived' : `FAILED (${lastFailed!.reason})`}, as before  ${JSON.stringify(chaos)}`);
      if (survived.has(key)) return;
      throw new Error(`the command failed: ${lastFailed!.reason}`);
    }
    let iot: FakeIot | undefined;
    let control: ControlServer | undefined;
    try {
      iot = await startFakeIot({ ...p.endpoint, port: 0, seed: endpointSeed, chaos });
      control = await startControlServer(iot, { port: 0, host: '127.0.0.1' });
      if (certsDir) writeCerts(iot, certsDir, p.things);
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      setupError = { message: `could not start the endpoint: ${message.replace(/^\[fake-aws-iot\] /, '')}`, usage: error instanceof FakeIotError && error.code === 'INVALID_OPTION' };
      await control?.close().catch(() => {});
      await iot?.close().catch(() => {});
      throw new fc.PreconditionFailure(true);
    }
    try {
      const startedAt = iot.clock.now();
      const outcome = await runCommand(p.command, environment(iot, control, certsDir), p.timeoutMs, running);
      if (outcome.spawnError) {
        setupError = { message: `cannot run ${shellQuote(p.command[0]!)}: ${outcome.spawnError.message}`, usage: true };
        throw new fc.PreconditionFailure(true);
      }
      if (stoppedBy) throw new fc.PreconditionFailure(true);
      say(`${label}: ${outcome.failure ? `FAILED (${outcome.failure})` : 'survived'}  ${JSON.stringify(chaos)}`);
      if (!outcome.failure) {
        survived.add(key);
        return;
      }
      if (!firstFailure) {
        firstFailure = attempts;
        if (!replaying) say('shrinking: each step re-runs the command with smaller chaos');
      }
      lastFailed = {
        key,
        reason: outcome.failure,
        output: outcome.output,
        endpointSeed,
        url: iot.url,
        profile: iot.profile.name,
        startedAt,
        entries: iot.trace.entries,
        script: iot.chaos.toScript(),
        droppedDecisions: iot.chaos.droppedDecisions,
      };
      throw new Error(`the command failed: ${outcome.failure}`);
    } finally {
      await control.close().catch(() => {});
      await iot.close().catch(() => {});
    }
  });

  let details: fc.RunDetails<[ChaosOptions, number]>;
  try {
    details = await fc.check(property, { seed: p.seed, numRuns: p.runs, ...(replaying ? { path: p.path, endOnFailure: true } : {}) });
  } catch (error) {
    const why = (error as Error)?.message ?? String(error);
    process.stderr.write(`[fake-aws-iot] fuzz: ${replaying ? `cannot replay seed ${p.seed} path ${p.path} (it fits only the --chaos file it was printed with, unchanged): ` : ''}${why}\n`);
    return replaying ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (certsDir) rmSync(certsDir, { recursive: true, force: true });
  }
  if (setupError) {
    process.stderr.write(`[fake-aws-iot] fuzz: ${setupError.message}\n`);
    return setupError.usage ? 2 : 1;
  }
  const signalCode = stoppedBy ? 128 + (os.constants.signals[stoppedBy] ?? 0) : 0;

  if (!details.failed || !details.counterexample) {
    if (stoppedBy) {
      say(`fake-aws-iot fuzz: stopped by ${stoppedBy} after ${attempts} run(s), no failure so far.`);
      return signalCode;
    }
    say(replaying ? 'fake-aws-iot fuzz: the replayed run survived this time: the failure depends on more than the chaos (timing?).' : `fake-aws-iot fuzz: all ${details.numRuns} run(s) survived (seed ${p.seed}).`);
    return 0;
  }

  const found: Found = { chaos: details.counterexample[0], endpointSeed: details.counterexample[1], path: details.counterexamplePath ?? p.path ?? '', runs: firstFailure, shrinks: details.numShrinks };
  say(reportFailure(p, found, lastFailed?.key === runKey(found.chaos, found.endpointSeed) ? lastFailed : undefined, stoppedBy));
  return stoppedBy ? signalCode : 1;
}

/** The entry from the CLI: runs fuzz and exits with its code. */
export function runFuzzCli(argv: string[]): void {
  fuzz(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`[fake-aws-iot] fuzz: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
