/**
 * `import 'fake-aws-iot/jest'` in a Jest setup file (setupFilesAfterEach) registers matchers that read
 * an endpoint's trace:
 *
 *   expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: 'cmd/dev-1', qos: 1 });
 *   expect(iot).toHaveReceivedFrom('dev-1', { topic: 'state/dev-1' });
 *   expect(iot).toHaveDisconnected('dev-1', { reason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
 *   expect(iot.trace).toContainEntry({ event: 'violation', rule: 'aws.retain' });
 *   expect(iot).toHaveShadow('dev-1', { reported: { on: true } });
 *   expect(iot).toHaveJobExecution('dev-1', 'fw-1', { status: 'SUCCEEDED' });
 *   expect(iot).toHaveDenied('dev-1', { action: 'iot:Subscribe', resource: /shadow/ });
 *
 * On failure the message shows the relevant part of the trace and the seed that replays the run.
 * With FAKE_IOT_ARTIFACTS=<dir>, a failing test also leaves the traces of its endpoints in <dir> (./artifacts).
 */
// Brings the `expect` package's types into this build, for the augmentation below to merge into (an
// augmentation alone does not load its module). Erased from the output: users' programs load them through
// @jest/globals or @types/jest.
import type {} from 'expect';
import { FakeIotError } from '../../errors';
import type { FakeIot } from '../../start-fake-iot';
import type { JobExecutionStatus } from '../../services/jobs';
import type { AuthorizationEvent, DisconnectReason, TraceEntry } from '../../trace/entry';
import { formatEntry } from '../../trace/format';
import { describeMatch, type TraceMatch } from '../../trace/query';
import { type Trace, seedHint } from '../../trace/recorder';
import { installTraceArtifacts } from './artifacts';

export interface DeliveredExpectation {
  clientId: string;
  /** The exact topic, or a RegExp over it. */
  topic: string | RegExp;
  qos?: 0 | 1;
  /** Payload as text, bytes or a RegExp over the text. */
  payload?: string | Buffer | RegExp;
  /** Exactly this many deliveries (default: at least one). */
  times?: number;
}

export interface ReceivedExpectation {
  topic: string | RegExp;
  qos?: 0 | 1;
  payload?: string | Buffer | RegExp;
  times?: number;
}

export interface DisconnectExpectation {
  reason?: DisconnectReason;
}

/** What a shadow should hold: each section given must contain these fields (others may be there too). */
export interface ShadowExpectation {
  desired?: object;
  reported?: object;
  /** The shadow's exact version. */
  version?: number;
  /** A named shadow (default: the classic one). */
  shadowName?: string;
}

/** What a job execution should be: its status, statusDetails holding these names and values (others may be there too), its version. */
export interface JobExecutionExpectation {
  status?: JobExecutionStatus;
  statusDetails?: Record<string, string>;
  versionNumber?: number;
}

/** What a denial should be: the action, the resource ARN (exact, or a RegExp over it), and what the broker did. */
export interface DeniedExpectation {
  action?: AuthorizationEvent['action'];
  resource?: string | RegExp;
  reaction?: AuthorizationEvent['reaction'];
}

type Subject = FakeIot | Trace;

/** The matchers `import 'fake-aws-iot/jest'` registers, as types. */
export interface FakeIotMatchers<R> {
  /** The endpoint sent a matching PUBLISH to `clientId` (at least once, or exactly `times` times). */
  toHaveDelivered(expected: DeliveredExpectation): R;
  /** `clientId` published a matching PUBLISH to the endpoint. */
  toHaveReceivedFrom(clientId: string, expected: ReceivedExpectation): R;
  /** `clientId`'s connection ended (with that lifecycle reason, if given). */
  toHaveDisconnected(clientId: string, expected?: DisconnectExpectation): R;
  /** Some trace entry matches (a pattern or a predicate, as for `trace.waitFor`). */
  toContainEntry(match: TraceMatch): R;
  /** The thing's Device Shadow exists and its desired / reported hold these fields (and has that version). Needs the endpoint, not its trace. */
  toHaveShadow(thingName: string, expected?: ShadowExpectation): R;
  /** The thing has an execution of the job (not deleted), with that status / statusDetails / version. Needs the endpoint, not its trace. */
  toHaveJobExecution(thingName: string, jobId: string, expected?: JobExecutionExpectation): R;
  /** An IoT policy denied `clientId` something (this action, on a resource like this); the failure lists every denial. */
  toHaveDenied(clientId: string, expected?: DeniedExpectation): R;
}

