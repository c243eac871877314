/**
 * The chaos engine: holds the knobs, hands each connection its own random stream (derived from the
 * endpoint's seed and the client id), applies script steps, and logs every decision.
 */
import type { Packet } from '../codec/codec';
import { type ResolvedChaos, inScope } from './options';
import * as policy from './policies';
import { type RandomStream, streamFor } from './prng';
import type { ChaosDecision, ChaosTag, FaultName, ScriptStep, ScriptableFault } from './types';

/** A decision with its place in the log. */
export interface Decided {
  value: number;
  tag: ChaosTag;
}

/** Which field of a decision (and of a script step) carries the decided number. */
const DECISION_PARAM: Record<ScriptableFault, 'copies' | 'delayMs' | 'holdMs' | undefined> = {
  duplicateQos0: 'copies',
  resendWithNewPacketId: 'delayMs',
  subscriptionDelay: 'delayMs',
  reorder: 'holdMs',
  dropConnection: undefined,
  takeover: undefined,
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
};

/** Defaults for what a script step does when it does not say. */
const SCRIPT_DEFAULTS = { copies: 1, resendDelayMs: 0, subscriptionDelayMs: 100, holdMs: 10 } as const;

export class ChaosEngine {
  private config: ResolvedChaos;
  private paused = false;
  private readonly decisions: ChaosDecision[] = [];
  private readonly connectionCounts = new Map<string, number>();
  private readonly eventCounts = new Map<string, number>();
  private scriptSeen: number[] = [];
  private scriptDone: boolean[] = [];

  constructor(config: ResolvedChaos, private readonly seed: number) {
    this.config = config;
    this.resetScript();
  }

  get settings(): ResolvedChaos {
    return this.config;
  }

  get isPaused(): boolean {
    return this.paused;
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

  log(): ChaosDecision[] {
    return this.decisions.map((d) => ({ ...d }));
  }

  /** The log as script steps: replaying them (same seed or not) forces the same faults at the same places. */
  toScript(): ScriptStep[] {
    return this.decisions.map((d) => {
      const step: ScriptStep = { fault: d.fault, client: d.clientId, nth: d.nth };
      const param = DECISION_PARAM[d.fault];
      if (param) step[param] = d[param];
      return step;
    });
  }

  /**
   * The chaos state of a new connection. Each connection, numbered per client id, draws from its own
   * streams — one per fault, so turning one knob off (as shrinking does) leaves the others' draws alone.
   */
  attach(clientId: string, connectionId: number): ConnectionChaos {
    const n = (this.connectionCounts.get(clientId) ?? 0) + 1;
    this.connectionCounts.set(clientId, n);
    const base = streamFor(this.seed, `chaos:${clientId}:${n}`);
    return new ConnectionChaos(this, clientId, connectionId, (fault) => base.jumped(STREAM_JUMPS[fault]));
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
    draw: (knob: policy.Knob<F>, rng: RandomStream) => number | boolean | undefined,
    fromScript: (step: ScriptStep) => number,
  ): Decided | undefined {
    const key = `${ctx.clientId}\u0000${fault}`;
    const nth = (this.eventCounts.get(key) ?? 0) + 1;
    this.eventCounts.set(key, nth);
    if (this.paused) return undefined;

    let value: number | boolean | undefined;
    const knob = this.config[fault] as policy.Knob<F> | undefined;
    if (knob && inScope(knob.scope, ctx.clientId, packet.topic)) value = draw(knob, ctx.stream(fault));
    let source: ChaosDecision['source'] = 'random';
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
    if (value === undefined || value === false) return undefined;
    const num = value === true ? 0 : value;
    const decision: ChaosDecision = { fault, clientId: ctx.clientId, connectionId: ctx.connectionId, nth, source };
    if (packet.topic !== undefined) decision.topic = packet.topic;
    if (packet.cmd !== undefined) decision.cmd = packet.cmd;
    const param = DECISION_PARAM[fault];
    if (param) decision[param] = num;
    this.decisions.push(decision);
    return { value: num, tag: { fault, decision: this.decisions.length - 1 } };
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

  subscriptionDelay(filter: string): Decided | undefined {
    return this.engine.decide('subscriptionDelay', this, { topic: filter }, policy.subscriptionDelay, (s) => s.delayMs ?? SCRIPT_DEFAULTS.subscriptionDelayMs);
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
