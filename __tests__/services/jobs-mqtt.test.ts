/**
 * AWS IoT Jobs over MQTT with real MQTT.js clients (aws-iot-behaviour.md §5): the device API's requests and
 * answers, the routing rule (answers go to the requesting connection only, subscribed or not, never to another
 * subscriber), notify / notify-next, every rejected code, cancellation, timeouts on the virtual clock, chaos.
 */
import * as mqttPacket from 'mqtt-packet';
import type { FakeIot, JobsErrorCode } from '../../src';
import { type TestClient, client, endpoint, raw } from '../helpers';
import { pingRoundTrip } from '../sync';

type Doc = Record<string, unknown>;
const JOBS = '$aws/things/dev-1/jobs';
const doc = (m: { payload: string } | undefined): Doc => JSON.parse(m!.payload) as Doc;

/** Publishes a request and resolves with the next message the client receives (its answer). */
async function ask(dev: TestClient, topic: string, body: object | string, qos: 0 | 1 = 1): Promise<{ topic: string; doc: Doc }> {
  const before = dev.received.length;
  dev.publish(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos });
  const got = (await dev.receivedCount(before + 1))[before]!;
  return { topic: got.topic, doc: doc(got) };
}

describe('Jobs over MQTT: the device API', () => {
  test('the job agent loop: notify-next, start-next, progress with expectedVersion, SUCCEEDED; notify and notify-next follow the pending list', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const t = Math.floor(iot.clock.now() / 1000);
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync([`${JOBS}/notify`, `${JOBS}/notify-next`], { qos: 1 });

    const created = iot.jobs.create({ jobId: 'fw-1', targets: ['dev-1'], document: { operation: 'update', url: 'https://example.com/fw.bin' } });
    expect(created).toMatchObject({ jobId: 'fw-1', status: 'IN_PROGRESS', targets: ['dev-1'], jobProcessDetails: { numberOfQueuedThings: 1 } });
    const [notify, next] = await dev.receivedCount(2);
    expect(notify!.topic).toBe(`${JOBS}/notify`);
    expect(doc(notify)).toEqual({ timestamp: t, jobs: { QUEUED: [{ jobId: 'fw-1', queuedAt: t, lastUpdatedAt: t, versionNumber: 1, executionNumber: 1 }] } });
    expect(next!.topic).toBe(`${JOBS}/notify-next`);
    expect(doc(next)).toEqual({
      timestamp: t,
      execution: { jobId: 'fw-1', thingName: 'dev-1', status: 'QUEUED', queuedAt: t, lastUpdatedAt: t, versionNumber: 1, executionNumber: 1, jobDocument: { operation: 'update', url: 'https://example.com/fw.bin' } },
    });

    // start-next: answered on start-next/accepted although the device never subscribed to it.
    const started = await ask(dev, `${JOBS}/start-next`, { clientToken: 'c1', statusDetails: { step: 'download' } });
    expect(started.topic).toBe(`${JOBS}/start-next/accepted`);
    expect(started.doc).toEqual({
      execution: {
        jobId: 'fw-1', thingName: 'dev-1', status: 'IN_PROGRESS', statusDetails: { step: 'download' }, queuedAt: t, startedAt: t, lastUpdatedAt: t,
        versionNumber: 2, executionNumber: 1, jobDocument: { operation: 'update', url: 'https://example.com/fw.bin' },
      },
      timestamp: t, clientToken: 'c1',
    });

    const progress = await ask(dev, `${JOBS}/fw-1/update`, { status: 'IN_PROGRESS', statusDetails: { step: 'flash' }, expectedVersion: 2, includeJobExecutionState: true, clientToken: 'c2' });
    expect(progress).toEqual({ topic: `${JOBS}/fw-1/update/accepted`, doc: { executionState: { status: 'IN_PROGRESS', statusDetails: { step: 'flash' }, versionNumber: 3 }, timestamp: t, clientToken: 'c2' } });

    const done = await ask(dev, `${JOBS}/fw-1/update`, { status: 'SUCCEEDED', includeJobDocument: true });
    expect(done.doc).toEqual({ jobDocument: { operation: 'update', url: 'https://example.com/fw.bin' }, timestamp: t });
    // The execution left the pending list (notify) and the list is empty (notify-next without execution).
    const [, , , , , emptied, none] = await dev.receivedCount(7);
    expect([emptied!.topic, doc(emptied)]).toEqual([`${JOBS}/notify`, { timestamp: t, jobs: {} }]);
    expect([none!.topic, doc(none)]).toEqual([`${JOBS}/notify-next`, { timestamp: t }]);

    expect(iot).toHaveJobExecution('dev-1', 'fw-1', { status: 'SUCCEEDED', statusDetails: { step: 'flash' }, versionNumber: 4 });
    expect(iot.jobs.describe('fw-1')).toMatchObject({ status: 'COMPLETED', completedAt: t, jobProcessDetails: { numberOfSucceededThings: 1, numberOfQueuedThings: 0 } });
    expect(iot.trace.filter({ event: 'job', thingName: 'dev-1' }).map((e) => [e.operation, e.via, e.previousStatus, e.status, e.versionNumber])).toEqual([
      ['create', 'cloud', undefined, 'QUEUED', 1],
      ['start-next', 'mqtt', 'QUEUED', 'IN_PROGRESS', 2],
      ['update', 'mqtt', 'IN_PROGRESS', 'IN_PROGRESS', 3],
      ['update', 'mqtt', 'IN_PROGRESS', 'SUCCEEDED', 4],
    ]);
  });

  test('answers go only to the requesting connection, subscribed or not; a subscriber of the answer topics receives nothing', async () => {
    const iot = await endpoint();
    iot.jobs.create({ jobId: 'j1', targets: ['dev-1'], document: { n: 1 } });
    const spy = await client(iot, 'spy');
    await spy.subscribeAsync([`${JOBS}/get/accepted`, `${JOBS}/+/get/+`, '$aws/things/+/jobs/#'], { qos: 1 });
    const dev = await client(iot, 'dev-1');
    const asker = await client(iot, 'asker');
    await asker.subscribeAsync('$aws/things/+/jobs/#', { qos: 1 });

    // dev-1 never subscribed: it gets its answer all the same.
    const pending = await ask(dev, `${JOBS}/get`, { clientToken: 'mine' });
    expect(pending).toEqual({ topic: `${JOBS}/get/accepted`, doc: { inProgressJobs: [], queuedJobs: [expect.objectContaining({ jobId: 'j1', versionNumber: 1 })], timestamp: expect.any(Number), clientToken: 'mine' } });
    // Another client may ask about dev-1's jobs (a policy decides that on AWS): it alone gets the answer, once,
    // although its own subscription matches the answer topic.
    const described = await ask(asker, `${JOBS}/j1/get`, {});
    expect(described.topic).toBe(`${JOBS}/j1/get/accepted`);

    await pingRoundTrip(iot, 'asker', asker);
    await pingRoundTrip(iot, 'spy', spy);
    expect(spy.received).toEqual([]); // neither the requests nor the answers reach a subscriber
    expect(asker.received).toHaveLength(1);
    expect(dev.received).toHaveLength(1);
    expect(iot.trace.filter({ event: 'publish', origin: 'jobs', clientId: /./ }).map((e) => [e.clientId, e.topic])).toEqual([
      ['dev-1', `${JOBS}/get/accepted`],
      ['asker', `${JOBS}/j1/get/accepted`],
    ]);

    // Notifications, on the other hand, go through the broker to every subscriber.
    iot.jobs.create({ jobId: 'j2', targets: ['dev-1'], document: { n: 2 } });
    const [note] = await spy.receivedCount(1);
    expect(note!.topic).toBe(`${JOBS}/notify`);
  });

  test('notify lists at most 10 pending executions, IN_PROGRESS first; notify-next only when the head changes', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    const dev = await client(iot, 'dev-1');
    await dev.subscribeAsync([`${JOBS}/notify`, `${JOBS}/notify-next`], { qos: 0 });
    const topics = () => dev.received.map((m) => m.topic.slice(JOBS.length + 1));
    iot.jobs.create({ jobId: 'job1', targets: ['dev-1'], document: {} });
    await dev.receivedCount(2);
    iot.clock.advance(1000);
    iot.jobs.create({ jobId: 'job2', targets: ['dev-1'], document: {} });
    iot.clock.advance(1000);
    iot.jobs.create({ jobId: 'job3', targets: ['dev-1'], document: {} });
    await dev.receivedCount(4);
    expect(topics()).toEqual(['notify', 'notify-next', 'notify', 'notify']); // job1 stays the head

    // job3 starts before job2: it becomes the head (notify-next); the list itself is unchanged (no notify).
    await ask(dev, `${JOBS}/job3/update`, { status: 'IN_PROGRESS' }, 0);
    const [, , , , , head] = await dev.receivedCount(6);
    expect([head!.topic, (doc(head).execution as Doc).jobId]).toEqual([`${JOBS}/notify-next`, 'job3']);
    // job1 is rejected: it leaves the list (notify) and job3 stays the head (no notify-next).
    await ask(dev, `${JOBS}/job1/update`, { status: 'REJECTED' }, 0);
    const all = await dev.receivedCount(8);
    expect(all.slice(6).map((m) => m.topic.slice(JOBS.length + 1))).toEqual(['job1/update/accepted', 'notify']);
    expect(doc(all[7])).toMatchObject({ jobs: { IN_PROGRESS: [{ jobId: 'job3' }], QUEUED: [{ jobId: 'job2' }] } });

    for (let i = 4; i <= 15; i++) iot.jobs.create({ jobId: `job${i}`, targets: ['dev-1'], document: {} });
    const last = (await dev.receivedCount(20))[19]!;
    const jobs = doc(last).jobs as { IN_PROGRESS: Doc[]; QUEUED: Doc[] };
    expect(jobs.IN_PROGRESS.map((e) => e.jobId)).toEqual(['job3']);
    expect(jobs.QUEUED.map((e) => e.jobId)).toEqual(['job2', 'job4', 'job5', 'job6', 'job7', 'job8', 'job9', 'job10', 'job11']);
    const pending = await ask(dev, `${JOBS}/get`, {}, 0);
    expect((pending.doc.queuedJobs as Doc[]).length).toBe(13); // GetPendingJobExecutions lists them all
  });

  test('an MQTT 5 client gets its answers the same way', async () => {
    const iot = await endpoint();
    iot.jobs.create({ jobId: 'v5', targets: ['dev-1'], document: { five: true } });
    const dev = await client(iot, 'dev-1', { protocolVersion: 5 });
    const started = await ask(dev, `${JOBS}/start-next`, { clientToken: 'v5' });
    expect(started).toEqual({ topic: `${JOBS}/start-next/accepted`, doc: expect.objectContaining({ clientToken: 'v5', execution: expect.objectContaining({ jobId: 'v5', jobDocument: { five: true } }) }) });
    expect((await ask(dev, `${JOBS}/v5/update`, { status: 'BOGUS' })).doc).toMatchObject({ code: 'InvalidRequest' });
  });

  test('options are checked up front: the jobsErrors knob, script codes, jobs limits', async () => {
    await expect(endpoint({ chaos: { jobsErrors: { probability: 1, codes: ['Nope' as never] } } })).rejects.toMatchObject({
      code: 'INVALID_OPTION', message: expect.stringContaining('options.chaos.jobsErrors.codes must be a non-empty array of AWS\'s transient Jobs errors'),
    });
    await expect(endpoint({ chaos: { script: [{ fault: 'jobsErrors', nth: 1, code: 429 }] } })).rejects.toMatchObject({ message: expect.stringContaining('code must be "RequestThrottled" or "InternalError" for jobsErrors') });
    await expect(endpoint({ chaos: { script: [{ fault: 'shadowErrors', nth: 1, code: 'InternalError' }] } })).rejects.toMatchObject({ message: expect.stringContaining('code must be 429 or 500') });
    await expect(endpoint({ limits: { jobsMaxTimeoutMinutes: 40_000 } })).rejects.toMatchObject({ message: expect.stringContaining('options.limits.jobsMaxTimeoutMinutes must be an integer from 1 to 35791') });
    const small = await endpoint({ limits: { jobsMaxJobIdChars: 4, jobsMaxNotifyExecutions: 1 } });
    expect(() => small.jobs.create({ jobId: 'abcde', targets: ['dev-1'], document: {} })).toThrow(expect.objectContaining({ message: expect.stringContaining('1 to 4 characters') }));
  });

  test('$next: describe and start-next take the head; with nothing pending start-next answers without execution', async () => {
    const iot = await endpoint();
    const dev = await client(iot, 'dev-1');
    expect((await ask(dev, `${JOBS}/start-next`, '')).doc).toEqual({ timestamp: expect.any(Number) });
    expect((await ask(dev, `${JOBS}/$next/get`, { clientToken: 'n' })).doc).toEqual({ timestamp: expect.any(Number), clientToken: 'n' });
    iot.jobs.create({ jobId: 'a', targets: ['dev-1'], document: { x: 1 } });
    const next = await ask(dev, `${JOBS}/$next/get`, { includeJobDocument: false });
    expect(next.topic).toBe(`${JOBS}/$next/get/accepted`);
    expect(next.doc.execution).toEqual(expect.objectContaining({ jobId: 'a', status: 'QUEUED' }));
    expect(next.doc.execution).not.toHaveProperty('jobDocument');
    // An IN_PROGRESS head is returned as it is by start-next: its statusDetails stay, its version too.
    await ask(dev, `${JOBS}/a/update`, { status: 'IN_PROGRESS', statusDetails: { p: '1' } });
    const again = await ask(dev, `${JOBS}/start-next`, { statusDetails: { p: 'ignored' } });
    expect(again.doc.execution).toMatchObject({ jobId: 'a', status: 'IN_PROGRESS', statusDetails: { p: '1' }, versionNumber: 2, jobDocument: { x: 1 } });
  });
});

