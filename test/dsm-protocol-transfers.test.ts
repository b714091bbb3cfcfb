/**
 * Unconfirmed ownership transfers (owner.ts, "Ownership transfer is atomic") on the simulated
 * cluster with the default timings: a previous owner that handed a page to X under transfer T,
 * which X never installed, sends every later requester to X naming T, so the first of them brings
 * X's NotInstalled claim back and the page is taken back and served; nobody is sent round a cycle
 * of guesses (a writer that died on its way to X, the previous owner's own write fault), and a
 * walk that started from a guess keeps the transfer a previous owner named. A grant that cannot be
 * installed locally (the store's install throws) leaves no trace: the fault asks again below the
 * transfer, and the previous owner takes the page back before serving it anew.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './support/dsm-cluster.js';
import { DECISION_BOUND_MS, startedCluster, viewOf } from './support/ivy-scenarios.js';
import type { ManagerMode } from '../dsm/protocol/index.js';
import { Outcome, Want } from '../dsm/protocol/ivy.stubs.js';


const started = (o: ConstructorParameters<typeof Cluster>[0]): Promise<Cluster> => startedCluster(o);

/**
 * Node `to` serves a write request of node `from` whose reply `from` never takes: `from`'s fault
 * ended (it timed out) just as `to` handed the page over, so the transfer stays unconfirmed and
 * `from` never installs it.
 */
async function handOverUnseen(c: Cluster, mode: ManagerMode, to: number, from: number, page: number): Promise<number> {
  const g = await c.sched.settle(Promise.resolve(c.nodes[to]!.handlers.request(viewOf(c.ids.length, from, mode), page, Want.Write, 0, false, 0, undefined, { peer: `node${from}`, callId: 'unseen' })));
  expect(g.outcome).toBe(Outcome.Granted);
  expect(c.nodes[to]!.ownerInfo(page).handedTo).toBe(from);
  return g.epoch;
}

async function failureOf(c: Cluster, p: Promise<unknown>): Promise<string | undefined> {
  try {
    await c.sched.settle(p);
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe.each(['fixed', 'dynamic'] as const)('an unconfirmed transfer is settled by the next requester (%s manager)', (mode) => {
  it('a writer sent on to the new owner dies on the way: later readers are sent to the new owner naming the transfer, and are served (review 14, item 1, scenario A)', async () => {
    // 4 nodes; page 4: manager 0, owner Y = 0. Y hands it to X = 1 under T, which X never installs.
    // W = 2 write-faults, reaches Y (Y sends it on to X, naming T, and guesses W will own the page)
    // and dies before reaching X. Q = 3 then reads.
    const c = await started({ nodes: 4, initialOwner: () => 0, ivy: { manager: mode } });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(0, 4, 0, 41));
    await handOverUnseen(c, mode, 0, 1, 4);
    c.onMessage = (m, phase) => {
      if (phase === 'send' && m.proc === 'request' && m.kind === 'reply' && m.from === 0 && m.to === 2) c.kill(2);
    };
    void c.write(2, 4, 0, 99).catch(() => undefined);
    await c.sched.run(() => c.killed.has(2), c.sched.now + 1_000);
    c.onMessage = undefined;
    await c.sched.run(() => [0, 1, 3].every((n) => c.nodes[n]!.isDead(2)), c.sched.now + DECISION_BOUND_MS);
    // Q is served the value Y wrote: Y sends it to X naming T, X says it never installed T, and Y
    // takes the page back and serves Q. No locate: the dead writer is never named.
    expect(await failureOf(c, c.read(3, 4, 0))).toBeUndefined();
    expect(c.pages[3]!.readU32(4, 0)).toBe(41);
    expect(c.nodes[3]!.stats.broadcasts).toBe(0);
    expect(c.nodes[0]!.stats.pagesTakenBack).toBe(1);
    expect(c.nodes[0]!.stats.retainedPages).toBe(0);
    // And the page moves on as usual.
    await c.sched.settle(c.write(1, 4, 0, 42));
    expect(await c.sched.settle(c.read(3, 4, 0))).toBe(42);
  });

  it('the previous owner\'s own write fault on the page it handed does not make it send readers to itself (review 14, item 1, scenario B)', async () => {
    // Y = 0 hands page 4 to X = 1 under T (X never installs it). Y then write-faults: X sends it
    // back to Y, Y's owner role sends it to X naming T, and from then on X and Y cannot hear each
    // other (X is alive for everyone else, so nobody declares it dead) until Y's fault times out.
    const c = await started({ nodes: 4, initialOwner: () => 0, ivy: { manager: mode } });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(0, 4, 0, 51));
    await handOverUnseen(c, mode, 0, 1, 4);
    let cut = false;
    c.onMessage = (m, phase) => {
      if (phase === 'deliver' && m.proc === 'request' && m.kind === 'reply' && m.from === 1 && m.to === 0) cut = true;
      if (phase === 'send' && cut && ((m.from === 0 && m.to === 1) || (m.from === 1 && m.to === 0))) return 'drop';
      return undefined;
    };
    const code = await failureOf(c, c.write(0, 4, 0, 52));
    expect(['DSM_ERR_FAULT_TIMEOUT', 'DSM_ERR_NO_QUORUM']).toContain(code);
    expect(cut).toBe(true);
    expect(c.nodes[0]!.deadNodes).toEqual([]);
    c.onMessage = undefined;
    await c.sched.run(() => false, c.sched.now + 1_200);
    // Q = 3 reads: Y sends it to X naming T; X never installed it; Y takes the page back and serves Q.
    expect(await failureOf(c, c.read(3, 4, 0))).toBeUndefined();
    expect(c.pages[3]!.readU32(4, 0)).toBe(51);
    expect(c.nodes[3]!.stats.broadcasts).toBe(0);
    expect(c.nodes[0]!.stats.pagesTakenBack).toBe(1);
    await c.sched.settle(c.write(0, 4, 0, 53));
    expect(await c.sched.settle(c.read(3, 4, 0))).toBe(53);
  });
});

