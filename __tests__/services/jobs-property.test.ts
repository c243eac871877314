/**
 * A fast-check model test of the Jobs execution state machine (src/services/jobs.ts): random sequences of
 * device requests (the MQTT API's documents, bad ones included), cloud actions and time passing keep every
 * invariant AWS documents (aws-iot-behaviour.md §5, the jobs notification page):
 * - version numbers only go up, by one per change;
 * - a terminal execution never changes again (until it is deleted);
 * - notify-next always names the head of the pending list, and is sent exactly when the head changes;
 * - notify lists the pending list (IN_PROGRESS first, at most 10) and is sent exactly when it gains or loses one;
 * - executionState comes with InvalidStateTransition and VersionMismatch, and only with them.
 */
import fc from 'fast-check';
import { currentProfile } from '../../src';
import { type JobExecutionStatus, JobsError, type JobsOutcome, JobsService, isTerminal, parseJobsTopic } from '../../src/services/jobs';

const THINGS = ['t1', 't2'] as const;
const JOB_IDS = ['a', 'b', 'c'] as const;
const STATUSES: JobExecutionStatus[] = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED'];

type Action =
  | { kind: 'create'; jobId: string; targets: string[]; timeout?: number }
  | { kind: 'cancel'; jobId: string; force: boolean }
  | { kind: 'cancelExecution'; jobId: string; thing: string; force: boolean }
  | { kind: 'deleteExecution'; jobId: string; thing: string; force: boolean }
  | { kind: 'remove'; jobId: string; thing: string }
  | { kind: 'startNext'; thing: string; step?: number }
  | { kind: 'update'; jobId: string; thing: string; status: string; expectedVersion?: number; step?: number }
  | { kind: 'describe'; jobId: string; thing: string }
  | { kind: 'garbage'; thing: string; topic: string; payload: string }
  | { kind: 'advance'; ms: number };

const thing = fc.constantFrom(...THINGS);
const jobId = fc.constantFrom(...JOB_IDS);
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('create' as const), jobId, targets: fc.subarray([...THINGS], { minLength: 1 }), timeout: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }) }), weight: 3 },
  fc.record({ kind: fc.constant('cancel' as const), jobId, force: fc.boolean() }),
  fc.record({ kind: fc.constant('cancelExecution' as const), jobId, thing, force: fc.boolean() }),
  fc.record({ kind: fc.constant('deleteExecution' as const), jobId, thing, force: fc.boolean() }),
  fc.record({ kind: fc.constant('remove' as const), jobId, thing }),
  { arbitrary: fc.record({ kind: fc.constant('startNext' as const), thing, step: fc.option(fc.constantFrom(-1, 1, 2), { nil: undefined }) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('update' as const), jobId, thing, status: fc.constantFrom(...STATUSES, 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED', 'bogus'),
      expectedVersion: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined, freq: 2 }), step: fc.option(fc.constantFrom(-1, 1, 3), { nil: undefined }),
    }),
    weight: 6,
  },
  fc.record({ kind: fc.constant('describe' as const), jobId: fc.constantFrom(...JOB_IDS, '$next'), thing }),
  fc.record({ kind: fc.constant('garbage' as const), thing, topic: fc.constantFrom('get', 'start-next', 'a/update', 'a/get', 'notify', 'a/b/c'), payload: fc.constantFrom('', '{', '[]', '{"status":5}', '{"statusDetails":{"k":1}}', '{"clientToken":7}') }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(1000, 30_000, 60_000, 120_000) }),
);

type Doc = Record<string, unknown>;

