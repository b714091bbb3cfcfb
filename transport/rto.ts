/**
 * Retransmission-timeout estimator of RFC 6298 (Jacobson/Karels):
 *   first sample R:  SRTT = R, RTTVAR = R/2
 *   later samples:   RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|;  SRTT = 7/8 SRTT + 1/8 R
 *   RTO = SRTT + max(G, 4 RTTVAR), clamped to [minRtoMs, maxRtoMs]
 * Karn's rule (no samples from retransmitted datagrams) is the caller's job: it only calls
 * sample() for datagrams transmitted once. backoff() doubles the RTO after a timeout (5.5);
 * the next valid sample recomputes it from SRTT/RTTVAR.
 *
 * The RFC's 1 s floor is for the Internet of 2011; this project runs on loopback (~25 us round
 * trips) and LANs, so the floor is an option.
 */
export interface RtoOptions {
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** Clock granularity G, milliseconds. */
  granularityMs?: number;
}

export class RtoEstimator {
  srttMs = 0;
  rttvarMs = 0;
  rtoMs: number;
  samples = 0;
  /** backoff() raised the RTO and no sample or restore() has brought it back since. */
  backedOff = false;
  private readonly g: number;

  constructor(private readonly opts: RtoOptions) {
    this.rtoMs = clamp(opts.initialRtoMs, opts.minRtoMs, opts.maxRtoMs);
    this.g = opts.granularityMs ?? 0.001;
  }

  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.samples === 0) {
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
    } else {
      this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - rttMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
    }
    this.samples++;
    this.backedOff = false;
    this.rtoMs = clamp(this.srttMs + Math.max(this.g, 4 * this.rttvarMs), this.opts.minRtoMs, this.opts.maxRtoMs);
  }

  /**
   * Undo back-off once the peer acknowledges new data again: the RTO returns to the value the
   * estimator gives, without taking a sample from a retransmitted datagram (Karn still holds).
   */
  restore(): void {
    this.backedOff = false;
    this.rtoMs = this.samples
      ? clamp(this.srttMs + Math.max(this.g, 4 * this.rttvarMs), this.opts.minRtoMs, this.opts.maxRtoMs)
      : clamp(this.opts.initialRtoMs, this.opts.minRtoMs, this.opts.maxRtoMs);
  }

  backoff(): void {
    this.backedOff = true;
    this.rtoMs = Math.min(this.opts.maxRtoMs, this.rtoMs * 2);
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
