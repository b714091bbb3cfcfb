/**
 * `debug` loggers for the runtime, built on the transport's createLogger so every layer logs
 * the same way: one namespace per component, each line prefixed with the node id.
 *   DEBUG=pagewire:rpc:* node app.js
 */
import { createLogger, type Logger } from '../../transport/log.js';

export type Log = Logger;

export function clientLog(nodeId: string): Log {
  return createLogger('rpc:client', () => nodeId);
}

export function serverLog(nodeId: string): Log {
  return createLogger('rpc:server', () => nodeId);
}
