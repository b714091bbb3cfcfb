/**
 * `pagewire trace DIR --html out.html`: one self-contained HTML file (no network: a Content-
 * Security-Policy forbids every fetch) with an SVG space-time diagram of the run, the chapter's
 * Figures 47.3-47.5 drawn from real events:
 *
 * - one vertical line per node, time downward, one row per event in causal order; a quiet stretch
 *   (a timer's wait) is a dashed gap row labelled with its length;
 * - an arrow per message (a send and the receive whose `cause` names it, same layer), labelled;
 * - a message dropped (by the fault injector) is an arrow that ends in a cross; one sent but never
 *   received is a dashed arrow that stops short;
 * - retransmissions (↻) and timer firings (◷) are marked on the sender's line;
 * - a span (a "-end" event whose `of` names its begin, e.g. a DSM fault) is a bar on its node's line,
 *   labelled with its latency;
 * - every mark has a tooltip with the whole event.
 * In the page: zoom, and filters by layer, node, page and time that hide the rest and close up rows.
 *
 * The SVG is drawn here, not in the browser, so tests can check its structure without one; the
 * page's script only hides elements and moves rows (every element carries data-r/data-r2 rows).
 */
import { describeEvent, selectEvents, type TraceFilter } from './filter.js';
import type { MEvent, Merged } from './merge.js';

export interface HtmlOptions {
  readonly title?: string;
  readonly filter?: TraceFilter;
  /** Events drawn at most (the first ones after filtering); the page says when it was cut. @default 20_000 */
  readonly maxEvents?: number;
  /** Quiet stretches at least this long get a gap row. @default 2 */
  readonly gapMs?: number;
  /** A paragraph shown above the diagram (plain text). */
  readonly caption?: string;
}

export const ROW_H = 22;
export const COL_W = 240;
export const LEFT = 96;
export const TOP = 64;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function isDrop(m: MEvent): boolean {
  return /-(dropped|corrupted)$/.test(m.ev.type);
}

function isTimer(m: MEvent): boolean {
  return /(^|-)(rto|timer|probe-timer)(-|$)/.test(m.ev.type);
}

function isRetransmit(m: MEvent): boolean {
  return typeof m.ev.tx === 'number' && m.ev.tx > 1;
}

function fmtMs(x: number): string {
  return x < 1 ? `${Math.round(x * 1000)} µs` : x < 100 ? `${x.toFixed(2)} ms` : `${Math.round(x)} ms`;
}

interface Row {
  readonly kind: 'event' | 'gap';
  readonly m?: MEvent;
  readonly gapMs?: number;
}

