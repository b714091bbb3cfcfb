/**
 * Server child process of the RPC benchmark: `node dist/bench/rpc-server.js <system>`, where
 * system is
 *   rpc   pagewire RPC over the UDP transport, serving Lab (rpc/examples/lab.rpc), Lab.hash in
 *         a piscina pool of os.availableParallelism() threads;
 *   rpc-keyed  the same, the transport keyed with the cluster key in PAGEWIRE_BENCH_KEY (hex);
 *   raw   a plain node:dgram socket that echoes every datagram back to its sender;
 *   grpc  @grpc/grpc-js on loopback with one unary method /pagewire.Bench/Echo (identity
 *         Buffer serialisation, no .proto).
 * Prints `READY host:port` on stdout when serving; exits on SIGTERM or when stdin closes.
 * With `--trace DIR` (after the system) it writes its trace events to DIR (bench/trace.ts).
 */
import dgram from 'node:dgram';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createEndpoint } from '../transport/index.js';
import { RpcServer } from '../rpc/runtime/index.js';
import { LabDescriptor, type LabHandlers } from '../rpc/examples/lab.stubs.js';
import { chainHash } from '../rpc/examples/lab-handlers.js';
import { startTraceWriter } from '../trace/index.js';
import { traceArg } from './trace.js';

/** The grpc-js service: one unary echo method, raw Buffers in and out. */
export const GRPC_SERVICE = {
  echo: {
    path: '/pagewire.Bench/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
} as const;

async function serveRpc(keyed = false): Promise<{ address: string; close: () => Promise<void> }> {
  const key = keyed ? Buffer.from(process.env.PAGEWIRE_BENCH_KEY ?? '', 'hex') : undefined;
  const ep = await createEndpoint({ nodeId: 'bench-srv', key });
  const server = new RpcServer(ep);
  const lab: LabHandlers = {
    nop: () => undefined,
    echo: (d) => d,
    record: (ctx) => ctx.callId,
    recorded: () => [],
    sleep: async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    },
    // The benchmark's window into this process: transport counters for datagrams per call.
    counts: () => JSON.stringify({ datagramsSent: ep.stats().datagramsSent, datagramsReceived: ep.stats().datagramsReceived, server: server.stats() }),
    hash: (rounds, seed) => chainHash(rounds, seed),
    hashInline: (rounds, seed) => chainHash(rounds, seed),
  };
  const here = dirname(fileURLToPath(import.meta.url));
  server.serve(LabDescriptor, lab, { poolModule: pathToFileURL(join(here, '../rpc/examples/lab-handlers.js')), poolThreads: availableParallelism() });
  return { address: ep.address, close: async () => { await server.close(); await ep.close(); } };
}

async function serveRaw(): Promise<{ address: string; close: () => Promise<void> }> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { address: `127.0.0.1:${s.address().port}`, close: () => new Promise<void>((r) => s.close(() => r())) };
}

async function serveGrpc(): Promise<{ address: string; close: () => Promise<void> }> {
  const server = new grpc.Server();
  server.addService(GRPC_SERVICE as unknown as grpc.ServiceDefinition, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { address: `127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const system = process.argv[2];
  const start = system === 'rpc' ? () => serveRpc() : system === 'rpc-keyed' ? () => serveRpc(true)
    : system === 'raw' ? serveRaw : system === 'grpc' ? serveGrpc : undefined;
  if (start === undefined) {
    process.stderr.write(`usage: node dist/bench/rpc-server.js rpc|rpc-keyed|raw|grpc\n`);
    process.exit(2);
  }
  const dir = traceArg(process.argv);
  const writer = dir !== undefined ? startTraceWriter(dir) : undefined;
  const s = await start();
  const stop = (): void => {
    void s.close().finally(() => {
      writer?.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop); // the parent went away
  process.stdin.resume();
  process.stdout.write(`READY ${s.address}\n`);
}
