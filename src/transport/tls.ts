/**
 * MQTT over TLS with client certificates, as AWS IoT serves it on 8883 (and on 443 with ALPN
 * `x-amzn-mqtt-ca`). A plain TCP listener takes each connection and looks at its first bytes: anything but a
 * TLS handshake record (plain MQTT, HTTP, noise) is refused there and never reaches OpenSSL; a handshake is
 * passed to a node:tls server that never listens itself. After the handshake (`secureConnection`) the client
 * certificate is checked — present, signed by a trusted CA, usable — then SNI, then the caller's own check
 * (certificate status); only a socket that passed everything is handed on (to the broker's Dispatcher).
 * Every refusal is reported once through `refused()`; nothing here throws into the host.
 */
import { type Server, type Socket, createServer } from 'node:net';
import { constants as cryptoConstants } from 'node:crypto';
import { type Server as TlsServer, type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { type TimerHandle, realClock, warnError } from '../clock/clock';
import { recogniseFirstBytes } from '../codec/first-bytes';
import { FakeIotError } from '../errors';
import type { TransportErrorEvent, TransportFailure } from '../trace/entry';
import { type Listener, closeServer, listenOn } from './tcp';

export interface TlsConfig {
  host: string;
  port: number;
  /** Server certificate (chain) and key, PEM. */
  cert: string | Buffer;
  key: string | Buffer;
  /** CAs whose client certificates are accepted, PEM. */
  ca: (string | Buffer)[];
  requireSni: boolean;
  /** ALPN protocols accepted when the client offers any; a client that offers none is accepted too. */
  alpn: readonly string[];
  /**
   * The ALPN protocol that selects custom authentication (AWS: `mqtt`, §7), when the endpoint has custom
   * authorizers: accepted besides `alpn`, and a connection that agreed on it needs no client certificate.
   */
  customAuthAlpn?: string;
  /** How long (real time) a connection may take from accept to a finished handshake. */
  handshakeTimeoutMs: number;
  /** The endpoint's plain port, named in the hint for a client that speaks plain MQTT here. */
  plainPort: number;
}

/** What a finished, verified handshake tells about the client. */
export interface TlsClientFacts {
  /** The client certificate's DER; undefined for custom authentication (ALPN `customAuthAlpn`), which needs none. */
  certificate: Buffer | undefined;
  sni: string | undefined;
  alpn: string | undefined;
  remoteAddress: string;
  remotePort: number | undefined;
}

/** A refusal, as the trace's transport-error event carries it. */
export type TlsRefusal = Omit<TransportErrorEvent, 'kind' | 'event' | 'seq' | 'at' | 'transport'>;

export interface TlsEvents {
  /**
   * The handshake finished and the certificate is trusted. Returns a refusal (the certificate is inactive or
   * revoked) or undefined, and in that case takes the socket.
   */
  secure(socket: TLSSocket, facts: TlsClientFacts): { reason: TransportFailure; message: string; principal?: string } | undefined;
  refused(refusal: TlsRefusal): void;
  /** Something threw while a connection was taken over (a bug in the fake): the connection is closed. */
  failed(error: unknown): void;
}

/** Verification errors that mean "not signed by a CA this endpoint trusts". */
const UNKNOWN_CA_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
]);

interface Pending {
  raw: Socket;
  /** Its key in `pending` (keyOf). */
  key: string;
  remoteAddress: string;
  remotePort: number | undefined;
  timer: TimerHandle;
  /** What the client offered in ALPN (for the message when none is accepted). */
  offered?: string[];
  /** Handed to node:tls (the first bytes were a TLS handshake record). */
  tls: boolean;
  /** Refused or handed on: reported once, whatever else happens to the socket. */
  done: boolean;
}

const clean = (address: string | undefined) => (address ?? '').replace(/^::ffff:/, '');
/** A connection by both its ends (a node:tls server serves one endpoint after another: see takeTlsServer). */
const keyOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined; localAddress?: string | undefined; localPort?: number | undefined }) =>
  `${clean(s.remoteAddress)}|${s.remotePort ?? ''}|${clean(s.localAddress)}|${s.localPort ?? ''}`;

