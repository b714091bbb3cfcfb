/**
 * Keyed DSM clusters of real node processes on loopback, with the default options (startNodes
 * gives every cluster a fresh key, as the demos do):
 * - an outsider without the key throws random, replayed, bit-flipped, forged and clear-text
 *   datagrams, spoofed from each node's address and from its own, at two nodes doing real work
 *   (lock-protected increments of one shared counter): every increment lands, nobody is
 *   suspected, the nodes count the drops;
 * - a node started with another key is refused: its first remote access fails
 *   DSM_ERR_UNAUTHENTICATED saying so, its peers log and count its datagrams, the cluster works on;
 * - a key holder that authenticates as node 2 but calls from node 3's address (claiming to be
 *   node 3) is refused RPC_ERR_UNAUTHENTICATED, counted; node 3's own key is accepted there.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeyFile, startNode } from '../demos/cluster.js';
import type { DsmNodeStats } from '../dsm/node/index.js';
import { IvyClient, Want, type View } from '../dsm/protocol/index.js';
import { configDigest } from '../dsm/protocol/membership.js';
import { isRpcError } from '../rpc/errors.js';
import { RpcClient } from '../rpc/runtime/index.js';
import { createEndpoint, parseClusterKey, type UdpEndpoint } from '../transport/index.js';
import { seededRandom } from '../transport/random.js';
import { clearForgeries, drops, flipped, forgedSealed, randomDatagrams } from './support/attacker.js';
import { freePorts, killAllNodes, managerOf, pollUntil, type DsmProc } from './support/dsm-procs.js';
import { PairRelay } from './support/udp-relay.js';
import { waitFor, within } from './support/wait.js';

const PAGE = 4096;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await killAllNodes();
});

const stats = async (p: DsmProc): Promise<DsmNodeStats> => (await p.call<{ node: DsmNodeStats }>({ cmd: 'stats' })).node;

/** An address in `p`'s own pages whose manager is `manager`. */
async function addressManagedBy(p: DsmProc, ids: readonly number[], manager: number): Promise<number> {
  for (let i = 0; i < 64; i++) {
    const a = await p.call<number>({ cmd: 'alloc', bytes: PAGE });
    if (managerOf(ids, Math.floor(a / PAGE)) === manager) return a;
  }
  throw new Error(`no page of node ${p.id} managed by node ${manager}`);
}

