/**
 * Event emission, end to end: a real two-process run (demos/figures-transport.ts: this process
 * sends, a child process receives, over UDP) with the fault injector dropping one request
 * (Figure 47.4) and one reply (Figure 47.5) yields, in the merged trace, exactly the chapter's
 * message sequence: send, drop, timer, retransmit, receive, ack; the duplicate received and not
 * delivered twice. Figure 47.3, nothing dropped, is the baseline.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIGURE_SPECS, figureFilter, figureSequence, transportFigures } from '../demos/figures-transport.js';
import { causalViolations, mergeTrace, readTraceDir, selectEvents } from '../trace/index.js';

describe('the chapter\'s figures from a real two-process run', () => {
  it('Figures 47.3, 47.4 and 47.5: exactly the message sequence each figure shows', async () => {
    const out = mkdtempSync(join(tmpdir(), 'pagewire-figs-'));
    const figures = await transportFigures(out);
    expect(figures.map((f) => f.id)).toEqual(['47.3', '47.4', '47.5']);
    for (const f of figures) {
      const m = mergeTrace(readTraceDir(f.trace));
      expect(figureSequence(m), `Figure ${f.id}`).toEqual(FIGURE_SPECS.find((s) => s.id === f.id)!.expected);
      expect(f.problems).toEqual([]);
      expect(causalViolations(m)).toEqual([]);
      const ev = selectEvents(m, figureFilter(m));
      const by = (node: string, type: string) => ev.filter((e) => e.node === node && e.ev.type === type);
      // Each receive names its send, across the two processes.
      for (const r of by('receiver', 'datagram-received').concat(by('sender', 'datagram-received'))) {
        expect(r.cause?.ev.type).toBe('datagram-sent');
        expect(r.cause!.node).not.toBe(r.node);
      }
      // Delivered exactly once.
      expect(by('receiver', 'message-delivered')).toHaveLength(1);
      if (f.id === '47.4') {
        const [first, again] = by('sender', 'datagram-sent');
        expect(first!.ev).toMatchObject({ tx: 1 });
        expect(again!.ev).toMatchObject({ tx: 2, seq: first!.ev.seq });
        expect(by('sender', 'datagram-dropped')[0]!.of).toBe(first); // the drop is of the first copy
        expect(by('sender', 'rto-fired')[0]!.ev).toMatchObject({ kind: 'probe', resent: 1 });
        expect(by('receiver', 'datagram-received')[0]!.cause).toBe(again); // only the retransmission arrived
      }
      if (f.id === '47.5') {
        const acks = by('receiver', 'datagram-sent');
        expect(acks).toHaveLength(2);
        expect(by('receiver', 'datagram-dropped')[0]!.of).toBe(acks[0]); // the first ack was dropped
        expect(by('sender', 'datagram-received')[0]!.cause).toBe(acks[1]); // the second reached the sender
        const dup = by('receiver', 'duplicate-received');
        expect(dup).toHaveLength(1);
        expect(dup[0]!.ev.seq).toBe(by('sender', 'datagram-sent')[0]!.ev.seq);
      }
    }
  }, 30_000);
});
