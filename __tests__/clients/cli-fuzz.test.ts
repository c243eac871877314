/**
 * `fake-aws-iot fuzz`, driven through the built CLI as a user runs it: a Python paho device with a real
 * de-duplication bug and its fixed version, a shell script on mosquitto_sub/mosquitto_pub, timeouts, TLS
 * and the environment, and usage errors. Every fuzz run has a fixed --seed; runs are few and short.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, spawnGroup } from './cli';

const EXAMPLE = path.resolve(__dirname, '../../examples/fuzz');
/** Debian's python3, which has python3-paho-mqtt (a python3 earlier on PATH may not). */
const PYTHON = '/usr/bin/python3';
const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-fuzz-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `fake-aws-iot fuzz <args>` (dist/cli.js) in `cwd` to its end. */
async function fuzz(args: string[], cwd = EXAMPLE): Promise<Result> {
  const cli = spawnGroup(process.execPath, [CLI, 'fuzz', ...args], { cwd });
  const code = await cli.exited;
  await cli.outputClosed();
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The report of a failure, as printed. */
function report(stdout: string) {
  const field = (name: string) => {
    const m = new RegExp(`^  ${name}:? +(.*)$`, 'm').exec(stdout);
    if (!m) throw new Error(`no "${name}" in the report:\n${stdout}`);
    return m[1]!;
  };
  const seeds = /^(\d+) \(fast-check; path ([\d:]+)\), endpoint seed (\d+)$/.exec(field('seed'))!;
  return {
    failure: field('failure'),
    chaos: JSON.parse(field('chaos(?: \\(shrunk\\))?')) as Record<string, unknown>,
    seed: Number(seeds[1]),
    path: seeds[2]!,
    endpointSeed: Number(seeds[3]),
    script: JSON.parse(field('as a script')) as { fault: string }[],
    replay: field('replay it'),
  };
}

/** A shell command line (as the README or a replay line has it) as argv, run with this build and Debian's python. */
function argvOf(line: string, out: string): string[] {
  const words = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  expect(words.slice(0, 3)).toEqual(['npx', 'fake-aws-iot', 'fuzz']);
  const args = words.slice(3).map((w) => (w === 'python3' ? PYTHON : w));
  const split = args.indexOf('--');
  // Failures go to a scratch directory rather than into examples/.
  return args.includes('--out') ? args : [...args.slice(0, split), '--out', out, ...args.slice(split)];
}

const section = (() => {
  const start = readme.indexOf('\n### Fuzzing device code in any language\n');
  // Up to the next heading of its level or above (the Control API follows it under the same "##").
  const end = readme.slice(start + 1).search(/\n#{2,3} /);
  return start === -1 ? '' : readme.slice(start, end === -1 ? undefined : start + 1 + end);
})();
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
const readmeCommands = () => blocks('sh').flatMap((b) => b.split('\n')).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

describe('the README recipe', () => {
  test('shows the example chaos.json and device code as they are in examples/fuzz', () => {
    expect(section).not.toBe('');
    expect(blocks('json')).toEqual([readFileSync(path.join(EXAMPLE, 'chaos.json'), 'utf8')]);
    const device = readFileSync(path.join(EXAMPLE, 'device_test.py'), 'utf8');
    expect(blocks('python')).toHaveLength(1);
    expect(device).toContain(blocks('python')[0]);
    expect(readmeCommands()).toEqual([
      'npx fake-aws-iot fuzz --runs 10 --seed 7 --chaos chaos.json -- python3 device_test.py',
      'npx fake-aws-iot fuzz --runs 10 --seed 7 --chaos chaos.json -- python3 device_test.py dup-flag',
    ]);
  });

  test('the fixed device (de-duplicates by command id) survives every run', async () => {
    const { code, stdout } = await fuzz(argvOf(readmeCommands()[0]!, dir));
    expect(stdout).toMatch(/^fake-aws-iot fuzz: all 10 run\(s\) survived \(seed 7\)\.$/m);
    expect(stdout.match(/^run \d+\/10: survived /gm)).toHaveLength(10);
    // Chaos was really drawn: most runs had re-sends or copies.
    expect(stdout.match(/^run .*(resendWithNewPacketId|duplicateQos0)/gm)!.length).toBeGreaterThan(5);
    expect(code).toBe(0);
  }, 60_000);

  test('the device that trusts the DUP flag is caught; the failure shrinks to one AWS fault and its replay line fails the same way', async () => {
    const { code, stdout } = await fuzz(argvOf(readmeCommands()[1]!, dir));
    // Only a fault that copies a delivery can make this device act twice: shrinking keeps that one alone.
    // (Matched against the whole output, so that a failure shows it.)
    expect(stdout).toMatch(/^ {2}chaos \(shrunk\): \{"(resendWithNewPacketId|duplicateQos0)":\{[^{}]*\}\}$/m);
    expect(stdout).toMatch(/^ {4}executed more than once: \{\d+: \d+(, \d+: \d+)*\}$/m);
    expect(code).toBe(1);
    const r = report(stdout);
    expect(r.failure).toBe('exit code 1');
    expect(r.seed).toBe(7);
    const fault = Object.keys(r.chaos)[0]!;
    expect(r.script.length).toBeGreaterThan(0);
    expect(r.script.every((s) => s.fault === fault)).toBe(true);

    // The trace of the failing run: JSON lines (a header, then entries with the copy tagged) and HTML.
    type Line = Record<string, unknown> & { direction?: string; clientId?: string; packet?: { cmd?: string }; chaos?: { fault?: string } };
    const lines = readFileSync(path.join(dir, 'fuzz-7.trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines[0]).toMatchObject({ kind: 'run', seed: r.endpointSeed, options: { chaos: r.chaos }, fuzz: { seed: 7, path: r.path } });
    const copies = lines.filter((l) => l.direction === 'out' && l.clientId === 'dev-1' && l.packet?.cmd === 'publish' && l.chaos?.fault === fault);
    expect(copies.length).toBeGreaterThan(0);
    expect(readFileSync(path.join(dir, 'fuzz-7.trace.html'), 'utf8')).toMatch(/^<!doctype html>/i);
    const facts = JSON.parse(readFileSync(path.join(dir, 'fuzz-7.failure.json'), 'utf8')) as Record<string, unknown>;
    expect(facts).toMatchObject({ seed: 7, path: r.path, chaos: r.chaos, endpointSeed: r.endpointSeed, script: r.script, replay: r.replay });
    expect(JSON.parse(readFileSync(path.join(dir, 'fuzz-7.endpoint.json'), 'utf8'))).toEqual({ seed: r.endpointSeed, chaos: { script: r.script } });

    // The replay line runs that one case once, and it fails again with the same chaos and decisions.
    expect(r.replay).toMatch(/^npx fake-aws-iot fuzz --seed 7 --path [\d:]+ --chaos chaos.json --out \S+ -- \/usr\/bin\/python3 device_test.py dup-flag$/);
    const replay = await fuzz(argvOf(r.replay, dir));
    expect(replay.stdout).toMatch(/^replay: FAILED \(exit code 1\) [^\n]*\n\nfake-aws-iot fuzz: the replayed run failed again\.$/m);
    expect(replay.stdout.match(/^replay: /gm)).toHaveLength(1);
    expect(report(replay.stdout)).toEqual({ ...r, failure: 'exit code 1' });
    expect(replay.code).toBe(1);
  }, 60_000);
});

test('a shell script on mosquitto_sub/mosquitto_pub that counts on one copy per message is caught, shrunk to resendWithNewPacketId', async () => {
  // Its subscription is QoS 1, so duplicateQos0 never fires there: shrinking must drop it, and reorder.
  const { code, stdout } = await fuzz(['--runs', '10', '--seed', '3', '--chaos', 'shell-chaos.json', '--timeout', '10000', '--out', dir, '--', 'sh', 'commands_test.sh']);
  expect(stdout).toMatch(/^ {2}chaos \(shrunk\): \{"resendWithNewPacketId":\{[^{}]*\}\}$/m);
  expect(stdout).toMatch(/^ {4}expected commands 1 2 3 once each, got: command 1 command 1 command 2$/m);
  expect(report(stdout).failure).toBe('exit code 1');
  expect(readFileSync(path.join(dir, 'fuzz-3.output.txt'), 'utf8')).toContain('expected commands 1 2 3 once each');
  expect(code).toBe(1);
}, 30_000);

test('with "script" in the chaos file, scripts are drawn too and shrink to the one step that matters', async () => {
  const chaos = path.join(dir, 'chaos.json');
  writeFileSync(chaos, JSON.stringify({ faults: ['reorder'], maxHoldMs: 5, script: { faults: ['resendWithNewPacketId', 'reorder'], clients: ['dev-1'], maxNth: 3, maxDelayMs: 0, maxHoldMs: 5 } }));
  const { code, stdout } = await fuzz(['--runs', '10', '--seed', '4', '--chaos', chaos, '--timeout', '10000', '--out', dir, '--', 'sh', 'commands_test.sh']);
  // Runs before the failure had scripts of several steps; the shrunk chaos is one re-send of one of the
  // first two commands (a copy of the third comes after mosquitto_sub has its three).
  expect(stdout).toMatch(/^run \d+\/10: .*"script":\[\{[^\]]*\},\{/m);
  const r = report(stdout);
  expect(r.chaos).toEqual({ script: [{ fault: 'resendWithNewPacketId', nth: expect.any(Number), client: 'dev-1', delayMs: 0 }] });
  expect((r.chaos.script as { nth: number }[])[0]!.nth).toBeLessThan(3);
  expect(code).toBe(1);
}, 30_000);

test('SIGINT ends the run in progress, what it started, and fuzz (exit 130)', async () => {
  const started = path.join(dir, 'started');
  const pidFile = path.join(dir, 'pid');
  const cli = spawnGroup(process.execPath, [CLI, 'fuzz', '--runs', '5', '--seed', '1', '--out', dir, '--', 'sh', '-c', `sleep 60 & echo $! > ${pidFile}; touch ${started}; wait`], { cwd: dir });
  while (!existsSync(started)) await new Promise((resolve) => setTimeout(resolve, 20));
  cli.child.kill('SIGINT');
  expect(await cli.exited).toBe(130);
  expect(cli.stdout()).toMatch(/stopped by SIGINT after 1 run\(s\), no failure so far/);
  expect(alive(pid(pidFile))).toBe(false);
});

const pid = (file: string) => Number(readFileSync(file, 'utf8').trim());
/** Whether process `pid` still runs (a zombie, left to an init that does not reap, does not). */
const alive = (p: number) => existsSync(`/proc/${p}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));

describe('runs', () => {
  test('a run over --timeout fails, and what the command started is ended with it', async () => {
    const chaos = path.join(dir, 'none.json');
    writeFileSync(chaos, '{ "faults": [] }');
    const pidFile = path.join(dir, 'pid');
    const { code, stdout } = await fuzz(['--runs', '3', '--seed', '1', '--chaos', chaos, '--timeout', '300', '--out', dir, '--', 'sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`], dir);
    expect(stdout).toMatch(/^run 1\/3: FAILED \(timed out after 300 ms\)  \{\}$/m);
    // Nothing to shrink in {}: no second run of the same case.
    expect(stdout).not.toMatch(/^shrink /m);
    expect(report(stdout).failure).toBe('timed out after 300 ms');
    expect(alive(pid(pidFile))).toBe(false);
    expect(code).toBe(1);
  });

  test('what a run leaves behind is ended when it exits (so it cannot outlive its endpoint)', async () => {
    const pidFile = path.join(dir, 'pid');
    const { code, stdout } = await fuzz(['--runs', '1', '--seed', '1', '--', 'sh', '-c', `sleep 60 > /dev/null 2>&1 & echo $! > ${pidFile}`], dir);
    expect(stdout).toMatch(/^run 1\/1: survived /m);
    expect(alive(pid(pidFile))).toBe(false);
    expect(code).toBe(0);
  });

  test('the command gets the endpoint, control API and, with --tls, the certificate files in its environment', async () => {
    const script = path.join(dir, 'env.sh');
    writeFileSync(script, [
      'set -eu',
      'case "$FAKE_IOT_URL" in "mqtt://$FAKE_IOT_HOST:$FAKE_IOT_PORT") ;; *) echo "FAKE_IOT_URL=$FAKE_IOT_URL"; exit 1 ;; esac',
      'case "$FAKE_IOT_TLS_URL" in "mqtts://localhost:$FAKE_IOT_TLS_PORT") ;; *) echo "FAKE_IOT_TLS_URL=$FAKE_IOT_TLS_URL"; exit 1 ;; esac',
      'test "$FAKE_IOT_CA_FILE" = "$FAKE_IOT_CERTS_DIR/ca.pem"',
      'curl -sf "$FAKE_IOT_CONTROL_URL/endpoint" | grep -q "port.:$FAKE_IOT_PORT,"',
      'd="$FAKE_IOT_CERTS_DIR"',
      'mosquitto_pub -h localhost -p "$FAKE_IOT_TLS_PORT" --cafile "$d/ca.pem" --cert "$d/dev-1.cert.pem" --key "$d/dev-1.private.key" -i dev-1 -q 1 -t state/dev-1 -m ok',
      'mosquitto_pub -h "$FAKE_IOT_HOST" -p "$FAKE_IOT_PORT" -i plain -q 1 -t state/plain -m ok',
      'echo checked',
    ].join('\n'));
    // FAKE_IOT_URL inherited from the caller's environment is replaced, not kept.
    const cli = spawnGroup('env', ['FAKE_IOT_URL=mqtt://elsewhere:1', process.execPath, CLI, 'fuzz', '--runs', '2', '--seed', '5', '--tls', '--thing', 'dev-1', '--out', dir, '--', 'sh', script], { cwd: dir });
    const code = await cli.exited;
    expect(cli.stdout().match(/^run \d\/2: survived /gm)).toHaveLength(2);
    expect(code).toBe(0);
  });
});

