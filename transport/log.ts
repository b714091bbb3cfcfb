/**
 * Logging through `debug` namespaces (pagewire:transport, pagewire:rpc:client, ...), every
 * line prefixed with the node's id so several nodes in one process stay distinguishable.
 * Enable with DEBUG=pagewire:* . Callers on hot paths test `log.enabled` before formatting.
 */
import createDebug from 'debug';
import { nodeLabel } from '../trace/node.js';

export interface Logger {
  (format: string, ...args: unknown[]): void;
  readonly enabled: boolean;
}

export function createLogger(component: string, nodeId: () => string): Logger {
  const d = createDebug(`pagewire:${component}`);
  const log = ((format: string, ...args: unknown[]) => {
    if (d.enabled) d(`[%s] ${format}`, nodeLabel(nodeId()), ...args);
  }) as Logger;
  Object.defineProperty(log, 'enabled', { get: () => d.enabled });
  return log;
}
