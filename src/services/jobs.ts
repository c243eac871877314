/**
 * AWS IoT Jobs, the side devices see (aws-iot-behaviour.md §5): jobs and their executions per thing, the
 * execution state machine, the pending list and its two notifications, step and in-progress timeouts, and
 * the request, response and error documents of the MQTT API. Pure state and rules on the endpoint's time
 * (`now` is passed in): the broker hands it what clients publish under `$aws/things/{thing}/jobs/`, the data
 * plane its HTTP calls, `iot.jobs` the cloud's; the runtime (jobs-runtime.ts) delivers what it answers and
 * keeps one timer for the next deadline (`nextDeadline()` / `expire()`).
 */

import type { Limits } from '../aws/profile';
import type { JobsErrorsCode } from '../chaos/types';

/** The Jobs service's numbers (part of the profile's limits, cited to aws-iot-behaviour.md §5 there). */
export type JobsLimits = Pick<
  Limits,
  'jobsMaxJobIdChars' | 'jobsMaxDocumentBytes' | 'jobsMaxClientTokenChars' | 'jobsMaxStatusDetailsKeyChars' | 'jobsMaxStatusDetailsValueChars' | 'jobsMaxTimeoutMinutes' | 'jobsMaxNotifyExecutions'
>;

export const EXECUTION_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED'] as const;
export type JobExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** AWS: an execution in one of these statuses never changes again (§5; the jobs notification page). */
const TERMINAL: ReadonlySet<JobExecutionStatus> = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED']);
export const isTerminal = (status: JobExecutionStatus): boolean => TERMINAL.has(status);

/** What a device may set with UpdateJobExecution (§5). QUEUED, CANCELED, TIMED_OUT and REMOVED are the service's. */
const DEVICE_STATUSES: ReadonlySet<string> = new Set(['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED']);

/** The `code` of a `/rejected` document (§5). */
export type JobsErrorCode =
  | 'InvalidTopic'
  | 'InvalidJson'
  | 'InvalidRequest'
  | 'InvalidStateTransition'
  | 'ResourceNotFound'
  | 'VersionMismatch'
  | 'InternalError'
  | 'RequestThrottled'
  | 'TerminalStateReached';

/** The transient errors chaos (`jobsErrors`) may answer a request with. */
export type TransientJobsError = JobsErrorsCode;

/** What changed (or was asked) — the `operation` of a `job` trace event. */
export type JobOperation = 'create' | 'get' | 'start-next' | 'describe' | 'update' | 'cancel' | 'delete' | 'remove' | 'timeout' | 'invalid-topic';

/** A refusal: AWS's code and a message, with the execution's state for InvalidStateTransition and VersionMismatch. */
export class JobsError extends Error {
  constructor(
    /** A device-API code, or ResourceAlreadyExists (only `iot.jobs.create()` says it). */
    readonly code: JobsErrorCode | 'ResourceAlreadyExists',
    message: string,
    readonly executionState?: ExecutionState,
  ) {
    super(message);
  }
}

export interface ExecutionState {
  status: JobExecutionStatus;
  statusDetails?: Record<string, string>;
  versionNumber: number;
}

/** A request topic taken apart. `operation` is `'invalid'` for a topic in the Jobs namespace that is no API. */
export interface JobsTopic {
  thingName: string;
  operation: 'get' | 'start-next' | 'describe' | 'update' | 'invalid';
  /** DescribeJobExecution and UpdateJobExecution: the job id as the topic names it (`$next` for describe). */
  jobId?: string;
  /** The request topic; the answer goes to it plus `/accepted` or `/rejected`. */
  topic: string;
}

/** A message the service sends: topic and JSON document. */
export interface JobsMessage {
  topic: string;
  document: object;
}

/** One change of an execution: what the trace records as a `job` event. */
export interface JobChange {
  thingName: string;
  jobId: string;
  executionNumber: number;
  operation: JobOperation;
  status: JobExecutionStatus;
  /** The status before (absent when the execution was created). */
  previousStatus?: JobExecutionStatus;
  versionNumber: number;
  /** deleteExecution: the execution is gone (status is the one it had). */
  deleted?: true;
  /** A timeout: which timer ran out. */
  timer?: 'step' | 'in-progress';
}

/** What an operation did: the changes (for the trace) and the notifications to publish, in order. */
export interface JobsOutcome {
  changes: JobChange[];
  notifications: JobsMessage[];
}

/** The answer to an MQTT request: the message for the requester, and what the request changed. */
export interface MqttAnswer extends JobsOutcome {
  response: JobsMessage;
  operation: JobOperation;
  /** Set when the request was rejected. */
  error?: JobsErrorCode;
  /** The job id the request named (for the trace), when it named one. */
  jobId?: string;
}

export type JobStatus = 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED';

/** What `iot.jobs.create()` takes. */
export interface CreateJobSpec {
  jobId: string;
  /** Thing names, or thing ARNs (`arn:aws:iot:<region>:<account>:thing/<name>`). */
  targets: string[];
  /** The job document: an object, or its JSON text (AWS: a JSON document of at most 32 KB). */
  document: object | string;
  description?: string;
  /** AWS's timeoutConfig: an IN_PROGRESS execution not finished within this many minutes becomes TIMED_OUT. */
  timeoutConfig?: { inProgressTimeoutInMinutes?: number };
}

