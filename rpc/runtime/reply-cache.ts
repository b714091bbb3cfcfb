/**
 * Server-side duplicate suppression: what this server incarnation knows about each client's
 * calls. Pure state machine, no I/O and no timers, so it is tested on its own.
 *
 * Per client (clientId, clientInc) the cache keeps:
 *  - `ackBelow`: the client said it has seen the replies of all its calls with seq < ackBelow.
 *    A request below it is a stale duplicate and is dropped.
 *  - `entries`: calls of that client still running, and finished calls whose reply the client
 *    has not acknowledged yet (the saved reply bytes, re-sent verbatim to a duplicate or probe).
 *  - `unsureBelow`: when memory pressure evicts a saved reply the client has not seen, the
 *    server can no longer answer a duplicate of that call, and it must not run it again. Any
 *    unknown call with seq < unsureBelow is answered "reply lost" (executed 'maybe') instead of
 *    being run. Calls with seq ≥ unsureBelow that the cache does not know have never arrived
 *    (the transport delivers each message once, and the client only re-sends calls it has no
 *    reply for), so running them is safe.
 *
 * Bounds: finished entries are kept in one LRU (insertion order) across all clients, limited by
 * `maxEntries` and `maxBytes` of reply bytes. Client records (a few numbers each, kept after
 * their entries are gone so a stray duplicate below the watermark is still recognised) are
 * limited by `maxClients`: past it, the least recently active record with nothing running is
 * dropped, preferring records that hold no saved replies. A dropped record forgets its
 * watermark and unsure range; that is safe because a client only re-sends calls it has no
 * reply for and the transport never duplicates, and it is the documented limit of the cache.
 */
import { positiveInt } from './options.js';

export interface ReplyCacheOptions {
  /** Finished replies kept across all clients. @default 10_000 */
  readonly maxEntries?: number;
  /** Bytes of saved replies kept across all clients. @default 16 MiB */
  readonly maxBytes?: number;
  /** Client records kept. @default 10_000 */
  readonly maxClients?: number;
}

export const REPLY_CACHE_DEFAULTS = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024, maxClients: 10_000 } as const;

interface RunningEntry { state: 'running'; acked: boolean }
interface DoneEntry { state: 'done'; reply: Uint8Array; lruKey: string }
type Entry = RunningEntry | DoneEntry;

interface ClientRecord {
  readonly key: string;
  ackBelow: number;
  unsureBelow: number;
  readonly entries: Map<number, Entry>;
  running: number;
}

export type Lookup =
  | { readonly state: 'new' }
  | { readonly state: 'running' }
  | { readonly state: 'done'; readonly reply: Uint8Array }
  /** seq < the client's ack watermark: the client already has this reply. */
  | { readonly state: 'stale' }
  /** The call ran (or may have) but its saved reply was evicted. */
  | { readonly state: 'lost' };

export interface ReplyCacheStats {
  entries: number;
  bytes: number;
  running: number;
  clients: number;
  /** Saved replies dropped under memory pressure before the client acknowledged them. */
  evictions: number;
  /** Saved replies dropped because the client acknowledged them. */
  acked: number;
  /** Client records dropped under `maxClients` pressure. */
  clientsDropped: number;
}

