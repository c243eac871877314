/**
 * iot.trace.toHtml() in headless Chromium: the page of a real run (MQTT.js clients, scripted chaos, a
 * violation) draws one arrow per packet, marks chaos and violations, filters, shows the decoded packet on
 * click, loads nothing from the network and logs no errors. A screenshot is kept in test-artifacts/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { PacketEntry, TraceEntry } from '../../src';
import { traceToHtml } from '../../src/trace/html';
import { ARTIFACTS, type Browser, launchChromium } from './browser';
import { KNOWN_SEED, recordKnownTrace } from './known-trace';

const dir = path.join(ARTIFACTS, 'trace-html');
let browser: Browser;
let entries: TraceEntry[];
let page: Page;
const problems: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  ({ entries } = await recordKnownTrace());
  const file = path.join(dir, 'known-trace.html');
  writeFileSync(file, traceToHtml(entries, { title: 'known trace', seed: KNOWN_SEED }));
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`file://${file}`, { waitUntil: 'load' });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const packets = () => entries.filter((e): e is PacketEntry => e.kind === 'packet');
/** Rows the page shows now (a hidden row is not laid out at all). */
// (Browser-side code as text: this project's TypeScript has no DOM types.)
const shownRows = () =>
  page.evaluate(`[...document.querySelectorAll('.row')].filter((r) => r.offsetParent !== null).map((r) => ({ seq: Number(r.dataset.seq), lane: r.dataset.lane, type: r.dataset.type }))`) as Promise<{ seq: number; lane: string; type: string }[]>;
const resetFilters = async () => {
  await page.selectOption('#f-client', '');
  await page.selectOption('#f-type', '');
  await page.fill('#f-topic', '');
};

test('one lane for the broker and one per client, in order of appearance', async () => {
  expect(await page.$$eval('.lane-head', (heads) => heads.map((h) => h.textContent))).toEqual(['broker', 'sensor-1', 'app', 'bad-device']);
});

