/** Front door of the RPC layer. */
export * from './contract.js';
export * from './errors.js';
export * from './codec.js';
export * from './stub-support.js';
