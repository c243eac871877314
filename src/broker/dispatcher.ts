/**
 * One client's protocol state: the checks that come before any handler (CONNECT first, wait for CONNACK,
 * keep-alive activity), the table of per-packet handlers, keep-alive, the chaos pipeline, and what happens
 * when the connection ends. It is the `ClientLink` the broker knows the client by, and the context the
 * handlers get.
 */
import type { AuthSubject } from '../auth/authorization';
import type { AuthorizerOutcome, CustomAuthTransport, Prepared, ResolvedAuthorizer, CustomAuthorizerRequest } from '../auth/authorizers';
import { certificateVariables } from '../auth/certificate';
import type { AuthContext } from '../auth/policy';
import type { Profile } from '../aws/profile';
import type { ConnectionChaos } from '../chaos/engine';
import type { ChaosTag } from '../chaos/types';
import type { TimerHandle } from '../clock/clock';
import type { ConnectPacket, DecodeError, Packet, PublishPacket } from '../codec/codec';
import type { PublishProperties } from '../codec/packets';
import type { Message } from '../session/session';
import type { ConnectionIdentity, DisconnectReason, ThrottledEvent } from '../trace/entry';
import { type Broker, type ClientLink, type CloseOptions, publishesWill } from './broker';
import { type ByteStream, Connection, type ConnectionEvents } from './connection';
import { CONNACK, handleConnect } from './handlers/connect';
import { type Acceptance, type ConnectContext, type Mqtt5State, type Problem, limitProblem } from './handlers/context';
import { DISCONNECT_REASON, publishBytes } from './mqtt5';
import { handleDisconnect } from './handlers/disconnect';
import { handlePingreq } from './handlers/pingreq';
import { handlePuback } from './handlers/puback';
import { handlePublish } from './handlers/publish';
import { handleSubscribe } from './handlers/subscribe';
import { handleUnsubscribe } from './handlers/unsubscribe';
import { Outbound } from './outbound';
import { RateBucket } from './throttle';
import { hasInvalidUtf8 } from '../topics/validate';

/** A connection over plain TCP: no certificate, no principal. */
const PLAIN_TCP: ConnectionIdentity = { transport: 'tcp' };

/** Room for a PUBLISH's fixed fields (topic length, packet id) on top of its topic and payload. */
const PACKET_OVERHEAD_BYTES = 16;

/** What the throttled trace event says beyond the connection. */
type Throttling = Pick<ThrottledEvent, 'limit' | 'direction' | 'action'> & Partial<Pick<ThrottledEvent, 'topic' | 'delayedMs'>>;

/** A connection's AWS rate limits (limits.maxPublishesPerSecond, maxBytesPerSecond), while throttles are on. */
interface Rates {
  publishes: RateBucket;
  bytesIn: RateBucket;
  bytesOut: RateBucket;
  /** Packets held back by the outbound byte rate, in order, and their bytes. */
  held: [Packet, ChaosTag | undefined, number][];
  heldBytes: number;
  /** Wakes up when the held packets may go, or the paused input may be read again. */
  outTimer?: TimerHandle;
  inTimer?: TimerHandle;
}

/** Packets kept while a CONNACK is held back (packetBeforeConnack: 'allow'); more is a violation. */
const MAX_EARLY_PACKETS = 100;

/** [MQTT-3.1.2-24] as AWS applies it: no packet from the client for 1.5 × keep-alive closes the connection. */
const KEEP_ALIVE_FACTOR = 1.5;

type Handler = (ctx: Dispatcher, packet: never) => void;

/** What the transport knows of a connection beyond its identity. */
export interface TransportFacts {
  /** Asked at CONNECT: true refuses it (the certificate was deactivated since the handshake), AUTH_ERROR. */
  refuseConnect?: () => boolean;
  /** The client certificate (DER), for the certificate policy variables. */
  certificate?: Uint8Array;
  /**
   * Set when the connection may authenticate with a custom authorizer (aws-iot-behaviour.md §7): what its
   * transport saw (TLS server name, the WebSocket upgrade's headers and query string).
   */
  customAuth?: CustomAuthTransport;
}


/** The handlers of an accepted connection, by packet type. */
const HANDLERS: Partial<Record<Packet['cmd'], Handler>> = {
  publish: handlePublish,
  puback: handlePuback,
  subscribe: handleSubscribe,
  unsubscribe: handleUnsubscribe,
  pingreq: handlePingreq,
  disconnect: handleDisconnect,
};