/** A job as `iot.jobs.describe()` shows it (AWS's DescribeJob, times in seconds). */
export interface JobDescription {
  jobId: string;
  status: JobStatus;
  targets: string[];
  document: object;
  description?: string;
  timeoutConfig?: { inProgressTimeoutInMinutes: number };
  forceCanceled?: boolean;
  comment?: string;
  createdAt: number;
  lastUpdatedAt: number;
  completedAt?: number;
  /** How many executions are in each status (deleted ones are not counted). */
  jobProcessDetails: Record<'numberOfQueuedThings' | 'numberOfInProgressThings' | 'numberOfSucceededThings' | 'numberOfFailedThings' | 'numberOfRejectedThings' | 'numberOfCanceledThings' | 'numberOfTimedOutThings' | 'numberOfRemovedThings', number>;
}

/** An execution as the cloud side sees it (AWS's control-plane JobExecution, times in seconds). */
export interface JobExecutionInfo {
  jobId: string;
  thingName: string;
  status: JobExecutionStatus;
  statusDetails?: Record<string, string>;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  executionNumber: number;
  forceCanceled?: boolean;
  /** While a step or in-progress timer runs: seconds until the execution times out. */
  approximateSecondsBeforeTimedOut?: number;
}

interface Job {
  jobId: string;
  documentText: string;
  document: object;
  description?: string;
  targets: string[];
  status: JobStatus;
  createdAt: number;
  lastUpdatedAt: number;
  completedAt?: number;
  forceCanceled?: boolean;
  comment?: string;
  inProgressTimeoutMinutes?: number;
  /** Its executions, by thing name (deleted ones are gone). */
  executions: Map<string, Execution>;
}

/** An execution as the service keeps it: what the cloud sees, but its times in endpoint ms, and its timers. */
interface Execution extends Pick<JobExecutionInfo, 'thingName' | 'status' | 'statusDetails' | 'versionNumber' | 'executionNumber' | 'forceCanceled'> {
  job: Job;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  /** When the step timer / the job's in-progress timer runs out (endpoint ms), while they run. */
  stepDeadline?: number;
  inProgressDeadline?: number;
}

/** What one operation works with: its time, and the things whose pending list it may change. */
export interface JobsContext {
  now: number;
  changes: JobChange[];
  /** Per thing touched: its pending job ids and head before the operation. */
  before: Map<string, { ids: Set<string>; head: string | undefined }>;
}

export type StartNextRequest = { statusDetails?: Record<string, string>; stepTimeoutInMinutes?: number };
export type DescribeRequest = { executionNumber?: number; includeJobDocument?: boolean };
export type UpdateRequest = {
  status: string;
  statusDetails?: Record<string, string>;
  expectedVersion?: number;
  executionNumber?: number;
  includeJobExecutionState?: boolean;
  includeJobDocument?: boolean;
  stepTimeoutInMinutes?: number;
};

/** How an execution's job document is shown: the object (MQTT), its JSON text (HTTP), or not at all. */
type DocumentForm = 'object' | 'text' | 'none';

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const JOB_ID = /^[a-zA-Z0-9_-]+$/;
const STATUS_KEY = /^[a-zA-Z0-9:_-]+$/;
/** A statusDetails value: no control, format or unassigned characters (AWS: `[^\p{C}]+`). */
const STATUS_VALUE = /^[^\p{C}]+$/u;
const THING_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:thing\/(.+)$/;

const secs = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.floor(ms / 1000));
const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** The Jobs request a topic names, or undefined when the topic is outside `$aws/things/{thing}/jobs/...`. */
export function parseJobsTopic(topic: string): JobsTopic | undefined {
  if (!topic.startsWith('$aws/things/')) return undefined;
  const levels = topic.split('/');
  if (levels.length < 5 || levels[3] !== 'jobs') return undefined;
  const thingName = levels[2]!;
  const api = levels.slice(4);
  let operation: JobsTopic['operation'] = 'invalid';
  let jobId: string | undefined;
  if (api.length === 1 && (api[0] === 'get' || api[0] === 'start-next')) operation = api[0];
  else if (api.length === 2 && (api[1] === 'get' || api[1] === 'update')) {
    operation = api[1] === 'get' ? 'describe' : 'update';
    jobId = api[0];
  }
  // A thing name AWS would not accept names no thing: the topic maps to no API.
  if (!THING_NAME.test(thingName)) operation = 'invalid';
  return { thingName, operation, ...(jobId !== undefined ? { jobId } : {}), topic };
}

export class JobsService {
  private readonly jobs = new Map<string, Job>();
  /** Per thing: its executions in the order they were queued (job id → execution). */
  private readonly things = new Map<string, Map<string, Execution>>();

  constructor(private readonly limits: JobsLimits) {}

  // ---- the MQTT API ---------------------------------------------------------------------------

