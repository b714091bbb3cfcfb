import dgram from 'node:dgram';

/**
 * A UDP relay between one client and a target port on 127.0.0.1, for tests that need to see or
 * break the network between two endpoints:
 *  - it can be shut (`open = false`: every datagram dropped, both ways, as by a partition; counted
 *    in `dropped`) and pointed at another target port (`targetPort`);
 *  - it records what the target sends back, and what the client sends it, while `recording` (a
 *    test can replay it later, e.g. the datagrams of a peer's previous incarnation);
 *  - it can forge: send bytes to the target from the address the target knows the client by
 *    (`forgeToTarget`), or to the client from the target's (`replayToClient`).
 * bench:transport partitions through it too (neither test/ nor bench/ is in the package).
 */
export class UdpProxy {
  readonly recordedFromTarget: Buffer[] = [];
  /** What the client sent the target while `recording`. */
  readonly recordedToTarget: Buffer[] = [];
  recording: boolean;
  /** When false, datagrams in both directions are dropped. */
  open = true;
  /** Datagrams dropped while shut (or from the target before any client spoke). */
  dropped = 0;
  private client: dgram.RemoteInfo | undefined;

  private constructor(private readonly front: dgram.Socket, private readonly back: dgram.Socket, public targetPort: number, record: boolean) {
    this.recording = record;
    front.on('message', (m, r) => {
      this.client = r;
      if (this.recording) this.recordedToTarget.push(Buffer.from(m));
      if (!this.open) return void this.dropped++;
      back.send(m, this.targetPort, '127.0.0.1');
    });
    back.on('message', (m) => {
      if (this.recording) this.recordedFromTarget.push(Buffer.from(m));
      if (!this.open || this.client === undefined) return void this.dropped++;
      front.send(m, this.client.port, this.client.address);
    });
  }

  /** A relay to `targetPort`; `record: false` keeps nothing of the target's traffic. */
  static async start(targetPort: number, o: { record?: boolean } = {}): Promise<UdpProxy> {
    const bind = async () => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      return s;
    };
    return new UdpProxy(await bind(), await bind(), targetPort, o.record ?? true);
  }

  /** The address the client talks to. */
  get frontAddress(): string {
    return `127.0.0.1:${this.front.address().port}`;
  }

  /** The address the target sees the client at. */
  get backAddress(): string {
    return `127.0.0.1:${this.back.address().port}`;
  }

  /** Send datagrams to the client as if the target had just sent them. */
  replayToClient(datagrams: Buffer[]): void {
    for (const d of datagrams) this.front.send(d, this.client!.port, this.client!.address);
  }

  /** Send datagrams to the target from the client's address (as the target sees it): a forgery. */
  forgeToTarget(datagrams: Buffer[]): void {
    for (const d of datagrams) this.back.send(d, this.targetPort, '127.0.0.1');
  }

  async close(): Promise<void> {
    await Promise.all([this.front, this.back].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
