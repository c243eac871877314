/**
 * `fake-aws-iot/fast-check`: arbitraries for chaos and AWS-valid topics and payloads, and a harness that
 * runs a client scenario against fresh endpoints under random chaos, within a time limit that fits the Jest
 * test, and reports a failure so it can be replayed (fast-check seed and path, endpoint seed, the chaos as a
 * script, the trace).
 */
import { relative, sep } from 'node:path';
import * as fc from 'fast-check';
import { classicProfile } from '../../aws/profile';
import { MAX_SEED } from '../../chaos/prng';
import type { ChaosOptions, FaultName, ScriptStep, ScriptableFault } from '../../chaos/types';
import { FakeIotError } from '../../errors';
import { type TimerHandle, realClock } from '../../clock/clock';
import type { FakeIotOptions } from '../../options';
import { type FakeIot, startFakeIot } from '../../start-fake-iot';
import { shellQuote } from '../../shell';
import { formatEntry } from '../../trace/format';
import { announceFailedRun } from '../../trace/watch';
import { type JestTestContext, currentJestTest } from './jest-context';

/** The four misbehaviours the AWS developer guide documents. */
export const AWS_FAULTS = ['duplicateQos0', 'resendWithNewPacketId', 'subscriptionDelay', 'reorder'] as const;

export interface ChaosArbitraryConstraints {
  /** Which knobs may be drawn. Default: the four AWS documents (duplicateQos0, resendWithNewPacketId, subscriptionDelay, reorder). */
  faults?: readonly FaultName[];
  /** Highest probability drawn for a knob. Default 0.5. */
  maxProbability?: number;
  /** Range of delays (subscriptionDelay, resend delay, latency, connackDelay). Default 0..200 ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Longest reorder hold. Default 50 ms. */
  maxHoldMs?: number;
  /** Most duplicate copies. Default 3. */
  maxCopies?: number;
  /** Scope applied to every drawn knob. */
  topics?: string[];
  clients?: (string | RegExp)[];
}

function settings(c: ChaosArbitraryConstraints) {
  const s = {
    faults: c.faults ?? AWS_FAULTS,
    maxProbability: c.maxProbability ?? 0.5,
    minDelayMs: c.minDelayMs ?? 0,
    maxDelayMs: c.maxDelayMs ?? 200,
    maxHoldMs: c.maxHoldMs ?? 50,
    maxCopies: c.maxCopies ?? 3,
  };
  const where = 'chaosArbitrary(constraints)';
  if (!(s.maxProbability > 0 && s.maxProbability <= 1)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: maxProbability must be in (0, 1] (got ${s.maxProbability}).`);
  if (!(s.minDelayMs >= 0 && s.minDelayMs <= s.maxDelayMs)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: need 0 <= minDelayMs <= maxDelayMs (got ${s.minDelayMs} and ${s.maxDelayMs}).`);
  if (!(s.maxHoldMs >= 1) || !(s.maxCopies >= 1)) throw new FakeIotError('INVALID_ARGUMENT', `${where}: maxHoldMs and maxCopies must be at least 1.`);
  return s;
}

/** Probabilities in percent steps, shrinking toward 1 % (milder). */
const probability = (max: number) => fc.integer({ min: 1, max: Math.max(1, Math.round(max * 100)) }).map((p) => p / 100);

/**
 * Chaos options: any subset of the allowed knobs with drawn settings. Shrinks toward fewer knobs, lower
 * probabilities, shorter delays and holds, fewer copies — a shrunk counterexample names what it needs.
 */
