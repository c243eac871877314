/**
 * The certificates in fixtures/ at the package root (made by `npm run fixtures`): the test CA and its key,
 * the server certificate, and two device certificates. Light: only paths and file reads.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** fixtures/ beside src/ (in the repository) and beside dist/ (in the package). */
export const FIXTURES_DIR = path.resolve(__dirname, '../../fixtures');

/** The device certificates in fixtures/: `<name>.cert.pem` and `<name>.private.key`. */
export const FIXTURE_DEVICES = ['device-1', 'device-2'] as const;

export function fixturePath(file: string): string {
  return path.join(FIXTURES_DIR, file);
}

export function readFixture(file: string): string {
  return readFileSync(fixturePath(file), 'utf8');
}
