/** Settle a promise that must reject with an RpcError, and return the error (anything else fails the test). */
import { isRpcError, type RpcError } from '../../rpc/errors.js';

export async function rpcFailure(p: Promise<unknown>): Promise<RpcError> {
  try {
    const v = await p;
    throw new Error(`expected an RpcError, got result ${JSON.stringify(v)}`);
  } catch (e) {
    if (!isRpcError(e)) throw e;
    return e;
  }
}
