/**
 * Peer input is hostile (review 14, item 3), on the simulated cluster with the default timings:
 * answers and arguments that name non-members, losses with live nodes, or epochs no node handed
 * out are refused or dropped, counted (protocolErrors), and leave no state behind that would
 * break a later fault: no route to a non-member, no false loss, no epoch that makes every later
 * grant stale or pushes an owner's grant numbers past uint32. A grant that keeps arriving stale is
 * asked for again after a pause, not once per round trip.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './support/dsm-cluster.js';
import { DECISION_BOUND_MS, outcome, startedCluster, viewOf } from './support/ivy-scenarios.js';
import { IVY_DEFAULTS } from '../dsm/protocol/index.js';
import { Holding, Outcome, Want, type Grant, type Where } from '../dsm/protocol/ivy.stubs.js';

const MAX_U32 = 0xffffffff;

const started = (o: ConstructorParameters<typeof Cluster>[0]): Promise<Cluster> => startedCluster(o, false);

/** Replaces node `id`'s handler of `proc` (the cluster dispatches to the node's handler table at each call). */
function replaceHandler(c: Cluster, id: number, proc: 'request' | 'locate', fn: (...args: never[]) => unknown): () => void {
  const h = c.nodes[id]!.handlers as unknown as Record<string, unknown>;
  const orig = h[proc];
  h[proc] = fn;
  return () => {
    h[proc] = orig;
  };
}

describe('epochs a peer names', () => {
  it('an invalidation sent to the owner naming a copy epoch above any it granted is refused and counted; the owner keeps granting', async () => {
    // 3 nodes; page 3: owner (and manager) node 0.
    const c = await started({ nodes: 3 });
    c.checkInvariantEachStep();
    const before = c.nodes[0]!.stats.protocolErrors;
    const r = await outcome(c, Promise.resolve().then(() => c.nodes[0]!.handlers.invalidate(viewOf(3, 2), 3, MAX_U32 - 1, 2, MAX_U32, { peer: 'node2', callId: 'x' })));
    expect(r).toMatchObject({ ok: false, code: 'DSM_ERR_INTERNAL', message: expect.stringMatching(/names copy epoch 4294967294, but node 0 owns the page/) });
    expect(c.nodes[0]!.stats.protocolErrors - before).toBe(1);
    expect(c.nodes[0]!.owns(3)).toBe(true);
    // Two read copies (two grants, two epochs), then a transfer: all numbered as before.
    expect(await c.sched.settle(c.read(1, 3, 0))).toBe(0);
    expect(await c.sched.settle(c.read(2, 3, 0))).toBe(0);
    await c.sched.settle(c.write(1, 3, 0, 7));
    expect(c.nodes[1]!.ownerInfo(3).knownEpoch).toBeLessThan(10);
  });

  it('an invalidation whose transfer is not after the copy it names is refused and counted', async () => {
    const c = await started({ nodes: 3 });
    const before = c.nodes[1]!.stats.protocolErrors;
    const r = await outcome(c, Promise.resolve().then(() => c.nodes[1]!.handlers.invalidate(viewOf(3, 0), 3, 5, 0, 5, { peer: 'node0', callId: 'x' })));
    expect(r).toMatchObject({ ok: false, code: 'DSM_ERR_INTERNAL', message: expect.stringMatching(/names transfer 5, not after the copy it invalidates/) });
    expect(c.nodes[1]!.stats.protocolErrors - before).toBe(1);
  });

  it('an invalidation naming a huge copy epoch, sent to a node not asking for the page, does not make its later grants stale', async () => {
    const c = await started({ nodes: 3 });
    c.checkInvariantEachStep();
    const r = await outcome(c, Promise.resolve().then(() => c.nodes[1]!.handlers.invalidate(viewOf(3, 2), 3, MAX_U32 - 1, 2, MAX_U32, { peer: 'node2', callId: 'x' })));
    expect(r.ok).toBe(true);
    expect(await outcome(c, c.read(1, 3, 0))).toEqual({ ok: true, value: 0 });
    expect(c.nodes[1]!.stats.staleGrants).toBe(0);
    await c.sched.settle(c.write(1, 3, 0, 8));
    expect(await c.sched.settle(c.read(0, 3, 0))).toBe(8);
  });

  it('a request naming a huge transfer (expect) to a node that is not faulting is answered NotInstalled and leaves no trace there', async () => {
    const c = await started({ nodes: 3 });
    c.checkInvariantEachStep();
    const g = await c.sched.settle(Promise.resolve(c.nodes[1]!.handlers.request(viewOf(3, 2), 3, Want.Read, 0, false, MAX_U32, undefined, { peer: 'node2', callId: 'x' })));
    expect(g).toMatchObject({ outcome: Outcome.NotInstalled, epoch: MAX_U32, node: 1 });
    expect(await outcome(c, c.read(1, 3, 0))).toEqual({ ok: true, value: 0 });
    expect(c.nodes[1]!.stats.staleGrants).toBe(0);
  });

  it('grants that keep arriving stale are asked for again after a pause, not once per round trip, until the fault times out', async () => {
    const c = await started({ nodes: 3 });
    // Node 0 answers every request with a grant numbered 0 (never newer than anything: stale).
    replaceHandler(c, 0, 'request', (): Grant => ({ view: viewOf(3, 0), outcome: Outcome.Granted, epoch: 0, data: new Uint8Array(64) }));
    const sent0 = c.nodes[1]!.stats.callsSent.request;
    const r = await outcome(c, c.read(1, 3, 0));
    const sent = c.nodes[1]!.stats.callsSent.request - sent0;
    // At most one request per 20 ms pause (plus the first retry at once) over the 10 s deadline.
    expect(sent).toBeGreaterThan(100);
    expect(sent).toBeLessThanOrEqual(IVY_DEFAULTS.faultTimeoutMs / 20 + 2);
    expect(r).toMatchObject({ ok: false, code: 'DSM_ERR_FAULT_TIMEOUT' });
  });
});

