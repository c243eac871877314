import mqtt from 'mqtt';
import { startFakeIot } from 'fake-aws-iot';

// The device code under test: a job agent. It asks for the next job when told one is waiting, runs each job
// once, reports SUCCEEDED, and sends a request again when AWS answers with a transient error.
async function startJobAgent(url: string, thingName: string, run: (document: { version: string }) => Promise<void>) {
  const device = await mqtt.connectAsync(url, { clientId: thingName, reconnectPeriod: 0 });
  const jobs = `$aws/things/${thingName}/jobs`;
  const sent = new Map<string, { topic: string; body: object }>();   // by clientToken, to retry
  const started = new Set<string>();
  let token = 0;
  const request = (topic: string, body: object) => {
    const clientToken = `${thingName}-${++token}`;
    sent.set(clientToken, { topic, body });
    device.publish(`${jobs}/${topic}`, JSON.stringify({ ...body, clientToken }), { qos: 1 });
  };
  // AWS sends the answers to the requesting connection whether or not it subscribed to them.
  device.on('message', async (topic, payload) => {
    const message = JSON.parse(payload.toString());
    if (topic === `${jobs}/notify-next` && message.execution) request('start-next', {});
    if (topic === `${jobs}/start-next/accepted` && message.execution && !started.has(message.execution.jobId)) {
      const { jobId, versionNumber, jobDocument } = message.execution;
      started.add(jobId);                                              // answers may come twice
      await run(jobDocument);
      request(`${jobId}/update`, { status: 'SUCCEEDED', expectedVersion: versionNumber });
    }
    const retry = sent.get(message.clientToken);
    if (topic.endsWith('/rejected') && ['RequestThrottled', 'InternalError'].includes(message.code) && retry) {
      request(retry.topic, retry.body);
    }
  });
  await device.subscribeAsync(`${jobs}/notify-next`, { qos: 1 });
  request('start-next', {});
  return device;
}

test('the job agent runs each firmware job once, through throttling, internal errors and repeated answers', async () => {
  await using iot = await startFakeIot({
    seed: 4,
    chaos: {
      jobsErrors: { probability: 0.3 },                                // RequestThrottled or InternalError on /rejected
      resendWithNewPacketId: { probability: 0.3, topics: ['$aws/things/+/jobs/#'] },   // the same answer again
    },
  });
  const installed: string[] = [];
  const device = await startJobAgent(iot.url, 'dev-1', async (document) => {
    installed.push(document.version);
  });
  await iot.trace.waitFor({ event: 'subscription-active', clientId: 'dev-1' });

  const jobIds = ['fw-1', 'fw-2', 'fw-3'];
  jobIds.forEach((jobId, i) => iot.jobs.create({ jobId, targets: ['dev-1'], document: { version: `1.${i + 1}` } }));

  await iot.trace.waitFor(() => jobIds.every((jobId) => iot.jobs.execution('dev-1', jobId)?.status === 'SUCCEEDED'));
  expect(installed).toEqual(['1.1', '1.2', '1.3']);
  expect(iot).toHaveJobExecution('dev-1', 'fw-3', { status: 'SUCCEEDED' });
  expect(iot.chaos.log().some((decision) => decision.fault === 'jobsErrors')).toBe(true);
  device.end(true);
});
