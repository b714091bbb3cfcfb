/**
 * Errors of the transport layer. Match on `code`, not on `instanceof`: several copies of
 * this module can be loaded in one process (tests, workers) and `instanceof` fails across them.
 */
export type TransportErrorCode =
  /**
   * The peer did not acknowledge within `giveUpMs`: it may be down, paused, cut off, or the path
   * lossy beyond repair. The message may or may not have been delivered. Nothing else changes:
   * the next send starts a new stream, and the peer is not told anything like a restart.
   */
  | 'TRANSPORT_ERR_PEER_UNREACHABLE'
  /**
   * The peer did not acknowledge within `giveUpMs`, and it told us (in answers quoting our own
   * datagrams, which only a party that received them can write) that our datagrams did not
   * authenticate under its cluster key: the two endpoints do not share a key. Nothing we sent
   * was taken in.
   */
  | 'TRANSPORT_ERR_REFUSED'
  /** The peer proved a new incarnation (it restarted) before acknowledging the message; it was not delivered to the new incarnation. */
  | 'TRANSPORT_ERR_PEER_RESTARTED'
  /** The message is larger than `maxMessageBytes`. */
  | 'TRANSPORT_ERR_MESSAGE_TOO_LARGE'
  /** The endpoint was closed before the message was acknowledged. */
  | 'TRANSPORT_ERR_CLOSED'
  /** Too many messages queued for one peer (`maxQueuedMessages`). */
  | 'TRANSPORT_ERR_QUEUE_FULL'
  /** A constructor option or argument is not valid. */
  | 'TRANSPORT_ERR_INVALID_ARGUMENT'
  /** A cluster key (the `key` option, or its text form) is not a 256-bit key in the documented format. */
  | 'TRANSPORT_ERR_BAD_KEY'
  /** The UDP socket could not be bound (address in use, bad address). */
  | 'TRANSPORT_ERR_BIND';

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  /** The peer the failure concerns, as "host:port", when there is one. */
  readonly peer: string | undefined;

  constructor(code: TransportErrorCode, message: string, opts: { peer?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TransportError';
    this.code = code;
    this.peer = opts.peer;
  }
}

export function isTransportError(e: unknown, code?: TransportErrorCode): e is TransportError {
  return (
    typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TransportError' &&
    (code === undefined || (e as { code?: unknown }).code === code)
  );
}
