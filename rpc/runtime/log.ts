/**
 * `debug` loggers, one namespace per component, every line prefixed with the node id so
 * several nodes in one process log distinguishably:
 *   DEBUG=pagewire:rpc:* node app.js
 */
import createDebug from 'debug';

export type Log = (fmt: string, ...args: unknown[]) => void;

const clientDebug = createDebug('pagewire:rpc:client');
const serverDebug = createDebug('pagewire:rpc:server');

function prefixed(d: createDebug.Debugger, nodeId: string): Log {
  return (fmt, ...args) => {
    if (d.enabled) d(`[%s] ${fmt}`, nodeId, ...args);
  };
}

export function clientLog(nodeId: string): Log {
  return prefixed(clientDebug, nodeId);
}
export function serverLog(nodeId: string): Log {
  return prefixed(serverDebug, nodeId);
}
/** True when the namespace is enabled, to skip building expensive log arguments. */
export function clientLogEnabled(): boolean {
  return clientDebug.enabled;
}
export function serverLogEnabled(): boolean {
  return serverDebug.enabled;
}
