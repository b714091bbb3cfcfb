/**
 * The anti-replay window of one peer's sending key: which datagram counters were already taken
 * in. The idea of RFC 6479 (IPsec anti-replay without bit shifting), as WireGuard uses it: a
 * ring of 32-bit blocks, one bit per counter. The bit of counter c is always bit (c mod 32) of
 * block (c / 32) mod BLOCKS, so nothing is ever shifted; when a counter beyond the highest seen
 * arrives, the blocks it skips over are cleared and the window slides by whole blocks. One block
 * is always being reused, so the window tolerates reordering over (BLOCKS - 1) * 32 counters.
 *
 * Checked in two steps, as WireGuard does: `fresh(c)` before the datagram is decrypted (cheap, no
 * change), `take(c)` once its tag proved it authentic (so forgeries never move the window).
 * No I/O, no clock.
 */

const BLOCK_BITS = 32;
const BLOCKS = 256;
/** Counters this far below the highest one taken are refused as too old: 8,160. */
export const REPLAY_WINDOW = (BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly bits = new Uint32Array(BLOCKS);
  /** Highest counter taken, -1 before the first. */
  private top = -1;

  /** Could `c` be taken: above the window's floor and not taken before? */
  fresh(c: number): boolean {
    if (c > this.top) return true;
    if (this.top - c >= REPLAY_WINDOW) return false;
    const block = Math.floor(c / BLOCK_BITS) % BLOCKS;
    return (this.bits[block]! & (1 << (c % BLOCK_BITS))) === 0;
  }

  /** Record `c` as taken. Returns false (and changes nothing) if it was not fresh. */
  take(c: number): boolean {
    if (!this.fresh(c)) return false;
    const index = Math.floor(c / BLOCK_BITS);
    if (c > this.top) {
      // Clear the blocks between the old top block and c's, at most the whole ring.
      // (Before the first counter every block is clear already.)
      if (this.top >= 0) {
        const current = Math.floor(this.top / BLOCK_BITS);
        const n = Math.min(index - current, BLOCKS);
        for (let i = 1; i <= n; i++) this.bits[(current + i) % BLOCKS] = 0;
      }
      this.top = c;
    }
    this.bits[index % BLOCKS]! |= 1 << (c % BLOCK_BITS);
    return true;
  }

  /**
   * Refuse every counter up to `c` as if taken (a new window for a key whose counters up to `c`
   * an earlier window took, and forgot). Only on a window that took nothing yet.
   */
  raiseFloor(c: number): void {
    if (c < 0 || this.top >= 0) return;
    this.bits.fill(0xffffffff);
    const bit = c % BLOCK_BITS;
    this.bits[Math.floor(c / BLOCK_BITS) % BLOCKS] = bit === BLOCK_BITS - 1 ? 0xffffffff : (1 << (bit + 1)) - 1;
    this.top = c;
  }

  /** The highest counter taken (-1 if none). */
  get highest(): number {
    return this.top;
  }
}
