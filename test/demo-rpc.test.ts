/** npm run demo:rpc runs end to end: the chapter's interface, client and server in two processes. */
import { describe, expect, it } from 'vitest';
import { runNode } from './support/run.js';

describe('npm run demo:rpc', () => {
  it('prints calls with results, 2 datagrams per call after the first contact, typed refusals, and exits 0', async () => {
    const r = await runNode('demos/rpc-demo.js', ['--calls', '50'], 30_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    // The first call also proves each side to the other (request, challenge, echoed request, reply);
    // after that a call is a request and a reply.
    expect(r.stdout).toMatch(/func1\(7\)\s+= 49\s+\d+ us, 4 datagrams/);
    expect(r.stdout).toMatch(/func2\(3, 4\)\s+= 7\s/);
    expect(r.stdout).toMatch(/func1\(1\.5\)\s+→ RPC_ERR_INVALID_ARGS \(executed: no\)/);
    expect(r.stdout).toMatch(/func1\(100000\)\s+→ RPC_ERR_INVALID_RESULT/);
    const perCall = /50 sequential func2 calls in \d+ ms .*: \d+ datagrams = (\d+\.\d\d) per call/.exec(r.stdout);
    expect(perCall).not.toBeNull();
    // A request and a reply; a delayed ack that fires between two calls may add a few datagrams.
    expect(Number(perCall![1])).toBeGreaterThanOrEqual(2);
    expect(Number(perCall![1])).toBeLessThan(2.3);
    expect(r.stdout).toMatch(/the server ran (\d+) handlers for \1 calls: each exactly once/);
    expect(r.stdout).toMatch(/^as expected/m);
  });

  it('with --loss 0.2 every call still runs exactly once, with retransmissions shown', async () => {
    const r = await runNode('demos/rpc-demo.js', ['--calls', '50', '--loss', '0.2', '--seed', '2'], 30_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/both processes drop 20% of the datagrams they send/);
    expect(r.stdout).toMatch(/\d+ client retransmissions/);
    expect(r.stdout).toMatch(/the server ran (\d+) handlers for \1 calls: each exactly once/);
  });

  it('rejects a bad argument with exit 2 and prints usage for --help', async () => {
    const b = await runNode('demos/rpc-demo.js', ['--calls', '5']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--calls must be an integer in \[10, 100000\], got "5"/);
    const h = await runNode('demos/rpc-demo.js', ['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/usage: npm run demo:rpc/);
  });
});
