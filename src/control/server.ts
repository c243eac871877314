// STUB: replaced by the control branch at merge
/**
 * Stand-in for the control API (the control branch brings the real one): an HTTP server on loopback that
 * answers `GET /health`, so `fake-aws-iot fuzz` can hand its URL to the command it runs.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeIot } from '../start-fake-iot';

export interface ControlServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startControlServer(iot: FakeIot, options: { port?: number; host?: string } = {}): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    const ok = req.method === 'GET' && req.url === '/health';
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { ok: true, url: iot.url, seed: iot.seed } : { error: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
