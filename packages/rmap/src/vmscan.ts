/**
 * mm/vmscan.c of the -aa tree, one page at a time: `shrink_list`'s steps for
 * a single page, as `m.pageout(pfn)` runs them (docs/designs.md#locking-and-the-reclaim-order).
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
 * Around it, the LRU scan of 2.6.5 (docs/designs.md#locking-and-the-reclaim-order; the
 * structure checked against mm/vmscan.c of the 2.6.5-era mainline history,
 * repository dmgerman/history-token): `refill_inactive_zone` moves pages from
 * the tail of a zone's active list — a mapped page only when `reclaim_mapped`
 * holds, and then only if page_referenced (under page_map_lock) finds no
 * reference; an unmapped page with no mapping stays active when there is no
 * swap at all; the rest go inactive. reclaim_mapped: swap_tendency =
 * nr_mapped·100/total_memory/2 + distress + vm_swappiness (60), distress =
 * 100 >> zone->prev_priority, reclaim_mapped when swap_tendency ≥ 100.
 * `shrink_zone` adds ratio + 1 (ratio = nr_pages·nr_active /
 * ((nr_inactive | 1)·2)) to the zone's refill_counter and, past
 * SWAP_CLUSTER_MAX, refills that many (at most 4·SWAP_CLUSTER_MAX);
 * `shrink_cache` then takes batches of max(nr_pages, SWAP_CLUSTER_MAX) from
 * the inactive tail through shrink_list until max_scan pages were scanned or
 * nr_pages freed. `balance_pgdat` (kswapd, `m.reclaim`) runs priorities 12
 * down to 1 over the zones in zone order; `try_to_free_pages` (direct
 * reclaim) 12 down to 0 over the zonelist (HighMem, Normal, DMA). Both set
 * zone->temp_priority per pass and copy it to prev_priority at the end, so a
 * run that struggled makes the next one reclaim mapped memory sooner.
 *
 * Simplifications: no per-cpu pagevecs; all_unreclaimable, pages_high and
 * slab shrinking are not modelled; m.reclaim runs balance_pgdat again while
 * prev_priority still falls (kswapd woken again), and stops with
 * `progress: false` after a run from prev_priority 1 frees nothing; the
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
import { KernelBugError, OomKillError } from './errors.js'
import { pageCacheOf, removeFromPageCache, writePage } from './filemap.js'
import type { Machine, Process } from './machine.js'
import { PG } from './mm/page.js'
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
  if (locked) m.frames.clear(pfn, PG.locked)
  const c = m.counters.swap
  if (result === 'activated') {
    m.lruAddActive(pfn)
    c.activated++
  } else if (result === 'kept') m.lruAddInactive(pfn)
  else c.freed++
  m.putPage(pfn)
  return r
}

/**
 * Take one page on an LRU list through shrink_list (see the module comment),
 * filling `r` (reused across a batch: no allocation per page unless `detail`
 * asks for the swap slot object). The page is taken off its list first, as
 * shrink_list finds it isolated with a reference held, and put back on the
 * list the outcome names.
 */
