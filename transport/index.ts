/**
 * pagewire/transport: reliable, in-order, exactly-once messages over UDP.
 * The front door of the layer: a factory, its options, the event and stats types, the errors.
 */
export { createEndpoint, parsePeer, type UdpEndpoint } from './endpoint.js';
export { isLoopbackHost } from './address.js';
export { DEFAULTS as TRANSPORT_DEFAULTS, type EndpointOptions } from './options.js';
export type { FaultOptions, FaultSpec, FaultCounters } from './faults.js';
export type { LinkRules, LinkRuleStats } from './link-rules.js';
export { TransportError, isTransportError, type TransportErrorCode } from './errors.js';
export type {
  Endpoint, EndpointStats, MessageEvent, PeerRestartedEvent, PeerStats, PeerUnreachableEvent, TransportEvents,
} from './types.js';
export { createLogger, type Logger } from './log.js';
export { seededRandom, type Random } from './random.js';
export { generateClusterKey, formatClusterKey, parseClusterKey, CLUSTER_KEY_BYTES } from './cluster-key.js';
