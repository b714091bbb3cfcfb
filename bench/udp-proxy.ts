import dgram from 'node:dgram';

/**
 * A UDP relay between one client and a target port. It records what the target sends back so a
 * test can replay it later (e.g. datagrams of a peer's previous incarnation), can be shut like a
 * partition (`open = false` drops everything, both ways), and can forge: send bytes to the target
 * from the address the target knows the client by, or to the client from the target's.
 */
export class UdpProxy {
  readonly recordedFromTarget: Buffer[] = [];
  recording = true;
  /** When false, datagrams in both directions are dropped (a partition). */
  open = true;
  /** Datagrams dropped while shut. */
  dropped = 0;
  private client: dgram.RemoteInfo | undefined;

  private constructor(private readonly front: dgram.Socket, private readonly back: dgram.Socket, public targetPort: number) {
    front.on('message', (m, r) => {
      this.client = r;
      if (!this.open) return void this.dropped++;
      back.send(m, this.targetPort, '127.0.0.1');
    });
    back.on('message', (m) => {
      if (this.recording) this.recordedFromTarget.push(Buffer.from(m));
      if (!this.open) return void this.dropped++;
      if (this.client) front.send(m, this.client.port, this.client.address);
    });
  }

  static async start(targetPort: number): Promise<UdpProxy> {
    const bind = async () => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      return s;
    };
    return new UdpProxy(await bind(), await bind(), targetPort);
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
