/**
 * The HTTP(S) listener of AWS IoT's data-plane REST API (`Publish`, the Device Shadow REST calls): reads a
 * request with its body bounded in bytes, checks its SigV4 `Authorization` header, hands it to the endpoint,
 * and writes the answer the way AWS's REST-JSON protocol does, so that the AWS SDK raises its typed
 * exceptions: the status, an `x-amzn-ErrorType` header naming the exception, and `{ "message" }` in a JSON body.
 * A request refused before it reached the service (bad signature, too large, unknown path, not HTTP) is a
 * `transport-error` trace event. Nothing a client sends is thrown into the host.
 */
import { type IncomingMessage, type Server as HttpServer, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FakeIotError } from '../errors';
import { closeServer, listenOn } from './tcp';
import type { TransportFailure } from '../trace/entry';
import type { Refusal } from './websocket';
import { SIGV4_DATA_PLANE_SERVICE, type SigV4Verifier } from './sigv4';

/** The exception the AWS SDK raises for each status of AWS IoT's data plane (its `x-amzn-ErrorType`). */
export const DATA_PLANE_ERRORS: Readonly<Record<number, string>> = Object.freeze({
  400: 'InvalidRequestException',
  401: 'UnauthorizedException',
  403: 'ForbiddenException',
  404: 'ResourceNotFoundException',
  405: 'MethodNotAllowedException',
  409: 'ConflictException',
  413: 'RequestEntityTooLargeException',
  415: 'UnsupportedDocumentEncodingException',
  429: 'ThrottlingException',
  500: 'InternalFailureException',
  503: 'ServiceUnavailableException',
});

/** A request, read whole and authenticated. */
export interface DataPlaneRequest {
  method: string;
  /** The path as sent (percent-encoded). */
  rawPath: string;
  /** The decoded query parameters (the last one wins when repeated). */
  query: Map<string, string>;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The access key id it was signed with, when it was signed. */
  principal: string | undefined;
}

/** What the endpoint answers: 200 with a JSON document, or an error status and message. */
export type DataPlaneAnswer =
  | { status: 200; body: object }
  /**
   * `refusal`: also a transport-error trace event with that reason (a request the service never saw).
   * `errorType`: the exception the AWS SDK raises (default: the IoT data plane's for the status).
   */
  | { status: number; message: string; refusal?: TransportFailure; errorType?: string };

export interface HttpListenerOptions {
  host: string;
  port: number;
  /** TLS server options for `https://`; absent for plain `http://`. */
  tls: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** The largest body accepted; a larger one gets 413 before it is read. */
  maxBodyBytes: number;
  /** Real milliseconds a client has to send its whole request. */
  requestTimeoutMs: number;
  verifier: SigV4Verifier;
  /** The SigV4 service a request to this path is signed for; undefined: the IoT data plane's (`iotdata`). */
  service?(rawPath: string): string | undefined;
  /** A request id for each answer (`x-amzn-RequestId`): from the endpoint's seeded stream, so a seed replays them. */
  requestId(): string;
  handle(request: DataPlaneRequest): DataPlaneAnswer;
  refused(refusal: Refusal): void;
  /** handle() threw: a bug of the fake's, answered with 500. */
  failed(error: unknown): void;
}

export interface HttpListener {
  readonly port: number;
  readonly transport: 'http' | 'https';
  close(): Promise<void>;
}

/** Bytes of a refused body the listener still reads (and drops) so that the client gets the answer. */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

function addressOf(socket: { remoteAddress?: string | undefined } | undefined): string {
  return (socket?.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function queryOf(raw: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    try {
      const key = decodeURIComponent((eq === -1 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
      out.set(key, eq === -1 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' ')));
    } catch {
      return undefined;
    }
  }
  return out;
}

/** Writes an answer as AWS's REST-JSON protocol has it. */
function send(res: ServerResponse, requestId: string, answer: DataPlaneAnswer, close = false): void {
  if (answer.status === 200 && 'body' in answer) {
    const body = JSON.stringify(answer.body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'x-amzn-RequestId': requestId, ...(close ? { Connection: 'close' } : {}) });
    res.end(body);
    return;
  }
  const { status, message, errorType } = answer as { status: number; message: string; errorType?: string };
  const type = errorType ?? DATA_PLANE_ERRORS[status] ?? (status >= 500 ? 'InternalFailureException' : 'InvalidRequestException');
  const body = JSON.stringify({ message, traceId: requestId });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': requestId,
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(body);
}

