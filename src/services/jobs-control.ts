/**
 * `iot.jobs`: AWS IoT Jobs from the cloud side (what CreateJob, CancelJob, CancelJobExecution,
 * DeleteJobExecution, DescribeJob and DescribeJobExecution do), over the endpoint's Jobs runtime. Every change
 * is traced (`job` events, via `'cloud'`) and notified to devices over MQTT as AWS does. Misuse (a bad id, a
 * document that is not JSON) throws INVALID_ARGUMENT; what AWS itself would refuse throws JOB_REJECTED with
 * the exception AWS's control plane names (`awsError`).
 */
import { FakeIotError } from '../errors';
import { type CreateJobSpec, type JobDescription, type JobExecutionInfo, JobsError, type JobsOutcome, type JobsService } from './jobs';
import type { JobsRuntime } from './jobs-runtime';

export type { CreateJobSpec, JobDescription, JobExecutionInfo };

export interface CancelJobOptions {
  /** Also cancel IN_PROGRESS executions (AWS: without it they run on and may still finish). Default false. */
  force?: boolean;
  comment?: string;
}

export interface CancelExecutionOptions {
  /** Cancel an IN_PROGRESS execution too (without: InvalidStateTransitionException). Default false. */
  force?: boolean;
  /** Refused with VersionConflictException unless the execution has this version. */
  expectedVersion?: number;
}

export interface DeleteExecutionOptions {
  /** Delete a QUEUED or IN_PROGRESS execution too (without: only terminal ones). Default false. */
  force?: boolean;
  /** AWS names the execution by number; this fake runs one per job and thing, number 1. */
  executionNumber?: number;
}

/** AWS IoT Jobs from the cloud side. */
export interface JobsControl {
  /**
   * Creates a job: one QUEUED execution per target thing, notified on `$aws/things/{thing}/jobs/notify` and (when
   * it becomes the head of the thing's pending list) `notify-next`. Returns the job as `describe()` shows it.
   */
  create(job: CreateJobSpec): JobDescription;
  /** Cancels a job (QUEUED executions, and IN_PROGRESS ones with `force`, become CANCELED). */
  cancel(jobId: string, options?: CancelJobOptions): JobDescription;
  /** Cancels one execution (an IN_PROGRESS one needs `force`). */
  cancelExecution(jobId: string, thingName: string, options?: CancelExecutionOptions): JobExecutionInfo;
  /** Deletes one execution (a terminal one; any with `force`): the device then finds no such execution. */
  deleteExecution(jobId: string, thingName: string, options?: DeleteExecutionOptions): void;
  /** The thing left the target group of a continuous job: its QUEUED or IN_PROGRESS execution becomes REMOVED. */
  removeThing(jobId: string, thingName: string): JobExecutionInfo;
  /** The job, or undefined when there is none with that id. */
  describe(jobId: string): JobDescription | undefined;
  /** One execution (a deleted one is gone), or undefined. */
  execution(thingName: string, jobId: string): JobExecutionInfo | undefined;
  /** A thing's executions in every status, in the order they were queued (every thing's when no name is given). */
  executions(thingName?: string): JobExecutionInfo[];
}

/** The exception AWS's control plane raises for each refusal. */
const AWS_ERRORS: Record<string, string> = {
  ResourceNotFound: 'ResourceNotFoundException',
  ResourceAlreadyExists: 'ResourceAlreadyExistsException',
  InvalidStateTransition: 'InvalidStateTransitionException',
  VersionMismatch: 'VersionConflictException',
};

