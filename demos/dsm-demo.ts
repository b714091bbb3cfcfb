/**
 * npm run demo — the chapter's DSM failure argument, run: "imagine a linked list where a next
 * pointer points into a portion of the address space that is gone".
 *
 * Three `pagewire node` processes on loopback UDP share one address space. They build a linked
 * list together (prepends under a DSM lock, round-robin across the nodes, each element allocated
 * in a page its creator owns), every node walks it, then one node is SIGKILLed and the survivors
 * walk it again: each stops at the first pointer into the dead node's page with a typed error
 * (DSM_ERR_PAGE_LOST naming the address, the page and the node). Exits 0 only if every step did
 * exactly what is described (the checks are listed at the end of the run).
 *
 *   npm run demo -- --loss 0.2 --elements 30 --kill 2 --seed 7
 *   DEBUG=pagewire:* npm run demo       # every node's protocol log, merged in time order into a file
 *   npm run demo -- --trace ./trace     # the run as a space-time diagram, ./trace/trace.html
 *   npm run demo -- --web               # watch it in the browser: the live page map (demos/web.ts)
 */
import { initialOwner } from '../dsm/node/index.js';
import type { DsmNodeStats } from '../dsm/node/index.js';
import type { AppMemoryStats } from '../dsm/memory/index.js';
import { securityLine, startCluster, type Cluster } from './cluster.js';
import type { ListElement, Traversal } from './list.js';
import { helpCommand, hex, histogramP50, intArg, MAX_LOSS, parseDemoArgs, probabilityArg, runMain, table, UsageError } from './args.js';
import { traceDirArg, writeTraceHtml } from './trace-output.js';
import { startDemoWeb, type DemoWeb } from './web.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const USAGE = `usage: npm run demo [-- options]      (or: node dist/demos/dsm-demo.js [options])

Three DSM nodes on loopback build a shared linked list, walk it, lose a node, walk it again.

  --elements N   list elements, created round-robin by the nodes (3..3000, default 9)
  --kill ID      the node to SIGKILL: 1, 2 or 3 (default 3)
  --loss P       every node drops each datagram it sends with probability P (0..${MAX_LOSS}, default 0)
  --seed N       fault-injection seed (default 1)
  --manager M    how the nodes find a page's owner: fixed (default; page p's directory is on the
                 (p mod 3)-th node) or dynamic (no manager: probable-owner chains, a locate when one
                 runs into the dead node)
  --trace DIR    every node writes its trace to DIR; the demo draws DIR/trace.html (a space-time diagram)
  --insecure     no cluster key: the nodes talk in clear text (default: a fresh key for this run,
                 every datagram encrypted and authenticated)
  --web          show the run in the browser (the live page map, on loopback): the demo prints the URL,
                 waits for a page to open it, pauses between steps, and keeps the page up until Enter
  --pace MS      with --web, the pause between steps (0..10000, default 1500)
  --help         this text

