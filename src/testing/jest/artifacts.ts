/**
 * FAKE_IOT_ARTIFACTS=<dir>: when a test fails, the trace of each endpoint it started is written into <dir>
 * as JSON lines and as an HTML page, named after the test, for CI to upload. Passing tests write nothing.
 * Installed by `fake-aws-iot/jest` (the setup file that registers the matchers).
 *
 * Which tests failed is read from jest-circus (Jest's default runner), like the test's deadline in
 * ../fast-check/jest-context: not a public API, so where it cannot be read a warning says so once and
 * nothing is written.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { traceToHtml } from '../../trace/html';
import { traceToJsonLines } from '../../trace/jsonl';
import type { Trace } from '../../trace/recorder';
import { type WatchedEndpoint, watchEndpoints } from '../../trace/watch';
import { circusState } from '../fast-check/jest-context';

/** Endpoints kept per test: beyond it (a property test starts one per run) the oldest are let go first, failed runs last. */
const MAX_ENDPOINTS_PER_TEST = 10;
const MAX_NAME_CHARS = 120;

interface Tracked {
  endpoint: WatchedEndpoint;
  /** Its place among the endpoints the test started (1 = the first). */
  index: number;
  /** assertClientSurvives() saw its run fail. */
  failedRun: boolean;
}

interface RunningTest {
  started: Tracked[];
  count: number;
  /** Endpoints started before the test (in beforeAll) and still open, with the seq the test began after. */
  shared: { endpoint: WatchedEndpoint; afterSeq: number }[];
}

type Hook = (fn: () => void) => void;
type HookGlobals = { beforeEach?: Hook; afterEach?: Hook; afterAll?: Hook };
type ExpectGlobal = { expect?: { getState?: () => { currentTestName?: unknown; testPath?: unknown } } };

const lastSeq = (trace: Trace) => trace.entries.at(-1)?.seq ?? 0;

/** A file name from the test file and test name: readable, safe on every file system, unique by a hash when cut. */
export function artifactName(testPath: string | undefined, testName: string): string {
  const file = testPath ? path.basename(testPath).replace(/\.[cm]?[jt]sx?$/, '') : '';
  const full = `${file ? `${file}--` : ''}${testName}`;
  const safe = full.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'test';
  if (safe.length <= MAX_NAME_CHARS) return safe;
  return `${safe.slice(0, MAX_NAME_CHARS - 9)}-${createHash('sha1').update(full).digest('hex').slice(0, 8)}`;
}

/** jest-circus's object for the running test (its `errors` grow until Jest moves on), if it can be read. */
function circusTest(): { errors?: unknown } | undefined {
  const test = circusState()?.currentlyRunningTest;
  return test && Array.isArray(test.errors) ? test : undefined;
}

/** Whether a test failed. (For a `test.failing`, jest-circus records an error only when it did not throw.) */
const failed = (test: { errors?: unknown }): boolean => Array.isArray(test.errors) && test.errors.length > 0;

function currentTest(): { name: string; testPath?: string } {
  let state: { currentTestName?: unknown; testPath?: unknown } | undefined;
  try {
    state = (globalThis as ExpectGlobal).expect?.getState?.();
  } catch {
    state = undefined;
  }
  const name = typeof state?.currentTestName === 'string' && state.currentTestName ? state.currentTestName : 'unnamed test';
  return { name, ...(typeof state?.testPath === 'string' ? { testPath: state.testPath } : {}) };
}

interface Artifact {
  endpoint: WatchedEndpoint;
  /** File name suffix when the test has more than one endpoint. */
  suffix: string;
  /** For the page's title. */
  what: string;
  /** Shared with other tests (started in beforeAll): only entries after this seq are the test's. */
  afterSeq?: number;
  /** What the JSON-lines header says about it. */
  note: Record<string, unknown>;
}