export function chaosArbitrary(constraints: ChaosArbitraryConstraints = {}): fc.Arbitrary<ChaosOptions> {
  const s = settings(constraints);
  const scope = { ...(constraints.topics ? { topics: constraints.topics } : {}), ...(constraints.clients ? { clients: constraints.clients } : {}) };
  const delayRange = fc.tuple(fc.integer({ min: s.minDelayMs, max: s.maxDelayMs }), fc.integer({ min: 0, max: s.maxDelayMs - s.minDelayMs }))
    .map(([min, width]) => ({ min, max: Math.min(s.maxDelayMs, min + width) }));
  const knobs: Partial<Record<FaultName, fc.Arbitrary<object>>> = {
    duplicateQos0: fc.record({ probability: probability(s.maxProbability), maxCopies: fc.integer({ min: 1, max: s.maxCopies }) }),
    resendWithNewPacketId: fc.record({ probability: probability(s.maxProbability), delay: delayRange }).map(({ probability: p, delay }) => ({ probability: p, minDelayMs: delay.min, maxDelayMs: delay.max })),
    subscriptionDelay: delayRange.map((d) => ({ minMs: d.min, maxMs: d.max })),
    reorder: fc.record({ probability: probability(s.maxProbability), maxHoldMs: fc.integer({ min: 1, max: s.maxHoldMs }) }),
    latency: delayRange.map((d) => ({ minMs: d.min, maxMs: d.max })),
    dropConnection: probability(Math.min(s.maxProbability, 0.2)).map((p) => ({ probability: p })),
    takeover: probability(Math.min(s.maxProbability, 0.2)).map((p) => ({ probability: p })),
    connackDelay: delayRange.map((d) => ({ minMs: d.min, maxMs: d.max })),
    shadowErrors: fc.record({ probability: probability(s.maxProbability), codes: fc.subarray([429, 500] as const, { minLength: 1 }) }),
    jobsErrors: fc.record({ probability: probability(s.maxProbability), codes: fc.subarray(['RequestThrottled', 'InternalError'] as const, { minLength: 1 }) }),
  };
  // No knob to draw: fast-check's record of no keys would "shrink" {} to {} again, re-running the same case.
  if (s.faults.length === 0) return fc.constant({});
  const chosen: Record<string, fc.Arbitrary<object>> = {};
  for (const f of s.faults) {
    if (!knobs[f]) throw new FakeIotError('INVALID_ARGUMENT', `chaosArbitrary(constraints): unknown fault ${JSON.stringify(f)}.`);
    chosen[f] = knobs[f]!.map((k) => ({ ...k, ...scope }));
  }
  return fc.record(chosen, { requiredKeys: [] }) as fc.Arbitrary<ChaosOptions>;
}

export interface ChaosScriptArbitraryConstraints {
  /** Faults a step may force. Default: the four AWS documents. */
  faults?: readonly ScriptableFault[];
  /** Client ids steps may target (default: any client). */
  clients?: string[];
  /** Topic filters steps may be limited to (default: none). */
  topics?: string[];
  /** Most steps. Default 5. */
  maxSteps?: number;
  /** Latest event a step may name. Default 20. */
  maxNth?: number;
  maxDelayMs?: number;
  maxHoldMs?: number;
  maxCopies?: number;
}

/** Scripts of forced faults. Shrinks toward fewer steps, earlier events and milder parameters. */
export function chaosScriptArbitrary(constraints: ChaosScriptArbitraryConstraints = {}): fc.Arbitrary<ScriptStep[]> {
  const faults = constraints.faults ?? AWS_FAULTS;
  const maxDelayMs = constraints.maxDelayMs ?? 200;
  const step = fc.record(
    {
      fault: fc.constantFrom(...faults),
      nth: fc.integer({ min: 1, max: constraints.maxNth ?? 20 }),
      client: constraints.clients?.length ? fc.constantFrom(...constraints.clients) : fc.constant(undefined),
      topic: constraints.topics?.length ? fc.option(fc.constantFrom(...constraints.topics), { nil: undefined }) : fc.constant(undefined),
      copies: fc.integer({ min: 1, max: constraints.maxCopies ?? 3 }),
      delayMs: fc.integer({ min: 0, max: maxDelayMs }),
      holdMs: fc.integer({ min: 1, max: constraints.maxHoldMs ?? 50 }),
      code: fc.constantFrom(429 as const, 500 as const),
    },
  ).map(({ fault, nth, client, topic, copies, delayMs, holdMs, code }) => {
    const s: ScriptStep = { fault, nth };
    if (client !== undefined) s.client = client;
    if (topic !== undefined) s.topic = topic;
    if (fault === 'duplicateQos0') s.copies = copies;
    if (fault === 'resendWithNewPacketId' || fault === 'subscriptionDelay' || fault === 'connackDelay') s.delayMs = fault === 'resendWithNewPacketId' ? delayMs : Math.max(1, delayMs);
    if (fault === 'reorder') s.holdMs = holdMs;
    if (fault === 'shadowErrors') s.code = code;
    // The same draw as shadowErrors' (no new draw, so existing seeds keep their scripts): 429 throttles, 500 fails.
    if (fault === 'jobsErrors') s.code = code === 429 ? 'RequestThrottled' : 'InternalError';
    return s;
  });
  return fc.array(step, { maxLength: constraints.maxSteps ?? 5 });
}

