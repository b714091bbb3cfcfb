// The chapter's RPC example: chapter.rpc compiled by `npx pagewire-rpcgen chapter.rpc` into chapter.stubs.ts.
import { createEndpoint } from 'pagewire/transport';
import { RpcClient, RpcServer } from 'pagewire/rpc/runtime';
import { ChapterClient, ChapterDescriptor, type ChapterHandlers } from './chapter.stubs.js';

const serverEndpoint = await createEndpoint();
const server = new RpcServer(serverEndpoint);
const handlers: ChapterHandlers = { func1: (a) => a + 1, func2: (a, b) => a * b };
server.serve(ChapterDescriptor, handlers);

const clientEndpoint = await createEndpoint();
const rpc = new RpcClient(clientEndpoint, { server: serverEndpoint.address });
const chapter = new ChapterClient(rpc);
console.log(await chapter.func1(41)); // 42
console.log(await chapter.func2(6, 7)); // 42

// close() stops the client and the server; the endpoints they use are closed separately.
await rpc.close();
await server.close();
await clientEndpoint.close();
await serverEndpoint.close();
