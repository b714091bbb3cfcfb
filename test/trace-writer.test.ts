/**
 * The --trace writer and the event envelope: one file per node with a header per incarnation, a
 * restarted node appended as a new segment, the Lamport clock guarded against hostile stamps.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_REMOTE_LC, TraceNode, hostNames, mergeTrace, readTraceDir, retireTraceNode, startTraceWriter, traceFileName, traceNode,
} from '../trace/index.js';

describe('trace writer', () => {
  it('writes DIR/node-<id>.jsonl with a header, and a restarted node as a second segment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagewire-writer-'));
    const w = startTraceWriter(dir);
    const a = traceNode('w-1');
    a.addAddress('127.0.0.1:9001');
    a.dsm.emit({ type: 'fault-begin', page: 3, access: 'read' });
    retireTraceNode('w-1', a);
    const b = traceNode('w-1'); // the node again, as a new process would be
    expect(b.inc).not.toBe(a.inc);
    b.dsm.emit({ type: 'fault-begin', page: 4, access: 'write' });
    w.close();
    expect(readdirSync(dir)).toContain(traceFileName('w-1'));
    const lines = readFileSync(join(dir, 'node-w-1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const headers = lines.filter((l) => l.type === 'node');
    expect(headers.map((h) => h.inc)).toEqual([a.incHex, a.incHex, b.incHex]); // the address update repeats a's header
    expect(headers[1]).toMatchObject({ node: 'w-1', addresses: ['127.0.0.1:9001'], pid: process.pid });
    const m = mergeTrace(readTraceDir(dir));
    const lanes = m.lanes.filter((l) => l.node === 'w-1');
    expect(lanes.map((l) => l.events.map((e) => e.ev.page))).toEqual([[3], [4]]);
    expect(hostNames(m).filter((h) => h.startsWith('w-1'))).toEqual(['w-1.1', 'w-1.2']);
    expect(w.stats()).toMatchObject({ events: 2, dropped: 0 });
  });

  it('names files safely whatever the node id', () => {
    expect(traceFileName('1')).toBe('node-1.jsonl');
    expect(traceFileName('../etc/x y')).toBe('node-.._etc_x_y.jsonl');
  });

  it('a peer\'s stamp moves the clock forward, but never past 2^48 nor backward', () => {
    const n = new TraceNode('clock-test');
    n.lc = 10;
    n.observe(5);
    expect(n.lc).toBe(10);
    n.observe(1_000);
    expect(n.lc).toBe(1_000);
    for (const bad of [MAX_REMOTE_LC + 1, Number.MAX_SAFE_INTEGER, -1, 1.5, NaN]) n.observe(bad);
    expect(n.lc).toBe(1_000);
  });

  it('refuses an empty directory name with a code', () => {
    expect(() => startTraceWriter('')).toThrow(expect.objectContaining({ code: 'TRACE_ERR_INVALID_ARGUMENT' }));
  });
});