/** What a node:tls server reports, passed to the endpoint that uses it at the time. */
interface TlsServerHandlers {
  alpn(socket: TLSSocket, protocols: string[]): string | undefined;
  clientError(error: NodeJS.ErrnoException, socket: TLSSocket): void;
  secure(socket: TLSSocket): void;
}

interface PooledTlsServer {
  readonly key: string;
  readonly server: TlsServer;
  /** The endpoint using it; undefined while idle (a late event then only closes its socket). */
  handlers: TlsServerHandlers | undefined;
}

/**
 * Idle node:tls servers by their settings. Making one builds a secure context (parsing the server certificate,
 * its key and the CAs: ~0.8 ms, a fifth of an mTLS test's start), the same for every endpoint with the same
 * settings. The servers never listen (the endpoint's TCP listener hands them sockets), so a closed endpoint
 * leaves its server here for the next one; each endpoint still has a server of its own while it runs.
 */
const idleTlsServers = new Map<string, PooledTlsServer[]>();
const IDLE_SETTINGS = 8;
const IDLE_PER_SETTINGS = 4;

function takeTlsServer(config: TlsConfig): PooledTlsServer {
  const text = (v: string | Buffer) => (typeof v === 'string' ? v : v.toString('latin1'));
  const key = JSON.stringify([text(config.cert), text(config.key), config.ca.map(text), config.handshakeTimeoutMs]);
  const idle = idleTlsServers.get(key)?.pop();
  if (idle) return idle;
  const entry: PooledTlsServer = {
    key,
    handlers: undefined,
    server: createTlsServer({
      cert: config.cert,
      key: config.key,
      ca: config.ca,
      // The certificate is required; the verdict is read after the handshake (see 'secureConnection'), where the
      // connection can still be named in the trace (listenTls's onSecure). Nothing reaches the broker before that check.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      // AWS IoT does not resume TLS sessions: no stateless tickets, and no session cache to look stateful ones up in.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      // Our own timer (from accept, in listenTls) ends a slow handshake first; this one is only a backstop.
      handshakeTimeout: config.handshakeTimeoutMs * 2 + 1000,
      ALPNCallback(this: unknown, { protocols }: { servername: string; protocols: string[] }) {
        return entry.handlers?.alpn(this as TLSSocket, protocols);
      },
    }),
  };
  entry.server.on('error', () => {}); // it never listens: errors concern single sockets, reported by the endpoint
  entry.server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (entry.handlers) entry.handlers.clientError(error, socket);
    else socket.destroy();
  });
  entry.server.on('secureConnection', (socket: TLSSocket) => {
    if (entry.handlers) entry.handlers.secure(socket);
    else socket.destroy();
  });
  return entry;
}

function releaseTlsServer(entry: PooledTlsServer): void {
  entry.handlers = undefined;
  const idle = idleTlsServers.get(entry.key) ?? [];
  idleTlsServers.delete(entry.key); // re-inserted last: the settings used longest ago go first
  if (idle.length < IDLE_PER_SETTINGS) idle.push(entry);
  idleTlsServers.set(entry.key, idle);
  if (idleTlsServers.size > IDLE_SETTINGS) idleTlsServers.delete(idleTlsServers.keys().next().value!);
}

