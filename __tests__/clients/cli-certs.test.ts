/**
 * The CLI for teams outside JavaScript: --tls-port, --ws-port, --certs-dir and --thing, driven through the
 * real process, with mosquitto_pub/mosquitto_sub and python3 paho connecting over mTLS with the files it wrote.
 * What the endpoint saw is read from its --trace-file, waiting for the lines (never "what is there now").
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { presignWebSocketUrl } from '../../src';
import { CLI, PAHO_TLS_DEVICE, type RunningCli, run, startCli, traceLine } from './cli';

const FIXTURE_CA = readFileSync(path.resolve(__dirname, '../../fixtures/ca.pem'), 'utf8');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-certs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Served {
  cli: RunningCli;
  tlsPort: number;
  wsPort: number | undefined;
  ca: string;
  trace: string;
  things: Map<string, { cert: string; key: string; certificateId: string }>;
}

/** Starts the CLI with TLS (and WebSockets), a certs dir and things; reads what it printed. */
async function serve(things: string[], extra: string[] = []): Promise<Served> {
  const trace = path.join(dir, 'trace.jsonl');
  const cli = await startCli(['--tls-port', '0', '--certs-dir', path.join(dir, 'certs'), ...things.flatMap((t) => ['--thing', t]), '--trace-file', trace, ...extra]);
  const out = cli.stdout();
  const tlsPort = Number(/MQTT over TLS with client certificates on mqtts:\/\/localhost:(\d+) /.exec(out)?.[1]);
  const wsPort = /MQTT over WebSocket on wss:\/\/localhost:(\d+)\/mqtt/.exec(out)?.[1];
  const ca = /fake-aws-iot CA to trust: (\S+)\n/.exec(out)?.[1];
  expect(tlsPort).toBeGreaterThan(0);
  expect(ca).toBe(path.join(dir, 'certs', 'ca.pem'));
  const printed = new Map<string, { cert: string; key: string; certificateId: string }>();
  for (const m of out.matchAll(/fake-aws-iot thing (\S+): certificate (\S+) key (\S+) \(certificate id ([0-9a-f]{64})\)\n/g)) {
    printed.set(m[1]!, { cert: m[2]!, key: m[3]!, certificateId: m[4]! });
  }
  expect([...printed.keys()]).toEqual(things);
  return { cli, tlsPort, wsPort: wsPort === undefined ? undefined : Number(wsPort), ca: ca!, trace, things: printed };
}

const mosquittoTls = (s: Served, name: string) => {
  const t = s.things.get(name)!;
  return ['-V', 'mqttv311', '-h', 'localhost', '-p', String(s.tlsPort), '--cafile', s.ca, '--cert', t.cert, '--key', t.key, '-i', name];
};

