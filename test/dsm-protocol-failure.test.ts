/**
 * Node failure in the coherence protocol, on the simulated cluster with the default heartbeat
 * (every 500 ms, suspicion after 2,000 ms of silence): a dead owner's pages fail DSM_ERR_PAGE_LOST
 * naming it, a dead manager's pages fail DSM_ERR_MANAGER_DEAD naming it, both within deadAfterMs
 * plus a heartbeat and a proposal round; pages held by live nodes keep working; survivors' read
 * copies stay readable but can never be written again; a death needs a majority, so a two-node
 * cluster never declares one; nothing hangs.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './support/dsm-cluster.js';
import { DECISION_BOUND_MS, startedCluster } from './support/ivy-scenarios.js';
import { IVY_DEFAULTS } from '../dsm/protocol/index.js';

const GIVE_UP_MS = 500;
const HEARTBEAT = { heartbeat: true };

async function expectFailure(c: Cluster, p: Promise<unknown>, code: string, node: number): Promise<Error> {
  let err: unknown;
  try {
    await c.sched.settle(p);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code, node });
  expect((err as Error).message).toContain(`node ${node}`);
  return err as Error;
}

/** A cluster whose nodes have exchanged a heartbeat round (everybody is up). */
const started = (o: ConstructorParameters<typeof Cluster>[0]): Promise<Cluster> => startedCluster({ giveUpMs: GIVE_UP_MS, ...o, ivy: { ...HEARTBEAT, ...o.ivy } });

describe('Ivy: a dead owner', () => {
  it('a fault on its page fails DSM_ERR_PAGE_LOST naming it, once a majority declared it dead', async () => {
    // 3 nodes: page 3's manager is node 0; node 2 owns pages 3 and 6; node 0 owns the rest.
    const c = await started({ nodes: 3, initialOwner: (p) => (p % 3 === 0 ? 2 : 0) });
    await c.sched.settle(c.write(2, 3, 0, 33));
    c.kill(2);
    const t0 = c.sched.now;
    await expectFailure(c, c.read(1, 3, 0), 'DSM_ERR_PAGE_LOST', 2);
    expect(c.sched.now - t0).toBeLessThanOrEqual(DECISION_BOUND_MS);
    expect(c.pages[1]!.failures.get(3)).toMatchObject({ code: 'DSM_ERR_PAGE_LOST', node: 2 });
    expect(c.nodes[0]!.isDead(2)).toBe(true);
    // The dead node's other page is found lost at once, with no waiting: node 1's hint (node 2) is
    // dead, so it asks the manager (node 0), whose directory names node 2 too; node 2 might have
    // handed it on, so node 1 asks every live node (a locate): nobody holds it.
    const t1 = c.sched.now;
    const m0 = c.messages.length;
    await expectFailure(c, c.write(1, 6, 0, 1), 'DSM_ERR_PAGE_LOST', 2);
    expect(c.countSince(m0, ['ping'])).toEqual({ request: 2, locate: 2 });
    expect(c.sched.now - t1).toBeLessThanOrEqual(4);
    // Now node 1 knows: the next fault on page 6 fails with no message at all.
    const m1 = c.messages.length;
    await expectFailure(c, c.read(1, 6, 0), 'DSM_ERR_PAGE_LOST', 2);
    expect(c.countSince(m1, ['ping'])).toEqual({});
  });

  it('pages held by live nodes keep working', async () => {
    const c = await started({ nodes: 3, initialOwner: (p) => (p % 3 === 0 ? 2 : 0) });
    c.checkInvariantEachStep();
    c.kill(2);
    await expectFailure(c, c.read(1, 3, 0), 'DSM_ERR_PAGE_LOST', 2);
    // Page 4: manager 1, owner 0. Page 1: manager 1. Page 7: manager 1.
    for (const page of [1, 4, 7]) {
      await c.sched.settle(c.write(1, page, 0, page));
      expect(await c.sched.settle(c.read(0, page, 0))).toBe(page);
      await c.sched.settle(c.write(0, page, 4, page + 1));
      expect(await c.sched.settle(c.read(1, page, 4))).toBe(page + 1);
    }
  });

  it('a page whose ownership moved to a node that died on the way is lost, naming that node', async () => {
    // Page 3: manager 0, owner 2. Node 1 asks to write; it dies before the grant reaches it.
    const c = await started({ nodes: 3, baseDelayMs: 10, initialOwner: () => 2 });
    const doomed = c.write(1, 3, 0, 1);
    void doomed.catch(() => undefined);
    await c.sched.run(() => c.messages.some((m) => m.proc === 'serve' && m.kind === 'reply'));
    c.kill(1);
    await expectFailure(c, c.read(0, 3, 0), 'DSM_ERR_PAGE_LOST', 1);
  });

  it('a dead copy holder does not block a write once it is declared dead; a live but slow one is never skipped', async () => {
    const c = await started({ nodes: 4, initialOwner: () => 2 });
    c.checkInvariantEachStep();
    await c.sched.settle(c.read(3, 1, 0));
    await c.sched.settle(c.read(0, 1, 0));
    c.kill(3);
    const t0 = c.sched.now;
    await c.sched.settle(c.write(0, 1, 0, 5));
    expect(c.sched.now - t0).toBeLessThanOrEqual(DECISION_BOUND_MS);
    expect(c.nodes[2]!.isDead(3)).toBe(true);
    expect(c.nodes[2]!.stats.copiesSkipped).toBe(1);
    expect(await c.sched.settle(c.read(1, 1, 0))).toBe(5);
    // Node 1 now holds a copy; make it slow (1.5 s per message, longer than callTimeoutMs): node 0's
    // next write waits for its answer instead of skipping it, and nobody is declared dead.
    c.slow(1, 1_500);
    await c.sched.settle(c.write(0, 1, 0, 6));
    c.slow(1, 0);
    expect(c.nodes[2]!.stats.copiesSkipped).toBe(1);
    for (const n of [0, 1, 2]) expect(c.nodes[n]!.deadNodes).toEqual([3]);
    expect(c.pages[1]!.rights(1)).toBe('none');
    expect(await c.sched.settle(c.read(1, 1, 0))).toBe(6);
  });
});

