/**
 * Every error the library throws or rejects with is a FakeIotError with a stable `code`,
 * so tests can assert on `err.code` instead of on message text.
 */
export type FakeIotErrorCode =
  /** An option passed to startFakeIot() (or the CLI) is unknown or invalid. */
  | 'INVALID_OPTION'
  /** An argument passed to a method of the handle is invalid. */
  | 'INVALID_ARGUMENT'
  /** The endpoint could not listen (port in use, bad host, ...). */
  | 'LISTEN_FAILED'
  /** iot.publish(..., { retain: true }) while the retained-message store is full (limits.maxRetainedMessages / maxRetainedBytes): AWS throttles it. */
  | 'THROTTLED'
  /** iot.setPolicy() or the policies option: the document is not a valid AWS IoT policy (the message says what is wrong). */
  | 'INVALID_POLICY'
  /** iot.attachPolicy(): no policy of that name exists. */
  | 'POLICY_NOT_FOUND'
  /** iot.attachPolicy(): the principal has AWS's maximum number of policies attached already. */
  | 'LIMIT_EXCEEDED'
  /** The endpoint was used after close(). */
  | 'ENDPOINT_CLOSED'
  /** trace.waitFor() saw no matching entry within its timeout. */
  | 'TRACE_TIMEOUT'
  /** iot.clock.advance(): timers kept setting new timers that fell due (a runaway loop), past the clock's loopLimit. */
  | 'CLOCK_LOOP_LIMIT'
  /** iot.settled() found work still pending when its timeout ran out. */
  | 'SETTLE_TIMEOUT'
  /** A trace method that needs recorded entries was used on an endpoint started with `trace: false`. */
  | 'TRACE_DISABLED'
  /** close(): a callback the test gave the endpoint (a trace listener) threw while the endpoint ran. */
  | 'CALLBACK_FAILED'
  /** iot.shadows.update(): the Device Shadow service refused the update (`status` holds AWS's code: 400, 409, 413, ...). */
  | 'SHADOW_REJECTED'
  /** iot.jobs.*: AWS IoT Jobs refuses it (`awsError` holds the exception AWS names: ResourceNotFoundException, InvalidStateTransitionException, ...). */
  | 'JOB_REJECTED'
  /** assertClientSurvives(): the scenario failed for some drawn chaos. */
  | 'CLIENT_DID_NOT_SURVIVE'
  /** assertClientSurvives(): the time limit ended the property before any run finished (or, with failOnTimeLimit, before every run finished). */
  | 'PROPERTY_TIME_LIMIT'
  /** assertClientSurvives(): fast-check could not replay the given seed and path (FAKE_IOT_SEED, or the seed/path options) on this property. */
  | 'PROPERTY_REPLAY_FAILED'
  /** assertClientSurvives(): fast-check itself failed outside the scenario (for example, the chaos arbitrary threw). */
  | 'PROPERTY_ERROR';

export class FakeIotError extends Error {
  readonly code: FakeIotErrorCode;

  constructor(code: FakeIotErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.startsWith('[fake-aws-iot]') ? message : `[fake-aws-iot] ${message}`, options);
    this.name = 'FakeIotError';
    this.code = code;
  }
}

export function isFakeIotError(value: unknown): value is FakeIotError {
  return value instanceof FakeIotError;
}
