/**
 * RpcClient: the caller side of at-most-once RPC, bound to one server address.
 *
 * ## Why and when the RPC layer sends anything twice
 *
 * The transport already retransmits: while the peer lives, `send()` delivers the request
 * exactly once and in order, and resolves when the peer acknowledged it. So the RPC layer does
 * NOT retransmit requests on a timer. It sends more than the request only in these cases:
 *
 * 1. Long-call probes. Once the request is delivered (send resolved) the client waits for the
 *    reply. If none came after `probeIntervalMs`, it sends a PROBE for the call id; the server
 *    answers WORKING (still running), or re-sends the saved reply, or UNKNOWN_CALL. Probe
 *    intervals double up to `maxProbeIntervalMs`. A probe that the transport rejects, or that
 *    gets no answer within `probeTimeoutMs`, fails the call with RPC_ERR_UNREACHABLE
 *    executed 'maybe'. So a call whose server died fails within
 *    maxProbeIntervalMs + probeTimeoutMs of the death (the transport's giveUpMs bounds the
 *    time before the request itself is delivered). Without probes a client could not tell a
 *    slow handler from a dead server: the transport is silent once the request is acked.
 *
 * 2. Re-sending the request after the transport gave up on it (TRANSPORT_ERR_PEER_UNREACHABLE),
 *    at most `maxResends` times (default 0: a transport give-up fails the call at once; the
 *    transport already retried for giveUpMs, and another giveUpMs rarely helps). A re-send is
 *    safe under at-most-once only because (a) it carries the same call id, so a server that
 *    did receive the first copy suppresses it (running → WORKING, finished → saved reply,
 *    saved reply evicted → "reply lost", never a second run), and (b) it carries the server
 *    incarnation the first copy was addressed to, so a restarted server (new incarnation,
 *    empty reply cache) rejects it with SERVER_RESTARTED instead of running it. For (b) the
 *    client must have known the incarnation when it sent the first copy; a call first sent
 *    before the client ever heard from the server is never re-sent.
 *
 * 3. One automatic re-send after a restart rejection of a request that was sent exactly once:
 *    the client expected incarnation A, the server (now B) rejected it without running it
 *    (executed 'no'), and since the only copy went to B, A never saw it. The re-send carries
 *    B. A call that was sent twice, or probed, and then meets a new incarnation fails with
 *    RPC_ERR_SERVER_RESTARTED executed 'maybe': it may have run on A, and it never runs on B.
 *
 * ## Server incarnations
 *
 * Every server message carries its incarnation. The client remembers the last one it heard
 * (`knownInc`) and puts it in every request and probe; the server rejects any message that
 * names another incarnation without running anything. Each call remembers the incarnation it
 * is tied to (`tiedInc`: the one its request named, or the one whose WORKING/reply it got).
 * A call learns that its server restarted from the answer to its own request or probe: the
 * new incarnation answers SERVER_RESTARTED (tied calls) or UNKNOWN_CALL (untied calls: their
 * request went out before the client heard from the server), and the call fails with
 * executed 'maybe'; it is never re-sent. When the client hears a new incarnation on any
 * message, or the transport emits 'peer-restarted' for the server, every delivered call is
 * probed at once, so the failure is reported in one round trip rather than at the next probe
 * interval, and a call that really reached the new incarnation is not failed by a guess.
 *
 * ## Acknowledging replies (what lets the server drop saved replies)
 *
 * Every REQUEST and PROBE carries `ackBelow` = the lowest seq still outstanding (or the next
 * seq if none): the client has all replies below it. That watermark stalls behind one long
 * call, so the client also sends an ACK message `ackDelayMs` after a reply arrives, carrying
 * the watermark and the explicit seqs of replies received above it. Calls the client gave up
 * on (deadline, abort) count as "seen": the server will not keep their replies.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Endpoint, PeerRestartedEvent } from '../../transport/types.js';
import type { Caller, CallOptions, InterfaceDescriptor, ProcedureDescriptor } from '../contract.js';
import { RpcError, type Executed, type RpcErrorCode } from '../errors.js';
import { Dispatcher, randomIncarnation, type ClientPart } from './dispatcher.js';
import { clientLog, type Log } from './log.js';
import { durationMs, invalidArgument, nonNegativeInt, positiveInt } from './options.js';
import { realTimers, type Timers } from './timers.js';
import { TraceNode, traceNode } from '../../trace/node.js';
import { callLabel, resultLabel } from '../../trace/labels.js';
import type { RpcKind } from '../../trace/events.js';
import {
  MAX_EXPLICIT_ACKS, MAX_SEQ, MsgType, callIdString, describeMessage, encodeAckBody, encodeRequestBody, frame, stampFrame,
  type Header, type RpcMessage,
} from './wire.js';

export interface RpcClientOptions {
  /** The server this client calls, "host:port". */
  readonly server: string;
  /** 64-bit client id. @default a random id shared by every RpcClient of this process */
  readonly clientId?: bigint;
  /** Calls outstanding at once; one more fails with RPC_ERR_OVERLOADED. @default 10_000 */
  readonly maxOutstanding?: number;
  /** Deadline applied to calls that pass no timeoutMs; 0 = none. @default 0 */
  readonly defaultTimeoutMs?: number;
  /** First probe this long after the request was delivered without a reply. @default 100 */
  readonly probeIntervalMs?: number;
  /** Probe interval doubles up to this. @default 1_000 */
  readonly maxProbeIntervalMs?: number;
  /** A probe unanswered this long fails the call with RPC_ERR_UNREACHABLE. @default 2_000 */
  readonly probeTimeoutMs?: number;
  /** Re-sends of a request after the transport gave up on it (see the comment above). @default 0 */
  readonly maxResends?: number;
  /** Delay before a standalone ACK of received replies. @default 50 */
  readonly ackDelayMs?: number;
  /** Clock and timers. @default the real ones */
  readonly timers?: Timers;
}

