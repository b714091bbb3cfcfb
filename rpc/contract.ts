/**
 * The contract between generated stubs (rpc/idl compiler output) and the RPC runtime.
 * Generated code only imports from this file, rpc/errors.ts and rpc/codec.ts (through the
 * rpc/index.ts front door); the runtime only relies on these descriptors.
 */

/** One procedure of an interface, as the compiler describes it. */
export interface ProcedureDescriptor {
  /** Name as written in the interface file. */
  readonly name: string;
  /** Procedure number: its 1-based position in the interface, stable across compiles. */
  readonly id: number;
  /**
   * Validate the decoded argument tuple (an array, one element per declared parameter) and
   * return it in the form handlers receive (e.g. int64 normalised to bigint). Throws
   * ValidationError on any mismatch: wrong type, wrong arity, missing or extra struct field.
   */
  readonly checkArgs: (args: unknown) => unknown[];
  /** Validate a decoded/returned result; throws ValidationError. `void` results accept null/undefined. */
  readonly checkResult: (result: unknown) => unknown;
  /** Marked `@pool` in the interface file: the server runs it in its thread pool when it has one. */
  readonly pool: boolean;
  /** Doc comment from the interface file, if any. */
  readonly doc?: string;
}

/** One interface (`interface Name version N { ... }`). */
export interface InterfaceDescriptor {
  readonly name: string;
  readonly version: number;
  readonly procedures: readonly ProcedureDescriptor[];
}

/** Per-call options accepted by every generated client method (last, optional argument). */
export interface CallOptions {
  /** Fail with RPC_ERR_DEADLINE if no reply within this many milliseconds of the call. */
  readonly timeoutMs?: number;
  /** Cancel the wait (the call may still run remotely: RpcError.executed says 'maybe'). */
  readonly signal?: AbortSignal;
}

/** What a generated client class needs from the runtime. */
export interface Caller {
  call(iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts?: CallOptions): Promise<unknown>;
}

/** Passed to every handler as its last argument. */
export interface CallContext {
  /** Caller's transport address, "host:port". */
  readonly peer: string;
  /**
   * The caller's node id as its transport authenticated it (a keyed transport: MessageEvent.peerId);
   * undefined when the transport authenticates nothing. Trust this, not an argument that names the caller.
   */
  readonly peerId?: string | undefined;
  /** Printable call id: clientId/incarnation/seq. */
  readonly callId: string;
}

/**
 * Handlers for one interface: one function per procedure, called with the validated
 * arguments followed by the CallContext; may return a value or a Promise.
 */
export type HandlerTable = Record<string, (...args: any[]) => unknown>;
