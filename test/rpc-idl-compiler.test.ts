import { describe, expect, it } from 'vitest';
import { check } from '../rpc/idl/checker.js';
import { CompileError, Reporter, type Diagnostic } from '../rpc/idl/diagnostics.js';
import { compile, formatDiagnostic } from '../rpc/idl/index.js';
import { lex, type Token } from '../rpc/idl/lexer.js';
import { parse } from '../rpc/idl/parser.js';

const CHAPTER = 'interface { int func1(int arg1); int func2(int arg1, int arg2); };';

function lex2(source: string): { tokens: Token[]; diagnostics: Diagnostic[] } {
  const reporter = new Reporter('t.rpc');
  return { tokens: lex(source, reporter), diagnostics: reporter.diagnostics };
}

function model(source: string, fileName = 'test.rpc') {
  const reporter = new Reporter(fileName);
  const decls = parse(lex(source, reporter), reporter);
  const m = check(decls, fileName, reporter);
  reporter.throwIfAny();
  return m;
}

/** Compiles and returns the formatted diagnostics (fails the test if it compiles). */
function errors(source: string, fileName = 'calc.rpc'): string[] {
  try {
    compile(source, { fileName });
  } catch (e) {
    expect(e).toBeInstanceOf(CompileError);
    return (e as CompileError).diagnostics.map(formatDiagnostic);
  }
  throw new Error('expected a compile error');
}

describe('lexer', () => {
  it('splits words, integers and punctuation with 1-based line:column positions', () => {
    const { tokens: t, diagnostics } = lex2('interface Calc version 0x2 {\n  uint8[<=16]? x; int8 y = -3;\n}');
    expect(diagnostics).toEqual([]);
    expect(t.map((k) => `${k.kind}:${k.text}@${k.pos.line}:${k.pos.column}`)).toEqual([
      'ident:interface@1:1', 'ident:Calc@1:11', 'ident:version@1:16', 'int:0x2@1:24', 'punct:{@1:28',
      'ident:uint8@2:3', 'punct:[@2:8', 'punct:<=@2:9', 'int:16@2:11', 'punct:]@2:13', 'punct:?@2:14',
      'ident:x@2:16', 'punct:;@2:17', 'ident:int8@2:19', 'ident:y@2:24', 'punct:=@2:26', 'int:-3@2:28',
      'punct:;@2:30', 'punct:}@3:1', 'eof:@3:2',
    ]);
    expect(t.find((k) => k.text === '0x2')?.value).toBe(2);
    expect(t.find((k) => k.text === '-3')?.value).toBe(-3);
  });

  it('skips line and block comments and attaches doc comments to the next token', () => {
    const { tokens: t } = lex2('// plain\n/* plain */\n/**\n * Two\n * lines.\n */\nstruct\n/// one\n/// two\nA');
    expect(t.map((k) => [k.text, k.doc])).toEqual([['struct', 'Two\nlines.'], ['A', 'one\ntwo'], ['', undefined]]);
  });

  it('reports a bad character and an unterminated comment with their positions', () => {
    expect(lex2('struct A {\n  int32 x; # \n}').diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`))
      .toEqual(["2:12: unexpected character '#'"]);
    expect(lex2('struct /* never closed').diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`))
      .toEqual(["1:8: unterminated comment: expected '*/' before end of file"]);
    expect(lex2('x 12ab').diagnostics[0]?.message).toBe("expected a decimal or 0x hexadecimal integer, found '12ab'");
  });
});

