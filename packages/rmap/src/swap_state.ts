/**
 * mm/swap_state.c of the -aa tree: the swap cache (swapper_space), in which a
 * page is found by its swap entry (docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (17)).
 *
 * A swap-cache page carries PG_swapcache, page->private = its swap entry, one
 * page reference held by the cache and one slot reference held by the cache.
 * An anonymous page keeps its anon_vma in page->mapping while it is mapped
 * (docs/designs.md#the-three-states-of-an-anonymous-page state 2); once no pte maps it, mapping is NULL and PG_anon is
 * clear (state 3) and the next fault re-homes it to the faulting vma's
 * anon_vma through page_add_rmap's 0→1 transition.
 *
 * Read-ahead (`swapin_readahead`, which reads the slots next to the one that
 * faulted into the swap cache) is omitted: the model has no I/O cost to save,
 * and the extra cache pages would only make SwapCached and page counts depend
 * on neighbouring slots. A fault reads exactly its own slot.
 */
import type { Cpu } from './cpu.js'
import { KernelBugError } from './errors.js'
import { testSetPageLocked, unlockPage } from './locks.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { setPageWriteback } from './page-writeback.js'
import { getSwapPage, removeExclusiveSwapPage, swapDuplicate, swapFree } from './swapfile.js'

const WHERE = 'mm/swap_state.c'

/** Put `pfn` into swapper_space at `entry`: PG_swapcache, private, the cache's page reference. */
function insertSwapCache(m: Machine, pfn: number, entry: number): void {
  const fr = m.frames
  fr.set(pfn, PG.swapcache)
  fr.setPrivate(pfn, entry)
  m.swap.cache.set(entry, pfn)
  m.getPage(pfn)
}

/**
 * `add_to_swap(page)` (page locked): give an anonymous page a swap slot
 * (get_swap_page, whose count 1 is the cache's reference) and put it in the
 * swap cache, uptodate and dirty (its slot holds nothing yet). Returns the
 * entry, or 0 when no slot is free. The -aa tree adds the page with
 * add_to_page_cache directly, so page->mapping (the anon_vma of a mapped
 * page) is not asserted NULL here.
 */
export function addToSwap(m: Machine, pfn: number): number {
  const fr = m.frames
  if (!fr.test(pfn, PG.locked))
    throw new KernelBugError('add_to_swap: the page is locked', `${WHERE} add_to_swap`)
  if (fr.test(pfn, PG.swapcache))
    throw new KernelBugError('add_to_swap: the page is not already swapcache', `${WHERE} add_to_swap`)
  const entry = getSwapPage(m)
  if (!entry) return 0
  insertSwapCache(m, pfn, entry)
  fr.set(pfn, PG.uptodate)
  fr.set(pfn, PG.dirty) // __clear_page_dirty + set_page_dirty: swapper_space counts no nr_dirty
  m.counters.swap.addToSwap++
  return entry
}

/**
 * `add_to_swap_cache(page, entry)` for a page being read in: BUG if it has a
 * mapping or is already swapcache; the slot gains the cache's reference
 * (swap_duplicate); afterwards the page is locked and swapcache.
 * add_to_page_cache hands the new page back locked (SetPageLocked: nobody else
 * can see it yet), and the lock is the caller's: under the explorer `c` is
 * recorded as its owner (locks.ts) until the read completes and unlocks it.
 */
function addToSwapCache(m: Machine, c: Cpu, pfn: number, entry: number): void {
  const fr = m.frames
  const where = `${WHERE} add_to_swap_cache`
  if (fr.mapping[pfn] !== -1) throw new KernelBugError('the page has no mapping', where, `pfn ${pfn}`)
  if (fr.test(pfn, PG.swapcache)) throw new KernelBugError('the page is not swapcache', where, `pfn ${pfn}`)
  if (testSetPageLocked(m, c, pfn))
    throw new KernelBugError('a page just allocated is not locked', where, `pfn ${pfn}`)
  swapDuplicate(m, entry)
  insertSwapCache(m, pfn, entry)
  if (!fr.test(pfn, PG.locked) || !fr.test(pfn, PG.swapcache))
    throw new KernelBugError('afterwards the page is locked and swapcache', where, `pfn ${pfn}`)
}

/** `lookup_swap_cache(entry)`: the cached page with a reference for the caller, or -1. */
export function lookupSwapCache(m: Machine, entry: number): number {
  const pfn = m.swap.cache.get(entry)
  if (pfn === undefined) return -1
  m.getPage(pfn)
  return pfn
}

/**
 * `read_swap_cache_async(entry)` + `swap_readpage`: the cached page, or a new
 * page added to the swap cache, put on the active list and read from the slot
 * (the read completes at once: the page comes back unlocked and uptodate).
 * The page carries a reference for the caller. `c` is the cpu reading it in,
 * which holds the new page's lock from add_to_swap_cache to the completion.
 */
