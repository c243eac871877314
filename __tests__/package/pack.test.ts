/**
 * Packs the library as npm would publish it, installs the tarball into a scratch project, and uses it
 * from CommonJS, from ESM, from TypeScript (types) and through its `bin`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir: string;
let tarball: string;

const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const sh = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-pack-'));
  // --ignore-scripts: dist/ is built by `npm test`'s pretest; rebuilding here would race the CLI tests.
  sh(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], root);
  tarball = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  // fast-check comes with fake-aws-iot (the CLI's fuzz runs it); a project whose tests import it lists it
  // too, as here. The Jest type packages are what a Jest + TypeScript project has (the versions this
  // repository tests with).
  const same = (name: string) => `${name}@${(require(`${name}/package.json`) as { version: string }).version}`;
  sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...['fast-check', '@jest/globals', '@types/jest', '@types/node'].map(same)]);
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
  expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/dist/control/openapi.json', 'package/README.md', 'package/package.json']));
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

test('TypeScript sees the types from both module systems, declarations included (no skipLibCheck)', () => {
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
  // The matchers from both homes of `expect`: the global one in CommonJS, @jest/globals' one in ESM.
  const matchers = `
    expect.extend(fakeIotMatchers);
    expect(iot).not.toHaveDisconnected('dev-1', { reason: 'CLIENT_INITIATED_DISCONNECT' });
  `;
  const imports = `import { startFakeIot, type FakeIot, type TraceEntry, type ChaosOptions } from 'fake-aws-iot';
import { fakeIotMatchers } from 'fake-aws-iot/jest';
import { assertClientSurvives, chaosArbitrary } from 'fake-aws-iot/fast-check';
import type * as fc from 'fast-check';`;
  writeFileSync(path.join(dir, 'check.mts'), `import { expect } from '@jest/globals';\n${imports}\n${body}${kit}${matchers}\nexport {};\n`);
  writeFileSync(path.join(dir, 'check.cts'), `${imports}\nexport async function main() {${body}${kit}${matchers}}\n`);
  // Without --skipLibCheck: the package's declarations themselves must check.
  sh(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,esnext.disposable', '--types', 'node,jest', 'check.mts', 'check.cts']);
});

/**
 * A Jest + TypeScript project as users set one up: a setup file with `import 'fake-aws-iot/jest'` and a test
 * that uses the matchers and both subpaths. One tsconfig per cell of moduleResolution × module system ×
 * where `expect` comes from, all checked by one `tsc -b`.
 */
describe('TypeScript types in a Jest project', () => {
  const resolutions = {
    node10: { cjs: 'commonjs', esm: 'esnext' },
    node16: { cjs: 'node16', esm: 'node16' },
    bundler: { cjs: 'preserve', esm: 'esnext' },
  } as const;
  type Cell = { name: string; resolution: keyof typeof resolutions; system: 'cjs' | 'esm'; expectFrom: 'global' | '@jest/globals' };
  const cells: Cell[] = [];
  for (const resolution of Object.keys(resolutions) as (keyof typeof resolutions)[]) {
    for (const system of ['cjs', 'esm'] as const) {
      for (const expectFrom of ['global', '@jest/globals'] as const) cells.push({ name: `${resolution}-${system}-${expectFrom === 'global' ? 'global' : 'jest-globals'}`, resolution, system, expectFrom });
    }
  }
  const errors = new Map<string, string>();

  function writeCell({ name, resolution, system, expectFrom }: Cell): string {
    const cellDir = path.join(dir, 'types', name);
    mkdirSync(cellDir, { recursive: true });
    // node16 picks the module system by extension; bundler's CommonJS is `import x = require()` under module: preserve.
    const ext = resolution === 'node16' ? (system === 'cjs' ? '.cts' : '.mts') : '.ts';
    const requireStyle = resolution === 'bundler' && system === 'cjs';
    writeFileSync(path.join(cellDir, `setup${ext}`), `import 'fake-aws-iot/jest';\n`);
    writeFileSync(path.join(cellDir, `device.test${ext}`), `${expectFrom === '@jest/globals' ? "import { expect, test } from '@jest/globals';\n" : ''}${
      requireStyle
        ? "import iotKit = require('fake-aws-iot');\nimport jestKit = require('fake-aws-iot/jest');\nimport fcKit = require('fake-aws-iot/fast-check');\nconst { startFakeIot } = iotKit;\nconst { fakeIotMatchers } = jestKit;\nconst { chaosArbitrary } = fcKit;"
        : "import { startFakeIot } from 'fake-aws-iot';\nimport { fakeIotMatchers } from 'fake-aws-iot/jest';\nimport { chaosArbitrary } from 'fake-aws-iot/fast-check';"
    }
expect.extend(fakeIotMatchers);
test('the matchers are typed', async () => {
  const iot = await startFakeIot({ seed: 1 });
  void chaosArbitrary({ faults: ['reorder'] });
  expect(iot).toHaveDelivered({ clientId: 'dev-1', topic: /^cmd/, qos: 1, times: 1 });
  expect(iot).toHaveReceivedFrom('dev-1', { topic: 'state/dev-1' });
  expect(iot).not.toHaveDisconnected('dev-1', { reason: 'CLIENT_INITIATED_DISCONNECT' });
  expect(iot.trace).toContainEntry({ event: 'connect' });
  // @ts-expect-error the client id is a string (the matcher types are real, not any)
  expect(iot).toHaveDisconnected(42);
  await iot.close();
});
`);
    const compilerOptions = {
      module: resolutions[resolution][system], moduleResolution: resolution, target: 'es2022', lib: ['es2022', 'esnext.disposable'],
      strict: true, noEmit: true, skipLibCheck: true, types: expectFrom === 'global' ? ['node', 'jest'] : ['node'],
    };
    writeFileSync(path.join(cellDir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: [`setup${ext}`, `device.test${ext}`] }, null, 2));
    return cellDir;
  }

  beforeAll(() => {
    const projects = cells.map(writeCell);
    let out: string;
    try {
      out = sh(process.execPath, [tsc, '-b', '--verbose', '--pretty', 'false', ...projects]);
    } catch (error) {
      out = (error as { stdout: string }).stdout;
    }
    // --verbose announces each project before its errors.
    for (const part of out.split(/Building project '/).slice(1)) {
      const project = part.slice(0, part.indexOf("'"));
      const lines = part.split('\n').slice(1).filter((l) => /error TS\d+/.test(l));
      errors.set(path.basename(path.dirname(project)), lines.join('\n'));
    }
  }, 120_000);

  test.each(cells.map((c) => [c.name, c] as const))('%s: `import "fake-aws-iot/jest"` types the matchers, and every subpath resolves', (name) => {
    expect(errors.get(name)).toBe('');
  });
});

test('the bin runs, and its fuzz command too', () => {
  const bin = path.join(dir, 'node_modules/.bin/fake-aws-iot');
  expect(sh(bin, ['--help'])).toMatch(/^Usage: fake-aws-iot/);
  expect(sh(bin, ['fuzz', '--runs', '2', '--seed', '1', '--', process.execPath, '-e', 'process.env.FAKE_IOT_URL.startsWith("mqtt://") || process.exit(1)'])).toMatch(/all 2 run\(s\) survived \(seed 1\)/);
});
