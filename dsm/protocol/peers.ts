/**
 * Calls to peers, and what their failures mean, in one place: every role (requester, manager,
 * owner, membership) calls other nodes through Peers.call, and every failure comes back as one of
 * a few kinds, whatever layer it came from. A call a node makes to itself (it is the manager and
 * the owner, say) goes through Peers.local, which maps a thrown bug the same way.
 *
 * Kinds of failure:
 * - dead:     the node was declared dead by a majority (before or during the call);
 * - silent:   no answer in time, or the transport gave up: the node is suspected (a proposal
 *             starts), or, if it was never heard from, it is not up yet;
 * - evicted:  the node refused this node because it knows a majority declared this node dead;
 * - mismatch: the node runs another configuration;
 * - refused:  the node cannot authenticate this node (its transport cannot open our datagrams: not
 *             the same cluster key), or refused the node id our key proves: never a suspicion;
 * - error:    anything else (a remote bug, an invalid reply): never taken for a verdict on data.
 *
 * Refusals a handler throws (their `code` travels as the RPC error's remoteCode):
 */
import { isRpcError, type CallOptions } from '../../rpc/index.js';
import type { IvyClient, View } from './ivy.stubs.js';
import type { Membership } from './membership.js';
import type { IvyCounters, IvyProcedure } from './stats.js';

/** "You were declared dead by a majority; I refuse you." */
export const REFUSED_EVICTED = 'DSM_ERR_EVICTED';
/** "I was declared dead by a majority; I answer nothing." */
export const REFUSED_STOPPED = 'DSM_REFUSED_STOPPED';
/** "We run different configurations." */
export const REFUSED_MISMATCH = 'DSM_ERR_CLUSTER_MISMATCH';
/** "Your address is not a node of this cluster." */
export const REFUSED_STRANGER = 'DSM_REFUSED_NOT_A_MEMBER';

/** A refusal thrown by a handler: the RPC layer sends its code and message to the caller. */
export class Refusal extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'Refusal';
  }
}

export type Failure =
  | { readonly kind: 'dead'; readonly node: number }
  | { readonly kind: 'silent'; readonly node: number; readonly cause: unknown; readonly notUp: boolean }
  | { readonly kind: 'evicted'; readonly node: number; readonly message: string }
  | { readonly kind: 'mismatch'; readonly node: number; readonly message: string }
  | { readonly kind: 'refused'; readonly node: number; readonly message: string }
  | { readonly kind: 'error'; readonly node: number; readonly cause: unknown };

export type Result<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false } & Failure);

/** One line describing a failure, for error messages (the cause's message included). */
export function describeFailure(f: Failure): string {
  switch (f.kind) {
    case 'dead': return `node ${f.node} was declared dead`;
    case 'silent': return f.notUp
      ? `node ${f.node} is not up yet (never heard from): ${messageOf(f.cause)}`
      : `node ${f.node} did not answer: ${messageOf(f.cause)}`;
    case 'evicted': return `node ${f.node} refused this node: ${f.message}`;
    case 'mismatch': return `node ${f.node}: ${f.message}`;
    case 'refused': return `node ${f.node} refused this node: ${f.message}`;
    case 'error': return `node ${f.node} failed: ${messageOf(f.cause)}`;
  }
}

