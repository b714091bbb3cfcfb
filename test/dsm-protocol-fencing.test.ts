/**
 * The failure model's promises, one scenario each, on the simulated cluster with the default
 * timings (heartbeat 500 ms, suspicion after 2,000 ms, call timeout 1,000 ms):
 * a pause shorter than deadAfterMs or a slow copy holder is waited for, never skipped; a pause
 * longer than that gets the node fenced, and the resumed node never mixes its old copies with
 * anything written after its fence; a minority side cannot write what needs the majority; lost
 * replies and deadlines never orphan a page; an owner that is its page's manager waits out a slow
 * copy holder without failing others' faults; nodes that start late are waited for; peers with
 * another configuration refuse each other; a healthy fault costs no extra message; peers that are
 * not members, or send what contradicts the protocol, are refused and counted.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './support/dsm-cluster.js';
import { outcome, startedCluster } from './support/ivy-scenarios.js';
import { IvyNode, type IvyOptions } from '../dsm/protocol/index.js';
import { IvyClient } from '../dsm/protocol/ivy.stubs.js';
import { configDigest } from '../dsm/protocol/membership.js';
import { RpcError } from '../rpc/index.js';
import { FakePages, Scheduler } from './support/dsm-cluster.js';

const DEFAULTS: IvyOptions = { heartbeat: true };

const started = (o: ConstructorParameters<typeof Cluster>[0]): Promise<Cluster> => startedCluster({ ...o, ivy: { ...DEFAULTS, ...o.ivy } }, false);

describe('a wrong suspicion never breaks consistency', () => {
  it('a copy holder paused for 1.3 s (less than deadAfterMs) is waited for, not skipped: nobody is declared dead', async () => {
    // Page 1: manager 1, owner 0. Node 2 reads it (a copy), then is paused while node 0 writes.
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    expect(await c.sched.settle(c.read(2, 1, 0))).toBe(0);
    c.pause(2, 1_300);
    const t0 = c.sched.now;
    await c.sched.settle(c.write(0, 1, 0, 1));
    expect(c.sched.now - t0).toBeGreaterThanOrEqual(1_300); // it waited for node 2's answer
    for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
    expect(c.pages[2]!.rights(1)).toBe('none');
    expect(await c.sched.settle(c.read(2, 1, 0))).toBe(1);
  });

  it('a copy holder whose invalidation answer takes 1.5 s is waited for: the write completes, nobody is declared dead', async () => {
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    expect(await c.sched.settle(c.read(2, 1, 0))).toBe(0);
    c.slow(2, 750); // each message to or from node 2 takes 750 ms longer: 1.5 s per round trip
    await c.sched.settle(c.write(0, 1, 0, 1));
    c.slow(2, 0);
    for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
    expect(await c.sched.settle(c.read(2, 1, 0))).toBe(1);
  });

  it('a reader paused past deadAfterMs is fenced: after SIGCONT it sees only its old copies, never X=0 with F=1, then DSM_ERR_EVICTED', async () => {
    // X on page 3 (manager 0, owner 0); F on page 2 (manager 2, owner 2). Node 1 holds copies of both.
    const X = 3;
    const F = 2;
    const c = await started({ nodes: 3, initialOwner: (p) => (p === X ? 0 : 2) });
    expect(await c.sched.settle(c.read(1, X, 0))).toBe(0);
    expect(await c.sched.settle(c.read(1, F, 0))).toBe(0);
    const pausedAt = c.sched.now;
    c.pause(1, 4_000);
    // Node 0 writes X = 1 (it must skip node 1's copy: only a majority's decision allows that), then F = 1.
    await c.sched.settle(c.write(0, X, 0, 1));
    expect(c.nodes[0]!.isDead(1)).toBe(true);
    const fencedAfter = c.deadAt.get(1)! - pausedAt;
    expect(fencedAfter).toBeGreaterThanOrEqual(2_000);
    expect(fencedAfter).toBeLessThanOrEqual(2_600);
    await c.sched.settle(c.write(0, F, 0, 1));
    // Node 1 resumes. Whatever it reads, it never sees F = 1 with X = 0: its copies are the past.
    await c.sched.run(() => c.state(1) === 'up');
    const f = await outcome(c, c.read(1, F, 0));
    const x = await outcome(c, c.read(1, X, 0));
    expect(f.ok && f.value === 1 && x.ok && x.value === 0).toBe(false);
    // And it learns it was fenced on its next access that needs the network (or its next heartbeat).
    await c.sched.run(() => c.nodes[1]!.evicted !== undefined, c.sched.now + 2_000);
    expect(c.nodes[1]!.evicted).toMatchObject({ by: expect.any(Number) });
    const after = await outcome(c, c.read(1, 3, 0));
    expect(after).toMatchObject({ ok: false, code: 'DSM_ERR_EVICTED' });
    if (!after.ok) expect(after.message).toMatch(/declared dead by a majority and is fenced \(refused by node [02]\)/);
    // Fail-stop: even its old copies are gone now.
    expect(c.pages[1]!.rights(X)).toBe('none');
    expect(await outcome(c, c.read(1, X, 0))).toMatchObject({ ok: false, code: 'DSM_ERR_EVICTED' });
    // The survivors keep working, and refuse it.
    expect(await c.sched.settle(c.read(2, X, 0))).toBe(1);
    expect(c.nodes[0]!.stats.refusedFenced + c.nodes[2]!.stats.refusedFenced).toBeGreaterThan(0);
  });
});

describe('partitions: the minority cannot decide, the majority can', () => {
  it('{0} | {1, 2}: node 0 cannot skip a copy on the other side (DSM_ERR_NO_QUORUM); 1 and 2 fence it; after the heal it is evicted', async () => {
    // Page 3: manager 0, owner 0; node 1 holds a copy. Page 4: manager 1, owner 1; node 0 holds a copy.
    const c = await started({ nodes: 3, initialOwner: (p) => (p === 4 ? 1 : 0) });
    c.checkInvariantEachStep();
    expect(await c.sched.settle(c.read(1, 3, 0))).toBe(0);
    expect(await c.sched.settle(c.read(0, 4, 0))).toBe(0);
    c.partition([[0]]);
    // Majority side: node 1 writes page 4 after skipping node 0's copy, once 0 is declared dead.
    const majority = c.write(1, 4, 0, 44);
    // Minority side: node 0 cannot invalidate node 1's copy of page 3, and can never declare 1 dead.
    const minority = outcome(c, c.write(0, 3, 0, 33));
    await c.sched.settle(majority);
    await c.sched.run(() => c.nodes[2]!.isDead(0), c.sched.now + 1_000);
    expect(c.nodes[1]!.isDead(0) && c.nodes[2]!.isDead(0)).toBe(true);
    const m = await minority;
    expect(m).toMatchObject({ ok: false, code: 'DSM_ERR_NO_QUORUM' });
    if (!m.ok) expect(m.message).toMatch(/cannot be declared dead: 1 of the 2 nodes needed/);
    expect(c.nodes[0]!.deadNodes).toEqual([]);
    c.heal();
    await c.sched.run(() => c.nodes[0]!.evicted !== undefined, c.sched.now + 3_000);
    expect(c.nodes[0]!.evicted).toBeDefined();
    // Page 3 was managed by the fenced node: nobody can find it, naming it; page 4 works on the majority side.
    expect(await outcome(c, c.read(2, 3, 0))).toMatchObject({ ok: false, code: 'DSM_ERR_MANAGER_DEAD', node: 0 });
    expect(await c.sched.settle(c.read(2, 4, 0))).toBe(44);
  });

  it('{0, 1} | {2, 3} in a 4-node cluster: no side has a majority, nobody is declared dead, and all is well after the heal', async () => {
    const c = await started({ nodes: 4, initialOwner: () => 0 });
    expect(await c.sched.settle(c.read(3, 1, 0))).toBe(0);
    c.partition([[0, 1], [2, 3]]);
    const w = await outcome(c, c.write(0, 1, 0, 7)); // needs node 3's copy invalidated
    expect(w).toMatchObject({ ok: false, code: 'DSM_ERR_NO_QUORUM' });
    for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
    c.heal();
    await c.sched.settle(c.write(0, 1, 0, 8));
    expect(await c.sched.settle(c.read(3, 1, 0))).toBe(8);
    for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
  });
});

describe('ownership transfer is atomic', () => {
  it('a lost grant reply leaves the page with its previous owner, which takes it back when the requester asks again below it', async () => {
    // Page 1: owner 0. Node 2 writes; node 0's grant reply to it is lost.
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    let dropped = 0;
    c.onMessage = (m, phase) => (phase === 'send' && m.proc === 'request' && m.kind === 'reply' && m.to === 2 && dropped++ === 0 ? 'drop' : undefined);
    await c.sched.settle(c.write(2, 1, 0, 5)); // node 2 asks again (have < the transfer), node 0 takes the page back and grants it anew
    expect(dropped).toBeGreaterThan(0);
    expect(c.nodes[0]!.stats.pagesTakenBack).toBe(1);
    expect(await c.sched.settle(c.read(0, 1, 0))).toBe(5);
    expect(await c.sched.settle(c.read(1, 1, 0))).toBe(5);
  });

  it('a third node asking before the confirmation arrives: the previous owner redirects it to the new owner, naming the transfer; the new owner serves it', async () => {
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(2, 1, 0, 7)); // page 1 moves 0 -> 2; the confirmation waits for node 2's heartbeat
    expect(c.nodes[0]!.stats.retainedPages).toBe(1);
    const m0 = c.messages.length;
    expect(await c.sched.settle(c.read(1, 1, 0))).toBe(7);
    // Node 1's hint (node 0) is stale: node 0 redirects it to node 2 (naming the unconfirmed
    // transfer), and node 2 serves it; in the fixed mode node 1 asks the directory first, which is
    // itself (page 1's manager): no message. (Node 2 told the manager it owns the page: 2 more.)
    expect(c.countSince(m0, ['ping', 'owns'])).toEqual({ request: 4 });
    expect(c.nodes[0]!.stats.pagesTakenBack).toBe(0);
  });

  it('a third node asking after the new owner gave up: the new owner promises it never installed the transfer, and the previous owner takes the page back', async () => {
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    let dropped = false;
    // Node 0's grant to node 2 is lost, and so is every later request of node 2 to node 0: node 2's
    // fault ends without ever learning of the transfer (DSM_ERR_NO_QUORUM: it suspects node 0,
    // which the others hear).
    c.onMessage = (m, phase) => {
      if (phase !== 'send' || m.proc !== 'request') return undefined;
      if (m.kind === 'reply' && m.from === 0 && m.to === 2 && !dropped) {
        dropped = true;
        return 'drop';
      }
      return m.kind === 'request' && m.from === 2 && m.to === 0 && dropped ? 'drop' : undefined;
    };
    const w = await outcome(c, c.write(2, 1, 0, 9));
    expect(w).toMatchObject({ ok: false, code: 'DSM_ERR_NO_QUORUM', node: 0 });
    expect(c.nodes[0]!.stats.retainedPages).toBe(1);
    c.onMessage = undefined;
    const m0 = c.messages.length;
    // Node 1 asks node 0, is sent to node 2 (expecting the transfer), which answers NotInstalled;
    // node 1 brings that back to node 0, which takes the page back and serves it.
    expect(await c.sched.settle(c.read(1, 1, 0))).toBe(0); // the write never happened
    expect(c.countSince(m0, ['ping'])).toEqual({ request: 6 });
    expect(c.nodes[0]!.stats.pagesTakenBack).toBe(1);
    // Node 2 never installs that transfer now; its next write works.
    await c.sched.settle(c.write(2, 1, 0, 10));
    expect(await c.sched.settle(c.read(0, 1, 0))).toBe(10);
  });

  it('a late copy of a read request served after the one that brought the copy: the next write still invalidates the copy (found by seed 1526)', async () => {
    // Page 1: owner 0. Node 2 reads it (copy epoch e1). Then a stale copy of node 2's read request
    // reaches node 0 (its call had failed and been retried: the transport still delivered it), and
    // node 0 grants a copy under e2 > e1 that nobody installs. Node 0's copy set now names e2.
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    expect(await c.sched.settle(c.read(2, 1, 0))).toBe(0);
    const view = { config: configDigest({ nodes: [0, 1, 2], pageSize: 64, pageCount: 16, manager: 1 }), incarnation: Cluster.incarnation(2), dead: [] };
    const late = await c.sched.settle(Promise.resolve(c.nodes[0]!.handlers.request(view, 1, 1, 0, false, 0, undefined, { peer: 'node2', callId: 'late' })));
    expect(late).toMatchObject({ outcome: 0 });
    // Node 0 writes: its invalidation names e2, node 2 holds e1 (granted before): it is dropped.
    await c.sched.settle(c.write(0, 1, 0, 5));
    expect(c.pages[2]!.rights(1)).toBe('none');
    expect(await c.sched.settle(c.read(2, 1, 0))).toBe(5);
  });

  it('the previous owner keeps a handed-over page only until the new owner confirms the transfer (on its heartbeat)', async () => {
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    await c.sched.settle(c.write(2, 1, 0, 1));
    expect(c.nodes[0]!.stats.retainedPages).toBe(1);
    await c.sched.run(() => c.nodes[0]!.stats.retainedPages === 0, c.sched.now + 2_000);
    expect(c.nodes[0]!.stats.retainedPages).toBe(0);
  });

  it('4 live nodes, three concurrent writers, slow invalidations: every node reads the page afterwards (no page orphaned by a deadline)', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const c = await started({ nodes: 4, seed, jitterMs: 30, initialOwner: () => 3 });
      c.checkInvariantEachStep();
      for (const r of [0, 1, 2]) expect(await c.sched.settle(c.read(r, 1, 0))).toBe(0);
      c.slow(3, 900); // the owner's invalidations and serves are slow
      const writers = [0, 1, 2].map((w) => outcome(c, c.write(w, 1, 4 * w, 10 + w)));
      const results = await c.sched.settle(Promise.all(writers));
      c.slow(3, 0);
      for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
      for (const r of [0, 1, 2, 3]) {
        const words = [];
        for (const w of [0, 1, 2]) words.push(await c.sched.settle(c.read(r, 1, 4 * w)));
        expect(words).toEqual(results.map((x, w) => (x.ok ? 10 + w : 0)));
      }
    }
  });

  it('an owner that is its page\'s manager, upgrading while it waits out a slow copy holder, does not fail another node\'s write fault', async () => {
    // Page 2: manager 2 = owner 2. Nodes 0 and 1 hold copies; node 1 is slow; node 2 upgrades, node 0 writes meanwhile.
    const c = await started({ nodes: 3, initialOwner: () => 2 });
    expect(await c.sched.settle(c.read(0, 2, 0))).toBe(0);
    expect(await c.sched.settle(c.read(1, 2, 0))).toBe(0);
    c.slow(1, 1_000);
    const upgrade = outcome(c, c.write(2, 2, 0, 1));
    const other = outcome(c, c.write(0, 2, 4, 2));
    expect(await upgrade).toMatchObject({ ok: true });
    expect(await other).toMatchObject({ ok: true });
    c.slow(1, 0);
    expect(await c.sched.settle(c.read(1, 2, 0))).toBe(1);
    expect(await c.sched.settle(c.read(1, 2, 4))).toBe(2);
  });
});

describe('not started is not dead', () => {
  it('a fault on a page of a node that starts 2 s later waits, then succeeds; nobody is declared dead', async () => {
    // Page 2: manager 2, owner 2; node 2 starts at t = 2 s.
    const c = new Cluster({ nodes: 3, giveUpMs: 500, start: { 2: 2_000 }, initialOwner: () => 2, ivy: DEFAULTS });
    const r = outcome(c, c.read(0, 2, 0));
    await c.sched.run(() => false, 1_500);
    expect(c.nodes[0]!.peers().find((p) => p.node === 2)!.status).toBe('not-up');
    expect(await r).toMatchObject({ ok: true, value: 0 });
    expect(c.sched.now).toBeGreaterThanOrEqual(2_000);
    expect(c.sched.now).toBeLessThan(3_000);
    for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
    // The late node's own faults work at once.
    await c.sched.settle(c.write(2, 1, 0, 9));
    expect(await c.sched.settle(c.read(0, 1, 0))).toBe(9);
  });

  it('reports "majority-up" once a majority of the configured nodes has been heard from', async () => {
    const c = new Cluster({ nodes: 3, giveUpMs: 500, start: { 1: 1_000, 2: 3_000 }, ivy: DEFAULTS });
    await c.sched.run(() => false, 5_000);
    const ev = (id: number) => c.events.filter((e) => e.node === id && e.e.kind === 'majority-up');
    expect(ev(0)).toHaveLength(1);
    expect(ev(0)[0]!.at).toBeGreaterThanOrEqual(1_000);
    expect(ev(0)[0]!.at).toBeLessThan(2_000);
    expect(ev(0)[0]!.e.reason).toBe('2 of 3 nodes are up (a majority is 2)');
  });
});

describe('a restarted node is a new node', () => {
  it('a node killed and restarted with the same id is refused and fenced; the old one is declared dead and its page reported lost', async () => {
    // Page 3: manager 0, owner 2; node 2 writes it, node 1 has no copy.
    const c = await started({ nodes: 3, initialOwner: (p) => (p === 3 ? 2 : 0) });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(2, 3, 0, 33));
    c.kill(2);
    c.restart(2); // at once: a new process, fresh pages, the same id and address
    // The new process believes it owns page 3 again (its initial page): nobody may see that copy.
    expect(c.pages[2]!.rights(3)).toBe('write');
    const r = await outcome(c, c.read(1, 3, 0));
    expect(r).toMatchObject({ ok: false, code: 'DSM_ERR_PAGE_LOST', node: 2 });
    expect(c.nodes[0]!.isDead(2) && c.nodes[1]!.isDead(2)).toBe(true);
    await c.sched.run(() => c.nodes[2]!.evicted !== undefined, c.sched.now + 2_000);
    expect(c.nodes[2]!.evicted?.reason).toMatch(/restarted|declared dead/);
    expect(await outcome(c, c.read(2, 3, 0))).toMatchObject({ ok: false, code: 'DSM_ERR_EVICTED' });
    expect(c.events.some((e) => e.node === 0 && e.e.kind === 'suspected' && /restarted/.test(e.e.reason))).toBe(true);
  });
});

/** Two IvyNodes wired directly (no simulated network) with their own page stores and options. */
function pair(pages: [FakePages, FakePages], sched: Scheduler, options: [IvyOptions, IvyOptions], events: string[]): IvyNode[] {
  const nodes: IvyNode[] = [];
  for (const id of [0, 1]) nodes.push(pairNode(nodes, id, pages[id]!, sched, options[id]!, events));
  return nodes;
}

