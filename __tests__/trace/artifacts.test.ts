/**
 * FAKE_IOT_ARTIFACTS: a Jest of its own runs fixtures/artifacts.fixture.ts (with this project's setup file,
 * which imports fake-aws-iot/jest) and the files it leaves are checked.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseTraceJsonLines } from '../../src/trace/jsonl';
import { artifactName } from '../../src/testing/jest/artifacts';

const root = path.resolve(__dirname, '../..');
let dir: string;
let out: string;
let result: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-artifacts-'));
  out = path.join(dir, 'artifacts');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { jest: Record<string, unknown> };
  const config = { ...pkg.jest, rootDir: root, roots: ['<rootDir>/__tests__/trace/fixtures'], testMatch: ['**/artifacts.fixture.ts'] };
  writeFileSync(path.join(dir, 'jest.config.json'), JSON.stringify(config));
  result = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--config', path.join(dir, 'jest.config.json'), '--ci', '--runInBand', '--testTimeout', '30000'], {
      cwd: root,
      env: { ...process.env, FAKE_IOT_ARTIFACTS: out, FAKE_IOT_RUNS: '', FAKE_IOT_SEED: '', FAKE_IOT_PROPERTY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const name = (test: string) => artifactName(path.join(root, '__tests__/trace/fixtures/artifacts.fixture.ts'), test);
const files = () => readdirSync(out).sort();
const run = (file: string) => {
  const runs = parseTraceJsonLines(readFileSync(path.join(out, file), 'utf8'));
  expect(runs).toHaveLength(1);
  return runs[0]!;
};

test('the fixture run fails the way it should (5 failures)', () => {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/Tests:\s+5 failed, 3 passed, 8 total/);
});

test('a failing test with one endpoint leaves <file>--<test>.jsonl and .html with its whole trace', () => {
  const base = name('fails with one endpoint');
  expect(base).toBe('artifacts.fixture--fails-with-one-endpoint');
  expect(files()).toEqual(expect.arrayContaining([`${base}.jsonl`, `${base}.html`]));
  const { header, entries } = run(`${base}.jsonl`);
  expect(header).toMatchObject({ kind: 'run', test: 'fails with one endpoint', seed: 3, startedInTest: true });
  expect(entries[0]).toMatchObject({ seq: 1, kind: 'packet', direction: 'in', packet: { cmd: 'connect', clientId: 'dev-1' } });
  expect(entries.some((e) => e.kind === 'packet' && e.packet.cmd === 'publish' && Buffer.from(e.packet.payload).toString() === 'hello')).toBe(true);
  expect(entries.at(-1)).toMatchObject({ kind: 'event', clientId: 'dev-1' });
  const html = readFileSync(path.join(out, `${base}.html`), 'utf8');
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).toContain('<title>fails with one endpoint</title>');
});

test('passing tests, a test without endpoints and a test.failing that failed write nothing', () => {
  for (const test of ['passes with an endpoint', 'fails without an endpoint', 'is expected to fail, and does', 'with an endpoint from beforeAll passes on the shared endpoint']) {
    expect(files().filter((f) => f.startsWith(`${name(test)}.`))).toEqual([]);
  }
});

test('a test that fails in an afterEach running after the setup file\'s still counts as failed', () => {
  expect(existsSync(path.join(out, `${name('fails only in a later afterEach')}.jsonl`))).toBe(true);
});

test('an endpoint from beforeAll is written with the entries of the failing test only, beside the test\'s own', () => {
  const base = name('with an endpoint from beforeAll fails on the shared endpoint and one of its own');
  expect(files().filter((f) => f.startsWith(`${base}.`))).toEqual([`${base}.iot-1.html`, `${base}.iot-1.jsonl`, `${base}.shared-1.html`, `${base}.shared-1.jsonl`]);
  const shared = run(`${base}.shared-1.jsonl`);
  expect(shared.header).toMatchObject({ seed: 6, startedInTest: false });
  const topics = shared.entries.flatMap((e) => (e.kind === 'event' && e.event === 'publish' ? [e.topic] : []));
  expect(topics).toEqual(['shared/during']);
  expect(run(`${base}.iot-1.jsonl`).header).toMatchObject({ seed: 8, startedInTest: true, endpoint: 1 });
});

test('assertClientSurvives: of its many endpoints at most 10 are kept, the failed runs among them', () => {
  const base = name('fails in assertClientSurvives');
  const written = files().filter((f) => f.startsWith(`${base}.`) && f.endsWith('.jsonl'));
  expect(written.length).toBeGreaterThan(0);
  expect(written.length).toBeLessThanOrEqual(10);
  const headers = written.map((f) => run(f).header!);
  expect(headers.every((h) => typeof h.endpointsNotKept === 'number' && h.endpointsNotKept > 0)).toBe(true);
  const failedRuns = headers.filter((h) => h.failedRun === true);
  expect(failedRuns.length).toBeGreaterThan(0);
  // Every run publishes its chaos: the failed ones drew reorder.
  for (const f of written.filter((_, i) => headers[i]!.failedRun)) {
    const published = run(f).entries.find((e) => e.kind === 'event' && e.event === 'publish');
    expect(published && published.kind === 'event' && published.event === 'publish' && JSON.parse(published.payload.toString())).toHaveProperty('reorder');
  }
});