describe('Ivy: a dead manager (fixed mode)', () => {
  // 4 nodes; page 3: manager 3 (3 mod 4), initial owner 0. Node 2 writes it (0 -> 2) and the
  // confirmations arrive; node 1 never heard of the move (its hint still names node 0).
  const setup = async (manager: 'fixed' | 'dynamic') => {
    const c = await started({ nodes: 4, initialOwner: () => 0, ivy: { manager } });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(2, 3, 0, 23));
    await c.sched.run(() => false, c.sched.now + 1_200);
    c.kill(3);
    return c;
  };

  it('a fault that needs its directory (a wrong hint) fails DSM_ERR_MANAGER_DEAD naming it; one whose hint names the live owner is served', async () => {
    const c = await setup('fixed');
    const t0 = c.sched.now;
    await expectFailure(c, c.read(1, 3, 0), 'DSM_ERR_MANAGER_DEAD', 3);
    expect(c.sched.now - t0).toBeLessThanOrEqual(DECISION_BOUND_MS);
    expect(c.nodes[1]!.isDead(3)).toBe(true);
    // Node 0 handed the page to node 2 itself: its hint is right, and the directory is not needed.
    expect(await c.sched.settle(c.read(0, 3, 0))).toBe(23);
    // The owner writes its page (it has only read rights now): it needs nobody but node 0's copy.
    await c.sched.settle(c.write(2, 3, 0, 24));
    expect(c.pages[2]!.readU32(3, 0)).toBe(24);
  });

  it('dynamic mode has no directory to lose: the same fault follows the chain (0 -> 2) and is served', async () => {
    const c = await setup('dynamic');
    await c.sched.run(() => c.nodes[1]!.isDead(3), c.sched.now + DECISION_BOUND_MS);
    expect(await c.sched.settle(c.read(1, 3, 0))).toBe(23);
    expect(c.nodes[1]!.stats.broadcasts).toBe(0);
  });
});