export class ReplyCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxClients: number;
  private readonly clients = new Map<string, ClientRecord>();
  /** Finished entries in insertion order: key `${clientKey}#${seq}`. */
  private readonly lru = new Map<string, { rec: ClientRecord; seq: number; bytes: number }>();
  private bytes = 0;
  private running = 0;
  private evictions = 0;
  private ackedCount = 0;
  private clientsDropped = 0;

  constructor(opts: ReplyCacheOptions = {}) {
    this.maxEntries = positiveInt('maxEntries', opts.maxEntries, REPLY_CACHE_DEFAULTS.maxEntries);
    this.maxBytes = positiveInt('maxBytes', opts.maxBytes, REPLY_CACHE_DEFAULTS.maxBytes);
    this.maxClients = positiveInt('maxClients', opts.maxClients, REPLY_CACHE_DEFAULTS.maxClients);
  }

  lookup(clientKey: string, seq: number): Lookup {
    const rec = this.clients.get(clientKey);
    if (rec === undefined) return { state: 'new' };
    if (seq < rec.ackBelow) return { state: 'stale' };
    const e = rec.entries.get(seq);
    if (e !== undefined) return e.state === 'running' ? { state: 'running' } : { state: 'done', reply: e.reply };
    if (seq < rec.unsureBelow) return { state: 'lost' };
    return { state: 'new' };
  }

  /** Record that the call is now running. Call only after lookup() said 'new'. */
  begin(clientKey: string, seq: number): void {
    let rec = this.clients.get(clientKey);
    if (rec === undefined) {
      rec = { key: clientKey, ackBelow: 0, unsureBelow: 0, entries: new Map(), running: 0 };
      this.clients.set(clientKey, rec);
    } else {
      this.touch(rec);
    }
    rec.entries.set(seq, { state: 'running', acked: false });
    rec.running++;
    this.running++;
    this.enforceClientLimit();
  }

  /**
   * The call finished: save its reply, unless the client already acknowledged it (gave up on it).
   * Returns false if the reply was not saved because it was acknowledged meanwhile.
   */
  finish(clientKey: string, seq: number, reply: Uint8Array): boolean {
    const rec = this.clients.get(clientKey);
    const e = rec?.entries.get(seq);
    if (rec === undefined || e === undefined || e.state !== 'running') return false;
    rec.running--;
    this.running--;
    if (e.acked || seq < rec.ackBelow) {
      rec.entries.delete(seq);
      this.ackedCount++;
      return false;
    }
    const lruKey = `${clientKey}#${seq}`;
    rec.entries.set(seq, { state: 'done', reply, lruKey });
    this.lru.set(lruKey, { rec, seq, bytes: reply.length });
    this.bytes += reply.length;
    this.enforceLimits();
    return true;
  }

  /** Replace a saved reply (e.g. by an error reply when the original could not be sent). */
  replace(clientKey: string, seq: number, reply: Uint8Array): void {
    const rec = this.clients.get(clientKey);
    const e = rec?.entries.get(seq);
    if (rec === undefined || e === undefined || e.state !== 'done') return;
    const l = this.lru.get(e.lruKey);
    if (l !== undefined) {
      this.bytes += reply.length - l.bytes;
      l.bytes = reply.length;
    }
    e.reply = reply;
  }

  /** The client has seen the replies of all calls below `ackBelow`, and of each seq in `explicit`. */
  ack(clientKey: string, ackBelow: number, explicit: readonly number[] = []): void {
    const rec = this.clients.get(clientKey);
    if (rec === undefined) return;
    this.touch(rec);
    if (ackBelow > rec.ackBelow) {
      rec.ackBelow = ackBelow;
      for (const [seq, e] of rec.entries) {
        if (seq < ackBelow) this.ackEntry(rec, seq, e);
      }
    }
    for (const seq of explicit) {
      const e = rec.entries.get(seq);
      if (e !== undefined) this.ackEntry(rec, seq, e);
    }
  }

  stats(): ReplyCacheStats {
    return {
      entries: this.lru.size, bytes: this.bytes, running: this.running, clients: this.clients.size,
      evictions: this.evictions, acked: this.ackedCount, clientsDropped: this.clientsDropped,
    };
  }

  private ackEntry(rec: ClientRecord, seq: number, e: Entry): void {
    if (e.state === 'running') {
      e.acked = true;
      return;
    }
    this.removeDone(rec, seq, e);
    this.ackedCount++;
  }

  private removeDone(rec: ClientRecord, seq: number, e: DoneEntry): void {
    rec.entries.delete(seq);
    const l = this.lru.get(e.lruKey);
    if (l !== undefined) {
      this.bytes -= l.bytes;
      this.lru.delete(e.lruKey);
    }
  }

  private enforceLimits(): void {
    while ((this.lru.size > this.maxEntries || this.bytes > this.maxBytes) && this.lru.size > 1) {
      const first = this.lru.entries().next();
      if (first.done === true) break;
      const [lruKey, { rec, seq }] = first.value;
      const e = rec.entries.get(seq);
      if (e !== undefined && e.state === 'done' && e.lruKey === lruKey) {
        this.removeDone(rec, seq, e);
      } else {
        this.lru.delete(lruKey);
      }
      rec.unsureBelow = Math.max(rec.unsureBelow, seq + 1);
      this.evictions++;
    }
  }

  private touch(rec: ClientRecord): void {
    this.clients.delete(rec.key);
    this.clients.set(rec.key, rec);
  }

  private enforceClientLimit(): void {
    for (const pass of [0, 1]) {
      if (this.clients.size <= this.maxClients) return;
      for (const rec of this.clients.values()) {
        if (this.clients.size <= this.maxClients) break;
        if (rec.running > 0 || (pass === 0 && rec.entries.size > 0)) continue;
        for (const [seq, e] of rec.entries) if (e.state === 'done') this.removeDone(rec, seq, e);
        this.clients.delete(rec.key);
        this.clientsDropped++;
      }
    }
  }
}
