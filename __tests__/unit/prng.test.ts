/**
 * Golden values of the random streams. Every seeded decision in the endpoint rests on these numbers:
 * a change here changes what every recorded seed replays, so it must be deliberate.
 */
import { MAX_SEED, isSeed, randomSeed, streamFor, type RandomStream } from '../../src/chaos/prng';

const take = <T>(n: number, draw: () => T): T[] => Array.from({ length: n }, draw);

describe('streamFor(seed, key)', () => {
  test('gives pinned floats for fixed seeds and keys', () => {
    const a0 = streamFor(0, 'a');
    expect(take(5, () => a0.next())).toEqual([0.24063815652930598, 0.09031496850390319, 0.2143951683361155, 0.44075776075752326, 0.18566489184937485]);
    const aMax = streamFor(MAX_SEED, 'a');
    expect(take(3, () => aMax.next())).toEqual([0.6955020740624385, 0.2727638535459299, 0.013661045355569335]);
  });

  test('another key or another seed gives another (pinned) stream', () => {
    const b0 = streamFor(0, 'b');
    expect(take(3, () => b0.next())).toEqual([0.8845936727907094, 0.15288382766495168, 0.538444340381503]);
    const a1 = streamFor(1, 'a');
    expect(take(3, () => a1.next())).toEqual([0.7436966147465668, 0.825485292142112, 0.6572795351056833]);
  });

  test('the same seed and key always give the same numbers', () => {
    const draw = (s: RandomStream) => take(50, () => s.next());
    expect(draw(streamFor(123, 'chaos:dev-1:1'))).toEqual(draw(streamFor(123, 'chaos:dev-1:1')));
  });

  test('keys differing only in a lone surrogate get different streams', () => {
    expect(streamFor(5, '\uD800').next()).not.toBe(streamFor(5, '\uDFFF').next());
  });

  test('next() stays in [0, 1)', () => {
    const s = streamFor(9, 'range');
    for (const x of take(10_000, () => s.next())) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe('int(min, max)', () => {
  test('gives pinned whole numbers', () => {
    const dice = streamFor(7, 'dice');
    expect(take(12, () => dice.int(1, 6))).toEqual([2, 4, 5, 5, 6, 2, 6, 2, 1, 6, 3, 6]);
    const big = streamFor(7, 'big');
    expect(take(3, () => big.int(0, 2 ** 40))).toEqual([812370291144, 88871373913, 865423988587]);
  });

  test('covers both ends of the range and nothing outside it', () => {
    const s = streamFor(1, 'ends');
    const seen = new Set(take(2000, () => s.int(3, 7)));
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  test('rounds fractional bounds inwards, and gives min when no whole number lies between', () => {
    const s = streamFor(1, 'fractions');
    const seen = new Set(take(500, () => s.int(0.5, 2.5)));
    expect([...seen].sort()).toEqual([1, 2]);
    expect(s.int(0.25, 0.75)).toBe(0.25);
  });
});

describe('uuid()', () => {
  test('gives pinned version-4-shaped UUIDs', () => {
    const s = streamFor(1, 'session:dev-1:1');
    expect(take(3, () => s.uuid())).toEqual(['fcd0cdcc-7ee7-4609-9c9d-239b2ae42efb', '5fac2e91-26ff-4c41-bc7b-899298387d91', '9894bb46-e7a0-4207-a0da-e0dc15d0c34e']);
  });

  test('always has the version 4 nibble and the RFC 4122 variant', () => {
    const s = streamFor(2, 'uuids');
    for (const u of take(500, () => s.uuid())) expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('jumped(n)', () => {
  test('gives pinned independent sub-streams and leaves the stream itself alone', () => {
    const base = streamFor(3, 'chaos:dev-1:1');
    const j1 = base.jumped(1);
    const j2 = base.jumped(2);
    expect(take(3, () => j1.next())).toEqual([0.009444770723713525, 0.45379740412807457, 0.5232536399759481]);
    expect(take(3, () => j2.next())).toEqual([0.6896777138719739, 0.20337688623972616, 0.20405800562670928]);
    expect(take(3, () => base.next())).toEqual([0.45144708924127785, 0.22192510977167723, 0.8193671416045587]);
  });

  test('drawing from one sub-stream does not move another', () => {
    const base = streamFor(3, 'chaos:dev-1:1');
    const quiet = base.jumped(2).next();
    const busy = base.jumped(1);
    take(100, () => busy.next());
    expect(base.jumped(2).next()).toBe(quiet);
  });
});

describe('seeds', () => {
  test('isSeed accepts the 32-bit unsigned integers only', () => {
    expect([0, 1, MAX_SEED].every(isSeed)).toBe(true);
    expect([-1, MAX_SEED + 1, 1.5, NaN, '1', undefined].some(isSeed)).toBe(false);
  });

  test('randomSeed gives a valid seed', () => {
    for (let i = 0; i < 100; i++) expect(isSeed(randomSeed())).toBe(true);
  });
});