describe('Ivy, dynamic mode: a dead node on a probable-owner chain', () => {
  it('costs one locate (every live node asked), which finds the owner; a dead owner is reported lost, naming it', async () => {
    // 5 nodes (a majority survives two deaths); page 2 owned by node 0. Node 3 reads it (a copy); node 1 writes it (node 3's copy
    // is invalidated, naming node 1); node 2 writes it (1 -> 2; node 3, holding no copy, is not
    // told). Node 1, which node 3's hint names, dies.
    const c = await started({ nodes: 5, initialOwner: () => 0, ivy: { manager: 'dynamic' } });
    c.checkInvariantEachStep();
    expect(await c.sched.settle(c.read(3, 2, 0))).toBe(0);
    await c.sched.settle(c.write(1, 2, 0, 21));
    await c.sched.settle(c.write(2, 2, 0, 22));
    await c.sched.run(() => false, c.sched.now + 1_200);
    expect(c.nodes[3]!.ownerInfo(2).probableOwner).toBe(1);
    c.kill(1);
    await c.sched.run(() => c.nodes[3]!.isDead(1) && c.nodes[0]!.isDead(1), c.sched.now + DECISION_BOUND_MS);
    const m0 = c.messages.length;
    expect(await c.sched.settle(c.read(3, 2, 0))).toBe(22);
    // Node 3's hint is dead: it asks nodes 0, 2 and 4 (a locate), and node 2 (the owner) serves it.
    expect(c.countSince(m0, ['ping', 'propose'])).toEqual({ locate: 6, request: 2 });
    expect(c.nodes[3]!.stats.broadcasts).toBe(1);
    expect(c.nodes[3]!.ownerInfo(2).probableOwner).toBe(2);
    // Now the owner dies: the page is lost with it, named.
    c.kill(2);
    await c.sched.run(() => c.nodes[0]!.isDead(2) && c.nodes[3]!.isDead(2), c.sched.now + DECISION_BOUND_MS + 500);
    await expectFailure(c, c.write(0, 2, 0, 1), 'DSM_ERR_PAGE_LOST', 2);
    // Node 3's read copy stays readable (the last value written), but can never be written.
    expect(await c.sched.settle(c.read(3, 2, 0))).toBe(22);
    await expectFailure(c, c.write(3, 2, 0, 1), 'DSM_ERR_PAGE_LOST', 2);
  });
});