// Two homes for matcher types: the global `expect` (@types/jest) reads `jest.Matchers`; the `expect` from
// @jest/globals reads the `expect` package's `Matchers`.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    // eslint-disable-next-line @typescript-eslint/no-empty-interface
    interface Matchers<R> extends FakeIotMatchers<R> {}
  }
}

declare module 'expect' {
  // eslint-disable-next-line @typescript-eslint/no-empty-interface
  interface Matchers<R> extends FakeIotMatchers<R> {}
}

// `expect`'s MatcherState has `isNot?: boolean`: an optional field keeps `expect.extend(fakeIotMatchers)`
// type-correct for @jest/globals' `expect`.
interface MatcherContext {
  isNot?: boolean;
}

interface MatcherResult {
  pass: boolean;
  message: () => string;
}

const EXCERPT = 30;

function traceOf(received: unknown): Trace {
  const r = received as Partial<FakeIot> & Partial<Trace>;
  if (r && typeof r === 'object') {
    if (r.trace && typeof r.trace.filter === 'function') return r.trace;
    if (typeof r.filter === 'function' && typeof r.waitFor === 'function') return r as Trace;
  }
  throw new FakeIotError('INVALID_ARGUMENT', `fake-aws-iot matchers take an endpoint from startFakeIot() or its trace (got ${received === null ? 'null' : typeof received}).`);
}

/** The end of the trace, limited to one client when given, formatted for a failure message. */
function excerpt(trace: Trace, clientId?: string): string {
  if (!trace.enabled) return '  (the trace is off: start the endpoint without trace: false to see it here)';
  const all = trace.entries;
  const relevant = clientId === undefined ? all : all.filter((e) => e.clientId === clientId);
  const tail = relevant.slice(-EXCERPT);
  const t0 = all[0]?.at ?? 0;
  const head = clientId === undefined ? 'trace' : `trace of ${clientId}`;
  const skipped = relevant.length > tail.length ? ` (last ${tail.length} of ${relevant.length})` : '';
  const lines = tail.length === 0 ? '  (no entries)' : tail.map((e) => `  ${formatEntry(e, t0)}`).join('\n');
  return `${head}${skipped}:\n${lines}\n\n${seedHint(trace.seed)}`;
}

function countFailure(ctx: MatcherContext, call: string, wanted: string, found: number, times: number | undefined): string {
  if (ctx.isNot) return `${call}\n\nExpected no ${wanted}, but found ${found}.`;
  return `${call}\n\nExpected ${times === undefined ? 'at least one' : `exactly ${times}`} ${wanted}, found ${found}.`;
}

function checkTimes(times: number | undefined): void {
  if (times !== undefined && (!Number.isInteger(times) || times < 0)) throw new FakeIotError('INVALID_ARGUMENT', `times must be a whole number >= 0 (got ${String(times)}).`);
}

function publishes(trace: Trace, direction: 'in' | 'out', clientId: string, e: ReceivedExpectation): TraceEntry[] {
  const packet: Record<string, unknown> = { cmd: 'publish', topic: e.topic };
  if (e.qos !== undefined) packet.qos = e.qos;
  if (e.payload !== undefined) packet.payload = e.payload;
  return trace.filter({ kind: 'packet', direction, clientId, packet } as TraceMatch);
}

