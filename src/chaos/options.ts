/**
 * Validation of chaos options, and their resolved form.
 */
import { classicProfile } from '../aws/profile';
import { topicMatcher } from '../topics/topic-index';
import { checkTopicFilter } from '../topics/validate';
import { checkKnownKeys, fail, show } from '../validate';
import { type ChaosOptions, type ChaosScope, FAULTS, type FaultName, JOBS_ERROR_CODES, type JobsErrorsCode, type ScriptStep, type ScriptableFault, type ShadowErrorCode } from './types';

const SHADOW_ERROR_CODES: readonly ShadowErrorCode[] = [429, 500];

export interface Scope {
  /** Set when the knob names `topics`: whether a topic matches one of them. */
  matchesTopic?: (topic: string) => boolean;
  clients?: (string | RegExp)[];
}

/** A script step, with its `topic` filter ready to match. */
export type ResolvedStep = ScriptStep & { matchesTopic?: (topic: string) => boolean };

export interface ResolvedChaos {
  duplicateQos0?: { probability: number; maxCopies: number; scope: Scope };
  resendWithNewPacketId?: { probability: number; minDelayMs: number; maxDelayMs: number; scope: Scope };
  subscriptionDelay?: { minMs: number; maxMs: number; scope: Scope };
  reorder?: { probability: number; maxHoldMs: number; scope: Scope };
  latency?: { minMs: number; maxMs: number; scope: Scope };
  dropConnection?: { probability: number; afterPackets?: number; scope: Scope };
  takeover?: { probability: number; afterPackets?: number; scope: Scope };
  connackDelay?: { minMs: number; maxMs: number; scope: Scope };
  shadowErrors?: { probability: number; codes: ShadowErrorCode[]; scope: Scope };
  jobsErrors?: { probability: number; codes: JobsErrorsCode[]; scope: Scope };
  script: ResolvedStep[];
}

/** Chaos scopes may name any valid filter: AWS's length limits concern what clients send, not the test's knobs. */
export const ANY_LENGTH = { ...classicProfile.limits, maxTopicBytes: 65535, maxTopicSlashes: 65535 };

/** Whether an event of `clientId` (on `topic`, if it has one) falls inside a knob's scope. */
export function inScope(scope: Scope, clientId: string, topic: string | undefined): boolean {
  if (scope.clients && !scope.clients.some((c) => (typeof c === 'string' ? c === clientId : c.test(clientId)))) return false;
  if (scope.matchesTopic && (topic === undefined || !scope.matchesTopic(topic))) return false;
  return true;
}

