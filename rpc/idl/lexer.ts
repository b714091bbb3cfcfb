/**
 * Tokeniser for .rpc files. Words (keywords, type names and identifiers alike) are all
 * `ident` tokens: the parser and checker give them meaning by position, so a field may be
 * called `version` or `string`. Doc comments (`/** ... *\/`, `///`) are attached to the
 * token that follows them; ordinary comments (`//`, `/* *\/`) are skipped.
 */
import type { Pos, Reporter } from './diagnostics.js';

export type TokenKind = 'ident' | 'int' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text (for `int`, the digits as written). */
  readonly text: string;
  /** Numeric value of an `int` token. */
  readonly value: number;
  readonly pos: Pos;
  /** Doc comment text written right before this token, if any. */
  readonly doc: string | undefined;
}

const PUNCT = ['<=', '{', '}', '(', ')', '[', ']', ';', ',', '=', '?', '@'] as const;

const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string): boolean => c >= '0' && c <= '9';

/** Human description of a token for "found ..." in messages. */
export function describeToken(t: Token): string {
  return t.kind === 'eof' ? 'end of file' : `'${t.text}'`;
}

export function lex(source: string, reporter: Reporter): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let docs: string[] = [];

  const posAt = (offset: number): Pos => ({ line, column: offset - lineStart + 1 });
  const push = (kind: TokenKind, start: number, text: string, value = 0): void => {
    tokens.push({ kind, text, value, pos: posAt(start), doc: docs.length > 0 ? docs.join('\n') : undefined });
    docs = [];
  };
  /** Advances over source[i, end), keeping line bookkeeping right across newlines. */
  const advanceTo = (end: number): void => {
    for (; i < end; i++) {
      if (source[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
  };

  while (i < source.length) {
    const c = source[i]!;
    const start = i;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      advanceTo(i + 1);
    } else if (source.startsWith('//', i)) {
      let end = source.indexOf('\n', i);
      if (end < 0) end = source.length;
      const text = source.slice(i, end);
      if (text.startsWith('///') && !text.startsWith('////')) docs.push(text.slice(3).replace(/^ /, '').trimEnd());
      advanceTo(end);
    } else if (source.startsWith('/*', i)) {
      const close = source.indexOf('*/', i + 2);
      if (close < 0) {
        reporter.error(posAt(start), "unterminated comment: expected '*/' before end of file");
        advanceTo(source.length);
        break;
      }
      const body = source.slice(i + 2, close);
      if (body.startsWith('*') && body !== '*') docs.push(cleanBlockDoc(body.slice(1)));
      advanceTo(close + 2);
    } else if (isIdentStart(c)) {
      let end = i + 1;
      while (end < source.length && isIdentPart(source[end]!)) end++;
      push('ident', start, source.slice(i, end));
      advanceTo(end);
    } else if (isDigit(c) || (c === '-' && isDigit(source[i + 1] ?? ''))) {
      let end = i + 1;
      while (end < source.length && isIdentPart(source[end]!)) end++;
      const text = source.slice(i, end);
      if (/^-?(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$/.test(text)) {
        const negative = text.startsWith('-');
        const magnitude = Number(negative ? text.slice(1) : text);
        push('int', start, text, negative ? -magnitude : magnitude);
      } else {
        reporter.error(posAt(start), `expected a decimal or 0x hexadecimal integer, found '${text}'`);
      }
      advanceTo(end);
    } else {
      const p = PUNCT.find((q) => source.startsWith(q, i));
      if (p === undefined) {
        const ch = String.fromCodePoint(source.codePointAt(i)!);
        reporter.error(posAt(start), `unexpected character '${ch}'`);
        advanceTo(i + ch.length);
      } else {
        push('punct', start, p);
        advanceTo(i + p.length);
      }
    }
  }
  push('eof', i, '');
  return tokens;
}

/** Strips the leading ` * ` decoration of each line and surrounding blank lines. */
function cleanBlockDoc(body: string): string {
  const lines = body.split('\n').map((l) => l.replace(/^\s*\*? ?/, '').trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}
