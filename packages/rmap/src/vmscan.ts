/**
 * mm/vmscan.c of the -aa tree (ROCm/ROCK-Kernel-Driver at 0a71295f, the
 * 2.6.5 objrmap + anon_vma tree): shrink_list one page at a time, as
 * `m.pageout(pfn)` runs it, and around it the LRU scan of that tree —
 * shrink_zone with the per-zone nr_scan_active / nr_scan_inactive
 * accumulators, shrink_cache, refill_inactive_zone, shrink_caches,
 * try_to_free_pages and balance_pgdat. Mainline 2.6.5 has the same scan;
 * 2.6.4's (refill_counter, a max_scan floor, shrink_cache stopping at
 * nr_pages) is gone. The locking and the order of the steps:
 * docs/designs.md#locking-and-the-reclaim-order.
 *
 * shrink_list, for one page isolated with a reference of its own: trylock
 * the page lock (busy → kept); under write-back (PG_writeback) → kept;
 * page_map_lock; page_referenced — 0 for an unmapped page — and, if it found
 * a reference and page_mapping_inuse (mapped, a swap-cache page, or a page of
 * a file some vma maps), activated; a mapped page with no page_mapping (an
 * anonymous page not in the swap cache) gets a slot (add_to_swap, with
 * page_map_lock dropped around it; no slot → activated); a mapped page with a
 * page_mapping goes through try_to_unmap (SWAP_FAIL → activated, SWAP_AGAIN →
 * kept). Then a dirty page: referenced → kept; not is_page_cache_freeable
 * (someone besides the cache and reclaim holds it) → kept; no mapping → kept;
 * else PG_dirty is cleared, PG_reclaim set and writepage called —
 * swap_writepage for a swap-cache page (which first tries
 * remove_exclusive_swap_page and writes nothing when the slot has no other
 * user), shmem_writepage for tmpfs, the filesystem's for a disk file. A
 * writepage that refuses (WRITEPAGE_ACTIVATE) activates; otherwise the page
 * goes back on the inactive list (`goto keep`): a write started leaves it
 * under write-back (result `'written'`), to be freed by a later pass once the
 * write completed (see page-writeback.ts for when that happens). A clean page
 * that only the cache and reclaim hold (count 2) leaves the swap cache (slot
 * freed) or the page cache and is freed.
 *
 * The scan, per zone: `shrink_zone(zone, max_scan)` adds ratio + 1 to
 * nr_scan_active, ratio = SWAP_CLUSTER_MAX·nr_active / ((nr_inactive | 1)·2),
 * and once it reaches SWAP_CLUSTER_MAX refills that many pages (no cap) and
 * restarts it; it adds max_scan to nr_scan_inactive and once that reaches
 * SWAP_CLUSTER_MAX runs shrink_cache over that many and restarts it. Both
 * accumulators live in the zone across runs. `shrink_cache` takes batches of
 * SWAP_CLUSTER_MAX from the inactive tail through shrink_list until max_scan
 * is used up (each batch uses one more than it took: the loop's
 * post-increment), however many pages it freed. `refill_inactive_zone` moves
 * pages from the active tail: reclaim_mapped from swap_tendency =
 * nr_mapped·100/total_memory/2 + distress + vm_swappiness (60), distress =
 * 100 >> zone->prev_priority, reclaim_mapped when ≥ 100, total_memory =
 * nr_free_pagecache_pages() as kswapd_init computes it (page_alloc.ts); a
 * mapped page stays active unless reclaim_mapped holds and page_referenced
 * finds nothing; with no swap at all a page with no page_mapping (anonymous,
 * not in the swap cache — mapped or not) and no buffers stays active; the
 * rest go inactive.
 *
 * `balance_pgdat(pgdat, nr_pages)` (kswapd, `m.reclaim`; the nr_pages mode
 * shrink_all_memory uses): priorities 12 down to 1, every zone in zone order
 * with max_scan = nr_inactive >> priority, stopping after the first priority
 * at whose end nr_pages are freed. `try_to_free_pages` (direct reclaim):
 * priorities 12 down to 0, the zonelist (HighMem, Normal, DMA), max_scan =
 * nr_inactive >> priority, temp_priority set for a zone below pages_high,
 * stopping after the first priority at whose end SWAP_CLUSTER_MAX were freed;
 * below DEF_PRIORITY - 2 a pass that scanned pages naps (blk_congestion_wait),
 * which lets write-back complete. Both copy temp_priority to prev_priority at
 * the end, so a run that struggled makes the next one reclaim mapped memory
 * sooner.
 *
 * Simplifications: no per-cpu pagevecs; all_unreclaimable (and the
 * zone->pages_scanned it comes from) and slab shrinking are not modelled;
 * kswapd's watermark mode (nr_pages 0) is not modelled; m.reclaim runs
 * balance_pgdat again while prev_priority still falls or write-back completed
 * in between (kswapd woken again), and stops with `progress: false` after a
 * run from prev_priority 1 that freed nothing with no write to wait for; the
 * list tail is found by walking from the head (lists are singly-headed here).
 *
 * Direct reclaim: in the kernel, __alloc_pages calls try_to_free_pages after
 * the fault path dropped page_table_lock and its pte kmap. The model's fault
 * paths keep the pte mapped across the allocation, so the model runs direct
 * reclaim at fault entry instead, when free frames fall below
 * {@link FAULT_WATERMARK} (the most one fault can allocate: pmd, pte page,
 * page-cache page, COW copy). When reclaim frees nothing and fewer than that
 * remain, out_of_memory picks a victim (see {@link outOfMemory}).
 */

