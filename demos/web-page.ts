/**
 * The live page map's page (served by demos/web.ts): one HTML document, its style sheet and its
 * script, plain DOM and SVG, nothing fetched from anywhere but the server that sent it (the
 * Content-Security-Policy says so too). The script keeps one EventSource open to `events` and
 * redraws what changed from each `state` view; `flow` events draw a message between two nodes.
 *
 * What a class watching DSM fail needs to see at a glance:
 * - each node: alive / suspected / dead / fenced (as the others see it), its process (running,
 *   paused, killed), what it sees of its peers, its counters; buttons when the console started it;
 * - the messages between nodes as they happen (faults asking managers, forwards, invalidations);
 * - the page grid: every page coloured by its owner, dots for read copies, lost pages crossed out;
 * - the linked list as boxes and pointers, the pointer into a dead node's page red once a
 *   traversal hits it (DSM_ERR_PAGE_LOST, or DSM_ERR_MANAGER_DEAD);
 * - small charts of the closing statistics.
 * The page records how long each view took from the change on the server to the screen
 * (`window.pagewire.latencies`, and `data-latency-ms` on <body>) and shows it in the header.
 */

export const PAGE_HTML = (title: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="app.css">
</head>
<body>
<header>
  <h1>pagewire <span>${escapeHtml(title.replace(/^pagewire:?\s*/, ''))}</span></h1>
  <div id="conn" class="conn">connecting…</div>
  <div id="sec" class="sec"></div>
  <div id="net" class="net"></div>
  <div id="lat" class="lat" title="time from a change reported by the nodes to this screen">event → screen: –</div>
</header>
<main>
  <section id="nodes-sec"><h2>Nodes</h2><div id="nodes"></div>
    <div id="controls" hidden>
      <span class="label">network:</span>
      <button data-cmd="heal">heal</button>
      <button data-cmd="loss 0">loss 0</button><button data-cmd="loss 0.1">loss 0.1</button><button data-cmd="loss 0.3">loss 0.3</button>
      <span id="partition-buttons"></span>
      <pre id="output" aria-live="polite"></pre>
    </div>
  </section>
  <section id="flow-sec"><h2>Messages between nodes <small>as they happen</small></h2>
    <svg id="flows" viewBox="0 0 360 260" role="img" aria-label="messages between nodes"></svg>
    <ol id="log"></ol>
  </section>
  <section id="pages-sec"><h2>Pages <small>colour: owner · dots: read copies · ✕: lost with a dead owner · stripes: its manager is dead · outline: just changed</small></h2>
    <div id="legend"></div><div id="grid"></div><div id="pageinfo">Click a page for its details.</div>
  </section>
  <section id="list-sec"><h2>The linked list <small>boxes live in their creator's pages</small></h2>
    <div id="walk">No list yet (list new, list push, list walk).</div><svg id="list" role="img" aria-label="the linked list"></svg>
  </section>
  <section id="charts-sec"><h2>Statistics</h2><div id="charts"></div></section>
</main>
<script src="app.js"></script>
</body>
</html>
`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const PAGE_CSS = `
:root { --bg: #fafaf7; --fg: #222; --muted: #777; --line: #ddd; --dead: #c62828; --ok: #2e7d32; --warn: #ef6c00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 16px; align-items: baseline; padding: 8px 16px; border-bottom: 1px solid var(--line); background: #fff; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 18px; margin: 0; } h1 span { font-weight: normal; color: var(--muted); }
h2 { font-size: 15px; margin: 0 0 6px; } h2 small { font-weight: normal; color: var(--muted); }
.conn { padding: 1px 8px; border-radius: 10px; background: #eee; } .conn.ok { background: #e8f5e9; color: var(--ok); } .conn.bad { background: #ffebee; color: var(--dead); }
.net { color: var(--warn); font-weight: 600; } .sec { font-size: 12px; color: var(--muted); } .sec.clear { color: var(--dead); } .lat { margin-left: auto; color: var(--muted); font-variant-numeric: tabular-nums; }
main { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(420px, 1fr); gap: 12px; padding: 12px 16px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
#nodes-sec, #list-sec { grid-column: 1 / -1; }
#nodes { display: flex; flex-wrap: wrap; gap: 10px; }
.node { border: 2px solid var(--c); border-radius: 6px; padding: 6px 8px; min-width: 190px; background: #fff; }
.node h3 { margin: 0 0 2px; font-size: 15px; color: var(--c); display: flex; gap: 6px; align-items: center; }
.badge { font-size: 12px; padding: 0 7px; border-radius: 9px; color: #fff; background: var(--ok); }
.node[data-status="suspected"] .badge { background: var(--warn); }
.node[data-status="dead"] .badge, .node[data-status="fenced"] .badge { background: var(--dead); }
.node[data-process="killed"], .node[data-process="exited"] { opacity: .65; border-style: dashed; }
.node[data-process="paused"] { background: #fff8e1; }
.node .proc, .node .sees { font-size: 12px; color: var(--muted); }
.node table { border-collapse: collapse; font-size: 12px; margin-top: 3px; font-variant-numeric: tabular-nums; }
.node td { padding: 0 6px 0 0; } .node td:nth-child(2) { text-align: right; font-weight: 600; }
.node .buttons { margin-top: 4px; display: flex; gap: 4px; flex-wrap: wrap; }
button { font: inherit; font-size: 12px; padding: 1px 7px; border: 1px solid #bbb; border-radius: 4px; background: #f4f4f4; cursor: pointer; }
button:hover { background: #e8e8e8; } button:disabled { opacity: .4; cursor: default; }
#controls { margin-top: 8px; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; } #controls[hidden] { display: none; }
#controls .label { color: var(--muted); }
#output { flex-basis: 100%; margin: 4px 0 0; font-size: 12px; white-space: pre-wrap; color: #333; max-height: 6em; overflow: auto; }
#flows { width: 100%; max-width: 420px; height: auto; display: block; margin: 0 auto; }
#flows .nd circle { stroke: #fff; stroke-width: 2; }
#flows .nd text { fill: #fff; font-weight: 700; font-size: 14px; text-anchor: middle; dominant-baseline: central; }
#flows .nd.dead circle, #flows .nd.fenced circle { fill: #999 !important; }
#flows .nd .x { stroke: var(--dead); stroke-width: 4; display: none; } #flows .nd.dead .x, #flows .nd.fenced .x, #flows .nd.killed .x { display: inline; }
#flows .nd.paused circle { stroke: var(--warn); stroke-width: 4; stroke-dasharray: 4 3; }
#flows .cut { stroke: var(--warn); stroke-width: 2; stroke-dasharray: 5 4; }
.flow { animation: fade 2.2s ease-out forwards; } .flow line { stroke-width: 2; } .flow text { font-size: 10px; fill: #333; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.flow.invalidate line { stroke-dasharray: 3 2; }
@keyframes fade { 0% { opacity: 1; } 70% { opacity: .8; } 100% { opacity: 0; } }
#log { list-style: none; margin: 6px 0 0; padding: 0; font-size: 12px; max-height: 190px; overflow: auto; }
#log li { padding: 1px 0; border-bottom: 1px dotted #eee; } #log li time { color: var(--muted); margin-right: 6px; font-variant-numeric: tabular-nums; }
#log li.membership { color: #6a1b9a; } #log li.error { color: var(--dead); } #log li.process, #log li.network { color: var(--warn); }
#legend { display: flex; gap: 10px; font-size: 12px; margin-bottom: 4px; flex-wrap: wrap; }
#legend span.lostkey::before { display: none; } #legend span.lostkey { color: #b00020; }
#legend span.orphankey::before { background: #999 repeating-linear-gradient(45deg, rgba(255,255,255,.8) 0 2px, transparent 2px 5px); }
#legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; background: var(--c); margin-right: 4px; vertical-align: -1px; }
#grid { display: grid; grid-template-columns: repeat(32, 1fr); gap: 1px; max-width: 544px; }
.cell { position: relative; aspect-ratio: 1; background: var(--c); border-radius: 2px; cursor: pointer; min-width: 0; }
.cell.lost { opacity: .45; } .cell.lost::after { content: "✕"; position: absolute; inset: 0; color: #b00020; font-weight: 700; font-size: 11px; line-height: 1; display: flex; align-items: center; justify-content: center; }
.cell.pending { outline: 2px dotted #000; }
.cell.orphan { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.8) 0 2px, transparent 2px 5px); }
.cell.changed { animation: flash 1.2s ease-out; z-index: 1; }
@keyframes flash { 0% { box-shadow: 0 0 0 3px #000; } 100% { box-shadow: 0 0 0 0 transparent; } }
.cell i { position: absolute; width: 4px; height: 4px; border-radius: 50%; background: var(--c); border: 1px solid #fff; bottom: 0; }
.cell.sel { outline: 2px solid #000; z-index: 1; }
#pageinfo { font-size: 12px; color: #333; margin-top: 6px; min-height: 3em; }
#walk { font-size: 13px; margin-bottom: 4px; } #walk .err { color: var(--dead); font-weight: 600; }
#list { width: 100%; display: block; }
#list .box rect { fill: #fff; stroke: var(--c); stroke-width: 2; rx: 5; }
#list .box.gone rect { stroke-dasharray: 5 3; fill: #f3f3f3; } #list .box.unreached { opacity: .45; }
#list .box text { font-size: 12px; } #list .box .v { font-weight: 700; font-size: 14px; }
#list .ptr line, #list .ptr path { stroke: #555; stroke-width: 1.8; fill: none; }
#list .ptr.broken line, #list .ptr.broken path { stroke: var(--dead); stroke-width: 3; }
#list .ptr text { font-size: 11px; fill: var(--dead); font-weight: 700; }
#charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart { font-size: 11px; } .chart h3 { font-size: 12px; margin: 0 0 2px; font-weight: 600; }
.chart svg { display: block; } .chart rect { fill: var(--c, #607d8b); } .chart text { font-size: 9px; fill: #333; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

/** The page's script (plain JavaScript, runs in the browser). */
export const PAGE_JS = String.raw`(() => {
'use strict';
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#e15759', '#76b7b2', '#edc948', '#9c755f'];
const colorOf = (id) => PALETTE[(id - 1) % PALETTE.length] || '#888';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
// Styles go through the CSSOM (the Content-Security-Policy forbids style attributes).
function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style') for (const decl of String(v).split(';')) { const i = decl.indexOf(':'); if (i > 0) e.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim()); }
    else e.setAttribute(k, String(v));
  }
}
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const k of kids) e.append(k);
  return e;
}
function s(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  setAttrs(e, attrs);
  if (text !== undefined) e.textContent = text;
  return e;
}
const hex = (a) => '0x' + Number(a).toString(16).padStart(8, '0');
const state = { view: null, cells: [], cellKeys: [], cards: new Map(), selected: 0, flowNodes: new Map() };
const pw = (window.pagewire = { views: 0, latencies: [], parts: [], flows: 0, lastView: null, errors: [] });

function setConn(text, cls) { const c = $('conn'); c.textContent = text; c.className = 'conn ' + cls; }

function connect() {
  const es = new EventSource('events');
  es.addEventListener('state', (e) => {
    let v;
    try { v = JSON.parse(e.data); } catch (err) { pw.errors.push(String(err)); return; }
    render(v);
  });
  es.addEventListener('flow', (e) => { try { drawFlow(JSON.parse(e.data)); } catch (err) { pw.errors.push(String(err)); } });
  es.onopen = () => setConn('live', 'ok');
  es.onerror = () => setConn(es.readyState === 2 ? 'disconnected' : 'reconnecting…', 'bad');
}

async function command(line) {
  const out = $('output');
  out.textContent = '> ' + line + '\n…';
  try {
    const r = await fetch('command', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ line }) });
    const text = r.headers.get('content-type')?.startsWith('application/json') ? (await r.json()).output : await r.text();
    out.textContent = '> ' + line + '\n' + text;
  } catch (err) {
    out.textContent = '> ' + line + '\n' + 'the console did not answer: ' + err;
  }
}

function render(v) {
  const received = Date.now();
  state.view = v;
  pw.views++;
  pw.lastView = v;
  renderNodes(v);
  renderFlowNodes(v);
  renderGrid(v);
  renderList(v);
  renderCharts(v);
  renderLog(v);
  const keyed = v.nodes.every((n) => n.keyed);
  $('sec').textContent = keyed ? 'sealed: every datagram encrypted and authenticated with the cluster key (AES-256-GCM)' : 'clear text: no cluster key';
  $('sec').className = 'sec' + (keyed ? '' : ' clear');
  const net = v.network;
  $('net').textContent = (net.groups ? 'partition ' + net.groups.map((g) => g.join(',')).join(' | ') : '') + (net.loss > 0 ? (net.groups ? ' · ' : '') + 'loss ' + net.loss : '');
  // Event → screen: from the change on the server (same host clock) to now, after drawing.
  const first = pw.views === 1;
  requestAnimationFrame(() => {
    if (first) pw.lastChangedAt = v.changedAt;
    const ms = Math.max(0, Date.now() - v.changedAt);
    // The first view shows the state as it was (maybe long ago); later ones are pushed by a change.
    if (pw.views > 1 && v.changedAt !== pw.lastChangedAt) {
      pw.lastChangedAt = v.changedAt;
      pw.latencies.push(ms);
      pw.parts.push({ server: v.sentAt - v.changedAt, wire: received - v.sentAt, draw: Date.now() - received });
      if (pw.parts.length > 200) pw.parts.shift();
      if (pw.latencies.length > 200) pw.latencies.shift();
      document.body.dataset.latencyMs = String(ms);
      const recent = pw.latencies.slice(-50);
      $('lat').textContent = 'event → screen: ' + ms + ' ms (max of last ' + recent.length + ': ' + Math.max(...recent) + ' ms)';
    }
  });
}

const STATUS_TEXT = { alive: 'alive', suspected: 'suspected', dead: 'dead', fenced: 'fenced' };
function renderNodes(v) {
  const box = $('nodes');
  for (const n of v.nodes) {
    let card = state.cards.get(n.id);
    if (!card) {
      card = h('div', { class: 'node', 'data-node': n.id, style: '--c:' + colorOf(n.id) });
      card.append(h('h3', {}, 'node ' + n.id, h('span', { class: 'badge' })), h('div', { class: 'proc' }), h('div', { class: 'sees' }), h('table', {}));
      if (v.controls) {
        const b = h('div', { class: 'buttons' });
        for (const [label, cmd] of [['kill', 'kill ' + n.id], ['pause 1 s', 'pause ' + n.id + ' 1'], ['pause 3 s', 'pause ' + n.id + ' 3']]) {
          const btn = h('button', { 'data-cmd': cmd }, label);
          b.append(btn);
        }
        card.append(b);
      }
      box.append(card);
      state.cards.set(n.id, card);
    }
    card.dataset.status = n.status;
    card.dataset.process = n.process;
    card.querySelector('.badge').textContent = STATUS_TEXT[n.status] || n.status;
    const paused = n.process === 'paused' && n.pausedUntil ? ' ' + Math.max(0, (n.pausedUntil - v.now) / 1000).toFixed(1) + ' s left' : '';
    card.querySelector('.proc').textContent = n.address + ' · pid ' + n.pid + ' · ' + n.process + paused + (n.fenced ? ' · FENCED by node ' + n.fenced.by : '') + (n.blocked.length ? ' · cut off from ' + n.blocked.join(',') : '');
    card.querySelector('.sees').textContent = 'sees: ' + Object.entries(n.sees).map(([k, s]) => k + ' ' + s).join(', ');
    const c = n.counters;
    const rows = c ? [['read faults', c.readFaults], ['write faults', c.writeFaults], ['failed faults', c.failedFaults], ['invalidations sent / recv', c.invalidationsSent + ' / ' + c.invalidationsReceived], ['pages sent', c.pagesSent], ['retransmissions', c.retransmits], ['dropped: partition / loss', c.partitionDrops + ' / ' + c.lossDrops]] : [['counters', '…']];
    const t = card.querySelector('table');
    t.replaceChildren(...rows.map(([k, val]) => h('tr', {}, h('td', {}, k), h('td', {}, String(val)))));
    for (const b of card.querySelectorAll('button')) b.disabled = n.process === 'killed' || n.process === 'exited';
  }
  if (v.controls) {
    $('controls').hidden = false;
    const pb = $('partition-buttons');
    if (!pb.childElementCount) {
      const ids = v.nodes.map((n) => n.id);
      for (const id of ids) pb.append(h('button', { 'data-cmd': 'partition ' + ids.filter((x) => x !== id).join(',') + '|' + id }, 'isolate ' + id));
    }
  }
}

function renderFlowNodes(v) {
  const svg = $('flows');
  const n = v.nodes.length;
  if (!state.flowNodes.size) {
    const defs = s('defs', {});
    for (const x of v.nodes) defs.append(arrowMarker('arrow' + x.id, colorOf(x.id)));
    svg.append(defs);
    svg.append(s('g', { id: 'cuts' }), s('g', { id: 'flowlayer' }));
    v.nodes.forEach((x, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      const cx = 180 + 100 * Math.cos(a), cy = 130 + 100 * Math.sin(a);
      const g = s('g', { class: 'nd', 'data-node': x.id });
      g.append(s('circle', { cx, cy, r: 20, fill: colorOf(x.id) }), s('text', { x: cx, y: cy }, String(x.id)));
      g.append(s('line', { class: 'x', x1: cx - 14, y1: cy - 14, x2: cx + 14, y2: cy + 14 }), s('line', { class: 'x', x1: cx + 14, y1: cy - 14, x2: cx - 14, y2: cy + 14 }));
      svg.append(g);
      state.flowNodes.set(x.id, { x: cx, y: cy, g });
    });
  }
  for (const x of v.nodes) {
    const f = state.flowNodes.get(x.id);
    if (f) f.g.setAttribute('class', 'nd ' + x.status + ' ' + x.process);
  }
  const cuts = $('cuts');
  cuts.replaceChildren();
  for (const x of v.nodes) for (const y of x.blocked) if (x.id < y) {
    const a = state.flowNodes.get(x.id), b = state.flowNodes.get(y);
    if (a && b) cuts.append(s('line', { class: 'cut', x1: a.x, y1: a.y, x2: b.x, y2: b.y }));
  }
}

function drawFlow(f) {
  pw.flows++;
  const a = state.flowNodes.get(f.from), b = state.flowNodes.get(f.to);
  const layer = $('flowlayer');
  if (!a || !b || !layer) return;
  const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
  const ox = (-dy / len) * 6, oy = (dx / len) * 6; // requests and replies side by side
  const x1 = a.x + (dx / len) * 22 + ox, y1 = a.y + (dy / len) * 22 + oy, x2 = b.x - (dx / len) * 24 + ox, y2 = b.y - (dy / len) * 24 + oy;
  // One arrow per direction between two nodes: the newest message replaces the one before it.
  for (const old of layer.querySelectorAll('g[data-edge="' + f.from + '-' + f.to + '"]')) old.remove();
  const g = s('g', { class: 'flow ' + f.kind, 'data-edge': f.from + '-' + f.to, 'data-page': f.page });
  g.append(s('line', { x1, y1, x2, y2, stroke: colorOf(f.from), 'marker-end': 'url(#arrow' + f.from + ')' }));
  g.append(s('text', { x: (x1 + x2) / 2 + ox * 2.6, y: (y1 + y2) / 2 + oy * 2.6 + 3, 'text-anchor': 'middle' }, f.label));
  layer.append(g);
  while (layer.childElementCount > 60) layer.firstChild.remove();
  setTimeout(() => g.remove(), 2300);
}

function renderGrid(v) {
  const grid = $('grid');
  const p = v.pages;
  if (!state.cells.length) {
    const legend = $('legend');
    for (const n of v.nodes) legend.append(h('span', { style: '--c:' + colorOf(n.id) }, 'node ' + n.id));
    legend.append(h('span', { class: 'lostkey' }, '✕ lost with its dead owner'));
    legend.append(h('span', { class: 'orphankey' }, 'stripes: manager dead (faults fail DSM_ERR_MANAGER_DEAD)'));
    for (let i = 1; i < v.pageCount; i++) {
      const c = h('div', { class: 'cell', 'data-page': i });
      c.addEventListener('click', () => { state.selected = i; showPage(i); });
      grid.append(c);
      state.cells[i] = c;
    }
  }
  const lost = new Set(p.lost), pending = new Set(p.pending), orphaned = new Set(p.orphaned);
  const changed = [];
  for (let i = 1; i < v.pageCount; i++) {
    const owner = p.owner[i];
    const copies = p.copies[i] || [];
    const key = owner + '|' + (lost.has(i) ? 'L' : '') + (pending.has(i) ? 'P' : '') + (orphaned.has(i) ? 'O' : '') + '|' + copies.join(',');
    if (state.cellKeys[i] === key) continue;
    const c = state.cells[i];
    const first = state.cellKeys[i] === undefined;
    state.cellKeys[i] = key;
    c.dataset.owner = String(owner);
    c.dataset.copies = copies.join(',');
    c.className = 'cell' + (lost.has(i) ? ' lost' : '') + (pending.has(i) ? ' pending' : '') + (orphaned.has(i) ? ' orphan' : '') + (i === state.selected ? ' sel' : '');
    if (!first) changed.push(c);
    c.style.setProperty('--c', colorOf(owner));
    c.replaceChildren(...copies.map((id, k) => { const d = h('i', { style: '--c:' + colorOf(id) + ';left:' + (k * 5) + 'px' }); return d; }));
    c.title = 'page ' + i + ' (' + hex(i * v.pageSize) + '): owner node ' + owner + (copies.length ? ', copies on ' + copies.join(', ') : '') + (lost.has(i) ? ', LOST' : '') + (orphaned.has(i) ? ', its manager is dead' : '');
  }
  // Restart the "just changed" outline on the changed cells: one layout for all of them, not one each.
  if (changed.length) {
    requestAnimationFrame(() => {
      for (const c of changed) c.classList.add('changed');
      setTimeout(() => { for (const c of changed) c.classList.remove('changed'); }, 1300);
    });
  }
  if (state.selected) showPage(state.selected);
}

function showPage(i) {
  const v = state.view;
  if (!v) return;
  for (const c of document.querySelectorAll('.cell.sel')) c.classList.remove('sel');
  state.cells[i]?.classList.add('sel');
  const ids = v.nodes.map((n) => n.id);
  const manager = v.manager === 'dynamic' ? 'no manager (dynamic: probable-owner chains)' : 'manager node ' + ids[i % ids.length] + ' (page mod ' + ids.length + ')';
  const copies = v.pages.copies[i] || [];
  const lost = v.pages.lost.includes(i);
  const orphan = v.pages.orphaned.includes(i);
  $('pageinfo').textContent = 'page ' + i + ' · ' + hex(i * v.pageSize) + '..' + hex((i + 1) * v.pageSize - 1) + ' · owner node ' + v.pages.owner[i] + ' · ' + manager + ' · read copies: ' + (copies.length ? copies.map((c) => 'node ' + c).join(', ') : 'none') + (lost ? ' · LOST: its only valid copy was on a dead node' : '') + (orphan ? ' · its manager is dead: a fault on it that needs the directory fails DSM_ERR_MANAGER_DEAD, its read copies stay readable' : '');
}

function renderList(v) {
  const svg = $('list');
  const L = v.list;
  const walkBox = $('walk');
  if (L.header === undefined || L.header === null) { svg.replaceChildren(); svg.setAttribute('height', '0'); return; }
  const nodeStatus = new Map(v.nodes.map((n) => [n.id, n]));
  const walks = Object.entries(L.walks).map(([id, w]) => ({ id: Number(id), ...w })).sort((a, b) => b.at - a.at);
  const last = walks[0];
  const broken = walks.find((w) => w.error && v.now - w.at < 600000 && w.at >= (last ? last.at - 5000 : 0));
  const errAddr = broken && broken.error ? broken.error.address : undefined;
  const found = errAddr === undefined ? -1 : L.elements.findIndex((e) => e.address === errAddr);
  // The failed address is the element after the last one reached (when the list is known that far).
  const errIndex = !broken ? -1 : found >= 0 ? found : broken.reached < L.elements.length ? broken.reached : -1;
  walkBox.replaceChildren();
  if (!walks.length) walkBox.append('list at ' + hex(L.header) + ': not walked yet (list walk).');
  for (const w of walks.slice(0, 4)) {
    const line = h('div', {}, 'node ' + w.id + ' walked ' + ((v.now - w.at) / 1000).toFixed(1) + ' s ago: reached ' + w.reached + (w.error ? '' : ' elements, the end of the list'));
    if (w.error) line.append(', then ', h('span', { class: 'err' }, w.error.code + (w.error.address !== undefined ? ' at ' + hex(w.error.address) : '') + (w.error.page !== undefined ? ' (page ' + w.error.page + (w.error.node !== undefined ? ', node ' + w.error.node : '') + ')' : '')));
    walkBox.append(line);
  }
  const W = 150, H = 48, GX = 78, GY = 34, PER = 6, X0 = 8, Y0 = 8;
  const boxes = [{ label: 'header', sub: hex(L.header), node: 0 }].concat(L.elements.map((e) => ({ label: String(e.value), sub: hex(e.address) + ' · p' + e.page, node: e.node, address: e.address })));
  const rows = Math.ceil(boxes.length / PER);
  svg.setAttribute('viewBox', '0 0 ' + (X0 * 2 + PER * W + (PER - 1) * GX) + ' ' + (Y0 * 2 + rows * H + (rows - 1) * GY));
  svg.setAttribute('height', String(Math.min(600, Y0 * 2 + rows * (H + GY))));
  const pos = (k) => ({ x: X0 + (k % PER) * (W + GX), y: Y0 + Math.floor(k / PER) * (H + GY) });
  const kids = [s('defs', {})];
  kids[0].append(arrowMarker('la', '#555'), arrowMarker('lb', '#c62828'));
  boxes.forEach((b, k) => {
    const { x, y } = pos(k);
    const n = b.node ? nodeStatus.get(b.node) : undefined;
    const gone = n && (n.status === 'dead' || n.status === 'fenced' || n.process === 'killed');
    const unreached = errIndex >= 0 && k - 1 >= errIndex && broken && broken.error;
    const g = s('g', { class: 'box' + (gone ? ' gone' : '') + (unreached ? ' unreached' : ''), 'data-address': b.address === undefined ? 'header' : b.address, style: '--c:' + (b.node ? colorOf(b.node) : '#555') });
    g.append(s('rect', { x, y, width: W, height: H }));
    g.append(s('text', { x: x + 8, y: y + 19, class: 'v' }, b.node ? b.label : 'list header'));
    g.append(s('text', { x: x + W - 8, y: y + 19, 'text-anchor': 'end' }, b.node ? 'node ' + b.node + (gone ? ' ✝' : '') : ''));
    g.append(s('text', { x: x + 8, y: y + 38 }, b.sub));
    kids.push(g);
    if (k === 0) return;
    const from = pos(k - 1);
    const isBroken = k - 1 === errIndex;
    const p = s('g', { class: 'ptr' + (isBroken ? ' broken' : ''), 'data-to': b.address, 'data-code': isBroken ? broken.error.code : '' });
    const marker = 'url(#' + (isBroken ? 'lb' : 'la') + ')';
    if (from.y === y) p.append(s('line', { x1: from.x + W, y1: y + H / 2, x2: x - 2, y2: y + H / 2, 'marker-end': marker }));
    else p.append(s('path', { d: 'M' + (from.x + W / 2) + ',' + (from.y + H) + ' C' + (from.x + W / 2) + ',' + (from.y + H + GY) + ' ' + (x + W / 2) + ',' + (y - GY) + ' ' + (x + W / 2) + ',' + (y - 2), 'marker-end': marker }));
    if (isBroken) p.append(s('text', { x: from.y === y ? from.x + W + GX / 2 : x + W / 2 + 6, y: from.y === y ? y + H / 2 - 7 : y - 8, 'text-anchor': from.y === y ? 'middle' : 'start' }, broken.error.code.replace('DSM_ERR_', '')));
    kids.push(p);
  });
  svg.replaceChildren(...kids);
}

function arrowMarker(id, color) {
  const m = s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  m.append(s('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }));
  return m;
}

function renderCharts(v) {
  const box = $('charts');
  const key = JSON.stringify(v.charts);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(...v.charts.map((c) => {
    const longest = Math.max(0, ...c.bars.map((b) => b.label.length));
    const bw = Math.max(30, longest * 5.2 + 8);
    const W = Math.max(200, c.bars.length * bw + 40), H = 130, B = 24, T = 12;
    const max = Math.max(1, ...c.bars.map((b) => b.value));
    const svg = s('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': c.title });
    svg.append(s('line', { x1: 24, y1: H - B, x2: W, y2: H - B, stroke: '#999' }));
    c.bars.forEach((b, i) => {
      const bh = ((H - B - T) * b.value) / max;
      const x = 26 + i * bw;
      const r = s('rect', { x: x + 2, y: H - B - bh, width: Math.max(2, bw - 4), height: bh });
      if (b.node) r.style.setProperty('--c', colorOf(b.node));
      r.append(s('title', {}, b.label + ': ' + b.value));
      svg.append(r);
      if (b.value > 0) svg.append(s('text', { x: x + bw / 2, y: H - B - bh - 2, 'text-anchor': 'middle' }, String(b.value)));
      svg.append(s('text', { x: x + bw / 2, y: H - B + 12, 'text-anchor': 'middle' }, b.label));
    });
    svg.append(s('text', { x: 2, y: T, 'font-size': 9 }, String(max)), s('text', { x: W - 2, y: H - 2, 'text-anchor': 'end', 'font-size': 9, fill: '#777' }, c.unit || ''));
    return h('div', { class: 'chart', 'data-chart': c.id }, h('h3', {}, c.title), svg);
  }));
}

function renderLog(v) {
  const log = $('log');
  const key = v.events.length + ':' + (v.events.at(-1)?.t ?? 0);
  if (log.dataset.key === key) return;
  log.dataset.key = key;
  log.replaceChildren(...v.events.slice(-40).reverse().map((e) => h('li', { class: e.kind }, h('time', {}, new Date(e.t).toLocaleTimeString([], { hour12: false }) + '.' + String(e.t % 1000).padStart(3, '0')), e.text)));
}

document.addEventListener('click', (e) => {
  const b = e.target.closest && e.target.closest('button[data-cmd]');
  if (b) void command(b.dataset.cmd);
});
connect();
})();
`;