export class Dispatcher implements ClientLink, ConnectContext, ConnectionEvents {
  /** `authenticating`: a custom authorizer runs, or the CONNECT was accepted and the CONNACK waits (chaos: connackDelay). */
  private state: 'awaiting-connect' | 'authenticating' | 'connected' | 'closed' = 'awaiting-connect';
  private connackTimer: TimerHandle | undefined;
  private readonly io: Connection;
  private hasWill = false;
  private keepAliveMs = 0;
  private lastActivity = 0;
  /** The socket read whose arrival `lastActivity` is. */
  private activityChunk = -1;
  private keepAliveTimer: TimerHandle | undefined;
  private connectChunk = -1;
  /** Chaos state and outbound pipeline, made when chaos is on for this connection. */
  private chaosState: ConnectionChaos | undefined;
  private outbound: Outbound | undefined;
  private readonly rates: Rates | undefined;
  /** MQTT 5 state, from a CONNECT with protocol level 5 on. */
  mqtt5: Mqtt5State | undefined;

  constructor(
    readonly connectionId: number,
    socket: ByteStream,
    readonly broker: Broker,
    private readonly onClosed: (d: Dispatcher) => void,
    /** Who the transport says this is (TLS: the certificate's principal and thing, SNI, ALPN; SigV4: the access key). */
    identity: ConnectionIdentity = PLAIN_TCP,
    private readonly facts: TransportFacts = {},
  ) {
    this.who = identity;
    const { limits } = broker.profile;
    this.io = new Connection(
      connectionId, socket, limits.maxPayloadBytes + limits.maxTopicBytes + PACKET_OVERHEAD_BYTES, broker.trace, broker.budget, this, broker.profile.features.protocolVersions,
    );
    if (broker.profile.reactions.throttles) {
      const now = broker.clock.now();
      this.rates = {
        publishes: new RateBucket(limits.maxPublishesPerSecond, now),
        bytesIn: new RateBucket(limits.maxBytesPerSecond, now),
        bytesOut: new RateBucket(limits.maxBytesPerSecond, now),
        held: [],
        heldBytes: 0,
      };
    }
    // AWS closes a socket that does not send its CONNECT in time (limits.connectTimeoutSeconds).
    this.connectTimer = broker.clock.setTimeout(() => {
      if (this.state === 'awaiting-connect') this.violation({ rule: 'aws.connect-timeout', message: `no complete CONNECT within ${limits.connectTimeoutSeconds} s` });
    }, limits.connectTimeoutSeconds * 1000);
  }

  private connectTimer: TimerHandle | undefined;

  /** Who the connection is: what its transport said, and after a custom authorizer let it in, its principalId. */
  private who: ConnectionIdentity;

  get identity(): ConnectionIdentity {
    return this.who;
  }

  get clientId(): string | undefined {
    return this.io.clientId;
  }

  get remoteAddress(): string {
    return this.io.remoteAddress;
  }

  /** What the lifecycle events carry as principalIdentifier (undefined on plain TCP: the broker's stand-in). */
  get principalIdentifier(): string | undefined {
    return this.identity.principalIdentifier ?? this.identity.principal;
  }

  /** The identity as the connect event shows it (principalIdentifier goes to lifecycle events only). */
  private connectIdentity(): Omit<ConnectionIdentity, 'principalIdentifier'> {
    const { principalIdentifier: _lifecycleOnly, ...shown } = this.identity;
    return shown;
  }

  /** The thing the client certificate is attached to, if any. */
  get thingName(): string | undefined {
    return this.identity.thingName;
  }

  // ---- authorization --------------------------------------------------------------------------

  private authSubject: AuthSubject | undefined;
  private authContext: AuthContext | undefined;
  /** `PersistentConnect` / `LastWill`, as the CONNECT asked (iot:ConnectAttributes). */
  private connectAttributes: string[] = [];

  /** This connection as IoT policies see it: its principal and its policy variables. */
  get auth(): AuthSubject {
    return (this.authSubject ??= { principal: this.identity.principal, context: () => (this.authContext ??= this.makeAuthContext()) });
  }

  private makeAuthContext(): AuthContext {
    const clientId = this.clientId ?? '';
    const ctx: AuthContext = { clientId, sourceIp: this.remoteAddress, connectAttributes: this.connectAttributes };
    // AWS: the thing variables exist when the client id is the name of a thing the certificate is attached to (§6.1).
    // (A custom authorizer's principalId is no certificate: a connection it let in has no thing.)
    const principal = this.who.authorizer === undefined ? this.identity.principal : undefined;
    const thing = principal !== undefined ? this.broker.authz?.attachedThing?.(principal, clientId) : undefined;
    if (thing) {
      ctx.thingName = clientId;
      ctx.thingAttributes = thing.attributes;
      if (thing.thingTypeName !== undefined) ctx.thingTypeName = thing.thingTypeName;
    }
    if (this.facts.certificate) ctx.certificate = certificateVariables(this.facts.certificate);
    return ctx;
  }

