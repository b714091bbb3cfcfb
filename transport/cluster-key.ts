/**
 * The cluster key: 256 random bits every node of one cluster shares (the `key` option). Its text
 * form, written by `pagewire keygen` and read by `--key-file`, is one line after any comments:
 *
 *   # pagewire cluster key: ...
 *   pagewire-cluster-key-v1 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *
 * i.e. the label, one space, 64 hexadecimal digits. Lines starting with '#' and blank lines are
 * ignored; anything else is refused with TRANSPORT_ERR_BAD_KEY. No I/O here: reading and writing
 * the file is the CLI's business.
 */
import { randomBytes } from 'node:crypto';
import { TransportError } from './errors.js';

export const CLUSTER_KEY_BYTES = 32;
export const CLUSTER_KEY_LABEL = 'pagewire-cluster-key-v1';

/** A fresh random cluster key from node:crypto. */
export function generateClusterKey(): Uint8Array {
  return new Uint8Array(randomBytes(CLUSTER_KEY_BYTES));
}

/** The key's text form (see above), ending in a newline. */
export function formatClusterKey(key: Uint8Array): string {
  checkClusterKey(key, 'key');
  return `# pagewire cluster key. Every node of one cluster uses this same file (--key-file);\n` +
    `# anyone who has it can join the cluster and read its traffic: keep it secret (mode 0600).\n` +
    `${CLUSTER_KEY_LABEL} ${Buffer.from(key).toString('hex')}\n`;
}

/** Parse the text form; `source` names it in errors (a file name). Throws TRANSPORT_ERR_BAD_KEY. */
export function parseClusterKey(text: string, source = 'key'): Uint8Array {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const expected = `one line "${CLUSTER_KEY_LABEL} <64 hex digits>" (make one with: pagewire keygen)`;
  if (lines.length !== 1) throw badKey(`${source}: expected ${expected}, found ${lines.length} non-comment lines`);
  const m = /^(\S+)\s+(\S+)$/.exec(lines[0]!);
  if (m === null || m[1] !== CLUSTER_KEY_LABEL) throw badKey(`${source}: expected ${expected}`);
  if (!/^[0-9a-fA-F]{64}$/.test(m[2]!)) throw badKey(`${source}: the key must be 64 hexadecimal digits (256 bits), got ${m[2]!.length} characters`);
  const key = new Uint8Array(Buffer.from(m[2]!, 'hex'));
  checkClusterKey(key, source);
  return key;
}

/** Throws TRANSPORT_ERR_BAD_KEY unless `key` is 32 bytes and not all one value (a placeholder, not a random key). */
export function checkClusterKey(key: unknown, what: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw badKey(`${what} must be a Uint8Array of ${CLUSTER_KEY_BYTES} bytes, got ${key === null ? 'null' : typeof key}`);
  if (key.length !== CLUSTER_KEY_BYTES) throw badKey(`${what} must be ${CLUSTER_KEY_BYTES} bytes (256 bits), got ${key.length}`);
  if (key.every((b) => b === key[0])) throw badKey(`${what} is ${CLUSTER_KEY_BYTES} copies of one byte: not a random key (make one with: pagewire keygen)`);
}

function badKey(message: string): TransportError {
  return new TransportError('TRANSPORT_ERR_BAD_KEY', message);
}
