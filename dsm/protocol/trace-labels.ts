/**
 * What the Ivy protocol's messages say in traces (trace/labels.ts): the RPC runtime labels a call
 * "acquire p684 write" and its reply "grant p684 write + page (4096 B)" instead of "acquire" and
 * "acquire reply", and tags both with the page, so `pagewire trace --page 684` shows one page's
 * story. Imported for its effect by the protocol's front door. Describers read arguments
 * defensively: a server describes what a peer sent before it is validated. Every procedure's first
 * argument is the sender's View (ivy.rpc).
 */
import { registerCallLabels, type CallLabel } from '../../trace/labels.js';
import { Outcome, Served, Want } from './ivy.stubs.js';

const want = (w: unknown): string => (w === Want.Read ? 'read' : w === Want.Write ? 'write' : String(w));
const pageOf = (v: unknown): number | undefined => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);

function label(text: string, page: unknown): CallLabel {
  const p = pageOf(page);
  return p === undefined ? { text } : { text, page: p };
}

function dataBytes(o: unknown): string {
  const d = (o as { data?: unknown } | null)?.data;
  return d instanceof Uint8Array ? ` + page (${d.length} B)` : '';
}

registerCallLabels('Ivy', {
  acquire: {
    call: ([, page, w]) => label(`acquire p${String(page)} ${want(w)}`, page),
    result: (r, args) => {
      const g = r as { outcome?: unknown; node?: unknown } | null;
      const p = args?.[1];
      if (g?.outcome === Outcome.PageLost) return label(`p${String(p)} lost (node ${String(g.node)} dead)`, p);
      if (g?.outcome === Outcome.Busy) return label(`busy p${String(p)}${g.node !== undefined && g.node !== null ? ` (waiting for node ${String(g.node)})` : ''}`, p);
      return label(`grant p${String(p)} ${want(args?.[2])}${dataBytes(g)}`, p);
    },
  },
  serve: {
    call: ([, page, w, requester]) => label(`serve p${String(page)} ${want(w)} to ${String(requester)}`, page),
    result: (r, args) => {
      const h = r as { status?: unknown } | null;
      const p = args?.[1];
      if (h?.status === Served.NotInstalled) return label(`p${String(p)}: grant never installed`, p);
      if (h?.status === Served.Failed) return label(`p${String(p)}: could not hand over`, p);
      return label(`hand over p${String(p)}${dataBytes(r)}`, p);
    },
  },
  invalidate: {
    call: ([, page]) => label(`invalidate p${String(page)}`, page),
    result: (_r, args) => label(`invalidated p${String(args?.[1])}`, args?.[1]),
  },
  abort: {
    call: ([, page, epoch]) => label(`abort transfer ${String(epoch)} of p${String(page)}`, page),
    result: (_r, args) => label(`aborted p${String(args?.[1])}`, args?.[1]),
  },
  ping: {
    call: () => ({ text: 'ping' }),
    result: () => ({ text: 'pong' }),
  },
  propose: {
    call: ([, suspect]) => ({ text: `propose: node ${String(suspect)} is dead?` }),
    result: (r) => ({ text: `vote ${JSON.stringify((r as { agree?: unknown } | null)?.agree ?? r)}` }),
  },
});
