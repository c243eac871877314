/**
 * `fake-aws-iot/fast-check`: arbitraries for chaos and AWS-valid topics and payloads, and a harness that
 * runs a client scenario against fresh endpoints under random chaos and reports a failure so it can be
 * replayed (fast-check seed and path, endpoint seed, the chaos as a script, the trace).
 */
import * as fc from 'fast-check';
import { classicProfile } from '../../aws/profile';
import { MAX_SEED } from '../../chaos/prng';
import type { ChaosOptions, FaultName, ScriptStep, ScriptableFault } from '../../chaos/types';
import { FakeIotError } from '../../errors';
import type { FakeIotOptions } from '../../options';
import { type FakeIot, startFakeIot } from '../../start-fake-iot';
import { formatEntry } from '../../trace/format';

/** The four misbehaviours the AWS developer guide documents. */
export const AWS_FAULTS = ['duplicateQos0', 'resendWithNewPacketId', 'subscriptionDelay', 'reorder'] as const;

export interface ChaosArbitraryConstraints {
  /** Which knobs may be drawn. Default: the four AWS documents (duplicateQos0, resendWithNewPacketId, subscriptionDelay, reorder). */
  faults?: readonly FaultName[];
  /** Highest probability drawn for a knob. Default 0.5. */
  maxProbability?: number;
  /** Range of delays (subscriptionDelay, resend delay, latency). Default 0..200 ms. */
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
  };
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
    },
  ).map(({ fault, nth, client, topic, copies, delayMs, holdMs }) => {
    const s: ScriptStep = { fault, nth };
    if (client !== undefined) s.client = client;
    if (topic !== undefined) s.topic = topic;
    if (fault === 'duplicateQos0') s.copies = copies;
    if (fault === 'resendWithNewPacketId' || fault === 'subscriptionDelay') s.delayMs = fault === 'subscriptionDelay' ? Math.max(1, delayMs) : delayMs;
    if (fault === 'reorder') s.holdMs = holdMs;
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
}

export interface SurvivalReport {
  numRuns: number;
  /** The fast-check seed used. */
  seed: number;
}

/** What a failed assertClientSurvives() attaches to its error. */
export interface SurvivalFailure {
  /** fast-check seed and counterexample path: FAKE_IOT_SEED=`${fcSeed}:${path}` replays the failing run. */
  fcSeed: number;
  path: string;
  /** The failing run's endpoint seed and chaos, and that chaos as a replayable script. */
  endpointSeed: number;
  chaos: ChaosOptions;
  script: ScriptStep[];
  /** The end of the failing run's trace, formatted. */
  trace: string;
  /** What the scenario threw. */
  cause: unknown;
}

interface RunRecord {
  script: ScriptStep[];
  trace: string;
}

function fromEnvironment(options: SurvivalOptions): { seed?: number; path?: string; numRuns: number } {
  const env = process.env;
  let seed = options.seed;
  let path = options.path;
  if (env.FAKE_IOT_SEED) {
    const m = /^(-?\d+)(?::([\d:]+))?$/.exec(env.FAKE_IOT_SEED.trim());
    if (!m) throw new FakeIotError('INVALID_ARGUMENT', `FAKE_IOT_SEED must be <seed> or <seed>:<path>, as a failure printed it (got ${JSON.stringify(env.FAKE_IOT_SEED)}).`);
    seed = Number(m[1]);
    path = m[2];
  }
  let numRuns = options.numRuns ?? 20;
  if (env.FAKE_IOT_RUNS) {
    numRuns = Number(env.FAKE_IOT_RUNS);
    if (!Number.isInteger(numRuns) || numRuns < 1) throw new FakeIotError('INVALID_ARGUMENT', `FAKE_IOT_RUNS must be a whole number >= 1 (got ${JSON.stringify(env.FAKE_IOT_RUNS)}).`);
  }
  return { seed, path, numRuns };
}

/**
 * Runs `scenario` against fresh endpoints with drawn chaos. Resolves when it survives every run; rejects
 * (code CLIENT_DID_NOT_SURVIVE) with the shrunk counterexample, how to replay it, and its trace.
 */
export async function assertClientSurvives(options: SurvivalOptions): Promise<SurvivalReport> {
  if (typeof options?.scenario !== 'function') throw new FakeIotError('INVALID_ARGUMENT', 'assertClientSurvives({ scenario }): scenario must be an async function ({ iot, seed, chaos }) => { ... }.');
  const { seed, path, numRuns } = fromEnvironment(options);
  const chaosArb = options.chaos ?? chaosArbitrary();
  const records = new Map<string, RunRecord>();
  const key = (chaos: ChaosOptions, endpointSeed: number) => JSON.stringify([chaos, endpointSeed]);

  const property = fc.asyncProperty(chaosArb, fc.noShrink(fc.integer({ min: 0, max: MAX_SEED })), async (chaos, endpointSeed) => {
    const iot = await startFakeIot({ ...options.endpoint, seed: endpointSeed, chaos });
    try {
      await options.scenario({ iot, seed: endpointSeed, chaos });
    } catch (error) {
      const entries = iot.trace.entries;
      const t0 = entries[0]?.at ?? 0;
      records.set(key(chaos, endpointSeed), { script: iot.chaos.toScript(), trace: entries.slice(-40).map((e) => `    ${formatEntry(e, t0)}`).join('\n') });
      throw error;
    } finally {
      await iot.close();
    }
  });

  const details = await fc.check(property, { numRuns, ...(seed !== undefined ? { seed } : {}), ...(path ? { path } : {}) });
  if (!details.failed) return { numRuns: details.numRuns, seed: details.seed };

  const [chaos, endpointSeed] = details.counterexample!;
  const record = records.get(key(chaos, endpointSeed)) ?? { script: [], trace: '    (not recorded)' };
  const cause = details.errorInstance;
  const failure: SurvivalFailure = {
    fcSeed: details.seed,
    path: details.counterexamplePath ?? '',
    endpointSeed,
    chaos,
    script: record.script,
    trace: record.trace,
    cause,
  };
  const why = cause instanceof Error ? cause.message : String(cause);
  const error = new FakeIotError(
    'CLIENT_DID_NOT_SURVIVE',
    [
      `the client did not survive chaos: failed after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s).`,
      `  scenario error: ${why.split('\n').join('\n    ')}`,
      `  chaos (shrunk): ${JSON.stringify(chaos)}`,
      `  endpoint seed: ${endpointSeed}`,
      `  as a script: startFakeIot({ seed: ${endpointSeed}, chaos: { script: ${JSON.stringify(record.script)} } })`,
      `  replay this run: FAKE_IOT_SEED=${failure.fcSeed}:${failure.path} (or assertClientSurvives({ ..., seed: ${failure.fcSeed}, path: '${failure.path}' }))`,
      `  trace of the failing run (last 40 entries):`,
      record.trace,
    ].join('\n'),
    { cause },
  );
  (error as FakeIotError & { failure: SurvivalFailure }).failure = failure;
  throw error;
}
