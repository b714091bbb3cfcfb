/**
 * RpcServer: serves any number of interfaces over one Endpoint, with at-most-once semantics.
 *
 * For each incoming REQUEST, in this order, nothing of which throws to the caller:
 *  1. The incarnation the client expects (non-zero) must be ours, else SERVER_RESTARTED
 *     executed 'no': this incarnation never runs a call meant for another one.
 *  2. The client's ack watermark drops saved replies it has seen.
 *  3. Duplicate suppression (reply-cache.ts): running → WORKING; finished → the saved reply
 *     bytes again; evicted → "reply lost" (OVERLOADED, 'maybe'); seen → dropped.
 *  4. Interface, version, procedure (id and name must agree), argument validation, then the
 *     interface's `authorize` check of the caller (RPC_ERR_UNAUTHENTICATED); each failure is an
 *     error reply with executed 'no', and the handler is not called.
 *  5. The handler runs (inline, or in the interface's thread pool); after `workingAckAfterMs`
 *     without a result the client gets a WORKING message, the "received, working" ack.
 *  6. The result is validated (checkResult) and encoded; the reply is saved and sent.
 *     A handler exception becomes RPC_ERR_REMOTE with its message and `code`, executed 'once'.
 * PROBEs get WORKING, the saved reply, or UNKNOWN_CALL; ACKs only move the watermark.
 */
import type { Endpoint, PeerRestartedEvent } from '../../transport/types.js';
import type { CallContext, HandlerTable, InterfaceDescriptor, ProcedureDescriptor } from '../contract.js';
import type { Executed, RpcErrorCode } from '../errors.js';
import { Dispatcher, clientKey, randomIncarnation, type ServerPart } from './dispatcher.js';
import { serverLog, type Log } from './log.js';
import { invalidArgument, positiveInt, durationMs } from './options.js';
import { HandlerPool, locatePoolWorker, moduleHref } from './pool.js';
import { ReplyCache, REPLY_CACHE_DEFAULTS, type ReplyCacheOptions } from './reply-cache.js';
import { realTimers, type Timers } from './timers.js';
import {
  MsgType, callIdString, decodeMessage, describeMessage, encodeErrorBody, stampFrame, encodeReplyBody, frame, type Header, type RpcMessage,
} from './wire.js';
import { availableParallelism } from 'node:os';
import { TraceNode, traceNode } from '../../trace/node.js';
import { callLabel, resultLabel } from '../../trace/labels.js';
import type { RpcKind } from '../../trace/events.js';

export interface RpcServerOptions extends ReplyCacheOptions {
  /** Calls running at once; more are refused with RPC_ERR_OVERLOADED (executed 'no'). @default 4_096 */
  readonly maxRunning?: number;
  /** Send WORKING ("received, working") when a call has not finished after this long. @default 50 */
  readonly workingAckAfterMs?: number;
  /** Compiled pool worker file; found automatically (see pool.ts). */
  readonly poolWorkerFile?: string | URL;
  /** Clock and timers. @default the real ones */
  readonly timers?: Timers;
}

export const RPC_SERVER_DEFAULTS = { ...REPLY_CACHE_DEFAULTS, maxRunning: 4_096, workingAckAfterMs: 50 } as const;

export interface ServeOptions {
  /** Run every procedure of this interface in the thread pool (needs poolModule). @default false */
  readonly pool?: boolean;
  /**
   * Module exporting the handler table for pool procedures (compiled JS, as a file: URL or
   * path). Procedures marked `@pool` (ProcedureDescriptor.pool) run in the pool when this is given.
   */
  readonly poolModule?: string | URL;
  /** Export of poolModule holding the table. @default 'handlers' (falls back to default export) */
  readonly poolExport?: string;
  /** Worker threads for this interface's pool. @default os.availableParallelism() */
  readonly poolThreads?: number;
  /**
   * Checked before every call's handler runs (after its arguments were validated): return
   * undefined to let it run, or a reason to refuse it with RPC_ERR_UNAUTHENTICATED, executed 'no'
   * (counted in stats().unauthenticated). The place to match ctx.peerId, the caller the transport
   * authenticated, against who the call says it comes from. @default none: every caller
   */
  readonly authorize?: (call: AuthorizeCall) => string | undefined;
}