describe('Jobs over MQTT: every rejected code', () => {
  let iot: FakeIot;
  let dev: TestClient;
  beforeEach(async () => {
    iot = await endpoint({ seed: 5 });
    iot.jobs.create({ jobId: 'done', targets: ['dev-1'], document: {} });
    iot.jobs.create({ jobId: 'open', targets: ['dev-1'], document: {} });
    dev = await client(iot, 'dev-1');
    await ask(dev, `${JOBS}/done/update`, { status: 'SUCCEEDED' });
    dev.received.length = 0;
  });

  const rejected = async (topic: string, body: object | string) => {
    const answer = await ask(dev, topic, body);
    expect(answer.topic).toBe(`${topic}/rejected`);
    expect(dev.connected).toBe(true);
    return answer.doc;
  };

  test.each([
    ['InvalidTopic: a topic in the Jobs namespace that is no API', `${JOBS}/notify`, { clientToken: 't' }],
    ['InvalidTopic: a job id with an unknown action', `${JOBS}/open/cancel`, { clientToken: 't' }],
    ['InvalidJson: not JSON', `${JOBS}/open/update`, '{"status": "IN_PR'],
    ['InvalidJson: not UTF-8', `${JOBS}/open/update`, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1')],
    ['InvalidRequest: no status', `${JOBS}/open/update`, { clientToken: 't' }],
    ['InvalidRequest: an unknown status', `${JOBS}/open/update`, { status: 'DONE', clientToken: 't' }],
    ['InvalidRequest: statusDetails with a number', `${JOBS}/open/update`, { status: 'IN_PROGRESS', statusDetails: { progress: 50 }, clientToken: 't' }],
    ['InvalidRequest: a statusDetails value over 1024 characters', `${JOBS}/open/update`, { status: 'IN_PROGRESS', statusDetails: { log: 'x'.repeat(1025) }, clientToken: 't' }],
    ['InvalidRequest: expectedVersion not a number', `${JOBS}/open/update`, { status: 'IN_PROGRESS', expectedVersion: 'two', clientToken: 't' }],
    ['InvalidRequest: a step timeout over 7 days', `${JOBS}/start-next`, { stepTimeoutInMinutes: 10081, clientToken: 't' }],
    ['InvalidRequest: a job id over 64 characters', `${JOBS}/${'j'.repeat(65)}/get`, { clientToken: 't' }],
    ['InvalidRequest: a JSON array', `${JOBS}/get`, '[1, 2]'],
    ['ResourceNotFound: no such job', `${JOBS}/nope/update`, { status: 'IN_PROGRESS', clientToken: 't' }],
    ['ResourceNotFound: another execution number', `${JOBS}/open/get`, { executionNumber: 2, clientToken: 't' }],
    ['TerminalStateReached: describing a SUCCEEDED execution', `${JOBS}/done/get`, { clientToken: 't' }],
  ])('%s', async (what, topic, body) => {
    const code = what.slice(0, what.indexOf(':')) as JobsErrorCode;
    const answer = await rejected(topic, body);
    const echoed = typeof body === 'object' ? { clientToken: 't' } : {};
    expect(answer).toEqual({ code, message: expect.any(String), timestamp: expect.any(Number), ...echoed });
    expect(iot.trace.find({ event: 'job', outcome: 'rejected', code })).toMatchObject({ thingName: 'dev-1', via: 'mqtt', clientId: 'dev-1' });
  });

  test('InvalidStateTransition: a terminal execution, or a status only the service sets; the answer carries executionState', async () => {
    expect(await rejected(`${JOBS}/done/update`, { status: 'IN_PROGRESS', clientToken: 'x' })).toEqual({
      code: 'InvalidStateTransition', message: expect.stringContaining('SUCCEEDED'), clientToken: 'x', timestamp: expect.any(Number),
      executionState: { status: 'SUCCEEDED', versionNumber: 2 },
    });
    expect(await rejected(`${JOBS}/open/update`, { status: 'CANCELED' })).toMatchObject({ code: 'InvalidStateTransition', executionState: { status: 'QUEUED', versionNumber: 1 } });
    expect(iot).toHaveJobExecution('dev-1', 'open', { status: 'QUEUED', versionNumber: 1 });
  });

  test('VersionMismatch: a stale expectedVersion changes nothing; the answer carries executionState', async () => {
    await ask(dev, `${JOBS}/open/update`, { status: 'IN_PROGRESS', statusDetails: { a: 'b' } });
    expect(await rejected(`${JOBS}/open/update`, { status: 'SUCCEEDED', expectedVersion: 1, clientToken: 'v' })).toEqual({
      code: 'VersionMismatch', message: expect.any(String), clientToken: 'v', timestamp: expect.any(Number),
      executionState: { status: 'IN_PROGRESS', statusDetails: { a: 'b' }, versionNumber: 2 },
    });
    // AWS's MQTT page quotes expectedVersion as a string: a string of digits is read as the number.
    expect((await ask(dev, `${JOBS}/open/update`, { status: 'SUCCEEDED', expectedVersion: '2' })).topic).toBe(`${JOBS}/open/update/accepted`);
  });

  test('RequestThrottled and InternalError: chaos jobsErrors, seeded or scripted, clientToken echoed, nothing changed', async () => {
    iot.chaos.set({ script: [{ fault: 'jobsErrors', client: 'dev-1', topic: '$aws/things/+/jobs/+/update', nth: 1, code: 'InternalError' }] });
    expect(await rejected(`${JOBS}/open/update`, { status: 'IN_PROGRESS', clientToken: 'r' })).toEqual({ code: 'InternalError', message: expect.any(String), clientToken: 'r', timestamp: expect.any(Number) });
    expect(iot).toHaveJobExecution('dev-1', 'open', { status: 'QUEUED', versionNumber: 1 });
    expect(iot.trace.find({ event: 'job', code: 'InternalError' })).toMatchObject({ outcome: 'rejected', jobId: 'open', chaos: { fault: 'jobsErrors', decision: 0 } });
    expect((await ask(dev, `${JOBS}/open/update`, { status: 'IN_PROGRESS' })).topic).toBe(`${JOBS}/open/update/accepted`);

    iot.chaos.set({ jobsErrors: { probability: 1, codes: ['RequestThrottled'], clients: ['dev-1'] } });
    expect(await rejected(`${JOBS}/get`, {})).toMatchObject({ code: 'RequestThrottled' });
    expect(iot.chaos.log().map((d) => [d.fault, d.code, d.source])).toEqual([['jobsErrors', 'InternalError', 'script'], ['jobsErrors', 'RequestThrottled', 'random']]);
    expect(iot.chaos.toScript().at(-1)).toEqual({ fault: 'jobsErrors', client: 'dev-1', nth: 3, code: 'RequestThrottled' });
  });
});

describe('Jobs over MQTT: the cloud side, cancellation and timeouts', () => {
  test('cancellation while IN_PROGRESS: without force the device may still finish; with force it is CANCELED and its updates are refused', async () => {
    const iot = await endpoint();
    iot.jobs.create({ jobId: 'soft', targets: ['dev-1', 'dev-2'], document: {} });
    iot.jobs.create({ jobId: 'hard', targets: ['dev-1'], document: {} });
    const dev = await client(iot, 'dev-1');
    await ask(dev, `${JOBS}/soft/update`, { status: 'IN_PROGRESS' });
    expect(iot.jobs.cancel('soft')).toMatchObject({ status: 'CANCELED', jobProcessDetails: { numberOfInProgressThings: 1, numberOfCanceledThings: 1 } });
    expect(iot.jobs.execution('dev-2', 'soft')).toMatchObject({ status: 'CANCELED', versionNumber: 2 });
    expect((await ask(dev, `${JOBS}/soft/update`, { status: 'SUCCEEDED' })).topic).toBe(`${JOBS}/soft/update/accepted`);

    await dev.subscribeAsync([`${JOBS}/notify`, `${JOBS}/notify-next`], { qos: 1 });
    await ask(dev, `${JOBS}/start-next`, {});
    const before = dev.received.length;
    expect(() => iot.jobs.cancelExecution('hard', 'dev-1')).toThrow(expect.objectContaining({ code: 'JOB_REJECTED', awsError: 'InvalidStateTransitionException' }));
    expect(iot.jobs.cancel('hard', { force: true, comment: 'bad build' })).toMatchObject({ status: 'CANCELED', forceCanceled: true, comment: 'bad build' });
    const [notify, next] = (await dev.receivedCount(before + 2)).slice(before);
    expect([notify!.topic, doc(notify)]).toEqual([`${JOBS}/notify`, { timestamp: expect.any(Number), jobs: {} }]);
    expect([next!.topic, doc(next)]).toEqual([`${JOBS}/notify-next`, { timestamp: expect.any(Number) }]);
    const refused = await ask(dev, `${JOBS}/hard/update`, { status: 'SUCCEEDED' });
    expect(refused).toEqual({ topic: `${JOBS}/hard/update/rejected`, doc: expect.objectContaining({ code: 'InvalidStateTransition', executionState: { status: 'CANCELED', versionNumber: 3 } }) });
    expect((await ask(dev, `${JOBS}/hard/get`, {})).doc).toMatchObject({ code: 'TerminalStateReached' });
    expect(iot.trace.find({ event: 'job', jobId: 'hard', status: 'CANCELED' })).toMatchObject({ operation: 'cancel', via: 'cloud', previousStatus: 'IN_PROGRESS' });
    expect(iot.jobs.execution('dev-1', 'hard')).toMatchObject({ status: 'CANCELED', forceCanceled: true });
  });

  test('deleteExecution, removeThing and the cloud side\'s refusals', async () => {
    const iot = await endpoint();
    iot.jobs.create({ jobId: 'a', targets: ['dev-1', 'arn:aws:iot:us-east-1:123456789012:thing/dev-2'], document: '{"v":1}', description: 'first' });
    expect(iot.jobs.describe('a')).toMatchObject({ targets: ['dev-1', 'dev-2'], document: { v: 1 }, description: 'first' });
    expect(() => iot.jobs.create({ jobId: 'a', targets: ['dev-1'], document: {} })).toThrow(expect.objectContaining({ code: 'JOB_REJECTED', awsError: 'ResourceAlreadyExistsException' }));
    expect(() => iot.jobs.create({ jobId: 'b c', targets: ['dev-1'], document: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('jobId must be 1 to 64 characters') }));
    expect(() => iot.jobs.create({ jobId: 'b', targets: [], document: {} })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => iot.jobs.create({ jobId: 'b', targets: ['dev-1'], document: 'not json' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => iot.jobs.create({ jobId: 'b', targets: ['dev-1'], document: { blob: 'x'.repeat(32 * 1024) } })).toThrow(expect.objectContaining({ message: expect.stringContaining('limits.jobsMaxDocumentBytes') }));
    expect(() => iot.jobs.create({ jobId: 'b', targets: ['dev-1'], document: {}, timeoutConfig: { inProgressTimeoutInMinutes: 0 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => iot.jobs.cancel('nope')).toThrow(expect.objectContaining({ code: 'JOB_REJECTED', awsError: 'ResourceNotFoundException' }));
    expect(() => iot.jobs.deleteExecution('a', 'dev-1')).toThrow(expect.objectContaining({ code: 'JOB_REJECTED', awsError: 'InvalidStateTransitionException' }));
    expect(() => iot.jobs.cancelExecution('a', 'dev-1', { expectedVersion: 7 })).toThrow(expect.objectContaining({ awsError: 'VersionConflictException' }));
    expect(() => iot.jobs.cancel('a', { forse: true } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('unknown option "forse"') }));

    expect(iot.jobs.removeThing('a', 'dev-2')).toMatchObject({ status: 'REMOVED', versionNumber: 2 });
    const dev = await client(iot, 'dev-1');
    await ask(dev, `${JOBS}/a/update`, { status: 'IN_PROGRESS' });
    iot.jobs.deleteExecution('a', 'dev-1', { force: true });
    expect(iot.jobs.execution('dev-1', 'a')).toBeUndefined();
    expect(iot).not.toHaveJobExecution('dev-1', 'a');
    expect((await ask(dev, `${JOBS}/a/update`, { status: 'SUCCEEDED' })).doc).toMatchObject({ code: 'ResourceNotFound' });
    expect(iot.jobs.describe('a')).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfRemovedThings: 1, numberOfInProgressThings: 0 } });
    expect(iot.jobs.executions()).toEqual([expect.objectContaining({ thingName: 'dev-2', status: 'REMOVED' })]);
    expect(iot.trace.find({ event: 'job', deleted: true })).toMatchObject({ operation: 'delete', status: 'IN_PROGRESS', thingName: 'dev-1' });
  });

  test('step timeout on the virtual clock: start-next sets it, an IN_PROGRESS update renews it, -1 stops it; TIMED_OUT when it runs out', async () => {
    const iot = await endpoint({ clock: 'virtual' });
    iot.jobs.create({ jobId: 'slow', targets: ['dev-1'], document: {} });
    const dev = await client(iot, 'dev-1', { keepalive: 1200 });
    await dev.subscribeAsync(`${JOBS}/notify`, { qos: 0 });
    const started = await ask(dev, `${JOBS}/start-next`, { stepTimeoutInMinutes: 1 }, 0);
    expect(started.doc.execution).toMatchObject({ status: 'IN_PROGRESS', approximateSecondsBeforeTimedOut: 60 });

    iot.clock.advance(50_000);
    const renewed = await ask(dev, `${JOBS}/slow/update`, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 }, 0);
    expect(renewed.topic).toBe(`${JOBS}/slow/update/accepted`);
    expect(iot.jobs.execution('dev-1', 'slow')).toMatchObject({ status: 'IN_PROGRESS', approximateSecondsBeforeTimedOut: 120 });
    iot.clock.advance(60_000); // past the first step's end: renewed, still running
    expect(iot).toHaveJobExecution('dev-1', 'slow', { status: 'IN_PROGRESS' });
    iot.clock.advance(60_000);
    const timedOut = await iot.trace.waitFor({ event: 'job', status: 'TIMED_OUT' });
    expect(timedOut).toMatchObject({ operation: 'timeout', via: 'timer', timer: 'step', previousStatus: 'IN_PROGRESS', versionNumber: 4 });
    const removed = (await dev.receivedCount(3))[2];
    expect([removed!.topic, doc(removed)]).toEqual([`${JOBS}/notify`, { timestamp: Math.floor(iot.clock.now() / 1000), jobs: {} }]);
    expect((await ask(dev, `${JOBS}/slow/update`, { status: 'SUCCEEDED' }, 0)).doc).toMatchObject({ code: 'InvalidStateTransition', executionState: { status: 'TIMED_OUT' } });

    iot.jobs.create({ jobId: 'stopped', targets: ['dev-1'], document: {} });
    await dev.receivedCount(5); // its notify
    await ask(dev, `${JOBS}/start-next`, { stepTimeoutInMinutes: 1 }, 0);
    await ask(dev, `${JOBS}/stopped/update`, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 }, 0);
    iot.clock.advance(10 * 60_000);
    expect(iot).toHaveJobExecution('dev-1', 'stopped', { status: 'IN_PROGRESS' });
    expect(iot.jobs.execution('dev-1', 'stopped')).not.toHaveProperty('approximateSecondsBeforeTimedOut');
  });

  test("the job's in-progress timeout (timeoutConfig) runs from IN_PROGRESS, whatever the step timer says", async () => {
    const iot = await endpoint({ clock: 'virtual' });
    iot.jobs.create({ jobId: 'capped', targets: ['dev-1'], document: {}, timeoutConfig: { inProgressTimeoutInMinutes: 3 } });
    expect(iot.jobs.describe('capped')).toMatchObject({ timeoutConfig: { inProgressTimeoutInMinutes: 3 } });
    iot.clock.advance(10 * 60_000); // QUEUED: no timer runs yet
    const dev = await client(iot, 'dev-1', { keepalive: 1200 });
    await ask(dev, `${JOBS}/start-next`, { stepTimeoutInMinutes: 10 }, 0);
    expect(iot.jobs.execution('dev-1', 'capped')).toMatchObject({ approximateSecondsBeforeTimedOut: 180 });
    iot.clock.advance(179_000);
    expect(iot).toHaveJobExecution('dev-1', 'capped', { status: 'IN_PROGRESS' });
    iot.clock.advance(1000);
    expect(iot).toHaveJobExecution('dev-1', 'capped', { status: 'TIMED_OUT', versionNumber: 3 });
    expect(iot.trace.find({ event: 'job', status: 'TIMED_OUT' })).toMatchObject({ timer: 'in-progress' });
  });

  test('IoT policies apply to Jobs topics (AWS: topic permissions): iot:Publish on the request, iot:Receive on the answer', async () => {
    const iot = await endpoint();
    const arn = 'arn:aws:iot:us-east-1:123456789012';
    iot.setPolicy('agent', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
        { Effect: 'Allow', Action: 'iot:Publish', Resource: `${arn}:topic/$aws/things/dev-1/jobs/*` },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: `${arn}:topic/$aws/things/dev-1/jobs/get/*` },
      ],
    });
    iot.attachPolicy('agent', '*');
    iot.jobs.create({ jobId: 'p', targets: ['dev-1'], document: {} });
    const dev = await client(iot, 'dev-1');
    expect((await ask(dev, `${JOBS}/get`, {})).topic).toBe(`${JOBS}/get/accepted`);
    // start-next is allowed and runs, but its answer may not be received: it is not delivered.
    dev.publish(`${JOBS}/start-next`, '{}', { qos: 1 });
    const denied = await iot.trace.waitFor({ event: 'authorization', clientId: 'dev-1' });
    expect(denied).toMatchObject({ action: 'iot:Receive', resource: `${arn}:topic/$aws/things/dev-1/jobs/start-next/accepted`, reaction: 'not-delivered' });
    expect(iot).toHaveJobExecution('dev-1', 'p', { status: 'IN_PROGRESS' });
    await pingRoundTrip(iot, 'dev-1', dev);
    expect(dev.received).toHaveLength(1);
  });

  test('chaos applies to answers like any delivery: duplicateQos0 copies a QoS 0 answer', async () => {
    const iot = await endpoint({ seed: 9, chaos: { duplicateQos0: { probability: 1, topics: ['$aws/things/+/jobs/#'] } } });
    const dev = await client(iot, 'dev-1');
    dev.publish(`${JOBS}/get`, JSON.stringify({ clientToken: 'q0' }), { qos: 0 });
    const [first, copy] = await dev.receivedCount(2);
    expect(copy!.payload).toBe(first!.payload);
    expect(iot.trace.find({ direction: 'out', clientId: 'dev-1', chaos: { fault: 'duplicateQos0' } })).toMatchObject({ packet: { topic: `${JOBS}/get/accepted` } });
  });

  test('bad requests get their rejection and never disturb the connection or other clients', async () => {
    const iot = await endpoint();
    iot.jobs.create({ jobId: 'j', targets: ['dev-1'], document: {} });
    const other = await client(iot, 'other');
    await other.subscribeAsync('plain/#', { qos: 1 });
    const r = await raw(iot);
    await r.connect('dev-1');
    const publish = (topic: string, payload: Buffer | string) => r.send(mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, dup: false, retain: false }));
    publish(`${JOBS}/j/update`, '['.repeat(100_000));
    publish(`${JOBS}/j/update`, JSON.stringify({ status: 'IN_PROGRESS', statusDetails: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, 'v'])) }));
    publish(`${JOBS}/j/update`, JSON.stringify({ status: 'IN_PROGRESS', statusDetails: { 'bad key': 'v' } }));
    publish(`${JOBS}/j/update`, JSON.stringify({ status: 'IN_PROGRESS', statusDetails: { k: 'line\nbreak' } }));
    publish(`${JOBS}/j/update`, JSON.stringify({ status: 'IN_PROGRESS', includeJobDocument: 'yes' }));
    publish('$aws/things/dev 1/jobs/get', '{}');
    const answers = await r.count('publish', 6);
    // AWS bounds the names' and values' lengths, not their number: 2000 of them are accepted.
    expect(answers.map((p) => (JSON.parse(p.payload.toString()) as Doc).code)).toEqual(['InvalidJson', undefined, 'InvalidRequest', 'InvalidRequest', 'InvalidRequest', 'InvalidTopic']);
    expect(answers.map((p) => p.topic.split('/').pop())).toEqual(['rejected', 'accepted', 'rejected', 'rejected', 'rejected', 'rejected']);
    iot.publish('plain/x', 'still served', { qos: 1 });
    const [got] = await other.receivedCount(1);
    expect(got!.payload).toBe('still served');
  });
});
