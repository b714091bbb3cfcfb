/**
 * Errors of the RPC layer. Match on `code` (stable, listed below), not `instanceof`.
 *
 * Birrell & Nelson's semantics are carried by `executed`: a call that returned ran exactly
 * once; a call that failed ran once (`'once'`, e.g. the handler threw), possibly once
 * (`'maybe'`, e.g. the server became unreachable after the request left), or not at all (`'no'`).
 */
export type RpcErrorCode =
  /** Arguments failed validation against the interface (client side before sending, or server side). */
  | 'RPC_ERR_INVALID_ARGS'
  /** The result failed validation against the interface (server side before replying, or client side). */
  | 'RPC_ERR_INVALID_RESULT'
  /** The server does not serve that interface name. */
  | 'RPC_ERR_UNKNOWN_INTERFACE'
  /** The interface is served, but has no procedure with that name/id. */
  | 'RPC_ERR_UNKNOWN_PROCEDURE'
  /** The server serves the interface at another version. */
  | 'RPC_ERR_VERSION_MISMATCH'
  /** The remote handler threw; `remoteCode`/message carry what it threw. */
  | 'RPC_ERR_REMOTE'
  /** The server restarted between the call and its reply/retry; the call ran on the old incarnation or not at all. */
  | 'RPC_ERR_SERVER_RESTARTED'
  /** The server stopped answering (transport gave up, or long-call probes went unanswered). */
  | 'RPC_ERR_UNREACHABLE'
  /** The per-call deadline passed before a reply. */
  | 'RPC_ERR_DEADLINE'
  /** The caller's AbortSignal fired. */
  | 'RPC_ERR_ABORTED'
  /** A peer sent a message that is not a well-formed RPC message. */
  | 'RPC_ERR_MALFORMED'
  /** Too many calls outstanding (client) or running (server). */
  | 'RPC_ERR_OVERLOADED'
  /** The client or server was closed. */
  | 'RPC_ERR_CLOSED'
  /**
   * Identity refused, the call not run. Server side: the interface's `authorize` check refused the
   * caller the transport authenticated (e.g. it claims to be another node than its key says).
   * Client side: the server's transport cannot authenticate this endpoint's datagrams (another
   * cluster key, or one side keyed and the other not: TRANSPORT_ERR_REFUSED is the cause).
   */
  | 'RPC_ERR_UNAUTHENTICATED'
  /** A constructor option or argument is not valid. */
  | 'RPC_ERR_INVALID_ARGUMENT';

export type Executed = 'no' | 'maybe' | 'once';

export class RpcError extends Error {
  readonly code: RpcErrorCode;
  readonly executed: Executed;
  /** For RPC_ERR_REMOTE: the code the handler's error carried (its `code` property), if any. */
  readonly remoteCode: string | undefined;

  constructor(
    code: RpcErrorCode,
    message: string,
    opts: { executed?: Executed; remoteCode?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RpcError';
    this.code = code;
    this.executed = opts.executed ?? 'no';
    this.remoteCode = opts.remoteCode;
  }
}

export function isRpcError(e: unknown, code?: RpcErrorCode): e is RpcError {
  return (
    typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'RpcError' &&
    (code === undefined || (e as { code?: unknown }).code === code)
  );
}

/**
 * Thrown by generated validators: `path` names the offending value ("args[1].items[3].name"),
 * `expected` what the interface declares. The runtime turns it into RPC_ERR_INVALID_ARGS or
 * RPC_ERR_INVALID_RESULT.
 */
export class ValidationError extends Error {
  readonly code = 'RPC_ERR_VALIDATION' as const;
  constructor(readonly path: string, readonly expected: string, got: unknown) {
    super(`${path}: expected ${expected}, got ${describe(got)}`);
    this.name = 'ValidationError';
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (typeof v === 'string') return v.length > 20 ? `string(${v.length})` : JSON.stringify(v);
  if (typeof v === 'object') return 'object';
  return `${typeof v} ${String(v)}`;
}