export function readSwapCacheAsync(m: Machine, c: Cpu, entry: number): number {
  const found = lookupSwapCache(m, entry)
  if (found >= 0) return found
  const s = m.swap
  const area = s.areas[s.type(entry)]
  const offset = s.offset(entry)
  const word = area?.words.get(offset)
  if (!area || word === undefined) {
    throw new KernelBugError(
      'a swap slot read in holds the word written out to it (content is never lost)',
      `${WHERE} read_swap_cache_async`,
      `${s.type(entry)}:${offset}`,
    )
  }
  const fr = m.frames
  const pfn = m.allocUserPage()
  addToSwapCache(m, c, pfn, entry)
  m.lruAddActive(pfn)
  fr.content[pfn] = word
  const tail = area.tails.get(offset)
  if (tail !== undefined) m.fs.tails.set(pfn, tail)
  else if (m.fs.tails.size !== 0) m.fs.tails.delete(pfn)
  fr.set(pfn, PG.uptodate)
  unlockPage(m, c, pfn) // end_swap_bio_read: unlock_page
  m.counters.swap.pagesRead++
  return pfn
}

/**
 * `swap_writepage` (mm/page_io.c) as shrink_list's pageout calls it for a
 * swap-cache page it cleaned (page locked). First `remove_exclusive_swap_page`:
 * when nobody but the cache and the caller holds the page and nothing else
 * uses the slot, the page leaves the swap cache (dirty again, its only copy in
 * memory), the slot is freed and nothing is written: returns false. Otherwise
 * the page's word (and its EOF tail word, if a private file COW gave it one)
 * goes to its slot, pswpout counts it, the page is under write-back
 * (PG_writeback, see page-writeback.ts) and the write is in flight: returns
 * true. Either way the caller unlocks the page (the kernel's swap_writepage
 * does that itself).
 */
export function swapWritepage(m: Machine, c: Cpu, pfn: number): boolean {
  const fr = m.frames
  if (!fr.test(pfn, PG.swapcache))
    throw new KernelBugError(
      'swap_writepage of a swapcache page',
      'mm/page_io.c swap_writepage',
      `pfn ${pfn}`,
    )
  if (removeExclusiveSwapPage(m, pfn)) return false
  const s = m.swap
  const entry = fr.getPrivate(pfn)
  const area = s.areas[s.type(entry)]!
  const offset = s.offset(entry)
  fr.clear(pfn, PG.dirty)
  area.words.set(offset, fr.content[pfn]!)
  const tail = m.fs.tails.size === 0 ? undefined : m.fs.tails.get(pfn)
  if (tail !== undefined) area.tails.set(offset, tail)
  else area.tails.delete(offset)
  m.counters.swap.pagesWritten++
  setPageWriteback(m, c, pfn)
  return true
}

/**
 * `__delete_from_swap_cache` (page locked, swapcache, not under writeback):
 * out of swapper_space. The slot reference and the page reference the cache
 * held are the caller's to drop.
 */
export function deleteFromSwapCacheLocked(m: Machine, pfn: number): void {
  const fr = m.frames
  const where = `${WHERE} __delete_from_swap_cache`
  if (!fr.test(pfn, PG.locked)) throw new KernelBugError('the page is locked', where, `pfn ${pfn}`)
  if (!fr.test(pfn, PG.swapcache)) throw new KernelBugError('the page is swapcache', where, `pfn ${pfn}`)
  if (fr.test(pfn, PG.writeback))
    throw new KernelBugError('the page is not under writeback', where, `pfn ${pfn}`)
  m.swap.cache.delete(fr.getPrivate(pfn))
  fr.setPrivate(pfn, 0)
  fr.clear(pfn, PG.swapcache)
}

/**
 * `delete_from_swap_cache(page)` (page locked; BUG on writeback or buffers):
 * out of the swap cache, the slot's cache reference freed, the cache's page
 * reference dropped (the caller still holds one).
 */
export function deleteFromSwapCache(m: Machine, pfn: number): void {
  const fr = m.frames
  const where = `${WHERE} delete_from_swap_cache`
  if (!fr.test(pfn, PG.locked)) throw new KernelBugError('the page is locked', where, `pfn ${pfn}`)
  if (fr.test(pfn, PG.writeback))
    throw new KernelBugError('the page is not under writeback', where, `pfn ${pfn}`)
  if (fr.test(pfn, PG.private)) throw new KernelBugError('the page has no private data', where, `pfn ${pfn}`)
  const entry = fr.getPrivate(pfn)
  deleteFromSwapCacheLocked(m, pfn)
  swapFree(m, entry)
  m.putPage(pfn)
}

/**
 * `free_swap_cache(page)` as the zap path's free_page_and_swap_cache runs it
 * (the pte's reference still held): a swap-cache page that can be trylocked
 * leaves the cache if nobody else uses it (remove_exclusive_swap_page).
 */
export function freeSwapCache(m: Machine, c: Cpu, pfn: number): void {
  if (!m.frames.test(pfn, PG.swapcache) || testSetPageLocked(m, c, pfn)) return
  removeExclusiveSwapPage(m, pfn)
  unlockPage(m, c, pfn)
}
