/**
 * Labels for RPC calls in traces: what an arrow for a call or its reply says ("acquire p684
 * write", "grant p684"). The RPC layer knows interfaces and procedures, not what their arguments
 * mean, so the layer that defines an interface registers how to describe its calls:
 *
 *   registerCallLabels('Ivy', {
 *     acquire: { call: ([page, want]) => ({ text: `acquire p${page} ${want}`, page: Number(page) }) },
 *   });
 *
 * The RPC runtime asks only while tracing. A describer that throws, or returns something that is
 * not a label, is ignored (the default label is used): a label can never break a call.
 */

export interface CallLabel {
  /** Short text, at most MAX_LABEL_CHARS (longer is cut). */
  readonly text: string;
  /** The DSM page the call is about, so the trace can be filtered by page. */
  readonly page?: number;
}

export interface ProcedureLabels {
  /** Describe a request from its arguments (as validated by the stubs, or as decoded on the server). */
  readonly call?: (args: readonly unknown[]) => CallLabel;
  /** Describe a reply from its result (and the call's arguments, when the side describing it has them). */
  readonly result?: (result: unknown, args: readonly unknown[] | undefined) => CallLabel;
}

export const MAX_LABEL_CHARS = 80;

const registry = new Map<string, Record<string, ProcedureLabels>>();

/** Register (or replace) the describers of interface `iface`'s procedures. */
export function registerCallLabels(iface: string, procedures: Record<string, ProcedureLabels>): void {
  registry.set(iface, { ...procedures });
}

function safe(f: (() => CallLabel) | undefined, fallback: string): CallLabel {
  if (f !== undefined) {
    try {
      const l = f();
      if (l !== null && typeof l === 'object' && typeof l.text === 'string') {
        const text = l.text.length > MAX_LABEL_CHARS ? `${l.text.slice(0, MAX_LABEL_CHARS - 1)}…` : l.text;
        return Number.isInteger(l.page) ? { text, page: l.page } : { text };
      }
    } catch {
      // fall through to the default
    }
  }
  return { text: fallback };
}

/** The label of a request of `iface.proc` with `args`. Default: the procedure's name. */
export function callLabel(iface: string, proc: string, args: readonly unknown[]): CallLabel {
  const d = registry.get(iface)?.[proc]?.call;
  return safe(d && (() => d(args)), proc);
}

/**
 * The label of the reply of `iface.proc`. Default: "<proc> reply". When the reply has no
 * describer but the call's arguments name a page, the reply keeps that page.
 */
export function resultLabel(iface: string, proc: string, result: unknown, args: readonly unknown[] | undefined): CallLabel {
  const d = registry.get(iface)?.[proc]?.result;
  const l = safe(d && (() => d(result, args)), `${proc} reply`);
  if (l.page === undefined && args !== undefined) {
    const page = callLabel(iface, proc, args).page;
    if (page !== undefined) return { ...l, page };
  }
  return l;
}
