/**
 * The RPC layer's one MessagePack configuration, shared by the runtime and generated stubs.
 *
 * - Objects are plain msgpack maps (no msgpackr record extension), so any msgpack peer can read them.
 * - bigint is written as int64/uint64 and int64/uint64 are read back as bigint (64-bit IDL integers).
 *   Smaller integers travel as numbers; generated validators accept either for 64-bit fields.
 * - Uint8Array/Buffer is written as bin and read back as a plain Uint8Array copy (not a view into
 *   the input, so a page's bytes never alias a reused receive buffer).
 * - undefined is written as nil, and object properties whose value is undefined are left out:
 *   an absent optional field costs nothing on the wire. Validators treat nil (null) like absent.
 * - Numbers that are integers are written as msgpack ints, so -0 arrives as 0.
 *
 * Works with or without msgpackr's optional native add-on (it only speeds up string decoding).
 */
import { Packr, type Options } from 'msgpackr';

// `skipValues` is documented in msgpackr's README and implemented in pack.js, but missing from its Options type.
const options: Options & { skipValues: unknown[] } = {
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  int64AsType: 'bigint',
  copyBuffers: true,
  encodeUndefinedAsNil: true,
  skipValues: [undefined],
};

const packr = new Packr(options);

/**
 * Encodes one value; throws RangeError for a bigint outside the 64-bit range. The result may be
 * a view into a larger ArrayBuffer (respect byteOffset/byteLength); later calls do not overwrite it.
 */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes one value; throws on truncated or malformed input, or trailing bytes. */
export function decode(bytes: Uint8Array): unknown {
  // msgpackr copies bin with the input's own slice(), so a Buffer input would yield Buffers:
  // view the input as a plain Uint8Array so bytes values always decode as plain Uint8Array.
  const plain = Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return packr.unpack(plain);
}