  /**
   * AWS at CONNECT (§1.6, §1.8, §6.1): iot:Connect on the client id, with iot:ConnectAttributes saying whether
   * the session is persistent and whether there is a will; then iot:Publish (and iot:RetainPublish for Will
   * Retain) on the will topic. False when a policy denies any of them (recorded in the trace).
   */
  authorizeConnect(clientId: string, persistent: boolean, will: Message | undefined, willRetain: boolean): boolean {
    if (this.broker.authz === undefined) return true;
    this.connectAttributes = [...(persistent ? ['PersistentConnect'] : []), ...(will ? ['LastWill'] : [])];
    this.authContext = undefined; // the client id and attributes are known only now
    const broker = this.broker;
    return broker.authorize(this, 'iot:Connect', 'client', clientId, 'refused') &&
      (will === undefined || (broker.authorize(this, 'iot:Publish', 'topic', will.topic, 'refused') &&
        (!willRetain || broker.authorize(this, 'iot:RetainPublish', 'topic', will.topic, 'refused'))));
  }

  authorize(action: 'iot:Publish' | 'iot:RetainPublish' | 'iot:Subscribe', kind: 'topic' | 'topicfilter', name: string, reaction: 'closed' | 'refused' | 'dropped'): boolean {
    return this.broker.authz === undefined || this.broker.authorize(this, action, kind, name, reaction);
  }

  get bufferedBytes(): number {
    return this.io.writableLength + (this.rates?.heldBytes ?? 0);
  }

  get profile(): Profile {
    return this.broker.profile;
  }

  /** 4 (MQTT 3.1.1) or 5 (MQTT 5), as the connection's CONNECT asked. */
  get protocolVersion(): 4 | 5 {
    return this.io.protocolVersion;
  }

  get link(): ClientLink {
    return this;
  }

  // ---- input ----------------------------------------------------------------------------------

  packet(packet: Packet): void {
    if (this.state === 'closed') return;
    if (this.state === 'awaiting-connect') {
      // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
      if (packet.cmd !== 'connect') return this.violation({ rule: 'MQTT-3.1.0-1', message: `the first packet was ${packet.cmd.toUpperCase()}, not CONNECT` });
      this.connectChunk = this.io.chunk;
      this.connectTimer?.cancel();
      this.connectTimer = undefined;
      if (packet.protocolVersion === 5) {
        const p = packet.properties ?? {};
        this.mqtt5 = {
          topicAliases: new Map(),
          sessionExpiry: 0,
          connectExpiryZero: true,
          problemInformation: p.requestProblemInformation !== false,
          maxPacketBytes: p.maximumPacketSize,
          receiveMaximum: p.receiveMaximum ?? 65_535,
        };
      }
      if (this.facts.refuseConnect?.()) {
        // MQTT 5: CONNACK 0x87 "Not authorized" (AWS, aws-iot-behaviour.md §6.2); MQTT 3.1.1: the socket closes.
        if (this.mqtt5) this.send({ cmd: 'connack', reasonCode: 0x87, sessionPresent: false });
        return this.close('AUTH_ERROR');
      }
      const customAuth = this.facts.customAuth && this.broker.authorizers?.prepare(this.facts.customAuth, { clientId: packet.clientId, username: packet.username, password: packet.password });
      if (customAuth) return this.authenticate(packet, customAuth);
      return handleConnect(this, packet);
    }
    // AWS: the client must wait for CONNACK before it sends anything else (reactions.packetBeforeConnack).
    // A packet that arrived while the CONNACK was held back, or in the same read as its CONNECT, was sent
    // before the client could have seen the CONNACK.
    if (this.state === 'authenticating' || this.io.chunk === this.connectChunk) {
      if (this.profile.reactions.packetBeforeConnack === 'disconnect') {
        return this.violation({ rule: 'aws.wait-for-connack', message: `${packet.cmd.toUpperCase()} was sent before CONNACK was received` });
      }
      if (this.state === 'authenticating') {
        // Handled once the CONNACK is out; a client that floods meanwhile is not waited for.
        if ((this.early ??= []).length >= MAX_EARLY_PACKETS) return this.violation({ rule: 'aws.wait-for-connack', message: `more than ${MAX_EARLY_PACKETS} packets sent before CONNACK was received` });
        return void this.early.push(packet);
      }
    }
    // Keep-alive activity: one clock reading per socket read is enough (its packets arrived together).
    if (this.activityChunk !== this.io.chunk) {
      this.activityChunk = this.io.chunk;
      this.lastActivity = this.broker.clock.now();
    }
    const handler = HANDLERS[packet.cmd];
    if (handler) handler(this, packet as never);
    else if (packet.cmd === 'connect') this.violation({ rule: 'MQTT-3.1.0-2', message: 'a second CONNECT on the same connection' });
    else if (packet.cmd === 'pubrec' || packet.cmd === 'pubrel' || packet.cmd === 'pubcomp' || packet.cmd === 'auth') {
      // AWS: PUBREC, PUBREL, PUBCOMP and AUTH are not supported.
      this.violation({ rule: 'aws.unsupported-packet', message: `AWS IoT does not support ${packet.cmd.toUpperCase()}` });
    } else this.violation({ rule: 'protocol.server-packet', message: `${packet.cmd.toUpperCase()} is a server-to-client packet` });
    if (this.state !== 'connected') return;
    // Chaos: after each packet from the client, the server may drop the connection or a phantom take it over.
    const cut = this.chaos()?.afterIncoming(packet);
    if (cut) this.close(cut.fault === 'takeover' ? 'DUPLICATE_CLIENTID' : 'SERVER_INITIATED_DISCONNECT', { chaos: cut.tag });
  }

