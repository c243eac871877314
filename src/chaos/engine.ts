/**
 * The chaos engine: holds the knobs, hands each connection its own random stream (derived from the
 * endpoint's seed and the client id), applies script steps, and logs every decision.
 */
import type { Packet } from '../codec/codec';
import { type ResolvedChaos, inScope } from './options';
import * as policy from './policies';
import { type RandomStream, streamFor } from './prng';
import { type ChaosDecision, type ChaosTag, type FaultName, JOBS_ERROR_CODES, type JobsErrorsCode, type ScriptStep, type ScriptableFault } from './types';

/** A decision with its place in the log. */
export interface Decided {
  value: number;
  tag: ChaosTag;
}

/** Which field of a decision (and of a script step) carries the decided number. */
const DECISION_PARAM: Record<ScriptableFault, 'copies' | 'delayMs' | 'holdMs' | 'code' | undefined> = {
  duplicateQos0: 'copies',
  resendWithNewPacketId: 'delayMs',
  subscriptionDelay: 'delayMs',
  reorder: 'holdMs',
  dropConnection: undefined,
  takeover: undefined,
  connackDelay: 'delayMs',
  shadowErrors: 'code',
  jobsErrors: 'code',
};

/**
 * Which jump of a connection's stream each fault draws from: fixed numbers (not FAULTS' order), so
 * adding a fault never moves another's draws. Jumped streams cannot overlap.
 */
const STREAM_JUMPS: Record<FaultName, number> = {
  duplicateQos0: 1,
  resendWithNewPacketId: 2,
  subscriptionDelay: 3,
  reorder: 4,
  latency: 5,
  dropConnection: 6,
  takeover: 7,
  connackDelay: 8,
  shadowErrors: 9,
  jobsErrors: 10,
};

/** Defaults for what a script step does when it does not say. */
const SCRIPT_DEFAULTS = { copies: 1, resendDelayMs: 0, subscriptionDelayMs: 100, connackDelayMs: 100, holdMs: 10 } as const;

/** Bounds on what the engine remembers. */
export interface ChaosEngineLimits {
  /** Decisions kept in the log, the most recent ones; older ones are dropped and counted. Default 10,000. */
  maxDecisions?: number;
  /**
   * Client ids whose counts (connections, eligible events) are remembered. Beyond it the client that
   * connected least recently is forgotten: if it comes back, it counts (and draws) from the start again.
   * Default 10,000.
   */
  maxClients?: number;
}

export const DEFAULT_MAX_DECISIONS = 10_000;
export const DEFAULT_MAX_CLIENTS = 10_000;

/** What the engine counts per client id: what a script's `nth` and a connection's stream key rest on. */
interface ClientCounts {
  connections: number;
  events: Partial<Record<ScriptableFault, number>>;
}

export class ChaosEngine {
  private config: ResolvedChaos;
  private paused = false;
  /** The most recent decisions (trimmed to maxDecisions now and then, so a push stays cheap). */
  private decisions: ChaosDecision[] = [];
  /** Decisions taken since the engine started, kept or not. */
  private taken = 0;
  /** Per client id, least recently connected first. */
  private readonly clients = new Map<string, ClientCounts>();
  private forgotten = 0;
  private scriptSeen: number[] = [];
  private scriptDone: boolean[] = [];
  private readonly maxDecisions: number;
  private readonly maxClients: number;

  constructor(config: ResolvedChaos, private readonly seed: number, limits: ChaosEngineLimits = {}) {
    this.config = config;
    this.maxDecisions = limits.maxDecisions ?? DEFAULT_MAX_DECISIONS;
    this.maxClients = limits.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.resetScript();
  }