import { PS } from './arch/percpu.js'
import type { Cpu } from './cpu.js'
import { KernelBugError, OomKillError } from './errors.js'
import { pageCacheOf, removeFromPageCache, writePage } from './filemap.js'
import { testSetPageLocked, unlockPage } from './locks.js'
import type { Machine, Process } from './machine.js'
import { PG } from './mm/page.js'
import { nrFreePagecachePages, zoneWatermarks } from './page_alloc.js'
import { completeWriteback, setPageWriteback } from './page-writeback.js'
import type { SwapResult } from './rmap/strategy.js'
import { addToSwap, deleteFromSwapCacheLocked, swapWritepage } from './swap_state.js'
import { swapFree } from './swapfile.js'

/** What `m.pageout(pfn)` did to the page, stage by stage. */
export interface PageoutReport {
  /** The page frame. */
  pfn: number
  /**
   * The outcome: `'freed'` (out of every cache, back to the free lists),
   * `'written'` (write-back started: PG_writeback set, back on the inactive
   * list; a later pass frees it once the write completed, see
   * `m.completeWriteback()`), `'activated'` (put on the active list:
   * referenced and in use, no swap slot free, SWAP_FAIL, or writepage
   * refused), `'kept'` (put back on the inactive list: page lock busy, under
   * write-back, SWAP_AGAIN, dirty and referenced or still used by someone
   * else, or a writepage that finished at once without freeing it).
   */
  result: 'freed' | 'written' | 'activated' | 'kept'
  /** Why it ended there, in shrink_list's terms (e.g. `'referenced and in use'`, `'SWAP_AGAIN'`). */
  reason: string
  /** What page_referenced returned (young ptes cleared, plus PG_referenced; 0 for an unmapped page). */
  referenced: number
  /** True when this pass gave the page its swap slot (add_to_swap). */
  addedToSwap: boolean
  /** The page's swap slot after the pass (a swap-cache page), or the slot it was freed from; null if none. */
  swap: { type: number; offset: number } | null
  /** try_to_unmap's answer, or null when it was not called (unmapped page, or the pass stopped earlier). */
  unmap: SwapResult | null
  /** True when pageout submitted a write of the page (to its swap slot or its file). */
  wrote: boolean
}

/** `page_mapping(page)` is not NULL: a swap-cache page (swapper_space) or a page-cache page; never an anonymous page. */
function hasPageMapping(m: Machine, pfn: number): boolean {
  const fr = m.frames
  if (fr.test(pfn, PG.swapcache)) return true
  return !fr.test(pfn, PG.anon) && fr.mapping[pfn] !== -1
}

/**
 * `page_mapping_inuse` (-aa): mapped; else, with a page_mapping, a swap-cache
 * page ("more reluctant to reclaim swapcache than pagecache") or a page of a
 * file some vma maps. With the -aa page_referenced (0 for an unmapped page)
 * only the first test can matter in shrink_list; the rest is the kernel's.
 */
function pageMappingInuse(m: Machine, pfn: number): boolean {
  if (m.frames.mapcount[pfn]! > 0) return true
  if (!hasPageMapping(m, pfn)) return false
  if (m.frames.test(pfn, PG.swapcache)) return true
  const as = pageCacheOf(m, pfn)
  return as !== null && (as.iMmap.length > 0 || as.iMmapShared.length > 0)
}

/** Swap slot of a swap-cache page, or null. */
function slotOf(m: Machine, pfn: number): { type: number; offset: number } | null {
  const e = m.frames.getPrivate(pfn)
  return m.frames.test(pfn, PG.swapcache) && e ? { type: m.swap.type(e), offset: m.swap.offset(e) } : null
}

/** A fresh report for {@link shrinkPageInto}. */
export function newPageoutReport(): PageoutReport {
  return {
    pfn: -1,
    result: 'kept',
    reason: '',
    referenced: 0,
    addedToSwap: false,
    swap: null,
    unmap: null,
    wrote: false,
  }
}