describe('nodes a peer names', () => {
  it('a PageLost answer naming a live node is refused: the fault fails DSM_ERR_INTERNAL naming the answerer, and nothing is marked lost', async () => {
    const c = await started({ nodes: 3 });
    c.checkInvariantEachStep();
    const restore = replaceHandler(c, 0, 'request', (): Grant => ({ view: viewOf(3, 0), outcome: Outcome.PageLost, epoch: 0, node: 2 }));
    const before = c.nodes[1]!.stats.protocolErrors;
    const r = await outcome(c, c.read(1, 3, 0));
    expect(r).toMatchObject({ ok: false, code: 'DSM_ERR_INTERNAL', node: 0, message: expect.stringMatching(/lost with node 2, which is not declared dead/) });
    expect(c.nodes[1]!.stats.protocolErrors - before).toBe(1);
    expect(c.nodes[1]!.ownerInfo(3).lost).toBeUndefined();
    restore();
    // The next fault is served, and node 1 answers nobody that the page is lost.
    expect(await outcome(c, c.read(1, 3, 0))).toEqual({ ok: true, value: 0 });
    expect(c.nodes[1]!.ownerInfo(3).lost).toBeUndefined();
  });

  it('locate answers naming a non-member owner, or a loss with a live node, are counted and dropped: the owner is found, and later faults still reach it', async () => {
    // Dynamic mode, 5 nodes; page 2 owned by node 0. Node 3 reads it; node 1 writes it (node 3's
    // copy is invalidated, naming node 1); node 2 writes it. Node 1 dies: node 3's next read runs
    // into it and asks everyone (a locate). Node 4 answers that the owner is node 9999 as of epoch
    // 2^32 - 1; node 0 answers that the page is lost with node 4 (alive).
    const c = await started({ nodes: 5, initialOwner: () => 0, ivy: { manager: 'dynamic' } });
    c.checkInvariantEachStep();
    expect(await c.sched.settle(c.read(3, 2, 0))).toBe(0);
    await c.sched.settle(c.write(1, 2, 0, 21));
    await c.sched.settle(c.write(2, 2, 0, 22));
    await c.sched.run(() => false, c.sched.now + 1_200);
    c.kill(1);
    await c.sched.run(() => [0, 2, 3, 4].every((n) => c.nodes[n]!.isDead(1)), c.sched.now + DECISION_BOUND_MS);
    replaceHandler(c, 4, 'locate', (): Where => ({ view: viewOf(5, 4, 'dynamic', [1]), holding: Holding.None, epoch: 0, installed: 0, known: 9999, knownEpoch: MAX_U32 }));
    replaceHandler(c, 0, 'locate', (): Where => ({ view: viewOf(5, 0, 'dynamic', [1]), holding: Holding.Lost, epoch: 0, node: 4, installed: 0, known: 0, knownEpoch: 0 }));
    const before = c.nodes[3]!.stats.protocolErrors;
    expect(await outcome(c, c.read(3, 2, 0))).toEqual({ ok: true, value: 22 });
    expect(c.nodes[3]!.stats.broadcasts).toBe(1);
    expect(c.nodes[3]!.stats.protocolErrors - before).toBe(2);
    expect(c.nodes[3]!.ownerInfo(2)).toMatchObject({ probableOwner: 2, known: 2, lost: undefined });
    // The owner writes again (node 3's copy is invalidated); node 3's next read goes to it.
    await c.sched.settle(c.write(2, 2, 0, 23));
    expect(await outcome(c, c.read(3, 2, 0))).toEqual({ ok: true, value: 23 });
  });
});
