// The HTML trace viewer at scale: a 10,000-entry trace of a real run (40 clients publishing and receiving) made
// into one page, opened in headless Chromium (Debian's `chromium`, driven by playwright-core), then filtered to
// one client. Measured, not asserted (issue: "opens and filters in under a second").
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeIot, traceToHtml } from '../dist/index.mjs';
import { connect } from './workloads.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ENTRIES = 10_000;

/** Runs 40 clients until the trace holds ENTRIES entries; returns them. */
async function tenThousandEntries() {
  const iot = await startFakeIot({ throttles: false, seed: 7, trace: { maxEntries: ENTRIES } });
  const clients = [];
  try {
    for (let i = 0; i < 40; i++) {
      const c = await connect(iot.url, { clientId: `dev-${i}` });
      clients.push(c);
      await c.subscribeAsync(`cmd/dev-${i}`, { qos: 1 });
    }
    for (let round = 0; iot.trace.entries.length < ENTRIES; round++) {
      await Promise.all(clients.map((c, i) => c.publishAsync(`dt/dev-${i}/telemetry`, JSON.stringify({ round, t: 20 + (i % 7) }), { qos: 1 })));
      for (let i = 0; i < clients.length; i += 8) iot.publish(`cmd/dev-${i}`, `reboot ${round}`, { qos: 1 });
      await iot.settled();
    }
    return iot.trace.entries.slice(-ENTRIES);
  } finally {
    for (const c of clients) c.end(true);
    await iot.close();
  }
}

/** { openMs, filterMs, bytes, lanes } medians over `reps` page loads, or a note saying why it was skipped. */
export async function measureTraceHtml(reps) {
  if (!existsSync(CHROMIUM)) return { note: `HTML trace skipped: no ${CHROMIUM} (Debian: apt-get install chromium).` };
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    return { note: 'HTML trace skipped: playwright-core is not installed (a devDependency: npm ci).' };
  }
  const entries = await tenThousandEntries();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-aws-iot-bench-html-'));
  const file = path.join(dir, 'trace.html');
  const html = traceToHtml(entries, { title: 'bench: 10,000 entries' });
  writeFileSync(file, html);
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const open = [];
  const filter = [];
  try {
    for (let r = 0; r < reps; r++) {
      const tab = await context.newPage();
      const t0 = performance.now();
      await tab.goto(`file://${file}`, { waitUntil: 'load' });
      // Open = loaded and the first frame after it painted.
      await tab.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve()))');
      open.push(performance.now() - t0);
      filter.push(await tab.evaluate(`new Promise((resolve) => {
        const t = performance.now();
        const s = document.getElementById('f-client');
        s.value = 'dev-7';
        s.dispatchEvent(new Event('change'));
        document.body.offsetHeight;
        requestAnimationFrame(() => resolve(performance.now() - t));
      })`));
      await tab.close();
    }
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { openMs: median(open), filterMs: median(filter), bytes: Buffer.byteLength(html), entries: entries.length };
}
