/**
 * One client connection: the CONNECT handshake, keep-alive, one handler per packet type and AWS's
 * limit checks. A problem with the client closes this connection only; nothing is thrown to the host.
 */
import type { Socket } from 'node:net';
import type { SessionFacts } from '../aws/lifecycle';
import type { ConnectionChaos } from '../chaos/engine';
import type { ChaosTag } from '../chaos/types';
import { type TimerHandle, realClock } from '../clock/clock';
import {
  type ConnectPacket,
  type Decoder,
  type Packet,
  type PublishPacket,
  type SubscribePacket,
  type UnsubscribePacket,
  createDecoder,
  encode,
} from '../codec/codec';
import type { Message, Session } from '../session/session';
import type { DisconnectReason, ViolationEvent } from '../trace/entry';
import type { Broker, BrokerConnection } from './broker';
import { Outbound } from './outbound';
import { type TopicProblem, checkTopicFilter, hasInvalidUtf8, invalidUtf8 } from './topics';

type Problem = Omit<ViolationEvent, 'kind' | 'event' | 'seq' | 'at' | 'connectionId' | 'clientId'>;

/** How long a closing connection may take to flush what was written to it. */
const FLUSH_ON_CLOSE_MS = 1000;

/** Room for a PUBLISH's fixed fields (topic length, packet id) on top of its topic and payload. */
const PACKET_OVERHEAD_BYTES = 16;

/** MQTT 3.1.1 CONNACK return codes. */
const CONNACK = { accepted: 0, unacceptableProtocol: 1, identifierRejected: 2 } as const;

function limitProblem(limit: ViolationEvent['limit'] & string, max: number, actual: number, message: string): Problem {
  return { rule: `limits.${limit}`, limit, max, actual, message };
}

