/**
 * 32-bit sequence-number arithmetic (RFC 1982 serial numbers): comparisons stay correct across
 * the wrap from 2^32-1 to 0 as long as the two numbers are less than 2^31 apart, which the
 * bounded send and receive windows guarantee.
 */
export const SEQ_MOD = 2 ** 32;

/** a + n, wrapped to 32 bits. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance b - a in (-2^31, 2^31]. */
export function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
