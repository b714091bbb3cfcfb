/**
 * Thread-pool glue: one piscina pool per served interface that asks for one. The worker file
 * is rpc/runtime/pool-worker.ts compiled to JS; see locatePoolWorker() for how it is found.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { invalidArgument } from './options.js';
import type { PoolOutcome, PoolTask } from './pool-worker.js';

/**
 * The compiled worker: `explicit` if given, else pool-worker.js, the sibling of this module's own
 * compiled file (also under vitest, see vitest.config.ts).
 */
export function locatePoolWorker(explicit?: string | URL): string {
  const p = explicit === undefined ? fileURLToPath(new URL('./pool-worker.js', import.meta.url)) : toPath(explicit);
  if (!existsSync(p)) throw invalidArgument(explicit === undefined ? `the compiled pool worker ${p} is missing: run \`npm run build\`` : `poolWorkerFile ${p} does not exist`);
  return p;
}

function toPath(u: string | URL): string {
  if (u instanceof URL) return fileURLToPath(u);
  return u.startsWith('file:') ? fileURLToPath(u) : u;
}

/** file: URL string of a handler module given as URL, file URL string or path. */
export function moduleHref(u: string | URL): string {
  if (u instanceof URL) return u.href;
  return u.startsWith('file:') ? u : pathToFileURL(u).href;
}

export class HandlerPool {
  private readonly pool: Piscina<PoolTask, PoolOutcome>;
  constructor(
    readonly moduleUrl: string,
    readonly exportName: string,
    threads: number,
    workerFile: string,
  ) {
    if (!existsSync(fileURLToPath(moduleUrl))) throw invalidArgument(`poolModule ${moduleUrl} does not exist (is it compiled?)`);
    this.pool = new Piscina<PoolTask, PoolOutcome>({ filename: workerFile, minThreads: 1, maxThreads: threads, idleTimeout: 30_000 });
  }

  run(proc: string, args: unknown[], ctx: { peer: string; peerId: string | undefined; callId: string }): Promise<PoolOutcome> {
    return this.pool.run({ module: this.moduleUrl, exportName: this.exportName, proc, args, ctx });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
