/**
 * AWS IoT Device Shadow service: classic and named shadows, their documents, merge and delta, and the
 * exact errors (aws-iot-behaviour.md §4). Pure state and rules: the broker hands it requests published to
 * `$aws/things/{thing}/shadow/.../(get|update|delete)` and publishes what it answers.
 */

/** What the shadow service's numbers are (part of the profile's limits). */
export interface ShadowLimits {
  /** Bytes of desired + reported in the merged document (metadata not counted). AWS: 8 KB. */
  shadowMaxDocumentBytes: number;
  /** Levels of nesting under `desired` / `reported`. AWS's error text says 6 (sources disagree: 5, 6, 8). */
  shadowMaxDepth: number;
  /** Longest clientToken, in bytes. AWS: 64. */
  shadowMaxClientTokenBytes: number;
  /** A deleted shadow recreated within this time continues its version sequence; after it, starts again. AWS: 48 h. */
  shadowVersionKeepSeconds: number;
  /** Bytes all shadows may hold together (not an AWS number); an update beyond it is refused with 429. */
  shadowMaxStoreBytes: number;
}

export type ShadowOperation = 'get' | 'update' | 'delete';

/** A request topic taken apart. `shadowName` is undefined for the classic shadow. */
export interface ShadowTopic {
  thingName: string;
  shadowName: string | undefined;
  operation: ShadowOperation;
  /** `$aws/things/{thing}/shadow` or `.../shadow/name/{name}`: where responses go. */
  prefix: string;
}

/** A message the service publishes in answer: topic and JSON document. */
export interface ShadowResponse {
  topic: string;
  document: object;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A shadow's stored state. `exists` false after a delete (its version is kept for shadowVersionKeepSeconds). */
interface Stored {
  /** What it costs to keep (its documents and metadata as JSON), counted in the store's total. */
  bytes?: number;
  desired: JsonObject | undefined;
  reported: JsonObject | undefined;
  metadata: { desired?: JsonObject; reported?: JsonObject };
  version: number;
  exists: boolean;
  deletedAt?: number;
}

/** An AWS shadow error: HTTP-like code and AWS's exact message. */
export class ShadowError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** What a deleted shadow's kept version costs besides its key (counted in limits.shadowMaxStoreBytes). */
const TOMBSTONE_BYTES = 64;

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const SHADOW_NAME = /^[a-zA-Z0-9:_-]{1,64}$/;
const REQUEST = /^\$aws\/things\/([^/]+)\/shadow(?:\/name\/([^/]+))?\/(get|update|delete)$/;

/** The shadow request a topic names, or undefined when it is no shadow request (responses included). */
export function parseShadowTopic(topic: string): ShadowTopic | undefined {
  const m = REQUEST.exec(topic);
  if (!m) return undefined;
  const [, thingName, shadowName, operation] = m as unknown as [string, string, string | undefined, ShadowOperation];
  // Names AWS would not accept never reach a shadow: the request is an ordinary message then.
  if (!THING_NAME.test(thingName) || (shadowName !== undefined && !SHADOW_NAME.test(shadowName))) return undefined;
  return { thingName, shadowName, operation, prefix: topic.slice(0, topic.length - operation.length - 1) };
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a value nests deeper than `max` (a leaf is 0 deep, an object or array one more than its deepest
 * member). Stops as soon as it knows, so a hostile document 100,000 levels deep costs no more than `max`.
 */
function deeperThan(value: Json, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  for (const member of Array.isArray(value) ? value : Object.values(value)) if (deeperThan(member, max - 1)) return true;
  return false;
}

function hasNullInArray(value: Json): boolean {
  if (Array.isArray(value)) return value.some((v) => v === null || hasNullInArray(v));
  if (isObject(value)) return Object.values(value).some(hasNullInArray);
  return false;
}

/** AWS's metadata for a value: the same shape, every leaf (and array element) `{ timestamp }`. */
function metadataOf(value: Json, timestamp: number): Json {
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, metadataOf(v, timestamp)]));
  if (Array.isArray(value)) return value.map((v) => (isObject(v) ? metadataOf(v, timestamp) : { timestamp }));
  return { timestamp };
}