/** What an `authorize` check sees of a call. */
export interface AuthorizeCall {
  readonly ctx: CallContext;
  readonly proc: ProcedureDescriptor;
  /** The validated arguments. */
  readonly args: readonly unknown[];
}

export interface RpcServerStats {
  /** REQUEST messages received (including duplicates). */
  requests: number;
  /** Handler invocations started. */
  executed: number;
  /** Of those, run in a thread pool. */
  poolRuns: number;
  /** Final replies sent (results and errors, first sends and re-sends). */
  replies: number;
  /** Error replies sent, by code. */
  errors: Partial<Record<RpcErrorCode, number>>;
  probes: number;
  acks: number;
  /** WORKING messages sent: early acks, answers to probes and to duplicates of running calls. */
  stillWorking: number;
  /** Duplicate requests answered from the cache or with WORKING, or dropped as already seen. */
  duplicatesSuppressed: number;
  /** Requests/probes naming another server incarnation, rejected unrun. */
  restartRejected: number;
  /** Messages that failed validation (counted; answered MALFORMED when the call id was readable). */
  malformedDropped: number;
  /** Requests an interface's `authorize` check refused (answered RPC_ERR_UNAUTHENTICATED, not run). */
  unauthenticated: number;
  replyCache: { entries: number; bytes: number; evictions: number; running: number; clients: number; acked: number };
}

interface Served {
  readonly desc: InterfaceDescriptor;
  readonly byId: Map<number, ProcedureDescriptor>;
  readonly handlers: HandlerTable;
  readonly pool: HandlerPool | undefined;
  readonly poolAll: boolean;
  readonly authorize: ServeOptions['authorize'];
}

function errorCodeOf(e: unknown): string | undefined {
  const c = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof c === 'string' ? c : typeof c === 'number' ? String(c) : undefined;
}

export class RpcServer {
  /** Random per server start; carried in every reply. */
  readonly incarnation: number;
  readonly endpoint: Endpoint;
  private readonly maxRunning: number;
  private readonly workingAckAfterMs: number;
  private readonly poolWorkerFile: string | URL | undefined;
  private readonly timers: Timers;
  private readonly log: Log;
  private readonly cache: ReplyCache;
  private readonly dispatcher: Dispatcher;
  private readonly part: ServerPart;
  private readonly served = new Map<string, Served>();
  private readonly tn: TraceNode;
  private closed = false;
  private readonly st: Omit<RpcServerStats, 'replyCache'> = {
    requests: 0, executed: 0, poolRuns: 0, replies: 0, errors: {}, probes: 0, acks: 0, stillWorking: 0,
    duplicatesSuppressed: 0, restartRejected: 0, malformedDropped: 0, unauthenticated: 0,
  };

  constructor(endpoint: Endpoint, opts: RpcServerOptions = {}) {
    this.endpoint = endpoint;
    this.maxRunning = positiveInt('maxRunning', opts.maxRunning, RPC_SERVER_DEFAULTS.maxRunning);
    this.workingAckAfterMs = durationMs('workingAckAfterMs', opts.workingAckAfterMs, RPC_SERVER_DEFAULTS.workingAckAfterMs);
    try {
      this.cache = new ReplyCache(opts);
    } catch (e) {
      throw invalidArgument(e instanceof Error ? e.message : String(e));
    }
    this.poolWorkerFile = opts.poolWorkerFile;
    this.timers = opts.timers ?? realTimers;
    this.log = serverLog(endpoint.nodeId);
    this.tn = traceNode(endpoint.nodeId);
    this.tn.addAddress(endpoint.address); // so traces name this node where peers see only its address
    this.incarnation = randomIncarnation();
    this.part = {
      onMessage: (peer, msg, peerId) => this.onMessage(peer, msg, peerId),
      onMalformed: (peer, reason, h) => this.onMalformed(peer, reason, h),
      onPeerRestarted: (ev) => this.onPeerRestarted(ev),
    };
    this.dispatcher = Dispatcher.for(endpoint);
    this.dispatcher.setServer(this.part);
    this.log('server incarnation %s on %s', this.incarnation.toString(16), endpoint.address);
  }