describe('a walk that started from a guess', () => {
  it('keeps the transfer a previous owner named in its Redirect: it goes to the new owner with it, no locate (review 14, item 1, requester)', async () => {
    // Dynamic mode, 4 nodes, page 4 owned by R = 3. G = 2 writes it (3 -> 2, confirmed); W = 1
    // writes it: W asks R, which sends it on to G and guesses W (R's route is now a guess); G hands
    // it to W (confirmed). W then hands it to X = 0 under T, which X never installs. R reads: its
    // guess W is right about where the page went: W sends R on to X naming T.
    const c = await started({ nodes: 4, initialOwner: () => 3, ivy: { manager: 'dynamic' } });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(2, 4, 0, 11));
    await c.sched.run(() => false, c.sched.now + 1_200);
    await c.sched.settle(c.write(1, 4, 0, 12));
    await c.sched.run(() => false, c.sched.now + 1_200);
    expect(c.nodes[3]!.ownerInfo(4)).toMatchObject({ probableOwner: 1, known: 2 });
    await handOverUnseen(c, 'dynamic', 1, 0, 4);
    const m0 = c.messages.length;
    expect(await c.sched.settle(c.read(3, 4, 0))).toBe(12);
    // R -> W (Redirect to X, T), R -> X (NotInstalled), R -> W with the claim (W takes it back and serves).
    expect(c.countSince(m0, ['ping'])).toEqual({ request: 6 });
    expect(c.nodes[3]!.stats.broadcasts).toBe(0);
    expect(c.nodes[1]!.stats.pagesTakenBack).toBe(1);
  });
});