export function jobsControl(runtime: JobsRuntime, assertOpen: (what: string) => void): JobsControl {
  const call = <T>(what: string, fn: (service: JobsService, now: number) => { result: T } & JobsOutcome): T => {
    assertOpen(`jobs.${what.slice(0, what.indexOf('('))}()`);
    try {
      return runtime.run('cloud', fn);
    } catch (error) {
      if (!(error instanceof JobsError)) throw error;
      if (error.code === 'InvalidRequest') throw new FakeIotError('INVALID_ARGUMENT', `jobs.${what}: ${error.message}.`);
      const awsError = AWS_ERRORS[error.code] ?? error.code;
      throw Object.assign(new FakeIotError('JOB_REJECTED', `jobs.${what}: ${awsError}: ${error.message}.`), { awsError });
    }
  };
  const name = (value: unknown, what: string): string => {
    if (typeof value !== 'string' || value === '') throw new FakeIotError('INVALID_ARGUMENT', `jobs.${what} must be a non-empty string (got ${JSON.stringify(value) ?? String(value)}).`);
    return value;
  };
  const options = <T extends object>(value: T | undefined, what: string, known: string[]): T => {
    if (value === undefined) return {} as T;
    if (typeof value !== 'object' || value === null) throw new FakeIotError('INVALID_ARGUMENT', `jobs.${what}: options must be an object.`);
    const unknown = Object.keys(value).filter((k) => !known.includes(k));
    if (unknown.length > 0) throw new FakeIotError('INVALID_ARGUMENT', `jobs.${what}: unknown option ${JSON.stringify(unknown[0])} (known: ${known.join(', ')}).`);
    return value;
  };
  const describe = (service: JobsService, jobId: string) => service.describeJob(jobId)!;
  const execution = (service: JobsService, thingName: string, jobId: string, now: number) => service.executions(thingName, now).find((e) => e.jobId === jobId)!;

  return {
    create(job) {
      const id = typeof job === 'object' && job !== null ? JSON.stringify((job as { jobId?: unknown }).jobId) : '?';
      return call(`create({ jobId: ${id} })`, (s, now) => ({ ...s.create(job, now), result: describe(s, job.jobId) }));
    },
    cancel(jobId, opts) {
      const o = options(opts, 'cancel(jobId, options)', ['force', 'comment']);
      return call(`cancel(${JSON.stringify(name(jobId, 'cancel(jobId)'))})`, (s, now) => ({ ...s.cancel(jobId, o, now), result: describe(s, jobId) }));
    },
    cancelExecution(jobId, thingName, opts) {
      const o = options(opts, 'cancelExecution(jobId, thingName, options)', ['force', 'expectedVersion']);
      const what = `cancelExecution(${JSON.stringify(name(jobId, 'cancelExecution(jobId)'))}, ${JSON.stringify(name(thingName, 'cancelExecution(jobId, thingName)'))})`;
      return call(what, (s, now) => ({ ...s.cancelExecution(jobId, thingName, o, now), result: execution(s, thingName, jobId, now) }));
    },
    deleteExecution(jobId, thingName, opts) {
      const o = options(opts, 'deleteExecution(jobId, thingName, options)', ['force', 'executionNumber']);
      const what = `deleteExecution(${JSON.stringify(name(jobId, 'deleteExecution(jobId)'))}, ${JSON.stringify(name(thingName, 'deleteExecution(jobId, thingName)'))})`;
      call(what, (s, now) => ({ ...s.deleteExecution(jobId, thingName, o, now), result: undefined }));
    },
    removeThing(jobId, thingName) {
      const what = `removeThing(${JSON.stringify(name(jobId, 'removeThing(jobId)'))}, ${JSON.stringify(name(thingName, 'removeThing(jobId, thingName)'))})`;
      return call(what, (s, now) => ({ ...s.remove(jobId, thingName, now), result: execution(s, thingName, jobId, now) }));
    },
    describe: (jobId) => runtime.service.describeJob(name(jobId, 'describe(jobId)')),
    execution: (thingName, jobId) => execution(runtime.service, name(thingName, 'execution(thingName)'), name(jobId, 'execution(thingName, jobId)'), runtime.now()),
    executions: (thingName) => runtime.service.executions(thingName === undefined ? undefined : name(thingName, 'executions(thingName)'), runtime.now()),
  };
}
