/**
 * The control channel (`pagewire node --control`, demos/control.ts) is strict: bad JSON, a null
 * line, unknown commands and fields, unaligned addresses, values out of range and overlong lines
 * are refused with codes, never rounded or crashed on; node commands are answered while a memory
 * command is blocked in a page fault.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../demos/cluster.js';
import { freePorts } from './support/dsm-procs.js';
import { within } from './support/wait.js';

type Answer = { seq: number | null; ok: boolean; value?: unknown; error?: { code: string; message: string; node?: number; address?: number } };

interface Proc {
  child: ChildProcess;
  /** Write raw text to the node's stdin. */
  write(text: string): void;
  /** The next answer line (events skipped), within 15 s. */
  next(): Promise<Answer>;
}

const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** One node whose only peer (node 2) never starts: its pages fault until the fault timeout. */
async function start(): Promise<Proc> {
  const [port, peer] = await freePorts(2);
  const child = spawn(process.execPath, [CLI, 'node', '--id', '1', '--listen', `127.0.0.1:${port}`, '--peers', `2@127.0.0.1:${peer}`, '--control'], { stdio: ['pipe', 'pipe', 'pipe'] });
  procs.push(child);
  const lines: Answer[] = [];
  const waiters: ((a: Answer) => void)[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const m = JSON.parse(l) as Answer & { event?: string };
    if (m.event === 'ready') ready();
    if (m.event !== undefined) return;
    const w = waiters.shift();
    if (w) w(m);
    else lines.push(m);
  });
  await within(isReady, 15_000, 'the ready line');
  return {
    child,
    write: (t) => child.stdin!.write(t),
    next: () => within(lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<Answer>((r) => waiters.push(r)), 15_000, 'an answer'),
  };
}

