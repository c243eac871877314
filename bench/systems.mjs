// The two systems under test, started the same way: an MQTT 3.1.1 broker on a free loopback port.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Aedes } from 'aedes';
import { startFakeIot } from '../dist/index.mjs';

// AWS's per-connection limits would stop the "10k other subscriptions" runs; the bench lifts them.
export const benchLimits = { maxSubscriptionsPerConnection: 1_000_000, maxFiltersPerSubscribe: 100_000, maxInflightMessages: 65_535, maxQueuedMessages: 1_000_000 };

export const systems = {
  /** fake-aws-iot as a test suite would use it, with the trace off (the default is on). */
  project: (extra = {}) => startProject({ trace: false, ...extra }),
  'project+trace': (extra = {}) => startProject({ ...extra }),
  'project+chaos0': (extra = {}) => startProject({ trace: false, chaos: { duplicateQos0: { probability: 0 }, reorder: { probability: 0, maxHoldMs: 1 } }, ...extra }),
  /** With IoT policies on: a 10-statement policy attached to every connection ('*'), which allows the bench's traffic. */
  'project+policies': (extra = {}) => startProject({ trace: false, policies: { bench: benchPolicy }, ...extra }, (iot) => iot.attachPolicy('bench', '*')),
  aedes: () => startAedes(),
};

const fixture = (file) => readFileSync(new URL(`../fixtures/${file}`, import.meta.url));

/** The device's side of the mTLS cycle: fixtures/device-1, trusting the fixture CA (the same for both systems). */
export const deviceTls = { cert: fixture('device-1.cert.pem'), key: fixture('device-1.private.key'), ca: fixture('ca.pem') };

/**
 * The same two systems over MQTT with client certificates (AWS's port 8883). `url` is the mqtts:// URL; the
 * client connects with `deviceTls`. aedes sits behind node:tls with the fixtures' server certificate,
 * requiring a client certificate signed by the fixture CA.
 */
export const tlsSystems = {
  project: async () => {
    const iot = await startFakeIot({ limits: benchLimits, throttles: false, trace: false, tls: true });
    return { url: iot.tls.url, close: () => iot.close() };
  },
  aedes: () => startAedesTls(),
};

async function startProject(options, setup) {
  // throttles: false — the bench measures the broker, not AWS's 100 PUBLISH/s per connection.
  const iot = await startFakeIot({ limits: benchLimits, throttles: false, ...options });
  setup?.(iot);
  return { url: iot.url, close: () => iot.close() };
}

/**
 * A device fleet's policy of ten statements, as a test suite with policies on would attach it: connect as your
 * client id, telemetry out and in, commands and the thing's shadow, two denials. Every operation of the
 * relay is checked against all of it.
 */
const arn = (resource) => `arn:aws:iot:*:*:${resource}`;
export const benchPolicy = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/${iot:ClientId}') },
    { Effect: 'Deny', Action: 'iot:Connect', Resource: arn('client/blocked-*') },
    { Effect: 'Allow', Action: 'iot:Publish', Resource: arn('topic/dt/things/*/telemetry') },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: arn('topicfilter/dt/things/*/telemetry') },
    { Effect: 'Allow', Action: 'iot:Receive', Resource: arn('topic/dt/things/*/telemetry') },
    { Effect: 'Deny', Action: 'iot:Publish', Resource: arn('topic/dt/things/*/admin') },
    { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: [arn('topic/$aws/things/${iot:ClientId}/shadow/*'), arn('topic/cmd/${iot:ClientId}/*')] },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [arn('topicfilter/$aws/things/${iot:ClientId}/shadow/*'), arn('topicfilter/cmd/${iot:ClientId}/*')] },
    { Effect: 'Allow', Action: ['iot:Subscribe', 'iot:Receive'], Resource: [arn('topicfilter/other/*'), arn('topic/other/*')] },
    { Effect: 'Allow', Action: 'iot:RetainPublish', Resource: arn('topic/cmd/${iot:ClientId}/state'), Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } } },
  ],
};

async function startAedes() {
  const broker = await Aedes.createBroker();
  const server = net.createServer({ noDelay: true }, broker.handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `mqtt://127.0.0.1:${server.address().port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => broker.close(resolve));
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const aedesTlsOptions = { cert: fixture('server.pem'), key: fixture('server.key'), ca: fixture('ca.pem'), requestCert: true, rejectUnauthorized: true };

async function startAedesTls() {
  const broker = await Aedes.createBroker();
  // A new server (and so a new secure context) per broker, as a test suite would start one per test.
  const server = tls.createServer(aedesTlsOptions, broker.handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set();
  server.on('connection', (s) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `mqtts://localhost:${server.address().port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => broker.close(resolve));
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
