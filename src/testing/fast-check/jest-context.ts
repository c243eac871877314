/**
 * What the Jest test that calls assertClientSurvives() can tell about itself, read best effort: its name
 * and file from `expect.getState()` (public), its deadline and whether it is still running from
 * jest-circus's state (not public, so every read may come back empty and callers fall back).
 */

/** The parts of jest-circus's test and state objects read here. */
interface CircusTest {
  name?: unknown;
  parent?: CircusTest;
  timeout?: unknown;
  startedAt?: unknown;
  /** What failed so far in the test and its hooks. */
  errors?: unknown;
}
interface CircusState {
  currentlyRunningTest?: CircusTest | null;
  testTimeout?: unknown;
}

export interface JestTestContext {
  /** The test's full name, as Jest's `-t` matches it ("describe name test name"). */
  name?: string;
  /** The test file. */
  testPath?: string;
  /** When (epoch ms) Jest's timeout for this test ends. */
  endsAt?: number;
  /** False once Jest has moved past this test (it timed out, or the file was torn down). */
  isCurrent(): boolean;
}

export function circusState(): CircusState | undefined {
  const symbol = Object.getOwnPropertySymbols(globalThis).find((s) => s.description === 'JEST_STATE_SYMBOL');
  const state = symbol ? (globalThis as Record<symbol, unknown>)[symbol] : undefined;
  return state && typeof state === 'object' ? (state as CircusState) : undefined;
}

/** jest-circus names a test by its describe blocks and its own name, without the root block. */
function fullName(test: CircusTest): string | undefined {
  const names: string[] = [];
  for (let t: CircusTest | undefined = test; t?.parent; t = t.parent) {
    if (typeof t.name !== 'string') return undefined;
    names.unshift(t.name);
  }
  return names.length ? names.join(' ') : undefined;
}

const positive = (n: unknown): number | undefined => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined);

export function currentJestTest(): JestTestContext {
  const expectGlobal = (globalThis as { expect?: { getState?: () => { currentTestName?: unknown; testPath?: unknown } } }).expect;
  let fromExpect: { currentTestName?: unknown; testPath?: unknown } | undefined;
  try {
    fromExpect = typeof expectGlobal?.getState === 'function' ? expectGlobal.getState() : undefined;
  } catch {
    fromExpect = undefined;
  }
  const state = circusState();
  const test = state?.currentlyRunningTest ?? undefined;
  // jest-circus uses the test's own timeout, else the file's (testTimeout, --testTimeout), from when the test started.
  const timeout = positive(test?.timeout) ?? positive(state?.testTimeout);
  const startedAt = positive(test?.startedAt);
  const name = typeof fromExpect?.currentTestName === 'string' && fromExpect.currentTestName ? fromExpect.currentTestName : test ? fullName(test) : undefined;
  return {
    name,
    testPath: typeof fromExpect?.testPath === 'string' ? fromExpect.testPath : undefined,
    endsAt: timeout !== undefined && startedAt !== undefined ? startedAt + timeout : undefined,
    isCurrent: () => !state || (state.currentlyRunningTest ?? undefined) === test,
  };
}
