/**
 * CLI options around the trace file and --config, driven through the real CLI process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { CLI, run, startCli } from './cli';

const VERSION = (JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type Line = Record<string, unknown>;
const lines = (file: string): Line[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);

/** One CLI run with a client that connects and leaves, so the run has trace entries. */
async function oneRun(args: string[], clientId: string): Promise<void> {
  const cli = await startCli(args);
  const client = await mqtt.connectAsync(cli.url, { clientId, reconnectPeriod: 0 });
  await client.endAsync();
  expect(await cli.stop('SIGTERM')).toBe(0);
}

describe('--trace-file', () => {
  test('every run starts with a header entry (version, seed, options, start time); by default runs append', async () => {
    const file = path.join(dir, 'trace.jsonl');
    const config = path.join(dir, 'options.json');
    writeFileSync(config, JSON.stringify({ limits: { maxPayloadBytes: 1000 } }));
    const before = Date.now();
    await oneRun(['--trace-file', file, '--seed', '7', '--config', config], 'first');
    await oneRun(['--trace-file', file, '--seed', '8'], 'second');

    const all = lines(file);
    const headers = all.flatMap((l, i) => (l.kind === 'run' ? [i] : []));
    expect(headers).toHaveLength(2);
    expect(headers[0]).toBe(0);
    expect(all[0]).toMatchObject({ kind: 'run', version: VERSION, seed: 7, profile: 'current', options: { seed: 7, port: 0, limits: { maxPayloadBytes: 1000 } } });
    expect(all[headers[1]!]).toMatchObject({ kind: 'run', version: VERSION, seed: 8, options: { seed: 8, port: 0 } });
    for (const i of headers) {
      expect(Date.parse(all[i]!.startedAt as string)).toBeGreaterThanOrEqual(before - 1000);
      expect(all[i + 1]).toMatchObject({ seq: 1 }); // each run numbers its entries from 1, right after its header
    }
    expect(all.slice(1, headers[1]).every((l) => l.clientId === 'first')).toBe(true);
    expect(all.slice(headers[1]! + 1).every((l) => l.clientId === 'second')).toBe(true);
  });

  test('--trace-file-mode truncate starts the file afresh; append keeps what was there', async () => {
    const file = path.join(dir, 'trace.jsonl');
    writeFileSync(file, '{"old":true}\n');
    await oneRun(['--trace-file', file, '--trace-file-mode', 'append'], 'kept');
    expect(lines(file)[0]).toEqual({ old: true });

    await oneRun(['--trace-file', file, '--trace-file-mode', 'truncate', '--seed', '9'], 'fresh');
    const after = lines(file);
    expect(after[0]).toMatchObject({ kind: 'run', seed: 9 });
    expect(after.filter((l) => l.kind === 'run')).toHaveLength(1);
    expect(after.some((l) => l.old === true || l.clientId === 'kept')).toBe(false);
  });

  test.each([
    [['--trace-file', 'x.jsonl', '--trace-file-mode', 'overwrite'], /^\[fake-aws-iot\] --trace-file-mode must be append or truncate \(got "overwrite"\)\./],
    [['--trace-file-mode', 'truncate'], /^\[fake-aws-iot\] --trace-file-mode needs --trace-file\./],
    [['--trace-file', '/nonexistent-dir/trace.jsonl'], /^\[fake-aws-iot\] cannot open --trace-file \/nonexistent-dir\/trace\.jsonl: /],
  ])('%j exits 2 with a message naming the option', async (args, message) => {
    const result = await run(process.execPath, [CLI, '--port', '0', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});

describe('--config', () => {
  test('{"clock":"virtual"} without --control-port is refused: nothing outside the process could advance it', async () => {
    const config = path.join(dir, 'options.json');
    writeFileSync(config, JSON.stringify({ clock: 'virtual' }));
    const result = await run(process.execPath, [CLI, '--port', '0', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\[fake-aws-iot\] --config \S+options\.json: "clock": "virtual" needs --control-port/);
    expect(result.stdout).toBe('');
  });

  test('{"clock":"real"} is accepted', async () => {
    const config = path.join(dir, 'options.json');
    writeFileSync(config, JSON.stringify({ clock: 'real' }));
    const cli = await startCli(['--config', config]);
    expect(await cli.stop('SIGTERM')).toBe(0);
  });

  test('a file that is not a JSON object exits 2', async () => {
    const config = path.join(dir, 'options.json');
    writeFileSync(config, '[1, 2]');
    const result = await run(process.execPath, [CLI, '--port', '0', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\[fake-aws-iot\] --config \S+ must hold a JSON object of startFakeIot\(\) options\./);
  });
});

describe('--no-throttles', () => {
  test('lifts the rate limits: a client id reconnects at once (a takeover), which the default refuses', async () => {
    const reconnectTwice = async (args: string[]) => {
      const cli = await startCli(args);
      const first = await mqtt.connectAsync(cli.url, { clientId: 'twice', reconnectPeriod: 0 });
      const second = mqtt.connect(cli.url, { clientId: 'twice', reconnectPeriod: 0 });
      const outcome = await new Promise<string>((resolve) => {
        second.once('connect', () => resolve('accepted'));
        second.once('close', () => resolve('closed'));
      });
      first.end(true);
      second.end(true);
      expect(await cli.stop('SIGTERM')).toBe(0);
      return outcome;
    };
    expect(await reconnectTwice(['--no-throttles'])).toBe('accepted');
    expect(await reconnectTwice([])).toBe('closed'); // AWS: one CONNECT per second per client id
  });
});

describe('--profile', () => {
  test('current is the default; classic is taken and shown in the banner and the trace header; anything else exits 2', async () => {
    const file = path.join(dir, 'trace.jsonl');
    await oneRun(['--trace-file', file, '--profile', 'classic'], 'p');
    expect(lines(file)[0]).toMatchObject({ kind: 'run', profile: 'classic', options: { profile: 'classic' } });
    const cli = await startCli([]);
    expect(cli.stdout()).toContain('profile current');
    expect(await cli.stop('SIGTERM')).toBe(0);
    const bad = await run(process.execPath, [CLI, '--port', '0', '--profile', 'modern']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/\[fake-aws-iot\] --profile must be classic or current \(got "modern"\)/);
  });
});