  /** Answers a request published to a Jobs topic: the message for the requester, and what changed. */
  mqtt(t: JobsTopic, payload: Buffer, now: number): MqttAnswer {
    const timestamp = secs(now)!;
    const operation: JobOperation = t.operation === 'invalid' ? 'invalid-topic' : t.operation;
    let clientToken: string | undefined;
    const ctx = this.context(now);
    try {
      const body = this.body(payload);
      clientToken = this.clientToken(body);
      if (t.operation === 'invalid') throw new JobsError('InvalidTopic', `The topic ${JSON.stringify(t.topic)} maps to no AWS IoT Jobs API`);
      const answer = this.deviceRequest(t, body, ctx);
      const outcome = this.finish(ctx);
      return { ...outcome, operation, ...(t.jobId !== undefined ? { jobId: t.jobId } : {}), response: { topic: `${t.topic}/accepted`, document: clean({ ...answer, timestamp, clientToken }) } };
    } catch (error) {
      if (!(error instanceof JobsError)) throw error;
      const outcome = this.finish(ctx); // nothing changed, but the context is closed all the same
      const code = error.code as JobsErrorCode;
      const document = clean({ code, message: error.message, clientToken, timestamp, executionState: error.executionState });
      return { ...outcome, operation, error: code, ...(t.jobId !== undefined ? { jobId: t.jobId } : {}), response: { topic: `${t.topic}/rejected`, document } };
    }
  }

  /** The answer to a request refused with a transient error (chaos: jobsErrors): nothing changes. */
  refuse(t: JobsTopic, payload: Buffer, code: TransientJobsError, now: number): MqttAnswer {
    let clientToken: string | undefined;
    try {
      clientToken = this.clientToken(this.body(payload));
    } catch {
      // an unreadable request gets the transient error all the same
    }
    // AWS documents the codes, not the messages [UNVERIFIED].
    const message = code === 'RequestThrottled' ? 'The request was throttled' : 'An internal error occurred';
    return {
      changes: [], notifications: [], operation: t.operation === 'invalid' ? 'invalid-topic' : t.operation, error: code,
      ...(t.jobId !== undefined ? { jobId: t.jobId } : {}),
      response: { topic: `${t.topic}/rejected`, document: clean({ code, message, clientToken, timestamp: secs(now) }) },
    };
  }

  private deviceRequest(t: JobsTopic, body: Record<string, unknown>, ctx: JobsContext): object {
    switch (t.operation) {
      case 'get':
        return this.getPending(t.thingName);
      case 'start-next':
        return this.startNext(t.thingName, this.startNextRequest(body), ctx, 'object');
      case 'describe':
        return this.describe(t.thingName, t.jobId!, this.describeRequest(body), ctx.now, 'object');
      default:
        return this.update(t.thingName, t.jobId!, this.updateRequest(body), ctx, 'object');
    }
  }

