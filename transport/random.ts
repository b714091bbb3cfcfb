/** A small seeded PRNG (mulberry32): deterministic fault injection and test data. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly random non-zero 32-bit integer from `rand`. */
export function randomU32NonZero(rand: Random): number {
  for (;;) {
    const x = Math.floor(rand() * 4294967296) >>> 0;
    if (x !== 0) return x;
  }
}
