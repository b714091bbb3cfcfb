/**
 * Semantic checks and name resolution: syntax tree to checked model. Reports duplicate and
 * reserved names, unknown types, misplaced `void`, bad enum values, unknown annotations and
 * structs that contain themselves through required fields (a struct may refer to itself
 * through an optional field or an array, which can end the chain).
 */
import type {
  DeclNode, Enum, EnumNode, Interface, InterfaceNode, IntName, Model, Procedure, Slot, SlotNode,
  Struct, StructNode, Type, TypeRef,
} from './ast.js';
import type { Pos, Reporter } from './diagnostics.js';

const INT_RANGES: Record<IntName, readonly [bigint, bigint]> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 2n ** 8n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const intType = (name: IntName): Type => ({ kind: 'int', name, min: INT_RANGES[name][0], max: INT_RANGES[name][1] });

/** Built-in type names; `int`, `float` and `double` are aliases. */
const BUILTINS: ReadonlyMap<string, Type> = new Map<string, Type>([
  ...(Object.keys(INT_RANGES) as IntName[]).map((n): [string, Type] => [n, intType(n)]),
  ['int', intType('int32')],
  ['float32', { kind: 'float', name: 'float32' }],
  ['float64', { kind: 'float', name: 'float64' }],
  ['float', { kind: 'float', name: 'float32' }],
  ['double', { kind: 'float', name: 'float64' }],
  ['bool', { kind: 'bool' }],
  ['string', { kind: 'string' }],
  ['bytes', { kind: 'bytes' }],
  ['void', { kind: 'void' }],
]);

/** JavaScript reserved words: not usable where the name becomes a TS binding (types, parameters). */
const JS_RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally ' +
    'for function if import in instanceof new null return super switch this throw true try typeof var void ' +
    'while with yield let static implements interface package private protected public await arguments eval')
    .split(' '),
);

/** Names the generated file itself uses at top level (imports, TS/JS globals it relies on). */
const GENERATED_RESERVED = new Set([
  'ValidationError', 'RpcError', 'CallContext', 'CallOptions', 'Caller', 'InterfaceDescriptor',
  'ProcedureDescriptor', 'Array', 'Uint8Array', 'Number', 'BigInt', 'Object', 'Promise', 'Record', 'Error',
  'any', 'unknown', 'never', 'object', 'number', 'bigint', 'boolean', 'symbol', 'undefined',
]);

/** Parameter names the generated methods use for their own trailing parameter. */
const PARAM_RESERVED = new Set(['opts', 'ctx']);

const MAX_UINT32 = 2 ** 32 - 1;

/**
 * Default name of the anonymous interface: the file's base name in PascalCase
 * ("chapter.rpc" → "Chapter", "page-protocol.rpc" → "PageProtocol").
 */
