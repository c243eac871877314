/**
 * The control API's routes: each one a method, a path (with `{name}` segments) and what it does to the
 * endpoint, through the same public handle a Jest test uses. `openapi.json` documents exactly these
 * routes (a test holds the two together). A route for a new part of the endpoint is one more entry here and
 * one more path there.
 */
import type { FakeIot, PublishOptions } from '../start-fake-iot';
import type { ChaosOptions } from '../chaos/types';
import type { CancelExecutionOptions, CancelJobOptions, CreateJobSpec, DeleteExecutionOptions } from '../services/jobs-control';
import { FAULTS } from '../chaos/types';
import { FakeIotError } from '../errors';
import { nextTurn } from '../clock/clock';
import type { TraceEntry } from '../trace/entry';
import { entryJSONText, entryToJSON } from '../trace/format';
import { DEFAULT_WAIT_TIMEOUT_MS } from '../trace/recorder';
import { BadRequest, matchFromJson, payloadFromJson, regexFromJson } from './json';
import openapi from './openapi.json';

/** The longest a long poll (`/trace/wait`, `/settled`) may be asked to wait: 5 minutes. */
export const MAX_WAIT_MS = 300_000;

/** Long polls open at once; more are answered 429. */
export const MAX_OPEN_POLLS = 100;

/** The largest request body read (a publish of AWS's largest payload as base64 fits several times over). */
export const MAX_BODY_BYTES = 1024 * 1024;

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ControlRequest {
  /** The path's `{name}` segments, percent-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The JSON body, parsed; undefined when there is none. */
  body: unknown;
  /** Aborted when the control server closes: long polls give up. */
  signal: AbortSignal;
  /** The control server's own URL. */
  url: string;
  /** Long polls open now (waiting on the endpoint). */
  openPolls: number;
}

/** A JSON answer (status 200 unless given), JSON already written as text, or plain text. */
export type Answer = { status?: number; json: unknown } | { status?: number; jsonText: string } | { status?: number; text: string; contentType?: string };

/** Entries written a chunk at a time, with a turn of the event loop between chunks (MQTT goes on meanwhile). */
const CHUNK_ENTRIES = 250;

/**
 * The entries as JSON text (an array), JSON lines, or `format()`'s lines, a chunk at a time: a long trace
 * never holds MQTT up for long.
 */
async function entriesText(iot: FakeIot, entries: readonly TraceEntry[], as: 'json' | 'jsonl' | 'text'): Promise<string> {
  const parts: string[] = [];
  for (let i = 0; i < entries.length; i += CHUNK_ENTRIES) {
    if (i > 0) await nextTurn();
    const chunk = entries.slice(i, i + CHUNK_ENTRIES);
    parts.push(as === 'text' ? iot.trace.format(chunk) : chunk.map(entryJSONText).join(as === 'json' ? ',' : '\n'));
  }
  if (as === 'json') return `[${parts.join(',')}]`;
  return parts.length ? `${parts.join('\n')}\n` : '';
}

/** An error answer with its status and stable code (the body is `{ code, message, field?, awsError? }`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** JOB_REJECTED: the exception AWS's control plane names (ResourceNotFoundException, ...). */
    readonly awsError?: string,
  ) {
    super(message);
  }
}

