/**
 * The one place the runtime gets its value codec from: the project codec in rpc/codec.ts
 * (msgpackr, plain maps, bigint ↔ int64, bytes ↔ bin), shared with the generated stubs, so the
 * runtime and the stubs agree on every value.
 */
export { encode as encodeValue, decode as decodeValue } from '../codec.js';
