/**
 * The local page store of the DSM (see ../contract.ts): pages in SharedArrayBuffers, Proxy views and
 * struct helpers for application threads, synchronous page faults resolved by the fault thread.
 *
 *   const buffers = createDsmBuffers({ pageSize: 4096, pageCount: 1024 });
 *   const ft = await startFaultThread(buffers, { handlerModule }); // fault thread: PageStore + handler
 *   const mem = new AppMemory(buffers);                           // any app thread
 *   mem.u32[addr >>> 2] = 7;                                      // may block in a page fault
 */
export { createDsmBuffers, DEFAULT_MAX_THREADS, DEFAULT_PAGE_COUNT, DEFAULT_PAGE_SIZE } from './layout.js';
export type { DsmBuffers, LayoutOptions } from './layout.js';
export { AppMemory, DEFAULT_FAULT_TIMEOUT_MS, DEFAULT_LOCK_TIMEOUT_MS } from './app.js';
export type { AppMemoryOptions, AppMemoryStats } from './app.js';
export type { DsmView } from './views.js';
export { defineStruct } from './struct.js';
export type { FieldType, Struct, StructRef, StructSpec } from './struct.js';
export { PageStore } from './store.js';
export type { PageStoreOptions, PageStoreStats } from './store.js';
export { startFaultThread } from './fault-thread.js';
export type { FaultThread, FaultThreadContext, FaultThreadHandler, StartFaultThreadOptions } from './fault-thread.js';
