#!/usr/bin/env node
// Keeps the README's example code blocks identical to the files in examples/.
// Each block follows a marker line `<!-- example: examples/NAME -->` and is the file, verbatim.
//   node .ci/readme-examples.mjs                   rewrite README.md's blocks from the files
//   node .ci/readme-examples.mjs --check [FILE]    exit 1 naming every block of README.md (or FILE)
//                                                  that differs from its file (test/readme.test.ts)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const readmePath = process.argv.slice(2).find((a) => a !== '--check') ?? join(root, 'README.md');
const MARKER = /^<!-- example: (\S+) -->\n```[a-z]*\n([\s\S]*?)```\n/gm;
const fence = (file) => ({ '.ts': 'ts', '.rpc': '' })[extname(file)] ?? '';

const readme = readFileSync(readmePath, 'utf8');
const stale = [];
let blocks = 0;
const synced = readme.replace(MARKER, (_, file, body) => {
  blocks++;
  const text = readFileSync(join(root, file), 'utf8');
  if (body !== text) stale.push(file);
  return `<!-- example: ${file} -->\n\`\`\`${fence(file)}\n${text}\`\`\`\n`;
});
if (check) {
  if (blocks === 0) {
    console.error(`${readmePath} has no example blocks (<!-- example: examples/... --> markers)`);
    process.exit(1);
  }
  for (const f of stale) console.error(`${readmePath}: the block for ${f} differs from the file; run \`npm run readme:examples\``);
  process.exit(stale.length === 0 ? 0 : 1);
}
writeFileSync(readmePath, synced);
console.log(`README.md: ${blocks} example blocks, ${stale.length} updated${stale.length ? ` (${stale.join(', ')})` : ''}`);