describe('a keyed DSM cluster under attack by an outsider without the key', () => {
  it('two nodes incrementing one counter under a lock: every increment lands, nobody is suspected, and every datagram thrown is counted as dropped', async () => {
    const keyFile = createKeyFile();
    const [pa, pb] = (await freePorts(2)) as [number, number];
    const relay = await PairRelay.start(pa, pb);
    closers.push(() => relay.close());
    relay.recording = true;
    const args = ['--key-file', keyFile];
    const [a, b] = await Promise.all([
      startNode(1, ['--listen', `127.0.0.1:${pa}`, '--peers', `2@${relay.addressForA}`, ...args], { echoStderr: false }),
      startNode(2, ['--listen', `127.0.0.1:${pb}`, '--peers', `1@${relay.addressForB}`, ...args], { echoStderr: false }),
    ]);
    await Promise.all([a.waitForEvent((e) => e.kind === 'up', 15_000), b.waitForEvent((e) => e.kind === 'up', 15_000)]);
    const lock = await a.call<number>({ cmd: 'alloc', bytes: 8 });
    const counter = lock + 4;
    // Some traffic to capture before the attack starts.
    await b.call({ cmd: 'write32', addr: counter, value: 0 });
    await a.call({ cmd: 'read32', addr: counter });
    const captured = { fromA: relay.fromA.slice(), fromB: relay.fromB.slice() };
    relay.recording = false;
    expect(captured.fromA.length).toBeGreaterThan(3);
    expect(captured.fromB.length).toBeGreaterThan(3);
    const [sa0, sb0] = await Promise.all([stats(a), stats(b)]);

    const attacker = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => attacker.close(() => r())));
    const rand = seededRandom(77);
    const thrown = { a: 0, b: 0 };
    let attacking = true;
    const attack = (async () => {
      while (attacking) {
        // Spoofed from the other node's address...
        const toA = [...captured.fromB, ...flipped(rand, captured.fromB, 30), ...randomDatagrams(rand, 30), ...forgedSealed(rand, '2', 20), ...clearForgeries(rand, 10)];
        const toB = [...captured.fromA, ...flipped(rand, captured.fromA, 30), ...randomDatagrams(rand, 30), ...forgedSealed(rand, '1', 20), ...clearForgeries(rand, 10)];
        relay.injectToA(toA);
        relay.injectToB(toB);
        // ...and from the attacker's own.
        const own = [...randomDatagrams(rand, 20), ...forgedSealed(rand, '1', 10), ...clearForgeries(rand, 10)];
        for (const d of own) {
          attacker.send(d, pa, '127.0.0.1');
          attacker.send(d, pb, '127.0.0.1');
        }
        thrown.a += toA.length + own.length;
        thrown.b += toB.length + own.length;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Rounds of 50 increments on each node, concurrently, until the attack has thrown 4,000
    // datagrams (a few seconds at most).
    const TIMES = 50;
    let rounds = 0;
    try {
      while (thrown.a + thrown.b < 4_000 && rounds < 400) {
        await within(Promise.all([a, b].map((n) => n.call({ cmd: 'locked-increment', lock, counter, times: TIMES }, 60_000))), 60_000, 'the increments');
        rounds++;
      }
    } finally {
      attacking = false;
      await attack;
    }
    expect(thrown.a + thrown.b).toBeGreaterThanOrEqual(4_000);
    expect(await a.call<number>({ cmd: 'read32', addr: counter })).toBe(2 * TIMES * rounds);
    expect(await b.call<number>({ cmd: 'read32', addr: counter })).toBe(2 * TIMES * rounds);

    // Every datagram thrown was dropped (the refusal notices each node sent the other's address,
    // answering datagrams spoofed from it, are the only other drops).
    const counted = (s: DsmNodeStats, s0: DsmNodeStats) => drops(s.transport) - drops(s0.transport) + s.transport.handshake.refusalsReceived - s0.transport.handshake.refusalsReceived;
    const [sa, sb] = await pollUntil(async () => {
      const both = await Promise.all([stats(a), stats(b)]);
      return counted(both[0], sa0) >= thrown.a && counted(both[1], sb0) >= thrown.b ? both : undefined;
    }, 'every thrown datagram counted', 10_000);
    for (const [s, s0, mine, other, otherS0] of [[sa, sa0, thrown.a, sb, sb0], [sb, sb0, thrown.b, sa, sa0]] as const) {
      const extra = drops(s.transport) - drops(s0.transport) + s.transport.handshake.refusalsReceived - s0.transport.handshake.refusalsReceived - mine;
      expect(extra).toBeLessThanOrEqual(other.transport.handshake.refusalsSent - otherS0.transport.handshake.refusalsSent);
      expect(s.transport.bad.auth - s0.transport.bad.auth).toBeGreaterThan(mine / 2);
      expect(s.transport.bad.replay - s0.transport.bad.replay).toBeGreaterThan(0);
      expect(s.ivy.protocolErrors).toBe(0);
      expect(s.rpc.malformedDropped).toBe(0);
    }
    // Nobody was suspected, declared dead or refused.
    for (const n of [a, b]) expect(n.events.filter((e) => e.event === 'membership' && !['up', 'majority-up'].includes(String(e.kind)))).toEqual([]);
    // The nodes report the drops on stderr (at most once a second).
    await waitFor(() => /pagewire node 1: dropped \d+ datagrams that did not authenticate .* and \d+ replayed datagrams/.test(a.stderr()), 'node 1 to report the drops', 3_000);
  });
});

describe('a node with the wrong key', () => {
  it('is refused: its first remote access fails DSM_ERR_UNAUTHENTICATED saying so, its peers count and log it, and nodes 1 and 2 work on', async () => {
    const IDS = [1, 2, 3];
    const ports = await freePorts(3);
    const peersOf = (id: number) => IDS.filter((j) => j !== id).map((j) => `${j}@127.0.0.1:${ports[j - 1]}`).join(',');
    const cluster = createKeyFile();
    const other = createKeyFile();
    const start = (id: number, key: string) => startNode(id, ['--listen', `127.0.0.1:${ports[id - 1]}`, '--peers', peersOf(id), '--key-file', key], { echoStderr: false });
    const [n1, n2, n3] = await Promise.all([start(1, cluster), start(2, cluster), start(3, other)]);
    await n1.waitForEvent((e) => e.kind === 'up' && e.node === 2, 15_000);
    await n2.waitForEvent((e) => e.kind === 'up' && e.node === 1, 15_000);
    const x = await addressManagedBy(n1, IDS, 1);
    await n1.call({ cmd: 'write32', addr: x, value: 7 });

    const t0 = Date.now();
    const answer = await n3.send({ cmd: 'read32', addr: x }, 20_000);
    const tookMs = Date.now() - t0;
    expect(answer.ok).toBe(false);
    const error = (answer as { error: { code: string; message: string; node?: number } }).error;
    expect(error.code).toBe('DSM_ERR_UNAUTHENTICATED');
    expect(error.node).toBe(1);
    expect(error.message).toMatch(/^read fault at 0x[0-9a-f]+ \(page \d+\) failed: node 1 refused this node: it cannot authenticate it \(not the same cluster key\?\)$/);
    expect(tookMs).toBeLessThan(2_000 + 3_000); // the transport's giveUpMs, and slack for a loaded machine
    const refused = await n3.waitForEvent((e) => e.kind === 'refused' && e.node === 1, 5_000);
    expect(String(refused.reason)).toMatch(/did not authenticate under its cluster key.*every node of a cluster must use the same cluster key \(--key-file\)/);
    // A second access fails at once: the refusal is remembered until node 1 is heard from.
    const t1 = Date.now();
    expect((await n3.send({ cmd: 'read32', addr: x })).ok).toBe(false);
    expect(Date.now() - t1).toBeLessThan(1_000);

    // The cluster is unaffected: node 2 reads node 1's write, nobody suspects anybody, node 3 is never up.
    expect(await n2.call<number>({ cmd: 'read32', addr: x })).toBe(7);
    await n2.call({ cmd: 'write32', addr: x, value: 8 });
    expect(await n1.call<number>({ cmd: 'read32', addr: x })).toBe(8);
    const s1 = await stats(n1);
    expect(s1.transport.bad.auth).toBeGreaterThan(0);
    expect(s1.peers.find((p) => p.node === 3)?.status).toBe('not-up');
    for (const n of [n1, n2]) expect(n.events.filter((e) => e.event === 'membership' && (e.kind === 'suspected' || e.kind === 'dead'))).toEqual([]);
    await waitFor(() => /pagewire node 1: dropped \d+ datagrams? that did not authenticate \(the last from 127\.0\.0\.1:\d+: its tag did not verify/.test(n1.stderr()), 'node 1 to report the drops', 5_000);
    expect(n1.stderr()).toContain(`127.0.0.1:${ports[2]}`);
  });
});

describe('identity is bound to the key, not to the address', () => {
  it('a key holder that authenticates as node 2 but calls from node 3\'s address is refused RPC_ERR_UNAUTHENTICATED and counted; node 3\'s own key is accepted there', async () => {
    const IDS = [1, 2, 3];
    const ports = await freePorts(3);
    // Nodes 1 and 2 share a key; a third party holding it plays node 3 (which is not started).
    const keyFile = createKeyFile();
    const key = parseClusterKey(readFileSync(keyFile, 'utf8'));
    const peersOf = (id: number) => IDS.filter((j) => j !== id).map((j) => `${j}@127.0.0.1:${ports[j - 1]}`).join(',');
    const [a] = await Promise.all([1, 2].map((id) => startNode(id, ['--listen', `127.0.0.1:${ports[id - 1]}`, '--peers', peersOf(id), '--key-file', keyFile], { echoStderr: false })));
    await a!.waitForEvent((e) => e.kind === 'up' && e.node === 2, 15_000);
    const page = Math.floor((await addressManagedBy(a!, IDS, 1)) / PAGE);
    const view: View = { config: configDigest({ nodes: IDS, pageSize: PAGE, pageCount: 1024, manager: 1 }), incarnation: 4242, dead: [] };
    const config = { nodes: IDS, pageSize: PAGE, pageCount: 1024, manager: 1 as const };
    const asNode = async (nodeId: string): Promise<{ ep: UdpEndpoint; ivy: IvyClient; rpc: RpcClient }> => {
      const ep = await createEndpoint({ host: '127.0.0.1', port: ports[2], key, nodeId, giveUpMs: 2_000 });
      const rpc = new RpcClient(ep, { server: `127.0.0.1:${ports[0]}` });
      return { ep, rpc, ivy: new IvyClient(rpc) };
    };

    const liar = await asNode('2');
    try {
      for (const call of [() => liar.ivy.request(view, page, Want.Write, 0, false, 0, undefined), () => liar.ivy.ping(view, config, [], [])]) {
        const e = await call().then(() => undefined, (err: unknown) => err);
        expect(isRpcError(e, 'RPC_ERR_UNAUTHENTICATED')).toBe(true);
        expect((e as Error).message).toMatch(new RegExp(`the caller's key proves it is node 2, but it calls from 127\\.0\\.0\\.1:${ports[2]}, the address of node 3: a node cannot speak for another$`));
        expect((e as { executed: string }).executed).toBe('no');
      }
    } finally {
      await liar.rpc.close();
      await liar.ep.close();
    }
    const s1 = await stats(a!);
    expect(s1.rpc.unauthenticated).toBe(2);
    expect(s1.ivy.callsReceived.request).toBe(0);
    expect(s1.peers.find((p) => p.node === 3)?.status).toBe('not-up'); // its datagrams were no evidence of node 3

    const honest = await asNode('3');
    try {
      const ack = await honest.ivy.ping(view, config, [], []);
      expect(ack.view.config).toBe(view.config);
    } finally {
      await honest.rpc.close();
      await honest.ep.close();
    }
    expect((await stats(a!)).rpc.unauthenticated).toBe(2);
  });
});
