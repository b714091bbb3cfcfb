/**
 * Reading trace files. A trace file is input like any other: every line is validated, a line that
 * is not a well-formed header or event is skipped and counted (with the first few reasons kept),
 * never thrown; a file or line too large is refused with a clear error or skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TraceError } from './errors.js';
import { LAYERS, type TraceEvent } from './events.js';
import type { NodeInfo } from './node.js';

/** One node incarnation's events, in the order it published them (Lamport order). */
export interface Lane {
  readonly node: string;
  /** Incarnation (hex), or "?<node>" for events before any header. */
  readonly inc: string;
  readonly info: NodeInfo | undefined;
  readonly events: TraceEvent[];
  readonly file: string;
}

export interface LoadedTrace {
  readonly lanes: Lane[];
  readonly files: string[];
  /** Lines skipped, and why (the first MAX_REASONS). */
  readonly skipped: number;
  readonly reasons: string[];
}

export const MAX_LINE_CHARS = 64 * 1024;
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;
const MAX_REASONS = 10;
const KEY = /^[0-9a-f]{8}:\d{1,16}$/;
const LAYER_SET: ReadonlySet<string> = new Set(LAYERS);

function isStr(v: unknown, max = 256): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

/** Why `o` is not a valid event, or undefined when it is. */
export function invalidEvent(o: Record<string, unknown>): string | undefined {
  if (!isStr(o.node, 128)) return 'node is not a string of 1..128 chars';
  if (typeof o.t !== 'number' || !Number.isFinite(o.t)) return 't is not a finite number';
  if (!Number.isSafeInteger(o.lc) || (o.lc as number) < 0) return 'lc is not a non-negative integer';
  if (typeof o.layer !== 'string' || !LAYER_SET.has(o.layer)) return `unknown layer ${JSON.stringify(o.layer)}`;
  if (!isStr(o.type, 64)) return 'type is not a string of 1..64 chars';
  if (o.peer !== undefined && !isStr(o.peer, 128)) return 'peer is not a string';
  for (const k of ['cause', 'msg', 'of'] as const) {
    if (o[k] !== undefined && !(typeof o[k] === 'string' && KEY.test(o[k] as string))) return `${k} is not an event key (inc:lc)`;
  }
  if (o.page !== undefined && !(Number.isSafeInteger(o.page) && (o.page as number) >= 0)) return 'page is not a non-negative integer';
  if (o.label !== undefined && !(typeof o.label === 'string' && o.label.length <= 256)) return 'label is not a string';
  if (o.dir !== undefined && o.dir !== 'send' && o.dir !== 'recv') return 'dir is not send|recv';
  return undefined;
}

function invalidInfo(o: Record<string, unknown>): string | undefined {
  if (!isStr(o.node, 128)) return 'header node is not a string';
  if (typeof o.inc !== 'string' || !/^[0-9a-f]{8}$/.test(o.inc)) return 'header inc is not 8 hex digits';
  if (!Array.isArray(o.addresses) || !o.addresses.every((a) => isStr(a))) return 'header addresses is not a list of strings';
  if (typeof o.names !== 'object' || o.names === null || Array.isArray(o.names) || !Object.values(o.names).every((v) => isStr(v, 128))) return 'header names is not a map of strings';
  return undefined;
}

/** Parse one file's text into lanes. */
export function parseTraceText(text: string, file: string): { lanes: Lane[]; skipped: number; reasons: string[] } {
  const lanes: Lane[] = [];
  const reasons: string[] = [];
  let skipped = 0;
  const skip = (line: number, why: string): void => {
    skipped++;
    if (reasons.length < MAX_REASONS) reasons.push(`${file}:${line}: ${why}`);
  };
  let current: Lane | undefined;
  const headerless = new Map<string, Lane>();
  const byInc = new Map<string, Lane>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (line.length > MAX_LINE_CHARS) {
      skip(i + 1, `line longer than ${MAX_LINE_CHARS} characters`);
      continue;
    }
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      skip(i + 1, 'not JSON');
      continue;
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      skip(i + 1, 'not a JSON object');
      continue;
    }
    const r = o as Record<string, unknown>;
    if (r.type === 'node' && r.layer === undefined) {
      const why = invalidInfo(r);
      if (why !== undefined) {
        skip(i + 1, why);
        continue;
      }
      const info = r as unknown as NodeInfo;
      const known = byInc.get(info.inc);
      if (known !== undefined && known.node === info.node) {
        // A repeated header (new addresses or names) continues the same segment.
        (known as { info: NodeInfo | undefined }).info = info;
        current = known;
        continue;
      }
      current = { node: info.node, inc: info.inc, info, events: [], file };
      byInc.set(info.inc, current);
      lanes.push(current);
      continue;
    }
    const why = invalidEvent(r);
    if (why !== undefined) {
      skip(i + 1, why);
      continue;
    }
    const ev = r as unknown as TraceEvent;
    let lane = current !== undefined && current.node === ev.node ? current : undefined;
    if (lane === undefined) {
      lane = headerless.get(ev.node);
      if (lane === undefined) {
        lane = { node: ev.node, inc: `?${ev.node}`, info: undefined, events: [], file };
        headerless.set(ev.node, lane);
        lanes.push(lane);
      }
    }
    const last = lane.events.at(-1);
    if (last !== undefined && last.lc >= ev.lc) {
      skip(i + 1, `lc ${ev.lc} does not follow ${last.lc} of the same node incarnation`);
      continue;
    }
    lane.events.push(ev);
  }
  return { lanes, skipped, reasons };
}

/** Read every node-*.jsonl file of `dir`. Throws TRACE_ERR_IO / TRACE_ERR_NO_TRACE. */
export function readTraceDir(dir: string): LoadedTrace {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir).filter((n) => /^node-.+\.jsonl$/.test(n)).sort();
  } catch (e) {
    throw new TraceError('TRACE_ERR_IO', `cannot read trace directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (names.length === 0) throw new TraceError('TRACE_ERR_NO_TRACE', `${dir} has no node-*.jsonl files (write them with --trace ${dir})`);
  const lanes: Lane[] = [];
  const reasons: string[] = [];
  let skipped = 0;
  const files: string[] = [];
  for (const n of names) {
    const path = join(dir, n);
    let text: string;
    try {
      if (statSync(path).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new TraceError('TRACE_ERR_IO', `cannot read trace file ${path}: ${(e as Error).message}`, { cause: e });
    }
    files.push(path);
    const r = parseTraceText(text, n);
    lanes.push(...r.lanes);
    skipped += r.skipped;
    for (const x of r.reasons) if (reasons.length < MAX_REASONS) reasons.push(x);
  }
  if (!lanes.some((l) => l.events.length > 0)) throw new TraceError('TRACE_ERR_NO_TRACE', `${dir} holds trace files but no events`);
  return { lanes: lanes.filter((l) => l.events.length > 0), files, skipped, reasons };
}
