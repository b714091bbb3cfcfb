/**
 * pagewire-rpcgen's programmatic API: compile the text of a .rpc interface file into the
 * TypeScript of its .stubs.ts file.
 */
import type { Interface } from './ast.js';
import { check } from './checker.js';
import { generate, DEFAULT_RUNTIME } from './codegen.js';
import { Reporter } from './diagnostics.js';
import { lex } from './lexer.js';
import { parse } from './parser.js';

export type { Interface, Procedure, Param, Slot, Type, Model } from './ast.js';
export { CompileError, formatDiagnostic, type Diagnostic } from './diagnostics.js';
export { DEFAULT_RUNTIME } from './codegen.js';

export interface CompileOptions {
  /** Used in diagnostics (as given) and in the banner / default interface name (its base name). */
  readonly fileName: string;
  /** Module specifier generated code imports the runtime from. @default 'pagewire/rpc' */
  readonly runtimeImport?: string;
}

export interface CompileResult {
  /** The generated .stubs.ts text (deterministic: same input, same bytes). */
  readonly code: string;
  readonly interfaces: readonly Interface[];
}

/** Compiles one interface file. Throws CompileError listing every diagnostic found. */
export function compile(source: string, options: CompileOptions): CompileResult {
  const reporter = new Reporter(options.fileName);
  const decls = parse(lex(source, reporter), reporter);
  reporter.throwIfAny(); // checking a tree with syntax errors would only add follow-on noise
  const model = check(decls, options.fileName, reporter);
  reporter.throwIfAny();
  const code = generate(model, { sourceName: options.fileName, runtimeImport: options.runtimeImport ?? DEFAULT_RUNTIME });
  return { code, interfaces: model.interfaces };
}

/** foo.rpc → foo.stubs.ts, next to it. */
export function stubsPathFor(rpcPath: string): string {
  return rpcPath.replace(/(\.rpc)?$/, '.stubs.ts');
}