  decodeError(error: DecodeError): void {
    if (this.state === 'closed') return;
    if (error.kind === 'too-large') {
      // AWS refuses a packet larger than any it accepts as soon as its header announces it.
      const { limits } = this.profile;
      const announced = error.announcedBytes ?? 0;
      if (this.mqtt5 && this.state === 'connected') {
        // MQTT 5: more than the Maximum Packet Size announced in CONNACK is DISCONNECT 0x95 "Packet too large".
        return this.violation({ ...limitProblem('maxPacketBytes', limits.maxPacketBytes, announced, `a packet announces ${announced} bytes after its fixed header; AWS's Maximum Packet Size is ${limits.maxPacketBytes}`), reasonCode: 0x95 });
      }
      return this.violation(limitProblem('maxPayloadBytes', limits.maxPayloadBytes, announced, `a packet announces ${announced} bytes; AWS allows payloads of ${limits.maxPayloadBytes}`));
    }
    if (error.kind === 'unsupported-protocol' && this.state === 'awaiting-connect') {
      // [MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 before the connection closes.
      this.send({ cmd: 'connack', returnCode: CONNACK.unacceptableProtocol, sessionPresent: false });
      return this.violation({ rule: 'MQTT-3.1.2-2', message: error.message });
    }
    if (error.kind === 'tls-on-plain-port') {
      // A client that was pointed at the wrong URL: say so in one line rather than "malformed packet".
      return this.violation({ rule: 'transport.tls-on-plain-port', message: `${error.message}: port ${this.io.localPort} speaks plain MQTT over TCP — connect with mqtt://, not mqtts:// (fake-aws-iot serves no TLS here)` });
    }
    if (error.kind === 'http-on-plain-port') {
      return this.violation({ rule: 'transport.http-on-plain-port', message: `${error.message}: port ${this.io.localPort} speaks plain MQTT over TCP — connect with mqtt://, not ws:// or http:// (fake-aws-iot serves no WebSockets here)` });
    }
    this.violation({ rule: 'malformed-packet', message: error.message, reasonCode: 0x81 });
  }

  lost(): void {
    this.close('CONNECTION_LOST');
  }

  /** AWS: a connection's traffic is limited in bytes per second; input beyond it is read later. */
  bytesIn(count: number): void {
    const rates = this.rates;
    if (!rates || this.state === 'closed') return;
    const wait = rates.bytesIn.charge(this.broker.clock.now(), count);
    if (wait === 0 || rates.inTimer) return;
    if (this.profile.reactions.throughput === 'disconnect') return this.throttle({ limit: 'maxBytesPerSecond', direction: 'in', action: 'disconnected' });
    this.throttle({ limit: 'maxBytesPerSecond', direction: 'in', action: 'delayed', delayedMs: wait });
    this.io.pause();
    rates.inTimer = this.broker.clock.setTimeout(() => {
      rates.inTimer = undefined;
      this.io.resume();
    }, wait);
  }

  /** Records a throttling; a `disconnected` one closes the connection (lifecycle reason THROTTLED). */
  throttle(what: Throttling): void {
    const trace = this.broker.trace;
    if (trace.active) trace.record({ kind: 'event', event: 'throttled', connectionId: this.connectionId, clientId: this.clientId, ...what });
    if (what.action === 'disconnected' || what.action === 'refused') this.close('THROTTLED');
  }

  /**
   * AWS: a connection may send and receive limits.maxPublishesPerSecond PUBLISH packets together. False
   * (throttling recorded, and the connection closed under publishRate: 'disconnect') when this one is over.
   */
  admitPublish(direction: 'in' | 'out', topic: string): boolean {
    const rates = this.rates;
    if (!rates || rates.publishes.take(this.broker.clock.now())) return true;
    this.throttle({ limit: 'maxPublishesPerSecond', direction, action: this.profile.reactions.publishRate === 'disconnect' ? 'disconnected' : 'discarded', topic });
    return false;
  }

