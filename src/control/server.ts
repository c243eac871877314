/**
 * The control API: a small HTTP + JSON server (node:http) on loopback, so that tests in any language can
 * drive a running endpoint — publish as the cloud, disconnect clients, read and wait on the trace, set
 * chaos, move the virtual clock, read and seed shadows, create and cancel jobs. It is a client of the endpoint's public handle like
 * any Jest test; the routes are in routes.ts and documented in openapi.json (served at `/openapi.json`).
 *
 * It never holds MQTT up: every route answers at once except the long polls (`/trace/wait`, `/settled`),
 * which wait on promises, are bounded in time (MAX_WAIT_MS) and in number (MAX_OPEN_POLLS), and are answered
 * 503 when the endpoint or this server closes. Bodies are bounded (MAX_BODY_BYTES), requests must arrive
 * within REQUEST_TIMEOUT_MS, and nothing a client sends is thrown into the host.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FakeIotError } from '../errors';
import type { FakeIot } from '../start-fake-iot';
import { DATA_PLANE_ERRORS } from '../transport/http';
import { listenOn } from '../transport/tcp';
import { BadRequest } from './json';
import { setMaxListeners } from 'node:events';
import { type Answer, type ControlRequest, HttpError, MAX_BODY_BYTES, MAX_OPEN_POLLS, ROUTES, type Route } from './routes';

export interface ControlServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Answers pending long polls 503, closes every connection and the listener. Safe to call more than once. */
  close(): Promise<void>;
}

/** Real milliseconds a client has to send its whole request. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Status and code of each FakeIotError the handle may throw at a route. */
const STATUS: Partial<Record<FakeIotError['code'], number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_OPTION: 400,
  TRACE_TIMEOUT: 408,
  SETTLE_TIMEOUT: 408,
  TRACE_DISABLED: 409,
  CLOCK_LOOP_LIMIT: 409,
  THROTTLED: 429,
  ENDPOINT_CLOSED: 503,
};

/** Loopback only: the API can do anything to the endpoint and has no authentication. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

/** The error answer for what a route threw. */
function errorAnswer(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof BadRequest) return new HttpError(400, 'INVALID_ARGUMENT', error.message, error.field);
  if (error instanceof FakeIotError) {
    const message = error.message.replace(/^\[fake-aws-iot\] /, '');
    // AWS's own status for a refused shadow request (400, 404, 409, 413...).
    if (error.code === 'SHADOW_REJECTED') {
      const status = (error as FakeIotError & { status?: number }).status ?? 400;
      return new HttpError(status, 'SHADOW_REJECTED', message, status === 400 || status === 413 ? 'body' : undefined);
    }
    const status = STATUS[error.code];
    if (status) return new HttpError(status, status === 400 ? 'INVALID_ARGUMENT' : error.code, message);
  }
  return new HttpError(500, 'INTERNAL_ERROR', `the control API failed: ${(error as Error)?.stack ?? String(error)}`);
}

/**
 * Serves the control API for `iot` on loopback (`host` 127.0.0.1 by default; `port` 0 or absent: a free one).
 * Rejects with INVALID_ARGUMENT for a host that is not loopback, LISTEN_FAILED when the port is taken.
 */