  /** Serve one interface (one version per interface name). */
  serve(desc: InterfaceDescriptor, handlers: HandlerTable, opts: ServeOptions = {}): void {
    if (this.closed) throw invalidArgument('server is closed');
    if (this.served.has(desc.name)) throw invalidArgument(`interface ${desc.name} is already served`);
    const byId = new Map<number, ProcedureDescriptor>();
    for (const p of desc.procedures) {
      if (byId.has(p.id)) throw invalidArgument(`interface ${desc.name}: procedure id ${p.id} used twice`);
      byId.set(p.id, p);
    }
    if (opts.pool === true && opts.poolModule === undefined) throw invalidArgument(`serve(${desc.name}, { pool: true }) needs poolModule: the module that exports the handler table`);
    const usesPool = opts.poolModule !== undefined && (opts.pool === true || desc.procedures.some((p) => p.pool));
    for (const p of desc.procedures) {
      const inPool = usesPool && (opts.pool === true || p.pool);
      if (!inPool && typeof handlers[p.name] !== 'function') throw invalidArgument(`interface ${desc.name}: no handler for procedure ${p.name}`);
    }
    let pool: HandlerPool | undefined;
    if (usesPool && opts.poolModule !== undefined) {
      const threads = positiveInt('poolThreads', opts.poolThreads, Math.max(1, availableParallelism()));
      pool = new HandlerPool(moduleHref(opts.poolModule), opts.poolExport ?? 'handlers', threads, locatePoolWorker(this.poolWorkerFile));
    }
    if (opts.authorize !== undefined && typeof opts.authorize !== 'function') throw invalidArgument(`serve(${desc.name}): authorize must be a function`);
    this.served.set(desc.name, { desc, byId, handlers, pool, poolAll: opts.pool === true, authorize: opts.authorize });
    this.log('serving %s version %d (%d procedures%s)', desc.name, desc.version, desc.procedures.length, pool ? ', pool' : '');
  }

  stats(): RpcServerStats {
    const c = this.cache.stats();
    return {
      ...this.st, errors: { ...this.st.errors },
      replyCache: { entries: c.entries, bytes: c.bytes, evictions: c.evictions, running: c.running, clients: c.clients, acked: c.acked },
    };
  }

  /** Stop answering, release the endpoint (not closed: it belongs to the caller), stop the pools. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dispatcher.removeServer(this.part);
    await Promise.all([...this.served.values()].map((s) => s.pool?.close()));
  }

  // ------------------------------------------------------------ incoming

  private onMessage(peer: string, msg: RpcMessage, peerId: string | undefined): void {
    if (this.closed) return;
    this.log('recv from %s: %s', peer, { toString: () => describeMessage(msg) });
    if (msg.h.trace !== undefined) this.tn.observe(msg.h.trace.lc);
    if (this.tn.rpc.on) this.traceReceived(peer, msg);
    const h = msg.h;
    // Records are per sending address too: the transport vouches for the peer's address, so one
    // peer cannot acknowledge away or replay another peer's calls by copying its call ids.
    const key = `${peer}|${clientKey(h.clientId, h.clientInc)}`;
    if (h.serverInc !== 0 && h.serverInc !== this.incarnation) {
      if (msg.kind === 'ack') return; // about another incarnation's state: nothing to do
      this.st.restartRejected++;
      // For a request: not run here. For a probe: whatever happened, it happened elsewhere.
      this.sendError(peer, h, 'RPC_ERR_SERVER_RESTARTED',
        `server ${this.endpoint.address} is incarnation ${this.incarnation.toString(16)}, not ${h.serverInc.toString(16)}; the call was not run here`,
        msg.kind === 'request' ? 'no' : 'maybe');
      return;
    }
    switch (msg.kind) {
      case 'ack':
        this.st.acks++;
        this.cache.ack(key, h.ackBelow, msg.acks);
        return;
      case 'probe':
        this.st.probes++;
        this.cache.ack(key, h.ackBelow);
        this.answerKnown(peer, h, key, 'probe');
        return;
      case 'request':
        this.st.requests++;
        this.cache.ack(key, h.ackBelow);
        return this.onRequest(peer, msg, key, peerId);
      default:
        // Server → client types never reach here (the dispatcher routes by type).
        this.st.malformedDropped++;
    }
  }

  private traceReceived(peer: string, msg: RpcMessage): void {
    const l = msg.kind === 'request' ? callLabel(msg.iface, msg.procName, msg.args) : undefined;
    this.tn.rpc.emit({
      type: 'rpc-received', dir: 'recv', kind: msg.kind, call: callIdString(msg.h.clientId, msg.h.clientInc, msg.h.seq), peer: this.tn.peerName(peer),
      ...(msg.h.trace !== undefined ? { cause: TraceNode.remoteKey(msg.h.trace.inc, msg.h.trace.lc) } : {}),
      ...(msg.kind === 'request' ? { iface: msg.iface, proc: msg.procName } : {}),
      label: l?.text ?? (msg.kind === 'ack' ? `ack replies < #${msg.h.ackBelow}` : msg.kind), ...(l?.page !== undefined ? { page: l.page } : {}),
    });
  }

  /**
   * While tracing: publish the send of an answer about call `h` and return the frame stamped with
   * that event's clock, so the client's receive names it. Frames are cached unstamped.
   */
  private traced(bytes: Uint8Array, peer: string, h: Header, kind: RpcKind, label: () => string,
    extra: { iface?: string; proc?: string; code?: string; resent?: boolean; page?: number } = {}): Uint8Array {
    let lc = this.tn.lc;
    if (this.tn.rpc.on) {
      lc = this.tn.rpc.emit({
        type: 'rpc-sent', dir: 'send', kind, call: callIdString(h.clientId, h.clientInc, h.seq), peer: this.tn.peerName(peer), label: label(), ...extra,
      });
    }
    return stampFrame(bytes, { inc: this.tn.inc, lc });
  }

