/**
 * `fake-aws-iot trace view|pcap <trace.jsonl>`: turns a JSON-lines trace (the CLI's --trace-file, a
 * FAKE_IOT_ARTIFACTS file, a failing fuzz run's) into an HTML page or a pcapng capture.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { traceToHtml } from '../trace/html';
import { parseTraceJsonLines } from '../trace/jsonl';
import { traceToPcap } from '../trace/pcap';

export const TRACE_USAGE = `Usage: fake-aws-iot trace view <trace.jsonl> [-o trace.html] [--run <n>] [--title <text>]
       fake-aws-iot trace pcap <trace.jsonl> [-o trace.pcapng] [--run <n>]

Reads a JSON-lines trace (--trace-file, FAKE_IOT_ARTIFACTS, fake-aws-iot fuzz --out) and writes
  view  one self-contained HTML page: a sequence diagram of the broker and its clients, chaos and
        violations marked, filters, the decoded packet on click (opens offline, from file://)
  pcap  a pcapng capture for Wireshark/tshark: each connection a TCP stream to port 1883

Options:
  -o, --output <path>  where to write (default: the input's name with .html or .pcapng; - for stdout)
  --run <n>            which run of a file that several runs were appended to (1 = the first;
                       default: the last)
  --title <text>       the page's title (view; default: the file's name and the run's seed)
  -h, --help           show this help

Exit codes: 0 written, 2 usage error or a file that cannot be read or written.`;

export interface CommandOutput {
  stdout: (text: string | Buffer) => void;
  stderr: (text: string) => void;
}

const standardOutput: CommandOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs `fake-aws-iot trace ...` (its arguments after `trace`); returns the exit code. */
export function traceCommand(args: string[], io: CommandOutput = standardOutput): number {
  const usage = (message: string): number => {
    io.stderr(`[fake-aws-iot] ${message}\n\n${TRACE_USAGE}\n`);
    return 2;
  };
  // A file that cannot be read or written: exit 2 too, without the usage text.
  const problem = (message: string): number => {
    io.stderr(`[fake-aws-iot] ${message}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        output: { type: 'string', short: 'o' },
        run: { type: 'string' },
        title: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usage(`trace: ${(error as Error).message}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.stdout(`${TRACE_USAGE}\n`);
    return 0;
  }
  const [action, input, ...extra] = positionals;
  if (action !== 'view' && action !== 'pcap') return usage(`trace needs view or pcap (got ${action === undefined ? 'nothing' : JSON.stringify(action)}).`);
  if (input === undefined) return usage(`trace ${action} needs the trace file to read.`);
  if (extra.length > 0) return usage(`trace ${action} reads one file (got also ${extra.map((x) => JSON.stringify(x)).join(', ')}).`);
  if (v.title !== undefined && action !== 'view') return usage('--title is for trace view.');
  if (v.run !== undefined && !/^[1-9]\d*$/.test(v.run)) return usage(`--run needs a run number from 1 (got ${JSON.stringify(v.run)}).`);

  let text: string;
  try {
    text = readFileSync(input, 'utf8');
  } catch (error) {
    return problem(`cannot read ${input}: ${(error as Error).message}`);
  }
  let runs;
  try {
    runs = parseTraceJsonLines(text);
  } catch (error) {
    return problem(`${input} is not a JSON-lines trace: ${(error as Error).message.replace(/^\[fake-aws-iot\] /, '')}`);
  }
  if (runs.length === 0) runs.push({ entries: [] });
  const index = v.run !== undefined ? Number(v.run) - 1 : runs.length - 1;
  const run = runs[index];
  if (!run) return problem(`--run ${v.run}: ${input} holds ${runs.length} run(s).`);

  const seed = typeof run.header?.seed === 'number' ? run.header.seed : undefined;
  const which = runs.length > 1 ? ` (run ${index + 1} of ${runs.length})` : '';
  const output = v.output ?? `${input.replace(/\.jsonl?$/i, '')}.${action === 'view' ? 'html' : 'pcapng'}`;
  const content =
    action === 'view'
      ? traceToHtml(run.entries, { title: v.title ?? `${path.basename(input)}${which}`, ...(seed !== undefined ? { seed } : {}) })
      : traceToPcap(run.entries);
  if (output === '-') {
    io.stdout(content);
    return 0;
  }
  try {
    writeFileSync(output, content);
  } catch (error) {
    return problem(`cannot write ${output} (--output): ${(error as Error).message}`);
  }
  const skipped = run.skippedLines ? `; the trace file says ${run.skippedLines} line(s) were skipped while it was written` : '';
  io.stdout(`wrote ${output}: ${run.entries.length} entries${which}${skipped}\n`);
  return 0;
}
