/** Plain TCP listener: hands every accepted socket to `onSocket`. */
import { type Server, type Socket, createServer } from 'node:net';
import { FakeIotError } from '../errors';

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

export function listenTcp(host: string, port: number, onSocket: (socket: Socket) => void): Promise<Listener> {
  // noDelay: Nagle's algorithm would add a ~40 ms stall to every request/ack exchange.
  const server: Server = createServer({ noDelay: true }, onSocket);
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new FakeIotError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${error.code ?? error.message}.${error.code === 'EADDRINUSE' ? ' Another process uses that port; pass port: 0 (the default) for a free one.' : ''}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      server.on('error', () => {}); // after listening, server errors concern single sockets only
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        port: bound,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
