/**
 * A property of the Device Shadow service (fast-check, fixed seed): random sequences of desired / reported /
 * null updates, some with a version, keep AWS's invariants (aws-iot-behaviour.md §4.2, §4.3): the version
 * goes up by one per accepted update and only then, `get` equals the fold of the accepted updates, and the
 * delta is exactly the desired fields that reported lacks or has otherwise.
 */
import fc from 'fast-check';
import { classicProfile } from '../../src';
import { ShadowService, parseShadowTopic } from '../../src/services/shadow';

type Obj = { [k: string]: unknown };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The model: AWS's merge written plainly (null deletes, objects merge, everything else replaces). */
function fold(into: Obj | undefined, patch: Obj): Obj {
  const out: Obj = { ...(into ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObj(v)) {
      const inner = fold(isObj(out[k]) ? out[k] : undefined, v);
      if (Object.keys(inner).length === 0 && Object.keys(v).length > 0) delete out[k];
      else out[k] = inner;
    } else out[k] = v;
  }
  return out;
}

function diff(desired: Obj | undefined, reported: Obj | undefined): Obj {
  const out: Obj = {};
  for (const [k, want] of Object.entries(desired ?? {})) {
    const have = reported?.[k];
    if (isObj(want) && isObj(have)) {
      const inner = diff(want, have);
      if (Object.keys(inner).length > 0) out[k] = inner;
    } else if (JSON.stringify(want) !== JSON.stringify(have)) out[k] = want;
  }
  return out;
}

const key = fc.constantFrom('a', 'b', 'c');
const leaf = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(null), fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }));
const section: fc.Arbitrary<Obj> = fc.dictionary(key, fc.oneof(leaf, fc.dictionary(key, leaf, { maxKeys: 2 })), { maxKeys: 3 });
const update = fc.record(
  {
    desired: fc.oneof(section, fc.constant(null)),
    reported: fc.oneof(section, fc.constant(null)),
  },
  { requiredKeys: [] },
);
const step = fc.record({ state: update, stale: fc.boolean() });

test('accepted updates fold into the document; versions count them; the delta is desired minus reported (fast-check seed 1313)', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
      const service = new ShadowService(classicProfile.limits, false);
      const request = parseShadowTopic('$aws/things/prop/shadow/update')!;
      const get = parseShadowTopic('$aws/things/prop/shadow/get')!;
      let desired: Obj | undefined;
      let reported: Obj | undefined;
      let version = 0;
      for (const { state, stale } of steps) {
        // A stale version is refused (409) and changes nothing; the right one, or none, is accepted.
        const body = stale && version > 0 ? { state, version: version - 1 } : { state, version };
        const [first] = service.request(request, Buffer.from(JSON.stringify(body)), 1_800_000_000_000);
        if (stale && version > 0) {
          expect(first!.document).toMatchObject({ code: 409 });
          continue;
        }
        expect(first!.topic.endsWith('/update/accepted')).toBe(true);
        version++;
        expect(first!.document).toMatchObject({ version });
        if ('desired' in state) desired = state.desired === null ? undefined : fold(desired, state.desired!);
        if ('reported' in state) reported = state.reported === null ? undefined : fold(reported, state.reported!);
      }
      const [answer] = service.request(get, Buffer.alloc(0), 1_800_000_000_000);
      if (version === 0) return expect(answer!.topic.endsWith('/get/rejected')).toBe(true);
      const doc = answer!.document as { state: { desired?: Obj; reported?: Obj; delta?: Obj }; version: number };
      expect(doc.version).toBe(version);
      const empty = (o: Obj | undefined) => (o && Object.keys(o).length > 0 ? o : undefined);
      expect(doc.state.desired).toEqual(empty(desired));
      expect(doc.state.reported).toEqual(empty(reported));
      expect(doc.state.delta).toEqual(empty(diff(desired, reported)));
    }),
    { seed: 1313, numRuns: 400 },
  );
});
