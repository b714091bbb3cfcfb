/**
 * pagewire RPC runtime: at-most-once calls over any transport Endpoint.
 *
 *   const server = new RpcServer(endpointA);
 *   server.serve(Calc, { add: (a, b) => a + b });
 *   const client = new RpcClient(endpointB, { server: endpointA.address });
 *   await client.call(Calc, Calc.procedures[0], [1, 2], { timeoutMs: 1000 });
 *
 * Wire format, semantics and options: rpc/runtime/README.md.
 */
export { RpcClient, RPC_CLIENT_DEFAULTS } from './client.js';
export type { RpcClientOptions, RpcClientStats, RpcClientEvents, ServerRestartedEvent } from './client.js';
export { RpcServer, RPC_SERVER_DEFAULTS } from './server.js';
export type { AuthorizeCall, RpcServerOptions, RpcServerStats, ServeOptions } from './server.js';
export { REPLY_CACHE_DEFAULTS } from './reply-cache.js';
export type { ReplyCacheOptions } from './reply-cache.js';
export type { Timers } from './timers.js';
export { realTimers } from './timers.js';
export { decodeMessage, describeMessage, WIRE_VERSION, HEADER_BYTES } from './wire.js';
export type { RpcMessage, Header as RpcHeader, DecodeResult } from './wire.js';