/** End of one page's pass: unlock, put it on the list its outcome names, drop reclaim's reference. */
function finish(
  m: Machine,
  c: Cpu,
  r: PageoutReport,
  result: PageoutReport['result'],
  reason: string,
  locked: boolean,
  detail: boolean,
): PageoutReport {
  const pfn = r.pfn
  r.result = result
  r.reason = reason
  if (detail && !r.swap) r.swap = slotOf(m, pfn)
  if (locked) unlockPage(m, c, pfn)
  const ctr = m.counters.swap
  if (result === 'activated') {
    m.lruAddActive(pfn)
    ctr.activated++
  } else if (result === 'kept' || result === 'written') m.lruAddInactive(pfn)
  else ctr.freed++
  m.putPage(pfn)
  return r
}

/**
 * shrink_list's pageout of a dirty page (page locked, unmapped, only the cache
 * and reclaim holding it): clear_page_dirty_for_io, SetPageReclaim, writepage.
 * Every writepage unlocks the page unless it answers WRITEPAGE_ACTIVATE.
 */
function pageout(m: Machine, c: Cpu, pfn: number, r: PageoutReport, detail: boolean): PageoutReport {
  const fr = m.frames
  fr.set(pfn, PG.reclaim)
  if (fr.test(pfn, PG.swapcache)) {
    fr.clear(pfn, PG.dirty) // swapper_space keeps no nr_dirty
    if (detail) r.swap = slotOf(m, pfn)
    r.wrote = swapWritepage(m, c, pfn)
    unlockPage(m, c, pfn)
    if (!r.wrote) {
      fr.clear(pfn, PG.reclaim)
      return finish(
        m,
        c,
        r,
        'kept',
        'swap_writepage: remove_exclusive_swap_page took it out of the swap cache (no other user of the slot), nothing written',
        false,
        detail,
      )
    }
    return finish(m, c, r, 'written', 'written to swap, under write-back (PG_writeback)', false, detail)
  }
  const as = pageCacheOf(m, pfn)!
  if (as.shmem) {
    // writepage: clear_page_dirty_for_io, then shmem_writepage.
    if (!writePage(m, c, pfn)) {
      // shmem_writepage redirtied it (SHM_LOCKed inode, or no free swap slot).
      fr.clear(pfn, PG.reclaim)
      return finish(m, c, r, 'activated', 'writepage refused (WRITEPAGE_ACTIVATE)', true, detail)
    }
    fr.clear(pfn, PG.reclaim)
    unlockPage(m, c, pfn)
    return finish(
      m,
      c,
      r,
      'kept',
      'shmem_writepage moved it to the swap cache (dirty: a later pass writes it)',
      false,
      detail,
    )
  }
  const index = fr.index[pfn]!
  writePage(m, c, pfn)
  if (index < as.sizePages) {
    setPageWriteback(m, c, pfn)
    r.wrote = true
  } else fr.clear(pfn, PG.reclaim) // wholly past EOF: cleaned, nothing submitted
  unlockPage(m, c, pfn)
  if (!r.wrote) return finish(m, c, r, 'kept', 'writepage: past EOF, cleaned without a write', false, detail)
  return finish(m, c, r, 'written', 'written to its file, under write-back (PG_writeback)', false, detail)
}

/**
 * Take one page on an LRU list through shrink_list (see the module comment),
 * filling `r` (reused across a batch: no allocation per page unless `detail`
 * asks for the swap slot object). The page is taken off its list first, as
 * shrink_list finds it isolated with a reference held, and put back on the
 * list the outcome names.
 */
