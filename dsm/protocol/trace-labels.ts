/**
 * What the Ivy protocol's messages say in traces (trace/labels.ts): the RPC runtime labels a call
 * "acquire p684 write" and its reply "grant p684 write (4096 B)" instead of "acquire" and "acquire
 * reply", and tags both with the page, so `pagewire trace --page 684` shows one page's story.
 * Imported for its effect by the protocol's front door. Describers read arguments defensively:
 * a server describes what a peer sent before it is validated.
 */
import { registerCallLabels, type CallLabel } from '../../trace/labels.js';
import { Outcome, Want } from './ivy.stubs.js';

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
    call: ([page, w]) => label(`acquire p${String(page)} ${want(w)}`, page),
    result: (r, args) => {
      const g = r as { outcome?: unknown; node?: unknown } | null;
      const p = args?.[0];
      if (g?.outcome === Outcome.PageLost) return label(`p${String(p)} lost (node ${String(g.node)} dead)`, p);
      if (g?.outcome === Outcome.Busy) return label(`busy p${String(p)}`, p);
      return label(`grant p${String(p)} ${want(args?.[1])}${dataBytes(g)}`, p);
    },
  },
  serve: {
    call: ([page, w, requester]) => label(`serve p${String(page)} ${want(w)} to ${String(requester)}`, page),
    result: (r, args) => label(`hand over p${String(args?.[0])}${dataBytes(r)}`, args?.[0]),
  },
  invalidate: {
    call: ([page]) => label(`invalidate p${String(page)}`, page),
    result: (_r, args) => label(`invalidated p${String(args?.[0])}`, args?.[0]),
  },
  ping: {
    call: () => ({ text: 'ping' }),
    result: (r) => ({ text: `pong ${String(r)}` }),
  },
});
