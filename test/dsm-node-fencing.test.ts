/**
 * The failure model across real node processes on loopback UDP, with the default options
 * (heartbeat every 500 ms, a peer silent for 2,000 ms suspected, a majority to declare it dead):
 * a reader stopped (SIGSTOP) past deadAfterMs while another node writes its page is fenced and,
 * after SIGCONT, never reads what sequential consistency forbids and gets DSM_ERR_EVICTED; a
 * partition {1} | {2, 3} leaves node 1 unable to write what needs the others and gets it fenced;
 * nodes started 2 s apart wait for each other; waiters on a lock whose holder is killed are told
 * so, naming it; two nodes with different page counts refuse each other at startup.
 *
 * Placement with 3 nodes and 1024 pages: node 1 owns pages 1..341, node 2 342..682, node 3
 * 683..1023; page p is managed by [1, 2, 3][p mod 3] (checked with managerOf below).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../demos/cluster.js';
import { freePorts, killAllNodes, managerOf, pollUntil, spawnNode, startNodes, type DsmProc } from './support/dsm-procs.js';
import { PairRelay } from './support/udp-relay.js';

afterEach(killAllNodes);

const IDS = [1, 2, 3];
const PAGE = 4096;
/** From a silence (kill, pause, cut) to the decision: deadAfterMs + a heartbeat + a proposal round, plus slack for a loaded machine. */
const DECISION_BOUND_MS = 2_000 + 500 + 2_000;

type Value = { value: number } | { error: { code: string; node?: number; message: string } };

const read32 = (p: DsmProc, addr: number): Promise<number> => p.call<number>({ cmd: 'read32', addr });
const write32 = (p: DsmProc, addr: number, value: number): Promise<null> => p.call<null>({ cmd: 'write32', addr, value });

/** An address in `owner`'s pages whose manager is not `avoid`. */
async function addressAvoiding(p: DsmProc, avoid: number): Promise<number> {
  for (;;) {
    const a = await p.call<number>({ cmd: 'alloc', bytes: PAGE });
    if (managerOf(IDS, Math.floor(a / PAGE)) !== avoid) return a;
  }
}

describe('DSM processes: a wrong suspicion never breaks consistency', () => {
  it('a reader stopped past deadAfterMs while another node writes is fenced; after SIGCONT it never sees F=1 with X=0, and gets DSM_ERR_EVICTED', async () => {
    const [n1, n2, n3] = (await startNodes(3)) as [DsmProc, DsmProc, DsmProc];
    const X = await addressAvoiding(n1, 3); // node 1's page
    const F = await addressAvoiding(n2, 3); // node 2's page
    expect([await read32(n3, X), await read32(n3, F)]).toEqual([0, 0]); // node 3 holds read copies of both
    const stoppedAt = Date.now();
    n3.child.kill('SIGSTOP');
    try {
      // Node 1 stores X = 1 then F = 1 (message passing): both writes must get past node 3's copies.
      await write32(n1, X, 1);
      const fence = await n1.waitForEvent((e) => e.kind === 'dead' && e.node === 3, 1_000);
      const fencedAfterMs = Date.now() - stoppedAt;
      expect(fence.reason).toMatch(/declared dead by a majority/);
      expect(fencedAfterMs).toBeGreaterThanOrEqual(2_000);
      expect(fencedAfterMs).toBeLessThan(2_000 + DECISION_BOUND_MS);
      await write32(n1, F, 1);
    } finally {
      n3.child.kill('SIGCONT');
    }
    // Node 3 reads F then X at once: its old copies (0, 0), or refusals, never F = 1 with X = 0.
    const [f, x] = await n3.call<[Value, Value]>({ cmd: 'read32s', addrs: [F, X] });
    expect('value' in f && f.value === 1 && 'value' in x && x.value === 0).toBe(false);
    // It learns it was fenced on its next network access (or heartbeat), naming who refused it.
    const fenced = await n3.waitForEvent((e) => e.kind === 'fenced', 5_000);
    expect([1, 2]).toContain(fenced.node);
    const after = await n3.send({ cmd: 'read32', addr: F });
    expect(after).toMatchObject({ ok: false, error: { code: 'DSM_ERR_EVICTED' } });
    if (!after.ok) expect(after.error.message).toMatch(/declared dead by a majority and is fenced/);
    // The survivors carry on, and see the writes.
    expect(await read32(n2, X)).toBe(1);
    expect(await read32(n2, F)).toBe(1);
  });
});