  canDeliver(): boolean {
    return !this.rates || this.rates.publishes.waitFor(this.broker.clock.now()) === 0;
  }

  mayDeliver(topic: string): boolean {
    const rates = this.rates;
    // The token is taken when the message is written (sendPublish), queued QoS 1 included.
    if (!rates || rates.publishes.waitFor(this.broker.clock.now()) === 0) return true;
    return this.admitPublish('out', topic);
  }

  failed(error: unknown): void {
    const trace = this.broker.trace;
    trace.internalError('connection', error, { connectionId: this.connectionId, clientId: this.clientId });
    this.close('SERVER_ERROR');
  }

  // ---- the CONNECT handler's decision -------------------------------------------------------------

  identify(clientId: string): void {
    this.io.clientId = clientId;
  }

  accept(a: Acceptance): void {
    // Chaos: AWS authenticates before it answers, so the CONNACK may come a while after the CONNECT.
    const delay = this.chaos(a.clientId)?.connackDelay();
    if (!delay) return this.attach(a, undefined);
    this.state = 'authenticating';
    this.connackTimer = this.broker.clock.setTimeout(() => {
      try {
        this.attach(a, { ...delay.tag, heldMs: delay.value });
        for (const packet of this.early?.splice(0) ?? []) this.packet(packet);
      } catch (error) {
        this.failed(error);
      }
    }, delay.value);
  }

  /** Packets that arrived while the CONNACK was held back, under packetBeforeConnack: 'allow'. */
  private early: Packet[] | undefined;

  private attach(a: Acceptance, tag: ChaosTag | undefined): void {
    if (this.state === 'closed') return;
    this.hasWill = a.will !== undefined;
    const { sessionPresent } = this.broker.attach(this, {
      clientId: a.clientId, cleanSession: a.cleanSession, sessionExpirySeconds: a.sessionExpirySeconds, protocolVersion: this.protocolVersion,
      ...(a.receiveMaximum !== undefined ? { receiveMaximum: a.receiveMaximum } : {}), will: a.will,
    });
    this.state = 'connected';
    // Written directly: chaos never reorders the CONNACK (connackDelay held it back before the broker saw the client).
    if (this.mqtt5) {
      this.io.write({ cmd: 'connack', reasonCode: 0, sessionPresent, properties: a.connackProperties ?? {} }, tag);
      // From here on a packet larger than the Maximum Packet Size the CONNACK announced is refused (0x95).
      this.io.limitPacketBytes(this.profile.limits.maxPacketBytes);
    } else this.io.write({ cmd: 'connack', returnCode: CONNACK.accepted, sessionPresent }, tag);
    const trace = this.broker.trace;
    if (trace.active) {
      trace.record({
        kind: 'event', event: 'connect', connectionId: this.connectionId, clientId: a.clientId, protocolVersion: this.protocolVersion,
        cleanSession: a.cleanSession, sessionPresent, sessionExpirySeconds: a.sessionExpirySeconds,
        keepAliveSeconds: a.keepAliveSeconds, requestedKeepAliveSeconds: a.requestedKeepAliveSeconds, remoteAddress: this.remoteAddress,
        ...this.connectIdentity(),
      });
    }
    this.keepAliveMs = a.keepAliveSeconds * 1000 * KEEP_ALIVE_FACTOR;
    this.lastActivity = this.broker.clock.now();
    this.armKeepAlive(this.keepAliveMs);
    this.broker.ready(this);
  }

  private armKeepAlive(ms: number): void {
    this.keepAliveTimer = this.broker.clock.setTimeout(() => {
      const idle = this.broker.clock.now() - this.lastActivity;
      if (idle >= this.keepAliveMs) this.close('MQTT_KEEP_ALIVE_TIMEOUT');
      else this.armKeepAlive(this.keepAliveMs - idle);
    }, ms);
  }

  // ---- custom authorizers (aws-iot-behaviour.md §7) ------------------------------------------------

  /** The authorizer run in progress (at CONNECT or a refresh), to cancel when the connection goes. */
  private customAuthRun: { name: string; cancel: () => void } | undefined;
  /** disconnectAfterInSeconds and refreshAfterInSeconds, on the endpoint's clock. */
  private ttlTimer: TimerHandle | undefined;
  private refreshTimer: TimerHandle | undefined;

