/** npm run demo:false-sharing runs end to end: the shared page ping-pongs, no increment is lost. */
import { describe, expect, it } from 'vitest';
import { runNode } from './support/run.js';

describe('npm run demo:false-sharing', () => {
  it('shows more page transfers for words in one page than in separate pages, loses no increment, exits 0', async () => {
    const r = await runNode('demos/false-sharing-demo.js', ['--writes', '100000'], 40_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    const sep = /separate pages: (\d+) page transfers, \d+ ms/.exec(r.stdout);
    const one = /one page:\s+(\d+) page transfers, \d+ ms/.exec(r.stdout);
    expect(sep).not.toBeNull();
    expect(one).not.toBeNull();
    expect(Number(one![1])).toBeGreaterThan(2 * Number(sep![1]));
    expect(r.stdout).toMatch(/slowdown from false sharing: \d+\.\d\dx/);
    // (On a busy machine the one-page run is repeated with more increments until the loops overlapped enough.)
    expect(r.stdout).toMatch(/as expected: no increment lost in either run \(each word = 100,000(, [\d,]+ in the one-page run)?\)/);
  });

  it('rejects --nodes 4 with exit 2', async () => {
    const r = await runNode('demos/false-sharing-demo.js', ['--nodes', '4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--nodes must be an integer in \[2, 3\], got "4"/);
  });
});