export function shrinkPageInto(
  m: Machine,
  c: Cpu,
  pfn: number,
  r: PageoutReport,
  detail: boolean,
): PageoutReport {
  const fr = m.frames
  m.counters.swap.pageouts++
  r.pfn = pfn
  r.result = 'kept'
  r.reason = ''
  r.referenced = 0
  r.addedToSwap = false
  r.swap = null
  r.unmap = null
  r.wrote = false
  // isolate_lru_page: off the list, with a reference of its own.
  m.getPage(pfn)
  m.lruDel(pfn)
  if (m.smp !== null) m.smp.preempt('shrink_list:isolated→TestSetPageLocked')
  if (testSetPageLocked(m, c, pfn))
    return finish(m, c, r, 'kept', 'page lock held (TestSetPageLocked failed)', false, detail)
  if (m.smp !== null) m.smp.preempt('shrink_list:page locked→page_map_lock')
  if (fr.test(pfn, PG.writeback))
    return finish(m, c, r, 'kept', 'under write-back (PG_writeback)', true, detail)
  m.rmap.pageMapLock(m, c, pfn)
  const referenced = m.rmap.pageReferenced(m, c, pfn)
  r.referenced = referenced
  if (referenced && pageMappingInuse(m, pfn)) {
    m.rmap.pageMapUnlock(m, c, pfn)
    return finish(m, c, r, 'activated', 'referenced and in use', true, detail)
  }
  let mapping = hasPageMapping(m, pfn)
  if (fr.mapcount[pfn]! > 0 && !mapping && !fr.test(pfn, PG.private)) {
    m.rmap.pageMapUnlock(m, c, pfn)
    if (m.smp !== null) m.smp.preempt('shrink_list:page_map_unlock→add_to_swap')
    if (!addToSwap(m, pfn))
      return finish(m, c, r, 'activated', 'add_to_swap: no free swap slot', true, detail)
    r.addedToSwap = true
    m.rmap.pageMapLock(m, c, pfn)
    mapping = true
  }
  if (fr.mapcount[pfn]! > 0 && mapping) {
    const u = m.rmap.tryToUnmap(m, c, pfn)
    r.unmap = u
    if (u === 'SWAP_FAIL') {
      m.rmap.pageMapUnlock(m, c, pfn)
      return finish(m, c, r, 'activated', 'SWAP_FAIL', true, detail)
    }
    if (u === 'SWAP_AGAIN') {
      m.rmap.pageMapUnlock(m, c, pfn)
      return finish(m, c, r, 'kept', 'SWAP_AGAIN', true, detail)
    }
  }
  m.rmap.pageMapUnlock(m, c, pfn)
  if (m.smp !== null) m.smp.preempt('shrink_list:try_to_unmap done→pageout')
  if (fr.test(pfn, PG.dirty)) {
    if (referenced) return finish(m, c, r, 'kept', 'dirty and referenced', true, detail)
    // is_page_cache_freeable: only reclaim's reference and the cache's remain.
    if (fr.count[pfn]! - (fr.test(pfn, PG.private) ? 1 : 0) !== 2)
      return finish(m, c, r, 'kept', 'dirty, still in use (page count != 2)', true, detail)
    if (!mapping) return finish(m, c, r, 'kept', 'dirty page without a mapping to write it to', true, detail)
    return pageout(m, c, pfn, r, detail)
  }
  if (!mapping) return finish(m, c, r, 'kept', 'not in a cache', true, detail)
  if (fr.count[pfn] !== 2) return finish(m, c, r, 'kept', 'still in use (page count != 2)', true, detail)
  if (fr.test(pfn, PG.swapcache)) {
    const entry = fr.getPrivate(pfn)
    if (detail) r.swap = slotOf(m, pfn)
    deleteFromSwapCacheLocked(m, pfn)
    swapFree(m, entry)
    m.putPage(pfn) // the swap cache's reference
    return finish(m, c, r, 'freed', 'freed', true, detail)
  }
  unlockPage(m, c, pfn)
  removeFromPageCache(m, pfn)
  return finish(m, c, r, 'freed', 'freed', false, detail)
}

/** `m.pageout(pfn)`: one page through shrink_list, with a report of its own. */
export function shrinkPage(m: Machine, c: Cpu, pfn: number): PageoutReport {
  const r = shrinkPageInto(m, c, pfn, newPageoutReport(), true)
  if (r.result === 'kept' && r.reason.endsWith('(page count != 2)'))
    r.reason = r.reason.replace('!= 2', String(m.frames.count[pfn]! + 1)) // as counted with reclaim's reference
  return r
}

/** SWAP_CLUSTER_MAX: pages per shrink_list batch, and the accumulators' threshold. */
export const SWAP_CLUSTER_MAX = 32
/** DEF_PRIORITY: the first scan priority (scan 1/4096 of a list); 0 scans all of it. */
export const DEF_PRIORITY = 12
/** vm_swappiness's default. */
export const VM_SWAPPINESS = 60
/** The most balance_pgdat runs one `m.reclaim` call makes (a bound on kswapd being woken again). */
export const MAX_KSWAPD_RUNS = 256
/** Free frames the model keeps before a fault: the most one fault allocates (pmd, pte page, cache page, COW copy). */
export const FAULT_WATERMARK = 4

/** Per-zone scan state (zone->prev_priority, temp_priority, nr_scan_active, nr_scan_inactive) and total_memory; the per-cpu scratch is in cpu.ts. */
interface ScanState {
  prevPriority: Int32Array
  tempPriority: Int32Array
  nrScanActive: Int32Array
  nrScanInactive: Int32Array
  /** vmscan.c's total_memory: nr_free_pagecache_pages() at kswapd_init. */
  totalMemory: number
}

const zoneState = new WeakMap<Machine, ScanState>()

