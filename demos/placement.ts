/**
 * Where a page lives and who manages it, as the demos explain it.
 *
 * Owner before anyone touched it: the node whose contiguous range holds the page (dsm/node/options.ts,
 * initialOwner), which is where that node's allocator hands out memory. Manager: Ivy's fixed
 * distributed manager, sorted(nodes)[page mod N] (dsm/protocol/ivy-node.ts, IvyNode.managerOf).
 *
 * Under the fixed distributed manager a node's death costs two things: the pages it owned
 * (DSM_ERR_PAGE_LOST) and the directory of the pages it managed (DSM_ERR_MANAGER_DEAD for a fault
 * whose probable-owner hint is wrong: nobody can say who owns the page, even when the owner is
 * alive). The DSM demo keeps the list off pages the victim manages, so the kill shows the first
 * loss on its own whatever the survivors' hints; the demo prints that it does so.
 */
import type { DsmThread } from '../dsm/node/index.js';
import { DsmError } from '../dsm/errors.js';
import { managerOf } from '../dsm/protocol/index.js';


/**
 * An allocator for `t` that never returns memory in a page managed by `avoid`: a block that lands
 * in such a page is abandoned together with the rest of that page (the bump allocator has no free).
 */
export function allocAvoidingManager(t: DsmThread, nodes: readonly number[], avoid: number): (bytes: number) => number {
  const ps = t.mem.pageSize;
  return (bytes) => {
    for (let tries = 0; tries <= nodes.length; tries++) {
      const a = t.alloc(bytes);
      const page = Math.floor(a / ps);
      if (managerOf(nodes, page) !== avoid) return a;
      const used = (a + ((bytes + 7) & ~7)) % ps; // bytes of the block's last page now in use
      if (used !== 0) t.alloc(ps - used); // fill the rest of that page: the next block starts on a fresh page
    }
    throw new DsmError('DSM_ERR_OUT_OF_MEMORY', `no page managed by a node other than ${avoid} found in this node's range`);
  };
}