  /**
   * AWS runs the custom authorizer before it answers the CONNECT: the connection waits (packets that come
   * meanwhile are held, or are a violation under packetBeforeConnack: 'disconnect'), then the CONNECT goes on
   * to its usual checks with the authorizer's principal and policies, or is refused.
   */
  private authenticate(packet: ConnectPacket, prepared: Prepared): void {
    this.state = 'authenticating';
    if (packet.clientId !== '') this.identify(packet.clientId);
    const started = this.broker.clock.now();
    if ('refusal' in prepared) {
      this.recordAuthorizer(prepared.authorizer?.name, { ok: false, isAuthenticated: false, ...prepared.refusal }, started, false);
      return this.refuseAuthenticated(packet, prepared.refusal.code);
    }
    const { authorizer, request } = prepared;
    this.runAuthorizer(authorizer, request, (outcome) => {
      this.recordAuthorizer(authorizer.name, outcome, started, false);
      if (!outcome.ok) return this.refuseAuthenticated(packet, outcome.code);
      this.authenticated(authorizer, request, outcome);
      this.state = 'awaiting-connect';
      handleConnect(this, packet);
      // Packets held while the authorizer ran go on now, unless the CONNACK is held back too (connackDelay does it then).
      if (this.stateNow() === 'connected') for (const early of this.early?.splice(0) ?? []) this.packet(early);
    });
  }

  /** The state as it is now (after a call that may have changed it). */
  private stateNow(): Dispatcher['state'] {
    return this.state;
  }

  private runAuthorizer(authorizer: ResolvedAuthorizer, request: CustomAuthorizerRequest, then: (outcome: AuthorizerOutcome) => void): void {
    const cancel = this.broker.authorizers!.invoke(authorizer, request, this.broker.clock, (outcome) => {
      this.customAuthRun = undefined;
      if (this.state === 'closed') return;
      try {
        then(outcome);
      } catch (error) {
        this.failed(error);
      }
    });
    if (this.state !== 'closed') this.customAuthRun = { name: authorizer.name, cancel };
    else cancel();
  }

  /**
   * AWS refuses the CONNECT: MQTT 5 with CONNACK 0x86 "Bad user name or password" (not authenticated, or a token
   * signature that does not verify) or 0x87 "Not authorized"; MQTT 3.1.1 without a CONNACK (the socket closes).
   * Either way a connect_failed lifecycle event (§3.3, §6.2).
   */
  private refuseAuthenticated(packet: ConnectPacket, reasonCode: number): void {
    if (this.mqtt5) this.send({ cmd: 'connack', reasonCode, sessionPresent: false });
    // (Only for a client id the CONNECT's own checks would accept: the authorizer runs before them.)
    const id = packet.clientId;
    if (id !== '' && Buffer.byteLength(id) <= this.profile.limits.maxClientIdBytes && !hasInvalidUtf8(id)) this.broker.connectFailed(this, id);
    this.close('AUTH_ERROR');
  }

  /** The authorizer let the connection in: its principalId and policies are the connection's from now on. */
  private authenticated(authorizer: ResolvedAuthorizer, request: CustomAuthorizerRequest, outcome: Extract<AuthorizerOutcome, { ok: true }>): void {
    this.who = { ...this.who, principal: outcome.principalId, authorizer: authorizer.name };
    this.authSubject = { principal: outcome.principalId, extraPolicies: outcome.policies, context: () => (this.authContext ??= this.makeAuthContext()) };
    const clock = this.broker.clock;
    // AWS: the connection is closed after disconnectAfterInSeconds (lifecycle reason CUSTOMAUTH_TTL_EXPIRATION),
    // counted from the first authentication; a refresh does not move it.
    this.ttlTimer ??= clock.setTimeout(() => this.close('CUSTOMAUTH_TTL_EXPIRATION'), outcome.disconnectAfterSeconds * 1000);
    // AWS keeps the returned policies for refreshAfterInSeconds, then asks the authorizer again.
    this.refreshTimer = clock.setTimeout(() => {
      this.refreshTimer = undefined;
      const started = clock.now();
      this.runAuthorizer(authorizer, request, (again) => {
        this.recordAuthorizer(authorizer.name, again, started, true);
        if (again.ok) this.authenticated(authorizer, request, again);
        else this.close('AUTH_ERROR');
      });
    }, outcome.refreshAfterSeconds * 1000);
  }

  private recordAuthorizer(name: string | undefined, outcome: AuthorizerOutcome, started: number, refresh: boolean): void {
    const trace = this.broker.trace;
    if (!trace.active) return;
    trace.record({
      kind: 'event', event: 'authorizer', connectionId: this.connectionId, clientId: this.clientId, ...(name !== undefined ? { authorizer: name } : {}),
      isAuthenticated: outcome.ok, ...(outcome.ok ? { principalId: outcome.principalId } : {}), durationMs: this.broker.clock.now() - started,
      ...(!outcome.ok && outcome.error !== undefined ? { error: outcome.error } : {}), ...(refresh ? { refresh: true } : {}),
    });
  }

  // ---- output ---------------------------------------------------------------------------------

