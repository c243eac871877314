/** Plain TCP listener: hands every accepted socket to `onSocket`. */
import { type Server, type Socket, createServer } from 'node:net';
import { FakeIotError } from '../errors';

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens `server` on host:port and resolves with the port it got. A failure (port in use, bad host) is a
 * LISTEN_FAILED error naming the listener (`what`, e.g. "for TLS") and the option that picks its port.
 * After that, server errors concern single sockets only and are ignored here.
 */
export function listenOn(server: Server, host: string, port: number, what: string, portOption: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'EADDRINUSE' ? ` Another process uses that port; use ${portOption}: 0 (the default) for a free one.` : '';
      reject(new FakeIotError('LISTEN_FAILED', `cannot listen ${what}on ${host}:${port}: ${error.code ?? error.message}.${hint}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      server.on('error', () => {});
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Stops listening and ends the sockets the listener still has open; resolves once the server has closed. */
export function closeServer(server: Server, sockets: Iterable<{ destroy(): unknown }> = []): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  for (const socket of [...sockets]) socket.destroy();
  return closed;
}

export async function listenTcp(host: string, port: number, onSocket: (socket: Socket) => void): Promise<Listener> {
  // noDelay: Nagle's algorithm would add a ~40 ms stall to every request/ack exchange.
  const server: Server = createServer({ noDelay: true }, onSocket);
  const bound = await listenOn(server, host, port, '', 'options.port');
  return { port: bound, close: () => closeServer(server) };
}
