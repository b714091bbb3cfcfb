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
 * Find the compiled worker: next to this module when running from dist/ (pool.js and
 * pool-worker.js are siblings), else, when running from source (vitest, tsx), the copy the
 * build put in <repo>/dist/rpc/runtime/. Throws a clear error if neither exists.
 */
export function locatePoolWorker(explicit?: string | URL): string {
  if (explicit !== undefined) {
    const p = toPath(explicit);
    if (!existsSync(p)) throw invalidArgument(`poolWorkerFile ${p} does not exist`);
    return p;
  }
  const candidates = [
    new URL('./pool-worker.js', import.meta.url),
    new URL('../../dist/rpc/runtime/pool-worker.js', import.meta.url),
  ];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(p)) return p;
  }
  throw invalidArgument(
    `compiled pool worker not found (looked for ${candidates.map((c) => fileURLToPath(c)).join(', ')}); run \`npm run build\` first`,
  );
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

  run(proc: string, args: unknown[], ctx: { peer: string; callId: string }): Promise<PoolOutcome> {
    return this.pool.run({ module: this.moduleUrl, exportName: this.exportName, proc, args, ctx });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
