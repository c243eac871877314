import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { FAULTS, classicProfile, currentProfile } from '../../src';
import { TOP_LEVEL_KEYS } from '../../src/options';

const root = path.resolve(__dirname, '../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe('README', () => {
  test.each(readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.test.ts')))('shows examples/%s verbatim (so its examples are tested)', (file) => {
    const code = readFileSync(path.join(root, 'examples', file), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
  });

  test('Quick start has exactly two commands: one starts the endpoint, one runs the tests', () => {
    const blocks = [...section('Quick start').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const commands = blocks.flatMap((b) => b.split('\n')).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    expect(commands).toEqual(['npm start', 'npm test']);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/cli\.js --port 1883/);
    expect(readFileSync(path.join(root, '.ci/run'), 'utf8')).toMatch(/^npm test\b/m);
  });

  test('documents every chaos knob', () => {
    const chaos = section('Chaos');
    for (const fault of FAULTS) expect(chaos).toContain(`| \`${fault}\` |`);
  });

  test('documents every option and every limit', () => {
    const options = section('Options');
    for (const key of TOP_LEVEL_KEYS) expect(options).toContain(`| \`${key}\` |`);
    for (const profile of [classicProfile, currentProfile]) {
      for (const [key, value] of Object.entries(profile.limits)) {
        expect(options).toContain(`| \`${key}\` | ${value} |`);
      }
    }
  });

  test('has the classic vs current table, naming every feature and the default', () => {
    const table = section('classic vs current');
    expect(table).toContain('`current` (default)');
    for (const key of Object.keys(currentProfile.features)) expect(table).toContain(key);
  });
});
