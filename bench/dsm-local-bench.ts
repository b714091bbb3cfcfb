/**
 * Local page store microbenchmark: cost of one u32 read through the Proxy view, through a struct
 * accessor and through a raw Uint32Array (same buffer, same addresses, one run, with ratios), and
 * the local fault round trip: this thread blocks in Atomics.wait → the fault thread takes the
 * request from the mailbox → the fake page source installs → Atomics.notify → this thread wakes.
 *
 *   npm run bench:dsm-local -- [--json] [--faults N]      (or: node dist/bench/dsm-local-bench.js ...) [--json] [--faults N]
 *
 * With --json the last line is one JSON object: proxy_ns, struct_ns, raw_ns, local_fault_p50_us,
 * local_fault_p99_us (plus ratios).
 */
import { AppMemory, createDsmBuffers, defineStruct, startFaultThread } from '../dsm/memory/index.js';
import { FAKE_PAGE_SOURCE } from '../test/support/fake-page-source.js';
import { parseBenchArgs, percentile, round } from './stats.js';

const usage = 'usage: node dist/bench/dsm-local-bench.js [--json] [--faults N]\n';
const args = parseBenchArgs(process.argv.slice(2), { json: 'flag', faults: 'value' }, usage);
const faultRounds = args.faults === undefined ? 1000 : Number(args.faults);

const PS = 4096;
const PAGES = 16; // 64 KiB working set: in cache, several pages
const buffers = createDsmBuffers({ pageSize: PS, pageCount: 64 });
const rt = await startFaultThread(buffers, {
  handlerModule: FAKE_PAGE_SOURCE,
  handlerOptions: { delayMs: 0 },
});
const mem = new AppMemory(buffers);
for (let p = 1; p <= PAGES; p++) await rt.call({ op: 'install', page: p, rights: 'write' });

const first = PS >>> 2;
const words = (PAGES * PS) >>> 2;
const raw = new Uint32Array(buffers.frames);
for (let i = 0; i < words; i++) raw[first + i] = i;
const S = defineStruct(mem, { value: 'u32', next: 'ptr' });
const view = mem.u32;

function timeNs(n: number, body: (n: number) => number): number {
  let best = Infinity;
  let sink = 0;
  for (let rep = 0; rep < 7; rep++) {
    const t0 = process.hrtime.bigint();
    sink += body(n);
    const dt = Number(process.hrtime.bigint() - t0);
    best = Math.min(best, dt / n);
  }
  if (sink === 0.5) console.log('impossible'); // keep the sums alive
  return best;
}

const mask = words - 1; // words is a power of two
const rawNs = timeNs(20_000_000, (n) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += raw[first + (i & mask)]!;
  return s;
});
const proxyNs = timeNs(1_000_000, (n) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += view[first + (i & mask)]!;
  return s;
});
const structNs = timeNs(5_000_000, (n) => {
  let s = 0;
  const get = S.get.value;
  for (let i = 0; i < n; i++) s += get((first + (i & (mask & ~1))) << 2);
  return s;
});
const methodNs = timeNs(5_000_000, (n) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += mem.loadU32((first + (i & mask)) << 2);
  return s;
});

// Local fault round trip.
const page = 40;
const addr = page * PS;
const rtt: number[] = [];
for (let i = 0; i < faultRounds + 50; i++) {
  await rt.call({ op: 'invalidate', page });
  const t0 = process.hrtime.bigint();
  const v = mem.u32[addr >>> 2];
  const dt = Number(process.hrtime.bigint() - t0) / 1000;
  if (v !== 0) throw new Error('unexpected page contents');
  if (i >= 50) rtt.push(dt); // skip warm-up
}
await rt.close();

const result = {
  proxy_ns: round(proxyNs, 2),
  struct_ns: round(structNs, 2),
  method_ns: round(methodNs, 2),
  raw_ns: round(rawNs, 2),
  proxy_over_raw: round(proxyNs / rawNs, 1),
  struct_over_raw: round(structNs / rawNs, 1),
  proxy_over_struct: round(proxyNs / structNs, 1),
  local_fault_p50_us: round(percentile(rtt, 50), 1),
  local_fault_p99_us: round(percentile(rtt, 99), 1),
  local_faults: rtt.length,
};

const rows: [string, string, string][] = [
  ['raw Uint32Array read', `${result.raw_ns} ns`, '1.0×'],
  ['AppMemory.loadU32(addr)', `${result.method_ns} ns`, `${round(methodNs / rawNs, 1)}×`],
  ['struct accessor S.get.value(addr)', `${result.struct_ns} ns`, `${result.struct_over_raw}×`],
  ['Proxy view mem.u32[addr >>> 2]', `${result.proxy_ns} ns`, `${result.proxy_over_raw}×`],
  ['local fault round trip p50', `${result.local_fault_p50_us} µs`, ''],
  ['local fault round trip p99', `${result.local_fault_p99_us} µs`, ''],
];
console.log(`dsm local page store (${PAGES} pages of ${PS} B, node ${process.version})`);
for (const [a, b, c] of rows) console.log(`  ${a.padEnd(36)} ${b.padStart(12)}  ${c}`);
if (args.json) console.log(JSON.stringify(result));