export async function startControlServer(iot: FakeIot, options: { port?: number; host?: string } = {}): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (typeof host !== 'string' || !isLoopback(host)) {
    throw new FakeIotError('INVALID_ARGUMENT', `startControlServer(): options.host must be a loopback address (127.0.0.1, ::1 or localhost): the control API has no authentication (got ${JSON.stringify(host)}).`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FakeIotError('INVALID_ARGUMENT', `startControlServer(): options.port must be a whole number from 0 to 65535 (got ${JSON.stringify(port)}).`);
  }
  const routes = ROUTES.map(compile);
  const closing = new AbortController();
  // Every open long poll listens on this one signal: up to MAX_OPEN_POLLS (and the settled() waits) at once,
  // more than Node's default of 10 before it warns of a leak into the host's stderr.
  setMaxListeners(MAX_OPEN_POLLS + 16, closing.signal);
  /** Requests received and not answered yet. */
  const unanswered = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let openPolls = 0;
  let url = '';

  const send = (res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    unanswered.delete(res);
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers, ...(closing.signal.aborted ? { Connection: 'close' } : {}) });
    res.end(body);
  };
  const sendError = (res: ServerResponse, error: HttpError, aws = false) => {
    const body = JSON.stringify({ code: error.code, message: error.message, ...(error.field !== undefined ? { field: error.field } : {}), ...(error.awsError !== undefined ? { awsError: error.awsError } : {}) });
    send(res, error.status, `${body}\n`, 'application/json', aws ? { 'x-amzn-ErrorType': DATA_PLANE_ERRORS[error.status] ?? 'InvalidRequestException' } : {});
  };
  const sendAnswer = (res: ServerResponse, answer: Answer) => {
    if ('text' in answer) send(res, answer.status ?? 200, answer.text, answer.contentType ?? 'text/plain; charset=utf-8');
    else send(res, answer.status ?? 200, `${'jsonText' in answer ? answer.jsonText : JSON.stringify(answer.json)}\n`, 'application/json');
  };

  const dispatch = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '/', 'http://control');
    } catch {
      return sendError(res, new HttpError(400, 'INVALID_ARGUMENT', `the request target ${JSON.stringify(req.url?.slice(0, 200))} is not a path`));
    }
    const matching = routes.map((r) => ({ r, m: r.pattern.exec(target.pathname) })).filter((x) => x.m);
    if (matching.length === 0) return sendError(res, new HttpError(404, 'NO_SUCH_ROUTE', `no route ${target.pathname}; GET /openapi.json lists them`));
    const found = matching.find((x) => x.r.route.method === req.method);
    if (!found) {
      const allowed = matching.map((x) => x.r.route.method).join(', ');
      return send(res, 405, `${JSON.stringify({ code: 'METHOD_NOT_ALLOWED', message: `${target.pathname} takes ${allowed}, not ${req.method}` })}\n`, 'application/json', { Allow: allowed });
    }
    const { route, names } = found.r;
    const run = async (): Promise<Answer> => {
      const params: Record<string, string> = {};
      for (const [i, name] of names.entries()) {
        try {
          params[name] = decodeURIComponent(found.m![i + 1]!);
        } catch {
          throw new BadRequest(name, `${name}: the path segment is not valid percent-encoding`);
        }
      }
      let parsed: unknown;
      if (body.length > 0) {
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch (error) {
          throw new BadRequest('body', `the body is not JSON: ${(error as Error).message}`);
        }
      }
      return route.handle(iot, { params, query: target.searchParams, body: parsed, signal: closing.signal, url, openPolls });
    };
    const long = route.longPoll === true;
    if (long && openPolls >= MAX_OPEN_POLLS) return sendError(res, new HttpError(429, 'TOO_MANY_WAITS', `${MAX_OPEN_POLLS} long polls are open already; let one finish first`));
    if (long) openPolls++;
    run()
      .then((answer) => sendAnswer(res, answer))
      .catch((error: unknown) => sendError(res, errorAnswer(error), route.aws))
      .catch(() => res.destroy())
      .finally(() => {
        if (long) openPolls--;
      });
  };

  const server = createServer({ headersTimeout: REQUEST_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 });
  server.on('connection', (socket: Socket) => {
    if (closing.signal.aborted) return void socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => {}); // a client that goes away is not the host's problem
    res.on('error', () => {});
    if (closing.signal.aborted) return void req.socket.destroy();
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => {
      res.shouldKeepAlive = false;
      sendError(res, new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`));
      // The rest is read (so that the client, still sending, reads the answer) up to a bound, and dropped.
      let dropped = 0;
      req.removeAllListeners('data');
      req.on('data', (chunk: Buffer) => {
        dropped += chunk.length;
        if (dropped > MAX_BODY_BYTES) req.socket.destroy();
      });
    };
    if (declared > MAX_BODY_BYTES) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return tooLarge();
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES || res.headersSent) return;
      dispatch(req, res, Buffer.concat(chunks, size));
    });
  });

  // Bytes that are not HTTP, or a request not sent in time: answered in JSON too, then the connection ends.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || !socket.writable) return void socket.destroy();
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const [status, reason] = timeout ? [408, 'Request Timeout'] : error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = `${JSON.stringify(timeout ? { code: 'REQUEST_TIMEOUT', message: `no complete request within ${REQUEST_TIMEOUT_MS} ms` } : { code: 'INVALID_ARGUMENT', message: `not an HTTP request (${error.code ?? error.message})` })}\n`;
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });

  const bound = await listenOn(server, host, port, 'for the control API ', 'options.port');
  url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    port: bound,
    close() {
      if (!closed) {
        closing.abort(new HttpError(503, 'CONTROL_CLOSED', 'the control server is closing'));
        closed = new Promise<void>((done) => server.close(() => done()));
        // Requests not answered yet (long polls, bodies still arriving) get a 503 and their connection ends
        // after it; idle keep-alive connections go now.
        const answering = new Set<Socket>();
        for (const res of [...unanswered]) {
          answering.add(res.socket as Socket);
          sendError(res, new HttpError(503, 'CONTROL_CLOSED', 'the control server is closing'));
        }
        for (const socket of sockets) if (!answering.has(socket)) socket.destroy();
      }
      return closed;
    },
  };
}