/** Topic names AWS accepts: 1..8 levels of [A-Za-z0-9_-], no wildcards, no `$`, within 256 bytes. */
export function topicArbitrary(constraints: { maxLevels?: number; maxLevelLength?: number } = {}): fc.Arbitrary<string> {
  const maxLevels = Math.min(constraints.maxLevels ?? 4, classicProfile.limits.maxTopicSlashes + 1);
  const level = fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{1,${Math.min(constraints.maxLevelLength ?? 12, 31)}}$`));
  return fc.array(level, { minLength: 1, maxLength: maxLevels }).map((levels) => levels.join('/'));
}

/** Payloads within AWS's 128 KB limit (default up to 1 KB). */
export function payloadArbitrary(constraints: { maxBytes?: number } = {}): fc.Arbitrary<Buffer> {
  const maxBytes = constraints.maxBytes ?? 1024;
  if (!(maxBytes >= 0 && maxBytes <= classicProfile.limits.maxPayloadBytes)) {
    throw new FakeIotError('INVALID_ARGUMENT', `payloadArbitrary: maxBytes must be within AWS's limit of ${classicProfile.limits.maxPayloadBytes} bytes (got ${maxBytes}).`);
  }
  return fc.uint8Array({ maxLength: maxBytes }).map((a) => Buffer.from(a));
}

export interface ScenarioContext {
  /** A fresh endpoint with the drawn chaos. */
  iot: FakeIot;
  /** Its seed. */
  seed: number;
  /** The drawn chaos options. */
  chaos: ChaosOptions;
  /**
   * Aborted when the time limit (or the end of the Jest test) stops this run; the endpoint is closed right
   * after, which rejects pending `iot.trace.waitFor()` calls. Stop anything else the scenario waits on here.
   */
  signal: AbortSignal;
}

export interface SurvivalOptions {
  /** The scenario: drive your client against `iot`; throw (or fail an expect) when it misbehaves. */
  scenario: (ctx: ScenarioContext) => Promise<void>;
  /** Chaos to draw. Default chaosArbitrary(): the four AWS faults. */
  chaos?: fc.Arbitrary<ChaosOptions>;
  /** Other endpoint options for every run (not seed or chaos). */
  endpoint?: Omit<FakeIotOptions, 'seed' | 'chaos'>;
  /** Runs. Default 20; the FAKE_IOT_RUNS environment variable overrides it (nightly jobs). */
  numRuns?: number;
  /** fast-check seed. Default random; FAKE_IOT_SEED=<seed>[:<path>] overrides it (replays a failure). */
  seed?: number;
  /** fast-check path of a counterexample, to replay exactly that run. */
  path?: string;
  /**
   * Milliseconds for the whole property: runs, shrinking, and stopping the run in progress when time is up.
   * Default: 80% of what is left of the Jest test's timeout, and at least 1 s less (4 s of Jest's default
   * 5 s); 4 s when that timeout can't be read.
   */
  timeLimitMs?: number;
  /** Reject (code PROPERTY_TIME_LIMIT) when the time limit ends the runs early, instead of passing with the runs that finished. */
  failOnTimeLimit?: boolean;
  /** The property's name, which FAKE_IOT_PROPERTY selects and the replay line prints. Default: the Jest test's full name. */
  name?: string;
}

export interface SurvivalReport {
  /** Runs that finished. */
  numRuns: number;
  /** The fast-check seed used. */
  seed: number;
  /** Set when the time limit ended the runs before `numRuns` of the options: the property passed with fewer. */
  timeLimitReached?: true;
}

/** What a failed assertClientSurvives() attaches to its error. */
export interface SurvivalFailure {
  /** fast-check seed and counterexample path: FAKE_IOT_SEED=`${fcSeed}:${path}` replays the failing run. */
  fcSeed: number;
  path: string;
  /** The property's name (the `name` option, else the Jest test's name), if known. */
  property?: string;
  /** Shell line that replays the failing run, and only this property. */
  replay: string;
  /** The failing run's endpoint seed and chaos, and that chaos as a replayable script. */
  endpointSeed: number;
  chaos: ChaosOptions;
  script: ScriptStep[];
  /** True when the time limit stopped shrinking: `chaos` is the smallest counterexample found by then. */
  timeLimitReached: boolean;
  /** The end of the failing run's trace, formatted. */
  trace: string;
  /** What the scenario threw. */
  cause: unknown;
}