export function shrinkPageInto(m: Machine, pfn: number, r: PageoutReport, detail: boolean): PageoutReport {
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
  if (fr.testAndSet(pfn, PG.locked))
    return finish(m, r, 'kept', 'page lock held (TestSetPageLocked failed)', false, detail)
  m.rmap.pageMapLock(m, pfn)
  r.referenced = m.rmap.pageReferenced(m, pfn)
  if (r.referenced && pageMappingInuse(m, pfn)) {
    m.rmap.pageMapUnlock(m, pfn)
    return finish(m, r, 'activated', 'referenced and in use', true, detail)
  }
  if (fr.test(pfn, PG.anon) && !fr.test(pfn, PG.swapcache)) {
    m.rmap.pageMapUnlock(m, pfn)
    if (!addToSwap(m, pfn)) return finish(m, r, 'activated', 'add_to_swap: no free swap slot', true, detail)
    r.addedToSwap = true
    m.rmap.pageMapLock(m, pfn)
  }
  // page_mapped: the design's try_to_unmap finds the ptes (objrmap BUGs on a
  // mapped page without page->mapping; pte_chains' anonymous pages have none).
  if (fr.mapcount[pfn]! > 0) {
    const u = m.rmap.tryToUnmap(m, pfn)
    r.unmap = u
    if (u === 'SWAP_FAIL') {
      m.rmap.pageMapUnlock(m, pfn)
      return finish(m, r, 'activated', 'SWAP_FAIL', true, detail)
    }
    if (u === 'SWAP_AGAIN') {
      m.rmap.pageMapUnlock(m, pfn)
      return finish(m, r, 'kept', 'SWAP_AGAIN', true, detail)
    }
  }
  m.rmap.pageMapUnlock(m, pfn)
  if (fr.test(pfn, PG.dirty)) {
    // A dirty page that was referenced (but not in use) is not written yet.
    if (r.referenced) return finish(m, r, 'kept', 'dirty and referenced', true, detail)
    if (fr.test(pfn, PG.swapcache)) {
      swapWritepage(m, pfn)
      r.wrote = true
    } else if (pageCacheOf(m, pfn)) {
      r.wrote = writePage(m, pfn)
      // pageout: a writepage that redirtied the page (shmem_writepage of an
      // SHM_LOCKed inode, or with no free swap slot) answers WRITEPAGE_ACTIVATE.
      if (!r.wrote && fr.test(pfn, PG.dirty) && !fr.test(pfn, PG.swapcache)) {
        return finish(m, r, 'activated', 'writepage refused (WRITEPAGE_ACTIVATE)', true, detail)
      }
    } else {
      return finish(m, r, 'kept', 'dirty page without a mapping to write it to', true, detail)
    }
  }
  // is_page_cache_freeable: only reclaim's reference and the cache's remain.
  if (fr.count[pfn] !== 2) return finish(m, r, 'kept', 'still in use (page count != 2)', true, detail)
  if (fr.test(pfn, PG.swapcache)) {
    const entry = fr.getPrivate(pfn)
    if (detail) r.swap = slotOf(m, pfn)
    deleteFromSwapCacheLocked(m, pfn)
    swapFree(m, entry)
    m.putPage(pfn) // the swap cache's reference
  } else if (pageCacheOf(m, pfn)) {
    fr.clear(pfn, PG.locked)
    removeFromPageCache(m, pfn)
    return finish(m, r, 'freed', 'freed', false, detail)
  } else {
    return finish(m, r, 'kept', 'not in a cache', true, detail)
  }
  return finish(m, r, 'freed', 'freed', true, detail)
}

/** `m.pageout(pfn)`: one page through shrink_list, with a report of its own. */
export function shrinkPage(m: Machine, pfn: number): PageoutReport {
  const r = shrinkPageInto(m, pfn, newPageoutReport(), true)
  if (r.result === 'kept' && r.reason === 'still in use (page count != 2)')
    r.reason = `still in use (page count ${m.frames.count[pfn]! + 1})` // as counted with reclaim's reference
  return r
}

/** SWAP_CLUSTER_MAX: pages per shrink_list batch. */
export const SWAP_CLUSTER_MAX = 32
/** DEF_PRIORITY: the first scan priority (scan 1/4096 of a list); 0 scans all of it. */
export const DEF_PRIORITY = 12
/** vm_swappiness's default. */
export const VM_SWAPPINESS = 60
/** Free frames the model keeps before a fault: the most one fault allocates (pmd, pte page, cache page, COW copy). */
export const FAULT_WATERMARK = 4

/** Per-zone scan state (zone->prev_priority, temp_priority, refill_counter) and scratch, per machine. */
interface ScanState {
  prevPriority: Int32Array
  tempPriority: Int32Array
  refillCounter: Int32Array
  scratch: Int32Array
}

const zoneState = new WeakMap<Machine, ScanState>()

