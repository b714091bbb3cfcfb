// One address space, two processes. Start each in its own terminal, in either order:
//   node examples/dist/dsm.js 1      node 1 builds a list in its pages and stores its address in root word 0
//   node examples/dist/dsm.js 2      node 2 finds the list there, walks it (page faults), answers with the sum
// Both take the two nodes' addresses (the same in both processes) after the id; defaults below.
import { startDsmNode } from 'pagewire/dsm';
import { defineStruct } from 'pagewire/dsm/memory';
import { setTimeout as sleep } from 'node:timers/promises';

const [who, address1 = '127.0.0.1:7001', address2 = '127.0.0.1:7002'] = process.argv.slice(2);
if (who !== '1' && who !== '2') {
  console.error('usage: node dsm.js 1|2 [ADDRESS_OF_NODE_1 ADDRESS_OF_NODE_2]');
  process.exit(2);
}
const [me, peer] = who === '1' ? [address1, address2] : [address2, address1];
const node = await startDsmNode({ id: Number(who), listen: me, peers: [{ id: who === '1' ? 2 : 1, address: peer }] });
await node.waitForPeers(); // touch shared pages only once the other node is up

// Root words: the same addresses on every node, 0 until someone stores something there.
const LIST = node.root(0);
const SUM = node.root(1);
const DONE = node.root(2);
const u32 = node.mem.u32;
const Item = defineStruct(node.mem, { value: 'u32', next: 'ptr' });

/** Poll until `ready()` (a read blocks in a page fault while the page is elsewhere); at most 30 s. */
async function until(what: string, ready: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 30_000; !ready(); await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`node ${node.id}: gave up waiting for ${what}`);
  }
}

if (node.id === 1) {
  let head = 0;
  for (const value of [30, 20, 10]) {
    const item = node.alloc(Item.size); // in a page node 1 owns
    Item.set.value(item, value);
    Item.set.next(item, head);
    head = item;
  }
  u32[LIST >>> 2] = head;
  console.log(`node 1: list at 0x${head.toString(16)}, its address in root word 0`);
  await until('the sum', () => u32[SUM >>> 2] !== 0);
  console.log(`node 1: node 2 says the sum is ${u32[SUM >>> 2]}`);
  u32[DONE >>> 2] = 1; // this write takes the root page back from node 2, which may now leave
} else {
  await until('the list', () => u32[LIST >>> 2] !== 0);
  const values: number[] = [];
  for (let item = u32[LIST >>> 2]!; item !== 0; item = Item.get.next(item)) values.push(Item.get.value(item));
  console.log(`node 2: found the list in root word 0: ${values.join(', ')}`);
  u32[SUM >>> 2] = values.reduce((a, b) => a + b, 0);
  // A page lives only on the nodes that hold it: node 2 owns the page with the sum now, so it stays
  // until node 1 has taken that page back (its write invalidates node 2's copy).
  await until('node 1 to take the root page back', () => node.mem.rights(SUM) === 'none');
}
await node.close();
