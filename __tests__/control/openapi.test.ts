/**
 * src/control/openapi.json documents the control API exactly: every route the server has is in it and every
 * path in it is a route; what the server answers is a status the file lists, in the shape its schema gives
 * (checked with Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROUTES } from '../../src/control/routes';
import { client, endpoint } from '../helpers';
import { call, control, resolve, schemaProblems, spec } from './helpers';

const root = path.resolve(__dirname, '../..');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

type Operation = { operationId: string; parameters?: { $ref?: string; name?: string; in?: string }[]; requestBody?: any; responses: Record<string, any> };
const operations: { method: string; path: string; op: Operation }[] = Object.entries(spec.paths as Record<string, Record<string, Operation>>).flatMap(([p, item]) =>
  Object.entries(item)
    .filter(([m]) => METHODS.includes(m))
    .map(([m, op]) => ({ method: m.toUpperCase(), path: p, op })),
);

test('every route of the server is in openapi.json, and every operation in it is a route', () => {
  const documented = operations.map((o) => `${o.method} ${o.path}`).sort();
  const served = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
  expect(documented).toEqual(served);
});

test('the file is OpenAPI 3.1 at the package version; operation ids are unique, path parameters declared, every $ref resolves', () => {
  expect(spec.openapi).toBe('3.1.0');
  expect(spec.info.version).toBe(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  const ids = operations.map((o) => o.op.operationId);
  expect(new Set(ids).size).toBe(ids.length);
  for (const { path: p, op } of operations) {
    const declared = (op.parameters ?? []).map((x) => resolve(x)).filter((x) => x.in === 'path').map((x) => x.name).sort();
    expect([p, declared]).toEqual([p, [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()]);
    expect(Object.keys(op.responses)).toContain('200');
  }
  const refs = JSON.stringify(spec).match(/"\$ref":"[^"]+"/g) ?? [];
  for (const ref of refs) expect(() => resolve({ $ref: JSON.parse(`{${ref}}`).$ref })).not.toThrow();
});

test('the file is in the built package beside the server', () => {
  const built = path.join(root, 'dist/control/openapi.json');
  // dist/ exists once `npm run build` (npm test's pretest) ran; the build copies the file with the code.
  expect(JSON.parse(readFileSync(built, 'utf8'))).toEqual(spec);
});

test('GET /openapi.json serves the file, with servers naming the server that serves it', async () => {
  const iot = await endpoint();
  const ctl = await control(iot);
  const { status, json } = await call(ctl, 'GET', '/openapi.json');
  expect(status).toBe(200);
  expect(json).toEqual({ ...spec, servers: [{ url: ctl.url }] });
});

test("each operation, called with the file's own example, answers a status the file lists in the shape its schema says", async () => {
  expect(schemaProblems({ $ref: '#/components/schemas/Error' }, { code: 'NOPE' })).toEqual(['/ must have required property \'message\'', '/code must be equal to one of the allowed values']);
  const iot = await endpoint({ seed: 1, limits: { sessionExpirySeconds: 3600 } });
  const ctl = await control(iot);
  const dev = await client(iot, 'dev-1', { clean: false });
  await dev.subscribeAsync('cmd/dev-1', { qos: 1 });
  iot.shadows.update('lamp', { state: { reported: { on: false } } });
  // The execution routes act on a job of their own: the example of POST /jobs/{jobId}/cancel cancels fw-1's.
  iot.jobs.create({ jobId: 'lamp-1', targets: ['lamp'], document: { operation: 'reboot' } });
  const order = [...operations].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE')); // deletions last
  const seen: string[] = [];
  for (const { method, path: p, op } of order) {
    const url = p.replace('{clientId}', 'dev-1').replace('{thingName}', 'lamp').replace('{jobId}', p.startsWith('/things/') ? 'lamp-1' : 'fw-1');
    let body = op.requestBody ? resolve(op.requestBody).content['application/json'].example : undefined;
    if (body && 'timeoutMs' in body) body = { ...body, timeoutMs: 0 }; // long polls: answer at once
    // call() checks the status, the content type and the body against the file.
    seen.push(`${method} ${p} ${(await call(ctl, method, url, body)).status}`);
  }
  // The examples are real requests: all succeed but those the endpoint refuses here (no such entry yet, a real clock).
  expect(seen.filter((s) => !s.endsWith(' 200'))).toEqual(['POST /trace/wait 408', 'POST /clock/advance 409']);
  expect(seen).toHaveLength(ROUTES.length);
});
