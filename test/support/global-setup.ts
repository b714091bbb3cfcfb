/**
 * vitest globalSetup: build before any test file loads (see compiled.ts for why). `tsc -b` is
 * incremental: when nothing changed it only compares the build info and takes about half a second.
 * A type error fails the run here, before any test, with tsc's own output.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './compiled.js';

export default function build(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-b', join(ROOT, 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`the build (tsc -b) failed before the tests could run:\n${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}`);
  // As `npm run build` does: the bins executable (the package test packs dist/ as it is).
  const bins = spawnSync(process.execPath, [join(ROOT, '.ci/chmod-bins.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (bins.status !== 0) throw new Error(`.ci/chmod-bins.mjs failed: ${bins.stderr}`);
}
