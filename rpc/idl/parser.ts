/**
 * Recursive-descent parser: tokens to syntax tree. On a syntax error it reports and carries on, so
 * one run shows every independent mistake: a missing ';' or ',' between two members (or before the
 * closing '}') is reported and taken as written, since the next member is already in view; a
 * missing ',' between two parameters likewise; any other error skips to the end of the current
 * procedure/field/member (or declaration).
 *
 *   file       = { decl } ;
 *   decl       = interface | struct | enum ;
 *   interface  = "interface" [ Name ] [ "version" Int ] "{" { procedure } "}" [ ";" ] ;
 *   procedure  = { "@" Name } type [ "?" ] Name "(" [ param { "," param } ] ")" ";" ;
 *   param      = type [ "?" ] Name ;
 *   struct     = "struct" Name "{" { type [ "?" ] Name ";" } "}" [ ";" ] ;
 *   enum       = "enum" Name "{" [ member { "," member } [ "," ] ] "}" [ ";" ] ;
 *   member     = Name [ "=" Int ] ;
 *   type       = Name { "[" [ "<=" Int ] "]" } ;
 */
import type {
  AnnotationNode, DeclNode, EnumMemberNode, EnumNode, FieldNode, InterfaceNode, ParamNode,
  ProcedureNode, SlotNode, StructNode, TypeRef,
} from './ast.js';
import type { Reporter } from './diagnostics.js';
import { describeToken, type Token } from './lexer.js';

const DECL_KEYWORDS = new Set(['interface', 'struct', 'enum']);

/** Unwinds to the nearest recovery point; the diagnostic is already reported. */
class SyntaxFailure extends Error {}

