/**
 * The dsm front door's ways for nodes to find each other: root words (well-known addresses in the
 * root page, which no allocator hands out), waitForPeers(), and mem.rights(). Two nodes in this
 * process, each with its own fault thread, on loopback UDP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveDsmNodeOptions, rootPage, startDsmNode, type DsmNode } from '../dsm/node/index.js';
import { freePorts } from './support/dsm-procs.js';
import { RPC_CLIENT_DEFAULTS } from '../rpc/runtime/index.js';

const PAGE = 1024;
const PAGES = 16;
const nodes: DsmNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

async function pair(): Promise<[DsmNode, DsmNode]> {
  const [p1, p2] = await freePorts(2);
  const a1 = `127.0.0.1:${p1}`;
  const a2 = `127.0.0.1:${p2}`;
  const [a, b] = await Promise.all([
    startDsmNode({ id: 1, listen: a1, peers: [{ id: 2, address: a2 }], pageSize: PAGE, pageCount: PAGES }),
    startDsmNode({ id: 2, listen: a2, peers: [{ id: 1, address: a1 }], pageSize: PAGE, pageCount: PAGES }),
  ]);
  nodes.push(a, b);
  await Promise.all([a.waitForPeers(10_000), b.waitForPeers(10_000)]);
  return [a, b];
}

const code = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return (e as { code?: unknown }).code;
  }
  return 'no error';
};

describe('root words', () => {
  it('are the same addresses on every node, in the last page, and out of range is refused', async () => {
    const [a, b] = await pair();
    expect(rootPage(PAGES)).toBe(PAGES - 1);
    expect(a.root(0)).toBe((PAGES - 1) * PAGE);
    expect(b.root(0)).toBe(a.root(0));
    expect(a.root(PAGE / 4 - 1)).toBe(PAGES * PAGE - 4);
    for (const i of [-1, PAGE / 4, 1.5, Number.NaN]) expect(code(() => a.root(i))).toBe('DSM_ERR_INVALID_ARGUMENT');
  });

  it('carry an address from one node to another: stored on node 1, read on node 2 (which faults the root page in)', async () => {
    const [a, b] = await pair();
    const p = a.alloc(8);
    a.mem.u32[p >>> 2] = 4242;
    a.mem.u32[a.root(3) >>> 2] = p;
    const found = b.mem.u32[b.root(3) >>> 2]!;
    expect(found).toBe(p);
    expect(b.mem.u32[found >>> 2]).toBe(4242);
    expect(b.mem.u32[b.root(4) >>> 2]).toBe(0); // 0 until someone stores something
  });

  it('are never handed out by an allocator: the last node, whose range ends with the root page, runs out first', async () => {
    const [, b] = await pair();
    const got: number[] = [];
    let err: unknown;
    for (let i = 0; i < PAGES; i++) {
      try {
        got.push(b.alloc(PAGE));
      } catch (e) {
        err = e;
        break;
      }
    }
    expect((err as { code?: string }).code).toBe('DSM_ERR_OUT_OF_MEMORY');
    // Node 2 owns pages 8..15 (of 1..15 split in two); 15 is the root page.
    expect(got.map((x) => x / PAGE)).toEqual([8, 9, 10, 11, 12, 13, 14]);
  });

  it('need a page of their own: a page count without room for it is refused, saying how many are needed', () => {
    const o = { id: 1, listen: '127.0.0.1:7001', peers: [{ id: 2, address: '127.0.0.1:7002' }], pageCount: 3 };
    expect(() => resolveDsmNodeOptions(o)).toThrow(expect.objectContaining({
      code: 'DSM_ERR_INVALID_ARGUMENT',
      message: 'pageCount must leave at least one page per node besides the null page and the root page: 2 nodes need pageCount >= 4, got 3',
    }));
    expect(() => resolveDsmNodeOptions({ ...o, pageCount: 4 })).not.toThrow();
  });
});

describe('mem.rights()', () => {
  it('tells what this node holds of a page right now, without faulting', async () => {
    const [a, b] = await pair();
    const r = a.root(0);
    a.mem.u32[r >>> 2] = 1; // node 1 takes the root page with write rights
    expect([a.mem.rights(r), b.mem.rights(r)]).toEqual(['write', 'none']);
    const faults = b.mem.stats.readFaults;
    expect(b.mem.rights(r)).toBe('none');
    expect(b.mem.stats.readFaults).toBe(faults); // asking did not fault
    expect(b.mem.u32[r >>> 2]).toBe(1);
    expect([a.mem.rights(r), b.mem.rights(r)]).toEqual(['read', 'read']);
    b.mem.u32[r >>> 2] = 2;
    expect([a.mem.rights(r), b.mem.rights(r)]).toEqual(['none', 'write']);
    expect(code(() => a.mem.rights(0))).toBe('DSM_ERR_NULL_POINTER');
  });
});

describe('waitForPeers()', () => {
  it('rejects with DSM_ERR_NODE_START naming the silent peer, and resolves once it is up', async () => {
    const [p1, p2] = await freePorts(2);
    const a1 = `127.0.0.1:${p1}`;
    const a2 = `127.0.0.1:${p2}`;
    const a = await startDsmNode({ id: 1, listen: a1, peers: [{ id: 2, address: a2 }], pageSize: PAGE, pageCount: PAGES });
    nodes.push(a);
    await expect(a.waitForPeers(600)).rejects.toMatchObject({
      code: 'DSM_ERR_NODE_START',
      message: `node 1: no word from node 2 (${a2}) within 600 ms; is it running, with the same node set?`,
    });
    // Started late, node 2 is heard from (heartbeats), and the pages work both ways.
    const b = await startDsmNode({ id: 2, listen: a2, peers: [{ id: 1, address: a1 }], pageSize: PAGE, pageCount: PAGES });
    nodes.push(b);
    await Promise.all([a.waitForPeers(10_000), b.waitForPeers(10_000)]);
    b.mem.u32[b.root(0) >>> 2] = 9;
    expect(a.mem.u32[a.root(0) >>> 2]).toBe(9);
  });
});

describe('pageTable(): the page table as each node sees it, read without faulting', () => {
  it('shows the owner with its copy set, the copy holder, and after a write the new owner on the manager’s record', async () => {
    const [a, b] = await pair();
    const p = a.alloc(8); // page 1: owned by node 1, managed by node 2 (page mod 2)
    const page = Math.floor(p / PAGE);
    a.mem.u32[p >>> 2] = 5;
    let [ta, tb] = await Promise.all([a.pageTable(), b.pageTable()]);
    expect(ta.rights).toHaveLength(PAGES);
    expect(ta.rights[0]).toBe('.');
    expect([ta.rights[page], tb.rights[page]]).toEqual(['W', '-']);
    expect(tb.rights[8]).toBe('W'); // node 2's first page, untouched
    expect(b.mem.u32[p >>> 2]).toBe(5); // node 2 takes a read copy
    [ta, tb] = await Promise.all([a.pageTable(), b.pageTable()]);
    expect([ta.rights[page], tb.rights[page]]).toEqual(['R', 'r']);
    expect(ta.copysets).toEqual({ [page]: [2] });
    expect(tb.managed).toEqual([]); // the manager's record still says node 1, as placed
    b.mem.u32[p >>> 2] = 6; // node 2 writes: ownership moves
    [ta, tb] = await Promise.all([a.pageTable(), b.pageTable()]);
    expect([ta.rights[page], tb.rights[page]]).toEqual(['-', 'W']);
    expect(ta.copysets).toEqual({});
    expect(tb.managed).toEqual([expect.objectContaining({ page, owner: 2 })]);
  });
});

describe('acknowledging replies: the next call carries it, not a message of its own', () => {
  it('waits two heartbeat intervals (heartbeats on), the RPC default without heartbeats', () => {
    const o = { id: 1, listen: '127.0.0.1:1', peers: [{ id: 2, address: '127.0.0.1:2' }] };
    expect(resolveDsmNodeOptions(o).replyAckDelayMs).toBe(1_000); // heartbeat every 500 ms
    expect(resolveDsmNodeOptions({ ...o, ivy: { heartbeatIntervalMs: 100, deadAfterMs: 1_000 } }).replyAckDelayMs).toBe(200);
    expect(resolveDsmNodeOptions({ ...o, ivy: { heartbeat: false } }).replyAckDelayMs).toBe(RPC_CLIENT_DEFAULTS.ackDelayMs);
  });

  it('coherence calls further apart than the RPC default ACK delay send no standalone ACKs, and their saved replies are still dropped', async () => {
    const [a, b] = await pair();
    const p = a.alloc(8);
    for (let i = 1; i <= 6; i++) {
      a.mem.u32[p >>> 2] = i; // node 1 writes: invalidates node 2's copy (a call 1 -> 2)
      expect(b.mem.u32[p >>> 2]).toBe(i); // node 2 reads: a read fault (a call 2 -> 1)
      await new Promise((r) => setTimeout(r, 2 * RPC_CLIENT_DEFAULTS.ackDelayMs)); // past the RPC default's ACK
    }
    const start = Date.now();
    for (;;) {
      const [ra, rb] = (await Promise.all([a.stats(), b.stats()])).map((s) => s.rpc);
      // The heartbeat pings carry the acknowledgement: each server keeps at most the last reply of its one client.
      if (ra!.replyCache.entries <= 1 && rb!.replyCache.entries <= 1) {
        expect(ra!.executed + rb!.executed).toBeGreaterThanOrEqual(11);
        expect(ra!.acks + rb!.acks).toBeLessThanOrEqual(1); // with the RPC default: one per call, 11 or more
        break;
      }
      if (Date.now() - start > 5_000) throw new Error(`saved replies not acknowledged within 5 s: ${JSON.stringify([ra!.replyCache, rb!.replyCache])}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});

describe('setNetwork(): fault injection at runtime', () => {
  it('cuts a node off from a peer both ways, counts the drops, heals with {}, and refuses what is not a peer or a probability', async () => {
    const [a, b] = await pair();
    expect(await a.setNetwork({ blockedNodes: [2] })).toMatchObject({ blockedNodes: [2], loss: 0 });
    const start = Date.now();
    for (;;) {
      const n = (await a.stats()).network;
      if (n.blockedOut > 0 && n.blockedIn > 0) break; // heartbeats both ways, dropped
      if (Date.now() - start > 5_000) throw new Error(`no heartbeat dropped within 5 s: ${JSON.stringify(n)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await b.stats()).network.blockedOut).toBe(0);
    await expect(a.setNetwork({ blockedNodes: [9] })).rejects.toMatchObject({ code: 'DSM_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/9 is not a peer of node 1/) });
    await expect(a.setNetwork({ loss: 2 })).rejects.toMatchObject({ code: 'DSM_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/loss must be a probability/) });
    expect((await a.stats()).network.blockedNodes).toEqual([2]); // a refused change keeps the rules
    expect(await a.setNetwork({})).toMatchObject({ blockedNodes: [], loss: 0 });
  });
});

describe('alloc()', () => {
  it('refuses a size larger than the node’s range, even one that would round to 0 in 32 bits', async () => {
    const [a] = await pair();
    for (const bytes of [2 ** 32, 2 ** 32 + 1, 2 ** 40, 8 * PAGE * PAGES]) expect(code(() => a.alloc(bytes)), String(bytes)).toBe('DSM_ERR_OUT_OF_MEMORY');
    const p = a.alloc(8);
    expect(a.alloc(8)).toBe(p + 8); // nothing was handed out by the refused calls
  });
});