/** Whether `actual` holds what `expected` says: objects by the fields given, everything else exactly. */
function contains(actual: unknown, expected: unknown): boolean {
  if (typeof expected === 'object' && expected !== null && !Array.isArray(expected)) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) => contains((actual as Record<string, unknown>)[k], v));
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

const describePublish = (e: ReceivedExpectation) =>
  `PUBLISH on ${String(e.topic)}${e.qos !== undefined ? ` at QoS ${e.qos}` : ''}${e.payload !== undefined ? ` with payload ${typeof e.payload === 'string' ? JSON.stringify(e.payload) : String(e.payload)}` : ''}`;

export const fakeIotMatchers = {
  toHaveDelivered(this: MatcherContext, received: Subject, expected: DeliveredExpectation): MatcherResult {
    const trace = traceOf(received);
    checkTimes(expected?.times);
    const found = publishes(trace, 'out', expected.clientId, expected).length;
    const pass = expected.times === undefined ? found > 0 : found === expected.times;
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toHaveDelivered(${describeMatch(expected as TraceMatch)})`;
    return { pass, message: () => `${countFailure(this, call, `${describePublish(expected)} sent to ${expected.clientId}`, found, expected.times)}\n\n${excerpt(trace, expected.clientId)}` };
  },

  toHaveReceivedFrom(this: MatcherContext, received: Subject, clientId: string, expected: ReceivedExpectation): MatcherResult {
    const trace = traceOf(received);
    checkTimes(expected?.times);
    const found = publishes(trace, 'in', clientId, expected).length;
    const pass = expected.times === undefined ? found > 0 : found === expected.times;
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toHaveReceivedFrom(${JSON.stringify(clientId)}, ${describeMatch(expected as TraceMatch)})`;
    return { pass, message: () => `${countFailure(this, call, `${describePublish(expected)} from ${clientId}`, found, expected.times)}\n\n${excerpt(trace, clientId)}` };
  },

  toHaveDisconnected(this: MatcherContext, received: Subject, clientId: string, expected: DisconnectExpectation = {}): MatcherResult {
    const trace = traceOf(received);
    const all = trace.filter({ event: 'disconnect', clientId });
    const matching = expected.reason === undefined ? all : all.filter((e) => e.reason === expected.reason);
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toHaveDisconnected(${JSON.stringify(clientId)}${expected.reason ? `, { reason: ${JSON.stringify(expected.reason)} }` : ''})`;
    const seen = all.length ? ` Disconnects of ${clientId}: ${all.map((e) => e.reason).join(', ')}.` : '';
    return {
      pass: matching.length > 0,
      message: () =>
        `${call}\n\nExpected ${this.isNot ? 'no' : 'a'} disconnect of ${clientId}${expected.reason ? ` with reason ${expected.reason}` : ''}, found ${matching.length}.${seen}\n\n${excerpt(trace, clientId)}`,
    };
  },

  toHaveShadow(this: MatcherContext, received: Subject, thingName: string, expected: ShadowExpectation = {}): MatcherResult {
    const shadows = (received as Partial<FakeIot> | null)?.shadows;
    if (!shadows) throw new FakeIotError('INVALID_ARGUMENT', 'toHaveShadow() takes the endpoint from startFakeIot() (not its trace): expect(iot).toHaveShadow(thingName, { reported }).');
    const { shadowName, ...wanted } = expected;
    const doc = shadows.get(thingName, shadowName === undefined ? {} : { shadowName }) as { state: Record<string, unknown>; version: number } | undefined;
    const pass =
      doc !== undefined &&
      (wanted.desired === undefined || contains(doc.state.desired, wanted.desired)) &&
      (wanted.reported === undefined || contains(doc.state.reported, wanted.reported)) &&
      (wanted.version === undefined || doc.version === wanted.version);
    const which = `${thingName}${shadowName === undefined ? '' : ` (shadow ${shadowName})`}`;
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toHaveShadow(${JSON.stringify(thingName)}, ${JSON.stringify(expected)})`;
    const has = doc === undefined ? `${which} has no shadow.` : `${which}'s shadow: ${JSON.stringify({ state: doc.state, version: doc.version })}`;
    return { pass, message: () => `${call}

${has}

${excerpt(traceOf(received))}` };
  },

  toHaveJobExecution(this: MatcherContext, received: Subject, thingName: string, jobId: string, expected: JobExecutionExpectation = {}): MatcherResult {
    const jobs = (received as Partial<FakeIot> | null)?.jobs;
    if (!jobs) throw new FakeIotError('INVALID_ARGUMENT', "toHaveJobExecution() takes the endpoint from startFakeIot() (not its trace): expect(iot).toHaveJobExecution(thingName, jobId, { status: 'SUCCEEDED' }).");
    const execution = jobs.execution(thingName, jobId);
    const pass =
      execution !== undefined &&
      (expected.status === undefined || execution.status === expected.status) &&
      (expected.statusDetails === undefined || contains(execution.statusDetails ?? {}, expected.statusDetails)) &&
      (expected.versionNumber === undefined || execution.versionNumber === expected.versionNumber);
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toHaveJobExecution(${JSON.stringify(thingName)}, ${JSON.stringify(jobId)}, ${JSON.stringify(expected)})`;
    const has = execution === undefined ? `${thingName} has no execution of job ${jobId}.` : `${thingName}'s execution of ${jobId}: ${JSON.stringify({ status: execution.status, statusDetails: execution.statusDetails, versionNumber: execution.versionNumber })}`;
    const trace = traceOf(received);
    const history = trace.enabled ? trace.filter({ event: 'job', thingName }).map((e) => `  ${formatEntry(e, trace.entries[0]?.at ?? 0)}`) : [];
    return { pass, message: () => `${call}\n\n${has}\n\n${history.length ? `job events of ${thingName}:\n${history.join('\n')}\n\n` : ''}${excerpt(trace)}` };
  },

  toHaveDenied(this: MatcherContext, received: Subject, clientId: string, expected: DeniedExpectation = {}): MatcherResult {
    const trace = traceOf(received);
    const all = trace.filter({ event: 'authorization', clientId });
    const { resource } = expected;
    const matching = all.filter(
      (e) => (expected.action === undefined || e.action === expected.action) &&
        (expected.reaction === undefined || e.reaction === expected.reaction) &&
        (resource === undefined || (typeof resource === 'string' ? e.resource === resource : resource.test(e.resource))),
    );
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toHaveDenied(${JSON.stringify(clientId)}${Object.keys(expected).length ? `, ${describeMatch(expected as TraceMatch)}` : ''})`;
    const seen = all.length ? `Denials of ${clientId}:\n${all.map((e) => `  ${e.reason} (${e.reaction})`).join('\n')}` : `No denial of ${clientId} was recorded.`;
    return {
      pass: matching.length > 0,
      message: () => `${call}\n\nExpected ${this.isNot ? 'no' : 'a'} matching denial, found ${matching.length}. ${seen}\n\n${excerpt(trace, clientId)}`,
    };
  },

  toContainEntry(this: MatcherContext, received: Subject, match: TraceMatch): MatcherResult {
    const trace = traceOf(received);
    const found = trace.filter(match).length;
    const call = `expect(iot).${this.isNot ? 'not.' : ''}toContainEntry(${describeMatch(match)})`;
    return { pass: found > 0, message: () => `${call}\n\n${this.isNot ? `Expected no matching entry, found ${found}.` : 'Expected a matching entry, found none.'}\n\n${excerpt(trace)}` };
  },
};

const globalExpect = (globalThis as { expect?: { extend?: (m: object) => void } }).expect;
if (typeof globalExpect?.extend === 'function') globalExpect.extend(fakeIotMatchers);
// FAKE_IOT_ARTIFACTS=<dir>: failing tests leave their endpoints' traces there (JSON lines and HTML).
installTraceArtifacts();
