/**
 * The control API in-process: a control server over a real endpoint, called over real HTTP (Node's fetch),
 * closed after each test.
 */
import type { FakeIot } from '../../src';
import { type ControlServer, startControlServer } from '../../src/control/server';

const servers: ControlServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

export async function control(iot: FakeIot, options?: { port?: number; host?: string }): Promise<ControlServer> {
  const server = await startControlServer(iot, options);
  servers.push(server);
  return server;
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  json: T;
  text: string;
}

/** One request; `body` is sent as JSON (a string as it is). */
export async function call<T = any>(server: { url: string }, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const res = await fetch(`${server.url}${path}`, { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  const text = await res.text();
  let json: T = undefined as T;
  if (res.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(text) as T;
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Resolves once the control server has asked the trace to wait (the next `iot.trace.waitFor` call has
 * returned, so its waiter is in place): the point after which an event is sure to reach a long poll as
 * news rather than as history.
 */
export function nextWait(iot: FakeIot): Promise<void> {
  return new Promise((resolve) => {
    const original = iot.trace.waitFor;
    const spy = jest.spyOn(iot.trace, 'waitFor').mockImplementation(((...args: Parameters<typeof original>) => {
      const waiting = original.apply(iot.trace, args);
      spy.mockRestore();
      resolve();
      return waiting;
    }) as typeof original);
  });
}