describe('the control channel refuses what it cannot do exactly', () => {
  it('answers bad JSON, a null line, non-objects, bad seqs, unknown commands and fields with codes and keeps serving', async () => {
    const p = await start();
    const cases: [string, string, RegExp, number | null][] = [
      ['{"seq":1,"cmd":', 'CONTROL_ERR_BAD_JSON', /not JSON/, null],
      ['null', 'CONTROL_ERR_BAD_COMMAND', /a command must be a JSON object .*got null/, null],
      ['[1,2]', 'CONTROL_ERR_BAD_COMMAND', /must be a JSON object/, null],
      ['42', 'CONTROL_ERR_BAD_COMMAND', /must be a JSON object/, null],
      ['{"seq":"x","cmd":"stats"}', 'CONTROL_ERR_BAD_COMMAND', /seq must be a non-negative integer, got "x"/, null],
      ['{"seq":-1,"cmd":"stats"}', 'CONTROL_ERR_BAD_COMMAND', /seq must be a non-negative integer/, null],
      ['{"seq":2}', 'CONTROL_ERR_BAD_COMMAND', /unknown command undefined; known: alloc, /, 2],
      ['{"seq":3,"cmd":"__proto__"}', 'CONTROL_ERR_BAD_COMMAND', /unknown command "__proto__"/, 3],
      ['{"seq":4,"cmd":"read32","adr":4096}', 'CONTROL_ERR_BAD_COMMAND', /read32: unknown field "adr"; its fields: addr/, 4],
      ['{"seq":5,"cmd":"read32"}', 'CONTROL_ERR_BAD_COMMAND', /read32: addr is required/, 5],
      ['{"seq":6,"cmd":"stats","verbose":true}', 'CONTROL_ERR_BAD_COMMAND', /stats: unknown field "verbose" \(it takes none\)/, 6],
    ];
    for (const [line, code, message, seq] of cases) {
      p.write(line + '\n');
      const a = await p.next();
      expect(a, line).toMatchObject({ seq, ok: false, error: { code } });
      expect(a.error!.message, line).toMatch(message);
    }
    p.write('{"seq":7,"cmd":"alloc","bytes":16}\n');
    expect(await p.next()).toEqual({ seq: 7, ok: true, value: 4096 });
  });

  it('refuses unaligned addresses, addresses past the space and values out of range instead of rounding them', async () => {
    const p = await start();
    const space = 4096 * 1024;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ cmd: 'read32', addr: 4097 }, 'CONTROL_ERR_BAD_COMMAND', /addr must be a multiple of 4 \(a u32 access\), got 4097 \(0x1001\)/],
      [{ cmd: 'write32', addr: 4098, value: 1 }, 'CONTROL_ERR_BAD_COMMAND', /multiple of 4/],
      [{ cmd: 'read32', addr: space }, 'DSM_ERR_BAD_ADDRESS', /addr 0x400000 is outside the address space \(0\.\.0x3fffff: 1024 pages of 4096 bytes\)/],
      [{ cmd: 'read32', addr: 2 ** 33 + 4096 }, 'DSM_ERR_BAD_ADDRESS', /outside the address space/], // >>> 2 would have wrapped to 0x1000
      [{ cmd: 'read32', addr: -4 }, 'CONTROL_ERR_BAD_COMMAND', /non-negative integer byte address/],
      [{ cmd: 'read32', addr: 4096.5 }, 'CONTROL_ERR_BAD_COMMAND', /non-negative integer byte address/],
      [{ cmd: 'read32', addr: '4096' }, 'CONTROL_ERR_BAD_COMMAND', /non-negative integer byte address, got "4096"/],
      [{ cmd: 'write32', addr: 4096, value: 2 ** 32 }, 'CONTROL_ERR_BAD_COMMAND', /value must be an integer in \[0, 4294967295\] \(a u32\), got 4294967296/],
      [{ cmd: 'write32', addr: 4096, value: -1 }, 'CONTROL_ERR_BAD_COMMAND', /value must be an integer in \[0, 4294967295\]/],
      [{ cmd: 'write32', addr: 4096, value: 1.5 }, 'CONTROL_ERR_BAD_COMMAND', /a u32/],
      [{ cmd: 'alloc', bytes: 1e300 }, 'CONTROL_ERR_BAD_COMMAND', /bytes must be an integer in \[1, 4194304\], got 1e\+300/],
      [{ cmd: 'alloc', bytes: 0 }, 'CONTROL_ERR_BAD_COMMAND', /bytes must be an integer in \[1, /],
      [{ cmd: 'list-prepend', header: 4096, values: [1, 2 ** 32] }, 'CONTROL_ERR_BAD_COMMAND', /values\[1\] must be an integer in \[0, 4294967295\]/],
      [{ cmd: 'read32s', addrs: Array.from({ length: 100_001 }, () => 4096) }, 'CONTROL_ERR_BAD_COMMAND', /addrs must be a list of at most 100000 addresses/],
      [{ cmd: 'false-share', base: 4096, words: 1, threads: 15, writes: 1 }, 'CONTROL_ERR_BAD_COMMAND', /threads must be an integer in \[1, 14\]/],
      [{ cmd: 'write-loop', addr: 4096, writes: 1, startAt: Date.now() + 3_600_000 }, 'CONTROL_ERR_BAD_COMMAND', /startAt must be a wall-clock time .* at most 60000 ms ahead/],
      [{ cmd: 'list-create', avoidManagedBy: 7 }, 'CONTROL_ERR_BAD_COMMAND', /avoidManagedBy must be a node of the cluster \(1, 2\), got 7/],
      [{ cmd: 'network', blocked: [1] }, 'CONTROL_ERR_BAD_COMMAND', /blocked\[0\] must be another node of the cluster \(2\), got 1/],
      [{ cmd: 'network', loss: 2 }, 'CONTROL_ERR_BAD_COMMAND', /loss must be a probability in \[0, 1\], got 2/],
    ];
    let seq = 0;
    for (const [c, code, message] of cases) {
      p.write(JSON.stringify({ seq: ++seq, ...c }) + '\n');
      const a = await p.next();
      expect(a, JSON.stringify(c).slice(0, 80)).toMatchObject({ seq, ok: false, error: { code } });
      expect(a.error!.message).toMatch(message);
    }
    // Nothing was written: the word at 0x1000 is still 0.
    p.write(JSON.stringify({ seq: 100, cmd: 'read32', addr: 4096 }) + '\n');
    expect(await p.next()).toEqual({ seq: 100, ok: true, value: 0 });
  });

  it('skips a line longer than 1 MiB with CONTROL_ERR_LINE_TOO_LONG, with bounded memory, and serves the next one', async () => {
    const p = await start();
    const chunk = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 12; i++) p.write(chunk); // 3 MiB without a newline
    p.write('\n{"seq":1,"cmd":"alloc","bytes":8}\n');
    expect(await p.next()).toMatchObject({ seq: null, ok: false, error: { code: 'CONTROL_ERR_LINE_TOO_LONG' } });
    expect(await p.next()).toEqual({ seq: 1, ok: true, value: 4096 });
  });

  it('answers stats, page-table and network while a memory command is blocked in a page fault, then exits 0', async () => {
    const p = await start();
    p.write('{"seq":1,"cmd":"read32","addr":2867200}\n'); // page 700: node 2's, and node 2 never starts
    p.write('{"seq":2,"cmd":"stats"}\n{"seq":3,"cmd":"page-table"}\n{"seq":4,"cmd":"network","blocked":[2],"loss":0.1}\n');
    const stats = await p.next();
    expect(stats).toMatchObject({ seq: 2, ok: true, value: { node: { id: 1 }, app: { readFaults: 0 } } });
    const table = await p.next();
    expect(table).toMatchObject({ seq: 3, ok: true, value: { node: 1, pageCount: 1024 } });
    const rights = (table.value as { rights: string }).rights;
    expect(rights.slice(0, 4)).toBe('.WWW'); // node 1 owns pages 1..511 of a 2-node cluster
    expect(rights[700]).toBe('-');
    expect(await p.next()).toMatchObject({ seq: 4, ok: true, value: { blockedNodes: [2], loss: 0.1 } });
    const exited = once(p.child, 'exit');
    p.write('{"seq":5,"cmd":"exit"}\n');
    expect(await p.next()).toEqual({ seq: 5, ok: true, value: null });
    const [code] = await within(exited, 10_000, 'exit');
    expect(code).toBe(0);
  });
});