describe('DSM processes: partitions, late starts, dead lock holders, mismatches', () => {
  it('partition {1} | {2, 3}: node 1 cannot write what needs the others, 2 and 3 fence it and go on; after the heal node 1 is evicted and its write never happened', async () => {
    const ports = await freePorts(3);
    const relays = new Map<string, PairRelay>();
    for (const [a, b] of [[1, 2], [1, 3], [2, 3]] as const) relays.set(`${a}${b}`, await PairRelay.start(ports[a - 1]!, ports[b - 1]!));
    const peersOf = (id: number): string => IDS.filter((j) => j !== id).map((j) => {
      const [a, b] = id < j ? [id, j] : [j, id];
      const r = relays.get(`${a}${b}`)!;
      return `${j}@${id === a ? r.addressForA : r.addressForB}`;
    }).join(',');
    try {
      const [n1, n2, n3] = await Promise.all(IDS.map((id) => spawnNode(id, ports[id - 1]!, peersOf(id)))) as [DsmProc, DsmProc, DsmProc];
      await n1.waitForEvent((e) => e.kind === 'majority-up', 5_000);
      const Y = await addressAvoiding(n1, 1); // node 1's page, managed by 2 or 3
      await write32(n1, Y, 5);
      expect(await read32(n2, Y)).toBe(5); // node 2 holds a copy
      const Z = await addressAvoiding(n2, 1); // node 2's page, managed by 2 or 3
      expect(await read32(n1, Z)).toBe(0); // node 1 holds a copy
      relays.get('12')!.open = false;
      relays.get('13')!.open = false;
      // The minority tries to write Y, which needs node 2's copy invalidated: node 1 alone can
      // never declare node 2 dead, so the write cannot go ahead while the partition lasts.
      const minority = n1.send({ cmd: 'write32', addr: Y, value: 6 }, 30_000);
      let minorityDone = false;
      void minority.then(() => (minorityDone = true));
      // The majority decides, skips node 1's copy of Z and writes it.
      await write32(n2, Z, 7);
      await n3.waitForEvent((e) => e.kind === 'dead' && e.node === 1, DECISION_BOUND_MS);
      await new Promise((r) => setTimeout(r, 500));
      expect(minorityDone).toBe(false);
      relays.get('12')!.open = true;
      relays.get('13')!.open = true;
      // After the heal node 1 learns it was fenced: its write never happened.
      expect(await minority).toMatchObject({ ok: false, error: { code: 'DSM_ERR_EVICTED' } });
      await n1.waitForEvent((e) => e.kind === 'fenced', 5_000);
      expect(n1.events.some((e) => e.kind === 'dead')).toBe(false);
      expect(await n1.send({ cmd: 'read32', addr: Z })).toMatchObject({ ok: false, error: { code: 'DSM_ERR_EVICTED' } });
      expect(await read32(n3, Z)).toBe(7);
      // Node 1's page is lost with it for the majority; node 2's copy still reads the last value written.
      expect(await read32(n2, Y)).toBe(5);
    } finally {
      await Promise.all([...relays.values()].map((r) => r.close()));
    }
  });

  it('nodes started 2 s apart: a fault on a node not started yet waits and succeeds; each reports when a majority is up; nobody is declared dead', async () => {
    const ports = await freePorts(3);
    const peers = (id: number) => IDS.filter((j) => j !== id).map((j) => `${j}@127.0.0.1:${ports[j - 1]}`).join(',');
    const n1 = await spawnNode(1, ports[0]!, peers(1));
    const page = 684; // node 3's page, managed by node 1 (684 mod 3 = 0)
    expect(managerOf(IDS, page)).toBe(1);
    const t0 = Date.now();
    // Node 1's application thread blocks in this fault until node 3 is up (its events wait too:
    // the application thread prints them).
    const early = n1.call<number>({ cmd: 'read32', addr: page * PAGE }, 20_000);
    early.catch(() => undefined); // awaited below; not an unhandled rejection if the test fails first
    await new Promise((r) => setTimeout(r, 2_000));
    const n2 = await spawnNode(2, ports[1]!, peers(2));
    await n2.waitForEvent((e) => e.kind === 'majority-up', 5_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const n3 = await spawnNode(3, ports[2]!, peers(3));
    expect(await early).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
    // Node 1 reported a majority when node 2 came up, before node 3 did.
    const majority = await n1.waitForEvent((e) => e.kind === 'majority-up', 5_000);
    const three = await n1.waitForEvent((e) => e.kind === 'up' && e.node === 3, 5_000);
    expect(majority.at!).toBeLessThan(three.at!);
    expect(majority.reason).toBe('2 of 3 nodes are up (a majority is 2)');
    await n3.waitForEvent((e) => e.kind === 'majority-up', 5_000);
    await write32(n3, page * PAGE, 3);
    expect(await read32(n1, page * PAGE)).toBe(3);
    expect(await read32(n2, page * PAGE)).toBe(3);
    for (const n of [n1, n2, n3]) expect(n.events.filter((e) => e.kind === 'dead' || e.kind === 'fenced' || e.kind === 'suspected')).toEqual([]);
  });

  it('a lock holder killed while two others wait: each waiter gets DSM_ERR_LOCK_HOLDER_DEAD naming it, within the failure bound', async () => {
    const [n1, n2, n3] = (await startNodes(3)) as [DsmProc, DsmProc, DsmProc];
    const lock = await addressAvoiding(n1, 2);
    await n2.call({ cmd: 'lock', addr: lock });
    expect(await read32(n1, lock)).toBe(2 + 1); // the lock word names its holder
    const waiters = [n1, n3].map((n) => n.send({ cmd: 'lock', addr: lock, timeoutMs: 30_000 }, 40_000));
    // Wait (bounded) until a waiter has taken the lock page from its holder and read the holder's
    // mark: before that, the page would die with node 2 and the waiters would see PAGE_LOST.
    const page = Math.floor(lock / PAGE);
    await pollUntil(async () => {
      const tables = await Promise.all([n1, n3].map((n) => n.call<{ rights: string }>({ cmd: 'page-table' })));
      return tables.some((t) => t.rights[page] === 'W') ? true : undefined;
    }, 'a waiter holding the lock page', 10_000);
    const killedAt = Date.now();
    await n2.kill();
    for (const a of await Promise.all(waiters)) {
      expect(a).toMatchObject({ ok: false, error: { code: 'DSM_ERR_LOCK_HOLDER_DEAD', node: 2 } });
      if (!a.ok) expect(a.error.message).toMatch(/held by node 2, which was declared dead while holding it/);
    }
    expect(Date.now() - killedAt).toBeLessThan(DECISION_BOUND_MS + 1_000);
  });

  it('two nodes with different page counts refuse each other at first contact: a startup error on both sides (exit 1, saying what differs)', async () => {
    const [p1, p2] = await freePorts(2);
    const a = await spawnNode(1, p1!, `2@127.0.0.1:${p2}`, { pages: 1024 });
    const b = await spawnNode(2, p2!, `1@127.0.0.1:${p1}`, { pages: 2048 });
    for (const n of [a, b]) {
      const { code } = await n.exited;
      expect(code, `node ${n.id}`).toBe(1);
      expect(n.stderr()).toMatch(/disagree on the cluster: .*1024 pages.*2048|disagree on the cluster: .*2048 pages.*1024/);
    }
  });
});

describe('pagewire node (without --control) says what it learns about its peers', () => {
  it('prints peer up and "a majority is up", then, after a peer is SIGKILLed, suspected and dead (by a majority)', async () => {
    const ports = await freePorts(3);
    const procs: ChildProcess[] = [];
    const lines: string[][] = [[], [], []];
    const waiters: (() => void)[] = [];
    try {
      for (const id of IDS) {
        const peers = IDS.filter((j) => j !== id).map((j) => `${j}@127.0.0.1:${ports[j - 1]}`).join(',');
        const child = spawn(process.execPath, [CLI, 'node', '--id', String(id), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peers', peers], { stdio: ['ignore', 'pipe', 'pipe'] });
        procs.push(child);
        createInterface({ input: child.stdout! }).on('line', (l) => {
          lines[id - 1]!.push(l);
          for (const w of waiters.splice(0)) w();
        });
      }
      const seen = (id: number, re: RegExp, timeoutMs: number): Promise<string> => new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`node ${id} printed no line matching ${re} within ${timeoutMs} ms: ${JSON.stringify(lines[id - 1])}`)), timeoutMs);
        const check = (): void => {
          const l = lines[id - 1]!.find((x) => re.test(x));
          if (l !== undefined) {
            clearTimeout(t);
            resolve(l);
          } else waiters.push(check);
        };
        check();
      });
      await seen(1, /^node 1: peer 2 up \(first contact\)$/, 10_000);
      await seen(1, /^node 1: peer 3 up \(first contact\)$/, 10_000);
      await seen(1, /^node 1: a majority is up: [23] of 3 nodes are up \(a majority is 2\)$/, 10_000);
      await seen(3, /^node 3: peer 1 up/, 10_000);
      procs[2]!.kill('SIGKILL');
      await seen(1, /^node 1: peer 3 suspected: /, DECISION_BOUND_MS);
      const dead = await seen(1, /^node 1: peer 3 dead: /, DECISION_BOUND_MS);
      expect(dead).toMatch(/declared dead by a majority|learned from node 2/);
      expect(dead).toMatch(/refused from now on$/);
      await seen(2, /^node 2: peer 3 dead: /, DECISION_BOUND_MS);
      expect(lines[0]!.concat(lines[1]!).some((l) => /FENCED/.test(l))).toBe(false);
    } finally {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  });
});