export const RPC_CLIENT_DEFAULTS = {
  maxOutstanding: 10_000,
  defaultTimeoutMs: 0,
  probeIntervalMs: 100,
  maxProbeIntervalMs: 1_000,
  probeTimeoutMs: 2_000,
  maxResends: 0,
  ackDelayMs: 50,
} as const;

export interface RpcClientStats {
  /** Calls started (accepted, sent or not). */
  calls: number;
  /** Calls that returned a result. */
  replies: number;
  /** Calls that failed, by error code. */
  errors: Partial<Record<RpcErrorCode, number>>;
  outstanding: number;
  requestsSent: number;
  resends: number;
  probesSent: number;
  /** Probes answered by WORKING, a reply or an error (not by silence or a transport failure). */
  probesAnswered: number;
  /** WORKING messages received (early acks and probe answers). */
  stillWorking: number;
  acksSent: number;
  /** Server messages for calls no longer outstanding (late replies, answers to abandoned calls). */
  lateMessages: number;
  /** Messages that failed validation, or came from a peer other than the server. */
  malformedDropped: number;
  /** Times the server's incarnation changed under this client. */
  serverRestarts: number;
}

export interface ServerRestartedEvent {
  readonly server: string;
  /** 0 if the client learned of the restart from the transport before hearing the new incarnation. */
  readonly oldIncarnation: number;
  readonly newIncarnation: number;
}

export interface RpcClientEvents {
  'server-restarted': [ServerRestartedEvent];
}

interface PendingCall {
  readonly seq: number;
  readonly iface: InterfaceDescriptor;
  readonly proc: ProcedureDescriptor;
  readonly body: Uint8Array;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
  /** Incarnation this call is tied to (0: unknown). */
  tiedInc: number;
  /** Copies of the request sent (first send + re-sends). */
  sends: number;
  /** Restart re-sends done (case 3 above). */
  restartResends: number;
  /** Probes sent (a probed call is never re-sent). */
  probes: number;
  /** Generation of the current send, so a stale send's settlement is ignored. */
  sendGen: number;
  /** The transport acknowledged the current copy of the request. */
  delivered: boolean;
  probeInterval: number;
  awaitingProbe: boolean;
  deadlineTimer: unknown;
  probeTimer: unknown;
  probeTimeoutTimer: unknown;
  /** Only while tracing: the validated arguments (for labels) and when the call started. */
  traceArgs?: unknown[];
  traceStart?: number;
}

let processClientId: bigint | undefined;
function defaultClientId(): bigint {
  processClientId ??= randomBytes(8).readBigUInt64BE(0);
  return processClientId;
}

function transportCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TransportError') {
    const c = (e as { code?: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

export class RpcClient extends EventEmitter<RpcClientEvents> implements Caller {
  readonly server: string;
  readonly clientId: bigint;
  /** Random per RpcClient start. */
  readonly incarnation: number;
  readonly endpoint: Endpoint;

  private readonly maxOutstanding: number;
  private readonly defaultTimeoutMs: number;
  private readonly probeIntervalMs: number;
  private readonly maxProbeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly maxResends: number;
  private readonly ackDelayMs: number;
  private readonly timers: Timers;
  private readonly log: Log;
  private readonly dispatcher: Dispatcher;
  private readonly part: ClientPart;
  private readonly tn: TraceNode;

  /** Outstanding calls in seq order (Map keeps insertion order; seqs only grow). */
  private readonly pending = new Map<number, PendingCall>();
  private nextSeq = 1;
  /** Last server incarnation heard (0: never heard from the server). */
  private knownInc = 0;
  /** Seqs completed above the watermark, not yet acknowledged to the server. */
  private unackedDone: number[] = [];
  private ackSentBelow = 0;
  private ackTimer: unknown = undefined;
  private closed = false;
  private readonly st: RpcClientStats = {
    calls: 0, replies: 0, errors: {}, outstanding: 0, requestsSent: 0, resends: 0, probesSent: 0, probesAnswered: 0,
    stillWorking: 0, acksSent: 0, lateMessages: 0, malformedDropped: 0, serverRestarts: 0,
  };

  constructor(endpoint: Endpoint, opts: RpcClientOptions) {
    super();
    if (typeof opts?.server !== 'string' || !/^.+:\d{1,5}$/.test(opts.server)) {
      throw invalidArgument(`server must be a "host:port" string, got ${String(opts?.server)}`);
    }
    if (opts.clientId !== undefined && (typeof opts.clientId !== 'bigint' || opts.clientId < 0n || opts.clientId >= 1n << 64n)) {
      throw invalidArgument(`clientId must be a bigint in [0, 2^64), got ${String(opts.clientId)}`);
    }
    this.endpoint = endpoint;
    this.server = opts.server;
    this.clientId = opts.clientId ?? defaultClientId();
    this.maxOutstanding = positiveInt('maxOutstanding', opts.maxOutstanding, RPC_CLIENT_DEFAULTS.maxOutstanding);
    this.defaultTimeoutMs = durationMs('defaultTimeoutMs', opts.defaultTimeoutMs, RPC_CLIENT_DEFAULTS.defaultTimeoutMs);
    this.probeIntervalMs = durationMs('probeIntervalMs', opts.probeIntervalMs, RPC_CLIENT_DEFAULTS.probeIntervalMs);
    this.maxProbeIntervalMs = durationMs('maxProbeIntervalMs', opts.maxProbeIntervalMs, RPC_CLIENT_DEFAULTS.maxProbeIntervalMs);
    this.probeTimeoutMs = durationMs('probeTimeoutMs', opts.probeTimeoutMs, RPC_CLIENT_DEFAULTS.probeTimeoutMs);
    this.maxResends = nonNegativeInt('maxResends', opts.maxResends, RPC_CLIENT_DEFAULTS.maxResends);
    this.ackDelayMs = durationMs('ackDelayMs', opts.ackDelayMs, RPC_CLIENT_DEFAULTS.ackDelayMs);
    if (this.probeIntervalMs < 1) throw invalidArgument('probeIntervalMs must be ≥ 1');
    if (this.maxProbeIntervalMs < this.probeIntervalMs) throw invalidArgument('maxProbeIntervalMs must be ≥ probeIntervalMs');
    if (this.probeTimeoutMs < 1) throw invalidArgument('probeTimeoutMs must be ≥ 1');
    this.timers = opts.timers ?? realTimers;
    this.log = clientLog(endpoint.nodeId);
    this.tn = traceNode(endpoint.nodeId);
    this.tn.addAddress(endpoint.address); // so traces name this node where peers see only its address
    this.dispatcher = Dispatcher.for(endpoint);
    let inc = randomIncarnation();
    while (this.dispatcher.hasClientIncarnation(this.clientId, inc)) inc = randomIncarnation();
    this.incarnation = inc;
    const self = this;
    this.part = {
      clientId: this.clientId,
      incarnation: this.incarnation,
      server: this.server,
      onMessage: (peer, msg) => self.onMessage(peer, msg),
      onMalformed: (peer, reason, h) => self.onMalformed(peer, reason, h),
      onPeerRestarted: (ev) => self.onPeerRestarted(ev),
    };
    this.dispatcher.addClient(this.part);
    this.log('client %s/%s for %s started', this.clientId.toString(16), this.incarnation.toString(16), this.server);
  }

  /** Snapshot of the counters. */
  stats(): RpcClientStats {
    return { ...this.st, errors: { ...this.st.errors }, outstanding: this.pending.size };
  }

  /** The server incarnation last heard (0 if none yet). */
  get serverIncarnation(): number {
    return this.knownInc;
  }

  call(iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts: CallOptions = {}): Promise<unknown> {
    try {
      return this.start(iface, proc, args, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Stop: outstanding calls fail with RPC_ERR_CLOSED (executed 'maybe'), a last ACK tells the
   * server it may drop this client's saved replies, and the endpoint is released (not closed:
   * the endpoint belongs to the caller).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.pending.values()]) this.fail(c, 'RPC_ERR_CLOSED', 'client closed while the call was outstanding', 'maybe');
    if (this.ackTimer !== undefined) this.timers.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.knownInc !== 0 && (this.unackedDone.length > 0 || this.ackBelow() > this.ackSentBelow)) this.sendAck();
    this.dispatcher.removeClient(this.part);
  }

  // ------------------------------------------------------------ starting a call

  private start(iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts: CallOptions): Promise<unknown> {
    if (this.closed) throw new RpcError('RPC_ERR_CLOSED', `client for ${this.server} is closed`);
    const timeoutMs = opts.timeoutMs ?? (this.defaultTimeoutMs > 0 ? this.defaultTimeoutMs : undefined);
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)) {
      throw invalidArgument(`timeoutMs must be a number ≥ 0, got ${String(timeoutMs)}`);
    }
    const signal = opts.signal;
    if (signal?.aborted === true) throw new RpcError('RPC_ERR_ABORTED', `${iface.name}.${proc.name} aborted before it was sent`, { cause: signal.reason });
    if (timeoutMs === 0) throw new RpcError('RPC_ERR_DEADLINE', `${iface.name}.${proc.name}: deadline of 0 ms passed before it was sent`);
    if (this.pending.size >= this.maxOutstanding) {
      this.count('RPC_ERR_OVERLOADED');
      throw new RpcError('RPC_ERR_OVERLOADED', `${this.pending.size} calls outstanding to ${this.server} (maxOutstanding ${this.maxOutstanding})`);
    }
    let checked: unknown[];
    try {
      checked = proc.checkArgs(args);
    } catch (e) {
      throw new RpcError('RPC_ERR_INVALID_ARGS', `${iface.name}.${proc.name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    let body: Uint8Array;
    try {
      body = encodeRequestBody(iface.name, iface.version, proc.id, proc.name, checked);
    } catch (e) {
      throw new RpcError('RPC_ERR_INVALID_ARGS', `${iface.name}.${proc.name}: arguments cannot be encoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (this.nextSeq > MAX_SEQ) throw new RpcError('RPC_ERR_CLOSED', 'sequence numbers exhausted; start a new RpcClient');
    const seq = this.nextSeq++;
    this.st.calls++;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = signal === undefined ? undefined : () => {
        const c = this.pending.get(seq);
        if (c !== undefined) this.fail(c, 'RPC_ERR_ABORTED', `${iface.name}.${proc.name} aborted after it was sent`, 'maybe', signal.reason);
      };
      const call: PendingCall = {
        seq, iface, proc, body, resolve, reject, signal, onAbort,
        tiedInc: this.knownInc, sends: 0, restartResends: 0, probes: 0, sendGen: 0, delivered: false,
        probeInterval: this.probeIntervalMs, awaitingProbe: false,
        deadlineTimer: undefined, probeTimer: undefined, probeTimeoutTimer: undefined,
      };
      if (this.tn.rpc.on) {
        call.traceArgs = checked;
        call.traceStart = this.timers.now();
      }
      this.pending.set(seq, call);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        call.deadlineTimer = this.timers.setTimeout(() => {
          if (this.pending.get(seq) === call) this.fail(call, 'RPC_ERR_DEADLINE', `${iface.name}.${proc.name}: no reply within ${timeoutMs} ms`, 'maybe');
        }, timeoutMs);
      }
      if (signal !== undefined && onAbort !== undefined) signal.addEventListener('abort', onAbort, { once: true });
      this.sendRequest(call);
    });
  }

  /** Lowest seq still outstanding: the client has every reply below it. */
  private ackBelow(): number {
    const first = this.pending.keys().next();
    return first.done === true ? this.nextSeq : first.value;
  }

  private header(seq: number, serverInc: number): Omit<Header, 'type'> {
    const ackBelow = this.ackBelow();
    if (ackBelow > this.ackSentBelow) this.ackSentBelow = ackBelow;
    return { clientId: this.clientId, clientInc: this.incarnation, seq, serverInc, ackBelow };
  }

  private sendRequest(call: PendingCall): void {
    call.sends++;
    call.delivered = false;
    const gen = ++call.sendGen;
    this.st.requestsSent++;
    if (call.sends > 1) this.st.resends++;
    let bytes = frame(MsgType.REQUEST, this.header(call.seq, call.tiedInc), call.body);
    this.log('send %s', describeLazy(() => `request ${this.cid(call.seq)} ${call.iface.name}.${call.proc.name} inc=${call.tiedInc.toString(16)} send#${call.sends}`));
    if (this.tn.active) bytes = this.traced(bytes, 'request', call, call.sends);
    this.endpoint.send(this.server, bytes).then(
      () => {
        if (this.pending.get(call.seq) !== call || call.sendGen !== gen) return;
        call.delivered = true;
        if (!call.awaitingProbe) this.scheduleProbe(call);
      },
      (e: unknown) => {
        if (this.pending.get(call.seq) !== call || call.sendGen !== gen) return;
        this.onSendFailed(call, e, 'request');
      },
    );
  }

  /**
   * While tracing: publish the send of a message of `call` (or of an ACK when call is undefined)
   * and return the frame stamped with that event's clock, so the server's receive names it.
   */
  private traced(bytes: Uint8Array, kind: RpcKind, call: PendingCall | undefined, attempt?: number, label?: string): Uint8Array {
    let lc = this.tn.lc;
    if (this.tn.rpc.on) {
      const l = call === undefined ? undefined : callLabel(call.iface.name, call.proc.name, call.traceArgs ?? []);
      const text = kind === 'request' ? l?.text : `${kind}${l !== undefined ? ` ${l.text}` : ''}`;
      lc = this.tn.rpc.emit({
        type: 'rpc-sent', dir: 'send', kind, call: this.cid(call?.seq ?? 0), peer: this.tn.peerName(this.server),
        ...(call !== undefined ? { iface: call.iface.name, proc: call.proc.name } : {}),
        ...(attempt !== undefined ? { attempt } : {}),
        label: label ?? text ?? kind, ...(l?.page !== undefined ? { page: l.page } : {}),
      });
    }
    return stampFrame(bytes, { inc: this.tn.inc, lc });
  }

  private onSendFailed(call: PendingCall, e: unknown, what: 'request' | 'probe'): void {
    const code = transportCode(e);
    const name = `${call.iface.name}.${call.proc.name}`;
    this.log('%s %s failed: %s', what, this.cid(call.seq), code ?? String(e));
    switch (code) {
      case 'TRANSPORT_ERR_PEER_UNREACHABLE':
        if (what === 'request' && call.probes === 0 && call.sends <= this.maxResends && call.tiedInc !== 0 && !this.closed) {
          this.sendRequest(call);
          return;
        }
        return this.fail(call, 'RPC_ERR_UNREACHABLE', `${name}: server ${this.server} unreachable (${what} not acknowledged by the transport)`, 'maybe', e);
      case 'TRANSPORT_ERR_PEER_RESTARTED':
        return this.fail(call, 'RPC_ERR_SERVER_RESTARTED', `${name}: server ${this.server} restarted before acknowledging the ${what}`, 'maybe', e);
      case 'TRANSPORT_ERR_MESSAGE_TOO_LARGE':
        if (what === 'request' && call.sends === 1) return this.fail(call, 'RPC_ERR_INVALID_ARGS', `${name}: request too large for the transport`, 'no', e);
        return this.fail(call, 'RPC_ERR_UNREACHABLE', `${name}: ${what} refused by the transport`, 'maybe', e);
      case 'TRANSPORT_ERR_QUEUE_FULL':
        if (what === 'request' && call.sends === 1) return this.fail(call, 'RPC_ERR_OVERLOADED', `${name}: transport queue to ${this.server} is full`, 'no', e);
        return this.fail(call, 'RPC_ERR_OVERLOADED', `${name}: transport queue to ${this.server} is full`, 'maybe', e);
      case 'TRANSPORT_ERR_CLOSED':
        return this.fail(call, 'RPC_ERR_CLOSED', `${name}: endpoint closed`, 'maybe', e);
      case 'TRANSPORT_ERR_REFUSED':
        // Nothing sealed the way it is was ever opened by the server; a copy sent before (if the
        // server was heard from, its key may have changed under a restart) may have run.
        return this.fail(call, 'RPC_ERR_UNAUTHENTICATED', `${name}: server ${this.server} refused this endpoint: ${e instanceof Error ? e.message : String(e)}`,
          this.knownInc === 0 && call.sends === 1 ? 'no' : 'maybe', e);
      default:
        return this.fail(call, 'RPC_ERR_UNREACHABLE', `${name}: ${what} to ${this.server} failed: ${e instanceof Error ? e.message : String(e)}`, 'maybe', e);
    }
  }

  // ------------------------------------------------------------ probes

  private scheduleProbe(call: PendingCall): void {
    if (call.probeTimer !== undefined) this.timers.clearTimeout(call.probeTimer);
    call.probeTimer = this.timers.setTimeout(() => {
      call.probeTimer = undefined;
      if (this.pending.get(call.seq) === call) this.sendProbe(call);
    }, call.probeInterval);
  }

  private sendProbe(call: PendingCall): void {
    call.probes++;
    call.awaitingProbe = true;
    this.st.probesSent++;
    const gen = call.sendGen;
    let bytes = frame(MsgType.PROBE, this.header(call.seq, call.tiedInc));
    this.log('send probe %s inc=%s interval=%d', this.cid(call.seq), call.tiedInc.toString(16), call.probeInterval);
    if (this.tn.active) bytes = this.traced(bytes, 'probe', call, call.probes);
    call.probeTimeoutTimer = this.timers.setTimeout(() => {
      call.probeTimeoutTimer = undefined;
      if (this.pending.get(call.seq) === call && call.awaitingProbe) {
        this.fail(call, 'RPC_ERR_UNREACHABLE', `${call.iface.name}.${call.proc.name}: server ${this.server} did not answer a probe within ${this.probeTimeoutMs} ms`, 'maybe');
      }
    }, this.probeTimeoutMs);
    this.endpoint.send(this.server, bytes).then(undefined, (e: unknown) => {
      if (this.pending.get(call.seq) !== call || call.sendGen !== gen) return;
      this.onSendFailed(call, e, 'probe');
    });
  }

  private probeAnswered(call: PendingCall): void {
    if (!call.awaitingProbe) return;
    call.awaitingProbe = false;
    this.st.probesAnswered++;
    if (call.probeTimeoutTimer !== undefined) this.timers.clearTimeout(call.probeTimeoutTimer);
    call.probeTimeoutTimer = undefined;
  }

  // ------------------------------------------------------------ incoming

  private onMessage(peer: string, msg: RpcMessage): void {
    if (peer !== this.server) {
      // Only the server we call may answer our calls.
      this.st.malformedDropped++;
      this.log('drop %s from %s: not our server', msg.kind, peer);
      return;
    }
    if (this.closed) return;
    this.log('recv %s', describeLazy(() => describeMessage(msg)));
    if (msg.h.trace !== undefined) this.tn.observe(msg.h.trace.lc);
    if (this.tn.rpc.on) this.traceReceived(msg);
    const inc = msg.h.serverInc;
    if (this.knownInc !== inc) this.incarnationChanged(this.knownInc, inc);
    const call = this.pending.get(msg.h.seq);
    if (call === undefined) {
      this.st.lateMessages++;
      return;
    }
    const restartRejection = msg.kind === 'error' && msg.code === 'RPC_ERR_SERVER_RESTARTED';
    if (!restartRejection && call.tiedInc !== 0 && call.tiedInc !== inc) {
      // A server checks the incarnation before anything else, so this is not expected; never
      // accept another incarnation's answer for a call tied to an earlier one.
      return this.fail(call, 'RPC_ERR_SERVER_RESTARTED', this.restartMessage(call, inc), 'maybe');
    }
    switch (msg.kind) {
      case 'working':
        this.st.stillWorking++;
        call.tiedInc = inc;
        if (call.awaitingProbe) {
          this.probeAnswered(call);
          call.probeInterval = Math.min(call.probeInterval * 2, this.maxProbeIntervalMs);
          this.scheduleProbe(call);
        }
        return;
      case 'reply': {
        this.probeAnswered(call);
        let result: unknown;
        try {
          result = call.proc.checkResult(msg.result);
        } catch (e) {
          return this.fail(call, 'RPC_ERR_INVALID_RESULT', `${call.iface.name}.${call.proc.name}: ${e instanceof Error ? e.message : String(e)}`, 'once', e);
        }
        this.st.replies++;
        if (this.tn.rpc.on) this.traceDone(call, true);
        return this.complete(call, () => call.resolve(result));
      }
      case 'error': {
        if (msg.code === 'RPC_ERR_SERVER_RESTARTED') {
          // The server rejected a message naming another incarnation, without running anything.
          // If the call is already tied to this very incarnation, the rejected message was an
          // older probe (sent before the re-send below): ignore it.
          if (call.tiedInc === inc) return;
          this.probeAnswered(call);
          // executed 'no' answers a request. If it was the only copy of the request, no other
          // incarnation saw the call (probes never run anything), so it is safe to send it again.
          const onlyCopyWentHere = msg.executed === 'no' && call.sends === 1;
          if (onlyCopyWentHere && call.restartResends === 0 && !this.closed) {
            call.restartResends++;
            call.tiedInc = inc;
            call.sends = 0;
            call.probeInterval = this.probeIntervalMs;
            if (call.probeTimer !== undefined) this.timers.clearTimeout(call.probeTimer);
            call.probeTimer = undefined;
            this.sendRequest(call);
            return;
          }
          return this.fail(call, 'RPC_ERR_SERVER_RESTARTED', this.restartMessage(call, inc), onlyCopyWentHere ? 'no' : 'maybe');
        }
        this.probeAnswered(call);
        let executed = msg.executed;
        // A server may only vouch for itself: if an earlier copy of this call went out
        // untied, another incarnation may have run it.
        if (executed === 'no' && call.sends > 1 && call.tiedInc === 0) executed = 'maybe';
        // Server messages about arguments and results already name the procedure: don't repeat it.
        const name = `${call.iface.name}.${call.proc.name}: `;
        const text = msg.message.startsWith(name) ? msg.message : name + msg.message;
        return this.fail(call, msg.code, text, executed, undefined, msg.remoteCode);
      }
      case 'unknown-call':
        this.probeAnswered(call);
        if (call.tiedInc === 0) {
          return this.fail(call, 'RPC_ERR_SERVER_RESTARTED', `${call.iface.name}.${call.proc.name}: server ${this.server} (incarnation ${inc.toString(16)}) has no record of the call; it restarted after the request was delivered`, 'maybe');
        }
        return this.fail(call, 'RPC_ERR_UNREACHABLE', `${call.iface.name}.${call.proc.name}: server ${this.server} has no record of the call`, 'maybe');
      default:
        this.st.malformedDropped++;
        return;
    }
  }

  private traceReceived(msg: RpcMessage): void {
    const call = this.pending.get(msg.h.seq);
    let label: string = msg.kind === 'working' ? 'WORKING' : msg.kind;
    let page: number | undefined;
    if (call !== undefined) {
      const l = msg.kind === 'reply'
        ? resultLabel(call.iface.name, call.proc.name, msg.result, call.traceArgs)
        : callLabel(call.iface.name, call.proc.name, call.traceArgs ?? []);
      label = msg.kind === 'reply' ? l.text : `${label} ${l.text}`;
      page = l.page;
    }
    if (msg.kind === 'error') label = `${label}: ${msg.code}`;
    this.tn.rpc.emit({
      type: 'rpc-received', dir: 'recv', kind: msg.kind, call: this.cid(msg.h.seq), peer: this.tn.peerName(this.server),
      ...(msg.h.trace !== undefined ? { cause: TraceNode.remoteKey(msg.h.trace.inc, msg.h.trace.lc) } : {}),
      ...(call !== undefined ? { iface: call.iface.name, proc: call.proc.name } : {}),
      ...(msg.kind === 'error' ? { code: msg.code } : {}),
      label, ...(page !== undefined ? { page } : {}),
    });
  }

  private restartMessage(call: PendingCall, inc: number): string {
    return `${call.iface.name}.${call.proc.name}: server ${this.server} restarted (incarnation ${call.tiedInc.toString(16)} → ${inc.toString(16)}); the call ran on the old incarnation or not at all, and will not run on the new one`;
  }

  private incarnationChanged(oldInc: number, newInc: number): void {
    this.knownInc = newInc;
    if (oldInc === 0) {
      if (this.unackedDone.length > 0) this.scheduleAck(); // calls completed before the server was first heard
      return;
    }
    this.st.serverRestarts++;
    this.log('server %s restarted: incarnation %s → %s', this.server, oldInc.toString(16), newInc.toString(16));
    if (this.tn.rpc.on) {
      this.tn.rpc.emit({ type: 'rpc-server-restarted', peer: this.tn.peerName(this.server), oldIncarnation: oldInc.toString(16), newIncarnation: newInc.toString(16), label: 'server restarted' });
    }
    this.expediteProbes();
    this.emit('server-restarted', { server: this.server, oldIncarnation: oldInc, newIncarnation: newInc });
  }

  /**
   * The transport saw the server's endpoint restart. Calls waiting on the old incarnation are
   * lost with it, but which calls those are is decided by the server, not guessed here: every
   * delivered call is probed at once. The new incarnation answers SERVER_RESTARTED (tied calls)
   * or UNKNOWN_CALL (untied ones), and a call that really reached the new incarnation gets
   * WORKING or its reply. Requests still queued are rejected by the transport itself.
   */
  private onPeerRestarted(ev: PeerRestartedEvent): void {
    if (this.closed || ev.peer !== this.server) return;
    this.log('transport: %s restarted (session %s → %s)', ev.peer, ev.oldSession, ev.newSession);
    this.expediteProbes();
  }

  /** Probe every delivered, not-yet-probing call now instead of at its next interval. */
  private expediteProbes(): void {
    for (const c of [...this.pending.values()]) {
      if (c.delivered && !c.awaitingProbe && this.pending.get(c.seq) === c) {
        if (c.probeTimer !== undefined) this.timers.clearTimeout(c.probeTimer);
        c.probeTimer = undefined;
        this.sendProbe(c);
      }
    }
  }

  private onMalformed(peer: string, reason: string, h: Header | undefined): void {
    this.st.malformedDropped++;
    this.log('drop malformed message from %s: %s', peer, reason);
    if (this.tn.rpc.on) this.tn.rpc.emit({ type: 'rpc-malformed', peer: this.tn.peerName(peer), reason, label: 'malformed message dropped' });
    if (peer !== this.server || h === undefined || this.closed) return;
    if (h.clientId !== this.clientId || h.clientInc !== this.incarnation) return;
    const call = this.pending.get(h.seq);
    // The server answered this call with something we cannot read: fail it rather than hang.
    if (call !== undefined) this.fail(call, 'RPC_ERR_MALFORMED', `${call.iface.name}.${call.proc.name}: malformed answer from ${peer}: ${reason}`, 'maybe');
  }

  // ------------------------------------------------------------ completion

  private fail(call: PendingCall, code: RpcErrorCode, message: string, executed: Executed, cause?: unknown, remoteCode?: string): void {
    this.count(code);
    this.log('call %s failed: %s executed=%s %s', this.cid(call.seq), code, executed, message);
    const err = new RpcError(code, message, cause === undefined ? { executed, remoteCode } : { executed, remoteCode, cause });
    if (this.tn.rpc.on && this.pending.get(call.seq) === call) this.traceDone(call, false, code, executed);
    this.complete(call, () => call.reject(err));
  }

  private complete(call: PendingCall, settle: () => void): void {
    if (this.pending.get(call.seq) !== call) return;
    this.pending.delete(call.seq);
    call.sendGen++;
    for (const t of [call.deadlineTimer, call.probeTimer, call.probeTimeoutTimer]) if (t !== undefined) this.timers.clearTimeout(t);
    call.deadlineTimer = call.probeTimer = call.probeTimeoutTimer = undefined;
    if (call.signal !== undefined && call.onAbort !== undefined) call.signal.removeEventListener('abort', call.onAbort);
    if (call.sends > 0 && !this.closed) {
      this.unackedDone.push(call.seq);
      // Bounded: beyond what one ACK can carry the oldest are dropped (acks are best effort; the
      // server's reply cache has bounds of its own).
      if (this.unackedDone.length > MAX_EXPLICIT_ACKS) this.unackedDone.splice(0, this.unackedDone.length - MAX_EXPLICIT_ACKS);
      this.scheduleAck();
    }
    settle();
  }

  private traceDone(call: PendingCall, ok: boolean, code?: RpcErrorCode, executed?: Executed): void {
    const l = callLabel(call.iface.name, call.proc.name, call.traceArgs ?? []);
    const ms = call.traceStart === undefined ? 0 : Math.round((this.timers.now() - call.traceStart) * 1000) / 1000;
    this.tn.rpc.emit({
      type: 'rpc-call-done', call: this.cid(call.seq), peer: this.tn.peerName(this.server), iface: call.iface.name, proc: call.proc.name,
      ok, ...(code !== undefined ? { code, executed } : {}), ms,
      label: `${l.text} ${ok ? 'returned' : `failed ${code}`}`, ...(l.page !== undefined ? { page: l.page } : {}),
    });
  }

  /**
   * Arm the ACK timer. Not before the server was ever heard from: an ACK names the server's
   * incarnation, so there is nothing to acknowledge to yet (incarnationChanged() arms it once the
   * server answers). Unref'd: a best-effort ACK must not keep the process alive.
   */
  private scheduleAck(): void {
    if (this.ackTimer !== undefined || this.closed || this.knownInc === 0) return;
    const t = this.timers.setTimeout(() => {
      this.ackTimer = undefined;
      if (!this.closed) this.sendAck();
    }, this.ackDelayMs);
    (t as { unref?: () => void } | undefined)?.unref?.();
    this.ackTimer = t;
  }

  private sendAck(): void {
    const below = this.ackBelow();
    const explicit = this.unackedDone.filter((s) => s >= below);
    this.unackedDone = explicit.length > MAX_EXPLICIT_ACKS ? explicit.slice(MAX_EXPLICIT_ACKS) : [];
    if (below <= this.ackSentBelow && explicit.length === 0) return;
    this.ackSentBelow = Math.max(this.ackSentBelow, below);
    this.st.acksSent++;
    let bytes = frame(MsgType.ACK, { clientId: this.clientId, clientInc: this.incarnation, seq: 0, serverInc: this.knownInc, ackBelow: below }, encodeAckBody(explicit.slice(0, MAX_EXPLICIT_ACKS)));
    if (this.tn.active) bytes = this.traced(bytes, 'ack', undefined, undefined, `ack replies < #${below}${explicit.length ? ` + ${explicit.length}` : ''}`);
    this.endpoint.send(this.server, bytes).then(undefined, () => {
      /* best effort: the server's cache bounds hold without it */
    });
    if (this.unackedDone.length > 0) this.scheduleAck();
  }

  private count(code: RpcErrorCode): void {
    this.st.errors[code] = (this.st.errors[code] ?? 0) + 1;
  }

  private cid(seq: number): string {
    return callIdString(this.clientId, this.incarnation, seq);
  }
}

/** Defers building a log string until debug formats it. */
function describeLazy(f: () => string): { toString(): string } {
  return { toString: f };
}
