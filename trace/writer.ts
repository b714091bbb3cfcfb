/**
 * `--trace DIR`: write every event of every node of this thread as JSON lines, one file per node,
 * DIR/node-<id>.jsonl. Each node incarnation's events are preceded by a header line (its NodeInfo:
 * node id, incarnation, addresses, peer names), so a node restarted into the same directory appends
 * a second segment rather than overwriting the first, and `pagewire trace DIR` can tell them apart.
 *
 * Lines are buffered and written at the end of the current event-loop turn (and whenever 256 KiB
 * are pending), synchronously, so a node killed with SIGKILL loses at most the events of the turn
 * it was killed in. Memory is bounded: past 4 MiB pending (a disk that does not keep up), events
 * are counted as dropped instead of buffered.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TraceError } from './errors.js';
import { subscribeTrace, traceNodes, type NodeInfo } from './node.js';
import type { TraceEvent } from './events.js';

export interface TraceWriterStats {
  readonly events: number;
  readonly bytes: number;
  /** Events not written (pending buffer full, or a write failed). */
  readonly dropped: number;
  readonly files: string[];
}

const FLUSH_AT = 256 * 1024;
const MAX_PENDING = 4 * 1024 * 1024;

/** The file name for node `id` (characters outside [A-Za-z0-9._-] become "_"). */
export function traceFileName(id: string): string {
  return `node-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`;
}

interface FileState {
  fd: number;
  readonly path: string;
  pending: string[];
  pendingBytes: number;
  /** Incarnation whose header was written last. */
  inc: string | undefined;
}

export class TraceWriter {
  readonly dir: string;
  private readonly files = new Map<string, FileState>();
  private readonly unsubscribe: () => void;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private events = 0;
  private bytes = 0;
  private dropped = 0;
  private readonly onExit = (): void => this.flush();

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir.length === 0) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', 'the trace directory must be a non-empty path');
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new TraceError('TRACE_ERR_IO', `cannot create trace directory ${dir}: ${(e as Error).message}`, { cause: e });
    }
    this.dir = dir;
    this.unsubscribe = subscribeTrace((e) => this.onEvent(e), { onNode: (info) => this.onNode(info) });
    for (const n of traceNodes()) this.onNode(n.info());
    process.on('exit', this.onExit);
  }

  stats(): TraceWriterStats {
    return { events: this.events, bytes: this.bytes, dropped: this.dropped, files: [...this.files.values()].map((f) => f.path) };
  }

  /** Write everything pending now. */
  flush(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    for (const f of this.files.values()) this.flushFile(f);
  }

  /** Stop listening, write what is pending, close the files. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.flush();
    process.off('exit', this.onExit);
    for (const f of this.files.values()) {
      try {
        closeSync(f.fd);
      } catch {
        // already closed
      }
    }
  }

  private file(node: string): FileState {
    let f = this.files.get(node);
    if (f === undefined) {
      const path = join(this.dir, traceFileName(node));
      let fd: number;
      try {
        fd = openSync(path, 'a');
      } catch (e) {
        throw new TraceError('TRACE_ERR_IO', `cannot open trace file ${path}: ${(e as Error).message}`, { cause: e });
      }
      f = { fd, path, pending: [], pendingBytes: 0, inc: undefined };
      this.files.set(node, f);
    }
    return f;
  }

  private onNode(info: NodeInfo): void {
    if (this.closed) return;
    const f = this.file(info.node);
    // A header starts a segment (new incarnation); a repeated one updates addresses and names.
    f.inc = info.inc;
    this.append(f, JSON.stringify(info));
  }

  private onEvent(e: TraceEvent): void {
    if (this.closed) return;
    this.events++;
    let line: string;
    try {
      line = JSON.stringify(e);
    } catch {
      this.dropped++;
      return;
    }
    this.append(this.file(e.node), line);
  }

  private append(f: FileState, line: string): void {
    if (f.pendingBytes > MAX_PENDING) {
      this.dropped++;
      return;
    }
    f.pending.push(line);
    f.pendingBytes += line.length + 1;
    if (f.pendingBytes >= FLUSH_AT) this.flushFile(f);
    else if (this.immediate === undefined) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.flush();
      });
      this.immediate.unref();
    }
  }

  private flushFile(f: FileState): void {
    if (f.pending.length === 0) return;
    const text = f.pending.join('\n') + '\n';
    const n = f.pending.length;
    f.pending = [];
    f.pendingBytes = 0;
    try {
      writeSync(f.fd, text);
      this.bytes += Buffer.byteLength(text);
    } catch {
      this.dropped += n;
    }
  }
}

/** Start writing this thread's events to DIR/node-<id>.jsonl. */
export function startTraceWriter(dir: string): TraceWriter {
  return new TraceWriter(dir);
}
