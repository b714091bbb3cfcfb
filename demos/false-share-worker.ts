/** A worker thread of the false-sharing command (demos/control.ts): increments its own words. */
import { workerData } from 'node:worker_threads';
import { attachThread, type DsmShared } from '../dsm/node/index.js';

const { shared, base, words, writes } = workerData as { shared: DsmShared; base: number; words: number; writes: number };
const t = attachThread(shared);
const u32 = t.mem.u32;
for (let i = 0; i < writes; i++) {
  const w = (base >>> 2) + (i % words);
  u32[w] = u32[w]! + 1;
}
t.close();