function stateOf(m: Machine): ScanState {
  let st = zoneState.get(m)
  if (!st) {
    const n = m.env.zones.length
    st = {
      prevPriority: new Int32Array(n).fill(DEF_PRIORITY),
      tempPriority: new Int32Array(n).fill(DEF_PRIORITY),
      nrScanActive: new Int32Array(n),
      nrScanInactive: new Int32Array(n),
      totalMemory: nrFreePagecachePages(m.env),
    }
    zoneState.set(m, st)
  }
  return st
}

/**
 * refill_inactive_zone's rule: swap_tendency = mapped_ratio/2 + distress +
 * swappiness, mapped_ratio = nr_mapped·100/total_memory, distress = 100 >>
 * prev_priority (integer arithmetic, as the kernel's longs). total_memory is
 * nr_free_pagecache_pages() (see page_alloc.ts).
 */
export function swapTendency(
  nrMapped: number,
  totalMemory: number,
  prevPriority: number,
  swappiness = VM_SWAPPINESS,
): { mappedRatio: number; distress: number; swapTendency: number; reclaimMapped: boolean } {
  const mappedRatio = Math.trunc((nrMapped * 100) / Math.max(1, totalMemory))
  const distress = 100 >> prevPriority
  const t = Math.trunc(mappedRatio / 2) + distress + swappiness
  return { mappedRatio, distress, swapTendency: t, reclaimMapped: t >= 100 }
}

/** vmscan.c's `total_memory` for a machine: nr_free_pagecache_pages() as kswapd_init computes it. */
export function totalMemory(m: Machine): number {
  return stateOf(m).totalMemory
}

/** What `m.reclaim()` did. */
export interface ReclaimReport {
  /** Pages asked for. */
  requested: number
  /** Pages freed. */
  freed: number
  /** Pages shrink_list looked at (inactive list). */
  scanned: number
  /** Pages refill_inactive_zone looked at (active list). */
  scannedActive: number
  /** Pages moved from the active to the inactive list. */
  deactivated: number
  /** Pages put (back) on the active list by either scan. */
  activated: number
  /** Pages whose write was submitted (to swap or their file). */
  writes: number
  /** Writes that completed during the run (kswapd's sleeps, blk_congestion_wait). */
  writebacksCompleted: number
  /** Slots given by add_to_swap. */
  addedToSwap: number
  /** The rmap walk cost of the run: vmas visited and ptes probed by page_referenced and try_to_unmap. */
  walks: { vmasVisited: number; ptesProbed: number }
  /** balance_pgdat runs (kswapd passes) it took. */
  passes: number
  /** The lowest priority the last run reached (12 = first pass). */
  priority: number
  /** reclaim_mapped at the last refill_inactive_zone (with the swap_tendency it came from). */
  reclaimMapped: boolean
  swapTendency: number
  /** Per zone: name, pages scanned (both lists), freed, activated. */
  zones: Array<{ zone: string; scanned: number; freed: number; activated: number; deactivated: number }>
  /** False when fewer than `requested` pages could be freed (reclaim stopped rather than loop). */
  progress: boolean
}

/** Collect up to `n` pfns from the tail (oldest end) of LRU list `list` into this cpu's `lruBatch`; returns how many. */
function isolateTail(m: Machine, c: Cpu, list: number, n: number): number {
  const fr = m.frames
  let pfn = m.lruHead[list]!
  if (pfn < 0 || n <= 0) return 0
  if (c.lruBatch.length < n) c.lruBatch = new Int32Array(n) // grows once per larger batch size, not per page
  let guard = m.lruCount[list]!
  while (fr.lruNext[pfn]! >= 0 && guard-- > 0) pfn = fr.lruNext[pfn]!
  let k = 0
  while (pfn >= 0 && k < n) {
    c.lruBatch[k++] = pfn
    pfn = fr.lruPrev[pfn]!
  }
  return k
}

type ZoneReport = ReclaimReport['zones'][number]

/**
 * `refill_inactive_zone(zone, nr_pages)`: take `nr` pages off the tail of the
 * active list; reclaim_mapped from swap_tendency (read once per call, from
 * nr_mapped and zone->prev_priority); a mapped page stays active unless
 * reclaim_mapped holds and page_referenced (under page_map_lock) finds
 * nothing; with no swap at all (total_swap_pages == 0) a page with no
 * page_mapping and no buffers stays active; every other page goes inactive.
 */
