/**
 * Checked model to TypeScript. Validators are emitted as straight-line code per type (no type
 * tree is interpreted at run time); paths for error messages are only built when a check
 * fails, except when descending into a struct validator function.
 *
 * Generated names that user names cannot clash with contain `$` (not valid in .rpc names):
 * `check$Item` (struct validator), `is$Color` (enum test), `Calc$add` (procedure descriptor),
 * `Calc$add$args` / `Calc$add$result`, and the helpers `isRecord$`, `bigint$`, `wellFormed$`, `call$`.
 */
import type { Enum, Interface, Model, Procedure, Slot, Struct, Type } from './ast.js';

/** Runtime module specifier used when none is given. */
export const DEFAULT_RUNTIME = 'pagewire/rpc';

export interface GenerateOptions {
  /** Source file name for the banner (its base name is used, so output does not depend on the cwd). */
  readonly sourceName: string;
  /** Module specifier the generated file imports the RPC runtime from. */
  readonly runtimeImport: string;
}

/** A JavaScript expression for an error path, kept as parts so adjacent literals merge. */
type Path = readonly (string | { readonly code: string })[];

const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;

function renderPath(path: Path): string {
  const merged: (string | { code: string })[] = [];
  for (const part of path) {
    const last = merged[merged.length - 1];
    if (typeof part === 'string' && typeof last === 'string') merged[merged.length - 1] = last + part;
    else merged.push(part);
  }
  return merged.map((p) => (typeof p === 'string' ? lit(p) : p.code)).join(' + ');
}

/** 64-bit integers are bigint in TypeScript. */
const is64 = (t: Type & { kind: 'int' }): boolean => t.name === 'int64' || t.name === 'uint64';

/** TypeScript type of a value of type t. */
function tsType(t: Type): string {
  switch (t.kind) {
    case 'int': return is64(t) ? 'bigint' : 'number';
    case 'float': return 'number';
    case 'bool': return 'boolean';
    case 'string': return 'string';
    case 'bytes': return 'Uint8Array';
    case 'void': return 'void';
    case 'array': return `${tsType(t.element)}[]`;
    case 'struct': case 'enum': return t.decl.name;
  }
}

const slotType = (s: Slot): string => (s.optional ? `${tsType(s.type)} | undefined` : tsType(s.type));

/** How the interface file spells t, for "expected ..." in ValidationError. */
function describe(t: Type): string {
  switch (t.kind) {
    case 'int': case 'float': return t.name;
    case 'array': return `${describe(t.element)}[${t.maxLength === undefined ? '' : `<=${t.maxLength}`}]`;
    case 'struct': case 'enum': return t.decl.name;
    default: return t.kind;
  }
}

/** Whether validating t produces a new value (structs are rebuilt, 64-bit ints become bigint). */
function rebuilds(t: Type): boolean {
  if (t.kind === 'array') return rebuilds(t.element);
  return t.kind === 'struct' || (t.kind === 'int' && is64(t));
}

class Lines {
  readonly lines: string[] = [];
  private depth = 0;
  line(text = ''): this {
    this.lines.push(text === '' ? '' : '  '.repeat(this.depth) + text);
    return this;
  }
  block(head: string, body: () => void, tail = '}'): this {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    return this.line(tail);
  }
  doc(doc: string | undefined): this {
    if (doc === undefined || doc === '') return this;
    const text = doc.replace(/\*\//g, '*\\/').split('\n');
    if (text.length === 1) return this.line(`/** ${text[0]} */`);
    this.line('/**');
    for (const l of text) this.line(l === '' ? ' *' : ` * ${l}`);
    return this.line(' */');
  }
}

/** Emits validation statements for one function body; fresh local names per function. */
class CheckEmitter {
  private counter = 0;
  constructor(private readonly out: Lines, private readonly used: Set<string>) {}

  private fresh(prefix: string): string {
    return `${prefix}${++this.counter}`;
  }

  private fail(path: Path, expected: string, value: string): string {
    this.used.add('ValidationError');
    return `throw new ValidationError(${renderPath(path)}, ${lit(expected)}, ${value});`;
  }