  private unknownCall(peer: string, h: Header): void {
    const bytes = frame(MsgType.UNKNOWN_CALL, this.replyHeader(h));
    this.send(peer, this.tn.active ? this.traced(bytes, peer, h, 'unknown-call', () => 'unknown call') : bytes);
  }

  /** Answer a probe or a duplicate request from the cache. Returns false if the call is new. */
  private answerKnown(peer: string, h: Header, key: string, what: 'probe' | 'request'): boolean {
    const l = this.cache.lookup(key, h.seq);
    if (this.tn.rpc.on && what === 'request' && l.state !== 'new') {
      this.tn.rpc.emit({ type: 'rpc-duplicate', call: callIdString(h.clientId, h.clientInc, h.seq), peer: this.tn.peerName(peer), state: l.state, label: `duplicate request (${l.state}): not run again` });
    }
    switch (l.state) {
      case 'new':
        if (what === 'probe') this.unknownCall(peer, h);
        return false;
      case 'running':
        if (what === 'request') this.st.duplicatesSuppressed++;
        this.sendWorking(peer, h);
        return true;
      case 'done':
        if (what === 'request') this.st.duplicatesSuppressed++;
        this.st.replies++;
        if (this.tn.active) {
          const kind: RpcKind = l.reply[2] === MsgType.REPLY ? 'reply' : 'error';
          this.send(peer, this.traced(l.reply, peer, h, kind, () => `${kind} (saved, sent again)`, { resent: true }));
        } else {
          this.send(peer, l.reply);
        }
        return true;
      case 'stale':
        if (what === 'request') this.st.duplicatesSuppressed++;
        else this.unknownCall(peer, h);
        return true;
      case 'lost':
        if (what === 'request') this.st.duplicatesSuppressed++;
        this.sendError(peer, h, 'RPC_ERR_OVERLOADED', 'the reply was dropped from the server\'s reply cache before the client acknowledged it; the call is not run again', 'maybe');
        return true;
    }
  }