function refillInactiveZone(
  m: Machine,
  c: Cpu,
  st: ScanState,
  zone: number,
  nr: number,
  rep: ReclaimReport,
  z: ZoneReport,
): void {
  const fr = m.frames
  const t = swapTendency(m.env.pageState.count(PS.nr_mapped), st.totalMemory, st.prevPriority[zone]!)
  rep.reclaimMapped = t.reclaimMapped
  rep.swapTendency = t.swapTendency
  const k = isolateTail(m, c, zone * 2 + 1, nr)
  const noSwap = m.swap.totalSwapPages === 0
  for (let i = 0; i < k; i++) {
    const pfn = c.lruBatch[i]!
    if (!fr.test(pfn, PG.lru) || !fr.test(pfn, PG.active))
      throw new KernelBugError(
        'a page on the active list has PG_lru and PG_active (TestClearPageLRU / TestClearPageActive)',
        'mm/vmscan.c refill_inactive_zone',
        `pfn ${pfn}`,
      )
    rep.scannedActive++
    z.scanned++
    m.lruDel(pfn)
    let keep = false
    if (fr.mapcount[pfn]! > 0) {
      keep = !t.reclaimMapped
      if (!keep) {
        m.rmap.pageMapLock(m, c, pfn)
        keep = m.rmap.pageReferenced(m, c, pfn) > 0
        m.rmap.pageMapUnlock(m, c, pfn)
      }
    }
    if (!keep && noSwap && !hasPageMapping(m, pfn) && !fr.test(pfn, PG.private)) keep = true
    if (keep) {
      m.lruAddActive(pfn)
      rep.activated++
      z.activated++
    } else {
      m.lruAddInactive(pfn)
      rep.deactivated++
      z.deactivated++
    }
  }
}

/**
 * `shrink_cache(zone, max_scan)`: batches of SWAP_CLUSTER_MAX pages from the
 * tail of the inactive list through shrink_list until `maxScan` is used up,
 * each batch using one more than it took (`nr_scan++ < SWAP_CLUSTER_MAX`).
 * Returns the pages freed.
 */
function shrinkCache(
  m: Machine,
  c: Cpu,
  zone: number,
  maxScan: number,
  rep: ReclaimReport,
  z: ZoneReport,
): number {
  const fr = m.frames
  const ctr = m.counters.swap
  let ret = 0
  while (maxScan > 0) {
    const k = isolateTail(m, c, zone * 2, SWAP_CLUSTER_MAX)
    if (k === 0) break
    maxScan -= k + 1
    let freed = 0
    for (let i = 0; i < k; i++) {
      const pfn = c.lruBatch[i]!
      if (!fr.test(pfn, PG.lru) || fr.test(pfn, PG.active))
        throw new KernelBugError(
          'a page on the inactive list has PG_lru and not PG_active (TestClearPageLRU)',
          'mm/vmscan.c shrink_cache',
          `pfn ${pfn}`,
        )
      const a0 = ctr.addToSwap
      const batchReport = shrinkPageInto(m, c, pfn, c.pageout, false)
      rep.scanned++
      z.scanned++
      if (batchReport.wrote) rep.writes++
      rep.addedToSwap += ctr.addToSwap - a0
      if (batchReport.result === 'freed') {
        freed++
        z.freed++
      } else if (batchReport.result === 'activated') {
        rep.activated++
        z.activated++
      }
    }
    ret += freed
  }
  rep.freed += ret
  return ret
}

/**
 * `shrink_zone(zone, max_scan)`: nr_scan_active += ratio + 1 (ratio =
 * SWAP_CLUSTER_MAX·nr_active / ((nr_inactive | 1)·2)); at SWAP_CLUSTER_MAX
 * or more, refill_inactive_zone takes that many and it restarts at 0. Then
 * nr_scan_inactive += max_scan; at SWAP_CLUSTER_MAX or more, shrink_cache
 * scans that many and it restarts at 0. Returns the pages freed.
 */
function shrinkZone(
  m: Machine,
  c: Cpu,
  st: ScanState,
  zone: number,
  maxScan: number,
  rep: ReclaimReport,
): number {
  const z = rep.zones[zone]!
  const nrActive = m.lruCount[zone * 2 + 1]!
  const nrInactive = m.lruCount[zone * 2]!
  const ratio = Math.trunc((SWAP_CLUSTER_MAX * nrActive) / ((nrInactive | 1) * 2))
  st.nrScanActive[zone]! += ratio + 1
  let count = st.nrScanActive[zone]!
  if (count >= SWAP_CLUSTER_MAX) {
    st.nrScanActive[zone] = 0
    refillInactiveZone(m, c, st, zone, count, rep, z)
  }
  st.nrScanInactive[zone]! += maxScan
  count = st.nrScanInactive[zone]!
  if (count >= SWAP_CLUSTER_MAX) {
    st.nrScanInactive[zone] = 0
    return shrinkCache(m, c, zone, count, rep, z)
  }
  return 0
}

