/**
 * The README's CLI recipe for teams outside JavaScript, run as written: the CLI command line, the Python
 * device (python3 paho) and the mosquitto_pub line, from the README's text. Only the port (8883, which a test
 * cannot count on) and the plain port become free ones; `certs/` is relative to a temporary directory.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnGroup, startCli, traceLine } from '../clients/cli';

const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
const start = readme.indexOf('\n### Python, C and other languages: the CLI\n');
const recipe = readme.slice(start, readme.indexOf('\n## ', start));
const blocks = (lang: string) => [...recipe.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-recipe-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('the recipe is in the README: a CLI command line, a Python device and a mosquitto_pub line', () => {
  expect(start).toBeGreaterThan(-1);
  expect(blocks('sh')).toHaveLength(2);
  expect(blocks('python')).toHaveLength(1);
});

test('README recipe: the CLI writes the files, the Python device gets a command from mosquitto_pub and answers', async () => {
  const [serve, publish] = blocks('sh') as [string, string];
  const [command, ...printed] = serve.trim().split('\n');
  const args = /^npx fake-aws-iot (.*) &$/.exec(command!)![1]!.split(' ');
  expect(args).toEqual(expect.arrayContaining(['--tls-port', '8883', '--certs-dir', 'certs', '--thing', 'dev-1']));
  const tracePath = path.join(dir, 'trace.jsonl');
  const cli = await startCli([...args.map((a) => (a === '8883' ? '0' : a === 'certs' ? path.join(dir, 'certs') : a)), '--trace-file', tracePath]);
  const port = /on mqtts:\/\/localhost:(\d+) /.exec(cli.stdout())![1]!;

  // What the README shows the CLI printing is what it prints (paths, ports, ids and the seed aside).
  const output = cli.stdout().split('\n');
  for (const line of printed) {
    const escaped = line.replace(/^# /, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = escaped
      .replaceAll('/work/certs', path.join(dir, 'certs').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .replaceAll('8883', port)
      .replaceAll('127\\.0\\.0\\.1:1883', '127\\.0\\.0\\.1:\\d+')
      .replaceAll('\\.\\.\\.', '.+');
    expect(output).toContainEqual(expect.stringMatching(new RegExp(`^${pattern}$`)));
  }

  const device = spawnGroup('/usr/bin/python3', ['-c', blocks('python')[0]!.replaceAll('8883', port)], { cwd: dir });
  await traceLine(tracePath, (l) => l.event === 'subscription-active' && l.clientId === 'dev-1');
  const [cmd, ...cmdArgs] = publish.trim().replaceAll('8883', port).split(' ');
  const cloud = spawnGroup(cmd!, cmdArgs, { cwd: dir });
  expect(await cloud.exited).toBe(0);

  const answer = await traceLine(tracePath, (l) => l.direction === 'in' && l.clientId === 'dev-1' && l.packet?.cmd === 'publish');
  expect(answer.packet).toMatchObject({ topic: 'state/dev-1', payload: 'done', qos: 1 });
  expect(await device.exited).toBe(0);
  expect(device.stdout()).toBe('cmd/dev-1 reboot\n');
  const connect = await traceLine(tracePath, (l) => l.event === 'connect' && l.clientId === 'dev-1');
  const certificateId = /thing dev-1: certificate \S+ key \S+ \(certificate id ([0-9a-f]{64})\)/.exec(cli.stdout())![1];
  expect(connect).toMatchObject({ transport: 'tls', principal: certificateId, thingName: 'dev-1' });
  expect(await cli.stop('SIGTERM')).toBe(0);
});
