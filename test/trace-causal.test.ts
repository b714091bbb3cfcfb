/**
 * Causal order across processes: three `pagewire node --trace DIR` processes fault on each other's
 * pages, one is paused (SIGSTOP) while another needs it, one is killed (SIGKILL) while the others
 * still ask for its pages. In the merged trace every receive comes after its send: in the merged
 * order, by the Lamport clock that travelled with the message, and by the shared host clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { causalViolations, mergeTrace, parseTraceText, readTraceDir, type LoadedTrace } from '../trace/index.js';
import { killAllNodes, startNodes } from './support/dsm-procs.js';

afterEach(killAllNodes);

describe('causal order of a merged multi-process trace', () => {
  it('every receive is after its send, across a pause and a kill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagewire-causal-'));
    const [n1, n2, n3] = await startNodes(3, { pages: 64, args: ['--trace', dir, '--dead-after-ms', '600'] });
    const a1 = await n1!.call<number>({ cmd: 'alloc', bytes: 16 });
    const a2 = await n2!.call<number>({ cmd: 'alloc', bytes: 16 });
    const a3 = await n3!.call<number>({ cmd: 'alloc', bytes: 16 });
    for (const [n, a, v] of [[n1, a1, 1], [n2, a2, 2], [n3, a3, 3]] as const) await n!.call({ cmd: 'write32', addr: a, value: v });
    expect(await n1!.call({ cmd: 'read32', addr: a2 })).toBe(2);
    expect(await n3!.call({ cmd: 'read32', addr: a1 })).toBe(1);
    expect(await n2!.call({ cmd: 'read32', addr: a3 })).toBe(3);
    // Pause: node 2 stops for 300 ms while node 1 writes node 2's page; the write waits, then completes.
    n2!.child.kill('SIGSTOP');
    const write = n1!.call({ cmd: 'write32', addr: a2, value: 20 });
    await new Promise((r) => setTimeout(r, 300)); // the length of the pause, not a wait for an outcome
    n2!.child.kill('SIGCONT');
    await write;
    expect(await n3!.call({ cmd: 'read32', addr: a2 })).toBe(20);
    // Kill: node 3 dies; node 1 then asks for node 3's page and gets a typed error (or node 2's copy).
    await n3!.kill('SIGKILL');
    const after = await n1!.send({ cmd: 'read32', addr: a3 });
    expect(after.ok ? after.value : (after as { error: { code: string } }).error.code).toMatch(/^(3|DSM_ERR_PAGE_LOST|DSM_ERR_MANAGER_DEAD)$/);
    await n1!.call({ cmd: 'exit' });
    await n2!.call({ cmd: 'exit' });
    await Promise.all([n1!.exited, n2!.exited]);

    expect(readdirSync(dir).sort()).toEqual(['node-1.jsonl', 'node-2.jsonl', 'node-3.jsonl']);
    const m = mergeTrace(readTraceDir(dir));
    const pairs = m.events.filter((e) => e.cause !== undefined);
    expect(pairs.length).toBeGreaterThan(20);
    // Every node sent and received (pages 1, 22 and 43 are managed by nodes 2, 2 and 2: p mod 3).
    const links = new Set(pairs.map((e) => `${e.cause!.node}->${e.node}`));
    for (const l of ['1->2', '2->1', '2->3', '3->2']) expect(links).toContain(l);
    expect(causalViolations(m)).toEqual([]);
    // Only messages from the killed node may have lost their send (its last events died with it).
    const unmatched = m.events.filter((e) => typeof e.ev.cause === 'string' && e.cause === undefined);
    expect(unmatched.every((e) => e.peer === '3')).toBe(true);
    // The kill shows: the survivors suspected node 3 and declared it dead.
    for (const node of ['1', '2']) {
      expect(m.events.some((e) => e.node === node && e.ev.type === 'peer-suspected' && e.peer === '3'), `node ${node} suspected node 3`).toBe(true);
      expect(m.events.some((e) => e.node === node && e.ev.type === 'peer-dead' && e.peer === '3'), `node ${node} declared node 3 dead`).toBe(true);
    }
    // The pause shows: a message to node 2 sent during the pause was received only after it.
    const paused = pairs.filter((e) => e.node === '2' && e.cause!.node === '1' && e.ev.t - e.cause!.ev.t > 200);
    expect(paused.length).toBeGreaterThan(0);
  }, 30_000);

  it('the checker reports receives before their sends (known-bad traces)', () => {
    const lane = (node: string, inc: string, lines: object[]) => parseTraceText([
      JSON.stringify({ type: 'node', node, inc, addresses: [], names: {}, pid: 1, t: 0 }), ...lines.map((l) => JSON.stringify(l)),
    ].join('\n'), `node-${node}.jsonl`).lanes;
    const trace = (recvLc: number, recvT: number): LoadedTrace => ({
      lanes: [
        ...lane('1', 'aaaaaaaa', [{ node: '1', t: 10, lc: 5, layer: 'rpc', type: 'rpc-sent', dir: 'send' }]),
        ...lane('2', 'bbbbbbbb', [{ node: '2', t: recvT, lc: recvLc, layer: 'rpc', type: 'rpc-received', dir: 'recv', cause: 'aaaaaaaa:5' }]),
      ],
      files: [], skipped: 0, reasons: [],
    });
    expect(causalViolations(mergeTrace(trace(6, 11)))).toEqual([]);
    expect(causalViolations(mergeTrace(trace(3, 11)))).toEqual([expect.stringContaining('Lamport clock not greater')]);
    expect(causalViolations(mergeTrace(trace(6, 5)))).toEqual([expect.stringContaining('received 5.000 ms before it was sent')]);
  });
});
