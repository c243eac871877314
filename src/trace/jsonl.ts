/**
 * Traces as JSON lines: the form the CLI's `--trace-file` writes (a `{"kind":"run"}` header, then one
 * `entryToJSON()` object per line) and the one `FAKE_IOT_ARTIFACTS` and `fake-aws-iot trace` read back.
 */
import { FakeIotError } from '../errors';
import type { TraceEntry } from './entry';
import { entryToJSON } from './format';

/** One run of a JSON-lines trace file: its header line (when it had one) and its entries. */
export interface TraceRun {
  /** The `{"kind":"run", ...}` line that started it (seed, options, version...). */
  header?: Record<string, unknown>;
  entries: TraceEntry[];
  /** Lines the CLI skipped because the disk fell behind (its `{"kind":"skipped"}` line). */
  skippedLines?: number;
}

/** The trace as JSON lines: the header (when given) first, then one entry a line, each ending in a newline. */
export function traceToJsonLines(entries: readonly TraceEntry[], header?: Record<string, unknown>): string {
  const lines = entries.map((e) => JSON.stringify(entryToJSON(e)));
  if (header) lines.unshift(JSON.stringify({ ...header, kind: 'run' }));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A payload as entryToJSON() wrote it (text, or `{ base64 }`) back as bytes. */
function bytes(value: unknown): unknown {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (isObject(value) && typeof value.base64 === 'string' && Object.keys(value).length === 1) return Buffer.from(value.base64, 'base64');
  return value;
}

/** Turns the byte fields of MQTT 5 properties (correlation and authentication data) back into Buffers. */
function propertyBytes(properties: unknown): void {
  if (!isObject(properties)) return;
  for (const key of ['correlationData', 'authenticationData']) {
    if (properties[key] !== undefined) properties[key] = bytes(properties[key]);
  }
}

/**
 * One line of entryToJSON() back as an entry: payloads, correlation data and the like become Buffers again
 * (a redacted password stays the text that replaced it). Throws INVALID_ARGUMENT for a value that is not an entry.
 */
export function entryFromJSON(value: unknown): TraceEntry {
  if (!isObject(value) || typeof value.seq !== 'number' || typeof value.at !== 'number' || (value.kind !== 'packet' && value.kind !== 'event')) {
    throw new FakeIotError('INVALID_ARGUMENT', 'not a trace entry: it needs a numeric seq and at, and kind "packet" or "event".');
  }
  const entry = structuredClone(value);
  if (entry.kind === 'packet') {
    const packet = entry.packet;
    if (!isObject(packet) || typeof packet.cmd !== 'string') throw new FakeIotError('INVALID_ARGUMENT', 'not a trace entry: a packet entry needs a packet with a cmd.');
    if (typeof entry.connectionId !== 'number' || (entry.direction !== 'in' && entry.direction !== 'out')) {
      throw new FakeIotError('INVALID_ARGUMENT', 'not a trace entry: a packet entry needs a numeric connectionId and direction "in" or "out".');
    }
    if (packet.cmd === 'publish') packet.payload = bytes(packet.payload ?? '');
    if (typeof packet.password === 'string') packet.password = Buffer.from(packet.password, 'utf8');
    propertyBytes(packet.properties);
    if (isObject(packet.will)) {
      packet.will.payload = bytes(packet.will.payload ?? '');
      propertyBytes(packet.will.properties);
    }
  } else if (typeof entry.event !== 'string') {
    throw new FakeIotError('INVALID_ARGUMENT', 'not a trace entry: an event entry needs an event name.');
  } else if (entry.event === 'publish' || entry.event === 'rule') {
    entry.payload = bytes(entry.payload ?? '');
  }
  return entry as unknown as TraceEntry;
}

/**
 * Reads a JSON-lines trace: the CLI's `--trace-file` (one run after each `{"kind":"run"}` header, several
 * runs when it was appended to) or a file of bare entries (one run). Blank lines are skipped. Throws
 * INVALID_ARGUMENT naming the line that is not JSON or not an entry.
 */
export function parseTraceJsonLines(text: string): TraceRun[] {
  const runs: TraceRun[] = [];
  let run: TraceRun | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new FakeIotError('INVALID_ARGUMENT', `line ${i + 1} is not JSON: ${(error as Error).message}`);
    }
    if (isObject(value) && value.kind === 'run') {
      runs.push((run = { header: value, entries: [] }));
      continue;
    }
    if (!run) runs.push((run = { entries: [] }));
    if (isObject(value) && value.kind === 'skipped') {
      run.skippedLines = (run.skippedLines ?? 0) + (typeof value.lines === 'number' ? value.lines : 0);
      continue;
    }
    try {
      run.entries.push(entryFromJSON(value));
    } catch (error) {
      throw new FakeIotError('INVALID_ARGUMENT', `line ${i + 1}: ${(error as Error).message.replace(/^\[fake-aws-iot\] /, '')}`);
    }
  }
  return runs;
}