function write(dir: string, test: RunningTest, { name, testPath }: { name: string; testPath?: string }): void {
  const base = artifactName(testPath, name);
  const dropped = test.count - test.started.length;
  const artifacts: Artifact[] = [
    ...test.started.map((t) => ({
      endpoint: t.endpoint,
      suffix: `iot-${t.index}`,
      what: `endpoint ${t.index} of ${test.count}`,
      note: { endpoint: t.index, startedInTest: true, ...(t.failedRun ? { failedRun: true } : {}), ...(dropped > 0 ? { endpointsNotKept: dropped } : {}) },
    })),
    ...test.shared.map((s, i) => ({
      endpoint: s.endpoint,
      suffix: `shared-${i + 1}`,
      what: "an endpoint from beforeAll: this test's entries",
      afterSeq: s.afterSeq,
      note: { startedInTest: false, afterSeq: s.afterSeq },
    })),
  ];
  const single = artifacts.length === 1 && test.started.length === 1;
  mkdirSync(dir, { recursive: true });
  for (const a of artifacts) {
    const all = a.endpoint.trace.entries;
    const entries = a.afterSeq === undefined ? all : all.filter((e) => e.seq > a.afterSeq!);
    const file = path.join(dir, single ? base : `${base}.${a.suffix}`);
    writeFileSync(`${file}.jsonl`, traceToJsonLines(entries, { test: name, ...(testPath ? { testPath } : {}), seed: a.endpoint.seed, ...a.note }));
    writeFileSync(`${file}.html`, traceToHtml(entries, { title: single ? name : `${name} (${a.what})`, seed: a.endpoint.seed }));
  }
}

/** Installs the hooks when FAKE_IOT_ARTIFACTS is set and Jest's hooks are there; otherwise does nothing. */
export function installTraceArtifacts(env: NodeJS.ProcessEnv = process.env): void {
  const setting = env.FAKE_IOT_ARTIFACTS?.trim();
  const g = globalThis as HookGlobals;
  if (!setting || typeof g.beforeEach !== 'function' || typeof g.afterEach !== 'function' || typeof g.afterAll !== 'function') return;
  const dir = path.resolve(setting);
  const outside = new Set<WatchedEndpoint>();
  let running: RunningTest | undefined;
  let warned = false;

  watchEndpoints((event) => {
    if (event.type === 'failed-run') {
      const t = running?.started.find((s) => s.endpoint.trace === event.trace);
      if (t) t.failedRun = true;
      return;
    }
    if (!running) {
      outside.add(event.endpoint);
      return;
    }
    running.started.push({ endpoint: event.endpoint, index: ++running.count, failedRun: false });
    if (running.started.length > MAX_ENDPOINTS_PER_TEST) {
      // assertClientSurvives() marks the runs that failed: the last of them is the shrunk counterexample.
      const drop = running.started.findIndex((s) => !s.failedRun);
      running.started.splice(drop === -1 ? 0 : drop, 1);
    }
  });

  // A test is judged once Jest is done with it: after its own hooks and every afterEach (ours runs
  // before those registered after it), so at the next test's start or at the end of the file.
  let finished: { test: RunningTest; circus: { errors?: unknown }; name: string; testPath?: string } | undefined;
  const judge = () => {
    const done = finished;
    finished = undefined;
    if (!done || !failed(done.circus)) return;
    try {
      write(dir, done.test, done);
    } catch (error) {
      console.warn(`[fake-aws-iot] FAKE_IOT_ARTIFACTS: cannot write the traces of a failed test into ${dir}: ${(error as Error).message}`);
    }
  };

  g.beforeEach(() => {
    judge();
    for (const e of outside) if (e.closed()) outside.delete(e);
    running = { started: [], count: 0, shared: [...outside].map((endpoint) => ({ endpoint, afterSeq: lastSeq(endpoint.trace) })) };
  });

  g.afterEach(() => {
    const test = running;
    running = undefined;
    if (!test || test.started.length + test.shared.length === 0) return;
    const circus = circusTest();
    if (!circus) {
      if (!warned) console.warn("[fake-aws-iot] FAKE_IOT_ARTIFACTS: cannot tell whether a test failed (that needs Jest's default runner, jest-circus); no traces are written.");
      warned = true;
      return;
    }
    finished = { test, circus, ...currentTest() };
  });
  g.afterAll(judge);
}
