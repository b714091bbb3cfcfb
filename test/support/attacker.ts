/**
 * What an outsider without the cluster key can throw at keyed endpoints: random bytes, bit-flipped
 * copies of captured datagrams, datagrams sealed under a key of its own (claiming a member's node
 * id), and clear-text datagrams with valid CRCs. Seeded, so a failing run repeats.
 */
import { generateClusterKey, type EndpointStats } from '../../transport/index.js';
import { Sealer } from '../../transport/seal.js';
import { encodeDatagram, F_CHALLENGE, F_DATA, F_FIRST, F_LAST, F_SYN, type Datagram } from '../../transport/wire.js';

export type Rand = () => number;

export function randomDatagrams(rand: Rand, n: number): Buffer[] {
  return Array.from({ length: n }, () => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 1199) }, () => Math.floor(rand() * 256))));
}

/** Copies of `from` with 1-3 random bits flipped. */
export function flipped(rand: Rand, from: readonly Buffer[], n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.from(from[i % from.length]!);
    const flips = 1 + Math.floor(rand() * 3);
    for (let k = 0; k < flips; k++) {
      const bit = Math.floor(rand() * b.length * 8);
      b[bit >>> 3]! ^= 1 << (bit & 7);
    }
    return b;
  });
}

/** Well-formed sealed datagrams under a key of the attacker's own, claiming `nodeId`, with plausible inner fields. */
export function forgedSealed(rand: Rand, nodeId: string, n: number): Buffer[] {
  const s = new Sealer(generateClusterKey(), nodeId);
  return Array.from({ length: n }, (_, i) => s.seal({
    flags: F_DATA | F_SYN | F_FIRST | F_LAST, window: 64, srcInc: (rand() * 2 ** 32) >>> 0 || 1, dstInc: (rand() * 2 ** 32) >>> 0,
    stream: i + 1, ackStream: 0, seq: i, ack: 0, isn: i, challenge: 0n, echo: 0n, sacks: [], payload: Buffer.from(`forged ${i}`),
  } satisfies Datagram)!);
}

/** Clear-text (version 2) datagrams with valid CRCs: a SYN with data and a challenge, from a random incarnation. */
export function clearForgeries(rand: Rand, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => encodeDatagram({
    flags: F_DATA | F_SYN | F_FIRST | F_LAST | F_CHALLENGE, window: 64, srcInc: (rand() * 2 ** 32) >>> 0 || 1, dstInc: 0,
    stream: i + 1, ackStream: 0, seq: 5, ack: 0, isn: 5, challenge: 1n, echo: 0n, sacks: [], payload: Buffer.from(`clear ${i}`),
  }));
}

/** Every counter a dropped datagram can land in. */
export function drops(s: EndpointStats): number {
  const b = s.bad;
  return b.auth + b.replay + b.truncated + b.malformed + b.oversized + b.badVersion + b.badChecksum + b.staleSession + b.unproven + b.badEcho;
}
