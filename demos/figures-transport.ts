/**
 * The chapter's Figures 47.3, 47.4 and 47.5 from a real two-process run (demos/figures-demo.ts):
 * this process sends one message to a receiver endpoint in a child process, over UDP, with the
 * fault injector dropping exactly the datagram each figure drops (a dropWhen rule armed for the
 * figure's message only):
 *   47.3  nothing dropped: message, ack;
 *   47.4  the sender's first datagram (the message) dropped: the timer goes off, the message is
 *         sent again, received, acked;
 *   47.5  the receiver's first datagram (the ack) dropped: the timer goes off, the message is sent
 *         again, the receiver gets a duplicate, acks it and does not deliver it a second time.
 * Each figure has its own trace directory and fresh endpoints. A first message is exchanged
 * before the figure's (first contact proves each side's incarnation: data + challenge, echo +
 * challenge, data + echo, ack), and the figure shows the events from the figure's message on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createEndpoint } from '../transport/index.js';
import { decodeDatagram, F_ACK, F_DATA } from '../transport/wire.js';
import { mergeTrace, readTraceDir, startTraceWriter, traceNode, type MEvent, type Merged, type TraceFilter } from '../trace/index.js';

/** One figure: its HTML file, what it shows, where its trace is and which of its events it draws. */
export interface Figure {
  readonly file: string;
  readonly title: string;
  readonly caption: string;
  readonly trace: string;
  readonly filter: TraceFilter;
  /** What the run did that the figure says it should not have (empty: as expected). */
  readonly problems: string[];
}

export interface TransportFigure extends Figure {
  readonly id: '47.3' | '47.4' | '47.5';
}

interface Spec {
  readonly id: TransportFigure['id'];
  readonly title: string;
  readonly caption: string;
  /** Drop the sender's first data datagram of the figure's message. */
  readonly dropRequest: boolean;
  /** Drop the receiver's first pure ack after the figure's message arrives. */
  readonly dropAck: boolean;
  /** The figure's message sequence: node and event type, in causal order. */
  readonly expected: readonly string[];
}

const SPECS: readonly Spec[] = [
  {
    id: '47.3', title: 'Figure 47.3: Message Plus Acknowledgment', dropRequest: false, dropAck: false,
    caption: 'The sender sends the message and keeps a copy; the receiver receives it, delivers it and sends an ack; the sender receives the ack and deletes its copy.',
    expected: [
      'sender message-sent', 'sender datagram-sent', 'receiver datagram-received', 'receiver message-delivered',
      'receiver datagram-sent', 'sender datagram-received', 'sender message-acked',
    ],
  },
  {
    id: '47.4', title: 'Figure 47.4: Message Plus Acknowledgment: Dropped Request', dropRequest: true, dropAck: false,
    caption: 'The fault injector drops the message. No ack comes; the sender\'s timer goes off and it sends its copy again, which is received, delivered and acked.',
    expected: [
      'sender message-sent', 'sender datagram-sent', 'sender datagram-dropped', 'sender rto-fired', 'sender datagram-sent',
      'receiver datagram-received', 'receiver message-delivered', 'receiver datagram-sent', 'sender datagram-received', 'sender message-acked',
    ],
  },
  {
    id: '47.5', title: 'Figure 47.5: Message Plus Acknowledgment: Dropped Reply', dropRequest: false, dropAck: true,
    caption: 'The message arrives and is delivered, but the injector drops the ack. The sender\'s timer goes off and it sends the message again; '
      + 'the receiver sees a duplicate (the sequence number is below what it expects), acks it at once, and does not deliver it a second time.',
    expected: [
      'sender message-sent', 'sender datagram-sent', 'receiver datagram-received', 'receiver message-delivered', 'receiver datagram-sent',
      'receiver datagram-dropped', 'sender rto-fired', 'sender datagram-sent', 'receiver datagram-received', 'receiver duplicate-received',
      'receiver datagram-sent', 'sender datagram-received', 'sender message-acked',
    ],
  },
];

/** The figure's events: the transport's, from the sender's second message (the figure's) on. */
export function figureFilter(m: Merged): TraceFilter {
  const sends = m.events.filter((e: MEvent) => e.node === 'sender' && e.ev.type === 'message-sent');
  return { layers: ['transport'], ...(sends[1] !== undefined ? { fromIndex: sends[1].i } : {}) };
}