export async function listenHttp(options: HttpListenerOptions): Promise<HttpListener> {
  const transport = options.tls ? 'https' : 'http';
  const serverOptions = { connectionsCheckingInterval: Math.min(1000, options.requestTimeoutMs), headersTimeout: options.requestTimeoutMs, requestTimeout: options.requestTimeoutMs, keepAliveTimeout: 5000 };
  const server: HttpServer = options.tls ? createHttpsServer({ ...serverOptions, handshakeTimeout: options.requestTimeoutMs, ...options.tls }) : createHttpServer(serverOptions);
  const sockets = new Set<Duplex>();
  let closed = false;

  server.on('connection', (socket: Socket) => {
    if (closed) return void socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, reason: TransportFailure, message: string) => {
    options.refused({ transport, remoteAddress: addressOf(req.socket), reason, message: `HTTP ${status}: ${message}` });
    send(res, options.requestId(), { status, message });
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => {}); // a client that goes away mid-body is not the host's problem
    res.on('error', () => {});
    if (closed) return void req.socket.destroy();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const query = queryOf(q === -1 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';

    // Too large: refused from Content-Length, before the body is read; the rest is read (up to a bound) and dropped.
    const tooLarge = () => {
      res.shouldKeepAlive = false;
      options.refused({ transport, remoteAddress: addressOf(req.socket), reason: 'payload-too-large', message: `HTTP 413: the body is larger than ${options.maxBodyBytes} bytes (limits.maxPayloadBytes)` });
      send(res, options.requestId(), { status: 413, message: 'The payload exceeds the maximum size allowed' }, true);
      let dropped = 0;
      req.removeAllListeners('data');
      req.on('data', (chunk: Buffer) => {
        dropped += chunk.length;
        if (dropped > DRAIN_LIMIT_BYTES) req.socket.destroy();
      });
      req.resume();
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > options.maxBodyBytes) return tooLarge();

    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > options.maxBodyBytes) {
        over = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over || closed) return;
      const body = Buffer.concat(chunks, size);
      if (!query) return refuse(req, res, 400, 'bad-request', 'the query string is not valid percent-encoding');
      options.verifier
        .verifyHeader({ method, url, headers: req.headers }, body, options.service?.(rawPath) ?? SIGV4_DATA_PLANE_SERVICE)
        .then((result) => {
          if (closed || res.writableEnded) return;
          if (!result.ok) return refuse(req, res, result.reason === 'missing-signature' ? 401 : 403, result.reason, result.message);
          let answer: DataPlaneAnswer;
          try {
            answer = options.handle({ method, rawPath, query, headers: req.headers, body, principal: result.accessKeyId });
          } catch (error) {
            options.failed(error);
            answer = { status: 500, message: 'Internal service failure' };
          }
          if ('refusal' in answer && answer.refusal) {
            options.refused({ transport, remoteAddress: addressOf(req.socket), reason: answer.refusal, message: `HTTP ${answer.status}: ${answer.message}` });
          }
          send(res, options.requestId(), answer);
        })
        .catch((error: unknown) => {
          options.failed(error);
          if (!res.headersSent) send(res, options.requestId(), { status: 500, message: 'Internal service failure' });
        });
    });
  });

  // Bytes that are not HTTP, a request too slow, or (https) a TLS handshake that failed.
  server.on('clientError', (error: NodeJS.ErrnoException & { library?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return void socket.destroy();
    const remoteAddress = addressOf(socket as Socket);
    if (options.tls && (error.code?.startsWith('ERR_SSL_') || error.code?.startsWith('ERR_TLS_') || error.library !== undefined)) {
      options.refused({ transport, remoteAddress, reason: 'tls-handshake', message: `TLS handshake failed: ${error.code ?? error.message}` });
      return void socket.destroy();
    }
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = timeout ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const message = timeout ? `no complete HTTP request within ${options.requestTimeoutMs} ms` : `not an HTTP request (${error.code ?? error.message}); this port serves AWS IoT's data-plane REST API`;
    options.refused({ transport, remoteAddress, reason: timeout ? 'request-timeout' : 'bad-request', message: `HTTP ${status}: ${message}` });
    if (socket.destroyed || !socket.writable) return void socket.destroy();
    const body = JSON.stringify({ message });
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${timeout ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/json\r\nx-amzn-ErrorType: ${DATA_PLANE_ERRORS[400]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });

  const port = await listenOn(server, options.host, options.port, 'for HTTP (options.http.port) ', 'options.http.port');
  return {
    port,
    transport,
    close: () => {
      closed = true;
      return closeServer(server, sockets);
    },
  };
}
