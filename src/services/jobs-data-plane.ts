/**
 * AWS IoT Jobs' data-plane REST API, as `@aws-sdk/client-iot-jobs-data-plane` calls it (routes from the SDK's
 * own model), served on the endpoint's HTTP port beside the IoT data plane:
 *
 *   GET  /things/{thingName}/jobs                                       GetPendingJobExecutions
 *   PUT  /things/{thingName}/jobs/$next                                  StartNextPendingJobExecution
 *   GET  /things/{thingName}/jobs/{jobId}?executionNumber=&includeJobDocument=   DescribeJobExecution
 *   POST /things/{thingName}/jobs/{jobId}                                UpdateJobExecution
 *
 * Requests are signed for the service `iot-jobs-data`. Refusals carry the exception the SDK raises (its
 * `x-amzn-ErrorType`): InvalidRequestException, ResourceNotFoundException, InvalidStateTransitionException,
 * TerminalStateException. The job document travels as its JSON text, as in AWS's HTTP API; there are no
 * notifications over HTTP (AWS), but what a call changes is notified over MQTT like any change.
 */
import type { DataPlaneAnswer, DataPlaneRequest } from '../transport/http';
import { type JobOperation, JobsError, type JobsErrorCode } from './jobs';
import type { JobsRuntime } from './jobs-runtime';

/** The service name the jobs data plane is signed for (SigV4). */
export const SIGV4_JOBS_DATA_SERVICE = 'iot-jobs-data';

/** Whether a request path is the jobs data plane's (`/things/{thingName}/jobs...`). */
export function isJobsDataPath(rawPath: string): boolean {
  return /^\/things\/[^/]+\/jobs(?:\/[^/]+)?$/.test(rawPath);
}

/** The HTTP status and SDK exception of each Jobs error code. */
const HTTP_ERRORS: Record<JobsErrorCode, [number, string]> = {
  InvalidTopic: [400, 'InvalidRequestException'],
  InvalidJson: [400, 'InvalidRequestException'],
  InvalidRequest: [400, 'InvalidRequestException'],
  ResourceNotFound: [404, 'ResourceNotFoundException'],
  InvalidStateTransition: [409, 'InvalidStateTransitionException'],
  // The HTTP API lists no conflict exception for UpdateJobExecution: a stale expectedVersion is a 409 of its kind [UNVERIFIED].
  VersionMismatch: [409, 'InvalidStateTransitionException'],
  TerminalStateReached: [410, 'TerminalStateException'],
  RequestThrottled: [429, 'ThrottlingException'],
  InternalError: [503, 'ServiceUnavailableException'],
};

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

/** The jobs data plane's handler; undefined for a path that is not its own. */
export function jobsDataPlane(jobs: JobsRuntime): (request: DataPlaneRequest) => DataPlaneAnswer | undefined {
  const refuse = (thingName: string, operation: JobOperation, jobId: string | undefined, error: JobsError): DataPlaneAnswer => {
    const code = error.code === 'ResourceAlreadyExists' ? 'InvalidRequest' : error.code;
    jobs.rejected(thingName, { operation, error: code, ...(jobId !== undefined ? { jobId } : {}) }, 'http');
    const [status, errorType] = HTTP_ERRORS[code];
    return { status, message: error.message, errorType };
  };

  /** The JSON body of a PUT or POST: empty is `{}`. */
  const body = (request: DataPlaneRequest): Record<string, unknown> => {
    if (request.body.length === 0) return {};
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(request.body));
    } catch {
      throw new JobsError('InvalidRequest', 'The request body is not UTF-8 JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JobsError('InvalidRequest', 'The request body must be a JSON object');
    return value as Record<string, unknown>;
  };

  /** A query parameter read as AWS's types: `true`/`false`, a whole number. */
  const query = (request: DataPlaneRequest): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const include = request.query.get('includeJobDocument');
    if (include !== undefined) out.includeJobDocument = include === 'true' ? true : include === 'false' ? false : include;
    const n = request.query.get('executionNumber');
    if (n !== undefined) out.executionNumber = /^\d{1,15}$/.test(n) ? Number(n) : n;
    return out;
  };

  return (request) => {
    const raw = request.rawPath.split('/');
    if (raw.length < 4 || raw.length > 5 || raw[1] !== 'things' || raw[3] !== 'jobs') return undefined;
    let thingName: string;
    let jobId: string | undefined;
    try {
      thingName = decodeURIComponent(raw[2]!);
      jobId = raw[4] === undefined ? undefined : decodeURIComponent(raw[4]);
    } catch {
      return { status: 400, message: 'The path is not valid percent-encoding', refusal: 'bad-request' };
    }
    const { method } = request;
    const operation: JobOperation | undefined =
      jobId === undefined ? (method === 'GET' ? 'get' : undefined)
      : jobId === '$next' && method === 'PUT' ? 'start-next'
      : method === 'GET' ? 'describe'
      : method === 'POST' ? 'update'
      : undefined;
    if (!operation) {
      const allowed = jobId === undefined ? 'GET' : jobId === '$next' ? 'GET or PUT' : 'GET or POST';
      return { status: 405, message: `${method} is not allowed here (${allowed})`, refusal: 'method-not-allowed' };
    }
    try {
      if (!THING_NAME.test(thingName)) throw new JobsError('InvalidRequest', 'thingName must be 1 to 128 characters of a-z A-Z 0-9 : _ -');
      const result = jobs.run<object>('http', (service, now) => {
        switch (operation) {
          case 'get':
            return { result: service.getPending(thingName), changes: [], notifications: [] };
          case 'start-next': {
            const input = service.startNextRequest(body(request));
            return service.run(now, (ctx) => service.startNext(thingName, input, ctx, 'text'));
          }
          case 'describe': {
            const input = service.describeRequest(query(request));
            return { result: service.describe(thingName, jobId!, input, now, 'text'), changes: [], notifications: [] };
          }
          default: {
            const input = service.updateRequest(body(request));
            return service.run(now, (ctx) => service.update(thingName, jobId!, input, ctx, 'text'));
          }
        }
      });
      return { status: 200, body: result };
    } catch (error) {
      if (!(error instanceof JobsError)) throw error;
      return refuse(thingName, operation, jobId === '$next' ? undefined : jobId, error);
    }
  };
}