function newReport(m: Machine, pages: number): ReclaimReport {
  return {
    requested: pages,
    passes: 0,
    freed: 0,
    scanned: 0,
    scannedActive: 0,
    deactivated: 0,
    activated: 0,
    writes: 0,
    writebacksCompleted: 0,
    addedToSwap: 0,
    walks: { vmasVisited: 0, ptesProbed: 0 },
    priority: DEF_PRIORITY,
    reclaimMapped: false,
    swapTendency: 0,
    zones: m.env.zones.map((zz) => ({ zone: zz.name, scanned: 0, freed: 0, activated: 0, deactivated: 0 })),
    progress: true,
  }
}

/** Close a report: progress, the walk cost, the counters. */
function endRun(m: Machine, rep: ReclaimReport, v0: number, p0: number): ReclaimReport {
  const rw = m.counters.rmap
  const rc = m.counters.reclaim
  rep.progress = rep.freed >= rep.requested
  rep.walks.vmasVisited = rw.vmasVisited - v0
  rep.walks.ptesProbed = rw.ptesProbed - p0
  rc.scanned += rep.scanned + rep.scannedActive
  rc.freed += rep.freed
  rc.deactivated += rep.deactivated
  rc.activated += rep.activated
  return rep
}

/**
 * kswapd's `balance_pgdat(pgdat, nr_pages)` with a page count (the mode
 * shrink_all_memory uses): priorities DEF_PRIORITY down to 1, every zone in
 * zone order with max_scan = nr_inactive >> priority; after each priority's
 * pass over the zones, done once nr_pages are freed. all_unreclaimable is
 * not modelled. Returns the pages freed, adding to `rep`.
 */
function balancePgdat(m: Machine, c: Cpu, st: ScanState, pages: number, rep: ReclaimReport): number {
  m.counters.reclaim.passes++
  rep.passes++
  st.tempPriority.fill(DEF_PRIORITY)
  let toFree = pages
  for (let priority = DEF_PRIORITY; priority > 0; priority--) {
    rep.priority = priority
    for (let zone = 0; zone < m.env.zones.length; zone++) {
      st.tempPriority[zone] = priority
      toFree -= shrinkZone(m, c, st, zone, m.lruCount[zone * 2]! >> priority, rep)
    }
    if (toFree <= 0) break
  }
  st.prevPriority.set(st.tempPriority)
  return pages - toFree
}

/** Complete the writes in flight where reclaim sleeps (see page-writeback.ts), counting them in `rep`. */
function nap(m: Machine, c: Cpu, rep: ReclaimReport): number {
  const n = completeWriteback(m, c)
  rep.writebacksCompleted += n
  return n
}

/**
 * kswapd woken until `pages` are freed: balance_pgdat runs again while runs
 * free pages, while zone->prev_priority is still falling (a run that failed
 * leaves prev_priority at its last priority, so the next run's swap_tendency
 * carries more distress), while the last run started writes or writes
 * completed before it (kswapd sleeps in between, the disk catches up, and the
 * pages written can be freed), or while a zone's nr_scan_inactive grew without
 * reaching SWAP_CLUSTER_MAX (a short inactive list is scanned only once runs
 * have added up enough max_scan). Stops, with progress false, after a run from
 * prev_priority 1 that did none of these, or after {@link MAX_KSWAPD_RUNS} runs.
 */
function kswapd(m: Machine, c: Cpu, pages: number): ReclaimReport {
  const st = stateOf(m)
  const rw = m.counters.rmap
  const v0 = rw.vmasVisited
  const p0 = rw.ptesProbed
  const rep = newReport(m, pages)
  m.counters.reclaim.runs++
  while (rep.freed < pages) {
    const completed = rep.passes > 0 ? nap(m, c, rep) : 0
    let prevMin = DEF_PRIORITY
    for (let i = 0; i < st.prevPriority.length; i++) prevMin = Math.min(prevMin, st.prevPriority[i]!)
    const w0 = rep.writes
    let acc0 = 0
    for (let i = 0; i < st.nrScanInactive.length; i++) acc0 += st.nrScanInactive[i]!
    const freed = balancePgdat(m, c, st, pages - rep.freed, rep)
    let acc1 = 0
    for (let i = 0; i < st.nrScanInactive.length; i++) acc1 += st.nrScanInactive[i]!
    const idle = freed === 0 && completed === 0 && rep.writes === w0 && acc1 <= acc0
    if ((idle && prevMin <= 1) || rep.passes >= MAX_KSWAPD_RUNS) break
  }
  return endRun(m, rep, v0, p0)
}

/**
 * `try_to_free_pages` for a GFP_HIGHUSER allocation: priorities DEF_PRIORITY
 * down to 0; each runs `shrink_caches` over the zonelist (HighMem, Normal,
 * DMA) — temp_priority = priority for a zone below pages_high, max_scan =
 * nr_inactive >> priority, shrink_zone — and stops once SWAP_CLUSTER_MAX
 * pages were freed in all; below DEF_PRIORITY - 2 a pass that scanned pages
 * waits for write-back (blk_congestion_wait: the writes in flight complete).
 * The out_of_memory call at the end is {@link directReclaim}'s.
 */
