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
 *
 * It can also record what each node sends the other (`recording`), and forge: send bytes to a
 * node from the address it knows the other one by (injectToA / injectToB), as an attacker who can
 * spoof source addresses would.
 */
import dgram from 'node:dgram';

export class PairRelay {
  /** When false, datagrams in both directions are dropped. */
  open = true;
  dropped = 0;
  forwarded = 0;
  /** While true, every datagram each node sends is kept in fromA / fromB. */
  recording = false;
  readonly fromA: Buffer[] = [];
  readonly fromB: Buffer[] = [];

  private constructor(private readonly facingA: dgram.Socket, private readonly facingB: dgram.Socket, private readonly portA: number, private readonly portB: number) {
    facingA.on('message', (m) => {
      if (this.recording) this.fromA.push(Buffer.from(m));
      this.pass(m, facingB, portB);
    });
    facingB.on('message', (m) => {
      if (this.recording) this.fromB.push(Buffer.from(m));
      this.pass(m, facingA, portA);
    });
  }

  /** Send datagrams to A from the address A knows B by (a forgery). */
  injectToA(datagrams: readonly Uint8Array[]): void {
    for (const d of datagrams) this.facingA.send(d, this.portA, '127.0.0.1');
  }

  /** Send datagrams to B from the address B knows A by (a forgery). */
  injectToB(datagrams: readonly Uint8Array[]): void {
    for (const d of datagrams) this.facingB.send(d, this.portB, '127.0.0.1');
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
