/**
 * A trace as one self-contained HTML page (no network: styles, script and data are inline, so it opens
 * from file:// and from a CI artefact store): a sequence diagram with the broker's lane and one lane per
 * client, every packet an arrow in trace order, chaos-made or chaos-moved packets marked with their fault,
 * violations and disconnects highlighted, filters for client, topic and packet type, and the decoded
 * packet (payload as text or hex) on click.
 */
import type { TraceEntry } from './entry';
import { describeEntry, entryToJSON } from './format';

export interface TraceHtmlOptions {
  /** The page's title and heading. Default `fake-aws-iot trace`. */
  title?: string;
  /** The endpoint's seed, shown under the heading (`iot.trace.toHtml()` gives it). */
  seed?: number;
}

/** What the page gets per entry (the whole entry as JSON too, for the details pane). */
interface Row {
  /** Lane index: 0 is the broker. */
  lane: number;
  /** `PUBLISH`, `SUBACK`... for packets; the event's name for events. */
  type: string;
  /** `in`, `out`, or absent for events. */
  dir?: 'in' | 'out';
  /** Offset from the first entry, in ms. */
  t: number;
  label: string;
  /** Topics the entry names (publish topic, subscribe filters...), for the topic filter. */
  topics: string[];
  /** The chaos fault that made or moved it. */
  fault?: string;
  /** `violation`, `disconnect` or `error`: rows the page highlights. */
  mark?: string;
  entry: Record<string, unknown>;
}

function topicsOf(e: TraceEntry): string[] {
  if (e.kind === 'packet') {
    const p = e.packet;
    if (p.cmd === 'publish') return [p.topic];
    if (p.cmd === 'subscribe') return p.subscriptions.map((s) => s.topic);
    if (p.cmd === 'unsubscribe') return [...p.unsubscriptions];
    if (p.cmd === 'connect' && p.will) return [p.will.topic];
    return [];
  }
  return 'topic' in e && typeof e.topic === 'string' ? [e.topic] : [];
}

function markOf(e: TraceEntry): string | undefined {
  if (e.kind === 'packet') return undefined;
  if (e.event === 'violation' || e.event === 'disconnect') return e.event;
  if (e.event === 'authorization') return 'violation'; // a policy denial is highlighted like a broken rule
  if (e.event === 'internal-error' || e.event === 'transport-error') return 'error';
  return undefined;
}

