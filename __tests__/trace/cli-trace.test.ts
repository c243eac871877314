/**
 * `fake-aws-iot trace view|pcap` on a trace file the real CLI wrote (--trace-file, two runs appended), run as
 * a process from dist/ like `npx fake-aws-iot`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { parseTraceJsonLines } from '../../src/trace/jsonl';
import { traceToPcap } from '../../src/trace/pcap';
import { CLI, run, startCli, traceLine } from '../clients/cli';

let dir: string;
let trace: string;

/** One CLI run (appended to `trace`) in which `clientId` publishes hello on a/b at QoS 1. */
async function oneRun(seed: number, clientId: string): Promise<void> {
  const cli = await startCli(['--trace-file', trace, '--seed', String(seed)]);
  const client = await mqtt.connectAsync(cli.url, { clientId, reconnectPeriod: 0 });
  await client.publishAsync('a/b', `hello from ${clientId}`, { qos: 1 });
  await client.endAsync();
  await traceLine(trace, (l) => l.kind === 'event' && l.event === 'disconnect' && l.clientId === clientId);
  expect(await cli.stop('SIGTERM')).toBe(0);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-trace-cli-'));
  trace = path.join(dir, 'trace.jsonl');
  await oneRun(7, 'first');
  await oneRun(8, 'second');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => run(process.execPath, [CLI, 'trace', ...args]);
const pageData = (html: string) => JSON.parse(/<script type="application\/json" id="trace-data">(.*?)<\/script>/s.exec(html)![1]!) as { title: string; seed: number; lanes: string[]; rows: unknown[] };

test('trace view writes the last run as HTML next to the file by default', async () => {
  const { code, stdout } = await cli('view', trace);
  expect(code).toBe(0);
  const out = path.join(dir, 'trace.html');
  const entries = parseTraceJsonLines(readFileSync(trace, 'utf8'))[1]!.entries;
  expect(stdout).toBe(`wrote ${out}: ${entries.length} entries (run 2 of 2)\n`);
  const data = pageData(readFileSync(out, 'utf8'));
  expect(data).toMatchObject({ title: 'trace.jsonl (run 2 of 2)', seed: 8, lanes: ['broker', 'second'] });
  expect(data.rows).toHaveLength(entries.length);
});

test('trace view --run 1 -o <file> --title <text> picks the first run', async () => {
  const out = path.join(dir, 'first.html');
  expect((await cli('view', trace, '--run', '1', '-o', out, '--title', 'the first run')).code).toBe(0);
  const html = readFileSync(out, 'utf8');
  expect(html).toContain('<title>the first run</title>');
  expect(pageData(html)).toMatchObject({ seed: 7, lanes: ['broker', 'first'] });
});

test('trace pcap writes a capture tshark decodes, the same as traceToPcap() of that run', async () => {
  const out = path.join(dir, 'first.pcapng');
  expect(await cli('pcap', trace, '--run', '1', '-o', out)).toMatchObject({ code: 0 });
  const bytes = readFileSync(out);
  expect(bytes.equals(traceToPcap(parseTraceJsonLines(readFileSync(trace, 'utf8'))[0]!.entries))).toBe(true);
  const { stdout } = await promisify(execFile)('tshark', ['-r', out, '-Y', 'mqtt', '-T', 'fields', '-e', 'mqtt.msgtype', '-e', 'mqtt.clientid', '-e', 'mqtt.topic']);
  expect(stdout.split('\n').filter(Boolean)).toEqual(['1\tfirst\t', '2\t\t', '3\t\ta/b', '4\t\t', '14\t\t']);
  expect(existsSync(path.join(dir, 'trace.pcapng'))).toBe(false);
});

test('-o - writes to standard output', async () => {
  const { code, stdout } = await cli('view', trace, '-o', '-');
  expect(code).toBe(0);
  expect(stdout).toMatch(/^<!doctype html>[\s\S]*<\/html>\n$/);
});

test('--help prints the usage and exits 0', async () => {
  const { code, stdout } = await cli('--help');
  expect(code).toBe(0);
  expect(stdout).toContain('Usage: fake-aws-iot trace view <trace.jsonl>');
});

describe('exits 2 with a message naming the problem', () => {
  test.each([
    [[], /trace needs view or pcap \(got nothing\)/],
    [['frobnicate', 'x.jsonl'], /trace needs view or pcap \(got "frobnicate"\)/],
    [['view'], /trace view needs the trace file to read/],
    [['view', 'a.jsonl', 'b.jsonl'], /trace view reads one file \(got also "b\.jsonl"\)/],
    [['view', 'a.jsonl', '--bogus'], /Unknown option '--bogus'/],
    [['view', 'a.jsonl', '--run', '0'], /--run needs a run number from 1 \(got "0"\)/],
    [['pcap', 'a.jsonl', '--title', 'x'], /--title is for trace view/],
    [['view', '/nonexistent-dir/trace.jsonl'], /cannot read \/nonexistent-dir\/trace\.jsonl: ENOENT/],
  ])('trace %j', async (args, message) => {
    const { code, stderr } = await cli(...(args as string[]));
    expect(code).toBe(2);
    expect(stderr).toMatch(/^\[fake-aws-iot\] /);
    expect(stderr).toMatch(message);
  });

  test('a run number past the file, a line that is not JSON, an output that cannot be written', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, `${readFileSync(trace, 'utf8').split('\n')[0]}\n{"seq": 1,\n`);
    const results = await Promise.all([cli('view', trace, '--run', '3'), cli('view', bad), cli('view', trace, '-o', '/nonexistent-dir/trace.html')]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(results[0]!.stderr).toBe(`[fake-aws-iot] --run 3: ${trace} holds 2 run(s).\n`);
    expect(results[1]!.stderr).toMatch(/^\[fake-aws-iot\] .*bad\.jsonl is not a JSON-lines trace: line 2 is not JSON: /);
    expect(results[2]!.stderr).toMatch(/^\[fake-aws-iot\] cannot write \/nonexistent-dir\/trace\.html \(--output\): ENOENT/);
  });
});
