#!/usr/bin/env node
/**
 * pagewire-rpcgen: compiles foo.rpc into foo.stubs.ts (see --help). Exit status: 0 done,
 * 1 compile errors or (with --check) stale/missing stubs, 2 bad command line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compile, CompileError, DEFAULT_RUNTIME, stubsPathFor } from './index.js';

const USAGE = `Usage: pagewire-rpcgen [--out FILE] [--runtime SPEC] [--check] FILE.rpc...

Compiles each interface file FILE.rpc into FILE.stubs.ts next to it.

Options:
  --out FILE      write the stubs to FILE instead (only with a single input)
  --runtime SPEC  module the stubs import the RPC runtime from (default: ${DEFAULT_RUNTIME});
                  inside this repository, e.g. rpc/examples/, use a relative path: ../index.js
  --check         write nothing; exit 1 if a stubs file is missing or differs from what
                  would be generated (names each one)
  -h, --help      show this help

Each option may be given once. Exit status: 0 success, 1 compile errors or stale stubs, 2 bad
command line.
`;

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

const OPTIONS = {
  out: { type: 'string', value: 'FILE' },
  runtime: { type: 'string', value: 'SPEC' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Parsed = { out?: string; runtime?: string; check: boolean; help: boolean; inputs: string[] };

/**
 * The command line, strictly: an unknown option, a missing value, a value given to --check or an
 * option given twice is an error naming the option (Node's parseArgs text never reaches the user).
 */
function parseCommandLine(argv: readonly string[]): Parsed | string {
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const out: Parsed = { check: false, help: false, inputs: [] };
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind === 'positional') {
      out.inputs.push(t.value);
      continue;
    }
    if (t.kind !== 'option') continue;
    const spec = (OPTIONS as Record<string, { type: 'string' | 'boolean'; value?: string }>)[t.name];
    if (spec === undefined) return `unknown option ${t.rawName}`;
    if (seen.has(t.name)) return `${t.rawName} was given more than once`;
    seen.add(t.name);
    if (spec.type === 'boolean') {
      if (t.value !== undefined) return `${t.rawName} takes no value, got ${JSON.stringify(t.value)}`;
      out[t.name as 'check' | 'help'] = true;
    } else {
      if (t.value === undefined || (t.inlineValue !== true && t.value.startsWith('-'))) return `${t.rawName} needs a value (${spec.value})`;
      out[t.name as 'out' | 'runtime'] = t.value;
    }
  }
  return out;
}

/** Runs the CLI on `argv` (without node and script path); resolves to the exit status. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const usageError = (why: string): number => {
    io.stderr(`pagewire-rpcgen: ${why}\nRun \`pagewire-rpcgen --help\` for the options.\n`);
    return 2;
  };
  const values = parseCommandLine(argv);
  if (typeof values === 'string') return usageError(values);
  const { inputs } = values;
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (inputs.length === 0) return usageError('expected at least one .rpc file');
  if (values.out !== undefined && inputs.length > 1) return usageError('--out needs exactly one input file');

  let status = 0;
  for (const input of inputs) {
    const output = values.out ?? stubsPathFor(input);
    let code: string;
    try {
      const source = await readFile(input, 'utf8');
      code = compile(source, { fileName: input, runtimeImport: values.runtime ?? DEFAULT_RUNTIME }).code;
    } catch (e) {
      if (e instanceof CompileError) io.stderr(`${e.message}\n`);
      else io.stderr(`pagewire-rpcgen: cannot read ${input}: ${(e as Error).message}\n`);
      status = 1;
      continue;
    }
    if (values.check) {
      const committed = await readFile(output, 'utf8').catch(() => undefined);
      if (committed !== code) {
        io.stderr(`${output}: ${committed === undefined ? 'missing' : 'stale'}; regenerate it from ${input}\n`);
        status = 1;
      }
    } else {
      try {
        await writeFile(output, code);
      } catch (e) {
        io.stderr(`pagewire-rpcgen: cannot write ${output}: ${(e as Error).message}\n`);
        status = 1;
      }
    }
  }
  return status;
}

/** True when node runs this file (directly or through an npm bin symlink), not when it is imported. */
function invokedAsScript(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedAsScript()) process.exitCode = await runCli(process.argv.slice(2));