describe('a grant the local store cannot install (review 14, item 2)', () => {
  /**
   * Page 4 owned by Y = 0; X = 1 holds a read copy, and the owner's copy set names a later grant
   * than the one X installed (a late copy of X's read request was served), so X's write fault is
   * granted with the contents, over X's read copy: the grant PageStore.install refuses when an app
   * thread stays inside an access for installSpinMs. X's store refuses the first `refusals` such
   * installs, as PageStore does (rights left as they were).
   */
  async function refusingWriter(refusals: number) {
    const c = await started({ nodes: 4, initialOwner: () => 0 });
    c.checkInvariantEachStep();
    await c.sched.settle(c.write(0, 4, 0, 61));
    expect(await c.sched.settle(c.read(1, 4, 0))).toBe(61);
    const late = await c.sched.settle(Promise.resolve(c.nodes[0]!.handlers.request(viewOf(4, 1, 'fixed'), 4, Want.Read, 0, false, 0, undefined, { peer: 'node1', callId: 'late' })));
    expect(late.outcome).toBe(Outcome.Granted);
    const x = c.pages[1]!;
    const install = x.install.bind(x);
    let refused = 0;
    x.install = (page, data, rights) => {
      if (page === 4 && data !== null && rights === 'write' && refused < refusals) {
        refused++;
        throw Object.assign(new Error('install(page 4): app threads stayed inside an access for more than 200 ms'), { code: 'DSM_ERR_FAULT_TIMEOUT' });
      }
      install(page, data, rights);
    };
    const owners = () => c.ids.filter((n) => c.nodes[n]!.owns(4));
    return { c, owners, refusedSoFar: () => refused };
  }

  it('is refused once: the fault asks again, the previous owner takes the page back and serves it anew; one owner throughout', async () => {
    const { c, owners, refusedSoFar } = await refusingWriter(1);
    const step = c.sched.afterStep!;
    c.sched.afterStep = () => {
      step();
      if (owners().length > 1) throw new Error(`two owners of page 4 at t=${c.sched.now}: ${owners().join(', ')}`);
    };
    const failed = await failureOf(c, c.write(1, 4, 0, 62));
    expect(refusedSoFar()).toBe(1);
    const afterWrite = owners();
    const takenBack = c.nodes[0]!.stats.pagesTakenBack;
    await c.sched.run(() => c.nodes[0]!.stats.retainedPages === 0, c.sched.now + 1_200);
    const retained = c.nodes[0]!.stats.retainedPages;
    // The page moves on from X to Q = 3, and a reader R = 2 asking the previous owner Y finds it.
    // (Had X taken the ownership of the grant it never installed, Y, asked about that transfer,
    // would hear NotInstalled from X and take the page back while Q owns it: two owners.)
    await c.sched.settle(c.write(3, 4, 0, 63));
    await c.sched.run(() => false, c.sched.now + 1_200); // Q's confirmation reaches X
    expect(await c.sched.settle(c.read(2, 4, 0))).toBe(63);
    expect(owners()).toEqual([3]);
    expect({ failed, afterWrite, takenBack, retained }).toEqual({ failed: undefined, afterWrite: [1], takenBack: 1, retained: 0 });
  });

  it('refused until the deadline: the fault fails DSM_ERR_FAULT_TIMEOUT saying why, X never owns it, and the next requester gets the page back from Y', async () => {
    const { c, owners } = await refusingWriter(Number.POSITIVE_INFINITY);
    let err: unknown;
    try {
      await c.sched.settle(c.write(1, 4, 0, 62));
    } catch (e) {
      err = e;
    }
    // X owns nothing it did not install (taking the ownership first left X owning the page with
    // its old read copy while Y still kept the transfer, ready to take it back on X's NotInstalled).
    expect({ xOwns: c.nodes[1]!.owns(4), handedTo: c.nodes[0]!.ownerInfo(4).handedTo, owners: owners() }).toEqual({ xOwns: false, handedTo: 1, owners: [] });
    expect(err).toMatchObject({ code: 'DSM_ERR_FAULT_TIMEOUT', message: expect.stringContaining('could not be installed here: install(page 4): app threads stayed inside an access') });
    // Q = 3 asks Y, which sends it to X naming the last transfer; X never installed it; Y takes
    // the page back and serves Q the value it held.
    expect(await c.sched.settle(c.read(3, 4, 0))).toBe(61);
    expect(owners()).toEqual([0]);
  });
});
