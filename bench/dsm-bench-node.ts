/**
 * One DSM node of the DSM benchmark (bench/dsm-bench.ts), in its own process: started with
 * `fork()` and one argument, a JSON object { id, listen, peers, pageSize, pageCount }. The node's
 * application thread is this process's main thread; the runtime worker thread serves peers.
 *
 * IPC protocol (parent -> child, one command at a time per child; child -> parent, one reply each):
 *   { seq, op: 'read',  page, word }          -> { seq, ok, value, us, faulted }
 *   { seq, op: 'write', page, word, value }   -> { seq, ok, us, faulted }
 *   { seq, op: 'stats' }                      -> { seq, ok, stats }
 *   { seq, op: 'close' }                      -> { seq, ok }, then the process exits
 * `us` is the time of the single access `node.mem.u32[i]` (get or set) on this thread, from just
 * before to just after it, in microseconds; `faulted` says whether that access page-faulted (this
 * thread's AppMemory fault counter moved), so the parent can check it measured what it meant to.
 * A failed command answers { seq, ok: false, error, code }. The child sends { ready: true } once
 * its node serves peers, and exits when the IPC channel closes (the parent went away).
 */
import { startDsmNode, type DsmNode, type DsmNodeOptions } from '../dsm/node/index.js';

export interface NodeConfig {
  readonly id: number;
  readonly listen: string;
  readonly peers: DsmNodeOptions['peers'];
  readonly pageSize: number;
  readonly pageCount: number;
  /** Write the node's trace to this directory (bench --trace). */
  readonly traceDir?: string;
}

export type NodeCommand =
  | { readonly seq: number; readonly op: 'read'; readonly page: number; readonly word: number }
  | { readonly seq: number; readonly op: 'write'; readonly page: number; readonly word: number; readonly value: number }
  | { readonly seq: number; readonly op: 'stats' }
  | { readonly seq: number; readonly op: 'close' };

export interface NodeReply {
  readonly seq: number;
  readonly ok: boolean;
  readonly value?: number;
  readonly us?: number;
  readonly faulted?: boolean;
  readonly stats?: unknown;
  readonly error?: string;
  readonly code?: string;
}

function send(msg: object): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  if (process.send === undefined) {
    process.stderr.write('dsm-bench-node is started by bench/dsm-bench.js (child_process.fork with an IPC channel)\n');
    process.exit(2);
  }
  const cfg = JSON.parse(process.argv[2] ?? '') as NodeConfig;
  const node: DsmNode = await startDsmNode({
    id: cfg.id, listen: cfg.listen, peers: cfg.peers, pageSize: cfg.pageSize, pageCount: cfg.pageCount,
    ...(cfg.traceDir !== undefined ? { traceDir: cfg.traceDir } : {}),
  });
  const mem = node.mem;
  const u32 = mem.u32;
  const wordsPerPage = cfg.pageSize >>> 2;
  let closing = false;

  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await node.close().catch(() => undefined);
  };

  process.on('message', (raw) => {
    const cmd = raw as NodeCommand;
    void (async () => {
      try {
        switch (cmd.op) {
          case 'read': {
            const i = cmd.page * wordsPerPage + cmd.word;
            const before = mem.stats.readFaults;
            const t0 = process.hrtime.bigint();
            const value = u32[i]!;
            const t1 = process.hrtime.bigint();
            send({ seq: cmd.seq, ok: true, value, us: Number(t1 - t0) / 1000, faulted: mem.stats.readFaults !== before } satisfies NodeReply);
            return;
          }
          case 'write': {
            const i = cmd.page * wordsPerPage + cmd.word;
            const before = mem.stats.writeFaults;
            const t0 = process.hrtime.bigint();
            u32[i] = cmd.value;
            const t1 = process.hrtime.bigint();
            send({ seq: cmd.seq, ok: true, us: Number(t1 - t0) / 1000, faulted: mem.stats.writeFaults !== before } satisfies NodeReply);
            return;
          }
          case 'stats':
            send({ seq: cmd.seq, ok: true, stats: await node.stats() } satisfies NodeReply);
            return;
          case 'close':
            await close();
            send({ seq: cmd.seq, ok: true } satisfies NodeReply);
            process.disconnect?.();
            return;
          default:
            throw new Error(`unknown command ${JSON.stringify(raw)}`);
        }
      } catch (e) {
        const err = e as { message?: string; code?: unknown };
        send({ seq: cmd.seq, ok: false, error: err?.message ?? String(e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) } satisfies NodeReply);
      }
    })();
  });
  // The parent went away (or asked us to close): stop serving and let the process end.
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0));
  });
  send({ ready: true, id: cfg.id });
}

main().catch((e: unknown) => {
  process.stderr.write(`dsm-bench-node: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