DEBUG=pagewire:* writes the protocol log of every node to a file (merged in time order, decoded
after decryption) and says where.
`;

const IDS: readonly number[] = [1, 2, 3];
const PAGE_COUNT = 1024; // the CLI's defaults, passed explicitly because the placement below depends on them
const PAGE_SIZE = 4096;
const SHOWN = 12; // elements printed in full; longer lists are summarised

interface Stats {
  node: DsmNodeStats;
  app: AppMemoryStats;
}

const say = (s = ''): void => void process.stdout.write(s + '\n');

async function main(): Promise<number> {
  const { values: v, flags, help } = parseDemoArgs(process.argv.slice(2), ['elements', 'kill', 'loss', 'seed', 'trace', 'pace', 'manager'], ['web', 'insecure']);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const count = intArg(v.elements, 'elements', 3, 3000, 9);
  const victim = intArg(v.kill, 'kill', 1, 3, 3);
  const loss = probabilityArg(v.loss, 'loss', MAX_LOSS, 0);
  const seed = intArg(v.seed, 'seed', 0, 2 ** 20, 1);
  const manager = v.manager ?? 'fixed';
  if (manager !== 'fixed' && manager !== 'dynamic') throw new UsageError(`--manager must be fixed or dynamic, got ${JSON.stringify(manager)}`);
  const traceDir = traceDirArg(v.trace);
  const webOn = flags.has('web');
  if (v.pace !== undefined && !webOn) throw new UsageError('--pace paces the steps for --web; give --web too');
  const paceMs = intArg(v.pace, 'pace', 0, 10_000, 1500);
  const survivors = IDS.filter((id) => id !== victim);
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
  };

  say(`pagewire DSM demo: a linked list shared by ${IDS.length} node processes, then node ${victim} is killed`);
  const t0 = performance.now();
  const cluster = await startCluster({
    ids: IDS,
    args: ['--pages', String(PAGE_COUNT), '--page-size', String(PAGE_SIZE), '--manager', manager, ...(loss > 0 ? ['--loss', String(loss)] : []), ...(traceDir ? ['--trace', traceDir] : [])],
    argsFor: (id) => ['--seed', String(seed * 16 + id)],
    insecure: flags.has('insecure'),
    debugLog: join(traceDir ?? tmpdir(), `pagewire-demo-debug-${process.pid}.log`),
  });
  let web: DemoWeb | undefined;
  try {
    say(`  started nodes ${cluster.nodes.map((n) => `${n.id} (${n.address})`).join(', ')} in ${ms(performance.now() - t0)}`);
    say(`  ${securityLine(cluster)}`);
    if (loss > 0) say(`  fault injection: every node drops ${pct(loss)} of the datagrams it sends (seed ${seed})`);
    if (webOn) web = await startDemoWeb(cluster, { pageSize: PAGE_SIZE, pageCount: PAGE_COUNT, title: `pagewire demo: a shared linked list loses node ${victim}`, paceMs, say });
    const code = await run(cluster, count, victim, survivors, check, failures, loss, manager, () => web?.step() ?? Promise.resolve());
    await web?.hold();
    return code;
  } finally {
    await web?.close();
    await cluster.close();
    if (cluster.debugLog !== undefined) say(`the nodes' debug output, merged in time order: ${cluster.debugLog}`);
    if (traceDir !== undefined) say(writeTraceHtml(traceDir, { title: `pagewire demo: a shared linked list loses node ${victim}` }).summary);
  }
}