export function tryToFreePages(m: Machine, c: Cpu): ReclaimReport {
  const st = stateOf(m)
  const rw = m.counters.rmap
  const v0 = rw.vmasVisited
  const p0 = rw.ptesProbed
  const rep = newReport(m, SWAP_CLUSTER_MAX)
  const wm = zoneWatermarks(m.env)
  m.counters.reclaim.directReclaims++
  rep.passes++
  st.tempPriority.fill(DEF_PRIORITY)
  for (let priority = DEF_PRIORITY; priority >= 0; priority--) {
    rep.priority = priority
    const scanned0 = rep.scanned
    const free = m.env.freePagesPerZone()
    for (let zone = m.env.zones.length - 1; zone >= 0; zone--) {
      if (free[zone]! < wm[zone]!.pagesHigh) st.tempPriority[zone] = priority
      shrinkZone(m, c, st, zone, m.lruCount[zone * 2]! >> priority, rep)
    }
    if (rep.freed >= SWAP_CLUSTER_MAX) break
    if (rep.scanned > scanned0 && priority < DEF_PRIORITY - 2) nap(m, c, rep)
  }
  st.prevPriority.set(st.tempPriority)
  return endRun(m, rep, v0, p0)
}

/** `m.reclaim({ pages })`: validated, then the reclaim loop as kswapd runs it. */
export function reclaim(m: Machine, c: Cpu, pages: unknown): ReclaimReport {
  if (typeof pages !== 'number' || !Number.isInteger(pages) || pages < 0 || pages > 0x7fffffff) {
    throw new RangeError(
      `reclaim: pages must be a whole number in 0..2147483647 (nr_pages is an int), got ${String(pages)}`,
    )
  }
  return kswapd(m, c, pages)
}

/**
 * badness() of 2.6's OOM killer, reduced to what the model has: the mm's
 * total_vm in pages (the kernel's base score; the model has no cpu time, run
 * time, nice or capabilities to scale it by, and no parent links for the
 * children's half). select_bad_process keeps the first process with the
 * strictly highest score in task-list order (here: lowest pid first).
 */
export function badness(p: Process): number {
  return p.mm.totalVm
}

/**
 * `out_of_memory`: nothing while any swap slot is free (2.6's "enough swap
 * space left? not OOM"); otherwise the process with the highest badness is
 * killed with SIGKILL. The kernel's time-based throttling (10 failures within
 * a second or more, 5 s after a kill) has no clock to run on here and is
 * omitted. Returns the victim, or null.
 */
export function outOfMemory(m: Machine): { victim: Process; badness: number } | null {
  if (m.swap.nrSwapPages > 0) return null
  let victim: Process | null = null
  let best = -1
  for (const p of m.processes()) {
    const b = badness(p)
    if (b > best) {
      best = b
      victim = p
    }
  }
  if (!victim) return null
  victim.killedBy = 'SIGKILL'
  m.reap(victim)
  m.counters.reclaim.oomKills++
  m.oomKills.push({ pid: victim.pid, badness: best })
  return { victim, badness: best }
}

/**
 * Direct reclaim at fault entry (see the module comment): try_to_free_pages,
 * again while runs free pages, lower prev_priority or had write-back to wait
 * for; when a run from
 * prev_priority 0 frees nothing and fewer than FAULT_WATERMARK frames are
 * free, out_of_memory, then try again. Throws OomKillError when the
 * faulting process itself is the victim. When out_of_memory kills nobody
 * (swap left, or no process), it returns and the allocation may fail with
 * OutOfMemoryError, where the kernel would keep looping in __alloc_pages.
 */
export function directReclaim(m: Machine, c: Cpu, faulting: Process): void {
  const env = m.env
  const st = stateOf(m)
  while (env.nrFreePages() < FAULT_WATERMARK) {
    let prevMin = DEF_PRIORITY
    for (let i = 0; i < st.prevPriority.length; i++) prevMin = Math.min(prevMin, st.prevPriority[i]!)
    const rep = tryToFreePages(m, c)
    if (rep.progress || env.nrFreePages() >= FAULT_WATERMARK) return
    // __alloc_pages naps (blk_congestion_wait: the writes in flight complete)
    // and retries: a run that freed something, lowered prev_priority (more
    // distress next time) or had writes to wait for is followed by another.
    const completed = completeWriteback(m, c) + rep.writebacksCompleted
    if (rep.freed > 0 || prevMin > 0 || completed > 0) continue
    const killed = outOfMemory(m)
    if (!killed) return
    if (killed.victim === faulting) throw new OomKillError(faulting.pid, killed.badness)
  }
}
