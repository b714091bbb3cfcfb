/**
 * Proxy-wrapped typed views over the whole address space: `mem.u32[addr >>> 2]` reads the u32 at
 * byte address `addr`, exactly like a Uint32Array over one big buffer, except that every access
 * goes through AppMemory's rights check and may page-fault.
 *
 * Supported: integer index get/set and `length`. Index i of a view with element size n is byte
 * address i·n. Out-of-range or negative indices throw DSM_ERR_BAD_ADDRESS (a typed array would
 * silently return undefined; a DSM bug should be loud); indices inside page 0 throw
 * DSM_ERR_NULL_POINTER. Non-numeric property names read as undefined (so inspectors and
 * `await` probing `then` do not trip), and writing them throws. The Proxy target is an empty
 * object, so no method of the underlying typed array leaks past the rights check.
 *
 * Cost: a numeric key reaches the trap as a string, so each access pays a string→number
 * conversion on top of the trap (~100+ ns); struct.ts's accessors avoid both.
 */
import { DsmError } from '../errors.js';
import { hex } from './layout.js';

/** An indexable view: `view[i]` and `view[i] = v`, plus `length`. */
export interface DsmView {
  [index: number]: number;
  readonly length: number;
}

export function makeView(
  length: number,
  load: (i: number) => number,
  store: (i: number, v: number) => void,
  elementBytes: number,
): DsmView {
  // Extensible on purpose: Proxy invariants forbid `has` reporting keys a non-extensible target lacks.
  const target = Object.create(null) as object;
  const index = (key: string): number => {
    // Fast path for canonical decimal indices; everything else numeric-looking is a bad address.
    const i = Number(key);
    if (Number.isInteger(i) && i >= 0 && i < length && key.length > 0) return i;
    throw new DsmError('DSM_ERR_BAD_ADDRESS', `bad index ${key} for a view of ${length} ${elementBytes}-byte elements (byte address ${Number.isFinite(i) ? hex(i * elementBytes) : '?'})`, {
      address: Number.isInteger(i) && i >= 0 ? i * elementBytes : undefined,
    });
  };
  const numeric = (key: string): boolean => {
    const c = key.charCodeAt(0);
    return (c >= 48 && c <= 57) || c === 45 /* - */ || key === 'NaN' || key === 'Infinity';
  };
  const handler: ProxyHandler<object> = {
    get(_t, key) {
      if (typeof key === 'string') {
        if (numeric(key)) return load(index(key));
        if (key === 'length') return length;
      }
      return undefined;
    },
    set(_t, key, value) {
      if (typeof key === 'string' && numeric(key)) {
        store(index(key), Number(value));
        return true;
      }
      throw new DsmError('DSM_ERR_BAD_ADDRESS', `cannot set property ${String(key)} of a DSM view (only integer indices)`);
    },
    has(_t, key) {
      if (typeof key !== 'string') return false;
      if (key === 'length') return true;
      const i = Number(key);
      return numeric(key) && Number.isInteger(i) && i >= 0 && i < length;
    },
    getPrototypeOf() {
      return null;
    },
    defineProperty() {
      throw new DsmError('DSM_ERR_BAD_ADDRESS', 'cannot define properties on a DSM view');
    },
    deleteProperty() {
      return false;
    },
  };
  return new Proxy(target, handler) as DsmView;
}
