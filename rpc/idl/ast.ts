/**
 * The two data models of the compiler: the syntax tree the parser builds (names unresolved,
 * positions kept for diagnostics) and the checked model the checker builds from it (types
 * resolved, ids assigned) which the code generator consumes.
 */
import type { Pos } from './diagnostics.js';

// ---- Syntax tree (parser output) ----

export type TypeRef =
  | { readonly kind: 'name'; readonly name: string; readonly pos: Pos }
  | { readonly kind: 'array'; readonly element: TypeRef; readonly maxLength: number | undefined; readonly pos: Pos };

/** A typed name: struct field, parameter, or (without a name) a procedure result. */
export interface SlotNode {
  readonly type: TypeRef;
  /** Written `T?`: may be absent. */
  readonly optional: boolean;
}

export interface FieldNode extends SlotNode {
  readonly name: string;
  readonly doc: string | undefined;
  readonly pos: Pos;
}

export interface ParamNode extends SlotNode {
  readonly name: string;
  readonly pos: Pos;
}

export interface AnnotationNode {
  readonly name: string;
  readonly pos: Pos;
}

export interface ProcedureNode {
  readonly name: string;
  readonly result: SlotNode;
  readonly params: readonly ParamNode[];
  readonly annotations: readonly AnnotationNode[];
  readonly doc: string | undefined;
  readonly pos: Pos;
}

export interface InterfaceNode {
  readonly kind: 'interface';
  /** Undefined for the chapter's anonymous `interface { ... }`. */
  readonly name: string | undefined;
  /** Undefined when no `version N` clause was written (the checker defaults it to 1). */
  readonly version: number | undefined;
  readonly procedures: readonly ProcedureNode[];
  readonly doc: string | undefined;
  readonly pos: Pos;
}

export interface StructNode {
  readonly kind: 'struct';
  readonly name: string;
  readonly fields: readonly FieldNode[];
  readonly doc: string | undefined;
  readonly pos: Pos;
}

export interface EnumMemberNode {
  readonly name: string;
  /** Undefined when written without `= value` (previous value + 1, or 0 for the first). */
  readonly value: number | undefined;
  readonly doc: string | undefined;
  readonly pos: Pos;
}

export interface EnumNode {
  readonly kind: 'enum';
  readonly name: string;
  readonly members: readonly EnumMemberNode[];
  readonly doc: string | undefined;
  readonly pos: Pos;
}

export type DeclNode = InterfaceNode | StructNode | EnumNode;

// ---- Checked model (checker output) ----

export type IntName = 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64';

export type Type =
  | { readonly kind: 'int'; readonly name: IntName; readonly min: bigint; readonly max: bigint }
  | { readonly kind: 'float'; readonly name: 'float32' | 'float64' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'string' }
  | { readonly kind: 'bytes' }
  | { readonly kind: 'void' }
  | { readonly kind: 'array'; readonly element: Type; readonly maxLength: number | undefined }
  | { readonly kind: 'struct'; readonly decl: Struct }
  | { readonly kind: 'enum'; readonly decl: Enum };

export interface Slot {
  readonly type: Type;
  readonly optional: boolean;
}

export interface Field extends Slot {
  readonly name: string;
  readonly doc: string | undefined;
}

export interface Struct {
  readonly kind: 'struct';
  readonly name: string;
  readonly doc: string | undefined;
  /** Filled after all declarations are known, so structs may refer to each other in any order. */
  readonly fields: Field[];
}

export interface EnumMember {
  readonly name: string;
  readonly value: number;
  readonly doc: string | undefined;
}

export interface Enum {
  readonly kind: 'enum';
  readonly name: string;
  readonly doc: string | undefined;
  readonly members: readonly EnumMember[];
}

export interface Param extends Slot {
  readonly name: string;
}

export interface Procedure {
  readonly name: string;
  /** 1-based position in the interface. */
  readonly id: number;
  readonly params: readonly Param[];
  readonly result: Slot;
  /** Marked `@pool`: CPU-heavy, run in the server's thread pool. */
  readonly pool: boolean;
  readonly doc: string | undefined;
}

export interface Interface {
  readonly name: string;
  readonly version: number;
  readonly doc: string | undefined;
  readonly procedures: readonly Procedure[];
}

/** A checked interface file: its types and interfaces, each in source order. */
export interface Model {
  readonly types: readonly (Struct | Enum)[];
  readonly interfaces: readonly Interface[];
}
