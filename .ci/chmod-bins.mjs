// Makes every "bin" of package.json executable after a build. tsc writes new files 0644; npm links
// bins on install but does not always fix their mode (npx reinstalling a changed local package),
// and a packed 0644 bin then fails with "Permission denied". Run by the build scripts.
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { bin = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const file of Object.values(bin)) {
  const path = join(root, file);
  if (existsSync(path)) chmodSync(path, 0o755);
}
