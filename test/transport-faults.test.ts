/** The fault injector's deterministic rule: dropNth drops exactly the datagrams at those positions. */
import { describe, expect, it } from 'vitest';
import { FaultInjector, validateFaultSpec } from '../transport/faults.js';
import { createEndpoint } from '../transport/index.js';

describe('fault injection: dropNth', () => {
  it('drops exactly the 1st and 4th datagrams and forwards the rest, in order, whatever the seed', () => {
    for (const seed of [1, 2, 3]) {
      const out: number[] = [];
      const inj = FaultInjector.create<number>({ dropNth: [1, 4] }, seed, (b) => void out.push(b[0]!))!;
      for (let i = 1; i <= 6; i++) inj.push(Uint8Array.of(i), 0);
      expect(out).toEqual([2, 3, 5, 6]);
      expect(inj.counters.dropped).toBe(2);
    }
  });

  it('is validated with a message that says what is allowed', async () => {
    expect(() => validateFaultSpec({ dropNth: [0] }, 'faults.outbound')).toThrow(/faults.outbound.dropNth must be a list of at most 1024 datagram positions \(integers ≥ 1\), got \[0\]/);
    expect(() => validateFaultSpec({ dropNth: [1.5] }, 'x')).toThrow(/x.dropNth/);
    expect(() => validateFaultSpec({ dropNth: Array.from({ length: 1025 }, (_, i) => i + 1) }, 'x')).toThrow(/at most 1024/);
    await expect(createEndpoint({ faults: { outbound: { dropNth: [-1] } } })).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
  });
});
