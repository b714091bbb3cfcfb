// One DSM node, four threads on its pages: worker threads attach to the node the main thread started.
import { once } from 'node:events';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { attachThread, startDsmNode, type DsmShared } from 'pagewire/dsm';

interface Job {
  shared: DsmShared;
  lock: number;
  counter: number;
}

if (isMainThread) {
  const node = await startDsmNode({ id: 1, listen: process.argv[2] ?? '127.0.0.1:7003', peers: [] });
  const job: Job = { shared: node.shared, lock: node.alloc(4), counter: node.alloc(4) };
  const workers = [1, 2, 3].map(() => new Worker(new URL(import.meta.url), { workerData: job }));
  const codes = await Promise.all(workers.map(async (w) => (await once(w, 'exit'))[0] as number));
  console.log(`counter = ${node.mem.u32[job.counter >>> 2]} (workers exited ${codes.join(', ')})`); // counter = 3000
  await node.close();
} else {
  const { shared, lock, counter } = workerData as Job;
  const thread = attachThread(shared);
  for (let i = 0; i < 1000; i++) {
    thread.mem.lock(lock); // a DSM lock (compare-and-swap on a DSM word): works across nodes too
    thread.mem.u32[counter >>> 2] += 1;
    thread.mem.unlock(lock);
  }
  thread.close();
}