  /** Sends a packet: straight to the socket, or through the chaos pipeline when chaos is on. */
  send(packet: Packet, tag?: ChaosTag, fresh = true): void {
    if (this.state === 'closed') return;
    const outbound = this.outbound ?? (this.broker.chaos && this.state === 'connected' ? this.startChaos() : undefined);
    if (outbound) outbound.send(packet, tag, fresh);
    else this.write(packet, tag);
  }

  sendPublish(message: Message, messageId: number | undefined, repeat = false): void {
    // RETAIN only on the copy a new subscription caused (AWS, aws-iot-behaviour.md §1.7); live forwards clear it.
    // One literal per shape (with or without a packet id): no property added after the object is made.
    const packet: PublishPacket = messageId === undefined
      ? { cmd: 'publish', topic: message.topic, payload: message.payload, qos: message.qos, dup: false, retain: message.retain === true }
      : { cmd: 'publish', topic: message.topic, payload: message.payload, qos: message.qos, dup: false, retain: message.retain === true, messageId };
    // MQTT 5 subscribers get the publisher's properties, and the Message Expiry left (AWS: rounded down to whole
    // seconds, 0 once less than a second remains, §1.11); MQTT 3.1.1 subscribers get none of them.
    if (this.mqtt5) {
      const properties = this.publishProperties(message);
      if (properties) packet.properties = properties;
    }
    // Every PUBLISH written counts toward the connection's rate (re-sends and stored messages too).
    this.rates?.publishes.charge(this.broker.clock.now(), 1);
    this.send(packet, message.chaos, !repeat);
  }

  private publishProperties(message: Message): PublishProperties | undefined {
    if (message.expiresAt === undefined) return message.properties;
    const remaining = Math.max(0, Math.floor((message.expiresAt - this.broker.clock.now()) / 1000));
    return { ...message.properties, messageExpiryInterval: remaining };
  }

  /** MQTT 5: whether a PUBLISH of the message fits the client's Maximum Packet Size (AWS does not send it otherwise). */
  fits(message: Message): boolean {
    const max = this.mqtt5?.maxPacketBytes;
    return max === undefined || publishBytes(message.topic, message.payload.length, message.qos, this.publishProperties(message)) <= max;
  }

  /**
   * Writes a packet, or holds it back (in order) while the connection is over its outbound byte rate:
   * AWS delays traffic over limits.maxBytesPerSecond. Returns the trace seq (0 while held back).
   */
  private write(packet: Packet, tag: ChaosTag | undefined): number {
    const rates = this.rates;
    if (!rates) return this.io.write(packet, tag);
    const bytes = packet.cmd === 'publish' ? packet.payload.length + packet.topic.length + PACKET_OVERHEAD_BYTES : 4;
    const now = this.broker.clock.now();
    if (rates.held.length === 0 && rates.bytesOut.waitFor(now, 0) === 0) {
      rates.bytesOut.charge(now, bytes);
      return this.io.write(packet, tag);
    }
    if (this.profile.reactions.throughput === 'disconnect') {
      this.throttle({ limit: 'maxBytesPerSecond', direction: 'out', action: 'disconnected' });
      return 0;
    }
    rates.held.push([packet, tag, bytes]);
    rates.heldBytes += bytes;
    this.broker.budget.used += bytes;
    if (!rates.outTimer) {
      const wait = Math.max(1, rates.bytesOut.waitFor(now, 0));
      this.throttle({ limit: 'maxBytesPerSecond', direction: 'out', action: 'delayed', delayedMs: wait });
      rates.outTimer = this.broker.clock.setTimeout(() => this.release(), wait);
    }
    return 0;
  }

  /** Writes what the outbound byte rate held back, as far as the rate allows now. */
  private release(): void {
    const rates = this.rates!;
    rates.outTimer = undefined;
    const now = this.broker.clock.now();
    while (rates.held.length > 0 && rates.bytesOut.waitFor(now, 0) === 0) {
      const [packet, tag, bytes] = rates.held.shift()!;
      rates.heldBytes -= bytes;
      this.broker.budget.used -= bytes;
      rates.bytesOut.charge(now, bytes);
      this.io.write(packet, tag);
    }
    if (rates.held.length > 0) rates.outTimer = this.broker.clock.setTimeout(() => this.release(), Math.max(1, rates.bytesOut.waitFor(now, 0)));
  }

  /**
   * This connection's chaos state, when chaos is on. Chaos applies to accepted connections only; the state
   * is made when the CONNECT is accepted (or, when chaos is turned on later, at first use), so each
   * connection's streams are numbered per client id, in connect order.
   */
  chaos(acceptedClientId = this.state === 'connected' ? this.clientId : undefined): ConnectionChaos | undefined {
    const engine = this.broker.chaos;
    if (this.chaosState || !engine) return this.chaosState;
    if (acceptedClientId === undefined || this.state === 'closed') return undefined;
    return (this.chaosState = engine.attach(acceptedClientId, this.connectionId));
  }

