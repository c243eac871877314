/**
 * The device side of AWS IoT Jobs with aws-iot-device-sdk-v2's `iotjobs.IotJobsClient` over its MQTT 3.1.1
 * connection (aws-crt, native threads: every connection is disconnected after its test). The documented
 * job-agent loop — subscribe to notify-next, start-next, update IN_PROGRESS, then SUCCEEDED — against jobs
 * the cloud side creates. aws-crt reports on its own threads, after the endpoint's last trace entry: the test
 * waits for what the client saw by polling it, not through a trace predicate.
 */
import { iotjobs, mqtt } from 'aws-iot-device-sdk-v2';
import { endpoint } from '../helpers';
import { until, v2Connections } from './crt';

const crt = v2Connections();

const QoS = mqtt.QoS.AtLeastOnce;

describe('aws-iot-device-sdk-v2 iotjobs.IotJobsClient', () => {
  test('the job-agent loop: notify-next → start-next → IN_PROGRESS → SUCCEEDED, for each job the cloud creates', async () => {
    const iot = await endpoint();
    const thingName = 'v2-agent';
    const jobs = new iotjobs.IotJobsClient(await crt.plain(iot, thingName));
    const ran: { jobId: string; document: unknown }[] = [];
    const errors: unknown[] = [];
    const fail = (error?: unknown) => void (error && errors.push(error));

    // The agent, as AWS's samples write it: any notify-next with an execution asks for the next job.
    await jobs.subscribeToNextJobExecutionChangedEvents({ thingName }, QoS, (error, event) => {
      fail(error);
      if (event?.execution) jobs.publishStartNextPendingJobExecution({ thingName, clientToken: `next-${event.execution.jobId}` }, QoS).catch(fail);
    });
    await jobs.subscribeToStartNextPendingJobExecutionAccepted({ thingName }, QoS, (error, response) => {
      fail(error);
      const execution = response?.execution;
      if (!execution?.jobId || ran.some((r) => r.jobId === execution.jobId)) return;
      ran.push({ jobId: execution.jobId, document: execution.jobDocument });
      (async () => {
        await jobs.publishUpdateJobExecution({ thingName, jobId: execution.jobId!, status: iotjobs.model.JobStatus.IN_PROGRESS, statusDetails: { step: 'installing' }, expectedVersion: execution.versionNumber }, QoS);
        if ((execution.jobDocument as { hold?: boolean } | undefined)?.hold) return; // a job that takes long
        await jobs.publishUpdateJobExecution({ thingName, jobId: execution.jobId!, status: iotjobs.model.JobStatus.SUCCEEDED, expectedVersion: (execution.versionNumber ?? 0) + 1 }, QoS);
      })().catch(fail);
    });
    const updates: iotjobs.model.UpdateJobExecutionResponse[] = [];
    await jobs.subscribeToUpdateJobExecutionAccepted({ thingName, jobId: '+' }, QoS, (error, response) => {
      fail(error);
      if (response) updates.push(response);
    });
    const rejected: iotjobs.model.RejectedErrorResponse[] = [];
    await jobs.subscribeToUpdateJobExecutionRejected({ thingName, jobId: '+' }, QoS, (error, response) => {
      fail(error);
      if (response) rejected.push(response);
    });

    iot.jobs.create({ jobId: 'ota-1', targets: [thingName], document: { firmware: '2.0.1' } });
    iot.jobs.create({ jobId: 'ota-2', targets: [thingName], document: { firmware: '2.0.2' } });
    await until(() => updates.length >= 4, 'four accepted updates');
    expect(ran).toEqual([{ jobId: 'ota-1', document: { firmware: '2.0.1' } }, { jobId: 'ota-2', document: { firmware: '2.0.2' } }]);
    expect(iot).toHaveJobExecution(thingName, 'ota-1', { status: 'SUCCEEDED', statusDetails: { step: 'installing' }, versionNumber: 4 });
    expect(iot).toHaveJobExecution(thingName, 'ota-2', { status: 'SUCCEEDED', versionNumber: 4 });
    expect(iot.jobs.describe('ota-2')).toMatchObject({ status: 'COMPLETED' });
    expect(rejected).toEqual([]);
    expect(errors).toEqual([]);

    // The cloud cancels a job the device is running (force): the device's next update is refused.
    iot.jobs.create({ jobId: 'ota-3', targets: [thingName], document: { hold: true } });
    await until(() => iot.jobs.execution(thingName, 'ota-3')?.versionNumber === 3, 'ota-3 IN_PROGRESS');
    iot.jobs.cancel('ota-3', { force: true });
    await jobs.publishUpdateJobExecution({ thingName, jobId: 'ota-3', status: iotjobs.model.JobStatus.SUCCEEDED, clientToken: 'late' }, QoS);
    await until(() => rejected.some((r) => r.clientToken === 'late'), 'rejection');
    expect(rejected.find((r) => r.clientToken === 'late')).toMatchObject({ code: iotjobs.model.RejectedErrorCode.INVALID_STATE_TRANSITION, executionState: { status: 'CANCELED', versionNumber: 4 } });
    expect(errors).toEqual([]);
  });

  test('get pending and describe, with the SDK\'s own request shapes', async () => {
    const iot = await endpoint();
    const thingName = 'v2-reader';
    iot.jobs.create({ jobId: 'cfg', targets: [thingName], document: { mode: 'eco' } });
    const jobs = new iotjobs.IotJobsClient(await crt.plain(iot, thingName));
    const pending: iotjobs.model.GetPendingJobExecutionsResponse[] = [];
    await jobs.subscribeToGetPendingJobExecutionsAccepted({ thingName }, QoS, (_error, response) => void (response && pending.push(response)));
    const described: iotjobs.model.DescribeJobExecutionResponse[] = [];
    await jobs.subscribeToDescribeJobExecutionAccepted({ thingName, jobId: 'cfg' }, QoS, (_error, response) => void (response && described.push(response)));
    await jobs.publishGetPendingJobExecutions({ thingName, clientToken: 'g' }, QoS);
    await jobs.publishDescribeJobExecution({ thingName, jobId: 'cfg', includeJobDocument: true, clientToken: 'd' }, QoS);
    await until(() => pending.length === 1 && described.length === 1, 'answers');
    expect(pending[0]).toMatchObject({ queuedJobs: [{ jobId: 'cfg', versionNumber: 1, executionNumber: 1 }], inProgressJobs: [], clientToken: 'g' });
    expect(described[0]).toMatchObject({ execution: { jobId: 'cfg', thingName, status: 'QUEUED', jobDocument: { mode: 'eco' } }, clientToken: 'd' });
  });
});