/**
 * Deep merge as AWS does: objects merge field by field, `null` deletes, arrays and leaves replace. An object
 * left empty by deletions goes too (an empty object given as a value stays).
 */
function merge(target: JsonObject | undefined, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value)) {
      const merged = merge(isObject(out[key]) ? (out[key] as JsonObject) : undefined, value);
      if (Object.keys(merged).length === 0 && Object.keys(value).length > 0) delete out[key];
      else out[key] = merged;
    } else out[key] = value;
  }
  return out;
}

/** Metadata merged the same way as the state it describes (a deleted leaf loses its metadata). */
function mergeMetadata(target: JsonObject | undefined, patch: JsonObject, timestamp: number): JsonObject {
  const out: JsonObject = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value)) out[key] = mergeMetadata(isObject(out[key]) ? (out[key] as JsonObject) : undefined, value, timestamp);
    else out[key] = metadataOf(value, timestamp);
  }
  return out;
}

function equal(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Desired fields missing from, or different in, reported — the full path kept, whole arrays (§4.3). */
export function deltaOf(desired: JsonObject | undefined, reported: JsonObject | undefined): JsonObject | undefined {
  if (!desired) return undefined;
  const out: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported?.[key];
    if (isObject(want) && isObject(have)) {
      const inner = deltaOf(want, have);
      if (inner) out[key] = inner;
    } else if (!equal(want, have)) out[key] = want;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The metadata of the delta's fields, copied from desired's metadata. */
function pick(metadata: Json | undefined, shape: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(shape)) {
    const m = isObject(metadata) ? metadata[key] : undefined;
    if (m === undefined) continue;
    out[key] = isObject(value) && isObject(m) ? pick(m, value) : m;
  }
  return out;
}

const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export class ShadowService {
  private readonly shadows = new Map<string, Stored>();
  /** Bytes the shadows hold together (limits.shadowMaxStoreBytes). */
  private bytes = 0;

  constructor(
    private readonly limits: ShadowLimits,
    /** Publish the delta after an update that named only `reported` too, when a delta remains. AWS: not documented; off. */
    private readonly deltaOnReportedOnly: boolean,
  ) {}

  private key(thingName: string, shadowName: string | undefined): string {
    return shadowName === undefined ? thingName : `${thingName}\u0000${shadowName}`;
  }

  /** The stored document as `get` returns it, or undefined when the shadow does not exist. */
  document(thingName: string, shadowName: string | undefined, nowMs: number): object | undefined {
    const s = this.shadows.get(this.key(thingName, shadowName));
    if (!s?.exists) return undefined;
    const delta = deltaOf(s.desired, s.reported);
    return clean({
      state: clean({ desired: s.desired, reported: s.reported, delta }),
      metadata: clean({ desired: s.metadata.desired, reported: s.metadata.reported }),
      version: s.version,
      timestamp: Math.floor(nowMs / 1000),
    });
  }

  /** Every shadow that exists, as `{ thingName, shadowName }`. */
  list(): { thingName: string; shadowName: string | undefined }[] {
    return [...this.shadows].filter(([, s]) => s.exists).map(([k]) => {
      const [thingName, shadowName] = k.split('\u0000') as [string, string | undefined];
      return { thingName, shadowName };
    });
  }

  /** Answers an MQTT request: the responses to publish, in order. */
  request(t: ShadowTopic, payload: Buffer, nowMs: number): ShadowResponse[] {
    const timestamp = Math.floor(nowMs / 1000);
    let clientToken: string | undefined;
    try {
      const body = this.parse(t.operation, payload);
      clientToken = body.clientToken;
      return this.apply(t, body, nowMs, clientToken);
    } catch (error) {
      if (!(error instanceof ShadowError)) throw error;
      const document = clean({ code: error.code, message: error.message, timestamp, clientToken });
      return [{ topic: `${t.prefix}/${t.operation}/rejected`, document }];
    }
  }

  /**
   * The answer to a request refused with a transient error (chaos: shadowErrors): 429 or 500 on `/rejected`,
   * the request's clientToken echoed, nothing changed.
   */
  refuse(t: ShadowTopic, payload: Buffer, code: number, nowMs: number): ShadowResponse[] {
    let clientToken: string | undefined;
    try {
      clientToken = this.parse(t.operation, payload).clientToken;
    } catch {
      // an unreadable request still gets the transient error
    }
    // AWS's message for 500 is documented; for 429 only the code is [UNVERIFIED].
    const message = code === 500 ? 'Internal service failure' : 'Too Many Requests';
    return [{ topic: `${t.prefix}/${t.operation}/rejected`, document: clean({ code, message, timestamp: Math.floor(nowMs / 1000), clientToken }) }];
  }

  /** Parses and checks a request body (get and delete take an empty payload or a JSON object with a clientToken). */
  private parse(operation: ShadowOperation, payload: Buffer): { clientToken?: string; body?: JsonObject } {
    if (payload.length === 0 && operation !== 'update') return {};
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    } catch {
      throw new ShadowError(415, 'Unsupported documented encoding; supported encoding is UTF-8');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (operation !== 'update') return {}; // AWS ignores the payload of get and delete
      throw new ShadowError(400, 'Invalid JSON');
    }
    if (!isObject(body)) {
      if (operation !== 'update') return {};
      throw new ShadowError(400, 'Invalid JSON');
    }
    const token = body.clientToken;
    let clientToken: string | undefined;
    if (token !== undefined) {
      if (typeof token !== 'string' || Buffer.byteLength(token) > this.limits.shadowMaxClientTokenBytes) throw new ShadowError(400, 'Invalid clientToken');
      clientToken = token;
    }
    return { clientToken, body };
  }

  private apply(t: ShadowTopic, parsed: { clientToken?: string; body?: JsonObject }, nowMs: number, clientToken: string | undefined): ShadowResponse[] {
    const timestamp = Math.floor(nowMs / 1000);
    const key = this.key(t.thingName, t.shadowName);
    const stored = this.shadows.get(key);
    const missing = () => new ShadowError(404, `No shadow exists with name: '${t.shadowName ?? t.thingName}'`);
    if (t.operation === 'get') {
      const document = this.document(t.thingName, t.shadowName, nowMs);
      if (!document) throw missing();
      return [{ topic: `${t.prefix}/get/accepted`, document: clean({ ...document, clientToken }) }];
    }
    if (t.operation === 'delete') {
      if (!stored?.exists) throw missing();
      // AWS keeps the version: a shadow recreated within shadowVersionKeepSeconds continues from it.
      // The tombstone that keeps the version counts too (a client that creates and deletes shadows in a loop
      // must not grow the endpoint without bound); it goes when the version need not be kept any more.
      this.prune(nowMs);
      const tombstone = TOMBSTONE_BYTES + key.length;
      this.bytes += tombstone - (stored.bytes ?? 0);
      this.shadows.set(key, { bytes: tombstone, desired: undefined, reported: undefined, metadata: {}, version: stored.version, exists: false, deletedAt: nowMs });
      return [{ topic: `${t.prefix}/delete/accepted`, document: clean({ version: stored.version, timestamp, clientToken }) }];
    }
    return this.update(t, parsed.body!, nowMs, clientToken, stored);
  }

  private update(t: ShadowTopic, body: JsonObject, nowMs: number, clientToken: string | undefined, stored: Stored | undefined): ShadowResponse[] {
    const timestamp = Math.floor(nowMs / 1000);
    const { limits } = this;
    if (!('state' in body)) throw new ShadowError(400, 'Missing required node: state');
    const state = body.state;
    if (!isObject(state)) throw new ShadowError(400, 'State node must be an object');
    for (const key of Object.keys(state)) if (key !== 'desired' && key !== 'reported') throw new ShadowError(400, 'State contains an invalid node');
    for (const section of ['desired', 'reported'] as const) {
      const value = state[section];
      if (value === undefined || value === null) continue;
      if (!isObject(value)) throw new ShadowError(400, `${section === 'desired' ? 'Desired' : 'Reported'} node must be an object`);
      if (deeperThan(value, limits.shadowMaxDepth)) throw new ShadowError(400, `JSON contains too many levels of nesting; maximum is ${limits.shadowMaxDepth}`);
      // Arrays are atomic values and may not hold null [message UNVERIFIED].
      if (hasNullInArray(value)) throw new ShadowError(400, 'Invalid JSON');
    }
    const version = body.version;
    if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 0)) throw new ShadowError(400, 'Invalid version');

    // A shadow deleted longer ago than shadowVersionKeepSeconds starts its versions again.
    const kept = stored && (stored.exists || nowMs - (stored.deletedAt ?? 0) < limits.shadowVersionKeepSeconds * 1000);
    const current: Stored = kept ? stored : { desired: undefined, reported: undefined, metadata: {}, version: 0, exists: false };
    if (version !== undefined && version !== current.version) throw new ShadowError(409, 'Version conflict');

    const next: Stored = { desired: current.desired, reported: current.reported, metadata: { ...current.metadata }, version: current.version + 1, exists: true };
    for (const section of ['desired', 'reported'] as const) {
      if (!(section in state)) continue;
      const patch = state[section] as JsonObject | null;
      if (patch === null) {
        next[section] = undefined; // null removes the whole section
        delete next.metadata[section];
      } else {
        next[section] = merge(current[section], patch);
        next.metadata[section] = mergeMetadata(current.metadata[section], patch, timestamp);
        if (next[section] !== undefined && Object.keys(next[section]!).length === 0) next[section] = undefined;
        if (Object.keys(next.metadata[section]!).length === 0) delete next.metadata[section];
      }
    }
    const size = Buffer.byteLength(JSON.stringify(next.desired ?? {})) + Buffer.byteLength(JSON.stringify(next.reported ?? {}));
    if (size > limits.shadowMaxDocumentBytes) throw new ShadowError(413, 'The payload exceeds the maximum size allowed');
    next.bytes = size + Buffer.byteLength(JSON.stringify(next.metadata)) + t.thingName.length + (t.shadowName?.length ?? 0);
    const total = this.bytes - (stored?.bytes ?? 0) + next.bytes;
    // Not AWS's rule: the endpoint stays bounded in memory, and answers as AWS answers a quota.
    if (total > limits.shadowMaxStoreBytes) throw new ShadowError(429, 'Too Many Requests');
    this.bytes = total;
    this.shadows.set(this.key(t.thingName, t.shadowName), next);

    const requestMetadata = Object.fromEntries(
      (['desired', 'reported'] as const).filter((s) => s in state).map((s) => [s, state[s] === null ? { timestamp } : metadataOf(state[s]!, timestamp)]),
    );
    const responses: ShadowResponse[] = [
      { topic: `${t.prefix}/update/accepted`, document: clean({ state, metadata: requestMetadata, version: next.version, timestamp, clientToken }) },
    ];
    const delta = deltaOf(next.desired, next.reported);
    if (delta && ('desired' in state || this.deltaOnReportedOnly)) {
      responses.push({ topic: `${t.prefix}/update/delta`, document: clean({ state: delta, metadata: pick(next.metadata.desired, delta), version: next.version, timestamp, clientToken }) });
    }
    const view = (s: Stored) => ({ state: clean({ desired: s.desired, reported: s.reported }), metadata: clean({ desired: s.metadata.desired, reported: s.metadata.reported }), version: s.version });
    responses.push({ topic: `${t.prefix}/update/documents`, document: clean({ previous: view(current), current: view(next), timestamp, clientToken }) });
    return responses;
  }

  /** Forgets deleted shadows whose version need not be kept any more (shadowVersionKeepSeconds). */
  private prune(nowMs: number): void {
    if (this.tombstoneCheck > nowMs) return;
    this.tombstoneCheck = nowMs + 60_000; // at most once a minute of the endpoint's clock
    for (const [key, s] of this.shadows) {
      if (!s.exists && nowMs - (s.deletedAt ?? 0) >= this.limits.shadowVersionKeepSeconds * 1000) {
        this.bytes -= s.bytes ?? 0;
        this.shadows.delete(key);
      }
    }
  }

  private tombstoneCheck = 0;

  /** Forgets every shadow (endpoint shutdown). */
  clear(): void {
    this.shadows.clear();
    this.bytes = 0;
  }
}
