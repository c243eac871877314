import fc from 'fast-check';
import { type ChaosOptions, classicProfile, startFakeIot } from 'fake-aws-iot';
import { assertClientSurvives, chaosArbitrary, chaosScriptArbitrary, payloadArbitrary, topicArbitrary } from 'fake-aws-iot/fast-check';
import { checkTopicName } from '../../src/topics/validate';

describe('fake-aws-iot/fast-check arbitraries', () => {
  test('topicArbitrary() draws topic names AWS accepts', () => {
    fc.assert(fc.property(topicArbitrary({ maxLevels: 8 }), (t) => checkTopicName(t, classicProfile.limits) === undefined && !t.startsWith('$')), { seed: 1, numRuns: 300 });
  });

  test('payloadArbitrary() stays within the payload limit, and refuses a larger one', () => {
    fc.assert(fc.property(payloadArbitrary({ maxBytes: 2048 }), (p) => Buffer.isBuffer(p) && p.length <= 2048), { seed: 2, numRuns: 100 });
    expect(() => payloadArbitrary({ maxBytes: 200_000 })).toThrow(/within AWS's limit of 131072 bytes/);
  });

  test('chaosArbitrary() and chaosScriptArbitrary() draw options that startFakeIot() accepts', async () => {
    const chaos = fc.sample(chaosArbitrary({ faults: ['duplicateQos0', 'resendWithNewPacketId', 'subscriptionDelay', 'reorder', 'latency', 'dropConnection', 'takeover'] }), { seed: 3, numRuns: 50 });
    const scripts = fc.sample(chaosScriptArbitrary({ clients: ['dev-1'], topics: ['cmd/#'] }), { seed: 3, numRuns: 50 });
    for (const options of [...chaos.map((c) => ({ chaos: c })), ...scripts.map((script) => ({ chaos: { script } }))]) {
      const iot = await startFakeIot(options);
      await iot.close();
    }
    expect(new Set(chaos.flatMap((c) => Object.keys(c))).size).toBe(7);
  });

  describe('chaosArbitrary() shrinks toward fewer and milder faults', () => {
    type Knobs = Record<string, Record<string, unknown>>;
    /** `c` has no knob `than` lacks, and no number above `than`'s (probabilities, delays, holds, copies). */
    const noHarsher = (c: Knobs, than: Knobs) =>
      Object.entries(c).every(([knob, settings]) => knob in than && Object.entries(settings).every(([k, v]) => typeof v !== 'number' || v <= (than[knob]![k] as number)));

    /**
     * Runs a property that fails on `fails` and watches the shrinking: fast-check tries the shrinks of the
     * latest failing value, so each value tried after a failure is compared with that failure.
     */
    function shrinking(fails: (c: ChaosOptions) => boolean, seed: number) {
      let latest: Knobs | undefined;
      let first: Knobs | undefined;
      let tried = 0;
      const harsher: { tried: Knobs; from: Knobs }[] = [];
      const result = fc.check(
        fc.property(chaosArbitrary(), (c) => {
          const knobs = c as unknown as Knobs;
          if (latest) {
            tried++;
            if (!noHarsher(knobs, latest)) harsher.push({ tried: knobs, from: latest });
          }
          if (!fails(c)) return true;
          first ??= knobs;
          latest = knobs;
          return false;
        }),
        { seed, numRuns: 500 },
      );
      expect(result.failed).toBe(true);
      expect(tried).toBeGreaterThan(0);
      expect(harsher).toEqual([]);
      const shrunk = result.counterexample![0];
      expect(fails(shrunk)).toBe(true);
      expect(noHarsher(shrunk as unknown as Knobs, first!)).toBe(true);
      expect(shrunk).not.toEqual(first);
      return shrunk;
    }

    test('a failure that needs one knob shrinks to that knob alone, never trying a harsher value', () => {
      const shrunk = shrinking((c) => Boolean(c.reorder && c.reorder.probability >= 0.2), 4);
      expect(Object.keys(shrunk)).toEqual(['reorder']);
    });

    test.each([5, 6, 7, 8, 9])('a failure that needs every knob: shrinking each knob\'s settings never tries a harsher value (seed %i)', (seed) => {
      shrinking(
        (c) =>
          (c.reorder?.probability ?? 0) >= 0.2 && (c.duplicateQos0?.maxCopies ?? 0) >= 2 &&
          (c.subscriptionDelay?.maxMs ?? 0) >= 100 && (c.resendWithNewPacketId?.maxDelayMs ?? 0) >= 100,
        seed,
      );
    });
  });

  test('chaosArbitrary({ faults: [] }) draws {} only, and a failure at {} is not run a second time as its own shrink', () => {
    let runs = 0;
    const result = fc.check(fc.property(chaosArbitrary({ faults: [] }), (c) => {
      runs++;
      return Object.keys(c).length > 0;
    }), { seed: 1, numRuns: 5 });
    expect(result.counterexample).toEqual([{}]);
    expect(runs).toBe(1);
  });

  test('constraints are checked', () => {
    expect(() => chaosArbitrary({ maxProbability: 2 })).toThrow(/maxProbability must be in \(0, 1\]/);
    expect(() => chaosArbitrary({ minDelayMs: 50, maxDelayMs: 10 })).toThrow(/minDelayMs <= maxDelayMs/);
    expect(() => chaosArbitrary({ faults: ['explode' as never] })).toThrow(/unknown fault "explode"/);
  });
});

describe('assertClientSurvives() and the CI environment variables', () => {
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
  });
  const quiet = async () => undefined;

  test('FAKE_IOT_RUNS sets the number of runs; FAKE_IOT_SEED the fast-check seed', async () => {
    process.env.FAKE_IOT_RUNS = '3';
    process.env.FAKE_IOT_SEED = '12345';
    await expect(assertClientSurvives({ scenario: quiet, numRuns: 50, seed: 1 })).resolves.toEqual({ numRuns: 3, seed: 12345 });
  });

  test('FAKE_IOT_SEED=<seed>:<path> replays exactly the failing run', async () => {
    const seen: number[] = [];
    const failing = (endpointSeeds: number[]) => async ({ seed }: { seed: number }) => {
      endpointSeeds.push(seed);
      if (seed % 3 === 0) throw new Error('seed divisible by 3');
    };
    const error = (await assertClientSurvives({ scenario: failing(seen), numRuns: 100, seed: 77 }).catch((e: unknown) => e)) as Error & { failure: { fcSeed: number; path: string; endpointSeed: number } };
    expect(error.message).toMatch(/seed divisible by 3/);
    process.env.FAKE_IOT_SEED = `${error.failure.fcSeed}:${error.failure.path}`;
    const replayed: number[] = [];
    await expect(assertClientSurvives({ scenario: failing(replayed) })).rejects.toMatchObject({ code: 'CLIENT_DID_NOT_SURVIVE' });
    expect(replayed).toEqual([error.failure.endpointSeed]);
  });

  test('malformed variables and options are refused with a clear error', async () => {
    process.env.FAKE_IOT_SEED = 'abc';
    await expect(assertClientSurvives({ scenario: quiet })).rejects.toThrow(/FAKE_IOT_SEED must be <seed> or <seed>:<path>/);
    process.env.FAKE_IOT_SEED = '';
    process.env.FAKE_IOT_RUNS = '0';
    await expect(assertClientSurvives({ scenario: quiet })).rejects.toThrow(/FAKE_IOT_RUNS must be a whole number >= 1/);
    await expect(assertClientSurvives({} as never)).rejects.toThrow(/scenario must be an async function/);
  });
});