/** Runs one action; what it answered over MQTT (when it was a device request) and what changed. */
function run(service: JobsService, a: Action, now: number): { outcome: JobsOutcome; answer?: { topic: string; document: Doc } } {
  const none: JobsOutcome = { changes: [], notifications: [] };
  const device = (topic: string, body: object | string) => {
    const answer = service.mqtt(parseJobsTopic(topic)!, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), now);
    return { outcome: answer, answer: answer.response as { topic: string; document: Doc } };
  };
  const cloud = (fn: () => JobsOutcome) => {
    try {
      return { outcome: fn() };
    } catch (error) {
      if (!(error instanceof JobsError)) throw error;
      return { outcome: none };
    }
  };
  switch (a.kind) {
    case 'create':
      return cloud(() => service.create({ jobId: a.jobId, targets: a.targets, document: { job: a.jobId }, ...(a.timeout ? { timeoutConfig: { inProgressTimeoutInMinutes: a.timeout } } : {}) }, now));
    case 'cancel':
      return cloud(() => service.cancel(a.jobId, { force: a.force }, now));
    case 'cancelExecution':
      return cloud(() => service.cancelExecution(a.jobId, a.thing, { force: a.force }, now));
    case 'deleteExecution':
      return cloud(() => service.deleteExecution(a.jobId, a.thing, { force: a.force }, now));
    case 'remove':
      return cloud(() => service.remove(a.jobId, a.thing, now));
    case 'startNext':
      return device(`$aws/things/${a.thing}/jobs/start-next`, a.step === undefined ? {} : { stepTimeoutInMinutes: a.step });
    case 'update':
      return device(`$aws/things/${a.thing}/jobs/${a.jobId}/update`, { status: a.status, expectedVersion: a.expectedVersion, stepTimeoutInMinutes: a.step, clientToken: 'tok' });
    case 'describe':
      return device(`$aws/things/${a.thing}/jobs/${a.jobId}/get`, {});
    case 'garbage':
      return device(`$aws/things/${a.thing}/jobs/${a.topic}`, a.payload);
    case 'advance':
      return { outcome: service.expire(now) };
  }
}

test('the execution state machine keeps its invariants under random device requests, cloud actions and time', () => {
  fc.assert(
    fc.property(fc.array(action, { maxLength: 60, size: 'max' }), (actions) => {
      const service = new JobsService(currentProfile.limits);
      let now = 1_700_000_000_000;
      /** What the model saw: versions and statuses per execution, and the head each thing was last told of. */
      const seen = new Map<string, { version: number; status: JobExecutionStatus }>();
      const toldHead = new Map<string, string | undefined>();
      const pendingIds = new Map<string, string[]>();
      for (const a of actions) {
        if (a.kind === 'advance') now += a.ms;
        const { outcome, answer } = run(service, a, now);

        // Version numbers only go up, by one per change; a terminal execution never changes again.
        for (const c of outcome.changes) {
          const key = `${c.thingName}/${c.jobId}`;
          const before = seen.get(key);
          if (c.operation === 'create') expect(before).toBeUndefined();
          else {
            expect(before).toBeDefined();
            if (c.deleted) {
              expect(c.versionNumber).toBe(before!.version);
              seen.delete(key);
              continue;
            }
            expect(isTerminal(before!.status)).toBe(false);
            expect(c.versionNumber).toBe(before!.version + 1);
          }
          seen.set(key, { version: c.versionNumber, status: c.status });
        }
        const all = service.executions(undefined, now);
        expect(all.length).toBe(seen.size);
        for (const e of all) expect(seen.get(`${e.thingName}/${e.jobId}`)).toEqual({ version: e.versionNumber, status: e.status });

        // Notifications follow the pending list.
        for (const t of THINGS) {
          const list = service.pending(t).map((e) => ({ jobId: e.job.jobId, status: e.status }));
          const ids = list.map((e) => e.jobId);
          expect(list.map((e) => e.status)).toEqual([...list.filter((e) => e.status === 'IN_PROGRESS'), ...list.filter((e) => e.status === 'QUEUED')].map((e) => e.status));
          const notes = outcome.notifications.filter((n) => n.topic.startsWith(`$aws/things/${t}/jobs/`));
          const notify = notes.filter((n) => n.topic.endsWith('/notify'));
          const next = notes.filter((n) => n.topic.endsWith('/notify-next'));
          const previous = pendingIds.get(t) ?? [];
          const setChanged = previous.length !== ids.length || ids.some((id) => !previous.includes(id));
          expect(notify.length).toBe(setChanged ? 1 : 0);
          if (notify.length === 1) {
            const jobs = (notify[0]!.document as { jobs: Record<string, { jobId: string }[]> }).jobs;
            expect([...(jobs.IN_PROGRESS ?? []), ...(jobs.QUEUED ?? [])].map((e) => e.jobId)).toEqual(ids.slice(0, 10));
          }
          const head = ids[0];
          expect(next.length).toBe(head !== toldHead.get(t) ? 1 : 0);
          for (const n of next) expect((n.document as { execution?: { jobId: string } }).execution?.jobId).toBe(head);
          toldHead.set(t, head);
          pendingIds.set(t, ids);
        }

        // The error documents.
        if (answer?.topic.endsWith('/rejected')) {
          const code = answer.document.code as string;
          expect('executionState' in answer.document).toBe(code === 'InvalidStateTransition' || code === 'VersionMismatch');
          expect(outcome.changes).toEqual([]);
        }
      }
    }),
    { seed: 1515, numRuns: 150 },
  );
});
