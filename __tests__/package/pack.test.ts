/**
 * Packs the library as npm would publish it, installs the tarball into a scratch project, and uses it
 * from CommonJS, from ESM, from TypeScript (types) and through its `bin`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir: string;
let tarball: string;

const sh = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-pack-'));
  // --ignore-scripts: dist/ is built by `npm test`'s pretest; rebuilding here would race the CLI tests.
  sh(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], root);
  tarball = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball]);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const useIt = `
  const iot = await startFakeIot({ seed: 3 });
  const ok = typeof iot.port === 'number' && iot.url.startsWith('mqtt://127.0.0.1:') && iot.seed === 3;
  await iot.close();
  let code;
  try { await startFakeIot({ prot: 1 }); } catch (e) { code = e.code + ' ' + (e instanceof FakeIotError); }
  console.log(ok, code);
`;

test('the tarball holds compiled JS, declarations and the bin, and no sources or tests', () => {
  const files = sh('tar', ['-tzf', tarball]).trim().split('\n');
  expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/README.md', 'package/package.json']));
  expect(files.filter((f) => /\/(src|__tests__)\/|\.map$/.test(f))).toEqual([]);
});

test('require() works from CommonJS', () => {
  writeFileSync(path.join(dir, 'use.cjs'), `const { startFakeIot, FakeIotError } = require('fake-aws-iot');\n(async () => {${useIt}})();`);
  expect(sh(process.execPath, ['use.cjs']).trim()).toBe('true INVALID_OPTION true');
});

test('import works from ESM, and shares one module with require()', () => {
  writeFileSync(path.join(dir, 'use.mjs'), `import { startFakeIot, FakeIotError } from 'fake-aws-iot';\nimport { createRequire } from 'node:module';\nconst same = createRequire(import.meta.url)('fake-aws-iot').startFakeIot === startFakeIot;\n${useIt}\nconsole.log('same', same);`);
  expect(sh(process.execPath, ['use.mjs']).trim().split('\n')).toEqual(['true INVALID_OPTION true', 'same true']);
});

test('TypeScript sees the types from both module systems', () => {
  const body = `
    const iot: FakeIot = await startFakeIot({ limits: { maxPayloadBytes: 10 }, qos2: 'disconnect' });
    const entry: TraceEntry = await iot.trace.waitFor({ event: 'connect', clientId: 'x' }, { timeoutMs: 1 }).catch(() => iot.trace.entries[0]!);
    // @ts-expect-error qos 2 is not a thing on AWS IoT
    iot.publish('t', 'x', { qos: 2 });
    void entry;
    await iot.close();
  `;
  writeFileSync(path.join(dir, 'check.mts'), `import { startFakeIot, type FakeIot, type TraceEntry } from 'fake-aws-iot';\n${body}\nexport {};\n`);
  writeFileSync(path.join(dir, 'check.cts'), `import { startFakeIot, type FakeIot, type TraceEntry } from 'fake-aws-iot';\nexport async function main() {${body}}\n`);
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  sh(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,esnext.disposable', '--types', 'node', '--typeRoots', path.join(root, 'node_modules/@types'), 'check.mts', 'check.cts']);
});

test('the bin runs', () => {
  expect(sh(path.join(dir, 'node_modules/.bin/fake-aws-iot'), ['--help'])).toMatch(/^Usage: fake-aws-iot/);
});
