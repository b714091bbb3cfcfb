/**
 * The history checker is only evidence once it fails on histories known to be wrong: here it is
 * fed non-linearizable register histories, MP and SB violations, and histories that a real
 * sequential execution produced (which it must accept).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkLinearizability, linearizable, mpViolations, sbViolations, type Op, type RegisterOp } from './support/history.js';

const W = (value: number, call: number, ret: number): RegisterOp => ({ kind: 'write', value, call, ret });
const R = (value: number, call: number, ret: number): RegisterOp => ({ kind: 'read', value, call, ret });

describe('linearizability checker (Wing & Gong with a cache, porcupine style)', () => {
  it('rejects a read of the initial value after a write completed', () => {
    expect(linearizable([W(1, 0, 1), R(0, 2, 3)])).toBe(false);
  });

  it('rejects a read that goes back in time: 1 then 0 while the write of 1 overlaps both', () => {
    expect(linearizable([W(1, 0, 10), R(1, 1, 2), R(0, 3, 4)])).toBe(false);
  });

  it('rejects two completed writes read in the opposite order', () => {
    expect(linearizable([W(1, 0, 10), W(2, 0, 10), R(2, 11, 12), R(1, 13, 14)])).toBe(false);
  });

  it('rejects a value nobody wrote', () => {
    expect(linearizable([W(1, 0, 1), R(7, 2, 3)])).toBe(false);
  });

  it('accepts overlapping operations that some order explains', () => {
    expect(linearizable([W(1, 0, 5), R(0, 1, 2), R(1, 3, 4)])).toBe(true);
    expect(linearizable([W(1, 0, 10), W(2, 0, 10), R(2, 11, 12), R(2, 13, 14)])).toBe(true);
    expect(linearizable([W(1, 0, 10), W(2, 1, 10), R(1, 2, 3), R(2, 4, 5), R(2, 11, 12)])).toBe(true);
  });

  it('treats an operation that never returned as taking effect at any time after its call, or never', () => {
    expect(linearizable([W(1, 0, Infinity), R(0, 5, 6)])).toBe(true);
    expect(linearizable([W(1, 0, Infinity), R(1, 5, 6)])).toBe(true);
    expect(linearizable([W(1, 0, Infinity), R(1, 5, 6), R(0, 7, 8)])).toBe(false);
    expect(linearizable([W(1, 10, Infinity), R(1, 5, 6)])).toBe(false); // not before its call
  });

  it('accepts every history of a real sequential register with random intervals around the effect points, and rejects a forged read', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ write: fc.boolean(), before: fc.integer({ min: 0, max: 30 }), after: fc.integer({ min: 0, max: 30 }) }), { minLength: 1, maxLength: 40 }), (spec) => {
        // Effect points 100, 200, ...; each operation's interval contains its own point.
        let value = 0;
        let next = 1;
        const ops: RegisterOp[] = spec.map((s, i) => {
          const at = 100 * (i + 1);
          if (s.write) value = next++;
          return { kind: s.write ? 'write' : 'read', value, call: at - s.before, ret: at + s.after };
        });
        expect(linearizable(ops)).toBe(true);
        // A read, after a completed write, of a value never written: always wrong.
        const lastWrite = ops.filter((o) => o.kind === 'write').at(-1);
        if (lastWrite !== undefined) {
          expect(linearizable([...ops, { kind: 'read', value: 10_000, call: lastWrite.ret + 1000 * 100, ret: lastWrite.ret + 1000 * 100 + 1 }])).toBe(false);
        }
      }),
      { numRuns: 200, seed: 9 },
    );
  });
});

describe('checkLinearizability over a DSM history', () => {
  const op = (node: number, kind: 'read' | 'write', value: number, call: number, ret: number | undefined, ok = true): Op =>
    ({ node, addr: '1:0', kind, value, call, ret, ok });

  it('flags a stale read by a node that was never declared dead', () => {
    const h = [op(0, 'write', 1, 0, 1), op(1, 'read', 0, 5, 6)];
    const r = checkLinearizability(h, new Map());
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatch(/address 1:0: 2 operations are not linearizable/);
  });

  it('does not hold a fenced node\'s reads after its death to linearizability, but does hold those before', () => {
    const late = [op(0, 'write', 1, 0, 1), op(1, 'read', 0, 5, 6)];
    expect(checkLinearizability(late, new Map([[1, 3]])).violations).toEqual([]);
    const early = [op(0, 'write', 1, 0, 1), op(1, 'read', 0, 2, 3)];
    expect(checkLinearizability(early, new Map([[1, 4]])).violations).toHaveLength(1);
  });

  it('ignores failed operations (a failed write never stored)', () => {
    const h = [op(0, 'write', 1, 0, 1, false), op(1, 'read', 0, 5, 6)];
    expect(checkLinearizability(h, new Map()).violations).toEqual([]);
  });
});

describe('litmus checkers', () => {
  it('MP: seeing the flag but older data is a violation', () => {
    expect(mpViolations([{ reader: 2, flag: 3, data: 3 }, { reader: 2, flag: 3, data: 4 }, { reader: 1, flag: 0, data: 0 }])).toEqual([]);
    expect(mpViolations([{ reader: 2, flag: 3, data: 2 }])).toEqual(['MP: node 2 loaded FLAG=3 then DATA=2']);
  });

  it('SB: both loads missing the other store of the round is a violation', () => {
    expect(sbViolations([{ k: 4, i: 0, j: 1, yi: 3, xj: 4 }, { k: 4, i: 0, j: 1, yi: 4, xj: 3 }])).toEqual([]);
    expect(sbViolations([{ k: 4, i: 0, j: 1, yi: 3, xj: 3 }])).toEqual(['SB: round 4: node 0 loaded Y=3 and node 1 loaded X=3']);
  });
});
