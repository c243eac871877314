/**
 * CLI options around the trace file, --config and --policy, driven through the real CLI process.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { CLI, run, spawnGroup, startCli } from './cli';

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

describe('--policy', () => {
  const arn = 'arn:aws:iot:us-east-1:123456789012';
  /** Connect as anyone; subscribe only to cmd/<own client id>; publish and receive under cmd/. */
  const devicePolicy = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arn}:client/*` },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${arn}:topicfilter/cmd/\${iot:ClientId}` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${arn}:topic/cmd/*` },
    ],
  };

  /** A control API request from this process (Node's fetch); the JSON answer. */
  async function control(url: string, route: string, body: unknown): Promise<any> {
    const res = await fetch(`${url}${route}`, { method: 'POST', body: JSON.stringify(body) });
    const json = await res.json();
    expect([res.status, route]).toEqual([200, route]);
    return json;
  }

  test('the file is a policy attached to every connection: mosquitto_sub inside it gets its message; outside it, a denied SUBSCRIBE drops the connection, again at every reconnect', async () => {
    const file = path.join(dir, 'device.json');
    writeFileSync(file, JSON.stringify(devicePolicy, null, 2));
    const cli = await startCli(['--policy', file, '--control-port', '0']);
    expect(cli.stdout()).toContain(`fake-aws-iot policy device (${file}) attached to every connection\n`);
    const url = /control API on (http:\/\/127\.0\.0\.1:\d+) /.exec(cli.stdout())![1]!;
    const mosquitto = (cmd: string, ...args: string[]) => spawnGroup(cmd, ['-h', '127.0.0.1', '-p', String(cli.port), '-q', '1', ...args]);

    const allowed = mosquitto('mosquitto_sub', '-i', 'dev-1', '-t', 'cmd/dev-1', '-C', '1');
    await control(url, '/trace/wait', { match: { event: 'subscription-active', clientId: 'dev-1' }, timeoutMs: 10_000 });
    expect(await mosquitto('mosquitto_pub', '-i', 'cloud', '-t', 'cmd/dev-1', '-m', 'reboot').exited).toBe(0);
    expect(await allowed.exited).toBe(0);
    expect(allowed.stdout()).toBe('reboot\n');

    // Another device's commands: AWS closes an MQTT 3.1.1 connection whose SUBSCRIBE is denied, without a SUBACK.
    mosquitto('mosquitto_sub', '-i', 'dev-2', '-t', 'cmd/dev-1');
    const denied = (await control(url, '/trace/wait', { match: { event: 'authorization', clientId: 'dev-2' }, timeoutMs: 10_000 })).entry;
    expect(denied).toMatchObject({ action: 'iot:Subscribe', resource: `${arn}:topicfilter/cmd/dev-1`, allowed: false, reaction: 'closed' });
    const dropped = (await control(url, '/trace/wait', { match: { event: 'disconnect', clientId: 'dev-2' } })).entry;
    expect(dropped).toMatchObject({ connectionId: denied.connectionId, reason: 'AUTH_ERROR' });
    expect((await control(url, '/trace/filter', { match: { direction: 'out', clientId: 'dev-2', packet: { cmd: 'suback' } } })).entries).toEqual([]);
    // mosquitto_sub connects again and subscribes again: the loop a device in the field falls into.
    const again = (await control(url, '/trace/wait', { match: { event: 'authorization', clientId: 'dev-2' }, after: dropped.seq, timeoutMs: 10_000 })).entry;
    expect(again).toMatchObject({ action: 'iot:Subscribe', reaction: 'closed' });
    expect(again.connectionId).toBeGreaterThan(denied.connectionId);
    expect(await cli.stop()).toBe(0);
  });

  test.each([
    ['a missing file', () => path.join(dir, 'missing.json'), /^\[fake-aws-iot\] cannot read --policy \S+missing\.json: ENOENT/],
    ['a directory', () => dir, /^\[fake-aws-iot\] cannot read --policy \S+: EISDIR/],
    ['a file that never ends', () => '/dev/zero', /^\[fake-aws-iot\] --policy \/dev\/zero is larger than 65536 bytes/],
    ['a file that is not JSON', () => write('broken.json', '{"Version": '), /^\[fake-aws-iot\] --policy \S+broken\.json: policy "broken" is not valid JSON/],
    ['an invalid document', () => write('bad.json', JSON.stringify({ ...devicePolicy, Statement: [{ ...devicePolicy.Statement[0], Effect: 'Permit' }] })), /^\[fake-aws-iot\] --policy \S+bad\.json: policy "bad", Statement\[0\]: Effect must be "Allow" or "Deny" \(got "Permit"\)/],
    ['a base name AWS refuses', () => write('my policy.json', JSON.stringify(devicePolicy)), /^\[fake-aws-iot\] --policy .+my policy\.json: its base name "my policy" is not a policy name AWS accepts/],
  ])('%s exits 2 with the message naming --policy and the file', async (_what, file, message) => {
    const result = await run(process.execPath, [CLI, '--port', '0', '--policy', file()]);
    expect([result.code, result.stderr, result.stdout]).toEqual([2, expect.stringMatching(message), '']);
  });

  test('two files of the same base name exit 2: each policy is named after its file', async () => {
    const first = write('device.json', JSON.stringify(devicePolicy));
    mkdirSync(path.join(dir, 'other'));
    const second = path.join(dir, 'other', 'device.json');
    writeFileSync(second, JSON.stringify(devicePolicy));
    const result = await run(process.execPath, [CLI, '--port', '0', '--policy', first, '--policy', second]);
    expect([result.code, result.stderr]).toEqual([2, `[fake-aws-iot] --policy ${second}: ${first} gives a policy named "device" already (each is named after its file).\n`]);
  });

  test('"policies" in --config are checked, and attached to nothing: every CONNECT is refused until a --policy file attaches one', async () => {
    const config = write('options.json', JSON.stringify({ policies: { device: devicePolicy } }));
    const bad = write('bad-options.json', JSON.stringify({ policies: { device: { ...devicePolicy, Statement: [{ ...devicePolicy.Statement[0], Effect: 'Permit' }] } } }));
    const refused = await run(process.execPath, [CLI, '--port', '0', '--config', bad]);
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringMatching(/^\[fake-aws-iot\] options\.policies\["device"\]: policy "device", Statement\[0\]: Effect must be/)]);

    /** mosquitto_pub's exit code, and the endpoint's decisions about its connection. */
    const publishes = async (args: string[]) => {
      const cli = await startCli([...args, '--control-port', '0']);
      const url = /control API on (http:\/\/127\.0\.0\.1:\d+) /.exec(cli.stdout())![1]!;
      const pub = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(cli.port), '-i', 'dev-1', '-q', '1', '-t', 'cmd/dev-1', '-m', 'x']);
      const { entries } = await control(url, '/trace/filter', { match: { event: 'authorization', clientId: 'dev-1' } });
      expect(await cli.stop()).toBe(0);
      return [pub.code, entries.map((e: { action: string; reason: string }) => `${e.action}: ${e.reason}`)];
    };
    // The socket closes without a CONNACK.
    const [code, decisions] = await publishes(['--config', config]);
    expect(code).not.toBe(0);
    expect(decisions).toEqual([expect.stringMatching(/^iot:Connect: .*:client\/dev-1: no statement allows it \(default deny\)$/)]);
    // The same document as a file (the file wins over a --config policy of its name) is attached to every connection.
    expect(await publishes(['--config', config, '--policy', write('device.json', JSON.stringify(devicePolicy))])).toEqual([0, []]);
  });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