export class Connection implements BrokerConnection {
  clientId: string | undefined;
  session: Session | undefined;
  readonly remoteAddress: string;
  private state: 'awaiting-connect' | 'connected' | 'closed' = 'awaiting-connect';
  private readonly decoder: Decoder;
  private will: Message | undefined;
  private facts: SessionFacts | undefined;
  private keepAliveMs = 0;
  private lastActivity = 0;
  private keepAliveTimer: TimerHandle | undefined;
  /** Number of the data chunk being read, and of the one that carried CONNECT. */
  private chunk = 0;
  private connectChunk = -1;
  /** Writes of one tick are corked and leave in one system call at the end of the tick. */
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.socket.uncork();
  };
  /** Chaos state and outbound pipeline, made when chaos is on for this connection. */
  private chaos: ConnectionChaos | undefined;
  private outbound: Outbound | undefined;

  constructor(
    readonly connectionId: number,
    private readonly socket: Socket,
    private readonly broker: Broker,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.decoder = createDecoder(
      (packet) => this.guard(() => this.onPacket(packet)),
      (error) => this.onDecodeError(error),
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.state === 'closed') return;
      this.chunk++;
      this.guard(() => {
        this.decoder.push(chunk);
        // A packet announcing more bytes than any packet AWS accepts is refused now, not buffered first.
        const announced = this.decoder.pendingLength();
        const { limits } = this.broker.profile;
        if (announced > limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES + limits.maxTopicBytes) {
          this.violation(limitProblem('maxPayloadBytes', limits.maxPayloadBytes, announced, `a packet announces ${announced} bytes; AWS allows payloads of ${limits.maxPayloadBytes}`));
        }
      });
    });
    socket.on('error', () => this.close('CONNECTION_LOST'));
    socket.on('close', () => this.close('CONNECTION_LOST'));
  }

  /** Runs a handler; an unexpected failure inside the fake closes this connection, never the host. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.violation({ rule: 'internal', message: `internal error in fake-aws-iot: ${(error as Error)?.stack ?? String(error)}` }, 'SERVER_ERROR');
    }
  }

  // ---- output -----------------------------------------------------------------------------

  /** Sends a packet: straight to the socket, or through the chaos pipeline when chaos is on. */
  private send(packet: Packet, tag?: ChaosTag): void {
    if (this.state === 'closed') return;
    const outbound = this.outbound ?? (this.broker.chaos ? this.startChaos() : undefined);
    if (outbound) outbound.send(packet, tag);
    else this.write(packet, tag);
  }

  /** Encodes, traces and writes one packet; returns its trace seq. */
  private write(packet: Packet, tag: ChaosTag | undefined): number {
    if (this.state === 'closed' || this.socket.destroyed) return 0;
    const bytes = encode(packet);
    const trace = this.broker.trace;
    const seq = trace.active
      ? trace.record({ kind: 'packet', connectionId: this.connectionId, clientId: this.clientId, direction: 'out', packet, ...(tag ? { chaos: tag } : {}) })
      : 0;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(bytes);
    return seq;
  }

  /** This connection's chaos state, when chaos is on. Chaos applies to accepted connections only. */
  private chaosState(): ConnectionChaos | undefined {
    const engine = this.broker.chaos;
    if (!engine || this.state !== 'connected') return undefined;
    return (this.chaos ??= engine.attach(this.clientId!, this.connectionId));
  }

  /** The chaos pipeline, made on the first packet sent while chaos is on (CONNACK is never held back or copied). */
  private startChaos(): Outbound | undefined {
    const chaos = this.chaosState();
    if (!chaos) return undefined;
    return (this.outbound = new Outbound(chaos, this.broker.clock, {
      write: (packet, tag) => this.write(packet, tag),
      resend: (packet, tag) => {
        if (packet.qos === 1) this.session?.deliver({ topic: packet.topic, payload: packet.payload as Buffer, qos: 1, chaos: tag });
        else this.send({ ...packet }, tag);
      },
    }));
  }

  /** Link for the session. The broker never sets DUP (AWS: "the MQTT DUP flag is not supported"). */
  sendPublish(message: Message, messageId: number | undefined): void {
    // A client that stops reading: QoS 0 ("zero or more times") is dropped once its socket buffer is full.
    if (message.qos === 0 && this.socket.writableLength > this.broker.profile.limits.maxBufferedBytes) {
      const trace = this.broker.trace;
      if (trace.active) trace.record({ kind: 'event', event: 'dropped', clientId: this.clientId!, topic: message.topic, reason: 'slow-consumer' });
      return;
    }
    const packet: PublishPacket = { cmd: 'publish', topic: message.topic, payload: message.payload, qos: message.qos, dup: false, retain: false };
    if (messageId !== undefined) packet.messageId = messageId;
    this.send(packet, message.chaos);
  }

  // ---- input ------------------------------------------------------------------------------

  private onDecodeError(error: Error): void {
    if (this.state === 'closed') return;
    // [MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 before the connection closes.
    if (this.state === 'awaiting-connect' && /protocol version/i.test(error.message)) {
      this.send({ cmd: 'connack', returnCode: CONNACK.unacceptableProtocol, sessionPresent: false });
      this.violation({ rule: 'MQTT-3.1.2-2', message: `unsupported protocol level (${error.message})` });
      return;
    }
    this.violation({ rule: 'malformed-packet', message: `malformed packet: ${error.message}` });
  }

  private onPacket(packet: Packet): void {
    if (this.state === 'closed') return;
    const trace = this.broker.trace;
    if (trace.active) {
      const clientId = packet.cmd === 'connect' && this.clientId === undefined ? packet.clientId : this.clientId;
      trace.record({ kind: 'packet', connectionId: this.connectionId, clientId, direction: 'in', packet });
    }
    if (this.state === 'awaiting-connect') {
      // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
      if (packet.cmd !== 'connect') return this.violation({ rule: 'MQTT-3.1.0-1', message: `the first packet was ${packet.cmd.toUpperCase()}, not CONNECT` });
      return this.onConnect(packet);
    }
    // AWS: the client must wait for CONNACK before it sends anything else. A packet that arrived in the
    // same read as its CONNECT was sent before the client could have seen the CONNACK.
    if (this.chunk === this.connectChunk) {
      return this.violation({ rule: 'aws.wait-for-connack', message: `${packet.cmd.toUpperCase()} was sent before CONNACK was received` });
    }
    this.lastActivity = this.broker.clock.now();
    this.dispatch(packet);
    // Chaos: after each packet from the client, the server may drop the connection or a phantom take it over.
    const cut = this.chaosState()?.afterIncoming(packet);
    if (cut) this.close(cut.fault === 'takeover' ? 'DUPLICATE_CLIENTID' : 'SERVER_INITIATED_DISCONNECT', { chaos: cut.tag });
  }

  private dispatch(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        return this.onPublish(packet);
      case 'puback':
        this.session!.ack(packet.messageId!);
        return;
      case 'subscribe':
        return this.onSubscribe(packet);
      case 'unsubscribe':
        return this.onUnsubscribe(packet);
      case 'pingreq':
        return this.send({ cmd: 'pingresp' });
      case 'disconnect':
        return this.close('CLIENT_INITIATED_DISCONNECT');
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
        return this.violation({ rule: 'MQTT-3.1.0-2', message: 'a second CONNECT on the same connection' });
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
      case 'auth':
        return this.violation({ rule: 'aws.unsupported-packet', message: `AWS IoT does not support ${packet.cmd.toUpperCase()}` });
      default:
        return this.violation({ rule: 'protocol.server-packet', message: `${packet.cmd.toUpperCase()} is a server-to-client packet` });
    }
  }

  private onConnect(packet: ConnectPacket): void {
    const { limits, reactions } = this.broker.profile;
    this.connectChunk = this.chunk;
    if (packet.protocolVersion !== 4) {
      // [MQTT-3.1.2-2] only protocol level 4 (3.1.1) is served.
      this.send({ cmd: 'connack', returnCode: CONNACK.unacceptableProtocol, sessionPresent: false });
      return this.violation({ rule: 'MQTT-3.1.2-2', message: `protocol level ${packet.protocolVersion} is not MQTT 3.1.1 (level 4)` });
    }
    const clean = packet.clean !== false;
    let clientId = packet.clientId;
    if (clientId === '') {
      if (!clean || reactions.emptyClientId === 'reject') {
        // [MQTT-3.1.3-8] an empty client id with cleanSession = 0 is rejected with 0x02.
        this.send({ cmd: 'connack', returnCode: CONNACK.identifierRejected, sessionPresent: false });
        return this.violation({ rule: clean ? 'aws.empty-client-id' : 'MQTT-3.1.3-8', message: 'empty client id' });
      }
      clientId = this.broker.assignClientId();
    }
    if (hasInvalidUtf8(clientId)) return this.violation(invalidUtf8('client id'));
    const idBytes = Buffer.byteLength(clientId);
    if (idBytes > limits.maxClientIdBytes) {
      this.send({ cmd: 'connack', returnCode: CONNACK.identifierRejected, sessionPresent: false });
      return this.violation(limitProblem('maxClientIdBytes', limits.maxClientIdBytes, idBytes, `client id is ${idBytes} bytes; AWS allows ${limits.maxClientIdBytes}`));
    }
    this.clientId = clientId;

    if (packet.will) {
      const w = packet.will;
      const problem = this.checkOutgoingMessage(w.topic, w.qos ?? 0, w.retain === true, Buffer.byteLength(w.payload ?? ''), 'will');
      if (problem === 'ignore' || problem) {
        // A will AWS cannot honour fails the connect: the socket is closed without CONNACK.
        return this.violation(problem === 'ignore' ? { rule: 'aws.qos2', message: 'will QoS 2 is not supported' } : problem);
      }
      const payload = typeof w.payload === 'string' ? Buffer.from(w.payload) : Buffer.from(w.payload ?? []);
      this.will = { topic: w.topic, payload, qos: (w.qos ?? 0) as 0 | 1 };
    }

    // AWS: keep-alive is clamped to [min, max]; 0 (no keep-alive) becomes the maximum.
    const requested = packet.keepalive ?? 0;
    const keepAlive = requested === 0 ? limits.maxKeepAliveSeconds : Math.min(Math.max(requested, limits.minKeepAliveSeconds), limits.maxKeepAliveSeconds);

    // AWS: a new connection with a client id in use takes it over; the older one is closed.
    this.broker.online.get(clientId)?.close('DUPLICATE_CLIENTID');

    const { session, resumed } = this.broker.openSession(clientId, clean);
    this.session = session;
    this.facts = this.broker.nextLifecycleFacts(session);
    this.broker.online.set(clientId, this);
    this.state = 'connected';
    // Written directly: chaos never delays or reorders the CONNACK.
    this.write({ cmd: 'connack', returnCode: CONNACK.accepted, sessionPresent: resumed }, undefined);
    const trace = this.broker.trace;
    if (trace.active) {
      trace.record({
        kind: 'event', event: 'connect', connectionId: this.connectionId, clientId, cleanSession: clean, sessionPresent: resumed,
        keepAliveSeconds: keepAlive, requestedKeepAliveSeconds: requested, remoteAddress: this.remoteAddress,
      });
    }
    this.startKeepAlive(keepAlive);
    // Each connection's chaos stream is numbered per client id, in connect order.
    this.chaosState();
    this.broker.connected(this.facts, this.remoteAddress);
    session.attach(this);
  }

  /**
   * Checks a message a client wants published (PUBLISH or will). Returns a problem that closes the
   * connection, `'ignore'` for QoS 2 under `qos2: 'ignore'`, or undefined when it may go ahead.
   */
  private checkOutgoingMessage(topic: string, qos: number, retain: boolean, payloadBytes: number, what: string): Problem | 'ignore' | undefined {
    const { limits, reactions } = this.broker.profile;
    if (qos === 2) {
      // AWS: QoS 2 is not supported; the broker sends no PUBACK (or closes the connection).
      return reactions.qos2 === 'ignore' ? 'ignore' : { rule: 'aws.qos2', message: `${what} with QoS 2 is not supported` };
    }
    // AWS (classic): a request to retain a message disconnects the client; nothing is stored.
    if (retain && reactions.retain === 'disconnect') return { rule: 'aws.retain', message: `${what} with RETAIN: AWS IoT does not support retained messages` };
    const topicProblem: TopicProblem | undefined = this.broker.checkTopic(topic);
    if (topicProblem) return topicProblem;
    if (payloadBytes > limits.maxPayloadBytes) {
      return limitProblem('maxPayloadBytes', limits.maxPayloadBytes, payloadBytes, `${what} payload is ${payloadBytes} bytes; AWS allows ${limits.maxPayloadBytes}`);
    }
    return undefined;
  }

  private onPublish(packet: PublishPacket): void {
    const payload = packet.payload as Buffer;
    const problem = this.checkOutgoingMessage(packet.topic, packet.qos, packet.retain, payload.length, 'PUBLISH');
    if (problem === 'ignore') return this.ignored('aws.qos2', 'QoS 2 PUBLISH: no PUBACK, not delivered');
    if (problem) return this.violation(problem);
    // AWS ignores an inbound DUP flag: a re-sent message is routed like any other.
    this.broker.route(packet.topic, payload, packet.qos as 0 | 1);
    if (packet.qos === 1) this.send({ cmd: 'puback', messageId: packet.messageId });
  }

  private onSubscribe(packet: SubscribePacket): void {
    const { limits, reactions } = this.broker.profile;
    const subs = packet.subscriptions;
    // [MQTT-3.8.3-3] a SUBSCRIBE carries at least one topic filter.
    if (subs.length === 0) return this.violation({ rule: 'MQTT-3.8.3-3', message: 'SUBSCRIBE without a topic filter' });
    if (subs.length > limits.maxFiltersPerSubscribe) {
      return this.violation(limitProblem('maxFiltersPerSubscribe', limits.maxFiltersPerSubscribe, subs.length, `SUBSCRIBE carries ${subs.length} topic filters; AWS allows ${limits.maxFiltersPerSubscribe}`));
    }
    if (subs.some((s) => s.qos === 2)) {
      // AWS: a SUBSCRIBE asking for QoS 2 gets no SUBACK (or the connection is closed).
      if (reactions.qos2 === 'ignore') return this.ignored('aws.qos2', 'SUBSCRIBE with QoS 2: no SUBACK, no subscription');
      return this.violation({ rule: 'aws.qos2', message: 'SUBSCRIBE with QoS 2 is not supported' });
    }
    for (const s of subs) {
      const problem = checkTopicFilter(s.topic, limits);
      if (problem) return this.violation(problem);
    }
    const session = this.session!;
    const added = new Set(subs.map((s) => s.topic).filter((t) => !session.subscriptions.has(t)));
    const total = session.subscriptions.size + added.size;
    if (total > limits.maxSubscriptionsPerConnection) {
      return this.violation(limitProblem('maxSubscriptionsPerConnection', limits.maxSubscriptionsPerConnection, total, `${total} subscriptions; AWS allows ${limits.maxSubscriptionsPerConnection} per connection`));
    }
    const granted: (0 | 1)[] = [];
    for (const s of subs) {
      const qos = s.qos as 0 | 1;
      const isNew = !session.subscriptions.has(s.topic) || session.activations.has(s.topic);
      session.subscriptions.set(s.topic, qos);
      // AWS: there may be a delay between SUBACK and the first matching message (chaos: subscriptionDelay).
      const delay = isNew ? this.chaosState()?.subscriptionDelay(s.topic) : undefined;
      this.broker.activate(session, s.topic, qos, this.connectionId, delay?.value, delay?.tag);
      granted.push(qos);
    }
    this.send({ cmd: 'suback', messageId: packet.messageId, granted });
    this.broker.subscriptionChanged(this.facts!, 'subscribed', subs.map((s) => s.topic));
  }

  private onUnsubscribe(packet: UnsubscribePacket): void {
    // [MQTT-3.10.3-2] an UNSUBSCRIBE carries at least one topic filter.
    if (packet.unsubscriptions.length === 0) return this.violation({ rule: 'MQTT-3.10.3-2', message: 'UNSUBSCRIBE without a topic filter' });
    if (packet.unsubscriptions.some(hasInvalidUtf8)) return this.violation(invalidUtf8('topic filter'));
    const session = this.session!;
    for (const filter of packet.unsubscriptions) {
      if (session.subscriptions.delete(filter)) this.broker.deactivate(session, filter);
    }
    this.send({ cmd: 'unsuback', messageId: packet.messageId, granted: [] });
    this.broker.subscriptionChanged(this.facts!, 'unsubscribed', packet.unsubscriptions);
  }

  // ---- keep-alive ---------------------------------------------------------------------------

  /** [MQTT-3.1.2-24], as AWS applies it: the connection is closed after 1.5 × keep-alive without a packet from the client. */
  private startKeepAlive(seconds: number): void {
    this.keepAliveMs = seconds * 1500;
    this.lastActivity = this.broker.clock.now();
    this.armKeepAlive(this.keepAliveMs);
  }

  private armKeepAlive(ms: number): void {
    this.keepAliveTimer = this.broker.clock.setTimeout(() => {
      const idle = this.broker.clock.now() - this.lastActivity;
      if (idle >= this.keepAliveMs) this.close('MQTT_KEEP_ALIVE_TIMEOUT');
      else this.armKeepAlive(this.keepAliveMs - idle);
    }, ms);
  }

  // ---- closing ------------------------------------------------------------------------------

  private ignored(rule: string, message: string): void {
    const trace = this.broker.trace;
    if (trace.active) trace.record({ kind: 'event', event: 'ignored', connectionId: this.connectionId, clientId: this.clientId, rule, message });
  }

  /** Records what the client did wrong, then closes the connection the way AWS does. */
  private violation(problem: Problem, reason: DisconnectReason = 'CLIENT_ERROR'): void {
    if (this.state === 'closed') return;
    const trace = this.broker.trace;
    if (trace.active) trace.record({ kind: 'event', event: 'violation', connectionId: this.connectionId, clientId: this.clientId, ...problem });
    this.close(reason);
  }

  /**
   * Closes the connection. The will is published unless the client asked to leave (DISCONNECT), and
   * only if the connection had been accepted.
   */
  close(reason: DisconnectReason, options: { publishWill?: boolean; lifecycle?: boolean; chaos?: ChaosTag } = {}): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.keepAliveTimer?.cancel();
    this.outbound?.close();
    const socket = this.socket;
    if (!socket.destroyed) {
      // Flush what was written (a CONNACK with an error code, say), then close; a peer that does not read
      // gets a second, in real time whatever the endpoint's clock, before the socket is destroyed.
      socket.end(() => socket.destroy());
      const giveUp = realClock.setTimeout(() => socket.destroy(), FLUSH_ON_CLOSE_MS);
      socket.once('close', () => giveUp.cancel());
    }
    const publishWill = wasConnected && this.will !== undefined && reason !== 'CLIENT_INITIATED_DISCONNECT' && options.publishWill !== false;
    const trace = this.broker.trace;
    if (trace.active) {
      trace.record({ kind: 'event', event: 'disconnect', connectionId: this.connectionId, clientId: this.clientId, reason, willPublished: publishWill, ...(options.chaos ? { chaos: options.chaos } : {}) });
    }
    if (wasConnected) {
      const session = this.session!;
      if (this.broker.online.get(session.clientId) === this) this.broker.online.delete(session.clientId);
      if (session.link === this) this.broker.releaseSession(session);
      if (publishWill) this.broker.publishFromBroker('will', this.will!.topic, this.will!.payload, this.will!.qos, session.clientId);
      if (options.lifecycle !== false) this.broker.disconnected(this.facts!, reason);
    }
    this.onClosed(this);
  }

  /** Destroys the socket at once (endpoint shutdown). */
  destroy(): void {
    this.close('SERVER_INITIATED_DISCONNECT', { publishWill: false, lifecycle: false });
    this.socket.destroy();
  }
}
