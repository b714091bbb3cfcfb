/** Errors of the trace tools: one class, stable codes, the lower-level error kept as `cause`. */

export type TraceErrorCode =
  /** A bad option or argument (the message says what is allowed). */
  | 'TRACE_ERR_INVALID_ARGUMENT'
  /** The trace directory holds no node-*.jsonl file with a single event. */
  | 'TRACE_ERR_NO_TRACE'
  /** A trace file or output file could not be read or written. */
  | 'TRACE_ERR_IO';

export class TraceError extends Error {
  override readonly name = 'TraceError';
  readonly code: TraceErrorCode;

  constructor(code: TraceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isTraceError(e: unknown, code?: TraceErrorCode): e is TraceError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TraceError' &&
    (code === undefined || (e as { code?: unknown }).code === code);
}
