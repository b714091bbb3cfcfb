/** Compile diagnostics: every problem the compiler finds, with the position it points at. */

/** 1-based line and column (column counts UTF-16 code units, tabs count as one). */
export interface Pos {
  readonly line: number;
  readonly column: number;
}

export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** What was expected and what was found, e.g. "expected ';', found 'int32'". */
  readonly message: string;
}

/** `file:line:column: error: message`, the format editors and CI logs recognise. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: error: ${d.message}`;
}

/** Thrown by compile() when the source has errors; `diagnostics` lists all of them in source order. */
export class CompileError extends Error {
  readonly code = 'RPCGEN_ERR_COMPILE' as const;
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'CompileError';
  }
}

/** Collects diagnostics for one file. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string) {}

  error(pos: Pos, message: string): void {
    this.diagnostics.push({ file: this.file, line: pos.line, column: pos.column, message });
  }

  /** Throws CompileError if anything was reported (diagnostics sorted by position). */
  throwIfAny(): void {
    if (this.diagnostics.length === 0) return;
    const sorted = [...this.diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
    throw new CompileError(sorted);
  }
}