interface RunRecord {
  script: ScriptStep[];
  trace: string;
}

interface Plan {
  seed?: number;
  path?: string;
  numRuns: number;
  /** Where a replayed path came from, for the error when it can't be replayed. */
  replaying?: string;
}

/**
 * FAKE_IOT_SEED applies to every property, or, with FAKE_IOT_PROPERTY set, only to the property of that name
 * (the others run as if it were unset). FAKE_IOT_RUNS applies to every property.
 */
function fromEnvironment(options: SurvivalOptions, name: string | undefined): Plan {
  const env = process.env;
  let seed = options.seed;
  let path = options.path;
  let replaying = path ? `seed ${String(seed)} and path '${path}'` : undefined;
  const scope = env.FAKE_IOT_PROPERTY;
  if (env.FAKE_IOT_SEED && (!scope || scope === name)) {
    const m = /^(-?\d+)(?::([\d:]+))?$/.exec(env.FAKE_IOT_SEED.trim());
    if (!m) throw new FakeIotError('INVALID_ARGUMENT', `FAKE_IOT_SEED must be <seed> or <seed>:<path>, as a failure printed it (got ${JSON.stringify(env.FAKE_IOT_SEED)}).`);
    seed = Number(m[1]);
    path = m[2];
    replaying = path ? `FAKE_IOT_SEED=${env.FAKE_IOT_SEED.trim()}${scope ? '' : ' (FAKE_IOT_PROPERTY is not set, so it applies to every property)'}` : undefined;
  }
  let numRuns = options.numRuns ?? 20;
  if (env.FAKE_IOT_RUNS) {
    numRuns = Number(env.FAKE_IOT_RUNS);
    if (!Number.isInteger(numRuns) || numRuns < 1) throw new FakeIotError('INVALID_ARGUMENT', `FAKE_IOT_RUNS must be a whole number >= 1 (got ${JSON.stringify(env.FAKE_IOT_RUNS)}).`);
  }
  return { seed, path, numRuns, replaying };
}

function checkOptions(options: SurvivalOptions): void {
  if (typeof options?.scenario !== 'function') throw new FakeIotError('INVALID_ARGUMENT', 'assertClientSurvives({ scenario }): scenario must be an async function ({ iot, seed, chaos, signal }) => { ... }.');
  const { timeLimitMs, failOnTimeLimit, name } = options;
  if (timeLimitMs !== undefined && !(typeof timeLimitMs === 'number' && Number.isFinite(timeLimitMs) && timeLimitMs > 0)) {
    throw new FakeIotError('INVALID_ARGUMENT', `assertClientSurvives({ timeLimitMs }): timeLimitMs must be a number of milliseconds > 0 (got ${String(timeLimitMs)}).`);
  }
  if (failOnTimeLimit !== undefined && typeof failOnTimeLimit !== 'boolean') throw new FakeIotError('INVALID_ARGUMENT', `assertClientSurvives({ failOnTimeLimit }): failOnTimeLimit must be true or false (got ${String(failOnTimeLimit)}).`);
  if (name !== undefined && !(typeof name === 'string' && name.length > 0)) throw new FakeIotError('INVALID_ARGUMENT', `assertClientSurvives({ name }): name must be a non-empty string (got ${JSON.stringify(name)}).`);
}

/** Used when Jest's timeout for the test can't be read: fits Jest's default of 5 s. */
const DEFAULT_TIME_LIMIT_MS = 4000;

