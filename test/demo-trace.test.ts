/**
 * The demos with --trace and with DEBUG: they write a space-time diagram and say where, their
 * traces are causally consistent across the processes, and the nodes' debug output stays out of
 * the story, merged in time order into a file the demo names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { causalViolations, mergeTrace, readTraceDir } from '../trace/index.js';
import { runNode } from './support/run.js';

const savedDebug = process.env.DEBUG;
afterEach(() => {
  if (savedDebug === undefined) delete process.env.DEBUG;
  else process.env.DEBUG = savedDebug;
});

describe('demos with --trace and DEBUG', () => {
  it('demo:rpc --trace DIR writes DIR/trace.html and says so; every reply names its request across the two processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagewire-demo-trace-'));
    const r = await runNode('demos/rpc-demo.js', ['--calls', '10', '--trace', dir], 30_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`space-time diagram: ${join(dir, 'trace.html')}`);
    expect(readFileSync(join(dir, 'trace.html'), 'utf8')).toContain('<svg');
    const m = mergeTrace(readTraceDir(dir));
    expect(m.nodes).toEqual(['client', 'server']);
    const requests = m.events.filter((e) => e.ev.type === 'rpc-received' && e.ev.kind === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(10);
    expect(requests.every((e) => e.cause?.node === 'client' && e.cause.ev.kind === 'request')).toBe(true);
    const replies = m.events.filter((e) => e.ev.type === 'rpc-received' && e.ev.kind === 'reply');
    expect(replies.every((e) => e.cause?.node === 'server' && e.peer === 'server')).toBe(true);
    expect(causalViolations(m)).toEqual([]);
  });

  it('npm run demo with DEBUG keeps the nodes\' debug lines out of its story and merges them in time order into a file', async () => {
    process.env.DEBUG = 'pagewire:*';
    const r = await runNode('demos/dsm-demo.js', [], 60_000);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/pagewire:(trace|transport|rpc)/);
    expect(r.stderr).not.toMatch(/pagewire:trace/);
    const m = /the nodes' debug output, merged in time order: (\S+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    const file = m![1]!;
    expect(existsSync(file)).toBe(true);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const stamps = lines.map((l) => l.slice(0, 24));
    expect([...stamps].sort()).toEqual(stamps);
    // Sends as well as receipts, peers by node id, page-level lines, from every node.
    expect(lines.some((l) => /\[node 1\] → [23] rpc-sent/.test(l))).toBe(true);
    expect(lines.some((l) => /\[node 2\] ← [13] rpc-received/.test(l))).toBe(true);
    expect(lines.some((l) => /\[node 3\] fault-(begin|end): (read|write) fault p\d+/.test(l))).toBe(true);
  });

  it('npm run demo:figures draws the DSM figures from a real run and checks them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'pagewire-figures-'));
    const r = await runNode('demos/figures-demo.js', ['--out', out], 60_000);
    expect(r.stdout).not.toMatch(/NOT as expected/);
    expect(r.code).toBe(0);
    for (const f of ['dsm-false-sharing.html', 'dsm-write-invalidate.html', 'index.html']) expect(existsSync(join(out, f))).toBe(true);
    expect(r.stdout).toMatch(/→ [234] rpc-sent: invalidate p\d+/);
    for (const f of ['figure-47.3.html', 'figure-47.4.html', 'figure-47.5.html']) expect(existsSync(join(out, f))).toBe(true);
    // The DSM's own events, role by role: the requester's request, the manager's forward, grant and
    // owner change, the owner's invalidations of the three copies and their acknowledgements.
    const m = mergeTrace(readTraceDir(join(out, 'trace-dsm')));
    const count = (type: string) => m.events.filter((e) => e.ev.type === type).length;
    for (const t of ['request', 'forward', 'grant', 'owner-change', 'invalidated', 'peer-up', 'majority-up']) expect(count(t), t).toBeGreaterThan(0);
    expect(count('invalidate-sent')).toBeGreaterThanOrEqual(3);
    expect(count('invalidate-acked')).toBe(count('invalidate-sent'));
    expect(causalViolations(m)).toEqual([]);
  });
});