describe('--tls-port --certs-dir --thing', () => {
  test('writes ca.pem and, per thing, a certificate (its printed id is the SHA-256 of the DER) and a private key only its owner reads', async () => {
    const s = await serve(['sensor-1', 'gateway_2']);
    expect(readFileSync(s.ca, 'utf8')).toBe(FIXTURE_CA);
    const ca = new X509Certificate(FIXTURE_CA);
    for (const [name, files] of s.things) {
      expect(files.cert).toBe(path.join(dir, 'certs', `${name}.cert.pem`));
      expect(files.key).toBe(path.join(dir, 'certs', `${name}.private.key`));
      const cert = new X509Certificate(readFileSync(files.cert));
      expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
      expect(cert.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(files.certificateId);
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(files.key)))).toBe(true);
      expect(statSync(files.key).mode & 0o777).toBe(0o600);
    }
    expect(await s.cli.stop('SIGTERM')).toBe(0);
    expect(existsSync(s.things.get('sensor-1')!.cert)).toBe(true); // the files are the user's: they stay
  });

  test('mosquitto_sub and mosquitto_pub connect over mTLS with the written files, as two things', async () => {
    const s = await serve(['mosq-sub', 'mosq-pub']);
    const received = run('mosquitto_sub', [...mosquittoTls(s, 'mosq-sub'), '-q', '1', '-t', 'sensors/#', '-C', '1', '-v']);
    await traceLine(s.trace, (l) => l.event === 'subscription-active' && l.clientId === 'mosq-sub');
    const sent = await run('mosquitto_pub', [...mosquittoTls(s, 'mosq-pub'), '-q', '1', '-t', 'sensors/temp', '-m', '21.5']);
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    const got = await received;
    expect(got).toMatchObject({ code: 0, stdout: 'sensors/temp 21.5\n' });
    for (const name of ['mosq-sub', 'mosq-pub']) {
      const connect = await traceLine(s.trace, (l) => l.event === 'connect' && l.clientId === name);
      expect(connect).toMatchObject({ transport: 'tls', principal: s.things.get(name)!.certificateId, thingName: name, sni: 'localhost' });
    }
    expect(await s.cli.stop('SIGTERM')).toBe(0);
  });

  test('python3 paho with an SSLContext offering ALPN x-amzn-mqtt-ca (port 443 style) gets a command and answers', async () => {
    const s = await serve(['paho-dev', 'cloud']);
    const t = s.things.get('paho-dev')!;
    const paho = run('/usr/bin/python3', ['-c', PAHO_TLS_DEVICE, String(s.tlsPort), 'paho-dev', s.ca, t.cert, t.key, 'x-amzn-mqtt-ca']);
    await traceLine(s.trace, (l) => l.event === 'subscription-active' && l.clientId === 'paho-dev');
    expect(await run('mosquitto_pub', [...mosquittoTls(s, 'cloud'), '-q', '1', '-t', 'cmd/paho-dev', '-m', 'reboot'])).toMatchObject({ code: 0 });
    const answer = await traceLine(s.trace, (l) => l.direction === 'in' && l.clientId === 'paho-dev' && l.packet?.cmd === 'publish');
    expect(answer.packet).toMatchObject({ topic: 'state/paho-dev', payload: 'done: reboot', qos: 1 });
    const result = await paho;
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toEqual(['connack 0', 'granted [1]', 'message cmd/paho-dev reboot']);
    const connect = await traceLine(s.trace, (l) => l.event === 'connect' && l.clientId === 'paho-dev');
    expect(connect).toMatchObject({ transport: 'tls', principal: t.certificateId, thingName: 'paho-dev', alpn: 'x-amzn-mqtt-ca' });
    expect(await s.cli.stop('SIGTERM')).toBe(0);
  });

  test('--ws-port serves wss:// signed with SigV4, trusting the written ca.pem', async () => {
    const s = await serve(['unused'], ['--ws-port', '0']);
    expect(s.wsPort).toBeGreaterThan(0);
    const credentials = { accessKeyId: 'AKIACLIEXAMPLE', secretAccessKey: 'cli-secret' };
    const url = await presignWebSocketUrl({ host: 'localhost', port: s.wsPort, credentials });
    const device = await mqtt.connectAsync(url, { clientId: 'cli-wss', reconnectPeriod: 0, ca: readFileSync(s.ca) });
    await device.publishAsync('state/cli-wss', 'up', { qos: 1 });
    await device.endAsync();
    expect(await traceLine(s.trace, (l) => l.direction === 'in' && l.clientId === 'cli-wss' && l.packet?.cmd === 'publish')).toMatchObject({ packet: { topic: 'state/cli-wss', payload: 'up' } });
    expect(await traceLine(s.trace, (l) => l.event === 'connect' && l.clientId === 'cli-wss')).toMatchObject({ transport: 'wss', principal: 'AKIACLIEXAMPLE' });
    expect(await s.cli.stop('SIGTERM')).toBe(0);
  });

  test('a client with no certificate is refused in the handshake (transport-error in the trace file), the things still connect', async () => {
    const s = await serve(['known']);
    const sent = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', 'localhost', '-p', String(s.tlsPort), '--cafile', s.ca, '-i', 'anonymous', '-t', 't', '-m', 'x']);
    expect(sent.code).not.toBe(0);
    expect(await traceLine(s.trace, (l) => l.event === 'transport-error')).toMatchObject({ reason: 'no-client-certificate' });
    expect(await run('mosquitto_pub', [...mosquittoTls(s, 'known'), '-q', '1', '-t', 'state/known', '-m', 'up'])).toMatchObject({ code: 0 });
    expect(await traceLine(s.trace, (l) => l.event === 'connect' && l.clientId === 'known')).toMatchObject({ thingName: 'known' });
    expect(await s.cli.stop('SIGTERM')).toBe(0);
  });

  test.each([
    [['--thing', 'a'], /^\[fake-aws-iot\] --thing needs --tls-port: /],
    [['--tls-port', '0', '--thing', 'a'], /^\[fake-aws-iot\] --thing needs --certs-dir <dir> /],
    [['--certs-dir', 'DIR'], /^\[fake-aws-iot\] --certs-dir needs --tls-port or --ws-port: /],
    [['--tls-port', '0', '--certs-dir', 'DIR', '--thing', 'a', '--thing', 'a'], /^\[fake-aws-iot\] --thing a is given twice/],
    [['--tls-port', '0', '--certs-dir', 'DIR', '--thing', 'no spaces'], /^\[fake-aws-iot\] --thing "no spaces": createThing\(thingName\): thingName must be 1-128 characters/],
    [['--tls-port', '0', '--certs-dir', 'FILE/certs'], /^\[fake-aws-iot\] cannot make --certs-dir \S+: ENOTDIR/],
    [['--tls-port', 'x'], /^\[fake-aws-iot\] --tls-port needs a whole number \(got "x"\)\./],
    [['--ws-port=-1'], /^\[fake-aws-iot\] --ws-port needs a whole number \(got "-1"\)/],
  ])('%j exits 2 with a message naming the flag, and leaves no process behind', async (args, message) => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    const argv = args.map((a) => a.replace('DIR', path.join(dir, 'certs')).replace('FILE', file));
    const result = await run(process.execPath, [CLI, '--port', '0', ...argv]);
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });
});

