/**
 * `--trace DIR` for the benchmarks: this process and its children write their trace events to DIR
 * while the whole benchmark runs, so its figures (ratios against a baseline measured in the same
 * run) show what tracing costs. Without the flag nothing subscribes, which is the figure with
 * tracing off.
 */
import { startTraceWriter, type TraceWriter } from '../trace/index.js';

export interface BenchTrace {
  /** Extra arguments for child processes that trace too. */
  readonly childArgs: string[];
  /** A line for the report. */
  readonly describe: string;
  close(): void;
}

export function startBenchTrace(dir: string | true | undefined): BenchTrace {
  if (dir === undefined) return { childArgs: [], describe: 'tracing: off (nobody subscribes)', close: () => undefined };
  if (dir === true || dir.trim() === '') {
    process.stderr.write('--trace needs a directory\n');
    process.exit(2);
  }
  const w: TraceWriter = startTraceWriter(dir);
  return {
    childArgs: ['--trace', dir],
    get describe() {
      const s = w.stats();
      return `tracing: on, every process writes its events to ${dir} (this process: ${s.events} events, ${(s.bytes / 1e6).toFixed(1)} MB)`;
    },
    close: () => w.close(),
  };
}

/** The value of `--trace DIR` in argv (children get it from their parent), or undefined. */
export function traceArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--trace');
  return i >= 0 ? argv[i + 1] : undefined;
}
