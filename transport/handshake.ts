/**
 * Who is at an address, proven rather than believed. No sockets, no timers: time comes in as `now`.
 *
 * Incarnations. An endpoint draws a 256-bit secret when it starts. Its incarnation id toward a
 * peer address is HMAC(secret, "inc" | address) cut to 32 bits: the same for that peer for the
 * whole life of the endpoint, different after a restart (new secret), and different for every
 * peer, so one peer cannot learn (and forge) the id another peer knows us by.
 *
 * Cookies (the idea of RFC 5961's challenge ACK, made stateless like SYN cookies). To prove that
 * the party receiving datagrams at address P is incarnation X, send P a CHALLENGE carrying
 * cookie(P) = HMAC(secret, "cookie" | epoch | P) cut to 64 bits; P answers with ECHO of it and
 * its srcInc X. Only a party that receives what is sent to P can echo it, so a datagram forged
 * with P's source address cannot prove anything. Nothing is stored per challenge: a cookie is
 * checked by recomputing it for the current and the previous epoch (COOKIE_EPOCH_MS each).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Random } from './random.js';

/** A cookie is valid for the epoch it was made in and the next one: 30 to 60 s. */
export const COOKIE_EPOCH_MS = 30_000;
const MASK64 = (1n << 64n) - 1n;

export class Handshake {
  private readonly secret: Buffer;

  /** `random` (tests) makes the secret reproducible; by default it comes from node:crypto. */
  constructor(random?: Random) {
    if (random === undefined) {
      this.secret = randomBytes(32);
    } else {
      this.secret = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) this.secret[i] = Math.floor(random() * 256);
    }
  }

  /** This endpoint's incarnation id toward `address` (non-zero). */
  incarnationFor(address: string): number {
    const h = createHmac('sha256', this.secret).update('inc\0').update(address).digest();
    return h.readUInt32BE(0) || 1;
  }

  /** The cookie to send to `address` now. */
  cookie(address: string, now: number): bigint {
    return this.cookieAt(address, epochOf(now));
  }

  /** Is `echo` a cookie this endpoint sent to `address` in this epoch or the previous one? */
  verify(address: string, echo: bigint, now: number): boolean {
    const e = epochOf(now);
    return echo === this.cookieAt(address, e) || echo === this.cookieAt(address, e - 1);
  }

  private cookieAt(address: string, epoch: number): bigint {
    const tag = Buffer.allocUnsafe(4);
    tag.writeUInt32BE(epoch >>> 0);
    const h = createHmac('sha256', this.secret).update('cookie\0').update(tag).update(address).digest();
    return h.readBigUInt64BE(0) & MASK64;
  }
}

function epochOf(now: number): number {
  return Math.floor(now / COOKIE_EPOCH_MS);
}

/** A token bucket: `ratePerSecond` on average, bursts of up to `burst`. */
export class RateLimiter {
  private tokens: number;
  private last = -Infinity;

  constructor(private readonly ratePerSecond: number, private readonly burst: number) {
    this.tokens = burst;
  }

  /** Take one token if there is one. */
  take(now: number): boolean {
    if (this.last !== -Infinity) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
