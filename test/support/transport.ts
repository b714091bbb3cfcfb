import { createEndpoint, type EndpointOptions, type MessageEvent, type UdpEndpoint } from '../../transport/index.js';
import { seededRandom } from '../../transport/random.js';

/** Endpoints created by a test, closed by closeAll() in afterEach. */
export class Endpoints {
  private readonly all: UdpEndpoint[] = [];

  async make(opts: EndpointOptions = {}): Promise<UdpEndpoint> {
    const ep = await createEndpoint(opts);
    this.all.push(ep);
    return ep;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((e) => e.close()));
  }
}

/** Record every message an endpoint delivers. */
export function collect(ep: UdpEndpoint): MessageEvent[] {
  const got: MessageEvent[] = [];
  ep.on('message', (m) => got.push({ ...m, data: Buffer.from(m.data) }));
  return got;
}

/**
 * Message i of a seeded workload: 4 bytes of index, then bytes from a PRNG seeded by (seed, i),
 * so the receiver can regenerate and compare it byte for byte.
 */
export function makeMessage(seed: number, i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(Math.max(4, size));
  b.writeUInt32BE(i, 0);
  const r = seededRandom((seed * 100_003 + i) >>> 0);
  for (let k = 4; k < b.length; k++) b[k] = (r() * 256) | 0;
  return size < 4 ? b.subarray(0, size) : b;
}

/**
 * Sizes for a loss workload: log-uniform, 98% between 1 B and 4 KiB and 2% between 4 KiB and
 * 256 KiB, with message 0 at the full 256 KiB (so the extremes are always exercised) and message
 * 1 at 1 byte.
 */
export function workloadSizes(seed: number, n: number): number[] {
  const r = seededRandom(seed ^ 0x5bd1e995);
  const logUniform = (lo: number, hi: number) => Math.floor(Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo))));
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) sizes.push(r() < 0.98 ? logUniform(1, 4096) : logUniform(4096, 256 * 1024));
  sizes[0] = 256 * 1024;
  if (n > 1) sizes[1] = 1;
  return sizes;
}
