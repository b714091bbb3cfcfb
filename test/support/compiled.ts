/**
 * Where the build puts what a source file compiles to: tsc -b compiles <repo>/x/y.ts into
 * <repo>/dist/x/y.js. Worker threads and child processes always run compiled JavaScript, in tests
 * as in the package; vitest runs the TypeScript sources in-process. So that both are one build:
 *
 *   - test/support/global-setup.ts runs `tsc -b` before any test file loads (a no-op in ~0.5 s
 *     when nothing changed), so dist/ is always the build of the sources under test;
 *   - vitest.config.ts gives every source module outside test/ the import.meta.url of its compiled
 *     file (compiledUrl below), so production code finds its workers and children the one way it
 *     does in the package, `new URL('./worker.js', import.meta.url)`, with no dist/ fallbacks.
 *
 * Tests that start a compiled file themselves (fixtures, the CLI) name it with compiled().
 * Works from the sources (test/support/compiled.ts) and compiled (dist/test/support/compiled.js).
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The repository root, with a trailing separator. */
export const ROOT = resolve(HERE, import.meta.url.endsWith('.ts') ? '../..' : '../../..') + sep;
/** tsconfig.json's outDir. */
export const OUT_DIR = join(ROOT, 'dist');

/** Top-level folders whose modules see their compiled import.meta.url under vitest. */
export const SOURCE_DIRS = ['transport', 'rpc', 'dsm', 'demos', 'bench'] as const;

/** The compiled file of `source` (a path relative to the repo root, or absolute): foo/bar.ts → <repo>/dist/foo/bar.js. */
export function compiled(source: string): string {
  const rel = relative(ROOT, isAbsolute(source) ? source : join(ROOT, source));
  if (rel.startsWith('..') || rel.startsWith(`dist${sep}`)) throw new Error(`compiled(${source}): not a source file of this repository`);
  return join(OUT_DIR, rel.replace(/\.(m?)ts$/, '.$1js'));
}

/** file: URL of compiled(source). */
export function compiledUrl(source: string): string {
  return pathToFileURL(compiled(source)).href;
}

/** Whether vitest should give the module at `file` (absolute) its compiled import.meta.url. */
export function isProductionSource(file: string): boolean {
  const rel = relative(ROOT, file);
  return /\.ts$/.test(rel) && !rel.endsWith('.d.ts') && SOURCE_DIRS.some((d) => rel.startsWith(d + sep));
}