/** The SVG diagram alone (what the tests check). */
export function renderSvg(merged: Merged, o: HtmlOptions = {}): { svg: string; drawn: number; total: number; truncated: boolean } {
  const all = selectEvents(merged, o.filter ?? {});
  const max = o.maxEvents ?? 20_000;
  const events = all.slice(0, max);
  const gapMs = o.gapMs ?? 2;
  const nodes = merged.nodes;
  const colW = nodes.length <= 3 ? COL_W : Math.max(150, Math.floor((COL_W * 3) / 4));
  const col = new Map(nodes.map((n, i) => [n, LEFT + colW / 2 + i * colW]));
  const rows: Row[] = [];
  const rowOf = new Map<MEvent, number>();
  let prevT: number | undefined;
  for (const m of events) {
    if (prevT !== undefined && m.ev.t - prevT >= gapMs) rows.push({ kind: 'gap', gapMs: m.ev.t - prevT });
    prevT = m.ev.t;
    rowOf.set(m, rows.length);
    rows.push({ kind: 'event', m });
  }
  const y = (r: number): number => TOP + r * ROW_H + ROW_H / 2;
  const width = LEFT + nodes.length * colW + 180;
  const height = TOP + (rows.length + 2) * ROW_H;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="diagram" class="diagram" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" data-w="${width}" data-h="${height}" data-rowh="${ROW_H}" data-top="${TOP}">`);
  parts.push('<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>');
  // Node lines.
  for (const n of nodes) {
    const x = col.get(n)!;
    const lane = merged.lanes.find((l) => l.node === n);
    const addr = lane?.addresses[0];
    parts.push(`<g class="node" data-node="${esc(n)}"><text class="node-label" x="${x}" y="${TOP - 34}" text-anchor="middle">${esc(/^\d+$/.test(n) ? `node ${n}` : n)}</text>` +
      (addr !== undefined ? `<text class="node-addr" x="${x}" y="${TOP - 18}" text-anchor="middle">${esc(addr)}</text>` : '') +
      `<line class="node-line" x1="${x}" y1="${TOP - 8}" x2="${x}" y2="${height - ROW_H}" data-node="${esc(n)}"/></g>`);
  }
  // Gap rows and times.
  rows.forEach((row, r) => {
    if (row.kind === 'gap') {
      parts.push(`<g class="gap" data-r="${r}" transform="translate(0,${y(r)})"><line x1="${LEFT - 8}" y1="0" x2="${width - 20}" y2="0"/><text x="8" y="4">… ${esc(fmtMs(row.gapMs!))} …</text></g>`);
    }
  });
  // Bars (spans) first, so marks and arrows sit on top.
  for (const m of events) {
    const begin = m.of;
    if (!m.ev.type.endsWith('-end') || begin === undefined || begin.node !== m.node || !rowOf.has(begin)) continue;
    const x = col.get(m.node)!;
    const r1 = rowOf.get(begin)!;
    const r2 = rowOf.get(m)!;
    const label = `${typeof m.ev.label === 'string' ? m.ev.label : m.ev.type.replace(/-end$/, '')}${typeof m.ev.ms === 'number' ? ` · ${fmtMs(m.ev.ms)}` : ''}`;
    parts.push(`<g class="bar${m.ev.ok === false ? ' failed' : ''}" ${dataAttrs(m)} data-r="${r1}" data-r2="${r2}" data-x="${x}">` +
      `<rect x="${x - 5}" y="${y(r1)}" width="10" height="${Math.max(4, y(r2) - y(r1))}" rx="3"/>` +
      `<text x="${x + 9}" y="${y(r2) + 4}">${esc(label)}</text><title>${esc(describeEvent(m))}</title></g>`);
  }
  // Arrows.
  for (const s of events) {
    if (s.ev.dir !== 'send') continue;
    const r1 = rowOf.get(s)!;
    const x1 = col.get(s.node)!;
    const label = esc(typeof s.ev.label === 'string' ? s.ev.label : s.ev.type);
    const title = `<title>${esc(describeEvent(s))}</title>`;
    const shown = s.receivers.filter((r) => r.ev.layer === s.ev.layer && rowOf.has(r));
    for (const rcv of shown) {
      const r2 = rowOf.get(rcv)!;
      const x2 = col.get(rcv.node)!;
      parts.push(arrow(isDrop(rcv) ? 'arrow drop' : 'arrow', s, r1, r2, x1, x2, y(r1), y(r2), label, title, 1, rcv.i));
    }
    if (shown.length > 0) continue;
    const dropHere = s.about.find((d) => isDrop(d) && rowOf.has(d));
    const target = s.peer !== undefined ? col.get(s.peer) : undefined;
    if (target === undefined || target === x1) continue;
    if (dropHere !== undefined) {
      const r2 = rowOf.get(dropHere)!;
      parts.push(arrow('arrow drop', s, r1, r2 + 0.5, x1, target, y(r1), y(r2 + 0.5), label, title, 0.5));
    } else if (s.receivers.length === 0) {
      parts.push(arrow('arrow lost', s, r1, r1 + 1, x1, target, y(r1), y(r1 + 1), label, title, 0.35));
    }
  }
  // Event marks.
  for (const m of events) {
    const r = rowOf.get(m)!;
    const x = col.get(m.node)!;
    const cls = ['ev', `layer-${m.ev.layer}`];
    if (isTimer(m)) cls.push('timer');
    if (isRetransmit(m)) cls.push('retransmit');
    if (isDrop(m)) cls.push('dropped');
    const local = m.ev.dir === undefined && !m.ev.type.endsWith('-end');
    const what = esc(typeof m.ev.label === 'string' ? m.ev.label : m.ev.type);
    let text = '';
    if (isRetransmit(m)) text = `<text x="${x - 9}" y="4" text-anchor="end"><tspan class="glyph">↻</tspan> retransmission</text>`;
    else if (local) text = `<text x="${x + 9}" y="4">${isTimer(m) ? '<tspan class="glyph">◷</tspan> ' : isDrop(m) ? '<tspan class="glyph drop">✕</tspan> ' : ''}${what}</text>`;
    const time = `<text class="time" x="${LEFT - 12}" y="4" text-anchor="end">${(m.ev.t - merged.start).toFixed(3)}</text>`;
    const causes = [m.cause, m.msg].filter((c): c is MEvent => c !== undefined && c.lane !== m.lane).map((c) => c.i);
    parts.push(`<g class="${cls.join(' ')}" ${dataAttrs(m)} data-lane="${m.lane}"${causes.length ? ` data-c="${causes.join(' ')}"` : ''} data-r="${r}" transform="translate(0,${y(r)})">${time}<circle cx="${x}" cy="0" r="3.5"/>${text}<title>${esc(`${m.node} ${m.ev.layer} ${describeEvent(m)}`)}</title></g>`);
  }
  parts.push('</svg>');
  return { svg: parts.join('\n'), drawn: events.length, total: all.length, truncated: all.length > events.length };
}