/** The figure's sequence, "node type", in causal order. */
export function figureSequence(m: Merged): string[] {
  const f = figureFilter(m);
  return m.events.filter((e) => e.ev.layer === 'transport' && (f.fromIndex === undefined || e.i >= f.fromIndex)).map((e) => `${e.node} ${e.ev.type}`);
}

/** A fault rule that drops the first datagram matching `what` once armed, and only that one. */
function oneShot(what: (flags: number) => boolean): { arm(): void; dropWhen: (bytes: Uint8Array) => boolean } {
  let armed = false;
  return {
    arm: () => void (armed = true),
    dropWhen: (bytes) => {
      if (!armed) return false;
      const d = decodeDatagram(bytes, 65_507);
      if (typeof d === 'string' || !what(d.flags)) return false;
      armed = false;
      return true;
    },
  };
}
const isData = (flags: number): boolean => (flags & F_DATA) !== 0;
const isPureAck = (flags: number): boolean => (flags & F_ACK) !== 0 && (flags & F_DATA) === 0;

/** The receiver child: `figures-demo.js --receiver`, driven by JSON lines on stdin. */
export async function receiverMain(): Promise<void> {
  let stop: (() => Promise<number>) | undefined;
  let rule: ReturnType<typeof oneShot> | undefined;
  for await (const line of createInterface({ input: process.stdin })) {
    const c = JSON.parse(line) as { cmd: string; dir?: string; dropAck?: boolean };
    if (c.cmd === 'start') {
      const writer = startTraceWriter(c.dir!);
      rule = c.dropAck === true ? oneShot(isPureAck) : undefined;
      const ep = await createEndpoint({ nodeId: 'receiver', ...(rule ? { faults: { outbound: { dropWhen: rule.dropWhen } } } : {}) });
      let delivered = 0;
      ep.on('message', () => void delivered++);
      stop = async () => {
        await ep.close();
        writer.close();
        return delivered;
      };
      process.stdout.write(JSON.stringify({ address: ep.address }) + '\n');
    } else if (c.cmd === 'arm') {
      rule?.arm();
      process.stdout.write('{}\n');
    } else if (c.cmd === 'stop') {
      process.stdout.write(JSON.stringify({ delivered: await stop!() }) + '\n');
    }
  }
}

export async function transportFigures(out: string): Promise<TransportFigure[]> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./figures-demo.js', import.meta.url)), '--receiver'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (c: object): Promise<Record<string, unknown>> => {
    child.stdin!.write(JSON.stringify(c) + '\n');
    const r = await lines.next();
    if (r.done) throw new Error('the receiver process exited');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  const figures: TransportFigure[] = [];
  try {
    for (const s of SPECS) {
      const dir = join(out, `trace-${s.id}`);
      rmSync(dir, { recursive: true, force: true });
      const writer = startTraceWriter(dir);
      const { address } = (await ask({ cmd: 'start', dir, dropAck: s.dropAck })) as { address: string };
      const rule = s.dropRequest ? oneShot(isData) : undefined;
      const ep = await createEndpoint({ nodeId: 'sender', ...(rule ? { faults: { outbound: { dropWhen: rule.dropWhen } } } : {}) });
      traceNode('sender').namePeer(address, 'receiver');
      await ep.send(address, Buffer.from('first contact'));
      await ask({ cmd: 'arm' });
      rule?.arm();
      await ep.send(address, Buffer.from(`the message of figure ${s.id}`));
      await ep.close();
      const { delivered } = (await ask({ cmd: 'stop' })) as { delivered: number };
      writer.close();
      const problems: string[] = [];
      if (delivered !== 2) problems.push(`the receiver delivered ${delivered} messages, not 2 (first contact and the figure's), each once`);
      const m = mergeTrace(readTraceDir(dir));
      const seq = figureSequence(m);
      if (seq.join(', ') !== s.expected.join(', ')) problems.push(`the run's sequence was\n      ${seq.join(', ')}\n    not the figure's\n      ${s.expected.join(', ')}`);
      figures.push({ id: s.id, file: `figure-${s.id}.html`, title: s.title, caption: s.caption, trace: dir, filter: figureFilter(m), problems });
    }
  } finally {
    child.stdin!.end();
    if (child.exitCode === null) await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 2_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  return figures;
}

export const FIGURE_SPECS = SPECS;