async function run(
  cluster: Cluster, count: number, victim: number, survivors: number[],
  check: (ok: boolean, what: string) => void, failures: string[], loss: number, manager: 'fixed' | 'dynamic', step: () => Promise<void>,
): Promise<number> {
  const owner = initialOwner([...IDS], PAGE_COUNT);
  const per = Math.floor((PAGE_COUNT - 1) / IDS.length);
  say(`  placement: each node allocates in the pages it owns (${IDS.map((id, k) => `node ${id}: ${1 + k * per}..${k === IDS.length - 1 ? PAGE_COUNT - 1 : (k + 1) * per}`).join(', ')});`);
  if (manager === 'fixed') {
    say(`             list pages skip those node ${victim} manages (Ivy's fixed distributed manager: page mod ${IDS.length}), so its death`);
    say(`             shows as lost pages even to a node whose probable-owner hint is wrong and must ask the page's`);
    say(`             directory (which would fail DSM_ERR_MANAGER_DEAD with node ${victim}: see NOTES.md)`);
  } else {
    say(`             no managers (--manager dynamic): a fault follows probable-owner chains, and one that runs into`);
    say(`             the dead node asks every live node (a locate), so only the pages node ${victim} owned are lost`);
  }
  const avoid = manager === 'fixed' ? { avoidManagedBy: victim } : {};

  // 1. Build: a header on a survivor, then prepends round-robin with the victim first in each round,
  //    so the list (newest first) starts with survivors' elements and then points into the victim's page.
  say('');
  const builder = cluster.node(survivors[0]!);
  const header = await builder.call<number>({ cmd: 'list-create', ...avoid });
  const order = [victim, ...survivors];
  const creators: number[] = Array.from({ length: count }, (_, i) => order[i % order.length]!);
  const tb = performance.now();
  const expected: { value: number; node: number }[] = [];
  for (let i = 0; i < count; i++) {
    const [addr] = await cluster.node(creators[i]!).call<number[]>({ cmd: 'list-prepend', header, values: [i + 1], ...avoid });
    check(owner(Math.floor(addr! / PAGE_SIZE)) === creators[i], `element ${i + 1} was allocated outside node ${creators[i]}'s pages`);
    expected.unshift({ value: i + 1, node: creators[i]! });
  }
  say(`1. build: ${count} prepends under the list's DSM lock (header ${hex(header)}, page ${header / PAGE_SIZE}), round-robin ${order.join(', ')}, ... in ${ms(performance.now() - tb)}`);
  say(`   each element is allocated by the node that adds it, in a page it owns; only the header page moves between nodes`);

  // 2. Traverse from every node.
  await step();
  say('');
  say('2. traverse from every node (element, address, page and the node whose page holds it):');
  const full = new Map<number, Traversal>();
  for (const n of cluster.nodes) full.set(n.id, await n.call<Traversal>({ cmd: 'list-traverse', header }));
  const first = full.get(IDS[0]!)!;
  const rows: string[][] = [['#', 'value', 'address', 'page', 'held by']];
  first.elements.slice(0, SHOWN).forEach((e, i) => rows.push([String(i), String(e.value), hex(e.address), String(e.page), `node ${owner(e.page)}`]));
  say(table(rows, '   '));
  if (first.elements.length > SHOWN) say(`   ... ${first.elements.length - SHOWN} more`);
  for (const n of cluster.nodes) {
    const t = full.get(n.id)!;
    const same = sameList(t.elements, expected) && t.error === undefined;
    check(same, `node ${n.id}'s traversal differs from the list that was built${t.error ? ` (${t.error.code})` : ''}`);
    check(t.elements.every((e) => owner(e.page) === e.node), `node ${n.id} saw an element in a page its creator does not own`);
    say(`   node ${n.id}: ${t.elements.length} elements in ${ms(t.ms)}${same ? ', the list that was built' : ', NOT the list that was built'}${t.error ? `, stopped: ${t.error.code}` : ''}`);
  }

  // 3. Owners stamp their own elements, the victim last: a stamp walks the list (reading every page),
  //    so a node stamping after the victim would take fresh read copies of the victim's elements.
  await step();
  say('');
  const perNode = new Map(IDS.map((id) => [id, creators.filter((c) => c === id).length]));
  for (const id of [...survivors, victim]) {
    const stamped = await cluster.node(id).call<number>({ cmd: 'list-stamp', header });
    check(stamped === perNode.get(id), `node ${id} stamped ${stamped} elements, expected ${perNode.get(id)}`);
  }
  say(`3. each node stamps (writes) its own elements, node ${victim} last: ${[...survivors, victim].map((id) => `node ${id} ${perNode.get(id)}`).join(', ')}`);
  say(`   why: a survivor's read copy stays readable after the owner dies (Ivy: it holds the last value written), so the`);
  say(`   list would outlive node ${victim}; the owner's write invalidates the copies taken while traversing, and now`);
  say(`   node ${victim}'s elements exist only on node ${victim}, the chapter's "portion of the address space that is gone"`);
  const victimStats = await cluster.node(victim).call<Stats>({ cmd: 'stats' });

  // 4. Kill and traverse again from the survivors, at the same time.
  await step();
  say('');
  const dead = cluster.node(victim);
  const tk = performance.now();
  dead.kill('SIGKILL');
  await dead.exited;
  const firstLost = expected.findIndex((e) => e.node === victim);
  const lostAddr = first.elements[firstLost]?.address;
  say(`4. SIGKILL node ${victim}; the survivors traverse again (the first pointer into node ${victim}'s pages is element #${firstLost}, ${hex(lostAddr)}):`);
  const after = await Promise.all(survivors.map(async (id) => {
    const t = await cluster.node(id).call<Traversal>({ cmd: 'list-traverse', header });
    return { id, t, sinceKillMs: performance.now() - tk };
  }));
  for (const { id, t, sinceKillMs } of after) {
    const e = t.error;
    say(`   node ${id}: reached ${t.elements.length} of ${count} elements, then ${e ? `${e.code} at ${hex(e.address)} (page ${e.page}, node ${e.node})` : 'the end of the list (no error!)'}`);
    if (e) say(`           "${e.message}" after ${ms(t.ms)} (${ms(sinceKillMs)} since the kill)`);
    check(e?.code === 'DSM_ERR_PAGE_LOST', `node ${id}: expected DSM_ERR_PAGE_LOST, got ${e?.code ?? 'no error'}`);
    check(e?.node === victim, `node ${id}: the error names node ${e?.node}, expected ${victim}`);
    check(e?.address === lostAddr && e?.page === Math.floor((lostAddr ?? 0) / PAGE_SIZE), `node ${id}: the error is at ${hex(e?.address)}, expected ${hex(lostAddr)}`);
    check(t.elements.length === firstLost && sameList(t.elements, expected.slice(0, firstLost)), `node ${id}: reached ${t.elements.length} elements, expected the ${firstLost} before the lost page`);
  }
  const detect = Math.max(...after.map((a) => a.sinceKillMs));
  say(`   detection: ${ms(detect)} from the kill to the typed error (a peer silent for 2000 ms is declared dead once a`);
  say(`   majority of the nodes agrees, and fenced: it could never come back and mix old data with new); nothing hung`);
  // Pages held elsewhere stay usable: past the lost pointer, each survivor reads the other survivor's element directly.
  for (const id of survivors) {
    const other = survivors.find((x) => x !== id)!;
    const i = expected.findIndex((e, k) => k > firstLost && e.node === other);
    if (i < 0) continue;
    const e = first.elements[i]!;
    let got: string;
    try {
      got = `value ${await cluster.node(id).call<number>({ cmd: 'read32', addr: e.address })}`;
    } catch (err) {
      got = (err as { code?: string }).code ?? String(err);
    }
    check(got === `value ${e.value}`, `node ${id} could not read node ${other}'s element #${i} after the kill: ${got}`);
    say(`   node ${id} reads element #${i} past the gap directly, at ${hex(e.address)} on live node ${other}: ${got} (pages held elsewhere stay usable)`);
  }

  // 5. Stats.
  await step();
  say('');
  say(`5. per-node stats (node ${victim} as of the kill):`);
  const stats = new Map<number, Stats>([[victim, victimStats]]);
  for (const id of survivors) stats.set(id, await cluster.node(id).call<Stats>({ cmd: 'stats' }));
  const addressOf = new Map(cluster.nodes.map((n) => [n.address, n.id]));
  const srows: string[][] = [['node', 'read faults', 'write faults', 'invalidations sent/recv', 'pages sent', 'retransmissions', ...(loss > 0 ? ['dropped by injector'] : []), 'fault p50']];
  for (const id of IDS) {
    const s = stats.get(id)!.node;
    const toDead = s.transport.peers.filter((p) => addressOf.get(p.peer) === victim).reduce((a, p) => a + p.retransmits, 0);
    const toLive = s.transport.peers.reduce((a, p) => a + p.retransmits, 0) - toDead;
    srows.push([String(id), String(s.ivy.readFaults), String(s.ivy.writeFaults), `${s.ivy.invalidationsSent}/${s.ivy.invalidationsReceived}`,
      String(s.ivy.pagesSent), toDead > 0 ? `${toLive} (+${toDead} to dead node ${victim})` : String(toLive),
      ...(loss > 0 ? [String(s.transport.bad.injectedDrops)] : []), histogramP50(s.ivy.faultLatency)]);
  }
  say(table(srows, '   '));
  say(`   (faults = those that asked another node; fault p50 = the latency histogram's median bucket, failed faults included)`);
  if (loss > 0) {
    const retx = survivors.reduce((a, id) => a + stats.get(id)!.node.transport.peers.reduce((b, p) => b + p.retransmits, 0), 0);
    check(retx > 0, 'loss was injected but the survivors retransmitted nothing');
    say(`   with ${pct(loss)} loss the transport retransmitted until every message got through: the same list, only slower`);
  }

  say('');
  if (failures.length > 0) {
    say(`NOT as expected (${failures.length}):`);
    for (const f of failures) say(`  - ${f}`);
    return 1;
  }
  say(`as expected: every node saw the same ${count}-element list; after the kill each survivor stopped at element #${firstLost} with DSM_ERR_PAGE_LOST naming node ${victim}`);
  return 0;
}

function sameList(got: readonly ListElement[], want: readonly { value: number; node: number }[]): boolean {
  return got.length === want.length && got.every((e, i) => e.value === want[i]!.value && e.node === want[i]!.node);
}

const ms = (x: number): string => (x < 10 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`);
const pct = (p: number): string => `${Math.round(p * 1000) / 10}%`;

runMain('pagewire demo', helpCommand('demo'), main);