describe('parser and checker', () => {
  it("compiles the chapter's anonymous interface: name from the file, version 1, int = int32, 1-based ids", () => {
    const m = model(CHAPTER, 'rpc/examples/chapter.rpc');
    expect(m.interfaces).toHaveLength(1);
    const [iface] = m.interfaces;
    expect(iface!.name).toBe('Chapter');
    expect(iface!.version).toBe(1);
    expect(iface!.procedures.map((p) => [p.name, p.id, p.params.map((q) => `${q.type.kind === 'int' ? q.type.name : '?'} ${q.name}`)]))
      .toEqual([['func1', 1, ['int32 arg1']], ['func2', 2, ['int32 arg1', 'int32 arg2']]]);
  });

  it('derives a PascalCase default interface name from the file name', () => {
    expect(model('interface {}', 'dir/page-protocol.rpc').interfaces[0]!.name).toBe('PageProtocol');
    expect(model('interface {}', '2pc.rpc').interfaces[0]!.name).toBe('Interface2pc');
    expect(model('interface version 4 {}', 'x.rpc').interfaces[0]).toMatchObject({ name: 'X', version: 4 });
  });

  it('parses named versioned interfaces, several per file, @pool, docs, optional slots and void', () => {
    const m = model(`
      /** Calculator. */
      interface Calc version 2 {
        /** Adds. */
        int32 add(int32 a, int32 b);
        @pool float64 heavy(double x);
        /// Maybe.
        string? find(uint64 key, bool? exact);
        void reset();
      }
      interface Other { void ping(); }`);
    expect(m.interfaces.map((i) => [i.name, i.version, i.doc])).toEqual([['Calc', 2, 'Calculator.'], ['Other', 1, undefined]]);
    const [add, heavy, find, reset] = m.interfaces[0]!.procedures;
    expect([add!.doc, add!.pool, heavy!.pool, find!.doc]).toEqual(['Adds.', false, true, 'Maybe.']);
    expect(heavy!.params[0]!.type).toEqual({ kind: 'float', name: 'float64' });
    expect(find!.result).toMatchObject({ optional: true, type: { kind: 'string' } });
    expect(find!.params.map((p) => p.optional)).toEqual([false, true]);
    expect(reset!.result.type.kind).toBe('void');
  });

  it('resolves every built-in type and alias, arrays with and without a maximum length', () => {
    const m = model(`struct All {
      int8 a; int16 b; int32 c; int64 d; uint8 e; uint16 f; uint32 g; uint64 h; int i;
      float32 j; float64 k; float l; double m; bool n; string o; bytes p; string[] q; uint8[<=16][] r;
    }`);
    const all = m.types[0]!;
    if (all.kind !== 'struct') throw new Error('expected a struct');
    const names = all.fields.map((f) => (f.type.kind === 'int' || f.type.kind === 'float' ? f.type.name : f.type.kind));
    expect(names).toEqual([
      'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'int32',
      'float32', 'float64', 'float32', 'float64', 'bool', 'string', 'bytes', 'array', 'array',
    ]);
    expect(all.fields[16]!.type).toEqual({ kind: 'array', element: { kind: 'string' }, maxLength: undefined });
    expect(all.fields[17]!.type).toMatchObject({ kind: 'array', maxLength: undefined, element: { kind: 'array', maxLength: 16 } });
    const h = all.fields[7]!.type;
    expect(h.kind === 'int' && [h.min, h.max]).toEqual([0n, 2n ** 64n - 1n]);
  });

  it('lets types be used before they are declared, and structs refer to themselves through optional fields or arrays', () => {
    const m = model(`
      interface Tree { Node root(); }
      struct Node { Leaf? leaf; Node[] children; Node? parent; }
      struct Leaf { Color color; }
      enum Color { Red, Green = 5, Blue }`);
    expect(m.types.map((t) => t.name)).toEqual(['Node', 'Leaf', 'Color']);
    const color = m.types[2]!;
    expect(color.kind === 'enum' && color.members.map((x) => [x.name, x.value])).toEqual([['Red', 0], ['Green', 5], ['Blue', 6]]);
  });

  it('accepts optional trailing semicolons and a trailing comma in enums', () => {
    expect(() => model('enum E { A, B, }; struct S { E e; }; interface I { S get(); };')).not.toThrow();
  });

  it('keeps enum member docs and struct field docs', () => {
    const m = model('enum E {\n /** first */ A,\n /// second\n B }\nstruct S { /** the e */ E e; }');
    const [e, s] = m.types;
    expect(e!.kind === 'enum' && e!.members.map((x) => x.doc)).toEqual(['first', 'second']);
    expect(s!.kind === 'struct' && s!.fields[0]!.doc).toBe('the e');
  });
});

