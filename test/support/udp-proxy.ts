import dgram from 'node:dgram';

/**
 * A UDP relay between one client and a target port, recording what the target sends back so a
 * test can replay it later (e.g. datagrams of a peer's previous incarnation).
 */
export class UdpProxy {
  readonly recordedFromTarget: Buffer[] = [];
  recording = true;
  private client: dgram.RemoteInfo | undefined;

  private constructor(private readonly front: dgram.Socket, private readonly back: dgram.Socket, public targetPort: number) {
    front.on('message', (m, r) => {
      this.client = r;
      back.send(m, this.targetPort, '127.0.0.1');
    });
    back.on('message', (m) => {
      if (this.recording) this.recordedFromTarget.push(Buffer.from(m));
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

  async close(): Promise<void> {
    await Promise.all([this.front, this.back].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
