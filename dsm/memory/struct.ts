/**
 * Struct helpers: named fields at fixed offsets from a global address, e.g. a list node
 *
 *     const Node = defineStruct(mem, { value: 'u32', next: 'ptr' });
 *     Node.set.value(addr, 42);  Node.get.next(addr);      // direct accessors: cheapest
 *     const n = Node.at(addr);   n.value += 1;  n = Node.at(n.next);   // object-style
 *
 * Each field is aligned to its own size (C layout, in declaration order) and the struct size is
 * rounded up to its largest alignment, so arrays of structs stay aligned. A field never straddles a
 * page (page sizes are powers of two ≥ 64); a struct may, and each field access checks its own page.
 * `ptr` is a u32 global address (0 = null). Accessors skip the Proxy and its string→number key
 * conversion, which is why they are several times faster than `mem.u32[...]` (bench/dsm-local-bench).
 */
import { DsmError } from '../errors.js';
import type { AppMemory } from './app.js';

export type FieldType = 'u8' | 'u16' | 'u32' | 'i32' | 'f64' | 'ptr';
export type StructSpec = Readonly<Record<string, FieldType>>;

export type StructGetters<S extends StructSpec> = { readonly [K in keyof S]: (addr: number) => number };
export type StructSetters<S extends StructSpec> = { readonly [K in keyof S]: (addr: number, value: number) => void };
/** An object view of one struct instance: reading/writing a property loads/stores the field. */
export type StructRef<S extends StructSpec> = { [K in keyof S]: number } & { readonly address: number };

export interface Struct<S extends StructSpec> {
  /** Bytes per instance (a multiple of `align`). */
  readonly size: number;
  readonly align: number;
  /** Byte offset of each field from the instance address. */
  readonly offsets: { readonly [K in keyof S]: number };
  readonly get: StructGetters<S>;
  readonly set: StructSetters<S>;
  /** An object whose properties are the fields of the instance at `addr` (one small allocation). */
  at(addr: number): StructRef<S>;
}

const SIZES: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, i32: 4, f64: 8, ptr: 4 };

export function defineStruct<S extends StructSpec>(mem: AppMemory, spec: S): Struct<S> {
  const names = Object.keys(spec);
  if (names.length === 0) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'a struct needs at least one field');
  const offsets: Record<string, number> = {};
  const get: Record<string, (addr: number) => number> = {};
  const set: Record<string, (addr: number, value: number) => void> = {};
  let off = 0;
  let align = 1;
  for (const name of names) {
    const type = spec[name];
    const size = type === undefined ? undefined : SIZES[type];
    if (size === undefined) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `field ${name}: type must be one of ${Object.keys(SIZES).join(', ')}, got ${String(type)}`);
    }
    if (name === 'address') throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'field name "address" is reserved for StructRef.address');
    off = (off + size - 1) & ~(size - 1);
    offsets[name] = off;
    const o = off;
    switch (type) {
      case 'u8':
        get[name] = (a) => mem.loadU8(a + o);
        set[name] = (a, v) => mem.storeU8(a + o, v);
        break;
      case 'u16':
        get[name] = (a) => mem.loadU16(a + o);
        set[name] = (a, v) => mem.storeU16(a + o, v);
        break;
      case 'u32':
      case 'ptr':
        get[name] = (a) => mem.loadU32(a + o);
        set[name] = (a, v) => mem.storeU32(a + o, v);
        break;
      case 'i32':
        get[name] = (a) => mem.loadI32(a + o);
        set[name] = (a, v) => mem.storeI32(a + o, v);
        break;
      case 'f64':
        get[name] = (a) => mem.loadF64(a + o);
        set[name] = (a, v) => mem.storeF64(a + o, v);
        break;
    }
    off += size;
    align = Math.max(align, size);
  }
  const size = (off + align - 1) & ~(align - 1);

  // StructRef: a prototype with one accessor per field; instances only carry their address.
  const proto: Record<string, unknown> = {};
  for (const name of names) {
    const g = get[name]!;
    const s = set[name]!;
    Object.defineProperty(proto, name, {
      get(this: { address: number }) {
        return g(this.address);
      },
      set(this: { address: number }, v: number) {
        s(this.address, v);
      },
      enumerable: true,
    });
  }
  return {
    size,
    align,
    offsets: offsets as Struct<S>['offsets'],
    get: get as StructGetters<S>,
    set: set as StructSetters<S>,
    at(addr: number): StructRef<S> {
      const ref = Object.create(proto) as { address: number };
      Object.defineProperty(ref, 'address', { value: addr, enumerable: true });
      return ref as StructRef<S>;
    },
  };
}
