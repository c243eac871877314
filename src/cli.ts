#!/usr/bin/env node
/**
 * `fake-aws-iot` — runs the fake endpoint as a process, for test suites in other languages and for CI.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FakeIotError } from './errors';
import type { FakeIotOptions } from './options';
import { startFakeIot } from './start-fake-iot';
import { entryToJSON, formatEntry } from './trace/format';

const USAGE = `Usage: fake-aws-iot [options]

A fake AWS IoT Core MQTT endpoint (MQTT 3.1.1 over TCP).

Options:
  --port <n>           port to listen on (default 1883; 0 picks a free one)
  --host <addr>        interface to listen on (default 127.0.0.1)
  --seed <n>           seed for everything random (default: random, printed at start)
  --trace-file <path>  append every trace entry to <path> as one JSON object per line
  --config <path>      JSON file with startFakeIot() options (flags given here win)
  --verbose            print every trace entry to stdout as it happens
  -h, --help           show this help
  --version            print the version

Stops cleanly on SIGINT or SIGTERM.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message.startsWith('[fake-aws-iot]') ? message : `[fake-aws-iot] ${message}`}\n`);
  process.exit(code);
}

function integer(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) fail(`--${flag} needs a whole number (got ${JSON.stringify(text)}).`);
  return Number(text);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        seed: { type: 'string' },
        'trace-file': { type: 'string' },
        config: { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (v.version) {
    process.stdout.write(`${(require('../package.json') as { version: string }).version}\n`);
    return;
  }

  let options: FakeIotOptions = {};
  if (v.config !== undefined) {
    try {
      options = JSON.parse(readFileSync(v.config, 'utf8')) as FakeIotOptions;
    } catch (error) {
      fail(`cannot read --config ${v.config}: ${(error as Error).message}`);
    }
  }
  options = { ...options, port: v.port !== undefined ? integer('port', v.port) : (options.port ?? 1883) };
  if (v.host !== undefined) options.host = v.host;
  if (v.seed !== undefined) options.seed = integer('seed', v.seed);

  let iot;
  try {
    iot = await startFakeIot(options);
  } catch (error) {
    if (error instanceof FakeIotError) fail(error.message, error.code === 'INVALID_OPTION' ? 2 : 1);
    throw error;
  }

  const traceFile = v['trace-file'] !== undefined ? createWriteStream(v['trace-file'], { flags: 'a' }) : undefined;
  traceFile?.on('error', (error) => process.stderr.write(`[fake-aws-iot] cannot write --trace-file: ${error.message}\n`));
  const t0 = iot.clock.now();
  if (traceFile || v.verbose) {
    iot.trace.subscribe((entry) => {
      traceFile?.write(`${JSON.stringify(entryToJSON(entry))}\n`);
      if (v.verbose) process.stdout.write(`${formatEntry(entry, t0)}\n`);
    });
  }

  process.stdout.write(`fake-aws-iot listening on ${iot.url} (seed ${iot.seed}, profile ${iot.profile.name})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    await iot.close();
    if (traceFile) await new Promise<void>((resolve) => traceFile.end(resolve));
    process.stdout.write(`fake-aws-iot stopped (${signal})\n`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((error: unknown) => fail(`unexpected error: ${(error as Error)?.stack ?? String(error)}`, 1));