/** Validates chaos options; `where` names them in messages (e.g. `options.chaos`). */
export function resolveChaos(input: unknown, where: string): ResolvedChaos {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(`${where} must be an object of chaos knobs (got ${show(input)}).`);
  const o = input as Record<string, unknown>;
  checkKnownKeys(o, [...FAULTS, 'script'], `${where}.`);

  const knob = (name: FaultName, keys: string[]): Record<string, unknown> | undefined => {
    const v = o[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${where}.${name} must be an object (got ${show(v)}).`);
    checkKnownKeys(v as object, [...keys, 'topics', 'clients'], `${where}.${name}.`);
    return v as Record<string, unknown>;
  };
  const probability = (v: unknown, name: string): number => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(`${name} must be a number from 0 to 1 (got ${show(v)}).`);
    return v as number;
  };
  const ms = (v: unknown, name: string, fallback?: number): number => {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${name} must be a number of milliseconds >= 0 (got ${show(v)}).`);
    return v as number;
  };
  const count = (v: unknown, name: string, fallback?: number): number => {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`${name} must be a whole number >= 1 (got ${show(v)}).`);
    return v as number;
  };
  const range = (min: number, max: number, name: string, minKey: string, maxKey: string) => {
    if (min > max) fail(`${name}.${minKey} (${min}) must not exceed ${name}.${maxKey} (${max}).`);
  };
  const scope = (v: Record<string, unknown>, name: string): Scope => {
    const s: Scope = {};
    if (v.topics !== undefined) {
      if (!Array.isArray(v.topics) || v.topics.length === 0) fail(`${name}.topics must be a non-empty array of topic filters (got ${show(v.topics)}).`);
      for (const f of v.topics as unknown[]) {
        const problem = typeof f === 'string' ? checkTopicFilter(f, ANY_LENGTH) : { message: 'not a string' };
        if (problem) fail(`${name}.topics has an invalid topic filter ${show(f)}: ${problem.message}.`);
      }
      s.matchesTopic = topicMatcher(v.topics as string[]);
    }
    if (v.clients !== undefined) {
      if (!Array.isArray(v.clients) || v.clients.length === 0 || !v.clients.every((c) => typeof c === 'string' || c instanceof RegExp)) {
        fail(`${name}.clients must be a non-empty array of client ids or RegExps (got ${show(v.clients)}).`);
      }
      // A RegExp's g or y flag makes test() resume at lastIndex: the same id would match only every other time.
      s.clients = (v.clients as (string | RegExp)[]).map((c) => (typeof c === 'string' || !/[gy]/.test(c.flags) ? c : new RegExp(c.source, c.flags.replace(/[gy]/g, ''))));
    }
    return s;
  };

  const out: ResolvedChaos = { script: [] };
  const p = (name: string) => `${where}.${name}`;

  let k = knob('duplicateQos0', ['probability', 'maxCopies']);
  if (k) out.duplicateQos0 = { probability: probability(k.probability, `${p('duplicateQos0')}.probability`), maxCopies: count(k.maxCopies, `${p('duplicateQos0')}.maxCopies`, 1), scope: scope(k, p('duplicateQos0')) };

  k = knob('resendWithNewPacketId', ['probability', 'minDelayMs', 'maxDelayMs']);
  if (k) {
    const n = p('resendWithNewPacketId');
    const r = { probability: probability(k.probability, `${n}.probability`), minDelayMs: ms(k.minDelayMs, `${n}.minDelayMs`, 0), maxDelayMs: ms(k.maxDelayMs, `${n}.maxDelayMs`, 50), scope: scope(k, n) };
    if (k.maxDelayMs === undefined && r.minDelayMs > r.maxDelayMs) r.maxDelayMs = r.minDelayMs;
    range(r.minDelayMs, r.maxDelayMs, n, 'minDelayMs', 'maxDelayMs');
    out.resendWithNewPacketId = r;
  }

  for (const name of ['subscriptionDelay', 'connackDelay'] as const) {
    k = knob(name, ['minMs', 'maxMs']);
    if (!k) continue;
    const n = p(name);
    const r = { minMs: ms(k.minMs, `${n}.minMs`, 0), maxMs: ms(k.maxMs, `${n}.maxMs`), scope: scope(k, n) };
    range(r.minMs, r.maxMs, n, 'minMs', 'maxMs');
    if (name === 'connackDelay' && r.scope.matchesTopic) fail(`${n}.topics does not apply: a CONNACK has no topic (use clients).`);
    out[name] = r;
  }

  k = knob('reorder', ['probability', 'maxHoldMs']);
  if (k) {
    const n = p('reorder');
    const r = { probability: probability(k.probability, `${n}.probability`), maxHoldMs: ms(k.maxHoldMs, `${n}.maxHoldMs`), scope: scope(k, n) };
    if (r.maxHoldMs < 1) fail(`${n}.maxHoldMs must be at least 1 (got ${r.maxHoldMs}).`);
    out.reorder = r;
  }

  k = knob('latency', ['ms', 'minMs', 'maxMs']);
  if (k) {
    const n = p('latency');
    if (k.ms !== undefined && (k.minMs !== undefined || k.maxMs !== undefined)) fail(`${n} takes either ms (fixed) or minMs and maxMs (a range), not both.`);
    const r = k.ms !== undefined
      ? { minMs: ms(k.ms, `${n}.ms`), maxMs: k.ms as number, scope: scope(k, n) }
      : { minMs: ms(k.minMs, `${n}.minMs`), maxMs: ms(k.maxMs, `${n}.maxMs`), scope: scope(k, n) };
    range(r.minMs, r.maxMs, n, 'minMs', 'maxMs');
    out.latency = r;
  }

  for (const name of ['dropConnection', 'takeover'] as const) {
    k = knob(name, ['probability', 'afterPackets']);
    if (!k) continue;
    const n = p(name);
    if (k.probability === undefined && k.afterPackets === undefined) fail(`${n} needs probability (per packet) or afterPackets (or both).`);
    out[name] = {
      probability: k.probability === undefined ? 0 : probability(k.probability, `${n}.probability`),
      afterPackets: k.afterPackets === undefined ? undefined : count(k.afterPackets, `${n}.afterPackets`),
      scope: scope(k, n),
    };
  }

  k = knob('shadowErrors', ['probability', 'codes']);
  if (k) {
    const n = p('shadowErrors');
    let codes = [...SHADOW_ERROR_CODES];
    if (k.codes !== undefined) {
      if (!Array.isArray(k.codes) || k.codes.length === 0 || !k.codes.every((c) => SHADOW_ERROR_CODES.includes(c as ShadowErrorCode))) {
        fail(`${n}.codes must be a non-empty array of AWS's transient shadow errors, 429 and/or 500 (got ${show(k.codes)}).`);
      }
      codes = [...new Set(k.codes as ShadowErrorCode[])];
    }
    out.shadowErrors = { probability: probability(k.probability, `${n}.probability`), codes, scope: scope(k, n) };
  }

  k = knob('jobsErrors', ['probability', 'codes']);
  if (k) {
    const n = p('jobsErrors');
    let codes: JobsErrorsCode[] = [...JOBS_ERROR_CODES];
    if (k.codes !== undefined) {
      if (!Array.isArray(k.codes) || k.codes.length === 0 || !k.codes.every((c) => JOBS_ERROR_CODES.includes(c as JobsErrorsCode))) {
        fail(`${n}.codes must be a non-empty array of AWS's transient Jobs errors, "RequestThrottled" and/or "InternalError" (got ${show(k.codes)}).`);
      }
      codes = [...new Set(k.codes as JobsErrorsCode[])];
    }
    out.jobsErrors = { probability: probability(k.probability, `${n}.probability`), codes, scope: scope(k, n) };
  }

  if (o.script !== undefined) {
    if (!Array.isArray(o.script)) fail(`${where}.script must be an array of steps like { fault: 'reorder', client: 'dev-1', nth: 3 } (got ${show(o.script)}).`);
    out.script = (o.script as unknown[]).map((raw, i) => {
      const n = `${where}.script[${i}]`;
      if (typeof raw !== 'object' || raw === null) fail(`${n} must be an object (got ${show(raw)}).`);
      const s = raw as Record<string, unknown>;
      checkKnownKeys(s, ['fault', 'client', 'topic', 'nth', 'copies', 'delayMs', 'holdMs', 'code'], `${n}.`);
      const scriptable = FAULTS.filter((f) => f !== 'latency');
      if (typeof s.fault !== 'string' || !(scriptable as readonly string[]).includes(s.fault)) {
        fail(`${n}.fault must be one of ${scriptable.map((f) => `"${f}"`).join(', ')} (got ${show(s.fault)}).`);
      }
      const step: ResolvedStep = { fault: s.fault as ScriptableFault, nth: count(s.nth, `${n}.nth`) };
      if (s.client !== undefined) {
        if (typeof s.client !== 'string' || s.client === '') fail(`${n}.client must be a client id (got ${show(s.client)}).`);
        step.client = s.client as string;
      }
      if (s.topic !== undefined) {
        const problem = typeof s.topic === 'string' ? checkTopicFilter(s.topic, ANY_LENGTH) : { message: 'not a string' };
        if (problem) fail(`${n}.topic must be a topic filter: ${problem.message} (got ${show(s.topic)}).`);
        step.topic = s.topic as string;
        step.matchesTopic = topicMatcher([step.topic]);
      }
      if (s.copies !== undefined) step.copies = count(s.copies, `${n}.copies`);
      for (const key of ['delayMs', 'holdMs'] as const) if (s[key] !== undefined) step[key] = ms(s[key], `${n}.${key}`);
      if (s.code !== undefined) {
        if (step.fault === 'jobsErrors') {
          if (!JOBS_ERROR_CODES.includes(s.code as JobsErrorsCode)) fail(`${n}.code must be "RequestThrottled" or "InternalError" for jobsErrors (got ${show(s.code)}).`);
        } else if (!SHADOW_ERROR_CODES.includes(s.code as ShadowErrorCode)) fail(`${n}.code must be 429 or 500 (got ${show(s.code)}).`);
        step.code = s.code as ShadowErrorCode | JobsErrorsCode;
      }
      return step;
    });
  }
  return out;
}

export type { ChaosOptions, ChaosScope };
