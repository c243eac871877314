/**
 * The Jobs service at work on an endpoint: runs requests (MQTT, the HTTP data plane, `iot.jobs`) through the
 * pure JobsService, records each change and each rejected request as a `job` trace event, publishes the
 * notifications through the broker, and keeps one timer on the endpoint's clock for the next step or
 * in-progress timeout (so `clock: 'virtual'` moves it with `iot.clock.advance()`).
 */
import type { ChaosTag } from '../chaos/types';
import type { Clock, TimerHandle } from '../clock/clock';
import type { TraceRecorder } from '../trace/recorder';
import { type JobsLimits, type JobsMessage, type JobsOutcome, JobsService, type JobsTopic, type MqttAnswer, type TransientJobsError } from './jobs';

/** What the runtime needs of the endpoint. */
export interface JobsHost {
  readonly clock: Clock;
  readonly trace: TraceRecorder;
  /** Publishes a notification through the broker to its subscribers (`notify`, `notify-next`). */
  publish(topic: string, payload: Buffer): void;
}

/** Where a request came from: a client's MQTT request, the jobs data plane, `iot.jobs`, or a timer. */
export type JobsVia = 'mqtt' | 'http' | 'cloud' | 'timer';

/** The requesting connection, for the trace. */
export interface JobsRequester {
  clientId: string;
  connectionId: number;
}

export class JobsRuntime {
  readonly service: JobsService;
  private timer: TimerHandle | undefined;
  private timerAt: number | undefined;
  private closed = false;

  constructor(limits: JobsLimits, private readonly host: JobsHost) {
    this.service = new JobsService(limits);
  }

  /** The endpoint's time. */
  now(): number {
    return this.host.clock.now();
  }

  /**
   * Answers a request a client published (or refuses it with chaos's transient error): `respond` gets the
   * answer for the requester first, then the notifications it caused go out.
   */
  mqtt(request: JobsTopic, payload: Buffer, who: JobsRequester | undefined, refused: { code: TransientJobsError; tag: ChaosTag } | undefined, respond: (answer: JobsMessage) => void): void {
    if (this.closed) return;
    const now = this.host.clock.now();
    const answer = refused ? this.service.refuse(request, payload, refused.code, now) : this.service.mqtt(request, payload, now);
    if (answer.error !== undefined) this.rejected(request.thingName, answer, 'mqtt', who, refused?.tag);
    this.record(answer, 'mqtt', who);
    respond(answer.response);
    this.notify(answer);
  }

  /**
   * Runs an operation of the data plane or the cloud side; what it changed is traced and its notifications
   * published. A refusal (JobsError) is thrown on to the caller.
   */
  run<T>(via: 'http' | 'cloud', operation: (service: JobsService, now: number) => { result: T } & JobsOutcome): T {
    const done = operation(this.service, this.host.clock.now());
    this.apply(done, via);
    return done.result;
  }

  /** Records an HTTP request the service refused (the MQTT ones are recorded by mqtt()). */
  rejected(thingName: string, answer: Pick<MqttAnswer, 'operation' | 'error' | 'jobId'>, via: JobsVia, who?: JobsRequester, chaos?: ChaosTag): void {
    const { trace } = this.host;
    if (!trace.active) return;
    trace.record({
      kind: 'event', event: 'job', ...(who ?? {}), thingName, ...(answer.jobId !== undefined ? { jobId: answer.jobId } : {}),
      operation: answer.operation, outcome: 'rejected', via, code: answer.error!, ...(chaos ? { chaos } : {}),
    });
  }

  private apply(outcome: JobsOutcome, via: JobsVia): void {
    this.record(outcome, via);
    this.notify(outcome);
  }

  /** The changes, as `job` trace events. */
  private record(outcome: JobsOutcome, via: JobsVia, who?: JobsRequester): void {
    const { trace } = this.host;
    if (!trace.active) return;
    for (const c of outcome.changes) {
      trace.record({
        kind: 'event', event: 'job', ...(who ?? {}), thingName: c.thingName, jobId: c.jobId, operation: c.operation, outcome: 'accepted', via,
        status: c.status, ...(c.previousStatus !== undefined ? { previousStatus: c.previousStatus } : {}),
        versionNumber: c.versionNumber, executionNumber: c.executionNumber,
        ...(c.deleted ? { deleted: true as const } : {}), ...(c.timer ? { timer: c.timer } : {}),
      });
    }
  }

  /** The notifications go out; the timer follows the deadlines. */
  private notify(outcome: JobsOutcome): void {
    if (this.closed) return;
    for (const { topic, document } of outcome.notifications) this.host.publish(topic, Buffer.from(JSON.stringify(document)));
    this.arm(); // a step timer may have moved without a change of status (start-next on an IN_PROGRESS head)
  }

  /** Keeps one timer on the endpoint's clock for the earliest step or in-progress deadline. */
  private arm(): void {
    const next = this.service.nextDeadline();
    if (next === this.timerAt) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = next;
    if (next === undefined) return;
    const { clock } = this.host;
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      if (this.closed) return;
      this.apply(this.service.expire(clock.now()), 'timer');
    }, Math.max(0, next - clock.now()));
  }

  /** Endpoint shutdown: the timer stops and the jobs are forgotten. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.service.clear();
  }
}