/** 80% of the time the test has left, and at least 1 s less; half of it when less than 2 s are left. */
function defaultTimeLimit(test: JestTestContext, now: number): number {
  if (test.endsAt === undefined) return DEFAULT_TIME_LIMIT_MS;
  const left = test.endsAt - now;
  return Math.max(1, left >= 2000 ? Math.min(left * 0.8, left - 1000) : left / 2);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `FAKE_IOT_SEED=... FAKE_IOT_PROPERTY=... npx jest <file> -t '^<test name>$'`, as far as the names are known. */
function replayLine(fcSeed: number, path: string, property: string | undefined, test: JestTestContext): string {
  const vars = [`FAKE_IOT_SEED=${fcSeed}${path ? `:${path}` : ''}`, ...(property ? [`FAKE_IOT_PROPERTY=${shellQuote(property)}`] : [])].join(' ');
  if (!test.name) return vars;
  const file = test.testPath ? ` ${shellQuote(relative(process.cwd(), test.testPath).split(sep).join('/'))}` : '';
  return `${vars} npx jest${file} -t ${shellQuote(`^${escapeRegExp(test.name)}$`)}`;
}

const STOPPED = Symbol('stopped');

/** Resolves once `stop()` holds, checked at `deadline` and every 250 ms before it (the Jest test may end first). */
function whenStopped(deadline: number, stop: () => boolean): { promise: Promise<typeof STOPPED>; cancel(): void } {
  let timer: TimerHandle | undefined;
  const promise = new Promise<typeof STOPPED>((resolve) => {
    const check = () => {
      if (stop()) return resolve(STOPPED);
      timer = realClock.setTimeout(check, Math.max(1, Math.min(250, deadline - realClock.now())));
    };
    check();
  });
  return { promise, cancel: () => timer?.cancel() };
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: TimerHandle | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = realClock.setTimeout(resolve, ms);
  });
  return { promise, cancel: () => timer?.cancel() };
}

/**
 * Runs `scenario` against fresh endpoints with drawn chaos, within a time limit. Resolves when it survives
 * every run (or every run that fit in the time limit); rejects (code CLIENT_DID_NOT_SURVIVE) with the shrunk
 * counterexample, how to replay it, and its trace.
 */
