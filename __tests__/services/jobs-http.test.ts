/**
 * The jobs data plane over HTTP with the real AWS SDK client (`@aws-sdk/client-iot-jobs-data-plane`) against
 * the endpoint's HTTP port: GetPendingJobExecutions, StartNextPendingJobExecution, DescribeJobExecution,
 * UpdateJobExecution, the SDK's typed exceptions, SigV4 for the service `iot-jobs-data`, and MQTT
 * notifications for what an HTTP call changes.
 */
import {
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  InvalidRequestException,
  InvalidStateTransitionException,
  ResourceNotFoundException,
  StartNextPendingJobExecutionCommand,
  TerminalStateException,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane';
import type { FakeIot } from '../../src';
import type { AwsCredentials } from '../../src/transport/sigv4';
import { client, endpoint } from '../helpers';
import { HTTP_CREDENTIALS, request } from './http-helpers';

const clients = new Set<IoTJobsDataPlaneClient>();
afterEach(() => {
  for (const c of clients) c.destroy();
  clients.clear();
});

/** A jobs data-plane client as device code makes one, with `endpoint: iot.http.url`; one attempt (the SDK retries 429 and 5xx). */
function jobsSdk(iot: FakeIot, credentials: AwsCredentials = HTTP_CREDENTIALS): IoTJobsDataPlaneClient {
  const c = new IoTJobsDataPlaneClient({ endpoint: iot.http!.url, region: 'eu-west-1', credentials, maxAttempts: 1 });
  clients.add(c);
  return c;
}

describe('the jobs data plane with @aws-sdk/client-iot-jobs-data-plane', () => {
  test('get pending, start next, update with statusDetails, describe: the job document as JSON text; MQTT subscribers hear the changes', async () => {
    const iot = await endpoint({ http: true, clock: 'virtual', credentials: HTTP_CREDENTIALS });
    const t = Math.floor(iot.clock.now() / 1000);
    iot.jobs.create({ jobId: 'cfg-1', targets: ['pump-1'], document: { set: { rate: 5 } } });
    iot.jobs.create({ jobId: 'cfg-2', targets: ['pump-1'], document: { set: { rate: 6 } } });
    const watcher = await client(iot, 'watcher');
    await watcher.subscribeAsync('$aws/things/pump-1/jobs/notify-next', { qos: 1 });
    const aws = jobsSdk(iot);

    const pending = await aws.send(new GetPendingJobExecutionsCommand({ thingName: 'pump-1' }));
    expect(pending.inProgressJobs).toEqual([]);
    expect(pending.queuedJobs).toEqual([
      { jobId: 'cfg-1', queuedAt: t, lastUpdatedAt: t, versionNumber: 1, executionNumber: 1 },
      { jobId: 'cfg-2', queuedAt: t, lastUpdatedAt: t, versionNumber: 1, executionNumber: 1 },
    ]);

    const started = await aws.send(new StartNextPendingJobExecutionCommand({ thingName: 'pump-1', statusDetails: { phase: 'apply' }, stepTimeoutInMinutes: 5 }));
    expect(started.execution).toEqual({
      jobId: 'cfg-1', thingName: 'pump-1', status: 'IN_PROGRESS', statusDetails: { phase: 'apply' }, queuedAt: t, startedAt: t, lastUpdatedAt: t,
      approximateSecondsBeforeTimedOut: 300, versionNumber: 2, executionNumber: 1, jobDocument: '{"set":{"rate":5}}',
    });

    const updated = await aws.send(new UpdateJobExecutionCommand({ thingName: 'pump-1', jobId: 'cfg-1', status: 'SUCCEEDED', expectedVersion: 2, includeJobExecutionState: true, includeJobDocument: true }));
    expect(updated.executionState).toEqual({ status: 'SUCCEEDED', statusDetails: { phase: 'apply' }, versionNumber: 3 });
    expect(updated.jobDocument).toBe('{"set":{"rate":5}}');
    // No notifications over HTTP, but the change is notified over MQTT: cfg-2 is the head now.
    const [next] = await watcher.receivedCount(1);
    expect(JSON.parse(next!.payload)).toMatchObject({ execution: { jobId: 'cfg-2', status: 'QUEUED' } });

    const described = await aws.send(new DescribeJobExecutionCommand({ thingName: 'pump-1', jobId: 'cfg-2', includeJobDocument: false }));
    expect(described.execution).toMatchObject({ jobId: 'cfg-2', status: 'QUEUED', versionNumber: 1 });
    expect(described.execution).not.toHaveProperty('jobDocument');
    const $next = await aws.send(new DescribeJobExecutionCommand({ thingName: 'pump-1', jobId: '$next' }));
    expect($next.execution).toMatchObject({ jobId: 'cfg-2', jobDocument: '{"set":{"rate":6}}' });

    expect(iot).toHaveJobExecution('pump-1', 'cfg-1', { status: 'SUCCEEDED', versionNumber: 3 });
    expect(iot.trace.filter({ event: 'job', via: 'http' }).map((e) => [e.operation, e.status])).toEqual([['start-next', 'IN_PROGRESS'], ['update', 'SUCCEEDED']]);
  });

  test("refusals are the SDK's typed exceptions", async () => {
    const iot = await endpoint({ http: true });
    iot.jobs.create({ jobId: 'j', targets: ['pump-2'], document: {} });
    const aws = jobsSdk(iot);
    await aws.send(new UpdateJobExecutionCommand({ thingName: 'pump-2', jobId: 'j', status: 'FAILED' }));

    const cases: [() => Promise<unknown>, new (...args: never[]) => Error, number, RegExp][] = [
      [() => aws.send(new UpdateJobExecutionCommand({ thingName: 'pump-2', jobId: 'nope', status: 'SUCCEEDED' })), ResourceNotFoundException, 404, /No job execution/],
      [() => aws.send(new UpdateJobExecutionCommand({ thingName: 'pump-2', jobId: 'j', status: 'SUCCEEDED' })), InvalidStateTransitionException, 409, /FAILED, a terminal status/],
      [() => aws.send(new DescribeJobExecutionCommand({ thingName: 'pump-2', jobId: 'j' })), TerminalStateException, 410, /terminal status/],
      [() => aws.send(new UpdateJobExecutionCommand({ thingName: 'pump-2', jobId: 'j', status: 'DONE' as never })), InvalidRequestException, 400, /status is required/],
      [() => aws.send(new StartNextPendingJobExecutionCommand({ thingName: 'pump-2', stepTimeoutInMinutes: 0 })), InvalidRequestException, 400, /stepTimeoutInMinutes/],
      [() => aws.send(new GetPendingJobExecutionsCommand({ thingName: 'bad name!' })), InvalidRequestException, 400, /thingName/],
    ];
    for (const [call, type, status, message] of cases) {
      const error = await call().then(() => undefined, (e: unknown) => e); // one at a time, in order
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({ $metadata: { httpStatusCode: status }, message: expect.stringMatching(message) });
    }
    expect(iot.trace.filter({ event: 'job', outcome: 'rejected', via: 'http' }).map((e) => e.code)).toEqual(['ResourceNotFound', 'InvalidStateTransition', 'TerminalStateReached', 'InvalidRequest', 'InvalidRequest', 'InvalidRequest']);

    // A stale expectedVersion over HTTP: InvalidStateTransitionException too (the API lists no other 409 for it).
    iot.jobs.create({ jobId: 'k', targets: ['pump-2'], document: {} });
    await expect(aws.send(new UpdateJobExecutionCommand({ thingName: 'pump-2', jobId: 'k', status: 'IN_PROGRESS', expectedVersion: 9 }))).rejects.toBeInstanceOf(InvalidStateTransitionException);
  });

  test('SigV4: the jobs data plane wants requests signed for iot-jobs-data; wrong method 405; a broken body 400', async () => {
    const iot = await endpoint({ http: true, credentials: HTTP_CREDENTIALS });
    await expect(jobsSdk(iot, { ...HTTP_CREDENTIALS, secretAccessKey: 'wrong' }).send(new GetPendingJobExecutionsCommand({ thingName: 'p' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    expect(iot.trace.find({ event: 'transport-error', reason: 'signature-mismatch' })).toBeDefined();
    const unsigned = await request(iot.http!.port, 'GET', '/things/p/jobs');
    expect(unsigned).toMatchObject({ status: 401 });
    expect(unsigned.body).toContain('iot-jobs-data');

    const open = await endpoint({ http: true });
    expect(await request(open.http!.port, 'DELETE', '/things/p/jobs/x')).toMatchObject({ status: 405 });
    const broken = await request(open.http!.port, 'POST', '/things/p/jobs/x', { body: '{"status":' });
    expect(broken.status).toBe(400);
    expect(broken.headers['x-amzn-errortype']).toBe('InvalidRequestException');
    // The IoT data plane beside it still answers (signed for iotdata, its own paths).
    expect(await request(open.http!.port, 'GET', '/things/p/shadow')).toMatchObject({ status: 404 });
  });
});
