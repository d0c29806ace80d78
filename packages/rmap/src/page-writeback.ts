/**
 * Write-back in flight: `test_set_page_writeback` / `test_clear_page_writeback`
 * (mm/page-writeback.c), `end_page_writeback` (mm/filemap.c) and
 * `rotate_reclaimable_page` (mm/swap.c), kept together because the model's
 * block layer is this file.
 *
 * A write that reclaim starts (swap_writepage of a swap-cache page, the disk
 * filesystem's writepage of a page-cache page, both from shrink_list's
 * pageout) does not finish in the same call, as in the kernel: the page's
 * word is stored at submission, the page gets PG_writeback (nr_writeback,
 * meminfo Writeback, counts it) and is unlocked, and shrink_list puts it back
 * on the inactive list (`goto keep`). While PG_writeback is set the page
 * cannot leave its cache: shrink_list keeps it, remove_exclusive_swap_page
 * and free_swap_and_cache leave it, and the paths that must drop it wait for
 * it first (wait_on_page_writeback).
 *
 * When the write completes (end_page_writeback): a page that reclaim marked
 * PG_reclaim and that is still on the inactive list, unlocked and clean is
 * moved to the inactive list's tail (rotate_reclaimable_page, pgrotated), so
 * the next scan frees it first; PG_writeback is cleared.
 *
 * When does the I/O complete? The model has no clock, so completion happens
 * where the kernel sleeps and lets the disk catch up:
 * - `m.completeWriteback()` (every write in flight, in submission order);
 * - try_to_free_pages' `blk_congestion_wait` (a priority pass below
 *   DEF_PRIORITY - 2 that scanned pages), and __alloc_pages' retry nap after
 *   a direct-reclaim run;
 * - kswapd sleeping between two balance_pgdat runs of `m.reclaim`;
 * - `wait_on_page_writeback` of one page (truncate, swapoff, tmpfs swap-in).
 * `m.pageout(pfn)` alone never completes a write: the page it wrote stays
 * under write-back until one of the above.
 *
 * Synchronous writers (sync, msync, invalidate) keep writing at once: they
 * wait on the write they started, and the model has nothing to interleave.
 */

import { PS } from './arch/percpu.js'
import type { Cpu } from './cpu.js'
import { KernelBugError } from './errors.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'

/** The writes in flight, in submission order (the bios the model's disk has not completed). */
interface Inflight {
  pfns: number[]
  head: number
}

const queues = new WeakMap<Machine, Inflight>()

function queueOf(m: Machine): Inflight {
  let q = queues.get(m)
  if (!q) {
    q = { pfns: [], head: 0 }
    queues.set(m, q)
  }
  return q
}

/** Pages under write-back, oldest submission first (for m.check()). */
export function pagesUnderWriteback(m: Machine): number[] {
  const q = queues.get(m)
  return q ? q.pfns.slice(q.head).filter((pfn) => pfn >= 0) : []
}

/**
 * `test_set_page_writeback` as a writepage submits its bio: PG_writeback set
 * (BUG if it already was), nr_writeback++, the write queued.
 */
export function setPageWriteback(m: Machine, c: Cpu, pfn: number): void {
  if (m.frames.testAndSet(pfn, PG.writeback))
    throw new KernelBugError(
      'a page submitted for write-back is not already under write-back',
      'mm/page-writeback.c test_set_page_writeback',
      `pfn ${pfn}`,
    )
  m.env.pageState.inc(c.id, PS.nr_writeback)
  queueOf(m).pfns.push(pfn)
}

/**
 * `rotate_reclaimable_page`: a page reclaim wrote, still on the inactive list,
 * unlocked and clean, goes to the list's tail. Returns false when it left the
 * page where it was (locked, dirty, active or off the LRU).
 */
function rotateReclaimablePage(m: Machine, pfn: number): boolean {
  const fr = m.frames
  if (fr.test(pfn, PG.locked) || fr.test(pfn, PG.dirty) || fr.test(pfn, PG.active) || !fr.test(pfn, PG.lru))
    return false
  m.lruDel(pfn)
  m.lruAddInactiveTail(pfn)
  m.counters.reclaim.rotated++
  return true
}

/** `end_page_writeback`: the write of `pfn` completed (see the module comment). */
function endPageWriteback(m: Machine, c: Cpu, pfn: number): void {
  const fr = m.frames
  if (fr.test(pfn, PG.reclaim)) {
    fr.clear(pfn, PG.reclaim)
    rotateReclaimablePage(m, pfn)
  }
  if (!fr.test(pfn, PG.writeback))
    throw new KernelBugError(
      'a page whose write completes is under write-back',
      'mm/page-writeback.c test_clear_page_writeback',
      `pfn ${pfn}`,
    )
  fr.clear(pfn, PG.writeback)
  m.env.pageState.dec(c.id, PS.nr_writeback)
  m.counters.reclaim.writebacksCompleted++
}

/** Complete every write in flight, oldest first. Returns how many completed. */
export function completeWriteback(m: Machine, c: Cpu): number {
  const q = queues.get(m)
  if (!q) return 0
  let n = 0
  // end_page_writeback never submits a write, so the queue cannot grow meanwhile.
  for (; q.head < q.pfns.length; q.head++) {
    const pfn = q.pfns[q.head]!
    if (pfn < 0) continue
    endPageWriteback(m, c, pfn)
    n++
  }
  q.pfns.length = 0
  q.head = 0
  return n
}

/** `wait_on_page_writeback(page)`: if `pfn` is under write-back, its write completes now. */
export function waitOnPageWriteback(m: Machine, c: Cpu, pfn: number): void {
  if (!m.frames.test(pfn, PG.writeback)) return
  const q = queueOf(m)
  const i = q.pfns.indexOf(pfn, q.head)
  if (i < 0)
    throw new KernelBugError(
      'a page under write-back has a write in flight',
      'mm/filemap.c wait_on_page_writeback',
      `pfn ${pfn}`,
    )
  q.pfns[i] = -1
  endPageWriteback(m, c, pfn)
}