export function parse(tokens: readonly Token[], reporter: Reporter): DeclNode[] {
  let at = 0;
  const peek = (ahead = 0): Token => tokens[Math.min(at + ahead, tokens.length - 1)]!;
  const next = (): Token => {
    const t = peek();
    if (t.kind !== 'eof') at++;
    return t;
  };
  const isPunct = (text: string, t = peek()): boolean => t.kind === 'punct' && t.text === text;
  const isWord = (text: string, t = peek()): boolean => t.kind === 'ident' && t.text === text;
  const fail = (what: string, t = peek()): never => {
    reporter.error(t.pos, `expected ${what}, found ${describeToken(t)}`);
    throw new SyntaxFailure();
  };
  const expectPunct = (text: string, context: string): Token =>
    isPunct(text) ? next() : fail(`'${text}' ${context}`);
  const expectName = (what: string): Token => (peek().kind === 'ident' ? next() : fail(what));
  const expectInt = (what: string): Token => (peek().kind === 'int' ? next() : fail(what));
  /** Skips to just after the next `stop` token, or to (not past) a `}` or end of file. */
  const skipPast = (stop: string): void => {
    while (peek().kind !== 'eof' && !isPunct('}')) {
      if (isPunct(stop, next())) return;
    }
  };
  /** Parses `item` until `}`; a failed item is skipped up to its terminator. */
  const members = <T>(item: () => T, terminator: string): T[] => {
    const out: T[] = [];
    while (!isPunct('}') && peek().kind !== 'eof') {
      try {
        out.push(item());
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        skipPast(terminator);
      }
    }
    return out;
  };
  /**
   * The terminator of a member: when it is missing but the next token starts another member (or
   * closes the block), report it and go on as if it were there; otherwise fail (skip the member).
   */
  const expectTerminator = (text: string, context: string, startsNext: (t: Token) => boolean): void => {
    if (isPunct(text)) {
      next();
      return;
    }
    const t = peek();
    if (t.kind === 'eof' || !(startsNext(t) || isPunct('}', t))) fail(`'${text}' ${context}`);
    reporter.error(t.pos, `expected '${text}' ${context}, found ${describeToken(t)}`);
  };
  const startsMember = (t: Token): boolean => t.kind === 'ident' || isPunct('@', t);
  const closeDecl = (what: string): void => {
    expectPunct('}', `to close ${what}`);
    if (isPunct(';')) next();
  };

  function type(): TypeRef {
    const name = expectName('a type');
    let t: TypeRef = { kind: 'name', name: name.text, pos: name.pos };
    while (isPunct('[')) {
      const open = next();
      let maxLength: number | undefined;
      if (isPunct('<=')) {
        next();
        maxLength = expectInt('a maximum length after \'<=\'').value;
      }
      expectPunct(']', 'to close the array type');
      t = { kind: 'array', element: t, maxLength, pos: open.pos };
    }
    return t;
  }

  function slot(): SlotNode {
    const t = type();
    const optional = isPunct('?');
    if (optional) next();
    return { type: t, optional };
  }

  function param(): ParamNode {
    const s = slot();
    const name = expectName('a parameter name');
    return { ...s, name: name.text, pos: name.pos };
  }

  function procedure(): ProcedureNode {
    const doc = peek().doc;
    const annotations: AnnotationNode[] = [];
    while (isPunct('@')) {
      const at = next();
      annotations.push({ name: expectName("an annotation name after '@'").text, pos: at.pos });
    }
    const result = slot();
    const name = expectName('a procedure name');
    expectPunct('(', 'after the procedure name');
    const params: ParamNode[] = [];
    if (!isPunct(')')) {
      params.push(param());
      for (;;) {
        if (isPunct(',')) next();
        else if (peek().kind === 'ident') reporter.error(peek().pos, `expected ',' between parameters, found ${describeToken(peek())}`);
        else break;
        params.push(param());
      }
    }
    expectPunct(')', 'to close the parameter list');
    expectTerminator(';', 'after the procedure declaration', startsMember);
    return { name: name.text, result, params, annotations, doc, pos: name.pos };
  }

  function field(): FieldNode {
    const doc = peek().doc;
    const s = slot();
    const name = expectName('a field name');
    expectTerminator(';', 'after the field', startsMember);
    return { ...s, name: name.text, doc, pos: name.pos };
  }

  function member(): EnumMemberNode {
    const doc = peek().doc;
    const name = expectName('an enum member name');
    let value: number | undefined;
    if (isPunct('=')) {
      next();
      value = expectInt('an integer value').value;
    }
    if (!isPunct('}')) expectTerminator(',', 'between enum members', (t) => t.kind === 'ident');
    return { name: name.text, value, doc, pos: name.pos };
  }

  function interfaceDecl(keyword: Token): InterfaceNode {
    let name: string | undefined;
    if (peek().kind === 'ident' && !(isWord('version') && peek(1).kind === 'int')) name = next().text;
    let version: number | undefined;
    if (isWord('version')) {
      next();
      version = expectInt("a version number after 'version'").value;
    }
    expectPunct('{', 'to open the interface');
    const procedures = members(procedure, ';');
    closeDecl('the interface');
    return { kind: 'interface', name, version, procedures, doc: keyword.doc, pos: keyword.pos };
  }

  function structDecl(keyword: Token): StructNode {
    const name = expectName('a struct name');
    expectPunct('{', 'to open the struct');
    const fields = members(field, ';');
    closeDecl('the struct');
    return { kind: 'struct', name: name.text, fields, doc: keyword.doc, pos: name.pos };
  }

  function enumDecl(keyword: Token): EnumNode {
    const name = expectName('an enum name');
    expectPunct('{', 'to open the enum');
    const list = members(member, ',');
    closeDecl('the enum');
    return { kind: 'enum', name: name.text, members: list, doc: keyword.doc, pos: name.pos };
  }

  const decls: DeclNode[] = [];
  while (peek().kind !== 'eof') {
    try {
      const t = peek();
      if (isWord('interface')) decls.push(interfaceDecl(next()));
      else if (isWord('struct')) decls.push(structDecl(next()));
      else if (isWord('enum')) decls.push(enumDecl(next()));
      else fail("'interface', 'struct' or 'enum'", t);
    } catch (e) {
      if (!(e instanceof SyntaxFailure)) throw e;
      // Resynchronise at the next declaration keyword.
      next();
      while (peek().kind !== 'eof' && !(peek().kind === 'ident' && DECL_KEYWORDS.has(peek().text))) next();
    }
  }
  return decls;
}