  /** A request body: empty is `{}`; otherwise a UTF-8 JSON object (InvalidJson / InvalidRequest). */
  private body(payload: Buffer): Record<string, unknown> {
    if (payload.length === 0) return {};
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    } catch {
      throw new JobsError('InvalidJson', 'The request could not be read as UTF-8 JSON');
    }
    if (!isObject(value)) throw new JobsError('InvalidRequest', 'The request must be a JSON object');
    return value;
  }

  private clientToken(body: Record<string, unknown>): string | undefined {
    const token = body.clientToken;
    if (token === undefined) return undefined;
    if (typeof token !== 'string' || token.length === 0 || token.length > this.limits.jobsMaxClientTokenChars) {
      throw new JobsError('InvalidRequest', `clientToken must be a string of 1 to ${this.limits.jobsMaxClientTokenChars} characters`);
    }
    return token;
  }

  // ---- request fields, shared by MQTT and HTTP ---------------------------------------------------

  /** Checks statusDetails: a map of names ([a-zA-Z0-9:_-]) to non-empty strings, within the profile's lengths. */
  statusDetails(value: unknown): Record<string, string> | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) throw new JobsError('InvalidRequest', 'statusDetails must be an object of names to strings');
    const { jobsMaxStatusDetailsKeyChars: maxKey, jobsMaxStatusDetailsValueChars: maxValue } = this.limits;
    for (const [key, v] of Object.entries(value)) {
      if (!STATUS_KEY.test(key) || key.length > maxKey) throw new JobsError('InvalidRequest', `statusDetails: ${JSON.stringify(key.slice(0, 140))} is not a valid name (1 to ${maxKey} of a-z A-Z 0-9 : _ -)`);
      if (typeof v !== 'string' || !STATUS_VALUE.test(v) || v.length > maxValue) {
        throw new JobsError('InvalidRequest', `statusDetails.${key} must be a string of 1 to ${maxValue} characters without control characters`);
      }
    }
    return { ...(value as Record<string, string>) };
  }

  /** stepTimeoutInMinutes: 1 to jobsMaxTimeoutMinutes, or -1 (AWS: cancels the step timer). */
  stepTimeout(value: unknown): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isWhole(value) || (value !== -1 && (value < 1 || value > this.limits.jobsMaxTimeoutMinutes))) {
      throw new JobsError('InvalidRequest', `stepTimeoutInMinutes must be a whole number of minutes from 1 to ${this.limits.jobsMaxTimeoutMinutes}, or -1 to cancel the step timer`);
    }
    return value;
  }

  private bool(value: unknown, name: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw new JobsError('InvalidRequest', `${name} must be true or false`);
    return value;
  }

  private whole(value: unknown, name: string, min: number): number | undefined {
    if (value === undefined || value === null) return undefined;
    // The API documents expectedVersion as a number; its MQTT page quotes it as a string: both are read.
    const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
    if (!isWhole(n) || n < min) throw new JobsError('InvalidRequest', `${name} must be a whole number >= ${min}`);
    return n;
  }

  startNextRequest(body: Record<string, unknown>): StartNextRequest {
    return clean({ statusDetails: this.statusDetails(body.statusDetails), stepTimeoutInMinutes: this.stepTimeout(body.stepTimeoutInMinutes) });
  }

  describeRequest(body: Record<string, unknown>): DescribeRequest {
    return clean({ executionNumber: this.whole(body.executionNumber, 'executionNumber', 0), includeJobDocument: this.bool(body.includeJobDocument, 'includeJobDocument') });
  }

  updateRequest(body: Record<string, unknown>): UpdateRequest {
    const status = body.status;
    if (typeof status !== 'string' || !(EXECUTION_STATUSES as readonly string[]).includes(status)) {
      throw new JobsError('InvalidRequest', `status is required: one of IN_PROGRESS, SUCCEEDED, FAILED, REJECTED (got ${JSON.stringify(status)?.slice(0, 40)})`);
    }
    return clean({
      status,
      statusDetails: this.statusDetails(body.statusDetails),
      expectedVersion: this.whole(body.expectedVersion, 'expectedVersion', 0),
      executionNumber: this.whole(body.executionNumber, 'executionNumber', 0),
      includeJobExecutionState: this.bool(body.includeJobExecutionState, 'includeJobExecutionState'),
      includeJobDocument: this.bool(body.includeJobDocument, 'includeJobDocument'),
      stepTimeoutInMinutes: this.stepTimeout(body.stepTimeoutInMinutes),
    });
  }

  /** A job id as AWS accepts it: 1 to jobsMaxJobIdChars of a-z A-Z 0-9 _ - (InvalidRequest otherwise). */
  checkJobId(jobId: unknown): string {
    if (typeof jobId !== 'string' || !JOB_ID.test(jobId) || jobId.length > this.limits.jobsMaxJobIdChars) {
      throw new JobsError('InvalidRequest', `jobId must be 1 to ${this.limits.jobsMaxJobIdChars} characters of a-z A-Z 0-9 _ - (got ${JSON.stringify(String(jobId).slice(0, 80))})`);
    }
    return jobId;
  }

  // ---- the device operations (MQTT and HTTP) -----------------------------------------------------

  /** GetPendingJobExecutions: the thing's IN_PROGRESS and QUEUED executions, as summaries. */
  getPending(thingName: string): { inProgressJobs: object[]; queuedJobs: object[] } {
    const list = this.pending(thingName);
    return {
      inProgressJobs: list.filter((e) => e.status === 'IN_PROGRESS').map((e) => this.summary(e)),
      queuedJobs: list.filter((e) => e.status === 'QUEUED').map((e) => this.summary(e)),
    };
  }

  /**
   * StartNextPendingJobExecution: the head of the pending list; a QUEUED head becomes IN_PROGRESS with the
   * statusDetails given (an IN_PROGRESS head keeps its own). None pending: no `execution`.
   */
  startNext(thingName: string, request: StartNextRequest, ctx: JobsContext, form: DocumentForm): { execution?: object } {
    const head = this.pending(thingName)[0];
    if (!head) return {};
    if (head.status === 'QUEUED') this.change(ctx, head, 'IN_PROGRESS', 'start-next', request.statusDetails);
    if (request.stepTimeoutInMinutes !== undefined) this.setStepTimer(head, request.stepTimeoutInMinutes, ctx.now);
    return { execution: this.view(head, ctx.now, form) };
  }

  /**
   * DescribeJobExecution: one execution (`$next`: the head of the pending list, absent when none). AWS:
   * describing an execution in a terminal status is TerminalStateReached (§5).
   */
  describe(thingName: string, jobId: string, request: DescribeRequest, now: number, form: DocumentForm): { execution?: object } {
    const shown = request.includeJobDocument === false ? 'none' : form;
    if (jobId === '$next') {
      const head = this.pending(thingName)[0];
      return head ? { execution: this.view(head, now, shown) } : {};
    }
    const e = this.find(thingName, this.checkJobId(jobId), request.executionNumber);
    if (isTerminal(e.status)) throw new JobsError('TerminalStateReached', `The job execution of ${jobId} on ${thingName} is ${e.status}, a terminal status`);
    return { execution: this.view(e, now, shown) };
  }

  /**
   * UpdateJobExecution: a device sets IN_PROGRESS, SUCCEEDED, FAILED or REJECTED. A terminal execution, or a
   * status only the service sets, is InvalidStateTransition; a stale expectedVersion is VersionMismatch; both
   * carry the execution's state. Every accepted update increments the version.
   */
  update(thingName: string, jobId: string, request: UpdateRequest, ctx: JobsContext, form: DocumentForm): { executionState?: ExecutionState; jobDocument?: object | string } {
    const e = this.find(thingName, this.checkJobId(jobId), request.executionNumber);
    if (isTerminal(e.status)) {
      throw new JobsError('InvalidStateTransition', `The job execution is ${e.status}, a terminal status: it cannot become ${request.status}`, this.state(e));
    }
    if (!DEVICE_STATUSES.has(request.status)) {
      throw new JobsError('InvalidStateTransition', `A device cannot set the status ${request.status} (only IN_PROGRESS, SUCCEEDED, FAILED, REJECTED)`, this.state(e));
    }
    if (request.expectedVersion !== undefined && request.expectedVersion !== e.versionNumber) {
      throw new JobsError('VersionMismatch', `expectedVersion ${request.expectedVersion} does not match the job execution's version ${e.versionNumber}`, this.state(e));
    }
    this.change(ctx, e, request.status as JobExecutionStatus, 'update', request.statusDetails);
    if (e.status === 'IN_PROGRESS' && request.stepTimeoutInMinutes !== undefined) this.setStepTimer(e, request.stepTimeoutInMinutes, ctx.now);
    return clean({
      executionState: request.includeJobExecutionState ? this.state(e) : undefined,
      jobDocument: request.includeJobDocument ? (form === 'text' ? e.job.documentText : e.job.document) : undefined,
    });
  }

  // ---- HTTP (the jobs data plane): the same operations, the document as JSON text --------------------

  /** Runs a data-plane call: `fn` gets a fresh operation context; what it changed comes back with its result. */
  run<T>(now: number, fn: (ctx: JobsContext) => T): { result: T } & JobsOutcome {
    const ctx = this.context(now);
    try {
      const result = fn(ctx);
      return { result, ...this.finish(ctx) };
    } catch (error) {
      this.finish(ctx);
      throw error;
    }
  }

  // ---- the cloud side (iot.jobs) ------------------------------------------------------------------

  /** CreateJob: one QUEUED execution (version 1, execution number 1) per target thing. */
  create(spec: CreateJobSpec, now: number): JobsOutcome {
    if (!isObject(spec)) throw new JobsError('InvalidRequest', 'the job must be an object such as { jobId, targets, document }');
    const jobId = this.checkJobId(spec.jobId);
    if (this.jobs.has(jobId)) throw new JobsError('ResourceAlreadyExists', `A job with id ${JSON.stringify(jobId)} already exists`);
    if (!Array.isArray(spec.targets) || spec.targets.length === 0) throw new JobsError('InvalidRequest', 'targets must be a non-empty array of thing names (or thing ARNs)');
    const targets = [...new Set(spec.targets.map((t) => {
      const name = typeof t === 'string' ? (THING_ARN.exec(t)?.[1] ?? t) : undefined;
      if (name === undefined || !THING_NAME.test(name)) throw new JobsError('InvalidRequest', `targets: ${JSON.stringify(t)} is not a thing name (1 to 128 of a-z A-Z 0-9 : _ -) or a thing ARN`);
      return name;
    }))];
    let document: unknown;
    let documentText: string;
    if (typeof spec.document === 'string') {
      documentText = spec.document;
      try {
        document = JSON.parse(documentText);
      } catch {
        throw new JobsError('InvalidRequest', 'document is not valid JSON');
      }
    } else {
      document = spec.document;
      documentText = JSON.stringify(spec.document) ?? '';
    }
    if (!isObject(document)) throw new JobsError('InvalidRequest', 'document must be a JSON object (or its JSON text)');
    const bytes = Buffer.byteLength(documentText);
    if (bytes > this.limits.jobsMaxDocumentBytes) throw new JobsError('InvalidRequest', `document is ${bytes} bytes; the limit (limits.jobsMaxDocumentBytes) is ${this.limits.jobsMaxDocumentBytes}`);
    if (spec.description !== undefined && typeof spec.description !== 'string') throw new JobsError('InvalidRequest', 'description must be a string');
    let inProgressTimeoutMinutes: number | undefined;
    if (spec.timeoutConfig !== undefined) {
      if (!isObject(spec.timeoutConfig)) throw new JobsError('InvalidRequest', 'timeoutConfig must be an object such as { inProgressTimeoutInMinutes: 60 }');
      const minutes = spec.timeoutConfig.inProgressTimeoutInMinutes;
      if (minutes !== undefined && (!isWhole(minutes) || minutes < 1 || minutes > this.limits.jobsMaxTimeoutMinutes)) {
        throw new JobsError('InvalidRequest', `timeoutConfig.inProgressTimeoutInMinutes must be a whole number from 1 to ${this.limits.jobsMaxTimeoutMinutes}`);
      }
      inProgressTimeoutMinutes = minutes;
    }
    const job: Job = clean({
      jobId, documentText, document: document as object, description: spec.description, targets, status: 'IN_PROGRESS' as JobStatus,
      createdAt: now, lastUpdatedAt: now, inProgressTimeoutMinutes, executions: new Map(),
    });
    this.jobs.set(jobId, job);
    const ctx = this.context(now);
    for (const thingName of targets) {
      this.touch(ctx, thingName);
      const e: Execution = { job, thingName, status: 'QUEUED', queuedAt: now, lastUpdatedAt: now, versionNumber: 1, executionNumber: 1 };
      job.executions.set(thingName, e);
      let queue = this.things.get(thingName);
      if (!queue) this.things.set(thingName, (queue = new Map()));
      queue.set(jobId, e);
      ctx.changes.push({ thingName, jobId, executionNumber: 1, operation: 'create', status: 'QUEUED', versionNumber: 1 });
    }
    return this.finish(ctx);
  }

  /**
   * CancelJob: the job becomes CANCELED; its QUEUED executions become CANCELED, its IN_PROGRESS ones too
   * with `force` (without, they run on and may still finish). A COMPLETED job cannot be canceled.
   */
  cancel(jobId: string, options: { force?: boolean; comment?: string }, now: number): JobsOutcome {
    const job = this.job(jobId);
    if (job.status === 'COMPLETED') throw new JobsError('InvalidStateTransition', `The job ${jobId} is COMPLETED: it cannot be canceled`);
    const ctx = this.context(now);
    job.status = 'CANCELED';
    job.lastUpdatedAt = now;
    if (options.force) job.forceCanceled = true;
    if (options.comment !== undefined) job.comment = options.comment;
    for (const e of job.executions.values()) {
      if (e.status === 'QUEUED' || (e.status === 'IN_PROGRESS' && options.force)) {
        if (e.status === 'IN_PROGRESS') e.forceCanceled = true;
        this.change(ctx, e, 'CANCELED', 'cancel');
      }
    }
    return this.finish(ctx);
  }

  /** CancelJobExecution: a QUEUED execution (an IN_PROGRESS one with `force`) becomes CANCELED. */
  cancelExecution(jobId: string, thingName: string, options: { force?: boolean; expectedVersion?: number }, now: number): JobsOutcome {
    const e = this.find(thingName, jobId, undefined);
    if (isTerminal(e.status)) throw new JobsError('InvalidStateTransition', `The job execution is ${e.status}, a terminal status`, this.state(e));
    if (e.status === 'IN_PROGRESS' && !options.force) throw new JobsError('InvalidStateTransition', 'The job execution is IN_PROGRESS: canceling it needs force', this.state(e));
    if (options.expectedVersion !== undefined && options.expectedVersion !== e.versionNumber) {
      throw new JobsError('VersionMismatch', `expectedVersion ${options.expectedVersion} does not match the job execution's version ${e.versionNumber}`, this.state(e));
    }
    const ctx = this.context(now);
    if (e.status === 'IN_PROGRESS') e.forceCanceled = true;
    this.change(ctx, e, 'CANCELED', 'cancel');
    return this.finish(ctx);
  }

  /** DeleteJobExecution: a terminal execution (any, with `force`) is forgotten; describing it is ResourceNotFound. */
  deleteExecution(jobId: string, thingName: string, options: { executionNumber?: number; force?: boolean }, now: number): JobsOutcome {
    const e = this.find(thingName, jobId, options.executionNumber);
    if (!isTerminal(e.status) && !options.force) throw new JobsError('InvalidStateTransition', `The job execution is ${e.status}: deleting it needs force`, this.state(e));
    const ctx = this.context(now);
    this.touch(ctx, thingName);
    e.job.executions.delete(thingName);
    this.things.get(thingName)!.delete(jobId);
    if (this.things.get(thingName)!.size === 0) this.things.delete(thingName);
    ctx.changes.push({ thingName, jobId, executionNumber: e.executionNumber, operation: 'delete', status: e.status, versionNumber: e.versionNumber, deleted: true });
    this.settleJob(e.job, now);
    return this.finish(ctx);
  }

  /** The thing left the target group of the job (a continuous job): its pending execution becomes REMOVED. */
  remove(jobId: string, thingName: string, now: number): JobsOutcome {
    const e = this.find(thingName, jobId, undefined);
    if (isTerminal(e.status)) throw new JobsError('InvalidStateTransition', `The job execution is ${e.status}, a terminal status`, this.state(e));
    const ctx = this.context(now);
    this.change(ctx, e, 'REMOVED', 'remove');
    return this.finish(ctx);
  }

  describeJob(jobId: string): JobDescription | undefined {
    const job = this.jobs.get(jobId);
    if (!job) return undefined;
    const count = (s: JobExecutionStatus) => [...job.executions.values()].filter((e) => e.status === s).length;
    return clean({
      jobId: job.jobId, status: job.status, targets: [...job.targets], document: structuredClone(job.document), description: job.description,
      timeoutConfig: job.inProgressTimeoutMinutes !== undefined ? { inProgressTimeoutInMinutes: job.inProgressTimeoutMinutes } : undefined,
      forceCanceled: job.forceCanceled, comment: job.comment,
      createdAt: secs(job.createdAt)!, lastUpdatedAt: secs(job.lastUpdatedAt)!, completedAt: secs(job.completedAt),
      jobProcessDetails: {
        numberOfQueuedThings: count('QUEUED'), numberOfInProgressThings: count('IN_PROGRESS'), numberOfSucceededThings: count('SUCCEEDED'),
        numberOfFailedThings: count('FAILED'), numberOfRejectedThings: count('REJECTED'), numberOfCanceledThings: count('CANCELED'),
        numberOfTimedOutThings: count('TIMED_OUT'), numberOfRemovedThings: count('REMOVED'),
      },
    });
  }

  /** A thing's executions in every status, in the order they were queued (or every thing's, without a name). */
  executions(thingName: string | undefined, now: number): JobExecutionInfo[] {
    const queues = thingName === undefined ? [...this.things.values()] : [this.things.get(thingName) ?? new Map<string, Execution>()];
    return queues.flatMap((q) => [...q.values()].map((e) => this.info(e, now)));
  }

  // ---- timeouts ------------------------------------------------------------------------------------

  /** When the next step or in-progress timer runs out (endpoint ms), or undefined when none runs. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const queue of this.things.values()) {
      for (const e of queue.values()) {
        const d = this.deadline(e);
        if (d !== undefined && (next === undefined || d < next)) next = d;
      }
    }
    return next;
  }

  /** Every execution whose timer ran out by `now` becomes TIMED_OUT (AWS: step timeout or the job's in-progress timeout). */
  expire(now: number): JobsOutcome {
    const ctx = this.context(now);
    for (const queue of this.things.values()) {
      for (const e of [...queue.values()]) {
        const d = this.deadline(e);
        if (d === undefined || d > now) continue;
        const timer = e.stepDeadline !== undefined && e.stepDeadline <= now ? 'step' : 'in-progress';
        this.change(ctx, e, 'TIMED_OUT', 'timeout');
        ctx.changes[ctx.changes.length - 1]!.timer = timer;
      }
    }
    return this.finish(ctx);
  }

  /** Forgets every job (endpoint shutdown). */
  clear(): void {
    this.jobs.clear();
    this.things.clear();
  }

  // ---- the state machine -----------------------------------------------------------------------------

  /**
   * Moves an execution to `status` (the same status for a progress update): its version goes up by one, its
   * timers follow (the in-progress timer starts with IN_PROGRESS; a terminal status stops both).
   */
  private change(ctx: JobsContext, e: Execution, status: JobExecutionStatus, operation: JobOperation, statusDetails?: Record<string, string>): void {
    this.touch(ctx, e.thingName);
    const previousStatus = e.status;
    e.status = status;
    // AWS: statusDetails given replace the old ones; not given, they are unchanged [merge vs replace UNVERIFIED].
    if (statusDetails !== undefined) e.statusDetails = statusDetails;
    e.versionNumber += 1;
    e.lastUpdatedAt = ctx.now;
    if (status === 'IN_PROGRESS' && previousStatus === 'QUEUED') {
      e.startedAt = ctx.now;
      if (e.job.inProgressTimeoutMinutes !== undefined) e.inProgressDeadline = ctx.now + e.job.inProgressTimeoutMinutes * 60_000;
    }
    if (isTerminal(status)) {
      e.stepDeadline = undefined;
      e.inProgressDeadline = undefined;
    }
    ctx.changes.push({ thingName: e.thingName, jobId: e.job.jobId, executionNumber: e.executionNumber, operation, status, previousStatus, versionNumber: e.versionNumber });
    this.settleJob(e.job, ctx.now);
  }

  /** AWS: a step timer runs from now for `minutes`; -1 stops it. */
  private setStepTimer(e: Execution, minutes: number, now: number): void {
    e.stepDeadline = minutes === -1 ? undefined : now + minutes * 60_000;
  }

  /** A job whose executions all ended is COMPLETED (a canceled one stays CANCELED). */
  private settleJob(job: Job, now: number): void {
    job.lastUpdatedAt = now;
    if (job.status !== 'IN_PROGRESS') return;
    for (const e of job.executions.values()) if (!isTerminal(e.status)) return;
    job.status = 'COMPLETED';
    job.completedAt = now;
  }

  private deadline(e: Execution): number | undefined {
    const { stepDeadline: s, inProgressDeadline: p } = e;
    return s === undefined ? p : p === undefined ? s : Math.min(s, p);
  }

  private job(jobId: string): Job {
    const job = typeof jobId === 'string' ? this.jobs.get(jobId) : undefined;
    if (!job) throw new JobsError('ResourceNotFound', `No job with id ${JSON.stringify(String(jobId).slice(0, 80))}`);
    return job;
  }

  private find(thingName: string, jobId: string, executionNumber: number | undefined): Execution {
    const e = this.things.get(thingName)?.get(jobId);
    if (!e || (executionNumber !== undefined && executionNumber !== e.executionNumber)) {
      throw new JobsError('ResourceNotFound', `No job execution for job ${JSON.stringify(jobId)} on thing ${JSON.stringify(thingName)}${executionNumber !== undefined ? ` with execution number ${executionNumber}` : ''}`);
    }
    return e;
  }

  /** AWS's pending list: IN_PROGRESS executions first, then QUEUED, each in the order they were queued. */
  pending(thingName: string): Execution[] {
    const queue = this.things.get(thingName);
    if (!queue) return [];
    const all = [...queue.values()];
    return [...all.filter((e) => e.status === 'IN_PROGRESS'), ...all.filter((e) => e.status === 'QUEUED')];
  }

  // ---- notifications ---------------------------------------------------------------------------------

  private context(now: number): JobsContext {
    return { now, changes: [], before: new Map() };
  }

  /** Notes a thing's pending list before the operation changes it (once per operation). */
  private touch(ctx: JobsContext, thingName: string): void {
    if (ctx.before.has(thingName)) return;
    const list = this.pending(thingName);
    ctx.before.set(thingName, { ids: new Set(list.map((e) => e.job.jobId)), head: list[0]?.job.jobId });
  }

  /**
   * The notifications an operation causes, per thing it touched (the jobs notification page): `notify` when an
   * execution entered or left the pending list, `notify-next` when the head of the list is another one (when
   * the list emptied: no `execution`). A change of status within the list (QUEUED → IN_PROGRESS) sends neither,
   * unless it makes another execution the head.
   */
  private finish(ctx: JobsContext): JobsOutcome {
    const notifications: JobsMessage[] = [];
    const timestamp = secs(ctx.now)!;
    for (const [thingName, before] of ctx.before) {
      const list = this.pending(thingName);
      const prefix = `$aws/things/${thingName}/jobs`;
      if (list.length !== before.ids.size || list.some((e) => !before.ids.has(e.job.jobId))) {
        const shown = list.slice(0, this.limits.jobsMaxNotifyExecutions);
        const jobs: Record<string, object[]> = {};
        const inProgress = shown.filter((e) => e.status === 'IN_PROGRESS').map((e) => this.summary(e));
        const queued = shown.filter((e) => e.status === 'QUEUED').map((e) => this.summary(e));
        if (inProgress.length > 0) jobs.IN_PROGRESS = inProgress;
        if (queued.length > 0) jobs.QUEUED = queued;
        notifications.push({ topic: `${prefix}/notify`, document: { timestamp, jobs } });
      }
      const head = list[0];
      if (head?.job.jobId !== before.head) {
        notifications.push({ topic: `${prefix}/notify-next`, document: clean({ timestamp, execution: head && this.view(head, ctx.now, 'object') }) });
      }
    }
    return { changes: ctx.changes, notifications };
  }

  // ---- views -----------------------------------------------------------------------------------------

  /** AWS's JobExecutionSummary (notify, GetPendingJobExecutions). */
  private summary(e: Execution): object {
    return clean({ jobId: e.job.jobId, queuedAt: secs(e.queuedAt), startedAt: secs(e.startedAt), lastUpdatedAt: secs(e.lastUpdatedAt), versionNumber: e.versionNumber, executionNumber: e.executionNumber });
  }

  /** AWS's JobExecution of the device APIs, with the job document in the form asked. */
  private view(e: Execution, now: number, form: DocumentForm): object {
    return clean({
      jobId: e.job.jobId, thingName: e.thingName, status: e.status, statusDetails: e.statusDetails && { ...e.statusDetails },
      queuedAt: secs(e.queuedAt), startedAt: secs(e.startedAt), lastUpdatedAt: secs(e.lastUpdatedAt),
      approximateSecondsBeforeTimedOut: this.secondsLeft(e, now), versionNumber: e.versionNumber, executionNumber: e.executionNumber,
      jobDocument: form === 'object' ? structuredClone(e.job.document) : form === 'text' ? e.job.documentText : undefined,
    });
  }

  private info(e: Execution, now: number): JobExecutionInfo {
    return clean({
      jobId: e.job.jobId, thingName: e.thingName, status: e.status, statusDetails: e.statusDetails && { ...e.statusDetails },
      queuedAt: secs(e.queuedAt)!, startedAt: secs(e.startedAt), lastUpdatedAt: secs(e.lastUpdatedAt)!,
      versionNumber: e.versionNumber, executionNumber: e.executionNumber, forceCanceled: e.forceCanceled,
      approximateSecondsBeforeTimedOut: this.secondsLeft(e, now),
    });
  }

  private secondsLeft(e: Execution, now: number): number | undefined {
    const d = this.deadline(e);
    return d === undefined || isTerminal(e.status) ? undefined : Math.max(0, Math.ceil((d - now) / 1000));
  }

  private state(e: Execution): ExecutionState {
    return clean({ status: e.status, statusDetails: e.statusDetails && { ...e.statusDetails }, versionNumber: e.versionNumber });
  }
}
