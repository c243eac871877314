/**
 * MQTT over WebSocket, as AWS IoT serves it: an HTTP(S) server whose only resource is the upgrade at `/mqtt`
 * (subprotocol `mqtt`, or `mqttv3.1` as the AWS IoT device SDK v1 offers it), authenticated by a SigV4
 * presigned query string. Each accepted WebSocket becomes a byte stream for the same dispatcher as a TCP
 * socket. Everything refused (wrong path, no upgrade, bad signature, garbage instead of HTTP, a failed TLS
 * handshake) gets an HTTP status where HTTP was spoken, a `transport-error` trace event, and no upgrade; no
 * error reaches the host.
 */
import { type IncomingMessage, STATUS_CODES, type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { CustomAuthTransport } from '../auth/authorizers';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ByteStream } from '../broker/connection';
import { FakeIotError } from '../errors';
import { closeServer, listenOn } from './tcp';
import type { ConnectionIdentity, TransportErrorEvent, TransportFailure } from '../trace/entry';
import { type SigV4Result, type SigV4Verifier, hasSigV4Query, sigv4PrincipalIdentifier } from './sigv4';

/** The WebSocket subprotocols that carry MQTT 3.1.1 to AWS IoT, in order of preference. */
export const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/** A refusal, as the trace records it. */
export type Refusal = Omit<TransportErrorEvent, 'seq' | 'at' | 'kind' | 'event'>;

export interface WebSocketListenerOptions {
  host: string;
  port: number;
  /** The one path that upgrades, e.g. `/mqtt`. */
  path: string;
  /** TLS server options (at least `cert` and `key`) for `wss://`; absent for plain `ws://`. */
  tls: SecureContextOptions | undefined;
  /** The largest WebSocket message accepted (room for the largest MQTT packet AWS accepts, and more). */
  maxMessageBytes: number;
  /** Real milliseconds a client has to send its HTTP request (the endpoint's connect timeout). */
  requestTimeoutMs: number;
  verifier: SigV4Verifier;
  /** The endpoint's AWS account id (options.accountId): SigV4 connections' lifecycle principalIdentifier names it. */
  accountId: string;
  /**
   * Custom authorizers are configured: an upgrade without SigV4 is let through, for an authorizer to decide at
   * CONNECT (aws-iot-behaviour.md §7). `required`: such a connection must name an authorizer (credentials are
   * configured, so it has no other way in).
   */
  customAuth?: { required: boolean };
  /** An upgraded WebSocket, ready for MQTT; `customAuth` when it is to authenticate with a custom authorizer. */
  accept(stream: ByteStream, identity: ConnectionIdentity, customAuth?: CustomAuthTransport): void;
  /** Something was refused: goes to the trace. */
  refused(refusal: Refusal): void;
}

export interface WebSocketListener {
  readonly port: number;
  readonly transport: 'ws' | 'wss';
  close(): Promise<void>;
}