export interface Route {
  method: Method;
  path: string;
  /** Errors carry AWS's `x-amzn-ErrorType` header too, so the AWS SDK raises its typed exceptions. */
  aws?: boolean;
  /** Waits for something to happen (bounded): counts toward the server's limit of open long polls. */
  longPoll?: boolean;
  handle(iot: FakeIot, request: ControlRequest): Answer | Promise<Answer>;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body as an object with only the given fields (no body: `{}`). */
function bodyOf(request: ControlRequest, fields: readonly string[]): Record<string, unknown> {
  const body = request.body ?? {};
  if (!isObject(body)) throw new BadRequest('body', `the body must be a JSON object with the fields ${fields.join(', ')}`);
  for (const key of Object.keys(body)) {
    if (!fields.includes(key)) throw new BadRequest(key, `${key}: unknown field (fields: ${fields.join(', ')})`);
  }
  return body;
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new BadRequest(field, `${field} must be true or false (got ${JSON.stringify(value)})`);
}

/** A query parameter `true` / `false` (absent: false), as AWS's DeleteConnection takes them. */
function queryBoolean(request: ControlRequest, name: string): boolean {
  const value = request.query.get(name);
  if (value === null || value === 'false') return false;
  if (value === 'true') return true;
  throw new BadRequest(name, `${name} must be true or false (got ${JSON.stringify(value)})`);
}

function timeoutOf(value: unknown): number {
  if (value === undefined) return DEFAULT_WAIT_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_WAIT_MS) {
    throw new BadRequest('timeoutMs', `timeoutMs must be a whole number of milliseconds from 0 to ${MAX_WAIT_MS} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function wholeQuery(request: ControlRequest, name: string): number | undefined {
  const value = request.query.get(name);
  if (value === null) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new BadRequest(name, `${name} must be a whole number >= 0 (got ${JSON.stringify(value)})`);
  return Number(value);
}

/** The library's message for an answer: without its `[fake-aws-iot] ` prefix. */
const bare = (error: Error) => error.message.replace(/^\[fake-aws-iot\] /, '');

/** Re-throws a FakeIotError about the arguments as a 400 naming `field` (`field(message)` when it depends on the message). */
function naming<T>(field: string | ((message: string) => string), fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof FakeIotError && (error.code === 'INVALID_ARGUMENT' || error.code === 'INVALID_OPTION')) {
      const message = bare(error);
      throw new BadRequest(typeof field === 'string' ? field : field(message), message);
    }
    throw error;
  }
}

/** Which field of a publish request iot.publish() refused, from what its message is about. */
function publishField(message: string): string {
  const property = /\{ properties \}\): (?:unknown property "?(\w+)|(\w+) must)/.exec(message);
  if (property) return `properties.${property[1] ?? property[2]}`;
  if (message.includes('{ properties })')) return 'properties';
  if (message.includes('{ retain: true })') || message.includes('options.retain')) return 'retain';
  if (message.includes('options.qos')) return 'qos';
  if (/\): payload (is|must)/.test(message)) return 'payload';
  return 'topic';
}

/** A disconnect from the control API: 404 when the client is neither connected nor has a session (AWS's ResourceNotFoundException). */
function disconnect(iot: FakeIot, clientId: string, options: { cleanSession?: boolean; preventWillMessage?: boolean }): Answer {
  const known = naming('clientId', () => iot.disconnect(clientId, options));
  if (!known) throw new HttpError(404, 'NOT_FOUND', `client ${JSON.stringify(clientId)} is not connected and has no persistent session`, 'clientId');
  return { json: {} };
}

/** The shadow a request names: `{thingName}` and `?name=` (absent: the classic shadow). */
function shadowOf(request: ControlRequest): [string, { shadowName?: string }] {
  const name = request.query.get('name');
  return [request.params.thingName!, name === null ? {} : { shadowName: name }];
}

/** AWS's thing names: 1-128 of a-zA-Z0-9:_-. */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

/** Which of the two names the shadow service refused: the thing's or else the shadow's. */
const shadowNameField = (thingName: string) => (THING_NAME.test(thingName) ? 'name' : 'thingName');

/** A path's `{thingName}` for the Jobs routes, refused 400 unless AWS would take it as a thing name. */
function thingNameOf(request: ControlRequest): string {
  const thingName = request.params.thingName!;
  if (!THING_NAME.test(thingName)) throw new BadRequest('thingName', `thingName must be 1 to 128 of a-z A-Z 0-9 : _ - (got ${JSON.stringify(thingName.slice(0, 140))})`);
  return thingName;
}

/** A job id (AWS: a-zA-Z0-9_-, at most the profile's jobsMaxJobIdChars), from the path or the body. */
function jobIdOf(iot: FakeIot, value: unknown, field = 'jobId'): string {
  const max = iot.profile.limits.jobsMaxJobIdChars;
  if (typeof value !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(value) || value.length > max) {
    throw new BadRequest(field, `${field} must be 1 to ${max} characters of a-z A-Z 0-9 _ - (got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : value)?.slice(0, 100)})`);
  }
  return value;
}

/**
 * The status AWS's control plane answers each exception of `iot.jobs` with (AWS IoT API reference: CreateJob,
 * CancelJob, CancelJobExecution, DeleteJobExecution).
 */
const JOB_REJECTION_STATUS: Readonly<Record<string, number>> = {
  ResourceNotFoundException: 404,
  ResourceAlreadyExistsException: 409,
  InvalidStateTransitionException: 409,
  VersionConflictException: 409,
};

/** The request field to change after AWS refused a jobs request, when there is one (`notFound`: the route's id). */
function rejectedField(awsError: string, message: string, notFound: string | undefined): string | undefined {
  if (awsError === 'ResourceNotFoundException') return notFound;
  if (awsError === 'ResourceAlreadyExistsException') return 'jobId';
  if (awsError === 'VersionConflictException') return 'expectedVersion';
  // An execution that has not ended may be canceled or deleted with force; a terminal one never.
  if (awsError === 'InvalidStateTransitionException' && message.includes('needs force')) return 'force';
  return undefined;
}

/**
 * An `iot.jobs` call for a route: a refusal of its arguments is a 400 naming `field`; what AWS refuses
 * (JOB_REJECTED) is answered with AWS's status for the exception, named in `awsError`, and the request field
 * to change (`notFound` for ResourceNotFoundException).
 */
function jobCall<T>(field: string | ((message: string) => string), notFound: string | undefined, fn: () => T): T {
  try {
    return naming(field, fn);
  } catch (error) {
    if (!(error instanceof FakeIotError) || error.code !== 'JOB_REJECTED') throw error;
    const awsError = (error as FakeIotError & { awsError?: string }).awsError ?? 'InvalidRequestException';
    const message = bare(error);
    throw new HttpError(JOB_REJECTION_STATUS[awsError] ?? 400, 'JOB_REJECTED', message, rejectedField(awsError, message, notFound), awsError);
  }
}

/** Which field of a job iot.jobs.create() refused, from what its message is about. */
const createJobField = (message: string) => /\): (jobId|targets|document|description|timeoutConfig(?:\.inProgressTimeoutInMinutes)?)\b/.exec(message)?.[1] ?? 'body';

function optionalWhole(value: unknown, field: string): number | undefined {
  if (value === undefined || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) return value;
  throw new BadRequest(field, `${field} must be a whole number >= 0 (got ${JSON.stringify(value)?.slice(0, 100)})`);
}

/** Chaos options in JSON: scope `clients` may hold `{ "$regex" }` for a RegExp. */
function chaosFromJson(body: unknown): ChaosOptions {
  if (!isObject(body)) return body as ChaosOptions; // iot.chaos.set() says what is wrong with it
  const out: Record<string, unknown> = { ...body };
  for (const fault of FAULTS) {
    const knob = body[fault];
    if (!isObject(knob) || !Array.isArray(knob.clients)) continue;
    out[fault] = { ...knob, clients: knob.clients.map((c: unknown, i) => (isObject(c) ? regexFromJson(c, `${fault}.clients[${i}]`) : c)) };
  }
  return out as ChaosOptions;
}

/** iot.chaos.set()'s refusal about the body: `iot.chaos.set(options).x.y must ...` → field `x.y`, message `x.y must ...`. */
function chaosRefusal(error: BadRequest): BadRequest {
  const where = /iot\.chaos\.set\(options\)\.((?:[\w$]+|\[\d+\])(?:\.[\w$]+|\[\d+\])*)/.exec(error.message)?.[1] ?? 'body';
  return new BadRequest(where, error.message.replace(/iot\.chaos\.set\(options\)\./g, '').replace(/iot\.chaos\.set\(options\)/g, 'the body'));
}

const trace = (iot: FakeIot) => {
  if (!iot.trace.enabled) throw new HttpError(409, 'TRACE_DISABLED', 'the endpoint was started with trace: false: it records nothing');
  return iot.trace;
};

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/endpoint',
    handle: (iot) => ({
      json: {
        url: iot.url, host: iot.host, port: iot.port, seed: iot.seed, profile: iot.profile.name, clock: iot.clock.mode,
        ...(iot.tls ? { tls: { url: iot.tls.url, port: iot.tls.port, caPath: iot.tls.caPath } } : {}),
        ...(iot.ws ? { ws: { url: iot.ws.url, port: iot.ws.port } } : {}),
        ...(iot.http ? { http: { url: iot.http.url, port: iot.http.port } } : {}),
      },
    }),
  },
  {
    method: 'GET',
    path: '/control',
    handle: (_iot, request) => ({ json: { openPolls: request.openPolls, maxOpenPolls: MAX_OPEN_POLLS, maxWaitMs: MAX_WAIT_MS, maxBodyBytes: MAX_BODY_BYTES } }),
  },
  {
    method: 'POST',
    path: '/publish',
    handle(iot, request) {
      const body = bodyOf(request, ['topic', 'payload', 'qos', 'retain', 'properties']);
      if (typeof body.topic !== 'string') throw new BadRequest('topic', `topic must be a string such as "cmd/dev-1" (got ${JSON.stringify(body.topic)})`);
      const payload = body.payload === undefined ? Buffer.alloc(0) : payloadFromJson(body.payload, 'payload');
      if (body.qos !== undefined && body.qos !== 0 && body.qos !== 1) throw new BadRequest('qos', `qos must be 0 or 1; AWS IoT has no QoS 2 (got ${JSON.stringify(body.qos)})`);
      const options: PublishOptions = { qos: (body.qos as 0 | 1 | undefined) ?? 0 };
      const retain = optionalBoolean(body.retain, 'retain');
      if (retain !== undefined) options.retain = retain;
      if (body.properties !== undefined) {
        if (!isObject(body.properties)) throw new BadRequest('properties', 'properties must be an object such as { "userProperties": { "source": "rule" } }');
        const { correlationData } = body.properties;
        options.properties = { ...body.properties, ...(correlationData !== undefined ? { correlationData: payloadFromJson(correlationData, 'properties.correlationData') } : {}) };
      }
      try {
        naming(publishField, () => iot.publish(body.topic as string, payload, options));
      } catch (error) {
        if (error instanceof FakeIotError && error.code === 'THROTTLED') throw new HttpError(429, 'THROTTLED', bare(error), 'retain');
        throw error;
      }
      return { json: {} };
    },
  },
  {
    method: 'GET',
    path: '/clients',
    handle: (iot) => ({ json: { clients: iot.clients() } }),
  },
  {
    method: 'POST',
    path: '/clients/{clientId}/disconnect',
    handle(iot, request) {
      const body = bodyOf(request, ['cleanSession', 'preventWillMessage']);
      return disconnect(iot, request.params.clientId!, {
        cleanSession: optionalBoolean(body.cleanSession, 'cleanSession') ?? false,
        preventWillMessage: optionalBoolean(body.preventWillMessage, 'preventWillMessage') ?? false,
      });
    },
  },
  {
    // AWS's DeleteConnection, as the AWS SDK calls it (aws-iot-behaviour.md §1.13).
    method: 'DELETE',
    path: '/connections/{clientId}',
    aws: true,
    handle: (iot, request) =>
      disconnect(iot, request.params.clientId!, { cleanSession: queryBoolean(request, 'cleanSession'), preventWillMessage: queryBoolean(request, 'preventWillMessage') }),
  },
  {
    method: 'GET',
    path: '/trace',
    async handle(iot, request) {
      const after = wholeQuery(request, 'after') ?? 0;
      const limit = wholeQuery(request, 'limit');
      const format = request.query.get('format') ?? 'json';
      if (format !== 'json' && format !== 'jsonl' && format !== 'text') throw new BadRequest('format', `format must be json, jsonl or text (got ${JSON.stringify(format)})`);
      let entries = trace(iot).entries.filter((e) => e.seq > after);
      if (limit !== undefined) entries = entries.slice(0, limit);
      if (format === 'text') return { text: await entriesText(iot, entries, 'text') };
      if (format === 'jsonl') {
        // As the CLI's --trace-file has it (a run header, then the entries): what `fake-aws-iot trace view|pcap` reads.
        const header = JSON.stringify({ kind: 'run', seed: iot.seed, url: iot.url, profile: iot.profile.name });
        return { text: `${header}\n${await entriesText(iot, entries, 'jsonl')}`, contentType: 'application/x-ndjson' };
      }
      return { jsonText: `{"seed":${iot.seed},"entries":${await entriesText(iot, entries, 'json')}}` };
    },
  },
  {
    method: 'DELETE',
    path: '/trace',
    handle(iot) {
      iot.trace.clear();
      return { json: {} };
    },
  },
  {
    method: 'POST',
    path: '/trace/filter',
    async handle(iot, request) {
      const body = bodyOf(request, ['match']);
      const match = matchFromJson(body.match, 'match');
      return { jsonText: `{"entries":${await entriesText(iot, trace(iot).filter(match), 'json')}}` };
    },
  },
  {
    method: 'POST',
    path: '/trace/wait',
    longPoll: true,
    async handle(iot, request) {
      const body = bodyOf(request, ['match', 'after', 'timeoutMs']);
      const match = matchFromJson(body.match, 'match');
      if (body.after !== undefined) {
        const after = body.after;
        if (typeof after !== 'number' || !Number.isInteger(after) || after < 0) throw new BadRequest('after', `after must be a trace entry's seq, a whole number >= 0 (got ${JSON.stringify(after)})`);
        if ('seq' in match) throw new BadRequest('after', 'give either after or match.seq, not both');
        // Only entries after that one: what happens next, not what happened before.
        Object.assign(match, { seq: Object.defineProperty((seq: number) => seq > after, 'name', { value: `after ${after}` }) });
      }
      const timeoutMs = timeoutOf(body.timeoutMs);
      const entry = await trace(iot).waitFor(match, { timeoutMs, signal: request.signal });
      return { json: { entry: entryToJSON(entry) } };
    },
  },
  {
    method: 'POST',
    path: '/settled',
    longPoll: true,
    async handle(iot, request) {
      const body = bodyOf(request, ['timeoutMs']);
      await iot.settled({ timeoutMs: timeoutOf(body.timeoutMs), signal: request.signal });
      return { json: {} };
    },
  },
  {
    method: 'GET',
    path: '/chaos',
    handle: (iot) => ({ json: { paused: iot.chaos.paused, decisions: iot.chaos.log().length, droppedDecisions: iot.chaos.droppedDecisions } }),
  },
  {
    method: 'PUT',
    path: '/chaos',
    handle(iot, request) {
      const options = chaosFromJson(request.body ?? {});
      try {
        naming('body', () => iot.chaos.set(options));
      } catch (error) {
        throw error instanceof BadRequest ? chaosRefusal(error) : error;
      }
      return { json: {} };
    },
  },
  {
    method: 'POST',
    path: '/chaos/pause',
    handle(iot) {
      iot.chaos.pause();
      return { json: { paused: iot.chaos.paused } };
    },
  },
  {
    method: 'POST',
    path: '/chaos/resume',
    handle(iot) {
      iot.chaos.resume();
      return { json: { paused: iot.chaos.paused } };
    },
  },
  {
    method: 'GET',
    path: '/chaos/log',
    handle: (iot) => ({ json: { decisions: iot.chaos.log(), droppedDecisions: iot.chaos.droppedDecisions } }),
  },
  {
    method: 'GET',
    path: '/chaos/script',
    handle: (iot) => ({ json: { script: iot.chaos.toScript() } }),
  },
  {
    method: 'GET',
    path: '/clock',
    handle: (iot) => ({ json: { mode: iot.clock.mode, now: iot.clock.now() } }),
  },
  {
    method: 'POST',
    path: '/clock/advance',
    handle(iot, request) {
      const { ms } = bodyOf(request, ['ms']);
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new BadRequest('ms', `ms must be a number of milliseconds >= 0 (got ${JSON.stringify(ms)})`);
      if (iot.clock.mode !== 'virtual') {
        throw new HttpError(409, 'CLOCK_NOT_VIRTUAL', `the endpoint runs on the ${iot.clock.mode} clock; start it with clock: 'virtual' (CLI: --config with "clock": "virtual") to move time by hand`);
      }
      iot.clock.advance(ms);
      return { json: { now: iot.clock.now() } };
    },
  },
  {
    method: 'GET',
    path: '/shadows',
    handle(iot, request) {
      const thingName = request.query.get('thingName');
      return { json: { shadows: iot.shadows.list(thingName ?? undefined).map((s) => ({ thingName: s.thingName, ...(s.shadowName !== undefined ? { shadowName: s.shadowName } : {}) })) } };
    },
  },
  {
    method: 'GET',
    path: '/things/{thingName}/shadow',
    handle(iot, request) {
      const [thingName, options] = shadowOf(request);
      const document = iot.shadows.get(thingName, options);
      if (!document) throw new HttpError(404, 'NOT_FOUND', `no shadow ${JSON.stringify(options.shadowName ?? '(classic)')} exists for thing ${JSON.stringify(thingName)}`);
      return { json: document };
    },
  },
  {
    method: 'POST',
    path: '/things/{thingName}/shadow',
    handle(iot, request) {
      const [thingName, options] = shadowOf(request);
      if (!isObject(request.body)) throw new BadRequest('body', 'the body must be a shadow document such as { "state": { "desired": { "on": true } } }');
      return { json: naming(() => shadowNameField(thingName), () => iot.shadows.update(thingName, request.body as object, options)) };
    },
  },
  {
    method: 'DELETE',
    path: '/things/{thingName}/shadow',
    handle(iot, request) {
      const [thingName, options] = shadowOf(request);
      return { json: naming(() => shadowNameField(thingName), () => iot.shadows.delete(thingName, options)) };
    },
  },
  {
    method: 'POST',
    path: '/jobs',
    handle(iot, request) {
      const body = bodyOf(request, ['jobId', 'targets', 'document', 'description', 'timeoutConfig']);
      const job = { ...body, jobId: jobIdOf(iot, body.jobId) } as CreateJobSpec;
      return { json: jobCall(createJobField, undefined, () => iot.jobs.create(job)) };
    },
  },
  {
    method: 'GET',
    path: '/jobs/{jobId}',
    handle(iot, request) {
      const jobId = jobIdOf(iot, request.params.jobId);
      const job = iot.jobs.describe(jobId);
      if (!job) throw new HttpError(404, 'NOT_FOUND', `no job ${JSON.stringify(jobId)}`, 'jobId');
      return { json: job };
    },
  },
  {
    method: 'POST',
    path: '/jobs/{jobId}/cancel',
    handle(iot, request) {
      const jobId = jobIdOf(iot, request.params.jobId);
      const body = bodyOf(request, ['force', 'comment']);
      const options: CancelJobOptions = { force: optionalBoolean(body.force, 'force') ?? false };
      if (body.comment !== undefined) {
        if (typeof body.comment !== 'string') throw new BadRequest('comment', `comment must be a string (got ${JSON.stringify(body.comment)?.slice(0, 100)})`);
        options.comment = body.comment;
      }
      return { json: jobCall('body', 'jobId', () => iot.jobs.cancel(jobId, options)) };
    },
  },
  {
    method: 'GET',
    path: '/things/{thingName}/jobs',
    handle: (iot, request) => ({ json: { executions: iot.jobs.executions(thingNameOf(request)) } }),
  },
  {
    method: 'GET',
    path: '/things/{thingName}/jobs/{jobId}',
    handle(iot, request) {
      const thingName = thingNameOf(request);
      const jobId = jobIdOf(iot, request.params.jobId);
      const execution = iot.jobs.execution(thingName, jobId);
      if (!execution) throw new HttpError(404, 'NOT_FOUND', `no execution of job ${JSON.stringify(jobId)} on thing ${JSON.stringify(thingName)}`);
      return { json: execution };
    },
  },
  {
    method: 'POST',
    path: '/things/{thingName}/jobs/{jobId}/cancel',
    handle(iot, request) {
      const thingName = thingNameOf(request);
      const jobId = jobIdOf(iot, request.params.jobId);
      const body = bodyOf(request, ['force', 'expectedVersion']);
      const options: CancelExecutionOptions = { force: optionalBoolean(body.force, 'force') ?? false };
      const expectedVersion = optionalWhole(body.expectedVersion, 'expectedVersion');
      if (expectedVersion !== undefined) options.expectedVersion = expectedVersion;
      return { json: jobCall('body', undefined, () => iot.jobs.cancelExecution(jobId, thingName, options)) };
    },
  },
  {
    method: 'DELETE',
    path: '/things/{thingName}/jobs/{jobId}',
    handle(iot, request) {
      const thingName = thingNameOf(request);
      const jobId = jobIdOf(iot, request.params.jobId);
      const options: DeleteExecutionOptions = { force: queryBoolean(request, 'force') };
      const executionNumber = wholeQuery(request, 'executionNumber');
      if (executionNumber !== undefined) options.executionNumber = executionNumber;
      jobCall('body', undefined, () => iot.jobs.deleteExecution(jobId, thingName, options));
      return { json: {} };
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    handle: (_iot, request) => ({ json: { ...openapi, servers: [{ url: request.url }] } }),
  },
];