function dataAttrs(m: MEvent): string {
  const page = typeof m.ev.page === 'number' ? ` data-page="${m.ev.page}"` : '';
  const peer = m.peer !== undefined ? ` data-peer="${esc(m.peer)}"` : '';
  return `data-layer="${m.ev.layer}" data-node="${esc(m.node)}"${peer}${page} data-t="${(m.ev.t).toFixed(3)}" data-i="${m.i}"`;
}

/** A straight arrow from (x1,y1) to (x2,y2), cut at `frac` of the way (drops and losses), with its label. */
function arrow(cls: string, s: MEvent, r1: number, r2: number, x1: number, x2: number, y1: number, y2: number, label: string, title: string, frac: number, j?: number): string {
  const ex = x1 + (x2 - x1) * frac;
  const ey = y1 + (y2 - y1) * frac;
  const inset = frac === 1 ? 4 * Math.sign(x2 - x1) : 0;
  const mx = (x1 + ex) / 2;
  const my = (y1 + ey) / 2 - 4;
  const head = cls === 'arrow' ? ' marker-end="url(#head)"' : '';
  const cross = cls.includes('drop')
    ? `<path class="cross" d="M${ex - 6},${ey - 6} L${ex + 6},${ey + 6} M${ex - 6},${ey + 6} L${ex + 6},${ey - 6}"/>`
    : '';
  const to = cls.includes('drop') || cls.includes('lost') ? s.peer ?? '' : '';
  return `<g class="${cls}" ${dataAttrs(s)}${j !== undefined ? ` data-j="${j}"` : ''} data-r="${r1}" data-r2="${r2}" data-x1="${x1}" data-x2="${x2}" data-frac="${frac}"${to ? ` data-to="${esc(to)}"` : ''}>` +
    `<line x1="${x1}" y1="${y1}" x2="${ex - inset}" y2="${ey}"${head}/>${cross}` +
    `<text class="arrow-label" x="${mx}" y="${my}" text-anchor="middle">${label}</text>${title}</g>`;
}

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fff; }
header { padding: 10px 16px; border-bottom: 1px solid #ddd; position: sticky; top: 0; background: #fafafa; z-index: 1; }
header h1 { font-size: 16px; margin: 0 0 4px; }
header .meta, header .caption { color: #555; margin: 2px 0; }
.controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin-top: 6px; }
.controls fieldset { border: 1px solid #ddd; padding: 2px 8px; margin: 0; }
.controls input[type=number] { width: 6em; }
.legend span { margin-right: 12px; }
#wrap { overflow: auto; padding: 8px; }
svg text { font: 11px ui-monospace, monospace; fill: #333; }
.node-label { font-weight: bold; font-size: 13px; }
.node-addr { fill: #888; }
.node-line { stroke: #999; stroke-width: 2; }
.gap line { stroke: #bbb; stroke-dasharray: 2 4; }
.gap text { fill: #888; font-style: italic; }
.time { fill: #aaa; }
.ev circle { fill: #555; }
.ev.layer-transport circle { fill: #3465a4; }
.ev.layer-rpc circle { fill: #4e9a06; }
.ev.layer-dsm circle { fill: #a05a2c; }
.ev.timer .glyph, .ev.retransmit .glyph { fill: #c4a000; font-size: 13px; }
.glyph.drop { fill: #cc0000; }
.ev.dropped circle { fill: #cc0000; }
.arrow line { stroke-width: 1.4; }
.arrow.layer-transport line, .arrow[data-layer=transport] line { stroke: #3465a4; }
.arrow[data-layer=rpc] line { stroke: #4e9a06; }
.arrow[data-layer=dsm] line { stroke: #a05a2c; }
.arrow.drop line { stroke-dasharray: 5 3; }
.arrow.lost line { stroke-dasharray: 2 3; }
.cross { stroke: #cc0000; stroke-width: 2.5; }
.arrow-label { fill: #222; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.bar rect { fill: #f5c211; opacity: .75; }
.bar.failed rect { fill: #e01b24; }
.bar text { fill: #7a5c00; }
.hidden { display: none; }
.ev { cursor: pointer; }
.dim { opacity: .2; }
.ev.past circle { fill: #1c71d8; r: 5px; }
.ev.future circle { fill: #e66100; r: 5px; }
.ev.selected circle { fill: #000; r: 6px; }
.arrow.past line { stroke: #1c71d8; stroke-width: 2.2; }
.arrow.future line { stroke: #e66100; stroke-width: 2.2; }
`;

/** The page's script: zoom, and filters that hide elements and close up the rows left. */
const SCRIPT = `
(function () {
  var svg = document.getElementById('diagram');
  if (!svg) return;
  var rowH = Number(svg.dataset.rowh), top = Number(svg.dataset.top), baseW = Number(svg.dataset.w), baseH = Number(svg.dataset.h);
  var zoom = 1;
  var items = Array.prototype.slice.call(svg.querySelectorAll('g[data-r]'));
  var nodeBoxes = Array.prototype.slice.call(document.querySelectorAll('input[name=node]'));
  var layerBoxes = Array.prototype.slice.call(document.querySelectorAll('input[name=layer]'));
  var pageInput = document.getElementById('page'), fromInput = document.getElementById('from'), toInput = document.getElementById('to');
  var start = Number(svg.dataset.start || 0);
  function y(r) { return top + r * rowH + rowH / 2; }
  function apply() {
    var layers = {}, nodes = {};
    layerBoxes.forEach(function (b) { if (b.checked) layers[b.value] = true; });
    nodeBoxes.forEach(function (b) { if (b.checked) nodes[b.value] = true; });
    var page = pageInput.value === '' ? null : pageInput.value;
    var from = fromInput.value === '' ? null : Number(fromInput.value), to = toInput.value === '' ? null : Number(toInput.value);
    var used = {};
    items.forEach(function (g) {
      var d = g.dataset, show = true;
      if (g.classList.contains('gap')) { show = page === null; }
      else {
        if (!layers[d.layer]) show = false;
        if (show && !nodes[d.node] && !(d.peer && nodes[d.peer])) show = false;
        if (show && page !== null && d.page !== page) show = false;
        var t = Number(d.t) - start;
        if (show && from !== null && t < from) show = false;
        if (show && to !== null && t > to) show = false;
      }
      g.classList.toggle('hidden', !show);
      if (show) { used[d.r] = true; if (d.r2 !== undefined) used[Math.floor(Number(d.r2))] = true; }
    });
    var order = Object.keys(used).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    order.forEach(function (r, i) { index[r] = i; });
    function at(r) { var f = Math.floor(r); return (index[f] === undefined ? 0 : index[f]) + (r - f); }
    items.forEach(function (g) {
      if (g.classList.contains('hidden')) return;
      var d = g.dataset, r1 = at(Number(d.r));
      if (g.classList.contains('arrow')) {
        var r2 = at(Number(d.r2)), frac = Number(d.frac), x1 = Number(d.x1), x2 = Number(d.x2);
        var y1 = y(r1), y2 = y(r2), ex = x1 + (x2 - x1) * frac, ey = y1 + (y2 - y1) * frac;
        var line = g.querySelector('line'), text = g.querySelector('text'), cross = g.querySelector('.cross');
        line.setAttribute('y1', y1); line.setAttribute('y2', ey);
        text.setAttribute('y', (y1 + ey) / 2 - 4);
        if (cross) cross.setAttribute('d', 'M' + (ex - 6) + ',' + (ey - 6) + ' L' + (ex + 6) + ',' + (ey + 6) + ' M' + (ex - 6) + ',' + (ey + 6) + ' L' + (ex + 6) + ',' + (ey - 6));
      } else if (g.classList.contains('bar')) {
        var b2 = at(Number(d.r2)), rect = g.querySelector('rect'), label = g.querySelector('text');
        rect.setAttribute('y', y(r1)); rect.setAttribute('height', Math.max(4, y(b2) - y(r1)));
        label.setAttribute('y', y(b2));
      } else {
        g.setAttribute('transform', 'translate(0,' + y(r1) + ')');
      }
    });
    var h = top + (order.length + 2) * rowH;
    svg.setAttribute('viewBox', '0 0 ' + baseW + ' ' + h);
    svg.setAttribute('width', baseW * zoom);
    svg.setAttribute('height', h * zoom);
    svg.querySelectorAll('.node-line').forEach(function (l) { l.setAttribute('y2', h - rowH); });
    document.getElementById('shown').textContent = String(items.filter(function (g) { return g.classList.contains('ev') && !g.classList.contains('hidden'); }).length);
  }
  document.querySelectorAll('.controls input').forEach(function (i) { i.addEventListener('input', apply); i.addEventListener('change', apply); });
  document.getElementById('zoom-in').addEventListener('click', function () { zoom = Math.min(8, zoom * 1.25); apply(); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoom = Math.max(0.125, zoom / 1.25); apply(); });
  document.getElementById('zoom-reset').addEventListener('click', function () { zoom = 1; apply(); });
  // Click an event: what happened before it (blue), after it (orange); everything else is concurrent with it.
  var marks = items.filter(function (g) { return g.classList.contains('ev'); });
  var byI = {}, parents = {}, children = {}, lastInLane = {};
  marks.sort(function (a, b) { return Number(a.dataset.i) - Number(b.dataset.i); }).forEach(function (g) {
    var i = g.dataset.i, lane = g.dataset.lane, ps = [];
    byI[i] = g;
    if (lastInLane[lane] !== undefined) ps.push(lastInLane[lane]);
    (g.dataset.c ? g.dataset.c.split(' ') : []).forEach(function (c) { ps.push(c); });
    lastInLane[lane] = i;
    parents[i] = ps;
    ps.forEach(function (p) { (children[p] = children[p] || []).push(i); });
  });
  function closure(start, edges) {
    var seen = {}, todo = [start];
    while (todo.length) { var x = todo.pop(); (edges[x] || []).forEach(function (y) { if (!seen[y]) { seen[y] = true; todo.push(y); } }); }
    return seen;
  }
  function clearCone() {
    items.forEach(function (g) { g.classList.remove('past', 'future', 'selected', 'dim'); });
    document.getElementById('cone').textContent = '';
  }
  function cone(i) {
    clearCone();
    var past = closure(i, parents), future = closure(i, children);
    items.forEach(function (g) {
      var d = g.dataset;
      if (g.classList.contains('ev')) {
        if (d.i === i) g.classList.add('selected');
        else if (past[d.i]) g.classList.add('past');
        else if (future[d.i]) g.classList.add('future');
        else g.classList.add('dim');
      } else if (g.classList.contains('arrow')) {
        var a = d.i, b = d.j === undefined ? d.i : d.j;
        if ((past[a] || a === i) && (past[b] || b === i)) g.classList.add('past');
        else if ((future[a] || a === i) && (future[b] || b === a)) g.classList.add('future');
        else g.classList.add('dim');
      } else if (g.classList.contains('bar')) {
        if (!past[d.i] && !future[d.i] && d.i !== i) g.classList.add('dim');
      }
    });
    document.getElementById('cone').textContent = Object.keys(past).length + ' events happened before it, ' + Object.keys(future).length + ' after it; the rest are concurrent with it (click again to clear)';
    window.pagewireTrace.selected = i;
  }
  marks.forEach(function (g) {
    g.addEventListener('click', function (e) {
      e.stopPropagation();
      if (window.pagewireTrace.selected === g.dataset.i) { window.pagewireTrace.selected = undefined; clearCone(); } else cone(g.dataset.i);
    });
  });
  window.pagewireTrace = { apply: apply, cone: cone, clear: clearCone, selected: undefined };
  apply();
})();
`;

/** The whole page. */
export function renderHtml(merged: Merged, o: HtmlOptions = {}): string {
  const { svg, drawn, total, truncated } = renderSvg(merged, o);
  const title = o.title ?? 'pagewire trace';
  const layers = [...new Set(merged.events.map((m) => m.ev.layer))];
  const pages = [...new Set(merged.events.flatMap((m) => (typeof m.ev.page === 'number' ? [m.ev.page] : [])))].sort((a, b) => a - b);
  const notes: string[] = [];
  if (truncated) notes.push(`only the first ${drawn} of ${total} events are drawn (use --from/--to, --page, --node or --layer, or --max-events)`);
  if (merged.unmatched > 0) notes.push(`${merged.unmatched} received message(s) whose send is not in the trace`);
  if (merged.skippedLines > 0) notes.push(`${merged.skippedLines} malformed line(s) skipped`);
  const svgWithStart = svg.replace('<svg ', `<svg data-start="${merged.start.toFixed(3)}" `);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style></head>
<body>
<header>
<h1>${esc(title)}</h1>
${o.caption !== undefined ? `<p class="caption">${esc(o.caption)}</p>` : ''}
<p class="meta">${merged.nodes.length} nodes, <span id="shown">${drawn}</span> of ${merged.events.length} events shown, ${(merged.end - merged.start).toFixed(1)} ms; one row per event in causal order, time downward${notes.length ? `. Note: ${esc(notes.join('; '))}` : ''}</p>
<div class="controls">
<fieldset><legend>layers</legend>${layers.map((l) => `<label><input type="checkbox" name="layer" value="${l}" checked> ${l}</label>`).join(' ')}</fieldset>
<fieldset><legend>nodes</legend>${merged.nodes.map((n) => `<label><input type="checkbox" name="node" value="${esc(n)}" checked> ${esc(n)}</label>`).join(' ')}</fieldset>
<label>page <input type="number" id="page" min="0" placeholder="all"${pages.length ? ` list="pages"` : ''}></label>${pages.length ? `<datalist id="pages">${pages.slice(0, 500).map((p) => `<option value="${p}">`).join('')}</datalist>` : ''}
<label>from <input type="number" id="from" min="0" step="any" placeholder="ms"></label>
<label>to <input type="number" id="to" min="0" step="any" placeholder="ms"></label>
<span>zoom <button id="zoom-out" type="button">−</button><button id="zoom-reset" type="button">1:1</button><button id="zoom-in" type="button">+</button></span>
</div>
<p class="legend"><span>→ message</span><span style="color:#cc0000">✕ dropped</span><span>┄ sent, never received</span><span>↻ retransmission</span><span>◷ timer fired</span><span style="color:#7a5c00">▮ span (e.g. a page fault) with its latency</span><span>hover for details; click an event for what happened before (blue) and after (orange) it</span></p>
<p class="cone" id="cone"></p>
</header>
<div id="wrap">
${svgWithStart}
</div>
<script>${SCRIPT}</script>
</body></html>
`;
}