export async function assertClientSurvives(options: SurvivalOptions): Promise<SurvivalReport> {
  checkOptions(options);
  const running = currentJestTest();
  const startedAt = realClock.now();
  const name = options.name ?? running.name;
  const label = name ? `property ${JSON.stringify(name)}` : 'assertClientSurvives()';
  const plan = fromEnvironment(options, name);
  const limitMs = options.timeLimitMs ?? defaultTimeLimit(running, startedAt);
  // Runs stop this much before the limit, so stopping the run in progress fits in it too.
  const windDownMs = Math.min(500, limitMs / 4);
  const deadline = startedAt + limitMs - windDownMs;
  const outOfTime = () => realClock.now() >= deadline || !running.isCurrent();

  const chaosArb = options.chaos ?? chaosArbitrary();
  const records = new Map<string, RunRecord>();
  const key = (chaos: ChaosOptions, endpointSeed: number) => JSON.stringify([chaos, endpointSeed]);
  let setupError: unknown;
  let unfinished = 0; // stopped runs whose scenario was still going after its endpoint closed

  // A run that can't start or finish in time ends the property: fast-check treats an interrupting
  // precondition failure as "stop here", neither a pass nor a counterexample.
  const property = fc.asyncProperty(chaosArb, fc.noShrink(fc.integer({ min: 0, max: MAX_SEED })), async (chaos, endpointSeed) => {
    if (outOfTime()) throw new fc.PreconditionFailure(true);
    let iot: FakeIot;
    try {
      iot = await startFakeIot({ ...options.endpoint, seed: endpointSeed, chaos });
    } catch (error) {
      setupError = error;
      throw new fc.PreconditionFailure(true);
    }
    const controller = new AbortController();
    const stopped = whenStopped(deadline, outOfTime);
    const scenario = (async () => options.scenario({ iot, seed: endpointSeed, chaos, signal: controller.signal }))();
    try {
      const outcome = await Promise.race([scenario.then(() => undefined, (error: unknown) => ({ error })), stopped.promise]);
      if (outcome === STOPPED) {
        controller.abort(new FakeIotError('PROPERTY_TIME_LIMIT', `${label}: the time limit stopped this run.`));
        await iot.close();
        const grace = delay(windDownMs);
        const finished = await Promise.race([scenario.then(() => true, () => true), grace.promise.then(() => false)]);
        grace.cancel();
        if (!finished) unfinished++;
        throw new fc.PreconditionFailure(true);
      }
      if (outcome) {
        const entries = iot.trace.entries;
        const t0 = entries[0]?.at ?? 0;
        records.set(key(chaos, endpointSeed), { script: iot.chaos.toScript(), trace: entries.slice(-40).map((e) => `    ${formatEntry(e, t0)}`).join('\n') });
        announceFailedRun(iot.trace); // FAKE_IOT_ARTIFACTS keeps this run's trace
        throw outcome.error;
      }
    } finally {
      stopped.cancel();
      await iot.close();
    }
  });

  let details: fc.RunDetails<[ChaosOptions, number]>;
  try {
    details = await fc.check(property, { numRuns: plan.numRuns, ...(plan.seed !== undefined ? { seed: plan.seed } : {}), ...(plan.path ? { path: plan.path } : {}) });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (plan.replaying) {
      throw new FakeIotError('PROPERTY_REPLAY_FAILED', `${label}: fast-check could not replay ${plan.replaying}: ${why}. The path fits only the property that printed it, as that property was then; its replay line sets FAKE_IOT_PROPERTY to scope it.`, { cause: error });
    }
    throw new FakeIotError('PROPERTY_ERROR', `${label}: fast-check failed outside the scenario: ${why}`, { cause: error });
  }
  if (setupError !== undefined) throw setupError;

  const stillRunning = unfinished ? ` (${unfinished} stopped run(s) did not finish ${Math.round(windDownMs)} ms after their endpoint closed: end the client on ctx.signal)` : '';
  const timeUp = `the time limit (${Math.round(limitMs)} ms${options.timeLimitMs === undefined ? ', from the Jest test timeout' : ''}) ended it`;
  if (!details.failed) {
    if (!details.interrupted) return { numRuns: details.numRuns, seed: details.seed };
    const note = `${label}: ${timeUp} after ${details.numRuns} of ${plan.numRuns} run(s), with no failure${stillRunning}.`;
    if (options.failOnTimeLimit) throw new FakeIotError('PROPERTY_TIME_LIMIT', `${note} Raise the test's timeout, or lower numRuns.`);
    if (running.isCurrent()) console.warn(`[fake-aws-iot] ${note} It passes with those runs; raise the test's timeout for all of them.`);
    return { numRuns: details.numRuns, seed: details.seed, timeLimitReached: true };
  }
  if (!details.counterexample) {
    if (details.interrupted) throw new FakeIotError('PROPERTY_TIME_LIMIT', `${label}: ${timeUp} before any run finished${stillRunning}. Raise the test's timeout, or shorten the scenario.`);
    throw new FakeIotError('PROPERTY_ERROR', `${label}: fast-check ended without a counterexample after skipping ${details.numSkips} run(s).`);
  }

  const [chaos, endpointSeed] = details.counterexample;
  const record = records.get(key(chaos, endpointSeed)) ?? { script: [], trace: '    (not recorded)' };
  const cause = details.errorInstance;
  const path = details.counterexamplePath ?? '';
  const failure: SurvivalFailure = {
    fcSeed: details.seed,
    path,
    ...(name ? { property: name } : {}),
    replay: replayLine(details.seed, path, name, running),
    endpointSeed,
    chaos,
    script: record.script,
    timeLimitReached: details.interrupted,
    trace: record.trace,
    cause,
  };
  const why = cause instanceof Error ? cause.message : String(cause);
  const error = new FakeIotError(
    'CLIENT_DID_NOT_SURVIVE',
    [
      `the client did not survive chaos: failed after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s).`,
      ...(details.interrupted ? [`  shrinking stopped: ${timeUp}${stillRunning}; below is the smallest counterexample found by then.`] : []),
      `  scenario error: ${why.split('\n').join('\n    ')}`,
      `  chaos (shrunk): ${JSON.stringify(chaos)}`,
      `  endpoint seed: ${endpointSeed}`,
      `  as a script: startFakeIot({ seed: ${endpointSeed}, chaos: { script: ${JSON.stringify(record.script)} } })`,
      `  replay this run: ${failure.replay}`,
      `    (or assertClientSurvives({ ..., seed: ${failure.fcSeed}, path: '${failure.path}' }))`,
      `  trace of the failing run (last 40 entries):`,
      record.trace,
    ].join('\n'),
    { cause },
  );
  (error as FakeIotError & { failure: SurvivalFailure }).failure = failure;
  throw error;
}
