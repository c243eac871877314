/**
 * The control API in-process: a control server over a real endpoint, called over real HTTP (Node's fetch),
 * closed after each test.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import type { FakeIot } from '../../src';
import { type ControlServer, startControlServer } from '../../src/control/server';

/** The OpenAPI file, as the package ships it. */
export const spec = JSON.parse(readFileSync(path.resolve(__dirname, '../../src/control/openapi.json'), 'utf8'));

/** Follows a local `$ref` ("#/components/..."). */
export function resolve<T = any>(value: any): T {
  if (!value?.$ref) return value;
  const target = (value.$ref as string).slice(2).split('/').reduce((node: any, key: string) => node?.[key], spec);
  if (target === undefined) throw new Error(`unresolved ${value.$ref}`);
  return resolve(target);
}

// The file's schemas as one JSON Schema document (2020-12, as OpenAPI 3.1 has it), its
// `#/components/schemas/X` references pointing into it.
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addVocabulary(['example']);
const pointInto = (schema: unknown, base: string) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${base}#/$defs/`));
ajv.addSchema({ $id: 'openapi.json', $defs: pointInto(spec.components.schemas, '') });

/** What is wrong with `value` by a schema of the file (empty: nothing). */
export function schemaProblems(schema: unknown, value: unknown): string[] {
  const check = ajv.compile(pointInto(schema, 'openapi.json'));
  return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

const templates = Object.keys(spec.paths).map((p) => ({ p, pattern: new RegExp(`^${p.replace(/\{\w+\}/g, '[^/]+')}$`) }));

/** What is wrong with an answer by the file: a status it does not list, a content type or a body it does not describe. */
export function specProblems(method: string, url: string, reply: Reply): string[] {
  const pathname = new URL(url, 'http://x').pathname;
  const template = templates.find((t) => t.pattern.test(pathname));
  const operation = template && spec.paths[template.p][method.toLowerCase()];
  if (!operation) return reply.json?.code === 'NO_SUCH_ROUTE' || reply.json?.code === 'METHOD_NOT_ALLOWED' ? [] : [`${method} ${pathname} is not in openapi.json`];
  const where = `${method} ${template.p} ${reply.status}`;
  const documented = resolve(operation.responses[String(reply.status)] ?? (reply.status === 413 || reply.status === 500 ? operation.responses.default : undefined));
  if (!documented) return [`${where}: the status is not in openapi.json`];
  const type = reply.headers.get('content-type')?.split(';')[0] ?? '';
  const media = documented.content?.[type];
  if (!media) return [`${where}: ${type} is not in openapi.json`];
  return reply.json === undefined ? [] : schemaProblems(media.schema, reply.json).map((p) => `${where}: ${p}`);
}

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

/** One request; `body` is sent as JSON (a string as it is). Throws when the answer is not as openapi.json says. */
export async function call<T = any>(server: { url: string }, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const res = await fetch(`${server.url}${path}`, { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  const text = await res.text();
  let json: T = undefined as T;
  if (res.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(text) as T;
  const reply = { status: res.status, headers: res.headers, json, text };
  // Every answer a test sees is also checked against the OpenAPI file.
  const problems = specProblems(method, path, reply);
  if (problems.length) throw new Error(`the answer does not match openapi.json:\n  ${problems.join('\n  ')}\n  body: ${text.slice(0, 500)}`);
  return reply;
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
