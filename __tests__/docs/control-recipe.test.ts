/**
 * The README's "Control API" section, run as written: the CLI command line (and what it prints), the Python
 * test (urllib + a paho device) and the shell sessions (curl + mosquitto_sub, and a job for a mosquitto
 * device), from the README's text. Only the
 * ports (8080 and 1883, which a test cannot count on) become free ones.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnGroup, startCli } from '../clients/cli';

const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
const start = readme.indexOf('\n### Control API\n');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Starts the CLI as the README's first block says (on free ports) and checks it prints what the block shows. */
async function startAsDocumented() {
  const [command, ...printed] = blocks('sh')[0]!.trim().split('\n');
  const args = /^npx fake-aws-iot (.*) &$/.exec(command!)![1]!.split(' ');
  expect(args).toEqual(['--control-port', '8080']);
  const cli = await startCli(['--control-port', '0']);
  const controlPort = /control API on http:\/\/127\.0\.0\.1:(\d+) /.exec(cli.stdout())![1]!;
  const output = cli.stdout().split('\n');
  for (const line of printed) {
    const pattern = escape(line.replace(/^# /, '')).replaceAll('8080', controlPort).replaceAll('1883', String(cli.port)).replaceAll('\\.\\.\\.', '.+');
    expect(output).toContainEqual(expect.stringMatching(new RegExp(`^${pattern}$`)));
  }
  const ports = (code: string) => code.replaceAll('8080', controlPort).replaceAll('1883', String(cli.port));
  return { cli, ports };
}

test('the section has the CLI line, a Python test and two shell sessions', () => {
  expect(start).toBeGreaterThan(-1);
  expect(blocks('sh')).toHaveLength(3);
  expect(blocks('python')).toHaveLength(1);
});

test('README: the Python test drives a paho device through the control API and prints what its comments say', async () => {
  const { cli, ports } = await startAsDocumented();
  const code = blocks('python')[0]!;
  const expected = [...code.matchAll(/^\s*print\(.*\)\s+# (.*)$/gm)].map((m) => m[1]!);
  expect(expected).toEqual(['done: reboot', 'API_INITIATED_DISCONNECT', '400 topic']);
  const python = spawnGroup('/usr/bin/python3', ['-c', ports(code)]);
  expect(await python.exited).toBe(0);
  expect(python.stdout().trim().split('\n')).toEqual(expected);
  expect(await cli.stop()).toBe(0);
});

test('README: the shell session waits for mosquitto_sub, publishes to it and waits for its PUBACK with curl', async () => {
  const { cli, ports } = await startAsDocumented();
  const session = spawnGroup('bash', ['-ec', ports(blocks('sh')[1]!)]);
  expect(await session.exited).toBe(0);
  const lines = session.stdout().trim().split('\n');
  // mosquitto_sub's line comes when the message arrives: anywhere after the subscription's.
  expect(lines.filter((l) => !l.startsWith('{'))).toEqual(['reboot']);
  const answers = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  expect(answers).toEqual([
    { entry: expect.objectContaining({ event: 'subscription-active', clientId: 'dev-2', topic: 'cmd/dev-2', qos: 1 }) },
    {},
    { entry: expect.objectContaining({ direction: 'in', clientId: 'dev-2', packet: expect.objectContaining({ cmd: 'puback' }) }) },
  ]);
  expect(await cli.stop()).toBe(0);
});

test('README: the jobs session queues a job for a mosquitto device, which reports it done; the refusal is as its comment says', async () => {
  const { cli, ports } = await startAsDocumented();
  const code = blocks('sh')[2]!;
  // Lines `# {...}` show what the session prints ("..." stands for anything).
  const shown = [...code.matchAll(/^# (\{.*)$/gm)].map((m) => new RegExp(`^${escape(m[1]!).replaceAll('\\.\\.\\.', '.*')}$`));
  expect(shown).toHaveLength(2);
  const session = spawnGroup('bash', ['-ec', ports(code)]);
  expect(await session.exited).toBe(0);
  const lines = session.stdout().trim().split('\n');
  for (const pattern of shown) expect(lines).toContainEqual(expect.stringMatching(pattern));
  expect(lines.at(-1)).toMatch(shown[1]!);
  const answers = lines.map((l) => JSON.parse(l));
  expect(answers).toEqual(expect.arrayContaining([
    { entry: expect.objectContaining({ event: 'subscription-active', clientId: 'dev-3' }) },
    expect.objectContaining({ jobId: 'fw-1', status: 'IN_PROGRESS', targets: ['dev-3'], document: { version: '1.2' } }),
    { entry: expect.objectContaining({ event: 'job', jobId: 'fw-1', thingName: 'dev-3', via: 'mqtt', previousStatus: 'QUEUED', status: 'SUCCEEDED' }) },
  ]));
  expect(answers).toHaveLength(5);
  expect(await cli.stop()).toBe(0);
});