export function defaultInterfaceName(fileName: string): string {
  const base = fileName.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '');
  const name = base.split(/[^A-Za-z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(name) ? name : `Interface${name}`;
}

const where = (p: Pos): string => `${p.line}:${p.column}`;

export function check(decls: readonly DeclNode[], fileName: string, reporter: Reporter): Model {
  // 1. Declare every name (and the names generated from it) so types may be used before they are declared.
  const taken = new Map<string, { what: string; pos: Pos }>();
  /** Takes `name` for `what`; reports and returns false if it is already taken or reserved. */
  const claim = (name: string, what: string, pos: Pos): boolean => {
    const prior = taken.get(name);
    if (prior !== undefined) {
      reporter.error(pos, `${what} '${name}' clashes with ${prior.what} declared at ${where(prior.pos)}`);
    } else if (BUILTINS.has(name)) {
      reporter.error(pos, `expected a new name for ${what}, found built-in type '${name}'`);
    } else if (JS_RESERVED.has(name) || GENERATED_RESERVED.has(name)) {
      reporter.error(pos, `expected a name for ${what}, found '${name}', which is reserved in generated TypeScript`);
    } else {
      taken.set(name, { what, pos });
      return true;
    }
    return false;
  };
  const named = new Map<string, Struct | Enum>();
  const interfaceNames = new Map<InterfaceNode, string>();
  for (const d of decls) {
    if (d.kind === 'interface') {
      const name = d.name ?? defaultInterfaceName(fileName);
      interfaceNames.set(d, name);
      if (claim(name, 'interface', d.pos)) {
        for (const suffix of ['Descriptor', 'Client', 'Handlers']) claim(name + suffix, `interface ${name}'s generated name`, d.pos);
      }
    } else {
      claim(d.name, d.kind, d.pos);
      if (!named.has(d.name)) {
        named.set(d.name, d.kind === 'struct'
          ? { kind: 'struct', name: d.name, doc: d.doc, fields: [] }
          : checkEnum(d, reporter));
      }
    }
  }

  // 2. Resolve types.
  const resolve = (ref: TypeRef, allowVoid: boolean): Type | undefined => {
    if (ref.kind === 'array') {
      if (ref.maxLength !== undefined && (ref.maxLength < 1 || ref.maxLength > MAX_UINT32)) {
        reporter.error(ref.pos, `expected a maximum array length from 1 to ${MAX_UINT32}, found ${ref.maxLength}`);
      }
      const element = resolve(ref.element, false);
      return element && { kind: 'array', element, maxLength: ref.maxLength };
    }
    const builtin = BUILTINS.get(ref.name);
    if (builtin?.kind === 'void' && !allowVoid) {
      reporter.error(ref.pos, "expected a value type, found 'void' (void is only allowed as a procedure result)");
      return undefined;
    }
    if (builtin !== undefined) return builtin;
    const decl = named.get(ref.name);
    if (decl !== undefined) return decl.kind === 'struct' ? { kind: 'struct', decl } : { kind: 'enum', decl };
    const isInterface = [...interfaceNames.values()].includes(ref.name);
    const what = isInterface ? `'${ref.name}', an interface` : `unknown type '${ref.name}'`;
    reporter.error(ref.pos, `expected a type, found ${what}`);
    return undefined;
  };
  const resolveSlot = (s: SlotNode, allowVoid: boolean): Slot | undefined => {
    const type = resolve(s.type, allowVoid);
    if (type?.kind === 'void' && s.optional) {
      reporter.error(s.type.pos, "expected a value type before '?', found 'void'");
      return undefined;
    }
    return type && { type, optional: s.optional };
  };

  const structNodes = decls.filter((d): d is StructNode => d.kind === 'struct');
  const filled = new Set<Struct>();
  for (const s of structNodes) {
    const struct = named.get(s.name);
    if (struct?.kind !== 'struct' || filled.has(struct)) continue; // a duplicate name, already reported
    filled.add(struct);
    const seen = new Map<string, Pos>();
    for (const f of s.fields) {
      checkUnique(seen, f.name, f.pos, `field in struct ${s.name}`, reporter);
      if (f.name === '__proto__') reporter.error(f.pos, "expected a field name, found '__proto__', which is reserved");
      const slot = resolveSlot(f, false);
      if (slot !== undefined) struct.fields.push({ name: f.name, doc: f.doc, ...slot });
    }
  }
  checkStructCycles(structNodes, named, reporter);

  const interfaces: Interface[] = [];
  for (const d of decls) {
    if (d.kind === 'interface') interfaces.push(checkInterface(d, interfaceNames.get(d)!, resolveSlot, reporter));
  }
  return { types: [...named.values()], interfaces };
}

function checkUnique(seen: Map<string, Pos>, name: string, pos: Pos, what: string, reporter: Reporter): void {
  const prior = seen.get(name);
  if (prior !== undefined) reporter.error(pos, `duplicate ${what}: '${name}' was already declared at ${where(prior)}`);
  else seen.set(name, pos);
}

function checkEnum(d: EnumNode, reporter: Reporter): Enum {
  if (d.members.length === 0) reporter.error(d.pos, `expected at least one member in enum ${d.name}, found none`);
  const names = new Map<string, Pos>();
  const values = new Map<number, string>();
  const members: Enum['members'][number][] = [];
  let nextValue = 0;
  for (const m of d.members) {
    checkUnique(names, m.name, m.pos, `member in enum ${d.name}`, reporter);
    if (m.name === '__proto__') reporter.error(m.pos, "expected an enum member name, found '__proto__', which is reserved");
    const value = m.value ?? nextValue;
    if (!Number.isSafeInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) {
      reporter.error(m.pos, `expected an enum value in the int32 range, found ${value}`);
    } else if (values.has(value)) {
      reporter.error(m.pos, `expected a distinct value for ${d.name}.${m.name}, found ${value}, already used by ${values.get(value)}`);
    } else {
      values.set(value, m.name);
    }
    members.push({ name: m.name, value, doc: m.doc });
    nextValue = value + 1;
  }
  return { kind: 'enum', name: d.name, doc: d.doc, members };
}

/** A struct must not contain itself through required struct fields: no finite value would exist. */
function checkStructCycles(nodes: readonly StructNode[], named: ReadonlyMap<string, Struct | Enum>, reporter: Reporter): void {
  const done = new Set<Struct>();
  const path: { struct: Struct; field: string }[] = [];
  const visit = (s: Struct): void => {
    const onPath = path.findIndex((step) => step.struct === s);
    if (onPath >= 0) {
      const chain = path.slice(onPath).map((step) => `${step.struct.name}.${step.field}`).join(' -> ');
      const node = nodes.find((n) => n.name === s.name)!;
      reporter.error(node.pos,
        `struct ${s.name} contains itself through required fields (${chain}); ` +
        'expected an optional field or an array somewhere in that chain');
      return;
    }
    if (done.has(s)) return;
    for (const f of s.fields) {
      if (f.optional || f.type.kind !== 'struct') continue;
      path.push({ struct: s, field: f.name });
      visit(f.type.decl);
      path.pop();
    }
    done.add(s);
  };
  for (const s of named.values()) if (s.kind === 'struct') visit(s);
}

function checkInterface(
  d: InterfaceNode,
  name: string,
  resolveSlot: (s: SlotNode, allowVoid: boolean) => Slot | undefined,
  reporter: Reporter,
): Interface {
  const version = d.version ?? 1;
  if (version < 1 || version > MAX_UINT32) {
    reporter.error(d.pos, `expected an interface version from 1 to ${MAX_UINT32}, found ${version}`);
  }
  const seen = new Map<string, Pos>();
  const procedures: Procedure[] = [];
  d.procedures.forEach((p, index) => {
    checkUnique(seen, p.name, p.pos, `procedure in interface ${name}`, reporter);
    if (p.name === 'constructor') reporter.error(p.pos, "expected a procedure name, found 'constructor', which is reserved");
    let pool = false;
    for (const a of p.annotations) {
      if (a.name !== 'pool') reporter.error(a.pos, `expected annotation '@pool', found '@${a.name}'`);
      else if (pool) reporter.error(a.pos, `duplicate annotation '@pool' on procedure ${p.name}`);
      pool = true;
    }
    const paramNames = new Map<string, Pos>();
    const params = p.params.flatMap((q) => {
      checkUnique(paramNames, q.name, q.pos, `parameter of ${name}.${p.name}`, reporter);
      if (JS_RESERVED.has(q.name) || PARAM_RESERVED.has(q.name)) {
        reporter.error(q.pos, `expected a parameter name, found '${q.name}', which is reserved in generated TypeScript`);
      }
      const slot = resolveSlot(q, false);
      return slot ? [{ name: q.name, ...slot }] : [];
    });
    const result = resolveSlot(p.result, true);
    if (result !== undefined) procedures.push({ name: p.name, id: index + 1, params, result, pool, doc: p.doc });
  });
  return { name, version, doc: d.doc, procedures };
}
