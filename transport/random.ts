/** Randomness: a small seeded PRNG for deterministic tests, and node:crypto's for everything else. */
import { randomFillSync } from 'node:crypto';

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

const pool = new Uint32Array(256);
let poolNext = pool.length;

/**
 * Uniform in [0, 1) from node:crypto (32 bits per draw, refilled 256 draws at a time). The
 * default source of initial sequence numbers: an off-path attacker must not predict them.
 */
export const cryptoRandom: Random = () => {
  if (poolNext === pool.length) {
    randomFillSync(pool);
    poolNext = 0;
  }
  return pool[poolNext++]! / 4294967296;
};

/** A uniformly random non-zero 32-bit integer from `rand`. */
export function randomU32NonZero(rand: Random): number {
  for (;;) {
    const x = Math.floor(rand() * 4294967296) >>> 0;
    if (x !== 0) return x;
  }
}