function stateOf(m: Machine): ScanState {
  let st = zoneState.get(m)
  if (!st) {
    const n = m.env.zones.length
    st = {
      prevPriority: new Int32Array(n).fill(DEF_PRIORITY),
      tempPriority: new Int32Array(n).fill(DEF_PRIORITY),
      refillCounter: new Int32Array(n),
      scratch: new Int32Array(SWAP_CLUSTER_MAX * 4),
    }
    zoneState.set(m, st)
  }
  return st
}

/**
 * refill_inactive_zone's rule: swap_tendency = mapped_ratio/2 + distress +
 * swappiness, mapped_ratio = nr_mapped·100/total_memory, distress = 100 >>
 * prev_priority (integer arithmetic, as the kernel's longs).
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
  /** Pages written (to swap or their file). */
  writes: number
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

/** Collect up to `n` pfns from the tail (oldest end) of LRU list `list` into the scratch; returns how many. */
function isolateTail(m: Machine, st: ScanState, list: number, n: number): number {
  const fr = m.frames
  let pfn = m.lruHead[list]!
  if (pfn < 0 || n <= 0) return 0
  if (st.scratch.length < n) st.scratch = new Int32Array(n) // grows once per larger batch size, not per page
  let guard = m.lruCount[list]!
  while (fr.lruNext[pfn]! >= 0 && guard-- > 0) pfn = fr.lruNext[pfn]!
  let k = 0
  while (pfn >= 0 && k < n) {
    st.scratch[k++] = pfn
    pfn = fr.lruPrev[pfn]!
  }
  return k
}

type ZoneReport = ReclaimReport['zones'][number]

/**
 * `refill_inactive_zone(zone, nr_pages)`: take `nr` pages off the tail of
 * the active list; reclaim_mapped from swap_tendency (read once per call, from
 * nr_mapped and zone->prev_priority); a mapped page stays active unless
 * reclaim_mapped holds and page_referenced (under page_map_lock) finds
 * nothing; an unmapped page with no mapping stays active when there is no
 * swap at all (total_swap_pages == 0); every other page goes inactive.
 */
function refillInactiveZone(
  m: Machine,
  st: ScanState,
  zone: number,
  nr: number,
  rep: ReclaimReport,
  z: ZoneReport,
): void {
  const fr = m.frames
  const env = m.env
  const total = env.totalPages - env.bootmemPages - 1
  const t = swapTendency(env.pageState.count(PS.nr_mapped), total, st.prevPriority[zone]!)
  rep.reclaimMapped = t.reclaimMapped
  rep.swapTendency = t.swapTendency
  const k = isolateTail(m, st, zone * 2 + 1, nr)
  const noSwap = m.swap.totalSwapPages === 0
  for (let i = 0; i < k; i++) {
    const pfn = st.scratch[i]!
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
        m.rmap.pageMapLock(m, pfn)
        keep = m.rmap.pageReferenced(m, pfn) > 0
        m.rmap.pageMapUnlock(m, pfn)
      }
    } else if (noSwap && fr.mapping[pfn] === -1 && !fr.test(pfn, PG.private)) keep = true
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

const batchReport = newPageoutReport()

/**
 * `shrink_cache(nr_pages, zone, max_scan)`: batches of max(nr_pages,
 * SWAP_CLUSTER_MAX) pages from the tail of the inactive list through
 * shrink_list until `maxScan` pages were scanned or `nrPages` freed. Returns
 * the pages freed.
 */
