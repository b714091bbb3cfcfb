/**
 * The CPU-bound handler of the RPC benchmark, shared by the server's inline table and its
 * piscina pool (the compiled worker imports dist/bench/rpc-handlers.js). node: imports only.
 */
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';

/** `rounds` chained SHA-256 hashes of `seed`. */
export function chainHash(rounds: number, seed: string): { hex: string; threadId: number } {
  let h: Buffer = Buffer.from(seed);
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return { hex: h.toString('hex'), threadId };
}

/** Pool handler table: the procedures of Lab marked @pool. */
export const handlers = {
  hash: (rounds: number, seed: string) => chainHash(rounds, seed),
};
