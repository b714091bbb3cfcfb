/**
 * pagewire/trace: the cluster-wide trace. Every layer publishes typed events on
 * node:diagnostics_channel (CHANNELS), each with its node id, a monotonic timestamp, the peer's
 * node id and a Lamport clock; startTraceWriter() writes them as JSON lines, and the readers and
 * renderers here turn a directory of them into a causal timeline, an HTML space-time diagram or a
 * ShiViz log. See trace/README.md.
 */
export { CHANNELS, INFO_CHANNEL, MAX_REMOTE_LC, LayerTrace, TraceNode, traceNode, traceNodes, retireTraceNode, subscribeTrace, traceClock, nodeLabel } from './node.js';
export type { NodeInfo, TraceListener } from './node.js';
export { LAYERS, eventKey } from './events.js';
export type { Layer, Envelope, CommonFields, TraceEvent, TransportEvent, RpcEvent, RpcKind, DsmEvent } from './events.js';
export { registerCallLabels, callLabel, resultLabel, MAX_LABEL_CHARS } from './labels.js';
export type { CallLabel, ProcedureLabels } from './labels.js';
export { TraceWriter, startTraceWriter, traceFileName, type TraceWriterStats } from './writer.js';
export { readTraceDir, parseTraceText, type Lane, type LoadedTrace } from './read.js';
export { mergeTrace, vectorClocks, hostNames, compareNodes, causalViolations, type Merged, type MEvent, type MergedLane } from './merge.js';
export { selectEvents, matchesFilter, validateFilter, describeEvent, describeRaw, type TraceFilter } from './filter.js';
export { renderTimeline, type TimelineOptions } from './timeline.js';
export { renderHtml, renderSvg, type HtmlOptions } from './html.js';
export { renderShiviz, SHIVIZ_REGEX } from './shiviz.js';
export { runTraceCli, TRACE_USAGE } from './cli.js';
export { TraceError, isTraceError, type TraceErrorCode } from './errors.js';
export { startTraceCollector, type TraceCollector } from './collect.js';
export { installDebugPrinter } from './debug.js';