/** The page's data: lanes (broker first, then clients as they first appear) and one row per entry. */
function pageData(entries: readonly TraceEntry[], options: TraceHtmlOptions) {
  // An entry recorded before its connection's CONNECT was read has no client id: its connection tells.
  const clientOfConnection = new Map<number, string>();
  for (const e of entries) if (e.connectionId !== undefined && e.clientId !== undefined && !clientOfConnection.has(e.connectionId)) clientOfConnection.set(e.connectionId, e.clientId);
  const lanes = ['broker'];
  const laneOf = new Map<string, number>();
  const t0 = entries[0]?.at ?? 0;
  const rows: Row[] = entries.map((e) => {
    const client = e.clientId ?? (e.connectionId !== undefined ? (clientOfConnection.get(e.connectionId) ?? `connection ${e.connectionId}`) : undefined);
    let lane = 0;
    if (client !== undefined) {
      lane = laneOf.get(client) ?? lanes.push(client) - 1;
      laneOf.set(client, lane);
    }
    const chaos = 'chaos' in e ? e.chaos : undefined;
    const row: Row = {
      lane,
      type: e.kind === 'packet' ? e.packet.cmd.toUpperCase() : e.event,
      t: e.at - t0,
      label: describeEntry(e),
      topics: topicsOf(e),
      entry: entryToJSON(e),
    };
    if (e.kind === 'packet') row.dir = e.direction;
    if (chaos) row.fault = chaos.fault;
    const mark = markOf(e);
    if (mark) row.mark = mark;
    return row;
  });
  return { title: options.title ?? 'fake-aws-iot trace', seed: options.seed, start: entries[0]?.at, lanes, rows };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The trace as a single HTML file: open it in any browser, offline. Give it `iot.trace.entries` (or the
 * entries of a JSON-lines trace, see `fake-aws-iot trace view`).
 */
export function traceToHtml(entries: readonly TraceEntry[], options: TraceHtmlOptions = {}): string {
  const data = pageData(entries, options);
  // Inside <script>, `<` is written as \u003c so that no payload can close the element or open a comment.
  const json = JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="fake-aws-iot">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header id="top">
  <h1>${escapeHtml(data.title)}</h1>
  <p id="summary"></p>
  <form id="filters" onsubmit="return false">
    <label>client <select id="f-client"><option value="">all</option></select></label>
    <label>topic <input id="f-topic" type="search" placeholder="a/b, a/+/c or a/#" size="24"></label>
    <label>type <select id="f-type"><option value="">all</option></select></label>
    <label><input id="f-marked" type="checkbox"> only chaos, violations, disconnects</label>
    <span id="shown"></span>
  </form>
  <p class="legend"><span class="k in">client → broker</span> <span class="k out">broker → client</span> <span class="k chaos">chaos</span> <span class="k violation">violation</span> <span class="k disconnect">disconnect</span> <span class="hint">click a row for the decoded packet</span></p>
</header>
<main id="diagram"><div id="lanes"></div><div id="rows"></div></main>
<aside id="details" hidden>
  <button id="close" type="button" title="close">×</button>
  <h2 id="d-title"></h2>
  <p id="d-line"></p>
  <p id="d-chaos"></p>
  <section id="d-payload" hidden>
    <h3>payload <span id="d-size"></span> <button type="button" id="as-text">text</button> <button type="button" id="as-hex">hex</button></h3>
    <pre id="payload-text"></pre>
    <pre id="payload-hex" hidden></pre>
  </section>
  <h3>entry</h3>
  <pre id="d-json"></pre>
</aside>
<script type="application/json" id="trace-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const LANE_WIDTH = 240;
const GUTTER = 120;
const ROW_HEIGHT = 26;

const STYLE = `
:root { --lane: ${LANE_WIDTH}px; --gutter: ${GUTTER}px; --row: ${ROW_HEIGHT}px; --in: #2563eb; --out: #059669; --chaos: #d97706; --bad: #dc2626; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; background: #fff; }
header { position: sticky; top: 0; z-index: 3; background: #f9fafb; border-bottom: 1px solid #e5e7eb; padding: 8px 12px 0; }
h1 { font-size: 16px; margin: 0 0 2px; }
#summary { margin: 0 0 6px; color: #4b5563; }
#filters { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; }
#filters select, #filters input[type=search] { font: inherit; }
#shown { color: #4b5563; }
.legend { margin: 6px 0; color: #4b5563; }
.legend .k { margin-right: 12px; padding-left: 22px; position: relative; }
.legend .k::before { content: ""; position: absolute; left: 0; top: 50%; width: 16px; border-top: 2px solid; }
.legend .in::before { color: var(--in); } .legend .out::before { color: var(--out); }
.legend .chaos::before { color: var(--chaos); border-top-style: dashed; }
.legend .violation::before, .legend .disconnect::before { color: var(--bad); border-top-width: 8px; opacity: .35; }
.legend .hint { font-style: italic; }
#diagram { position: relative; }
#lanes { position: sticky; top: var(--header, 0px); z-index: 2; height: 28px; background: #fff; border-bottom: 1px solid #e5e7eb; }
.lane-head { position: absolute; top: 4px; width: calc(var(--lane) - 12px); text-align: center; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; background: #eef2ff; border-radius: 4px; padding: 2px 4px; }
.lane-head.broker { background: #fef3c7; }
#rows { position: relative; }
.lane-line { position: absolute; top: 0; bottom: 0; border-left: 1px dashed #d1d5db; }
.chunk { content-visibility: auto; }
.row { position: relative; height: var(--row); cursor: pointer; }
.row:hover { background: #f3f4f6; }
.row.selected { background: #e0e7ff; }
.row.mark-violation, .row.mark-error { background: #fee2e2; }
.row.mark-disconnect { background: #ffedd5; }
.row .when { position: absolute; left: 6px; top: 5px; width: calc(var(--gutter) - 10px); color: #6b7280; font: 11px ui-monospace, monospace; white-space: nowrap; }
.arrow { position: absolute; top: 17px; height: 0; border-top: 2px solid currentColor; }
.arrow.in { color: var(--in); } .arrow.out { color: var(--out); }
.arrow::after { content: ""; position: absolute; top: -6px; border: 5px solid transparent; }
.arrow.to-right::after { right: -2px; border-left: 9px solid currentColor; border-right: 0; }
.arrow.to-left::after { left: -2px; border-right: 9px solid currentColor; border-left: 0; }
.arrow.chaos { color: var(--chaos); border-top-style: dashed; }
.arrow .label { position: absolute; bottom: 1px; left: 10px; right: 10px; text-align: center; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font: 11px ui-monospace, monospace; color: #111827; }
.fault { display: inline-block; background: var(--chaos); color: #fff; border-radius: 3px; padding: 0 4px; margin-right: 4px; font-size: 10px; }
.event { position: absolute; top: 4px; height: 18px; white-space: nowrap; font: 11px ui-monospace, monospace; color: #374151; }
.event .dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: #9ca3af; margin: 0 5px -1px 0; }
.event.mark-violation .dot, .event.mark-error .dot { background: var(--bad); }
.event.mark-disconnect .dot { background: var(--bad); border-radius: 0; }
.event.ev-connect .dot { background: var(--out); }
.event.mark-violation, .event.mark-disconnect, .event.mark-error { color: #991b1b; font-weight: 600; }
#details { position: fixed; z-index: 4; top: 0; right: 0; bottom: 0; width: min(46vw, 640px); overflow: auto; background: #fff; border-left: 1px solid #d1d5db; box-shadow: -4px 0 12px rgba(0,0,0,.08); padding: 10px 14px; }
#details h2 { font-size: 15px; margin: 0 24px 6px 0; }
#details h3 { font-size: 13px; margin: 12px 0 4px; }
#details pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: 6px; white-space: pre-wrap; word-break: break-all; font: 12px ui-monospace, monospace; margin: 0; }
#details button { font: inherit; }
#details button.on { font-weight: 700; }
#close { position: absolute; right: 8px; top: 6px; border: 0; background: none; font-size: 20px; cursor: pointer; }
#d-chaos:empty, #d-line:empty { display: none; }
#d-chaos { color: var(--chaos); font-weight: 600; }
`;

// Plain ES2017, no template literals: this text is itself inside one.
const SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('trace-data').textContent);
  var LANE = ${LANE_WIDTH}, GUTTER = ${GUTTER};
  var rowsEl = document.getElementById('rows');
  var lanesEl = document.getElementById('lanes');
  var x = function (lane) { return GUTTER + lane * LANE + LANE / 2; };
  var width = GUTTER + data.lanes.length * LANE;
  // Room on the right for the text of events on the last lane.
  document.getElementById('diagram').style.width = Math.max(width + 420, 800) + 'px';
  function el(tag, cls, text) { var n = document.createElement(tag); if (cls) n.className = cls; if (text !== undefined) n.textContent = text; return n; }

  data.lanes.forEach(function (name, i) {
    var head = el('div', 'lane-head' + (i === 0 ? ' broker' : ''), name);
    head.title = name;
    head.style.left = (x(i) - (LANE - 12) / 2) + 'px';
    lanesEl.appendChild(head);
    var line = el('div', 'lane-line');
    line.style.left = x(i) + 'px';
    rowsEl.appendChild(line);
  });

  var marked = 0, chaos = 0, violations = 0, disconnects = 0, types = {};
  // Rows go in chunks the browser skips while they are off screen (content-visibility), each told its height.
  var CHUNK = 100, chunks = [], frag = document.createDocumentFragment();
  var rowEls = data.rows.map(function (r, i) {
    var row = el('div', 'row' + (r.mark ? ' mark-' + r.mark : ''));
    row.dataset.index = String(i);
    row.dataset.seq = String(r.entry.seq);
    row.dataset.type = r.type;
    row.dataset.lane = data.lanes[r.lane];
    row.appendChild(el('span', 'when', '#' + r.entry.seq + ' +' + r.t + 'ms'));
    types[r.type] = true;
    if (r.fault) chaos++;
    if (r.mark === 'violation') violations++;
    if (r.mark === 'disconnect') disconnects++;
    if (r.fault || r.mark) marked++;
    if (r.dir) {
      var from = r.dir === 'in' ? r.lane : 0, to = r.dir === 'in' ? 0 : r.lane;
      var a = el('div', 'arrow ' + r.dir + (to > from ? ' to-right' : ' to-left') + (r.fault ? ' chaos' : ''));
      a.style.left = Math.min(x(from), x(to)) + 'px';
      a.style.width = Math.max(Math.abs(x(to) - x(from)), 40) + 'px';
      var label = el('span', 'label');
      if (r.fault) { var f = el('span', 'fault', r.fault); f.dataset.fault = r.fault; label.appendChild(f); }
      label.appendChild(document.createTextNode(r.label));
      a.appendChild(label);
      a.title = r.label;
      row.appendChild(a);
    } else {
      var ev = el('div', 'event ev-' + r.type + (r.mark ? ' mark-' + r.mark : ''));
      ev.style.left = (x(r.lane) - 5) + 'px';
      ev.appendChild(el('span', 'dot'));
      if (r.fault) { var g = el('span', 'fault', r.fault); g.dataset.fault = r.fault; ev.appendChild(g); }
      ev.appendChild(document.createTextNode(r.label));
      ev.title = r.label;
      row.appendChild(ev);
    }
    if (i % CHUNK === 0) { chunks.push(el('div', 'chunk')); frag.appendChild(chunks[chunks.length - 1]); }
    chunks[chunks.length - 1].appendChild(row);
    return row;
  });
  rowsEl.appendChild(frag);

  var summary = data.rows.length + ' entries, ' + (data.lanes.length - 1) + ' client(s), ' + chaos + ' marked by chaos, ' + violations + ' violation(s), ' + disconnects + ' disconnect(s)';
  if (data.seed !== undefined && data.seed !== null) summary += ' \\u00b7 seed ' + data.seed;
  if (data.start !== undefined) summary += ' \\u00b7 from ' + new Date(data.start).toISOString();
  document.getElementById('summary').textContent = data.rows.length ? summary : 'The trace is empty.';

  var fClient = document.getElementById('f-client'), fTopic = document.getElementById('f-topic'), fType = document.getElementById('f-type'), fMarked = document.getElementById('f-marked');
  data.lanes.slice(1).forEach(function (name) { var o = el('option', null, name); o.value = name; fClient.appendChild(o); });
  Object.keys(types).sort().forEach(function (t) { var o = el('option', null, t); o.value = t; fType.appendChild(o); });

  // An MQTT topic filter (+ one level, # the rest) when the text has a wildcard; a substring otherwise.
  function topicTest(text) {
    if (!text) return null;
    if (!/[+#]/.test(text)) return function (t) { return t.indexOf(text) !== -1; };
    var f = text.split('/');
    return function (t) {
      var l = t.split('/');
      for (var i = 0; i < f.length; i++) {
        if (f[i] === '#') return true;
        if (i >= l.length) return false;
        if (f[i] !== '+' && f[i] !== l[i]) return false;
      }
      return l.length === f.length;
    };
  }
  function applyFilters() {
    var client = fClient.value, type = fType.value, onlyMarked = fMarked.checked, topic = topicTest(fTopic.value.trim()), shown = 0, chunkStart = 0;
    for (var i = 0; i < data.rows.length; i++) {
      var r = data.rows[i];
      var ok = (!client || data.lanes[r.lane] === client) && (!type || r.type === type) && (!onlyMarked || r.fault || r.mark) &&
        (!topic || r.topics.some(topic));
      rowEls[i].hidden = !ok;
      if (ok) shown++;
      if (i % CHUNK === CHUNK - 1 || i === data.rows.length - 1) {
        var chunk = chunks[Math.floor(i / CHUNK)];
        chunk.style.containIntrinsicSize = 'none ' + (shown - chunkStart) * ${ROW_HEIGHT} + 'px';
        chunkStart = shown;
      }
    }
    document.getElementById('shown').textContent = 'showing ' + shown + ' of ' + data.rows.length;
  }
  [fClient, fType, fMarked].forEach(function (c) { c.addEventListener('change', applyFilters); });
  fTopic.addEventListener('input', applyFilters);
  applyFilters();

  function bytesOf(payload) {
    if (payload === undefined || payload === null) return null;
    if (typeof payload === 'string') return { bytes: new TextEncoder().encode(payload), text: payload };
    if (payload && typeof payload.base64 === 'string') {
      var bin = atob(payload.base64), b = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
      return { bytes: b, text: null };
    }
    return null;
  }
  function hexDump(b) {
    var lines = [];
    for (var o = 0; o < b.length; o += 16) {
      var hex = '', ascii = '';
      for (var i = o; i < o + 16; i++) {
        if (i < b.length) { hex += (b[i] < 16 ? '0' : '') + b[i].toString(16) + ' '; ascii += b[i] >= 32 && b[i] < 127 ? String.fromCharCode(b[i]) : '.'; }
        else hex += '   ';
        if (i === o + 7) hex += ' ';
      }
      lines.push(('0000000' + o.toString(16)).slice(-8) + '  ' + hex + ' ' + ascii);
    }
    return lines.join('\\n');
  }
  function pretty(text) {
    try { var v = JSON.parse(text); if (v && typeof v === 'object') return JSON.stringify(v, null, 2); } catch (e) { /* not JSON */ }
    return text;
  }
  var details = document.getElementById('details'), pText = document.getElementById('payload-text'), pHex = document.getElementById('payload-hex');
  var asText = document.getElementById('as-text'), asHex = document.getElementById('as-hex');
  function showAs(hex) { pText.hidden = hex; pHex.hidden = !hex; asText.classList.toggle('on', !hex); asHex.classList.toggle('on', hex); }
  asText.addEventListener('click', function () { showAs(false); });
  asHex.addEventListener('click', function () { showAs(true); });
  document.getElementById('close').addEventListener('click', function () { details.hidden = true; });
  var selected = null;
  function show(i) {
    var r = data.rows[i], e = r.entry;
    if (selected) selected.classList.remove('selected');
    selected = rowEls[i];
    selected.classList.add('selected');
    var who = data.lanes[r.lane];
    document.getElementById('d-title').textContent = '#' + e.seq + ' ' + (r.dir ? (r.dir === 'in' ? who + ' \\u2192 broker' : 'broker \\u2192 ' + who) + ': ' + r.type : r.type + (r.lane ? ' (' + who + ')' : ''));
    document.getElementById('d-line').textContent = '+' + r.t + ' ms (' + new Date(e.at).toISOString() + ')' + (e.connectionId !== undefined ? ', connection ' + e.connectionId : '') + ' \\u00b7 ' + r.label;
    var tag = e.chaos;
    document.getElementById('d-chaos').textContent = tag ? 'chaos: ' + tag.fault + (tag.decision !== undefined ? ' (decision #' + tag.decision + ')' : '') + (tag.of !== undefined ? ', a copy of #' + tag.of : '') + (tag.heldMs !== undefined ? ', held ' + tag.heldMs + ' ms' : '') : '';
    var payload = bytesOf(e.packet ? (e.packet.cmd === 'publish' ? e.packet.payload : undefined) : e.payload);
    var section = document.getElementById('d-payload');
    section.hidden = !payload;
    if (payload) {
      document.getElementById('d-size').textContent = '(' + payload.bytes.length + ' B' + (e.truncated ? ', cut from ' + e.truncated.payloadBytes + ' B by trace.maxBytes' : '') + ')';
      pText.textContent = payload.text !== null ? pretty(payload.text) : '(binary: see hex)';
      pHex.textContent = hexDump(payload.bytes);
      showAs(payload.text === null);
    }
    document.getElementById('d-json').textContent = JSON.stringify(e, null, 2);
    details.hidden = false;
  }
  rowsEl.addEventListener('click', function (ev) {
    var row = ev.target.closest('.row');
    if (row) show(Number(row.dataset.index));
  });
  // The lane heads stick below the header, whatever height the filters wrap to.
  var header = document.getElementById('top');
  function place() { document.documentElement.style.setProperty('--header', header.offsetHeight + 'px'); }
  window.addEventListener('resize', place);
  place();
})();
`;
