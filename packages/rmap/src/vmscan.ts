/**
 * mm/vmscan.c of the -aa tree, one page at a time: `shrink_list`'s steps for
 * a single page, as `m.pageout(pfn)` runs them (kernel-facts/rmap.md §2.1).
 *
 * The order is the kernel's: trylock the page lock; page_map_lock;
 * page_referenced (a referenced page still in use is activated); an
 * anonymous page not yet in the swap cache gets a slot (add_to_swap, with
 * page_map_lock dropped around it); try_to_unmap (SWAP_FAIL activates,
 * SWAP_AGAIN keeps the page, SWAP_SUCCESS goes on); page_map_lock dropped; a
 * dirty page is written (pageout: swap_writepage for a swap-cache page, the
 * filesystem's writepage for a page-cache page); then, if only the cache and
 * reclaim still hold it, the page leaves the swap cache (its slot reference
 * freed) or the page cache, and is freed.
 *
 * The LRU scan around it (isolating pages from the inactive list,
 * refill_inactive_zone, m.reclaim) is a later step of issue 4.
 */

import { pageCacheOf, removeFromPageCache, writePage } from './filemap.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { pageMapLock, pageMapUnlock } from './rmap/objrmap.js'
import type { SwapResult } from './rmap/strategy.js'
import { addToSwap, deleteFromSwapCacheLocked, swapWritepage } from './swap_state.js'
import { swapFree } from './swapfile.js'

/** What `m.pageout(pfn)` did to the page, stage by stage. */
export interface PageoutReport {
  /** The page frame. */
  pfn: number
  /**
   * The outcome: `'freed'` (written if dirty, out of every cache, back to the
   * free lists), `'activated'` (put on the active list: referenced and in use,
   * no swap slot free, or SWAP_FAIL), `'kept'` (put back on the inactive list:
   * page lock busy, SWAP_AGAIN, still dirty, or still used by someone else).
   */
  result: 'freed' | 'activated' | 'kept'
  /** Why it ended there, in shrink_list's terms (e.g. `'referenced and in use'`, `'SWAP_AGAIN'`). */
  reason: string
  /** What page_referenced returned (young ptes cleared, plus PG_referenced). */
  referenced: number
  /** True when this pass gave the page its swap slot (add_to_swap). */
  addedToSwap: boolean
  /** The page's swap slot after the pass (a swap-cache page), or the slot it was written to and left; null if none. */
  swap: { type: number; offset: number } | null
  /** try_to_unmap's answer, or null when it was not called (unmapped page, or the pass stopped earlier). */
  unmap: SwapResult | null
  /** True when pageout wrote the page (to its swap slot or its file). */
  wrote: boolean
}

/** `page_mapping_inuse`: mapped, or a page-cache page of a file some vma maps. */
function pageMappingInuse(m: Machine, pfn: number): boolean {
  if (m.frames.mapcount[pfn]! > 0) return true
  const as = pageCacheOf(m, pfn)
  return as !== null && (as.iMmap.length > 0 || as.iMmapShared.length > 0)
}

/**
 * Take one page on an LRU list through shrink_list (see the module comment).
 * The page is taken off its list first, as shrink_list finds it isolated
 * with a reference held, and put back on the list the outcome names.
 */
export function shrinkPage(m: Machine, pfn: number): PageoutReport {
  const fr = m.frames
  const s = m.swap
  const c = m.counters.swap
  c.pageouts++
  const report: PageoutReport = {
    pfn,
    result: 'kept',
    reason: '',
    referenced: 0,
    addedToSwap: false,
    swap: null,
    unmap: null,
    wrote: false,
  }
  const slot = (): { type: number; offset: number } | null => {
    const e = fr.getPrivate(pfn)
    return fr.test(pfn, PG.swapcache) && e ? { type: s.type(e), offset: s.offset(e) } : null
  }
  // isolate_lru_page: off the list, with a reference of its own.
  m.getPage(pfn)
  m.lruDel(pfn)
  const finish = (result: PageoutReport['result'], reason: string, locked: boolean): PageoutReport => {
    report.result = result
    report.reason = reason
    if (!report.swap) report.swap = slot()
    if (locked) fr.clear(pfn, PG.locked)
    if (result === 'activated') {
      m.lruAddActive(pfn)
      c.activated++
    } else if (result === 'kept') m.lruAddInactive(pfn)
    else c.freed++
    m.putPage(pfn)
    return report
  }
  if (fr.testAndSet(pfn, PG.locked)) return finish('kept', 'page lock held (TestSetPageLocked failed)', false)
  pageMapLock(m, pfn)
  report.referenced = m.rmap.pageReferenced(m, pfn)
  if (report.referenced && pageMappingInuse(m, pfn)) {
    pageMapUnlock(m, pfn)
    return finish('activated', 'referenced and in use', true)
  }
  if (fr.test(pfn, PG.anon) && !fr.test(pfn, PG.swapcache)) {
    pageMapUnlock(m, pfn)
    if (!addToSwap(m, pfn)) return finish('activated', 'add_to_swap: no free swap slot', true)
    report.addedToSwap = true
    pageMapLock(m, pfn)
  }
  if (fr.mapcount[pfn]! > 0 && fr.mapping[pfn] !== -1) {
    const r = m.rmap.tryToUnmap(m, pfn)
    report.unmap = r
    if (r === 'SWAP_FAIL') {
      pageMapUnlock(m, pfn)
      return finish('activated', 'SWAP_FAIL', true)
    }
    if (r === 'SWAP_AGAIN') {
      pageMapUnlock(m, pfn)
      return finish('kept', 'SWAP_AGAIN', true)
    }
  }
  pageMapUnlock(m, pfn)
  if (fr.test(pfn, PG.dirty)) {
    // A dirty page that was referenced (but not in use) is not written yet.
    if (report.referenced) return finish('kept', 'dirty and referenced', true)
    if (fr.test(pfn, PG.swapcache)) {
      swapWritepage(m, pfn)
      report.wrote = true
    } else if (pageCacheOf(m, pfn)) {
      report.wrote = writePage(m, pfn)
    } else {
      return finish('kept', 'dirty page without a mapping to write it to', true)
    }
  }
  // is_page_cache_freeable: only reclaim's reference and the cache's remain.
  if (fr.count[pfn] !== 2) return finish('kept', `still in use (page count ${fr.count[pfn]})`, true)
  if (fr.test(pfn, PG.swapcache)) {
    const entry = fr.getPrivate(pfn)
    report.swap = slot()
    deleteFromSwapCacheLocked(m, pfn)
    swapFree(m, entry)
    m.putPage(pfn) // the swap cache's reference
  } else if (pageCacheOf(m, pfn)) {
    fr.clear(pfn, PG.locked)
    removeFromPageCache(m, pfn)
    return finish('freed', 'freed', false)
  } else {
    return finish('kept', 'not in a cache', true)
  }
  return finish('freed', 'freed', true)
}
