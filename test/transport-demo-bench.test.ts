/** The transport demo and benchmark run end to end as a newcomer would run them. */
import { describe, expect, it } from 'vitest';
import { runNode } from './support/run.js';

describe('npm run demo:transport', () => {
  it('delivers every echo intact under loss and corruption and exits 0', async () => {
    const r = await runNode('demos/transport-demo.js', ['--count', '120', '--loss', '0.3', '--seed', '3']);
    expect(r.stderr).not.toMatch(/demo failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/120\/120 echoes back in \d+ ms, all exactly once, in order, byte-identical/);
    // Keyed by default: the AES-GCM tag catches the injected corruption.
    expect(r.stdout).toMatch(/every datagram sealed \(AES-256-GCM\) with a fresh cluster key for this run/);
    expect(r.stdout).toMatch(/[1-9]\d* damaged datagrams \(failed the AES-GCM tag\) caught/);
  });

  it('with --insecure runs in clear text, the CRC32C catching the corruption', async () => {
    const r = await runNode('demos/transport-demo.js', ['--count', '120', '--loss', '0.3', '--seed', '3', '--insecure']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/clear text, no cluster key \(--insecure\)/);
    expect(r.stdout).toMatch(/120\/120 echoes back in \d+ ms, all exactly once, in order, byte-identical/);
    expect(r.stdout).toMatch(/[1-9]\d* bad checksums caught/);
  });

  it('rejects a bad argument with a message and exit code 2', async () => {
    const r = await runNode('demos/transport-demo.js', ['--loss', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--loss must be a probability in \[0, 0\.5\], got "lots"/);
    const u = await runNode('demos/transport-demo.js', ['--frobnicate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toBe('pagewire demo:transport: unknown option --frobnicate\nRun `node dist/demos/transport-demo.js --help` for the options.\n');
  });

  it('prints usage for --help', async () => {
    const r = await runNode('demos/transport-demo.js', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--loss P/);
  });
});

describe('npm run bench:transport', () => {
  it('runs (quick) and ends with one JSON line carrying the documented keys', async () => {
    const r = await runNode('bench/transport-bench.js', ['--quick', '--json'], 120_000);
    expect(r.code).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const j = JSON.parse(last) as Record<string, number>;
    for (const k of ['rtt_p50_us', 'rtt_p99_us', 'raw_rtt_p50_us', 'ratio_p50', 'keyed_rtt_p50_us', 'keyed_over_plain', 'msgs_per_s_4k', 'mb_per_s_1m', 'recovery_ms']) {
      expect(typeof j[k], k).toBe('number');
      expect(j[k], k).toBeGreaterThan(0);
    }
  });
});