function shrinkCache(
  m: Machine,
  st: ScanState,
  zone: number,
  nrPages: number,
  maxScan: number,
  rep: ReclaimReport,
  z: ZoneReport,
): number {
  const fr = m.frames
  const c = m.counters.swap
  const toProcess = Math.max(nrPages, SWAP_CLUSTER_MAX)
  let ret = 0
  while (maxScan > 0 && ret < nrPages) {
    const k = isolateTail(m, st, zone * 2, Math.min(toProcess, maxScan))
    if (k === 0) break
    maxScan -= k
    let freed = 0
    for (let i = 0; i < k; i++) {
      const pfn = st.scratch[i]!
      if (!fr.test(pfn, PG.lru) || fr.test(pfn, PG.active))
        throw new KernelBugError(
          'a page on the inactive list has PG_lru and not PG_active (TestClearPageLRU)',
          'mm/vmscan.c shrink_cache',
          `pfn ${pfn}`,
        )
      if (fr.count[pfn] === 0) continue // being freed: left on the list, as shrink_cache does
      const w0 = c.pagesWritten
      const a0 = c.addToSwap
      shrinkPageInto(m, pfn, batchReport, false)
      rep.scanned++
      z.scanned++
      if (batchReport.wrote || c.pagesWritten !== w0) rep.writes++
      rep.addedToSwap += c.addToSwap - a0
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
 * `shrink_zone`: ratio = nr_pages·nr_active / ((nr_inactive | 1)·2); the
 * zone's refill_counter grows by ratio + 1 and, past SWAP_CLUSTER_MAX,
 * refill_inactive_zone takes that many pages (at most 4·SWAP_CLUSTER_MAX)
 * and the counter restarts; then shrink_cache.
 */
function shrinkZone(
  m: Machine,
  st: ScanState,
  zone: number,
  maxScan: number,
  nrPages: number,
  rep: ReclaimReport,
): number {
  const z = rep.zones[zone]!
  const nrActive = m.lruCount[zone * 2 + 1]!
  const nrInactive = m.lruCount[zone * 2]!
  const ratio = Math.trunc((Math.max(0, nrPages) * nrActive) / ((nrInactive | 1) * 2))
  st.refillCounter[zone]! += ratio + 1
  if (st.refillCounter[zone]! > SWAP_CLUSTER_MAX) {
    const count = Math.min(st.refillCounter[zone]!, SWAP_CLUSTER_MAX * 4)
    st.refillCounter[zone] = 0
    refillInactiveZone(m, st, zone, count, rep, z)
  }
  return shrinkCache(m, st, zone, nrPages, maxScan, rep, z)
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
 * that frees a given number of pages): priorities DEF_PRIORITY down to 1,
 * every zone in zone order, to_reclaim = min(to_free, 8·SWAP_CLUSTER_MAX),
 * max_scan = nr_inactive >> priority but at least 2·to_reclaim and
 * SWAP_CLUSTER_MAX. Stops once the pages are freed (the kernel finishes the
 * zone loop with nothing left to reclaim). all_unreclaimable is not modelled.
 * Returns the pages freed, adding to `rep`.
 */
function balancePgdat(m: Machine, st: ScanState, pages: number, rep: ReclaimReport): number {
  m.counters.reclaim.passes++
  rep.passes++
  st.tempPriority.fill(DEF_PRIORITY)
  let toFree = pages
  for (let priority = DEF_PRIORITY; priority > 0 && toFree > 0; priority--) {
    rep.priority = priority
    for (let zone = 0; zone < m.env.zones.length && toFree > 0; zone++) {
      const toReclaim = Math.min(toFree, SWAP_CLUSTER_MAX * 8)
      st.tempPriority[zone] = priority
      const maxScan = Math.max(m.lruCount[zone * 2]! >> priority, toReclaim * 2, SWAP_CLUSTER_MAX)
      toFree -= shrinkZone(m, st, zone, maxScan, toReclaim, rep)
    }
  }
  st.prevPriority.set(st.tempPriority)
  return pages - toFree
}

/**
 * kswapd woken until `pages` are freed: balance_pgdat runs again while runs
 * free pages or while zone->prev_priority is still falling (a run that
 * failed leaves prev_priority at its last priority, so the next run's
 * swap_tendency carries more distress). Stops, with progress false, after a
 * run that freed nothing from prev_priority 1 (the lowest balance_pgdat reaches).
 */
function kswapd(m: Machine, pages: number): ReclaimReport {
  const st = stateOf(m)
  const rw = m.counters.rmap
  const v0 = rw.vmasVisited
  const p0 = rw.ptesProbed
  const rep = newReport(m, pages)
  m.counters.reclaim.runs++
  while (rep.freed < pages) {
    let prevMin = DEF_PRIORITY
    for (let i = 0; i < st.prevPriority.length; i++) prevMin = Math.min(prevMin, st.prevPriority[i]!)
    const freed = balancePgdat(m, st, pages - rep.freed, rep)
    if (freed === 0 && prevMin <= 1) break
  }
  return endRun(m, rep, v0, p0)
}

/**
 * `try_to_free_pages` for a GFP_HIGHUSER allocation: nr_pages =
 * SWAP_CLUSTER_MAX, priorities DEF_PRIORITY down to 0, `shrink_caches` over
 * the zonelist (HighMem, Normal, DMA) with to_reclaim = SWAP_CLUSTER_MAX and
 * max_scan = nr_inactive >> priority but at least 2·to_reclaim, until
 * nr_pages are freed.
 */
/** `try_to_free_pages`: one direct-reclaim run over every zone, priorities 12 down to 0. */
export function tryToFreePages(m: Machine): ReclaimReport {
  const st = stateOf(m)
  const rw = m.counters.rmap
  const v0 = rw.vmasVisited
  const p0 = rw.ptesProbed
  const rep = newReport(m, SWAP_CLUSTER_MAX)
  m.counters.reclaim.directReclaims++
  rep.passes++
  st.tempPriority.fill(DEF_PRIORITY)
  for (let priority = DEF_PRIORITY; priority >= 0 && rep.freed < SWAP_CLUSTER_MAX; priority--) {
    rep.priority = priority
    for (let zone = m.env.zones.length - 1; zone >= 0 && rep.freed < SWAP_CLUSTER_MAX; zone--) {
      st.tempPriority[zone] = priority
      const maxScan = Math.max(m.lruCount[zone * 2]! >> priority, SWAP_CLUSTER_MAX * 2)
      shrinkZone(m, st, zone, maxScan, SWAP_CLUSTER_MAX, rep)
    }
  }
  st.prevPriority.set(st.tempPriority)
  return endRun(m, rep, v0, p0)
}

/** `m.reclaim({ pages })`: validated, then the reclaim loop as kswapd runs it. */
export function reclaim(m: Machine, pages: unknown): ReclaimReport {
  if (typeof pages !== 'number' || !Number.isInteger(pages) || pages < 0 || pages > 0x7fffffff) {
    throw new RangeError(
      `reclaim: pages must be a whole number in 0..2147483647 (nr_pages is an int), got ${String(pages)}`,
    )
  }
  return kswapd(m, pages)
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
 * again while runs free pages or lower prev_priority; when a run from
 * prev_priority 0 frees nothing and fewer than FAULT_WATERMARK frames are
 * free, out_of_memory, then try again. Throws OomKillError when the
 * faulting process itself is the victim. When out_of_memory kills nobody
 * (swap left, or no process), it returns and the allocation may fail with
 * OutOfMemoryError, where the kernel would keep looping in __alloc_pages.
 */
export function directReclaim(m: Machine, faulting: Process): void {
  const env = m.env
  const st = stateOf(m)
  while (env.nrFreePages() < FAULT_WATERMARK) {
    let prevMin = DEF_PRIORITY
    for (let i = 0; i < st.prevPriority.length; i++) prevMin = Math.min(prevMin, st.prevPriority[i]!)
    const rep = tryToFreePages(m)
    if (rep.progress || env.nrFreePages() >= FAULT_WATERMARK) return
    // __alloc_pages retries: a run that freed something, or one that lowered
    // prev_priority (more distress next time), is followed by another.
    if (rep.freed > 0 || prevMin > 0) continue
    const killed = outOfMemory(m)
    if (!killed) return
    if (killed.victim === faulting) throw new OomKillError(faulting.pid, killed.badness)
  }
}
