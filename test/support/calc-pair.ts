/** An RpcServer serving Calc and an RpcClient calling it, on two endpoints of a MemoryNetwork, and how to close them. */
import { RpcClient, RpcServer, type RpcClientOptions, type RpcServerOptions } from '../../rpc/runtime/index.js';
import { Calc, calcHandlers, type Gate } from '../fixtures/rpc-runtime/calc.js';
import type { MemoryEndpoint, MemoryNetwork } from './memory-endpoint.js';

export interface CalcPair {
  readonly serverEp: MemoryEndpoint;
  readonly clientEp: MemoryEndpoint;
  readonly server: RpcServer;
  readonly client: RpcClient;
  readonly counts: ReturnType<typeof calcHandlers>['counts'];
  readonly gate: Gate;
  /** Open the gate, close client, server and both endpoints. */
  close(): Promise<void>;
}

export function calcPair(net: MemoryNetwork, o: {
  serverAddr: string; clientAddr: string; serverId: string; clientId: string;
  server?: RpcServerOptions; client?: Omit<RpcClientOptions, 'server'>;
}): CalcPair {
  const serverEp = net.endpoint(o.serverAddr, o.serverId);
  const clientEp = net.endpoint(o.clientAddr, o.clientId);
  const server = new RpcServer(serverEp, o.server);
  const { handlers, counts, gate } = calcHandlers();
  server.serve(Calc, handlers);
  const client = new RpcClient(clientEp, { server: o.serverAddr, ...o.client });
  return {
    serverEp, clientEp, server, client, counts, gate,
    async close() {
      gate.release();
      await client.close();
      await server.close();
      await clientEp.close();
      await serverEp.close();
    },
  };
}
