/**
 * Small helpers for option validation: every message names the option and says how to fix it.
 */
import { FakeIotError } from './errors';

export function fail(message: string): never {
  throw new FakeIotError('INVALID_OPTION', message);
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Edit distance, for "did you mean" hints on misspelt option names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function checkKnownKeys(obj: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const lower = key.toLowerCase();
    const close = known.filter((k) => distance(key, k) <= Math.max(2, Math.floor(k.length / 3)) || (lower.length >= 3 && k.toLowerCase().startsWith(lower)));
    const hint = close.length ? ` Did you mean ${close.map((k) => `"${k}"`).join(' or ')}?` : '';
    fail(`unknown option ${where}${key}.${hint} Known options: ${known.join(', ')}.`);
  }
}

