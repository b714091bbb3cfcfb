/**
 * What the demos do with --trace DIR: the nodes write DIR/node-<id>.jsonl while they run; at the
 * end the demo merges them into DIR/trace.html (the space-time diagram) and says where it is.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { mergeTrace, readTraceDir, renderHtml, type HtmlOptions } from '../trace/index.js';
import { UsageError } from './args.js';

/** Validate a --trace value. */
export function traceDirArg(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.trim() === '') throw new UsageError('--trace needs a directory, e.g. --trace ./trace');
  return v;
}

/** Merge DIR's trace files into DIR/<name> and return a sentence saying what was written. */
export function writeTraceHtml(dir: string, o: HtmlOptions & { name?: string } = {}): { path: string; summary: string } {
  const merged = mergeTrace(readTraceDir(dir));
  const path = join(dir, o.name ?? 'trace.html');
  writeFileSync(path, renderHtml(merged, o));
  return {
    path,
    summary: `trace: ${merged.events.length} events of ${merged.nodes.length} nodes in ${dir}; space-time diagram: ${path}` +
      ` (and \`npx pagewire trace ${dir}\` for the timeline)`,
  };
}
