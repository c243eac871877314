// STUB: replaced by the trace branch at merge
/**
 * Stand-in for the trace viewer (the trace branch brings the real one): the formatted trace in a <pre>.
 */
import type { TraceEntry } from './entry';
import { formatEntry } from './format';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function traceToHtml(entries: readonly TraceEntry[], options: { title?: string } = {}): string {
  const title = escapeHtml(options.title ?? 'fake-aws-iot trace');
  const t0 = entries[0]?.at ?? 0;
  const lines = entries.map((e) => escapeHtml(formatEntry(e, t0))).join('\n');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><pre>${lines}</pre></body></html>\n`;
}
