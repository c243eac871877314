/**
 * A failure's replay line replays that property only: it sets FAKE_IOT_PROPERTY next to FAKE_IOT_SEED, and
 * other properties ignore the seed. Whatever fast-check throws reaches the test as a FakeIotError.
 */
import fc from 'fast-check';
import { FakeIotError } from 'fake-aws-iot';
import { type SurvivalFailure, assertClientSurvives } from 'fake-aws-iot/fast-check';

const env = { ...process.env };
afterEach(() => {
  process.env = { ...env };
});

type Failed = FakeIotError & { failure: SurvivalFailure };
const failureOf = async (run: Promise<unknown>) => (await run.then(() => undefined, (e: unknown) => e)) as Failed;

/** Fails for endpoint seeds divisible by 3; its chaos shrinks, so the failure's path has shrink steps. */
const failsOnSeedsDivisibleBy3 = (endpointSeeds: number[] = []) => async ({ seed }: { seed: number }) => {
  endpointSeeds.push(seed);
  if (seed % 3 === 0) throw new Error(`endpoint seed ${seed} is divisible by 3`);
};
/** A passing property whose single-value chaos can't shrink: a path with shrink steps doesn't fit it. */
const otherProperty = { seed: 9, numRuns: 3, chaos: fc.constant({}), scenario: async () => undefined };

/** The VAR=value assignments at the start of a replay line (values single-quoted when they need it). */
function variables(line: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of line.matchAll(/(FAKE_IOT_\w+)=('(?:[^']|'\\'')*'|\S+)/g)) {
    vars[m[1]!] = m[2]!.startsWith("'") ? m[2]!.slice(1, -1).replace(/'\\''/g, "'") : m[2]!;
  }
  return vars;
}

describe('replaying a failure', () => {
  let replay: Record<string, string> = {};
  let failed: Failed;

  test("the failing property (it's meant to fail: its replay line is used below)", async () => {
    failed = await failureOf(assertClientSurvives({ seed: 77, numRuns: 100, scenario: failsOnSeedsDivisibleBy3() }));
    expect(failed.code).toBe('CLIENT_DID_NOT_SURVIVE');
    const line = /replay this run: (.*)/.exec(failed.message)![1]!;
    replay = variables(line);
    expect(line).toBe(failed.failure.replay);
    expect(replay).toEqual({ FAKE_IOT_SEED: `${failed.failure.fcSeed}:${failed.failure.path}`, FAKE_IOT_PROPERTY: expect.stringContaining("it's meant to fail") });
    expect(failed.failure.path.split(':').length).toBeGreaterThan(1);
  });

  test('another property in the same file ignores the replay line of the failing one', async () => {
    expect(replay.FAKE_IOT_SEED).toMatch(/^\d+:\d+(:\d+)+$/);
    Object.assign(process.env, replay);
    await expect(assertClientSurvives(otherProperty)).resolves.toEqual({ numRuns: 3, seed: 9 });
  });

  test('the property the replay line names replays exactly the failing run', async () => {
    Object.assign(process.env, replay);
    const replayed: number[] = [];
    const again = await failureOf(assertClientSurvives({ name: failed.failure.property, scenario: failsOnSeedsDivisibleBy3(replayed) }));
    expect(again.code).toBe('CLIENT_DID_NOT_SURVIVE');
    expect(replayed).toEqual([failed.failure.endpointSeed]);
    expect(again.failure.chaos).toEqual(failed.failure.chaos);
  });
});

test("the replay line runs only this test: FAKE_IOT_PROPERTY (shell-quoted), the file, and -t '^<name>$'", async () => {
  const error = await failureOf(assertClientSurvives({ seed: 77, numRuns: 100, scenario: failsOnSeedsDivisibleBy3() }));
  const name = expect.getState().currentTestName!;
  expect(name).toContain("'");
  const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const pattern = `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  expect(new RegExp(pattern).test(name)).toBe(true);
  expect(error.failure.property).toBe(name);
  expect(error.failure.replay).toBe(
    `FAKE_IOT_SEED=${error.failure.fcSeed}:${error.failure.path} FAKE_IOT_PROPERTY=${quoted(name)} npx jest __tests__/testing/property-replay.test.ts -t ${quoted(pattern)}`,
  );
});

test('the name option names the property in FAKE_IOT_PROPERTY; -t still names the Jest test', async () => {
  const error = await failureOf(assertClientSurvives({ name: 'commands survive', seed: 77, numRuns: 100, scenario: failsOnSeedsDivisibleBy3() }));
  expect(error.failure.replay).toMatch(/ FAKE_IOT_PROPERTY='commands survive' npx jest \S+ -t '\^the name option names the property/);
});

test('FAKE_IOT_SEED without FAKE_IOT_PROPERTY still applies to every property; a path that does not fit rejects with PROPERTY_REPLAY_FAILED', async () => {
  const failed = await failureOf(assertClientSurvives({ seed: 77, numRuns: 100, scenario: failsOnSeedsDivisibleBy3() }));
  process.env.FAKE_IOT_SEED = `${failed.failure.fcSeed}:${failed.failure.path}`;
  const error = (await assertClientSurvives(otherProperty).catch((e: unknown) => e)) as FakeIotError;
  expect(error).toBeInstanceOf(FakeIotError);
  expect(error.code).toBe('PROPERTY_REPLAY_FAILED');
  expect(error.message).toMatch(/could not replay FAKE_IOT_SEED=\d+:[\d:]+ \(FAKE_IOT_PROPERTY is not set, so it applies to every property\): Unable to replay, got wrong path/);
  expect((error.cause as Error).message).toMatch(/^Unable to replay/);
});

test('the seed and path options that do not fit the property reject with PROPERTY_REPLAY_FAILED', async () => {
  await expect(assertClientSurvives({ ...otherProperty, path: '0:5:5' })).rejects.toMatchObject({
    code: 'PROPERTY_REPLAY_FAILED',
    message: expect.stringMatching(/could not replay seed 9 and path '0:5:5'/),
  });
});

test('an arbitrary that throws rejects with PROPERTY_ERROR, and bad endpoint options with their own error, not as a counterexample', async () => {
  const broken = fc.constant(0).map((): never => {
    throw new Error('this arbitrary is broken');
  });
  await expect(assertClientSurvives({ seed: 1, chaos: broken, scenario: async () => undefined })).rejects.toMatchObject({
    code: 'PROPERTY_ERROR',
    message: expect.stringMatching(/fast-check failed outside the scenario: this arbitrary is broken/),
  });
  await expect(assertClientSurvives({ seed: 1, endpoint: { port: -1 }, scenario: async () => undefined })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
});