describe('Ivy: an owner whose manager died', () => {
  it('writes its own read copy in place, invalidating the other copies; a reader it told where the page is still reaches it', async () => {
    // Page 5: manager 2 (5 mod 3), owned by node 0; node 1 takes a read copy, so node 0 holds read rights.
    const c = await started({ nodes: 3, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(0, 5, 0, 50));
    expect(await c.sched.settle(c.read(1, 5, 0))).toBe(50);
    expect(c.pages[0]!.rights(5)).toBe('read');
    c.kill(2);
    // The owner writes its page again although nobody can reach the page's directory any more.
    await c.sched.settle(c.write(0, 5, 0, 51));
    expect(c.pages[0]!.rights(5)).toBe('write');
    expect(c.pages[0]!.readU32(5, 0)).toBe(51);
    expect(c.pages[1]!.rights(5)).toBe('none'); // its copy was invalidated: no stale 50 survives
    // The invalidation named node 0 as the owner: node 1 needs no directory to read the new value.
    expect(await c.sched.settle(c.read(1, 5, 0))).toBe(51);
  });
});

describe('Ivy: survivors\' read copies after the owner died', () => {
  it('stay readable (they hold the last value written) but can never be written; nodes without a copy get PAGE_LOST', async () => {
    // 4 nodes: page 4's manager is node 0; node 2 owns it and writes 44; nodes 1 and 3 read it.
    const c = await started({ nodes: 4, initialOwner: () => 2 });
    await c.sched.settle(c.write(2, 4, 0, 44));
    expect(await c.sched.settle(c.read(1, 4, 0))).toBe(44);
    expect(await c.sched.settle(c.read(3, 4, 0))).toBe(44);
    c.kill(2);
    // Reads of the surviving copies need no fault and see the last value.
    expect(await c.sched.settle(c.read(1, 4, 0))).toBe(44);
    expect(await c.sched.settle(c.read(3, 4, 0))).toBe(44);
    // A node without a copy cannot get one: the copy set died with the owner.
    await expectFailure(c, c.read(0, 4, 0), 'DSM_ERR_PAGE_LOST', 2);
    // A survivor that tries to write is told the page is lost; its copy stays read-only.
    await expectFailure(c, c.write(3, 4, 0, 1), 'DSM_ERR_PAGE_LOST', 2);
    expect(c.pages[3]!.rights(4)).toBe('read');
    expect(c.pages[3]!.readU32(4, 0)).toBe(44);
    expect(c.pages[1]!.rights(4)).toBe('read');
  });
});

describe('Ivy: heartbeat failure detection', () => {
  it('declares a silent node dead within deadAfterMs + a heartbeat + a proposal round, by a majority, and never a live one', async () => {
    const ivy = { heartbeat: true, heartbeatIntervalMs: 500, deadAfterMs: 2_000 };
    const c = new Cluster({ nodes: 3, giveUpMs: 60_000, baseDelayMs: 5, jitterMs: 20, ivy });
    // Ten seconds of heartbeats: nobody is declared dead.
    await c.sched.run(() => false, 10_000);
    for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
    expect(c.nodes[0]!.stats.callsSent.ping).toBeGreaterThan(30);
    // Kill node 2; the transport would take a minute to give up, the heartbeat does not wait for it.
    c.kill(2);
    const t0 = c.sched.now;
    await c.sched.run(() => c.nodes[0]!.isDead(2) && c.nodes[1]!.isDead(2), t0 + 10_000);
    expect(c.nodes[0]!.isDead(2) && c.nodes[1]!.isDead(2)).toBe(true);
    expect(c.sched.now - t0).toBeLessThanOrEqual(2_500 + 100);
    expect(c.nodes[0]!.isDead(1)).toBe(false);
    const dead = c.events.filter((e) => e.e.kind === 'dead');
    expect(dead.length).toBe(2);
    expect(dead[0]!.e.reason).toMatch(/declared dead by a majority: nodes \d, \d/);
    // Faults on pages it manages now fail at once, with no message.
    const m0 = c.messages.filter((m) => m.proc !== 'ping').length;
    await expectFailure(c, c.read(0, 2, 0), 'DSM_ERR_MANAGER_DEAD', 2);
    expect(c.messages.filter((m) => m.proc !== 'ping').length).toBe(m0);
    expect(c.nodes[0]!.stats.nodesDeclaredDead).toBe(1);
  });

  it('a node heard from only through page traffic (never a heartbeat) is still declared dead after a kill: every answer is evidence', async () => {
    const c = new Cluster({ nodes: 3, giveUpMs: GIVE_UP_MS, initialOwner: () => 2, ivy: HEARTBEAT });
    c.onMessage = (m, phase) => (phase === 'send' && m.proc === 'ping' && (m.from === 2 || m.to === 2) ? 'drop' : undefined);
    // Page 2: manager 2, owner 2. Node 0 reads it: node 2's answers are all node 0 ever hears from it.
    expect(await c.sched.settle(c.read(0, 2, 0))).toBe(0);
    expect(c.nodes[0]!.peers().find((p) => p.node === 2)!.status).toBe('up');
    expect(c.nodes[1]!.peers().find((p) => p.node === 2)!.status).toBe('not-up');
    c.kill(2);
    const t0 = c.sched.now;
    await expectFailure(c, c.read(1, 2, 0), 'DSM_ERR_MANAGER_DEAD', 2);
    expect(c.sched.now - t0).toBeLessThanOrEqual(DECISION_BOUND_MS);
    expect(c.nodes[0]!.isDead(2)).toBe(true);
  });

  it('a two-node cluster never declares a death (a majority of 2 is 2): faults on the dead node fail DSM_ERR_NO_QUORUM, its own pages keep working', async () => {
    const c = await started({ nodes: 2, initialOwner: () => 1, ivy: HEARTBEAT });
    await c.sched.settle(c.write(0, 1, 0, 1)); // page 1: manager 1; node 0 becomes its owner
    c.kill(1);
    const t0 = c.sched.now;
    const err = await expectFailure(c, c.read(0, 2, 0), 'DSM_ERR_NO_QUORUM', 1);
    expect(err.message).toMatch(/1 of the 2 nodes needed/);
    // It waits out the whole fault timeout (a suspicion is no verdict: node 1 may yet come back), no longer.
    expect(c.sched.now - t0).toBeGreaterThanOrEqual(IVY_DEFAULTS.faultTimeoutMs);
    expect(c.sched.now - t0).toBeLessThanOrEqual(IVY_DEFAULTS.faultTimeoutMs + 100);
    expect(c.nodes[0]!.isDead(1)).toBe(false);
    expect(c.nodes[0]!.peers()[0]!.status).toBe('suspected');
    // The page it owns with write rights is local: still writable and readable.
    await c.sched.settle(c.write(0, 1, 4, 2));
    expect(await c.sched.settle(c.read(0, 1, 4))).toBe(2);
  });
});

describe('Ivy: nothing hangs', () => {
  it('a fault whose manager never answers (but is not reported unreachable) fails DSM_ERR_FAULT_TIMEOUT within faultTimeoutMs', async () => {
    const c = new Cluster({ nodes: 2, giveUpMs: 10 * 60_000, initialOwner: () => 1 });
    c.kill(1); // requests vanish; the transport would give up only after 10 minutes
    const t0 = c.sched.now;
    const err = await expectFailure(c, c.read(0, 1, 0), 'DSM_ERR_FAULT_TIMEOUT', 1);
    expect(err.message).toMatch(/not up yet|did not answer/);
    expect(c.sched.now - t0).toBeLessThanOrEqual(10_000);
  });

  it('closing a node fails its later faults with DSM_ERR_CLOSED', async () => {
    const c = new Cluster({ nodes: 2, initialOwner: () => 1 });
    c.nodes[0]!.close();
    let err: unknown;
    try {
      await c.sched.settle(c.read(0, 1, 0));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'DSM_ERR_CLOSED' });
  });
});