  private onRequest(peer: string, msg: Extract<RpcMessage, { kind: 'request' }>, key: string, peerId: string | undefined): void {
    const h = msg.h;
    if (this.answerKnown(peer, h, key, 'request')) return;
    const served = this.served.get(msg.iface);
    if (served === undefined) {
      return this.sendError(peer, h, 'RPC_ERR_UNKNOWN_INTERFACE', `interface ${msg.iface} is not served here`, 'no');
    }
    if (served.desc.version !== msg.version) {
      return this.sendError(peer, h, 'RPC_ERR_VERSION_MISMATCH', `interface ${msg.iface} is served at version ${served.desc.version}, not ${msg.version}`, 'no');
    }
    const proc = served.byId.get(msg.procId);
    if (proc === undefined || proc.name !== msg.procName) {
      return this.sendError(peer, h, 'RPC_ERR_UNKNOWN_PROCEDURE', `interface ${msg.iface} version ${msg.version} has no procedure ${msg.procName} (#${msg.procId})`, 'no');
    }
    let args: unknown[];
    try {
      args = proc.checkArgs(msg.args);
      if (!Array.isArray(args)) throw new TypeError('checkArgs did not return an array');
    } catch (e) {
      return this.sendError(peer, h, 'RPC_ERR_INVALID_ARGS', `${msg.iface}.${proc.name}: ${e instanceof Error ? e.message : String(e)}`, 'no');
    }
    const ctx: CallContext = { peer, peerId, callId: callIdString(h.clientId, h.clientInc, h.seq) };
    if (served.authorize !== undefined) {
      let refused: string | undefined;
      try {
        refused = served.authorize({ ctx, proc, args });
      } catch (e) {
        refused = `authorize threw: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (refused !== undefined) {
        this.st.unauthenticated++;
        return this.sendError(peer, h, 'RPC_ERR_UNAUTHENTICATED', `${msg.iface}.${proc.name}: ${refused}`, 'no');
      }
    }
    if (this.cache.stats().running >= this.maxRunning) {
      return this.sendError(peer, h, 'RPC_ERR_OVERLOADED', `${this.maxRunning} calls already running (maxRunning)`, 'no');
    }
    this.cache.begin(key, h.seq);
    this.st.executed++;
    const inPool = served.pool !== undefined && (served.poolAll || proc.pool === true);
    if (this.tn.rpc.on) {
      const l = callLabel(msg.iface, proc.name, args);
      this.tn.rpc.emit({
        type: 'rpc-executed', call: callIdString(h.clientId, h.clientInc, h.seq), peer: this.tn.peerName(peer), iface: msg.iface, proc: proc.name,
        pool: inPool, label: `run ${l.text}`, ...(l.page !== undefined ? { page: l.page } : {}),
      });
    }
    let workingTimer: unknown;
    if (Number.isFinite(this.workingAckAfterMs)) {
      workingTimer = this.timers.setTimeout(() => {
        workingTimer = undefined;
        if (!this.closed && this.cache.lookup(key, h.seq).state === 'running') this.sendWorking(peer, h);
      }, this.workingAckAfterMs);
    }
    void this.invoke(served, proc, args, ctx, inPool).then((outcome) => {
      if (workingTimer !== undefined) this.timers.clearTimeout(workingTimer);
      this.finish(peer, h, key, served.desc, proc, outcome, args);
    });
  }

  private async invoke(served: Served, proc: ProcedureDescriptor, args: unknown[], ctx: CallContext, inPool: boolean):
  Promise<{ ok: true; value: unknown } | { ok: false; message: string; code: string | undefined; failAs?: RpcErrorCode }> {
    if (inPool && served.pool !== undefined) {
      this.st.poolRuns++;
      try {
        const out = await served.pool.run(proc.name, args, { peer: ctx.peer, peerId: ctx.peerId, callId: ctx.callId });
        if (out.ok) return out;
        return { ok: false, message: out.message, code: out.code };
      } catch (e) {
        // The task could not cross threads (e.g. a result that cannot be cloned) or the pool died.
        return { ok: false, message: `thread pool: ${e instanceof Error ? e.message : String(e)}`, code: errorCodeOf(e), failAs: 'RPC_ERR_INVALID_RESULT' };
      }
    }
    const fn = served.handlers[proc.name];
    try {
      if (typeof fn !== 'function') throw new Error(`no handler for ${proc.name}`);
      return { ok: true, value: await fn(...args, ctx) };
    } catch (e) {
      return { ok: false, message: e instanceof Error ? e.message : String(e), code: errorCodeOf(e) };
    }
  }

  private finish(
    peer: string, h: Header, key: string, desc: InterfaceDescriptor, proc: ProcedureDescriptor,
    outcome: { ok: true; value: unknown } | { ok: false; message: string; code: string | undefined; failAs?: RpcErrorCode },
    args: unknown[],
  ): void {
    let reply: Uint8Array;
    /** The error frame's code (undefined: a reply), for the trace. */
    let errCode: RpcErrorCode | undefined;
    const rh = this.replyHeader(h);
    const name = `${desc.name}.${proc.name}`;
    if (outcome.ok) {
      try {
        const checked = proc.checkResult(outcome.value);
        reply = frame(MsgType.REPLY, rh, encodeReplyBody(checked));
      } catch (e) {
        errCode = 'RPC_ERR_INVALID_RESULT';
        reply = this.errorFrame(rh, errCode, `${name}: result ${e instanceof Error ? e.message : String(e)}`, 'once');
      }
    } else if (outcome.failAs !== undefined) {
      errCode = outcome.failAs;
      reply = this.errorFrame(rh, errCode, `${name}: ${outcome.message}`, 'once', outcome.code);
    } else {
      errCode = 'RPC_ERR_REMOTE';
      reply = this.errorFrame(rh, errCode, outcome.message, 'once', outcome.code);
    }
    const saved = this.cache.finish(key, h.seq, reply);
    if (this.closed) return;
    if (!saved) {
      this.log('%s finished after the client gave up on it', callIdString(h.clientId, h.clientInc, h.seq));
      return;
    }
    this.st.replies++;
    let out = reply;
    if (this.tn.active) {
      const isReply = errCode === undefined;
      const l = isReply ? resultLabel(desc.name, proc.name, (outcome as { value?: unknown }).value, args) : callLabel(desc.name, proc.name, args);
      const code = errCode;
      out = this.traced(reply, peer, h, isReply ? 'reply' : 'error', () => (isReply ? l.text : `error ${l.text}: ${code}`),
        { iface: desc.name, proc: proc.name, ...(code !== undefined ? { code } : {}), ...(l.page !== undefined ? { page: l.page } : {}) });
    }
    this.endpoint.send(peer, out).then(undefined, (e: unknown) => {
      const code = errorCodeOf(e);
      this.log('reply to %s for %s not delivered: %s', peer, callIdString(h.clientId, h.clientInc, h.seq), code ?? String(e));
      if (code === 'TRANSPORT_ERR_MESSAGE_TOO_LARGE') {
        // The client will probe; give it an answer it can receive.
        const small = this.errorFrame(rh, 'RPC_ERR_INVALID_RESULT', `${name}: reply of ${reply.length} bytes is too large for the transport`, 'once');
        this.cache.replace(key, h.seq, small);
        this.send(peer, small);
      }
    });
  }

  private onMalformed(peer: string, reason: string, h: Header | undefined): void {
    this.st.malformedDropped++;
    this.log('malformed message from %s: %s', peer, reason);
    if (this.closed || h === undefined || h.type !== MsgType.REQUEST) return;
    // The call id is readable: tell the caller instead of letting it wait for probes.
    this.sendError(peer, h, 'RPC_ERR_MALFORMED', `request could not be decoded: ${reason}`, 'no');
  }

  private onPeerRestarted(ev: PeerRestartedEvent): void {
    // A client restarted. Its new RpcClient has a new incarnation; the old one's records age
    // out through the cache bounds. Nothing else to do.
    this.log('transport: peer %s restarted (session %s → %s)', ev.peer, ev.oldSession, ev.newSession);
  }

  // ------------------------------------------------------------ outgoing

  private replyHeader(h: Header): Omit<Header, 'type'> {
    return { clientId: h.clientId, clientInc: h.clientInc, seq: h.seq, serverInc: this.incarnation, ackBelow: 0 };
  }

  private errorFrame(rh: Omit<Header, 'type'>, code: RpcErrorCode, message: string, executed: Executed, remoteCode?: string): Uint8Array {
    this.st.errors[code] = (this.st.errors[code] ?? 0) + 1;
    return frame(MsgType.ERROR, rh, encodeErrorBody(code, message, executed, remoteCode));
  }

  /** The error code in an ERROR frame this server built (for traces). */
  private sendError(peer: string, h: Header, code: RpcErrorCode, message: string, executed: Executed): void {
    this.log('error %s to %s: %s', code, peer, message);
    this.st.replies++;
    const bytes = this.errorFrame(this.replyHeader(h), code, message, executed);
    this.send(peer, this.tn.active ? this.traced(bytes, peer, h, 'error', () => `error ${code}`, { code }) : bytes);
  }

  private sendWorking(peer: string, h: Header): void {
    this.st.stillWorking++;
    const bytes = frame(MsgType.WORKING, this.replyHeader(h));
    this.send(peer, this.tn.active ? this.traced(bytes, peer, h, 'working', () => 'WORKING') : bytes);
  }

  private send(peer: string, bytes: Uint8Array): void {
    this.endpoint.send(peer, bytes).then(undefined, (e: unknown) => {
      this.log('send to %s failed: %s', peer, errorCodeOf(e) ?? String(e));
    });
  }
}