/** This node's own eviction as a call's result (undefined while it is not fenced). */
function evictedResult(m: Membership): Result<never> | undefined {
  const e = m.evicted;
  return e === undefined ? undefined : { ok: false, kind: 'evicted', node: e.by, message: e.reason };
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface PeersInit {
  readonly self: number;
  readonly membership: Membership;
  readonly counters: IvyCounters;
  readonly client: (node: number) => IvyClient;
}

export class Peers {
  readonly #init: PeersInit;

  constructor(init: PeersInit) {
    this.#init = init;
  }

  /**
   * Calls `proc` on `node` with a deadline; the call is abandoned the moment `node` is declared
   * dead or this node is evicted. The reply's view is merged before the caller sees the reply.
   */
  async call<T extends { view: View }>(
    node: number, proc: IvyProcedure, timeoutMs: number, invoke: (c: IvyClient, opts: CallOptions) => Promise<T>,
  ): Promise<Result<T>> {
    const m = this.#init.membership;
    const fencedBefore = evictedResult(m);
    if (fencedBefore !== undefined) return fencedBefore;
    if (m.isDead(node)) return { ok: false, kind: 'dead', node };
    const mismatch = m.mismatch(node);
    if (mismatch !== undefined) return { ok: false, kind: 'mismatch', node, message: mismatch };
    const refused = m.refusal(node);
    if (refused !== undefined) return { ok: false, kind: 'refused', node, message: refused };
    this.#init.counters.sent[proc]++;
    const signal = m.deathSignal(node);
    let value: T;
    try {
      value = await invoke(this.#init.client(node), { timeoutMs: Math.max(1, timeoutMs), signal });
    } catch (e) {
      return this.#failed(node, e);
    }
    // Declared dead while the reply was on its way (this node learned it from another message):
    // nothing from it is acted on any more, so an answer to a locate is final (requester.ts).
    if (m.isDead(node)) return { ok: false, kind: 'dead', node };
    const fenced = evictedResult(m); // (read again: it may have happened during the call)
    if (fenced !== undefined) return fenced;
    if (!m.checkDigest(node, value.view.config)) return { ok: false, kind: 'mismatch', node, message: m.mismatch(node) ?? 'configuration mismatch' };
    if (!m.checkIncarnation(node, value.view.incarnation)) {
      // A new process answered: the one that was asked is gone (and will be declared dead).
      return { ok: false, kind: 'silent', node, cause: new Error(`node ${node} restarted: its answer came from a new process`), notUp: false };
    }
    m.heard(node);
    if (!m.mergeView(node, value.view)) return { ok: false, kind: 'evicted', node, message: m.evicted?.reason ?? 'this node was fenced' };
    return { ok: true, value };
  }

  /** A call of this node's own handler, mapped like a remote one (a thrown bug is an 'error'). */
  async local<T>(fn: () => Promise<T> | T): Promise<Result<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      return evictedResult(this.#init.membership) ?? { ok: false, kind: 'error', node: this.#init.self, cause: e };
    }
  }

  #failed(node: number, e: unknown): Result<never> {
    const m = this.#init.membership;
    const fenced = evictedResult(m);
    if (fenced !== undefined) return fenced;
    if (m.isDead(node)) return { ok: false, kind: 'dead', node };
    if (isRpcError(e, 'RPC_ERR_REMOTE')) {
      m.heard(node); // an answer, if a refusal: the node is alive
      switch (e.remoteCode) {
        case REFUSED_EVICTED:
          m.evict(node, e.message);
          return { ok: false, kind: 'evicted', node, message: e.message };
        case REFUSED_STOPPED:
          m.noteStopped(node, e.message);
          return { ok: false, kind: 'dead', node };
        case REFUSED_MISMATCH:
          m.noteMismatch(node, e.message);
          return { ok: false, kind: 'mismatch', node, message: m.mismatch(node) ?? e.message };
        default:
          return { ok: false, kind: 'error', node, cause: e };
      }
    }
    const code = isRpcError(e) ? e.code : undefined;
    if (code === 'RPC_ERR_UNAUTHENTICATED') {
      // Its transport could not open our datagrams for giveUpMs (no shared key), or its RPC server
      // refused the node id our key proves. Asked again, it would answer the same: no suspicion.
      const why = messageOf(e);
      m.noteRefused(node, why);
      return { ok: false, kind: 'refused', node, message: m.refusal(node) ?? why };
    }
    if (code === 'RPC_ERR_VERSION_MISMATCH' || code === 'RPC_ERR_UNKNOWN_INTERFACE') {
      m.noteMismatch(node, messageOf(e));
      return { ok: false, kind: 'mismatch', node, message: messageOf(e) };
    }
    if (code === 'RPC_ERR_DEADLINE' || code === 'RPC_ERR_UNREACHABLE' || code === 'RPC_ERR_SERVER_RESTARTED' ||
        code === 'RPC_ERR_OVERLOADED' || code === 'RPC_ERR_ABORTED') {
      const notUp = !m.everHeard(node);
      if (code !== 'RPC_ERR_OVERLOADED' && code !== 'RPC_ERR_ABORTED') m.suspect(node, `${code}: ${messageOf(e)}`);
      return { ok: false, kind: 'silent', node, cause: e, notUp };
    }
    return { ok: false, kind: 'error', node, cause: e };
  }
}
