/**
 * What the Ivy protocol's messages say in traces (trace/labels.ts): the RPC runtime labels a call
 * "request p684 write" and its reply "grant p684 write + page (4096 B)" instead of "request" and
 * "request reply", and tags both with the page, so `pagewire trace --page 684` shows one page's
 * story. Imported for its effect by the protocol's front door. Describers read arguments
 * defensively: a server describes what a peer sent before it is validated. Every procedure's first
 * argument is the sender's View (ivy.rpc).
 */
import { registerCallLabels, type CallLabel } from '../../trace/labels.js';
import { Holding, Outcome, Want } from './ivy.stubs.js';

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
  request: {
    call: ([, page, w, , , expect]) => label(`request p${String(page)} ${want(w)}${Number(expect) > 0 ? ` (expecting transfer ${String(expect)})` : ''}`, page),
    result: (r, args) => {
      const g = r as { outcome?: unknown; node?: unknown } | null;
      const p = args?.[1];
      if (g?.outcome === Outcome.PageLost) return label(`p${String(p)} lost (node ${String(g.node)} dead)`, p);
      if (g?.outcome === Outcome.Busy) return label(`busy p${String(p)}${g.node !== undefined && g.node !== null ? ` (waiting for node ${String(g.node)})` : ''}`, p);
      if (g?.outcome === Outcome.Redirect) return label(`p${String(p)}: ask node ${String(g.node)}`, p);
      if (g?.outcome === Outcome.NotInstalled) return label(`p${String(p)}: transfer never installed here`, p);
      return label(`grant p${String(p)} ${want(args?.[2])}${dataBytes(g)}`, p);
    },
  },
  invalidate: {
    call: ([, page]) => label(`invalidate p${String(page)}`, page),
    result: (_r, args) => label(`invalidated p${String(args?.[1])}`, args?.[1]),
  },
  locate: {
    call: ([, page]) => label(`locate p${String(page)}`, page),
    result: (r, args) => {
      const w = r as { holding?: unknown; node?: unknown } | null;
      const p = args?.[1];
      const what = w?.holding === Holding.Owner ? 'owner' : w?.holding === Holding.Handed ? `handed to node ${String(w.node)}`
        : w?.holding === Holding.Lost ? `lost with node ${String(w.node)}` : 'not here';
      return label(`p${String(p)}: ${what}`, p);
    },
  },
  owns: {
    call: ([, pages]) => ({ text: `owns ${Array.isArray(pages) ? pages.map((t) => `p${String((t as { page?: unknown })?.page)}`).join(' ') : '?'}` }),
    result: () => ({ text: 'directory updated' }),
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