function addressOf(socket: { remoteAddress?: string | undefined } | undefined): string {
  return (socket?.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

/** Shows a request path in a message: quoted, and cut short when long. */
function showPath(path: string): string {
  return JSON.stringify(path.length > 100 ? `${path.slice(0, 100)}…` : path);
}

/** The upgrade's headers as the authorizer gets them: names in lower case, repeated ones joined with commas. */
function flatHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value;
  return out;
}

export async function listenWebSocket(options: WebSocketListenerOptions): Promise<WebSocketListener> {
  const transport = options.tls ? 'wss' : 'ws';
  // Node checks its request timeouts on this interval; the default (30 s) would let a silent client linger.
  const serverOptions = { connectionsCheckingInterval: Math.min(1000, options.requestTimeoutMs), headersTimeout: options.requestTimeoutMs, requestTimeout: options.requestTimeoutMs };
  // The seam for wss://: the TLS options come from options.websockets.tls (later: the fixtures/ certificate).
  const server: HttpServer = options.tls ? createHttpsServer({ ...serverOptions, handshakeTimeout: options.requestTimeoutMs, ...options.tls }) : createHttpServer(serverOptions);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxMessageBytes,
    handleProtocols: (offered: Set<string>) => MQTT_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  /** Every socket the server holds, destroyed at close (upgraded ones are the dispatchers' too). */
  const sockets = new Set<Duplex>();
  let closed = false;
  const track = (socket: Duplex) => {
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const refuse = (socket: Duplex, remoteAddress: string, status: number, reason: TransportFailure, message: string) => {
    options.refused({ transport, remoteAddress, reason, message: `HTTP ${status}: ${message}` });
    if (socket.destroyed || !socket.writable) return void socket.destroy();
    const body = `${message}\n`;
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };

  server.on('connection', (socket: Socket) => {
    if (closed) return void socket.destroy();
    track(socket);
  });

  // A request without an upgrade: the path speaks WebSocket only, and nothing else is here.
  server.on('request', (req: IncomingMessage, res) => {
    const path = pathOf(req.url);
    const [status, reason, message]: [number, TransportFailure, string] =
      path === options.path
        ? [426, 'upgrade-required', `${showPath(path)} speaks MQTT over WebSocket only: send a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Protocol: mqtt)`]
        : [404, 'not-found', `no WebSocket endpoint at ${showPath(path)}; AWS IoT's is ${options.path}`];
    options.refused({ transport, remoteAddress: addressOf(req.socket), reason, message: `HTTP ${status}: ${message}` });
    res.shouldKeepAlive = false;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', ...(status === 426 ? { Upgrade: 'websocket' } : {}) });
    res.end(`${message}\n`);
    req.resume();
  });

  // Bytes that are not HTTP (an MQTT client pointed at the WebSocket port, garbage), a request too slow, or
  // (https: Node forwards tlsClientError here) a TLS handshake that failed.
  server.on('clientError', (error: NodeJS.ErrnoException & { library?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return void socket.destroy(); // the client left; nothing to tell it
    const remoteAddress = addressOf(socket as Socket);
    if (options.tls && (error.code?.startsWith('ERR_SSL_') || error.code?.startsWith('ERR_TLS_') || error.library !== undefined)) {
      const hint = error.code === 'ERR_SSL_HTTP_REQUEST' || error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' ? ' (plain bytes on the wss:// port: connect with wss://, or start the endpoint with websockets: { tls: false } for ws://)' : '';
      options.refused({ transport, remoteAddress, reason: 'tls-handshake', message: `TLS handshake failed: ${error.code ?? error.message}${hint}` });
      return void socket.destroy();
    }
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = timeout ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const what = timeout ? `no complete HTTP request within ${options.requestTimeoutMs} ms` : `not an HTTP request (${error.code ?? error.message}); this port speaks MQTT over WebSocket (${transport}://…${options.path})`;
    refuse(socket, remoteAddress, status, timeout ? 'request-timeout' : 'bad-request', what);
  });

  wss.on('wsClientError', (error: Error, socket: Duplex, req: IncomingMessage) => {
    refuse(socket, addressOf(req.socket), 400, 'bad-handshake', `not a valid WebSocket upgrade: ${error.message}`);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {}); // a reset while the signature is checked is not the host's problem
    if (closed) return void socket.destroy();
    track(socket);
    const remoteAddress = addressOf(req.socket);
    const path = pathOf(req.url);
    if (path !== options.path) return refuse(socket, remoteAddress, 404, 'not-found', `no WebSocket endpoint at ${showPath(path)}; AWS IoT's is ${options.path}`);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    if (offered.length > 0 && !MQTT_SUBPROTOCOLS.some((p) => offered.includes(p))) {
      return refuse(socket, remoteAddress, 400, 'unsupported-subprotocol', `the WebSocket subprotocol must be ${MQTT_SUBPROTOCOLS.join(' or ')} (offered: ${offered.slice(0, 5).join(', ')})`);
    }
    const url = req.url ?? '/';
    // AWS: a WebSocket without SigV4 authenticates with a custom authorizer: its name, token and signature in the
    // upgrade's headers or query string, or in the MQTT CONNECT's user name (§7). The authorizer decides at CONNECT.
    const customAuth: CustomAuthTransport | undefined = options.customAuth && !hasSigV4Query(url)
      ? {
        via: 'websocket', required: options.customAuth.required, tls: transport === 'wss',
        ...(typeof (req.socket as TLSSocket).servername === 'string' ? { serverName: (req.socket as TLSSocket).servername as string } : {}),
        http: { headers: flatHeaders(req.headers), queryString: url.includes('?') ? url.slice(url.indexOf('?')) : '' },
      }
      : undefined;
    const verified: Promise<SigV4Result> = customAuth ? Promise.resolve({ ok: true }) : options.verifier.verify({ method: req.method ?? 'GET', url, headers: req.headers });
    verified
      .then((result) => {
        if (closed || socket.destroyed) return void socket.destroy();
        if (!result.ok) return refuse(socket, remoteAddress, 403, result.reason, result.message);
        wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => {}); // reported through the stream (createWebSocketStream listens once only)
          if (closed) return void ws.terminate();
          (req.socket as Socket).setNoDelay?.(true);
          const stream = createWebSocketStream(ws);
          // The peer closed the WebSocket: the stream ends; destroying it then emits 'close' (the connection's cue).
          stream.on('end', () => stream.destroy());
          Object.defineProperties(stream, { remoteAddress: { value: remoteAddress }, localPort: { value: (req.socket as Socket).localPort } });
          const principal = result.accessKeyId;
          try {
            options.accept(stream as ByteStream, principal === undefined ? { transport } : { transport, principal, principalIdentifier: sigv4PrincipalIdentifier(principal, options.accountId) }, customAuth);
          } catch (error) {
            ws.terminate();
            options.refused({ transport, remoteAddress, reason: 'internal-error', message: `the connection failed inside fake-aws-iot: ${error instanceof Error ? error.message : String(error)}` });
          }
        });
      })
      .catch((error: unknown) => refuse(socket, remoteAddress, 500, 'internal-error', `the upgrade failed inside fake-aws-iot: ${error instanceof Error ? error.message : String(error)}`));
  });

  const port = await listenOn(server, options.host, options.port, 'for WebSockets (options.websockets.port) ', 'options.websockets.port');
  return {
    port,
    transport,
    close: () => {
      closed = true;
      wss.close();
      return closeServer(server, sockets);
    },
  };
}
