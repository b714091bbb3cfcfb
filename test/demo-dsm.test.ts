/** npm run demo (the DSM demo) runs end to end as a newcomer would run it, in a short configuration. */
import { describe, expect, it } from 'vitest';
import { runNode } from './support/run.js';

describe('npm run demo (DSM linked list, kill a node)', () => {
  it('builds the list on 3 nodes, and after SIGKILL of node 3 each survivor stops with DSM_ERR_PAGE_LOST naming node 3; exits 0', async () => {
    const r = await runNode('demos/dsm-demo.js', ['--elements', '6'], 40_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/node 1: 6 elements in .*, the list that was built/);
    expect(r.stdout).toMatch(/node 2: 6 elements in .*, the list that was built/);
    expect(r.stdout).toMatch(/node 3: 6 elements in .*, the list that was built/);
    expect(r.stdout).toMatch(/each node stamps \(writes\) its own elements, node 3 last/);
    // Round-robin with the victim first: newest first, the list starts with two survivors' elements.
    expect(r.stdout).toMatch(/node 1: reached 2 of 6 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 3\)/);
    expect(r.stdout).toMatch(/node 2: reached 2 of 6 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 3\)/);
    expect(r.stdout).toMatch(/detection: \d+ ms from the kill to the typed error/);
    expect(r.stdout).toMatch(/: value \d+ \(pages held elsewhere stay usable\)/);
    expect(r.stdout).toMatch(/read faults\s+write faults\s+invalidations sent\/recv\s+pages sent\s+retransmissions\s+fault p50/);
    expect(r.stdout).toMatch(/^as expected: every node saw the same 6-element list/m);
  });

  it('with --manager dynamic (no directory at all) tells the same story: each survivor stops at node 3\'s page with DSM_ERR_PAGE_LOST; exits 0', async () => {
    const r = await runNode('demos/dsm-demo.js', ['--elements', '6', '--manager', 'dynamic'], 40_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no managers \(--manager dynamic\): a fault follows probable-owner chains/);
    expect(r.stdout).not.toMatch(/list pages skip those node 3 manages/);
    expect(r.stdout).toMatch(/node 1: reached 2 of 6 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 3\)/);
    expect(r.stdout).toMatch(/node 2: reached 2 of 6 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 3\)/);
    expect(r.stdout).not.toMatch(/DSM_ERR_MANAGER_DEAD/);
    expect(r.stdout).toMatch(/^as expected: every node saw the same 6-element list/m);
    const bad = await runNode('demos/dsm-demo.js', ['--manager', 'central']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--manager must be fixed or dynamic, got "central"/);
  });

  it('with --loss 0.2 on every node builds the same list, shows retransmissions, and still stops at the dead node (--kill 2)', async () => {
    const r = await runNode('demos/dsm-demo.js', ['--loss', '0.2', '--elements', '6', '--kill', '2', '--seed', '4'], 40_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/every node drops 20% of the datagrams it sends/);
    expect(r.stdout).toMatch(/node 3: 6 elements in .*, the list that was built/);
    expect(r.stdout).toMatch(/node 1: reached 2 of 6 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 2\)/);
    expect(r.stdout).toMatch(/node 3: reached 2 of 6 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 2\)/);
    expect(r.stdout).toMatch(/retransmissions\s+dropped by injector/);
    expect(r.stdout).toMatch(/the transport retransmitted until every message got through/);
    expect(r.stdout).toMatch(/^as expected/m);
  });

  it('with --loss 0.5 (the most it allows) ends as the clean run does (a live node wrongly declared dead would take its elements with it)', async () => {
    const r = await runNode('demos/dsm-demo.js', ['--loss', '0.5', '--seed', '2'], 60_000);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/every node drops 50% of the datagrams it sends/);
    for (const id of [1, 2, 3]) expect(r.stdout).toMatch(new RegExp(`node ${id}: 9 elements in .*, the list that was built`));
    expect(r.stdout).toMatch(/node 1: reached 2 of 9 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 3\)/);
    expect(r.stdout).toMatch(/node 2: reached 2 of 9 elements, then DSM_ERR_PAGE_LOST at 0x[0-9a-f]{8} \(page \d+, node 3\)/);
    expect(r.stdout).toMatch(/^as expected: every node saw the same 9-element list; after the kill each survivor stopped at element #2 with DSM_ERR_PAGE_LOST naming node 3$/m);
  });

  it('rejects bad arguments with a message saying what is allowed, exit 2, and starts no node', async () => {
    const k = await runNode('demos/dsm-demo.js', ['--kill', '4']);
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/--kill must be an integer in \[1, 3\], got "4"/);
    expect(k.stdout).toBe('');
    const l = await runNode('demos/dsm-demo.js', ['--loss', 'lots']);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/--loss must be a probability in \[0, 0.5\], got "lots"/);
    const u = await runNode('demos/dsm-demo.js', ['--frobnicate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toBe('pagewire demo: unknown option --frobnicate\nRun `node dist/demos/dsm-demo.js --help` for the options.\n');
  });

  it('prints usage for --help and exits 0', async () => {
    const r = await runNode('demos/dsm-demo.js', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--elements N/);
    expect(r.stdout).toMatch(/--kill ID/);
    expect(r.stdout).toMatch(/DEBUG=pagewire:\*/);
  });
});