  /**
   * Emits statements that throw unless `value` (a local name) is a valid `slot`, and returns
   * an expression for the validated value (absent optional values become undefined).
   */
  slot(s: Slot, value: string, path: Path): string {
    if (!s.optional) return this.value(s.type, value, path);
    const result = this.fresh('o');
    this.out.line(`let ${result}: ${slotType(s)};`);
    this.out.block(`if (${value} !== undefined && ${value} !== null)`, () => {
      this.out.line(`${result} = ${this.value(s.type, value, path)};`);
    });
    return result;
  }

  value(t: Type, v: string, path: Path): string {
    const out = this.out;
    switch (t.kind) {
      case 'int':
        if (is64(t)) {
          this.used.add('bigint$');
          const n = this.fresh('n');
          out.line(`const ${n} = bigint$(${v});`);
          out.line(`if (${n} === undefined || ${n} < ${t.min}n || ${n} > ${t.max}n) ${this.fail(path, t.name, v)}`);
          return n;
        }
        out.line(`if (typeof ${v} !== 'number' || !Number.isInteger(${v}) || ${v} < ${t.min} || ${v} > ${t.max}) ` +
          this.fail(path, t.name, v));
        return v;
      case 'float':
        if (t.name === 'float32') {
          // Finite values that float32 cannot hold (|x| beyond ~3.4e38) are refused, not turned into Infinity.
          out.line(`if (typeof ${v} !== 'number' || (Number.isFinite(${v}) && !Number.isFinite(Math.fround(${v})))) ` +
            this.fail(path, 'float32 (finite values up to ±3.4028235e38)', v));
        } else {
          out.line(`if (typeof ${v} !== 'number') ${this.fail(path, t.name, v)}`);
        }
        return v;
      case 'bool':
        out.line(`if (typeof ${v} !== 'boolean') ${this.fail(path, 'bool', v)}`);
        return v;
      case 'string':
        // UTF-8 on the wire cannot carry a lone surrogate: the peer would get U+FFFD instead.
        this.used.add('wellFormed$');
        out.line(`if (typeof ${v} !== 'string') ${this.fail(path, 'string', v)}`);
        out.line(`if (!wellFormed$(${v})) ${this.fail(path, 'a string without lone UTF-16 surrogates', v)}`);
        return v;
      case 'bytes':
        out.line(`if (!(${v} instanceof Uint8Array)) ${this.fail(path, 'bytes', v)}`);
        return v;
      case 'enum':
        out.line(`if (!is$${t.decl.name}(${v})) ${this.fail(path, t.decl.name, v)}`);
        return v;
      case 'struct': {
        const checked = this.fresh('s');
        out.line(`const ${checked} = check$${t.decl.name}(${v}, ${renderPath(path)});`);
        return checked;
      }
      case 'array':
        return this.array(t, v, path);
      case 'void':
        out.line(`if (${v} !== undefined && ${v} !== null) ${this.fail(path, 'nothing (void)', v)}`);
        return 'undefined';
    }
  }

