/**
 * udx-native (Holepunch's reliable, congestion-controlled streams over UDP, native code with
 * prebuilt binaries) as bench:transport's peer baseline: what a Node user would otherwise pick
 * for reliable UDP. A udx stream is a byte stream, so both ends agree on the message size of each
 * measurement (setSize()) and the server answers every `size` bytes it reads: with the bytes
 * themselves up to ECHO_MAX (latency), with one byte beyond (throughput), as the transport's
 * bench server answers messages.
 */
import { createRequire } from 'node:module';

/** The part of udx-native's API the bench uses (it ships no types). */
interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { port: number };
  setRecvBufferSize(n: number): void;
  setSendBufferSize(n: number): void;
  close(): Promise<void>;
}
export interface UdxStream {
  readonly mtu: number;
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  write(b: Uint8Array): boolean;
  on(ev: 'data', f: (b: Buffer) => void): void;
  on(ev: 'drain' | 'close' | 'error', f: (e?: unknown) => void): void;
  off(ev: 'data', f: (b: Buffer) => void): void;
  once(ev: 'drain', f: () => void): void;
  destroy(): void;
}
interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}

/** Larger messages than this are answered with one byte, not echoed. */
export const ECHO_MAX = 1000;

const load = (): Udx => {
  const UDX = createRequire(import.meta.url)('udx-native') as new () => Udx;
  return new UDX();
};

/** One end of a udx stream on its own socket: bind first (the peer needs the port), then connect. */
export class UdxEnd {
  private readonly udx = load();
  readonly socket: UdxSocket;
  readonly stream: UdxStream;

  constructor(readonly id: number, bufferBytes: number) {
    this.socket = this.udx.createSocket();
    this.socket.bind(0, '127.0.0.1');
    this.socket.setRecvBufferSize(bufferBytes);
    this.socket.setSendBufferSize(bufferBytes);
    this.stream = this.udx.createStream(id);
    this.stream.on('error', () => undefined);
  }

  get port(): number {
    return this.socket.address().port;
  }

  connect(remoteId: number, port: number): void {
    this.stream.connect(this.socket, remoteId, port, '127.0.0.1');
  }

  async close(): Promise<void> {
    this.stream.destroy();
    await this.socket.close().catch(() => undefined);
  }
}

/** The server's end: answers every `size` bytes it reads (setSize() before each measurement). */
export class UdxServer extends UdxEnd {
  private size = 32;
  private got = 0;
  private readonly one = Buffer.alloc(1);

  constructor(bufferBytes: number) {
    super(1, bufferBytes);
    this.stream.on('data', (b) => {
      this.got += b.length;
      while (this.got >= this.size) {
        this.got -= this.size;
        this.stream.write(this.size <= ECHO_MAX ? Buffer.alloc(this.size, 5) : this.one);
      }
    });
  }

  setSize(size: number): void {
    this.size = size;
    this.got = 0;
  }
}

/** Round trips of `size` bytes over the client's stream, one at a time; microseconds each. */
export async function udxPingPong(s: UdxStream, size: number, n: number): Promise<number[]> {
  const buf = Buffer.alloc(size, 2);
  const times: number[] = [];
  let got = 0;
  let t0 = 0;
  await new Promise<void>((done) => {
    const onData = (b: Buffer) => {
      got += b.length;
      if (got < size) return;
      got -= size;
      times.push((performance.now() - t0) * 1000);
      if (times.length === n) {
        s.off('data', onData);
        return done();
      }
      t0 = performance.now();
      s.write(buf);
    };
    s.on('data', onData);
    t0 = performance.now();
    s.write(buf);
  });
  return times;
}

/** Write `count` messages of `size` bytes as fast as the stream takes them; seconds until the last receipt. */
export async function udxThroughput(s: UdxStream, size: number, count: number): Promise<number> {
  const buf = Buffer.alloc(size, 3);
  let receipts = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    const onData = (b: Buffer) => {
      receipts += b.length;
      if (receipts >= count) {
        s.off('data', onData);
        done();
      }
    };
    s.on('data', onData);
    let written = 0;
    const pump = (): void => {
      while (written < count) {
        written++;
        if (!s.write(buf)) return void s.once('drain', pump);
      }
    };
    pump();
  });
  return (performance.now() - t0) / 1000;
}
