/**
 * The README's code is the examples' code: every ```ts block is a verbatim copy of a file in
 * examples/ (.ci/readme-examples.mjs keeps them in sync), and every example is in the README.
 * test/package.test.ts builds and runs those files against the packed package.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/compiled.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const check = (file?: string) => spawnSync(process.execPath, [join(ROOT, '.ci/readme-examples.mjs'), '--check', ...(file ? [file] : [])], { encoding: 'utf8' });

describe('README examples', () => {
  it('every example block is the file it names, verbatim', () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the check fails, naming the file, when a block differs from its file (a known-bad README)', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'pagewire-readme-')), 'README.md');
    writeFileSync(bad, readme.replace("console.log(await received); // hello (from 127.0.0.1:...)", "console.log(await received);"));
    const r = check(bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${bad}: the block for examples/transport.ts differs from the file; run \`npm run readme:examples\`\n`);
  });

  it('every TypeScript block of the README is an example file, and every example file is in the README', () => {
    const blocks = [...readme.matchAll(/(?:<!-- example: (\S+) -->\n)?```ts\n/g)];
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(b[1], `a \`\`\`ts block at offset ${b.index} without an example marker`).toMatch(/^examples\//);
    const shown = new Set([...readme.matchAll(/<!-- example: (\S+) -->/g)].map((m) => m[1]));
    const files = readdirSync(join(ROOT, 'examples')).filter((f) => /\.(ts|rpc)$/.test(f) && !f.endsWith('.stubs.ts'));
    for (const f of files) expect(shown, `examples/${f} is not in the README`).toContain(`examples/${f}`);
  });
});
