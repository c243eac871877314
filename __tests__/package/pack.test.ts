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
  // fast-check is an optional peer of fake-aws-iot/fast-check: a user of that entry installs it.
  sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `fast-check@${require('fast-check/package.json').version}`]);
}, 180_000);

afterAll(() => { if (!process.env.KEEP_PACK_DIR) rmSync(dir, { recursive: true, force: true }); });

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

test('the subpath exports fake-aws-iot/jest and fake-aws-iot/fast-check work from CommonJS and ESM', () => {
  const use = (load: (m: string) => string) => `
    const jest = ${load('fake-aws-iot/jest')};
    const kit = ${load('fake-aws-iot/fast-check')};
    const fc = ${load('fast-check')};
    const topics = fc.sample(kit.topicArbitrary(), { seed: 1, numRuns: 20 });
    const chaos = fc.sample(kit.chaosArbitrary(), { seed: 1, numRuns: 20 });
    console.log(typeof jest.fakeIotMatchers.toHaveDelivered, typeof kit.assertClientSurvives,
      topics.every((t) => t.length > 0 && !/[+#]/.test(t)), chaos.some((c) => Object.keys(c).length > 0));`;
  writeFileSync(path.join(dir, 'kit.cjs'), use((m) => `require('${m}')`));
  writeFileSync(path.join(dir, 'kit.mjs'), use((m) => `await import('${m}')`));
  expect(sh(process.execPath, ['kit.cjs']).trim()).toBe('function function true true');
  expect(sh(process.execPath, ['kit.mjs']).trim()).toBe('function function true true');
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
  const kit = `
    const chaos: fc.Arbitrary<ChaosOptions> = chaosArbitrary({ faults: ['reorder'] });
    await assertClientSurvives({ chaos, numRuns: 1, scenario: async ({ iot: other, seed }) => { void other.url; void seed; } });
    void fakeIotMatchers.toHaveDelivered;
  `;
  const imports = `import { startFakeIot, type FakeIot, type TraceEntry, type ChaosOptions } from 'fake-aws-iot';
import { fakeIotMatchers } from 'fake-aws-iot/jest';
import { assertClientSurvives, chaosArbitrary } from 'fake-aws-iot/fast-check';
import type * as fc from 'fast-check';`;
  writeFileSync(path.join(dir, 'check.mts'), `${imports}\n${body}${kit}\nexport {};\n`);
  writeFileSync(path.join(dir, 'check.cts'), `${imports}\nexport async function main() {${body}${kit}}\n`);
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  sh(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,esnext.disposable', '--types', 'node', '--typeRoots', path.join(root, 'node_modules/@types'), 'check.mts', 'check.cts']);
});

test('the bin runs', () => {
  expect(sh(path.join(dir, 'node_modules/.bin/fake-aws-iot'), ['--help'])).toMatch(/^Usage: fake-aws-iot/);
});