  get settings(): ResolvedChaos {
    return this.config;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Decisions dropped from the front of the log to keep it within maxDecisions. */
  get dropped(): number {
    return this.taken - Math.min(this.decisions.length, this.maxDecisions);
  }

  /** Client ids forgotten to stay within maxClients (a run with none replays exactly). */
  get forgottenClients(): number {
    return this.forgotten;
  }

  /** Replaces every knob and the script (a script starts counting afresh). */
  set(config: ResolvedChaos): void {
    this.config = config;
    this.resetScript();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** The kept decisions, oldest first: `log()[i]` is decision number `dropped + i`. */
  log(): ChaosDecision[] {
    return this.kept().map((d) => ({ ...d }));
  }

  /**
   * The log as script steps: replaying them (same seed or not) forces the same faults at the same places.
   * Exact while nothing was dropped or forgotten.
   */
  toScript(): ScriptStep[] {
    return this.kept().map((d) => {
      const step: ScriptStep = { fault: d.fault, client: d.clientId, nth: d.nth };
      const param = DECISION_PARAM[d.fault];
      if (param) (step as unknown as Record<string, unknown>)[param] = d[param];
      return step;
    });
  }

  private kept(): ChaosDecision[] {
    const extra = this.decisions.length - this.maxDecisions;
    return extra > 0 ? this.decisions.slice(extra) : this.decisions;
  }

  /**
   * The chaos state of a new connection. Each connection, numbered per client id, draws from its own
   * streams — one per fault, so turning one knob off (as shrinking does) leaves the others' draws alone.
   */
  attach(clientId: string, connectionId: number): ConnectionChaos {
    let counts = this.clients.get(clientId);
    if (counts) this.clients.delete(clientId); // re-inserted below: now the most recently connected
    else counts = { connections: 0, events: {} };
    this.clients.set(clientId, counts);
    if (this.clients.size > this.maxClients) {
      this.clients.delete(this.clients.keys().next().value!);
      this.forgotten++;
    }
    const n = ++counts.connections;
    const base = streamFor(this.seed, `chaos:${clientId}:${n}`);
    return new ConnectionChaos(this, clientId, connectionId, counts, (fault) => base.jumped(STREAM_JUMPS[fault]));
  }

  private resetScript(): void {
    this.scriptSeen = this.config.script.map(() => 0);
    this.scriptDone = this.config.script.map(() => false);
  }

  /**
   * One eligible event of `fault` for a client. Counts it (the `nth` a script names), draws from the
   * stream when the knob is on and in scope, lets a script step override, and logs what was decided.
   */
  decide<F extends ScriptableFault>(
    fault: F,
    ctx: ConnectionChaos,
    packet: { topic?: string; cmd?: string },
    draw: (knob: policy.Knob<F>, rng: RandomStream) => number | policy.Cut | undefined,
    fromScript: (step: ScriptStep) => number,
  ): Decided | undefined {
    const nth = (ctx.counts.events[fault] = (ctx.counts.events[fault] ?? 0) + 1);
    if (this.paused) return undefined;

    let value: number | undefined;
    let source: ChaosDecision['source'] = 'random';
    const knob = this.config[fault] as policy.Knob<F> | undefined;
    if (knob && inScope(knob.scope, ctx.clientId, packet.topic)) {
      const drawn = draw(knob, ctx.stream(fault));
      if (typeof drawn === 'string') {
        value = 0;
        source = drawn;
      } else value = drawn;
    }
    const script = this.config.script;
    for (let i = 0; i < script.length; i++) {
      const step = script[i]!;
      if (this.scriptDone[i] || step.fault !== fault) continue;
      if (step.client !== undefined && step.client !== ctx.clientId) continue;
      if (step.matchesTopic && (packet.topic === undefined || !step.matchesTopic(packet.topic))) continue;
      if (++this.scriptSeen[i]! === step.nth) {
        this.scriptDone[i] = true;
        value = fromScript(step);
        source = 'script';
      }
    }
    if (value === undefined) return undefined;
    const decision: ChaosDecision = { fault, clientId: ctx.clientId, connectionId: ctx.connectionId, nth, source };
    if (packet.topic !== undefined) decision.topic = packet.topic;
    if (packet.cmd !== undefined) decision.cmd = packet.cmd;
    const param = DECISION_PARAM[fault];
    // jobsErrors decides an index: the log (and a script made from it) names the code.
    if (param) (decision as unknown as Record<string, number | string>)[param] = fault === 'jobsErrors' ? JOBS_ERROR_CODES[value]! : value;
    this.record(decision);
    return { value, tag: { fault, decision: this.taken - 1 } };
  }

  private record(decision: ChaosDecision): void {
    this.taken++;
    this.decisions.push(decision);
    // Trim in batches: the log stays within maxDecisions (as log() shows it) without a copy per decision.
    if (this.decisions.length >= this.maxDecisions + Math.min(this.maxDecisions, 1024)) {
      this.decisions = this.decisions.slice(this.decisions.length - this.maxDecisions);
    }
  }
}

const REORDERABLE = new Set(['publish', 'puback', 'suback', 'unsuback']);

/** One connection's view of the engine. */
export class ConnectionChaos {
  /** Packets received from the client since CONNACK. */
  private packetsIn = 0;
  private readonly streams = new Map<FaultName, RandomStream>();

  constructor(
    private readonly engine: ChaosEngine,
    readonly clientId: string,
    readonly connectionId: number,
    /** The client's counts (held here, so a live connection keeps counting even if the engine forgets the client). */
    readonly counts: ClientCounts,
    private readonly makeStream: (fault: FaultName) => RandomStream,
  ) {}

  /** This connection's random stream for one fault. */
  stream(fault: FaultName): RandomStream {
    let s = this.streams.get(fault);
    if (!s) this.streams.set(fault, (s = this.makeStream(fault)));
    return s;
  }

  duplicates(p: { topic: string; qos: number }): Decided | undefined {
    if (p.qos !== 0) return undefined;
    return this.engine.decide('duplicateQos0', this, { topic: p.topic, cmd: 'publish' }, policy.duplicateCopies, (s) => s.copies ?? SCRIPT_DEFAULTS.copies);
  }

  resend(p: { topic: string }): Decided | undefined {
    return this.engine.decide('resendWithNewPacketId', this, { topic: p.topic, cmd: 'publish' }, policy.resendDelay, (s) => s.delayMs ?? SCRIPT_DEFAULTS.resendDelayMs);
  }

  /** connackDelay: how long the CONNACK of this connection waits, if at all. */
  connackDelay(): Decided | undefined {
    return this.engine.decide('connackDelay', this, { cmd: 'connack' }, policy.subscriptionDelay, (s) => s.delayMs ?? SCRIPT_DEFAULTS.connackDelayMs);
  }

  subscriptionDelay(filter: string): Decided | undefined {
    return this.engine.decide('subscriptionDelay', this, { topic: filter }, policy.subscriptionDelay, (s) => s.delayMs ?? SCRIPT_DEFAULTS.subscriptionDelayMs);
  }

  /** shadowErrors: the transient error (429 or 500) a shadow request from this client gets, if any. */
  shadowError(topic: string): Decided | undefined {
    return this.engine.decide('shadowErrors', this, { topic, cmd: 'publish' }, policy.shadowError, (s) => (s.code as number | undefined) ?? 429);
  }

  /** jobsErrors: the transient error a Jobs request from this client gets, if any (an index in JOBS_ERROR_CODES). */
  jobsError(topic: string): Decided | undefined {
    return this.engine.decide('jobsErrors', this, { topic, cmd: 'publish' }, policy.jobsError, (s) => JOBS_ERROR_CODES.indexOf((s.code as JobsErrorsCode | undefined) ?? 'RequestThrottled'));
  }

  /** reorder: how long to hold an outgoing packet, if at all. */
  hold(p: Packet): Decided | undefined {
    if (!REORDERABLE.has(p.cmd)) return undefined;
    const topic = p.cmd === 'publish' ? p.topic : undefined;
    return this.engine.decide('reorder', this, { topic, cmd: p.cmd }, policy.holdTime, (s) => s.holdMs ?? SCRIPT_DEFAULTS.holdMs);
  }

  /** latency of an outgoing packet (not logged: it is shaping, reproducible from the seed). */
  latency(p: Packet): number {
    const k = this.engine.settings.latency;
    if (!k || this.engine.isPaused || !inScope(k.scope, this.clientId, p.cmd === 'publish' ? p.topic : undefined)) return 0;
    return policy.latency(k, this.stream('latency'));
  }

  /** After each packet from the client: whether the server now drops the connection or a phantom takes it over. */
  afterIncoming(p: Packet): { fault: 'dropConnection' | 'takeover'; tag: ChaosTag } | undefined {
    const n = ++this.packetsIn;
    const topic = p.cmd === 'publish' ? p.topic : undefined;
    for (const fault of ['dropConnection', 'takeover'] as const) {
      const d = this.engine.decide(fault, this, { topic, cmd: p.cmd }, (k, rng) => policy.cutAfter(k, rng, n), () => 0);
      if (d) return { fault, tag: d.tag };
    }
    return undefined;
  }
}

export type { FaultName };
