#!/usr/bin/env node
// Compiles src/ to dist/ (CommonJS + declarations) and writes the ESM entry that re-exports it,
// so `import` and `require` of fake-aws-iot share one module instance.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

// One ESM entry per public entry point (the package's exports map names them).
for (const entry of ['index', 'testing/jest/index', 'testing/fast-check/index']) {
  const cjs = require(path.join(dist, `${entry}.js`));
  const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
  fs.writeFileSync(
    path.join(dist, `${entry}.mjs`),
    `// ESM entry: re-exports the CommonJS build.\nimport cjs from './index.js';\n${names.length ? `export const { ${names.join(', ')} } = cjs;\n` : ''}export default cjs;\n`,
  );
  fs.writeFileSync(path.join(dist, `${entry}.d.mts`), `export * from './index.js';\n`);
}

// The fast-check entry's ESM types must name fast-check's ESM types: an ESM user's fc.Arbitrary and the
// CommonJS one are different classes to TypeScript. So its .d.mts is its .d.ts with ESM-style specifiers.
const fcTypes = path.join(dist, 'testing/fast-check/index');
fs.writeFileSync(
  `${fcTypes}.d.mts`,
  fs.readFileSync(`${fcTypes}.d.ts`, 'utf8').replace(/from '(\.\.?\/[^']+)'/g, "from '$1.js'").replace(/\/\/# sourceMappingURL=.*\n?/, ''),
);
fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