/** Starts the TLS listener. Rejects with LISTEN_FAILED (port in use) or INVALID_OPTION (unusable certificate or key). */
export async function listenTls(config: TlsConfig, events: TlsEvents): Promise<Listener> {
  const pending = new Map<string, Pending>();
  let closed = false;

  const refuse = (p: Pending | undefined, refusal: Omit<TlsRefusal, 'remoteAddress' | 'remotePort' | 'localPort'>, sockets: (Socket | undefined)[]) => {
    if (p) {
      if (p.done) return;
      p.done = true;
      p.timer.cancel();
    }
    for (const s of sockets) s?.destroy();
    if (closed) return; // the endpoint's own shutdown is not the client's failure
    try {
      events.refused({ ...refusal, remoteAddress: p?.remoteAddress ?? '', ...(p?.remotePort !== undefined ? { remotePort: p.remotePort } : {}), localPort: port });
    } catch (error) {
      warnError(error);
    }
  };

  const report = (error: unknown) => {
    try {
      events.failed(error);
    } catch {
      warnError(error);
    }
  };

  let pooled: PooledTlsServer;
  try {
    pooled = takeTlsServer(config);
  } catch (error) {
    return Promise.reject(new FakeIotError('INVALID_OPTION', `options.tls: the server certificate or key cannot be used: ${(error as Error).message}`, { cause: error }));
  }
  const tlsServer = pooled.server;

  const accepted = config.customAuthAlpn !== undefined && !config.alpn.includes(config.customAuthAlpn) ? [...config.alpn, config.customAuthAlpn] : config.alpn;
  const alpn = (socket: TLSSocket, protocols: string[]) => {
    const chosen = protocols.find((p) => accepted.includes(p));
    if (chosen === undefined) {
      // Returning nothing ends the handshake with a no_application_protocol alert (reported in onClientError).
      const p = pending.get(keyOf(socket));
      if (p) p.offered = protocols;
    }
    return chosen;
  };

  const onClientError = (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const p = pending.get(keyOf(socket));
    // A socket no longer known by its address (already closed): its raw socket's close reports it, once.
    if (!p) return void socket.destroy();
    const code = error.code;
    if (code === 'ERR_SSL_NO_APPLICATION_PROTOCOL') {
      const offered = p?.offered ?? [];
      return refuse(p, {
        reason: 'alpn-refused', code, ...(offered.length ? { alpn: offered.join(',') } : {}),
        message: `the client offered ALPN ${offered.map((o) => JSON.stringify(o)).join(', ') || '(unknown)'}; this endpoint accepts ${accepted.map((a) => JSON.stringify(a)).join(', ') || 'no ALPN protocol'} (or none)${offered.includes('mqtt') && config.customAuthAlpn === undefined ? ' — ALPN "mqtt" is custom authentication: configure options.authorizers' : ''}`,
      }, [socket, p?.raw]);
    }
    if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
      return refuse(p, { reason: 'handshake-timeout', code, message: `the TLS handshake did not finish within ${config.handshakeTimeoutMs} ms` }, [socket, p?.raw]);
    }
    if (code === 'ECONNRESET' || code === 'EPIPE') {
      return refuse(p, { reason: 'handshake-failed', code, message: 'the client closed the connection during the TLS handshake (did it reject the server certificate? trust the fixture CA: iot.tls.caPath)' }, [socket, p?.raw]);
    }
    refuse(p, { reason: 'handshake-failed', ...(code ? { code } : {}), message: `the TLS handshake failed: ${firstLine(error.message)}` }, [socket, p?.raw]);
  };

  const onSecure = (socket: TLSSocket) => {
    const p = pending.get(keyOf(socket));
    if (!p || p.done || closed) return void socket.destroy();
    const sni = typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : undefined;
    const alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined;
    const seen = { ...(sni ? { sni } : {}), ...(alpn ? { alpn } : {}) };
    // AWS: ALPN `mqtt` (port 443) is custom authentication; the authorizer decides at CONNECT, no certificate needed (§7).
    const customAuth = alpn !== undefined && alpn === config.customAuthAlpn;
    const peer = customAuth ? undefined : socket.getPeerCertificate();
    const certificate = peer && Buffer.isBuffer(peer.raw) ? peer.raw : undefined;
    if (!certificate && !customAuth) {
      return refuse(p, { reason: 'no-client-certificate', ...seen, message: 'the client sent no certificate; AWS IoT requires one on this port (MQTT.js: cert and key options; paho: tls_set(certfile=, keyfile=))' }, [socket, p.raw]);
    }
    if (!customAuth && !socket.authorized) {
      const code = String(socket.authorizationError ?? 'UNKNOWN');
      const unknownCa = UNKNOWN_CA_ERRORS.has(code);
      return refuse(p, {
        reason: unknownCa ? 'unknown-ca' : 'certificate-invalid', code, ...seen,
        message: unknownCa
          ? 'the client certificate is not signed by a CA this endpoint trusts (use one from iot.createThing(), a fixtures/ device certificate, or add your CA with tls.ca)'
          : `the client certificate was refused: ${code}`,
      }, [socket, p.raw]);
    }
    if (config.requireSni && !sni) {
      return refuse(p, { reason: 'sni-missing', ...seen, message: 'the client sent no server name (SNI) and tls.requireSni is on; connect to a host name such as localhost, not an IP address' }, [socket, p.raw]);
    }
    let verdict;
    try {
      verdict = events.secure(socket, { certificate, sni, alpn, remoteAddress: p.remoteAddress, remotePort: p.remotePort });
    } catch (error) {
      p.done = true;
      p.timer.cancel();
      socket.destroy();
      p.raw.destroy();
      return report(error);
    }
    if (verdict) return refuse(p, { ...verdict, ...seen }, [socket, p.raw]);
    p.done = true;
    p.timer.cancel();
    pending.delete(p.key);
  };

  const handlers: TlsServerHandlers = { alpn, clientError: onClientError, secure: onSecure };
  pooled.handlers = handlers;
  /** Gives the node:tls server back for the next endpoint (once: it may serve another one right after). */
  const release = () => {
    if (pooled.handlers === handlers) releaseTlsServer(pooled);
  };

  const onConnection = (raw: Socket) => {
    if (closed) return void raw.destroy();
    raw.on('error', () => {}); // reported as the handshake's failure, or by the connection once handed on
    const key = keyOf(raw);
    const p: Pending = {
      raw,
      key,
      remoteAddress: clean(raw.remoteAddress),
      remotePort: raw.remotePort,
      tls: false,
      done: false,
      timer: realClock.setTimeout(() => {
        refuse(p, { reason: 'handshake-timeout', message: `no finished TLS handshake within ${config.handshakeTimeoutMs} ms` }, [raw]);
      }, config.handshakeTimeoutMs),
    };
    pending.set(key, p);
    raw.once('close', () => {
      // A handshake that ended without a verdict above (the client went away, or node:tls gave up on it).
      if (p.tls) refuse(p, { reason: 'handshake-failed', message: 'the connection closed during the TLS handshake' }, []);
      p.timer.cancel();
      if (pending.get(key) === p) pending.delete(key);
    });
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const seen = recogniseFirstBytes(head);
      if (seen === 'undecided') return; // one byte of a possible TLS record: wait for the next
      raw.off('data', onData);
      if (closed) return void raw.destroy(); // the node:tls server may serve another endpoint by now
      if (seen?.kind === 'tls-on-plain-port') {
        // A TLS handshake record: give the bytes back and let node:tls take the socket from here.
        raw.pause();
        raw.unshift(head);
        p.tls = true;
        try {
          tlsServer.emit('connection', raw);
        } catch (error) {
          p.done = true;
          p.timer.cancel();
          raw.destroy();
          report(error);
        }
        return;
      }
      refuse(p, { reason: 'not-tls', message: notTlsMessage(head, config.plainPort) }, [raw]);
    };
    raw.on('data', onData);
  };

  // noDelay: Nagle's algorithm would add a ~40 ms stall to every request/ack exchange.
  const server: Server = createServer({ noDelay: true }, onConnection);
  let port = config.port;
  try {
    port = await listenOn(server, config.host, config.port, 'for TLS ', 'options.tls.port');
  } catch (error) {
    release();
    throw error;
  }
  return {
    port,
    close: () => {
      closed = true;
      for (const p of pending.values()) {
        p.timer.cancel();
        p.raw.destroy();
      }
      pending.clear();
      release();
      return closeServer(server);
    },
  };
}

function firstLine(message: string): string {
  // OpenSSL's messages read "<hex>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:"; keep the reason.
  const m = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return m ? m[1]! : message.split('\n')[0]!;
}

function notTlsMessage(head: Buffer, plainPort: number): string {
  const first = head[0] ?? 0;
  if (first >> 4 === 1) {
    return `the client sent plain MQTT (a CONNECT) to the TLS port; connect with mqtts:// and a client certificate, or with mqtt:// to the plain port ${plainPort}`;
  }
  const foreign = recogniseFirstBytes(head);
  if (foreign && foreign !== 'undecided' && foreign.kind === 'http-on-plain-port') {
    return `the client sent an HTTP request to the MQTT-over-TLS port (WebSockets are served elsewhere)`;
  }
  return `the first bytes (0x${head.subarray(0, 8).toString('hex')}) are not a TLS handshake`;
}