test('one arrow per packet, in trace order, and one row per entry', async () => {
  expect(await page.locator('.row').count()).toBe(entries.length);
  expect(await page.locator('.arrow').count()).toBe(packets().length);
  const seqs = await page.locator('.row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
  expect(seqs).toEqual(entries.map((e) => e.seq));
  // Client to broker points left (the broker's lane is the first), broker to client right.
  expect(await page.locator('.arrow.in.to-left').count()).toBe(packets().filter((p) => p.direction === 'in').length);
  expect(await page.locator('.arrow.out.to-right').count()).toBe(packets().filter((p) => p.direction === 'out').length);
});

test('chaos copies are marked with their fault; the violation and disconnects are highlighted', async () => {
  expect(await page.locator('.arrow.chaos').count()).toBe(2);
  expect(await page.locator('.arrow.chaos [data-fault]').allTextContents()).toEqual(['duplicateQos0', 'resendWithNewPacketId']);
  expect(await page.locator('.row.mark-violation').allTextContents()).toEqual([expect.stringContaining('violation limits.maxTopicSlashes')]);
  expect(await page.locator('.row.mark-disconnect').count()).toBe(3);
  expect(await page.locator('#summary').textContent()).toContain(`2 marked by chaos, 1 violation(s), 3 disconnect(s) · seed ${KNOWN_SEED}`);
});

test('filtering by client, topic and packet type hides every other row', async () => {
  await page.selectOption('#f-client', 'app');
  const app = await shownRows();
  expect(app.map((r) => r.seq)).toEqual(entries.filter((e) => e.clientId === 'app').map((e) => e.seq));
  expect(await page.locator('#shown').textContent()).toBe(`showing ${app.length} of ${entries.length}`);

  await page.selectOption('#f-type', 'PUBLISH');
  expect((await shownRows()).map((r) => r.seq)).toEqual(packets().filter((p) => p.clientId === 'app' && p.packet.cmd === 'publish').map((p) => p.seq));

  await resetFilters();
  await page.fill('#f-topic', 'cmd/+');
  const cmd = await shownRows();
  const topicOf = (e: TraceEntry) => (e.kind === 'packet' && (e.packet.cmd === 'publish' || e.packet.cmd === 'subscribe') ? (e.packet.cmd === 'publish' ? [e.packet.topic] : e.packet.subscriptions.map((s) => s.topic)) : e.kind === 'event' && 'topic' in e && typeof e.topic === 'string' ? [e.topic] : []);
  expect(cmd.map((r) => r.seq)).toEqual(entries.filter((e) => topicOf(e).some((t) => /^cmd\/[^/]+$/.test(t))).map((e) => e.seq));
  expect(cmd.length).toBeGreaterThan(3);

  await page.check('#f-marked');
  expect((await shownRows()).map((r) => r.seq)).toEqual(entries.filter((e) => topicOf(e).some((t) => /^cmd\//.test(t)) && 'chaos' in e && e.chaos).map((e) => e.seq));
  await page.uncheck('#f-marked');
  await resetFilters();
  expect((await shownRows()).length).toBe(entries.length);
});

test('clicking a packet shows it decoded: a JSON payload as text, a binary one as hex', async () => {
  const json = packets().find((p) => p.direction === 'out' && p.packet.cmd === 'publish' && p.packet.topic === 'state/sensor-1')!;
  await page.click(`.row[data-seq="${json.seq}"] .arrow`);
  expect(await page.locator('#details').isVisible()).toBe(true);
  expect(await page.locator('#d-title').textContent()).toBe(`#${json.seq} broker → app: PUBLISH`);
  expect(await page.locator('#payload-text').textContent()).toBe('{\n  "temperature": 21.5\n}');

  const copy = packets().find((p) => p.chaos?.fault === 'resendWithNewPacketId')!;
  await page.click(`.row[data-seq="${copy.seq}"] .arrow`);
  expect(await page.locator('#d-chaos').textContent()).toBe(`chaos: resendWithNewPacketId (decision #${copy.chaos!.decision}), a copy of #${copy.chaos!.of}`);
  expect(await page.locator('#payload-hex').isVisible()).toBe(true);
  expect(await page.locator('#payload-hex').textContent()).toMatch(/^00000000 {2}00 ff 10 80 c3 28 7f 01 /);
  expect(await page.locator('#d-json').textContent()).toContain('"messageId": 2');

  await page.screenshot({ path: path.join(dir, 'known-trace.png'), fullPage: true });
});

test('nothing was fetched but the file itself, and the page logged no errors', () => {
  expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
  expect(problems).toEqual([]);
});

test('a 10,000-entry trace of 40 clients renders every row and filters (how fast: `npm run bench -- --only=html`)', async () => {
  // The known run's entries again and again, as 40 clients' connections, renumbered.
  const big: TraceEntry[] = [];
  for (let i = 0; big.length < 10_000; i++) {
    for (const e of entries) {
      if (big.length === 10_000) break;
      const k = i % 40;
      big.push({ ...e, seq: big.length + 1, at: e.at + i * 100, ...(e.clientId !== undefined ? { clientId: `${e.clientId}-${k}` } : {}), ...(e.connectionId !== undefined ? { connectionId: e.connectionId + 3 * i } : {}) } as TraceEntry);
    }
  }
  const file = path.join(dir, 'ten-thousand.html');
  writeFileSync(file, traceToHtml(big));
  const tab = await browser.context.newPage();
  await tab.goto(`file://${file}`, { waitUntil: 'load' });
  expect(await tab.locator('.row').count()).toBe(10_000);
  expect(await tab.locator('.lane-head').count()).toBe(1 + 3 * 40);
  await tab.locator('#f-client').selectOption('app-7');
  expect(await tab.locator('#shown').textContent()).toBe(`showing ${big.filter((e) => e.clientId === 'app-7').length} of 10000`);
  await tab.close();
}, 60_000);