/** Node `id` of a pair (nodes[] is the pair, read at call time: a node may be replaced by a restart). */
function pairNode(nodes: IvyNode[], id: number, local: FakePages, sched: Scheduler, options: IvyOptions, events: string[]): IvyNode {
  {
    return new IvyNode({
      id, nodes: [0, 1], local, callerOf: (ctx) => Number(ctx.peer),
      peer: (to) => new IvyClient({
        call: async (_i, proc, args) => {
          const h = (nodes[to]!.handlers as unknown as Record<string, (...a: unknown[]) => unknown>)[proc.name]!;
          try {
            return await h(...args, { peer: String(id), callId: 'x' });
          } catch (e) {
            throw new RpcError('RPC_ERR_REMOTE', (e as Error).message, { remoteCode: (e as { code?: string }).code });
          }
        },
      }),
      onEvent: (e) => events.push(`${id}: ${e.kind} ${e.node}: ${e.reason}`),
      options: { ...options, timers: sched.timers },
    });
  }
}

describe('every message is checked', () => {
  it('nodes with another page count refuse each other at first contact, both reporting the mismatch', async () => {
    const sched = new Scheduler(1);
    const events: string[] = [];
    const pages: [FakePages, FakePages] = [new FakePages(64, 16, sched), new FakePages(64, 32, sched)];
    const nodes = pair(pages, sched, [{}, {}], events);
    await sched.run(() => false, 600);
    // Both report it once, naming both page counts.
    for (const id of [0, 1]) {
      const mine = events.filter((e) => e.startsWith(`${id}: mismatch ${1 - id}:`));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatch(/node 0 has 16 pages, node 1 32|node 1 has 32 pages, node 0 16/);
    }
    // A fault that needs the other node fails with the mismatch, in words. Page 1's owner is node 1.
    await sched.settle(nodes[0]!.fault(1, 'read'));
    expect(pages[0]!.failures.get(1)).toMatchObject({ code: 'DSM_ERR_CLUSTER_MISMATCH', node: 1, message: expect.stringMatching(/^page 1: node 1 \(its probable owner\), .*16 pages.*32/) });
    for (const n of nodes) n.close();
  });

  it('nodes running different manager modes refuse each other at first contact, saying which runs which', async () => {
    const sched = new Scheduler(1);
    const events: string[] = [];
    const pages: [FakePages, FakePages] = [new FakePages(64, 16, sched), new FakePages(64, 16, sched)];
    const nodes = pair(pages, sched, [{ manager: 'fixed' }, { manager: 'dynamic' }], events);
    await sched.run(() => false, 600);
    const which = /node 1 runs the dynamic manager, node 0 the fixed one|node 0 runs the fixed manager, node 1 the dynamic one/;
    expect(events.filter((e) => e.startsWith('0: mismatch 1:'))).toEqual([expect.stringMatching(which)]);
    expect(events.filter((e) => e.startsWith('1: mismatch 0:'))).toEqual([expect.stringMatching(which)]);
    expect(nodes.map((n) => n.mode)).toEqual(['fixed', 'dynamic']);
    for (const n of nodes) n.close();
  });

  it('a node refused for another configuration and restarted with the right one is taken back both ways: the owner invalidates the copy it then grants it', async () => {
    const sched = new Scheduler(1);
    const events: string[] = [];
    const pages: [FakePages, FakePages] = [new FakePages(64, 16, sched), new FakePages(64, 16, sched)];
    const nodes = pair(pages, sched, [{ manager: 'fixed' }, { manager: 'dynamic' }], events);
    await sched.run(() => false, 600);
    expect(events.filter((e) => e.startsWith('0: mismatch 1:'))).toHaveLength(1);
    // Node 1 is stopped and started again (a new process, a new incarnation) with node 0's configuration.
    nodes[1]!.close();
    pages[1] = new FakePages(64, 16, sched);
    nodes[1] = pairNode(nodes, 1, pages[1], sched, { manager: 'fixed' }, events);
    await sched.run(() => false, sched.now + 1_000);
    expect(events).toContain('0: up 1: it runs this cluster\'s configuration now');
    // Page 2 is node 0's (its manager, 2 mod 2 = node 0). Node 1 takes a read copy; node 0 writes its
    // page, which must invalidate that copy (before, node 0 still took node 1 for misconfigured, never
    // asked it, and its write failed DSM_ERR_FAULT_TIMEOUT waiting for node 1); node 1 reads the new value.
    await sched.settle(nodes[1]!.fault(2, 'read'));
    expect(pages[1].rights(2)).toBe('read');
    await sched.settle(nodes[0]!.fault(2, 'write'));
    expect(pages[0].failures.get(2)).toBeUndefined();
    expect(pages[0].rights(2)).toBe('write');
    expect(pages[1].rights(2)).toBe('none');
    pages[0].writeU32(2, 0, 77);
    await sched.settle(nodes[1]!.fault(2, 'read'));
    expect(pages[1].readU32(2, 0)).toBe(77);
    // And node 0's faults on node 1's pages are served, not refused as a mismatch.
    await sched.settle(nodes[0]!.fault(1, 'read'));
    expect(pages[0].failures.get(1)).toBeUndefined();
    for (const n of nodes) n.close();
  });

  it('a healthy fault costs no extra message but the directory update of an ownership move: confirmations ride on the heartbeat', async () => {
    // 4 nodes; page 1: manager 1, owner 2; reader 0, writer 3. Heartbeats on (they carry the confirmations).
    const c = await started({ nodes: 4, initialOwner: () => 2 });
    await c.sched.run(() => false, 1_000); // a quiet second: count its pings
    const quiet0 = c.messages.length;
    await c.sched.run(() => false, 3_000);
    const idlePings = c.countSince(quiet0).ping ?? 0;
    const m0 = c.messages.length;
    const t0 = c.sched.now;
    for (let i = 0; i < 10; i++) {
      await c.sched.settle(c.read(0, 1, 0));
      await c.sched.settle(c.write(3, 1, 0, i));
    }
    await c.sched.run(() => false, t0 + 2_000);
    const counts = c.countSince(m0);
    // 10 read faults by node 0, each one request straight to the owner its hint names: 2 messages
    // each. 10 write faults by node 3: the first takes the page from node 2 (a request, and node 2
    // invalidates node 0's copy: 4, and node 3 tells the manager, node 1, that it owns the page: 2),
    // the other nine upgrade node 3's own read copy (invalidating node 0's copy: 2). The manager
    // is never asked: every hint was right.
    expect({ ...counts, ping: undefined }).toEqual({ request: 22, invalidate: 20, owns: 2, ping: undefined });
    // And the heartbeats that carried the confirmations are the ones an idle cluster sends anyway.
    expect(counts.ping).toBe(idlePings);
  });

  it('a call from an address that is not a member, with another configuration, or that contradicts the protocol, is refused and counted', async () => {
    const c = await started({ nodes: 3 });
    const h = c.nodes[0]!.handlers;
    const view = { config: configDigest({ nodes: [0, 1, 2], pageSize: 64, pageCount: 16, manager: 1 }), incarnation: Cluster.incarnation(2), dead: [] };
    const call = (f: () => unknown) => Promise.resolve().then(f);
    await expect(call(() => h.request(view, 3, 1, 0, false, 0, undefined, { peer: 'stranger', callId: 'x' }))).rejects.toMatchObject({ code: 'DSM_REFUSED_NOT_A_MEMBER' });
    await expect(call(() => h.request({ ...view, config: 1 }, 3, 1, 0, false, 0, undefined, { peer: 'node2', callId: 'x' }))).rejects.toMatchObject({ code: 'DSM_ERR_CLUSTER_MISMATCH' });
    // Page 99 does not exist; a claim names a member; an invalidation names a member as the new owner.
    const before = c.nodes[0]!.stats.protocolErrors;
    await expect(call(() => h.request(view, 99, 1, 0, false, 0, undefined, { peer: 'node2', callId: 'x' }))).rejects.toMatchObject({ code: 'DSM_ERR_INTERNAL', message: /page 99 is outside/ });
    await expect(call(() => h.request(view, 3, 1, 0, false, 0, { node: 77, epoch: 3 }, { peer: 'node2', callId: 'x' }))).rejects.toMatchObject({ code: 'DSM_ERR_INTERNAL', message: /names node 77, not a member/ });
    await expect(call(() => h.invalidate(view, 3, 1, 77, 2, { peer: 'node2', callId: 'x' }))).rejects.toMatchObject({ code: 'DSM_ERR_INTERNAL', message: /node 77, not a member/ });
    expect(c.nodes[0]!.stats.protocolErrors - before).toBe(3);
    // None of it changed the page: node 0 still owns page 3 (it is its manager and initial owner).
    expect(c.nodes[0]!.owns(3)).toBe(true);
    expect(await c.sched.settle(c.read(1, 3, 0))).toBe(0);
  });
});
