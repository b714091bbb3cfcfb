/**
 * A UDP relay between two nodes A and B on loopback, for cutting a real network between node
 * processes: A is told B lives at `addressForA`, B is told A lives at `addressForB`, and every
 * datagram goes through the relay, which can be shut (a partition: everything is dropped, both
 * ways, and counted) and opened again (healed).
 *
 *   const r = await PairRelay.start(portA, portB);
 *   // node A: --peers B@${r.addressForA}; node B: --peers A@${r.addressForB}
 *   r.open = false;  // partition
 *   r.open = true;   // heal
 */
import dgram from 'node:dgram';

export class PairRelay {
  /** When false, datagrams in both directions are dropped. */
  open = true;
  dropped = 0;
  forwarded = 0;

  private constructor(private readonly facingA: dgram.Socket, private readonly facingB: dgram.Socket, portA: number, portB: number) {
    facingA.on('message', (m) => this.pass(m, facingB, portB));
    facingB.on('message', (m) => this.pass(m, facingA, portA));
  }

  private pass(m: Buffer, out: dgram.Socket, port: number): void {
    if (!this.open) {
      this.dropped++;
      return;
    }
    this.forwarded++;
    out.send(m, port, '127.0.0.1');
  }

  static async start(portA: number, portB: number): Promise<PairRelay> {
    const bind = () => new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => resolve(s));
    });
    return new PairRelay(await bind(), await bind(), portA, portB);
  }

  /** Where node A sends to reach B. */
  get addressForA(): string {
    return `127.0.0.1:${this.facingA.address().port}`;
  }

  /** Where node B sends to reach A. */
  get addressForB(): string {
    return `127.0.0.1:${this.facingB.address().port}`;
  }

  async close(): Promise<void> {
    await Promise.all([this.facingA, this.facingB].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