  /** The chaos pipeline, made on the first packet sent while chaos is on (CONNACK is never held back or copied). */
  private startChaos(): Outbound | undefined {
    const chaos = this.chaos();
    if (!chaos) return undefined;
    return (this.outbound = new Outbound(chaos, this.broker.clock, {
      write: (packet, tag) => this.write(packet, tag),
      lendPacketId: () => this.broker.lendPacketId(this),
    }));
  }

  /** What this connection still has to send: held or delayed packets (when timers count), unwritten bytes. */
  pendingWork(countTimers: boolean): string[] {
    const who = `c${this.connectionId} ${this.clientId ?? '(before CONNECT)'}`;
    const work: string[] = [];
    const held = this.outbound?.pending ?? 0;
    if (countTimers && held > 0) work.push(`${who}: ${held} packet(s) held back or delayed by chaos`);
    if (this.customAuthRun) work.push(`${who}: custom authorizer ${JSON.stringify(this.customAuthRun.name)} has not answered (it fails after limits.customAuthTimeoutSeconds on the endpoint's clock)`);
    else if (countTimers && this.state === 'authenticating') work.push(`${who}: CONNACK held back by chaos (connackDelay)`);
    const throttled = this.rates?.held.length ?? 0;
    if (countTimers && this.state !== 'closed' && throttled > 0) work.push(`${who}: ${throttled} packet(s) held back by limits.maxBytesPerSecond`);
    if (this.state !== 'closed' && this.io.writableLength > 0) work.push(`${who}: ${this.io.writableLength} bytes not yet taken by the client`);
    return work;
  }

  // ---- ending ---------------------------------------------------------------------------------

  ignored(rule: string, message: string): void {
    const trace = this.broker.trace;
    if (trace.active) trace.record({ kind: 'event', event: 'ignored', connectionId: this.connectionId, clientId: this.clientId, rule, message });
  }

  violation(problem: Problem, reason: DisconnectReason = 'CLIENT_ERROR'): void {
    if (this.state === 'closed') return;
    const { reasonCode, ...shown } = problem;
    const trace = this.broker.trace;
    if (trace.active) trace.record({ kind: 'event', event: 'violation', connectionId: this.connectionId, clientId: this.clientId, ...shown });
    // MQTT 5: the client is told why (DISCONNECT with a reason code, §1.11): the problem's, or one for its rule.
    this.close(reason, this.mqtt5 ? { reasonCode: reasonCode ?? DISCONNECT_REASON.forProblem(shown), reasonString: shown.message } : {});
  }

  /**
   * Ends the connection. An accepted client is detached from the broker, which publishes its will
   * (unless it left with DISCONNECT) and the disconnected lifecycle event.
   */
  close(reason: DisconnectReason, options: CloseOptions = {}): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    // MQTT 5: a server-side close of an accepted connection starts with a DISCONNECT saying why (AWS, §1.11).
    if (wasConnected && this.mqtt5) {
      const reasonCode = options.reasonCode ?? DISCONNECT_REASON.forLifecycle(reason, options.chaos);
      if (reasonCode !== undefined) {
        const properties = options.reasonString ? { reasonString: options.reasonString.slice(0, 256) } : undefined;
        this.io.write({ cmd: 'disconnect', reasonCode, ...(properties ? { properties } : {}) }, undefined);
      }
    }
    this.state = 'closed';
    this.keepAliveTimer?.cancel();
    this.connectTimer?.cancel();
    this.connackTimer?.cancel();
    this.customAuthRun?.cancel();
    this.customAuthRun = undefined;
    this.ttlTimer?.cancel();
    this.refreshTimer?.cancel();
    this.outbound?.close();
    const rates = this.rates;
    if (rates) {
      rates.outTimer?.cancel();
      rates.inTimer?.cancel();
      this.broker.budget.used -= rates.heldBytes;
      rates.held = [];
      rates.heldBytes = 0;
    }
    this.io.end();
    const trace = this.broker.trace;
    if (trace.active) {
      const willPublished = wasConnected && this.hasWill && publishesWill(reason, options);
      trace.record({ kind: 'event', event: 'disconnect', connectionId: this.connectionId, clientId: this.clientId, reason, willPublished, ...(options.chaos ? { chaos: options.chaos } : {}) });
    }
    if (wasConnected) this.broker.detach(this, reason, options);
    this.onClosed(this);
  }

  /** Endpoint shutdown: the broker is closed already, so nothing is published any more. */
  destroy(): void {
    // MQTT 5 clients get DISCONNECT 0x8B "Server shutting down".
    this.close('SERVER_INITIATED_DISCONNECT', { publishWill: false, reasonCode: 0x8b });
    this.io.destroy();
  }
}
