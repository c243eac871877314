/**
 * The control API's JSON forms of what the library takes as JavaScript values: a RegExp is
 * `{ "$regex": "^dev-", "$flags": "i" }`, bytes are `{ "$base64": "AAE=" }`, and a trace match is the
 * deep-partial pattern `iot.trace.waitFor()` takes, written in JSON with those two forms where it would use a
 * RegExp or a Buffer (predicates have no JSON form). Each check names the field it refuses.
 */
import type { Packet } from '../codec/codec';
import type { EventEntry, TraceEntry } from '../trace/entry';
import type { TracePattern } from '../trace/query';

/** A request the control API refuses: answered 400 with `field` named. */
export class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type AllKeys<T> = T extends unknown ? keyof T : never;

/** Every field of every kind of trace entry: a match naming another one can never match (a typo), so it is refused. */
const ENTRY_FIELDS: Record<AllKeys<TraceEntry>, true> = {
  seq: true, at: true, connectionId: true, clientId: true, truncated: true, kind: true, direction: true, packet: true, chaos: true,
  event: true, protocolVersion: true, cleanSession: true, sessionPresent: true, sessionExpirySeconds: true, keepAliveSeconds: true,
  requestedKeepAliveSeconds: true, remoteAddress: true, transport: true, principal: true, thingName: true, sni: true, alpn: true,
  reason: true, willPublished: true, topic: true, qos: true, delayedMs: true, rule: true, message: true, limit: true, max: true,
  actual: true, origin: true, payload: true, shareGroup: true, payloadBytes: true, replaced: true, count: true, bytes: true,
  action: true, shadowName: true, operation: true, outcome: true, version: true, code: true, ruleName: true, source: true,
  stack: true, remotePort: true, localPort: true, resource: true, allowed: true, statement: true, reaction: true,
  jobId: true, via: true, status: true, previousStatus: true, versionNumber: true, executionNumber: true, deleted: true, timer: true,
  authorizer: true, isAuthenticated: true, principalId: true, durationMs: true, error: true, refresh: true,
};

const EVENTS: Record<EventEntry['event'], true> = {
  connect: true, disconnect: true, 'subscription-active': true, violation: true, ignored: true, publish: true, 'session-ended': true,
  dropped: true, 'retained-stored': true, 'retained-deleted': true, rule: true, throttled: true, shadow: true, job: true, authorization: true,
  authorizer: true, 'internal-error': true, 'transport-error': true,
};

const COMMANDS: Record<Packet['cmd'], true> = {
  connect: true, connack: true, publish: true, puback: true, pubrec: true, pubrel: true, pubcomp: true, subscribe: true, suback: true,
  unsubscribe: true, unsuback: true, pingreq: true, pingresp: true, disconnect: true, auth: true,
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const OPERATORS = '{ "$regex": "...", "$flags": "..." } or { "$base64": "..." }';

/** `{ "$regex", "$flags"? }` as a RegExp, `{ "$base64" }` as a Buffer, undefined for any other value. */
function operator(value: Record<string, unknown>, field: string): RegExp | Buffer | undefined {
  const keys = Object.keys(value);
  if (!keys.some((k) => k.startsWith('$'))) return undefined;
  if ('$regex' in value && keys.every((k) => k === '$regex' || k === '$flags')) return regexFromJson(value, field);
  if ('$base64' in value && keys.length === 1) return bytesFromJson(value, field);
  throw new BadRequest(field, `${field}: ${JSON.stringify(keys)} is not an operator; the JSON forms are ${OPERATORS}`);
}

/** `{ "$regex": source, "$flags"?: flags }` as a RegExp. */
export function regexFromJson(value: Record<string, unknown>, field: string): RegExp {
  const { $regex: source, $flags: flags = '' } = value;
  if (typeof source !== 'string') throw new BadRequest(`${field}.$regex`, `${field}.$regex must be a string (a JavaScript regular expression's source)`);
  if (typeof flags !== 'string') throw new BadRequest(`${field}.$flags`, `${field}.$flags must be a string such as "i"`);
  try {
    // Without g and y: a RegExp with them remembers where it stopped, and would match only every other time.
    return new RegExp(source, flags.replace(/[gy]/g, ''));
  } catch (error) {
    throw new BadRequest(field, `${field}: ${(error as Error).message}`);
  }
}

/** `{ "$base64": text }` as bytes. */
export function bytesFromJson(value: Record<string, unknown>, field: string): Buffer {
  const text = value.$base64;
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new BadRequest(`${field}.$base64`, `${field}.$base64 must be standard base64 text`);
  return Buffer.from(text, 'base64');
}

/** A string as UTF-8, or `{ "$base64" }` as bytes. */
export function payloadFromJson(value: unknown, field: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value);
  if (isObject(value) && Object.keys(value).length === 1 && '$base64' in value) return bytesFromJson(value, field);
  throw new BadRequest(field, `${field} must be a string (sent as UTF-8) or { "$base64": "..." } for bytes (got ${JSON.stringify(value)?.slice(0, 100)}); JSON-encode an object into a string yourself`);
}

function patternValue(value: unknown, field: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => patternValue(v, `${field}[${i}]`));
  if (!isObject(value)) return value;
  const op = operator(value, field);
  if (op) return op;
  const out: Record<string, unknown> = {};
  // defineProperty: a "__proto__" key is a field like any other, not the object's prototype.
  for (const [key, v] of Object.entries(value)) Object.defineProperty(out, key, { value: patternValue(v, `${field}.${key}`), enumerable: true });
  return out;
}

/** A trace match in JSON (see the module comment) as the pattern `iot.trace.waitFor()` takes. */
export function matchFromJson(value: unknown, field: string): TracePattern {
  if (!isObject(value)) throw new BadRequest(field, `${field} must be an object: a pattern such as { "event": "connect", "clientId": "dev-1" } (got ${JSON.stringify(value)?.slice(0, 100)})`);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(ENTRY_FIELDS, key)) throw new BadRequest(`${field}.${key}`, `${field}.${key}: no trace entry has this field, so nothing would ever match (fields: ${Object.keys(ENTRY_FIELDS).join(', ')})`);
  }
  const oneOf = (key: string, known: object, actual: unknown) => {
    if (typeof actual === 'string' && !Object.hasOwn(known, actual)) throw new BadRequest(`${field}.${key}`, `${field}.${key}: ${JSON.stringify(actual)} is none of ${Object.keys(known).join(', ')}`);
  };
  oneOf('event', EVENTS, value.event);
  oneOf('kind', { packet: true, event: true }, value.kind);
  oneOf('direction', { in: true, out: true }, value.direction);
  if (isObject(value.packet)) {
    const cmd = value.packet.cmd;
    if (typeof cmd === 'string' && !Object.hasOwn(COMMANDS, cmd)) throw new BadRequest(`${field}.packet.cmd`, `${field}.packet.cmd: ${JSON.stringify(cmd)} is none of ${Object.keys(COMMANDS).join(', ')}`);
  }
  return patternValue(value, field) as TracePattern;
}
