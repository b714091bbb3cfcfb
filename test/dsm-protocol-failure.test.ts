/**
 * Node failure in the coherence protocol: a dead owner's pages fail DSM_ERR_PAGE_LOST naming it,
 * a dead manager's pages fail DSM_ERR_MANAGER_DEAD naming it, both within a bound; pages held by
 * live nodes keep working; survivors' read copies stay readable but can never be written again;
 * heartbeats declare a silent node dead within deadAfterMs + heartbeatIntervalMs.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './support/dsm-cluster.js';

const GIVE_UP_MS = 500;

async function expectFailure(c: Cluster, p: Promise<unknown>, code: string, node: number): Promise<void> {
  let err: unknown;
  try {
    await c.sched.settle(p);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code, node });
  expect((err as Error).message).toContain(`node ${node}`);
}

describe('Ivy: a dead owner', () => {
  it('a fault on its page fails DSM_ERR_PAGE_LOST naming it, within the transport give-up time', async () => {
    // 3 nodes: page 3's manager is node 0; node 2 owns pages 3 and 6; node 0 owns the rest.
    const c = new Cluster({ nodes: 3, giveUpMs: GIVE_UP_MS, initialOwner: (p) => (p % 3 === 0 ? 2 : 0) });
    await c.sched.settle(c.write(2, 3, 0, 33));
    c.kill(2);
    const t0 = c.sched.now;
    await expectFailure(c, c.read(1, 3, 0), 'DSM_ERR_PAGE_LOST', 2);
    expect(c.sched.now - t0).toBeLessThanOrEqual(GIVE_UP_MS + 10);
    expect(c.pages[1]!.failures.get(3)).toMatchObject({ code: 'DSM_ERR_PAGE_LOST', node: 2 });
    expect(c.nodes[0]!.isDead(2)).toBe(true); // the manager learned it from the failed serve
    // The manager now answers at once for the dead node's other page: 2 messages, no waiting.
    const t1 = c.sched.now;
    const m0 = c.messages.length;
    await expectFailure(c, c.write(1, 6, 0, 1), 'DSM_ERR_PAGE_LOST', 2);
    expect(c.countSince(m0)).toEqual({ acquire: 2 });
    expect(c.sched.now - t1).toBeLessThanOrEqual(2);
  });

  it('pages held by live nodes keep working', async () => {
    const c = new Cluster({ nodes: 3, giveUpMs: GIVE_UP_MS, initialOwner: (p) => (p % 3 === 0 ? 2 : 0) });
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
    const c = new Cluster({ nodes: 3, giveUpMs: GIVE_UP_MS, baseDelayMs: 10, initialOwner: () => 2 });
    const doomed = c.write(1, 3, 0, 1);
    void doomed.catch(() => undefined);
    await c.sched.run(() => c.messages.some((m) => m.proc === 'serve' && m.kind === 'reply'));
    c.kill(1);
    await expectFailure(c, c.read(0, 3, 0), 'DSM_ERR_PAGE_LOST', 1);
  });

  it('a dead copy holder does not block a write (it is declared dead when its invalidation fails)', async () => {
    const c = new Cluster({ nodes: 4, giveUpMs: GIVE_UP_MS, initialOwner: () => 2 });
    c.checkInvariantEachStep();
    await c.sched.settle(c.read(3, 1, 0));
    await c.sched.settle(c.read(0, 1, 0));
    c.kill(3);
    const t0 = c.sched.now;
    await c.sched.settle(c.write(0, 1, 0, 5));
    expect(c.sched.now - t0).toBeLessThanOrEqual(GIVE_UP_MS + 10);
    expect(c.nodes[2]!.isDead(3)).toBe(true);
    expect(await c.sched.settle(c.read(1, 1, 0))).toBe(5);
  });
});

describe('Ivy: a dead manager', () => {
  it('a fault on a page it manages fails DSM_ERR_MANAGER_DEAD naming it; its owner keeps local access', async () => {
    // Page 5: manager 2 (5 mod 3), owned by node 0.
    const c = new Cluster({ nodes: 3, giveUpMs: GIVE_UP_MS, initialOwner: () => 0 });
    c.kill(2);
    const t0 = c.sched.now;
    await expectFailure(c, c.read(1, 5, 0), 'DSM_ERR_MANAGER_DEAD', 2);
    expect(c.sched.now - t0).toBeLessThanOrEqual(GIVE_UP_MS + 10);
    expect(c.nodes[1]!.isDead(2)).toBe(true);
    // Known dead now: the next fault on another of its pages fails at once, with no message.
    const m0 = c.messages.length;
    await expectFailure(c, c.read(1, 8, 0), 'DSM_ERR_MANAGER_DEAD', 2);
    expect(c.messages.length).toBe(m0);
    // The owner still has its write rights: local accesses need no manager.
    await c.sched.settle(c.write(0, 5, 0, 9));
    expect(c.pages[0]!.readU32(5, 0)).toBe(9);
  });
});

describe('Ivy: an owner whose manager died', () => {
  it('upgrades its own read copy in place, invalidating the other copies; others get MANAGER_DEAD', async () => {
    // Page 5: manager 2 (5 mod 3), owned by node 0; node 1 takes a read copy, so node 0 holds read rights.
    const c = new Cluster({ nodes: 3, giveUpMs: GIVE_UP_MS, initialOwner: () => 0 });
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
    await expectFailure(c, c.read(1, 5, 0), 'DSM_ERR_MANAGER_DEAD', 2);
  });
});

describe('Ivy: survivors\' read copies after the owner died', () => {
  it('stay readable (they hold the last value written) but can never be written; nodes without a copy get PAGE_LOST', async () => {
    // 4 nodes: page 4's manager is node 0; node 2 owns it and writes 44; nodes 1 and 3 read it.
    const c = new Cluster({ nodes: 4, giveUpMs: GIVE_UP_MS, initialOwner: () => 2 });
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
  it('declares a silent node dead within deadAfterMs + heartbeatIntervalMs, and never a live one', async () => {
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
    expect(c.sched.now - t0).toBeLessThanOrEqual(2_500);
    expect(c.nodes[0]!.isDead(1)).toBe(false);
    // Faults on pages it manages now fail at once, with no message.
    const m0 = c.messages.filter((m) => m.proc !== 'ping').length;
    await expectFailure(c, c.read(0, 2, 0), 'DSM_ERR_MANAGER_DEAD', 2);
    expect(c.messages.filter((m) => m.proc !== 'ping').length).toBe(m0);
    expect(c.nodes[0]!.stats.nodesDeclaredDead).toBe(1);
  });

  it('uses the defaults: declared dead within 3 s', async () => {
    const c = new Cluster({ nodes: 2, giveUpMs: 60_000, ivy: { heartbeat: true } });
    await c.sched.run(() => false, 1_000);
    c.kill(1);
    const t0 = c.sched.now;
    await c.sched.run(() => c.nodes[0]!.isDead(1), t0 + 10_000);
    expect(c.nodes[0]!.isDead(1)).toBe(true);
    expect(c.sched.now - t0).toBeLessThanOrEqual(3_000);
  });
});

describe('Ivy: nothing hangs', () => {
  it('a fault whose manager never answers (but is not reported unreachable) fails DSM_ERR_FAULT_TIMEOUT within faultTimeoutMs', async () => {
    const c = new Cluster({ nodes: 2, giveUpMs: 10 * 60_000, initialOwner: () => 1 });
    c.kill(1); // requests vanish; the transport would give up only after 10 minutes
    const t0 = c.sched.now;
    await expectFailure(c, c.read(0, 1, 0), 'DSM_ERR_FAULT_TIMEOUT', 1);
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