describe('compile errors point at file:line:column and say what was expected and found', () => {
  it('unknown type', () => {
    expect(errors('interface Calc {\n  int32 add(Int32 a);\n}')).toEqual([
      "calc.rpc:2:13: error: expected a type, found unknown type 'Int32'",
    ]);
  });

  it('missing semicolon', () => {
    expect(errors('interface {\n  int func1(int arg1)\n  int func2(int arg1, int arg2);\n};', 'chapter.rpc')).toEqual([
      "chapter.rpc:3:3: error: expected ';' after the procedure declaration, found 'int'",
    ]);
  });

  it('duplicate procedure', () => {
    expect(errors('interface Calc {\n  int32 add(int32 a);\n  int32 add(int32 b);\n}')).toEqual([
      "calc.rpc:3:9: error: duplicate procedure in interface Calc: 'add' was already declared at 2:9",
    ]);
  });

  it('bad token', () => {
    expect(errors('interface Calc {\n  int32 add(int32 a) $;\n}')).toEqual([
      "calc.rpc:2:22: error: unexpected character '$'",
    ]);
  });

  it('reports every independent syntax error in one run', () => {
    expect(errors('interface Calc {\n  int32 add(int32 a)\n  int32 sub(int32 a);\n  float mul(float a # float b);\n  bool 9;\n}\nstruct {}')).toEqual([
      "calc.rpc:3:3: error: expected ';' after the procedure declaration, found 'int32'",
      "calc.rpc:4:21: error: unexpected character '#'",
      "calc.rpc:4:23: error: expected ',' between parameters, found 'float'",
      "calc.rpc:5:8: error: expected a procedure name, found '9'",
      "calc.rpc:7:8: error: expected a struct name, found '{'",
    ]);
  });

  it('a missing terminator does not hide the errors after it: the next member is parsed, not skipped', () => {
    // Each line has its own mistake; before, a missing ';' swallowed the next procedure with its error.
    expect(errors('interface {\n  int func1(int arg1)\n  int func2(int arg1 int arg2);\n  int func3(int a)\n  int func4(int b,);\n}', 'chapter.rpc')).toEqual([
      "chapter.rpc:3:3: error: expected ';' after the procedure declaration, found 'int'",
      "chapter.rpc:3:22: error: expected ',' between parameters, found 'int'",
      "chapter.rpc:5:3: error: expected ';' after the procedure declaration, found 'int'",
      "chapter.rpc:5:19: error: expected a type, found ')'",
    ]);
    expect(errors('struct S { int32 a int32 b; string c }\nenum E { A, B C, D E }')).toEqual([
      "calc.rpc:1:20: error: expected ';' after the field, found 'int32'",
      "calc.rpc:1:38: error: expected ';' after the field, found '}'",
      "calc.rpc:2:15: error: expected ',' between enum members, found 'C'",
      "calc.rpc:2:20: error: expected ',' between enum members, found 'E'",
    ]);
  });

  it('unexpected end of file and stray tokens at top level', () => {
    expect(errors('interface Calc {\n  int32 add(int32 a);\n')).toEqual([
      "calc.rpc:3:1: error: expected '}' to close the interface, found end of file",
    ]);
    expect(errors('int32 add();')).toEqual([
      "calc.rpc:1:1: error: expected 'interface', 'struct' or 'enum', found 'int32'",
    ]);
  });

  it('duplicate and clashing names', () => {
    expect(errors('struct A {}\nenum A { X }')).toEqual([
      "calc.rpc:2:6: error: enum 'A' clashes with struct declared at 1:8",
    ]);
    expect(errors('interface Calc {}\nstruct CalcClient {}')).toEqual([
      "calc.rpc:2:8: error: struct 'CalcClient' clashes with interface Calc's generated name declared at 1:1",
    ]);
    expect(errors('interface {}\ninterface {}')).toEqual([
      "calc.rpc:2:1: error: interface 'Calc' clashes with interface declared at 1:1",
    ]);
    expect(errors('struct S { int32 a; string a; }')).toEqual([
      "calc.rpc:1:28: error: duplicate field in struct S: 'a' was already declared at 1:18",
    ]);
    expect(errors('interface I { void f(int32 a, bool a); }')).toEqual([
      "calc.rpc:1:36: error: duplicate parameter of I.f: 'a' was already declared at 1:28",
    ]);
    expect(errors('enum E { A, B = 0 }')).toEqual([
      'calc.rpc:1:13: error: expected a distinct value for E.B, found 0, already used by A',
    ]);
  });

  it('reserved and built-in names', () => {
    expect(errors('struct int32 {}')).toEqual(["calc.rpc:1:8: error: expected a new name for struct, found built-in type 'int32'"]);
    expect(errors('struct Promise {}')).toEqual([
      "calc.rpc:1:8: error: expected a name for struct, found 'Promise', which is reserved in generated TypeScript",
    ]);
    expect(errors('interface I { void f(int32 opts); void constructor(); }')).toEqual([
      "calc.rpc:1:28: error: expected a parameter name, found 'opts', which is reserved in generated TypeScript",
      "calc.rpc:1:40: error: expected a procedure name, found 'constructor', which is reserved",
    ]);
  });

  it('misplaced void, interfaces used as types, bad lengths, versions, enum values and annotations', () => {
    expect(errors('interface I { int32 f(void x); void? g(); }')).toEqual([
      "calc.rpc:1:23: error: expected a value type, found 'void' (void is only allowed as a procedure result)",
      "calc.rpc:1:32: error: expected a value type before '?', found 'void'",
    ]);
    expect(errors('interface I {}\nstruct S { I i; }')).toEqual(["calc.rpc:2:12: error: expected a type, found 'I', an interface"]);
    expect(errors('struct S { bytes[<=0] b; }')).toEqual(['calc.rpc:1:17: error: expected a maximum array length from 1 to 4294967295, found 0']);
    expect(errors('interface I version 0 {}')).toEqual(['calc.rpc:1:1: error: expected an interface version from 1 to 4294967295, found 0']);
    expect(errors('enum E { A = 0x80000000 }')).toEqual(['calc.rpc:1:10: error: expected an enum value in the int32 range, found 2147483648']);
    expect(errors('enum E {}')).toEqual(['calc.rpc:1:6: error: expected at least one member in enum E, found none']);
    expect(errors('interface I { @fast void f(); @pool @pool void g(); }')).toEqual([
      "calc.rpc:1:15: error: expected annotation '@pool', found '@fast'",
      'calc.rpc:1:37: error: duplicate annotation \'@pool\' on procedure g',
    ]);
  });

  it('structs that contain themselves through required fields', () => {
    expect(errors('struct A { B b; }\nstruct B { int32 x; A a; }\nstruct C { C c; }')).toEqual([
      'calc.rpc:1:8: error: struct A contains itself through required fields (A.b -> B.a); expected an optional field or an array somewhere in that chain',
      'calc.rpc:3:8: error: struct C contains itself through required fields (C.c); expected an optional field or an array somewhere in that chain',
    ]);
  });

  it('CompileError message lists every diagnostic, one per line', () => {
    try {
      compile('struct A { Nope x; Nada y; }', { fileName: 'a.rpc' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CompileError);
      expect((e as CompileError).code).toBe('RPCGEN_ERR_COMPILE');
      expect((e as Error).message).toBe(
        "a.rpc:1:12: error: expected a type, found unknown type 'Nope'\na.rpc:1:20: error: expected a type, found unknown type 'Nada'",
      );
    }
  });
});