  private array(t: Type & { kind: 'array' }, v: string, path: Path): string {
    const out = this.out;
    out.line(`if (!Array.isArray(${v})) ${this.fail(path, describe(t), v)}`);
    if (t.maxLength !== undefined) {
      out.line(`if (${v}.length > ${t.maxLength}) ${this.fail(path, `at most ${t.maxLength} elements`, v)}`);
    }
    const i = this.fresh('i');
    const e = this.fresh('e');
    const copy = rebuilds(t.element) ? this.fresh('r') : undefined;
    if (copy !== undefined) out.line(`const ${copy}: ${tsType(t)} = [];`);
    out.block(`for (let ${i} = 0; ${i} < ${v}.length; ${i}++)`, () => {
      out.line(`const ${e}: unknown = ${v}[${i}];`);
      const checked = this.value(t.element, e, [...path, '[', { code: i }, ']']);
      if (copy !== undefined) out.line(`${copy}.push(${checked});`);
    });
    return copy ?? v;
  }
}

export function generate(model: Model, options: GenerateOptions): string {
  // Public API first (types, descriptors, clients, handler types), then the validators.
  const api = new Lines();
  const checks = new Lines();
  const used = new Set<string>();
  const reachable = reachableTypes(model);

  for (const t of model.types) {
    if (t.kind === 'enum') emitEnum(api, checks, t, reachable.has(t));
    else emitStruct(api, checks, t, reachable.has(t), used);
  }
  for (const iface of model.interfaces) emitInterface(api, checks, iface, used);
  if (model.interfaces.some((i) => i.procedures.length > 0)) used.add('call$');

  const sourceName = options.sourceName.replace(/^.*[\\/]/, '');
  const head = new Lines();
  head.line(`// Code generated by pagewire-rpcgen from ${sourceName}. DO NOT EDIT.`);
  const runtimeFlag = options.runtimeImport === DEFAULT_RUNTIME ? '' : `--runtime ${options.runtimeImport} `;
  head.line(`// Regenerate with: pagewire-rpcgen ${runtimeFlag}${sourceName}`);
  head.line();
  // Shared helpers come from the runtime (rpc/stub-support.ts) under short local names.
  const helpers: Record<string, string> = {
    call$: 'callChecked as call$', isRecord$: 'isPlainRecord as isRecord$', bigint$: 'toBigint as bigint$', wellFormed$: 'isWellFormedString as wellFormed$',
  };
  const values = ['ValidationError', 'call$', 'isRecord$', 'bigint$', 'wellFormed$'].filter((n) => used.has(n)).map((n) => helpers[n] ?? n);
  const types = ['CallContext', 'CallOptions', 'Caller', 'InterfaceDescriptor', 'ProcedureDescriptor'].filter((n) => used.has(n));
  if (values.length > 0) head.line(`import { ${values.join(', ')} } from ${lit(options.runtimeImport)};`);
  if (types.length > 0) head.line(`import type { ${types.join(', ')} } from ${lit(options.runtimeImport)};`);
  if (checks.lines.length > 0) api.line().line('// ---- Validation (straight-line code generated per type) ----');
  return [...head.lines, ...api.lines, ...checks.lines].join('\n') + '\n';
}

/** Structs and enums some procedure can carry; only these get validators (so none is unused). */
function reachableTypes(model: Model): Set<Struct | Enum> {
  const seen = new Set<Struct | Enum>();
  const visit = (t: Type): void => {
    if (t.kind === 'array') visit(t.element);
    else if ((t.kind === 'struct' || t.kind === 'enum') && !seen.has(t.decl)) {
      seen.add(t.decl);
      if (t.decl.kind === 'struct') for (const f of t.decl.fields) visit(f.type);
    }
  };
  for (const i of model.interfaces) {
    for (const p of i.procedures) {
      visit(p.result.type);
      for (const q of p.params) visit(q.type);
    }
  }
  return seen;
}

function emitEnum(out: Lines, checks: Lines, e: Enum, withCheck: boolean): void {
  out.line();
  out.doc(e.doc);
  out.block(`export const ${e.name} =`, () => {
    for (const m of e.members) out.doc(m.doc).line(`${m.name}: ${m.value},`);
  }, '} as const;');
  out.doc(e.doc);
  out.line(`export type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];`);
  if (!withCheck) return;
  checks.line();
  checks.block(`function is$${e.name}(v: unknown): v is ${e.name}`, () => {
    checks.line(`return ${e.members.map((m) => `v === ${m.value}`).join(' || ')};`);
  });
}

function emitStruct(api: Lines, out: Lines, s: Struct, withCheck: boolean, used: Set<string>): void {
  api.line();
  api.doc(s.doc);
  api.block(`export interface ${s.name}`, () => {
    for (const f of s.fields) api.doc(f.doc).line(`${f.name}${f.optional ? '?' : ''}: ${slotType(f)};`);
  });
  if (!withCheck) return;
  used.add('isRecord$');
  const check = new CheckEmitter(out, used);
  out.line();
  out.block(`function check$${s.name}(v: unknown, path: string): ${s.name}`, () => {
    out.line(`if (!isRecord$(v)) throw new ValidationError(path, ${lit(s.name)}, v);`);
    out.block('for (const k in v)', () => {
      out.block('switch (k)', () => {
        if (s.fields.length > 0) out.line(`${s.fields.map((f) => `case ${lit(f.name)}:`).join(' ')} break;`);
        out.line(`default: throw new ValidationError(path + '.' + k, ${lit(`no such field in ${s.name}`)}, v[k]);`);
      });
    });
    const results = s.fields.map((f) => {
      const local = `v_${f.name}`;
      out.line(`const ${local} = v[${lit(f.name)}];`);
      return `${f.name}: ${check.slot(f, local, [{ code: 'path' }, `.${f.name}`])}`;
    });
    out.line(results.length === 0 ? 'return {};' : `return { ${results.join(', ')} };`);
  });
}

function emitInterface(out: Lines, checks: Lines, iface: Interface, used: Set<string>): void {
  const I = iface.name;
  for (const p of iface.procedures) emitProcedureChecks(checks, I, p, used);

  for (const p of iface.procedures) {
    used.add('ProcedureDescriptor');
    out.line();
    const fields = [
      `name: ${lit(p.name)}`, `id: ${p.id}`, `pool: ${p.pool}`,
      ...(p.doc === undefined ? [] : [`doc: ${lit(p.doc)}`]),
      `checkArgs: ${I}$${p.name}$args`, `checkResult: ${I}$${p.name}$result`,
    ];
    out.block(`const ${I}$${p.name}: ProcedureDescriptor =`, () => {
      for (const f of fields) out.line(`${f},`);
    }, '};');
  }

  used.add('InterfaceDescriptor');
  out.line();
  out.doc(iface.doc);
  out.block(`export const ${I}Descriptor: InterfaceDescriptor =`, () => {
    out.line(`name: ${lit(I)},`);
    out.line(`version: ${iface.version},`);
    out.line(`procedures: [${iface.procedures.map((p) => `${I}$${p.name}`).join(', ')}],`);
  }, '};');

  used.add('Caller');
  out.line();
  out.doc(iface.doc ?? `Typed client for interface ${I}: one method per procedure.`);
  out.block(`export class ${I}Client`, () => {
    out.line('readonly #caller: Caller;');
    out.line(`readonly #iface = ${I}Descriptor;`);
    out.line();
    out.block('constructor(caller: Caller)', () => out.line('this.#caller = caller;'));
    for (const p of iface.procedures) {
      used.add('CallOptions');
      const params = [...p.params.map((q) => `${q.name}: ${slotType(q)}`), 'opts?: CallOptions'];
      const args = `[${p.params.map((q) => q.name).join(', ')}]`;
      out.line();
      out.doc(p.doc);
      out.block(`${p.name}(${params.join(', ')}): Promise<${slotType(p.result)}>`, () => {
        out.line(`return call$(this.#caller, this.#iface, ${I}$${p.name}, ${args}, opts) as Promise<${slotType(p.result)}>;`);
      });
    }
  });

  out.line();
  out.doc(`Server side of interface ${I}: each handler gets the validated arguments, then the call context.`);
  out.block(`export type ${I}Handlers =`, () => {
    for (const p of iface.procedures) {
      used.add('CallContext');
      const params = [...p.params.map((q) => `${q.name}: ${slotType(q)}`), 'ctx: CallContext'];
      const r = slotType(p.result);
      out.doc(p.doc).line(`${p.name}(${params.join(', ')}): ${r} | Promise<${r}>;`);
    }
  }, '};');
}

function emitProcedureChecks(out: Lines, I: string, p: Procedure, used: Set<string>): void {
  used.add('ValidationError');
  out.line();
  const tuple = p.params.map((q) => `${q.name}: ${slotType(q)}`).join(', ');
  out.block(`function ${I}$${p.name}$args(args: unknown): [${tuple}]`, () => {
    const n = p.params.length;
    out.line(`if (!Array.isArray(args) || args.length !== ${n}) ` +
      `throw new ValidationError('args', ${lit(`${n} argument${n === 1 ? '' : 's'}`)}, args);`);
    const check = new CheckEmitter(out, used);
    const results = p.params.map((q, i) => {
      out.line(`const a${i}: unknown = args[${i}];`);
      return check.slot(q, `a${i}`, [`args[${i}]`]);
    });
    out.line(`return [${results.join(', ')}];`);
  });
  out.line();
  out.block(`function ${I}$${p.name}$result(result: unknown): ${slotType(p.result)}`, () => {
    if (p.result.optional) out.line('if (result === undefined || result === null) return undefined;');
    const checked = new CheckEmitter(out, used).value(p.result.type, 'result', ['result']);
    if (p.result.type.kind !== 'void') out.line(`return ${checked};`);
  });
}