describe('usage errors exit 2, naming what is wrong', () => {
  test.each([
    ['no command', ['--runs', '1'], /needs a command to run, after --/],
    ['an empty command', ['--runs', '1', '--'], /needs a command to run/],
    ['a command without --', ['--runs', '1', 'true'], /Put the command after --/],
    ['an unknown option', ['--rnus', '1', '--', 'true'], /Unknown option '--rnus'/],
    ['--runs 0', ['--runs', '0', '--', 'true'], /--runs needs a whole number from 1/],
    ['a bad --timeout', ['--timeout', '1s', '--', 'true'], /--timeout needs a whole number/],
    ['--path without --seed', ['--path', '1:0', '--', 'true'], /--path needs the --seed/],
    ['--thing without TLS', ['--thing', 'dev-1', '--', 'true'], /--thing needs --tls/],
    ['a missing chaos file', ['--chaos', 'missing.json', '--', 'true'], /cannot read --chaos missing.json/],
    ['a command that does not exist', ['--runs', '1', '--', 'no-such-command-here'], /cannot run no-such-command-here: spawn no-such-command-here ENOENT/],
  ])('%s', async (_name, args, message) => {
    const { code, stderr } = await fuzz(args, dir);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/^\[fake-aws-iot\] fuzz: /);
    expect(code).toBe(2);
  });

  test.each([
    ['an unknown knob, with the likely one', { fautls: [] }, /unknown option in --chaos chaos.json: fautls\. Did you mean "faults"\?/],
    ['an unknown fault', { faults: ['reordr'] }, /faults must be an array of faults from duplicateQos0, /],
    ['a probability over 1', { maxProbability: 2 }, /maxProbability must be a number in \(0, 1\] \(got 2\)/],
    ['latency in a script', { script: { faults: ['latency'] } }, /script\.faults must be an array of faults from/],
    ['min above max', { minDelayMs: 50, maxDelayMs: 10 }, /in --chaos chaos.json: chaosArbitrary\(constraints\): need 0 <= minDelayMs <= maxDelayMs/],
    ['a topic that is no filter', { topics: ['a/#/b'] }, /topics: topic filter "a\/#\/b" uses "#" other than as the whole last level/],
  ])('chaos.json with %s', async (_name, chaos, message) => {
    writeFileSync(path.join(dir, 'chaos.json'), JSON.stringify(chaos));
    const { code, stderr } = await fuzz(['--runs', '1', '--seed', '1', '--chaos', 'chaos.json', '--', 'true'], dir);
    expect(stderr).toMatch(message);
    expect(code).toBe(2);
  });

  test('--config may not set what fuzz draws or picks', async () => {
    writeFileSync(path.join(dir, 'options.json'), JSON.stringify({ port: 1883 }));
    const { code, stderr } = await fuzz(['--config', 'options.json', '--', 'true'], dir);
    expect(stderr).toMatch(/"port" is not for fuzz: every run listens on a free port/);
    expect(code).toBe(2);
  });

  test('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await fuzz(['--help'], dir);
    expect(stdout).toMatch(/^Usage: fake-aws-iot fuzz \[options\] -- <command> \[args\.\.\.\]/);
    expect(stdout).toContain('Exit code: 0 every run survived, 1 a failure was found, 2 usage error.');
    expect(code).toBe(0);
  });
});
