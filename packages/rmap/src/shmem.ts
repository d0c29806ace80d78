/**
 * mm/shmem.c: tmpfs, the swap-backed files under /dev/shm
 * (docs/designs.md#objrmap-and-anon_vma "shmem_writepage and the filemap.c/truncate.c
 * BUG_ONs", docs/designs.md#invariants (17, 19, 20); docs/scenarios.md#f4).
 *
 * A tmpfs inode is an AddressSpace (filemap.ts) with a {@link ShmemInfo}: its
 * pages live in its page cache (mapping = the inode, index = page offset) or,
 * after reclaim, in swap, recorded in the inode's swap vector (index → swap
 * entry; the kernel's i_direct / indirect blocks of swp_entry_t). A page is in
 * exactly one of the two. Mappings are objrmap file mappings as for disk files
 * (MAP_SHARED vmas on i_mmap_shared, MAP_PRIVATE ones on i_mmap).
 *
 * The life of a tmpfs page:
 * - `shmem_getpage` (fault, swapoff): in the page cache → that page; in the
 *   swap vector → the swap-cache page (read in if needed) moves back into the
 *   page cache (`move_from_swap_cache`) and both slot references go; neither
 *   → a fresh zeroed page. A page cache page of tmpfs is always PG_dirty: its
 *   only backing store is swap, so reclaim must take it through writepage.
 * - reclaim (m.pageout / shrink_list) unmaps it through the i_mmap walk and
 *   calls writepage: `shmem_writepage` asserts the page is locked and
 *   unmapped, redirties it if the inode is locked (SHM_LOCK: info->flags
 *   VM_LOCKED), else takes a swap slot, checks the vector's slot for the index
 *   exists and is empty, and `move_to_swap_cache`s the page: the same struct
 *   page stops being "page-cache page of inode X at index i" and becomes a
 *   swap-cache page (PG_swapcache, private = entry, mapping NULL), with the
 *   slot held twice (the vector's reference and the swap cache's).
 *
 *   As in the kernel, the page is left dirty in the swap cache and
 *   shrink_list keeps it; a later pass writes it with swap_writepage (the
 *   slot has two users, so remove_exclusive_swap_page leaves it) and, once
 *   that write completed, frees it (vmscan.ts, page-writeback.ts).
 * - truncate frees the vector entries past the new size (`shmem_truncate` →
 *   free_swap_and_cache); swapoff's `shmem_unuse` finds the entry in a vector
 *   and moves the page back into the inode's page cache.
 */
import type { Cpu } from './cpu.js'
import { KernelBugError } from './errors.js'
import type { AddressSpace } from './filemap.js'
import { findLockPage, markPageAccessed, NOPAGE_SIGBUS, setPageDirty } from './filemap.js'
import { lockPage, unlockPage } from './locks.js'
import type { Machine } from './machine.js'
import { NO_MAPPING, PG } from './mm/page.js'
import type { Vma } from './mm/vma.js'
import { waitOnPageWriteback } from './page-writeback.js'
import { readSwapCacheAsync } from './swap_state.js'
import { freeSwapAndCache, getSwapPage, swapDuplicate, swapFree } from './swapfile.js'

const WHERE = 'mm/shmem.c'

/** `struct shmem_inode_info`: the swap vector, the swapped count and the lock flag. */
export class ShmemInfo {
  /** The swap vector: page index → swap entry of a page that is in swap. */
  readonly swap = new Map<number, number>()
  /** info->flags & VM_LOCKED: set by SHM_LOCK (m.fs.shmLock); shmem_writepage then refuses. */
  locked = false
  /**
   * info->next_index: one past the highest index the swap vector covers,
   * raised by shmem_getpage, lowered by shmem_truncate (after
   * truncate_inode_pages, so not yet while a truncate drops the pages).
   */
  nextIndex = 0
  /** info->swapped: entries in the swap vector. */
  get swapped(): number {
    return this.swap.size
  }
}

/** The ShmemInfo of a tmpfs inode, or null for a disk file. */
export function shmemInfo(as: AddressSpace): ShmemInfo | null {
  return as.shmem
}

/**
 * `shmem_getpage(inode, idx)`: the page-cache page of a tmpfs file at `idx`,
 * with a reference for the caller: cached, brought back from swap
 * (move_from_swap_cache), or a new zeroed page.
 */
export function shmemGetpage(m: Machine, c: Cpu, as: AddressSpace, idx: number): number {
  const info = as.shmem!
  const cached = findLockPage(m, as, idx)
  if (cached >= 0) return cached
  const fr = m.frames
  const entry = info.swap.get(idx)
  if (entry !== undefined) {
    const pfn = readSwapCacheAsync(m, c, entry) // lookup_swap_cache, or read in: a reference for us
    lockPage(m, c, pfn, 'mm/shmem.c shmem_getpage')
    waitOnPageWriteback(m, c, pfn) // shmem_getpage waits for a write reclaim started
    moveFromSwapCache(m, c, pfn, as, idx, entry)
    unlockPage(m, c, pfn)
    return pfn
  }
  // shmem_alloc_page + add_to_page_cache_lru: a zeroed page, dirty (its only copy is in memory).
  const pfn = m.allocUserPage()
  if (idx >= info.nextIndex) info.nextIndex = idx + 1 // shmem_swp_alloc
  fr.mapping[pfn] = as.id
  fr.index[pfn] = idx
  fr.content[pfn] = 0
  if (m.fs.tails.size !== 0) m.fs.tails.delete(pfn)
  as.pages.set(idx, pfn)
  m.fs.nrPages++
  m.lruAddInactive(pfn)
  fr.set(pfn, PG.uptodate)
  setPageDirty(m, c, pfn)
  m.getPage(pfn)
  return pfn
}

/**
 * `shmem_getpage(inode, idx, &page, SGP_READ)`: the page at `idx` if it
 * exists, in the page cache or brought back from swap, with a reference for
 * the caller; -1 for a hole (SGP_READ allocates nothing).
 */
export function shmemGetpageRead(m: Machine, c: Cpu, as: AddressSpace, idx: number): number {
  if (!as.pages.has(idx) && !as.shmem!.swap.has(idx)) return -1
  return shmemGetpage(m, c, as, idx)
}

/**
 * `move_from_swap_cache(page, idx, mapping)` as shmem_getpage and shmem_unuse
 * use it (page locked; BUG if under writeback or with private data): out of
 * swapper_space, into the inode's page cache at `idx`, dirty; the vector's
 * entry is cleared and both slot references (the cache's and the vector's)
 * are freed. The swap cache's page reference becomes the page cache's.
 */
export function moveFromSwapCache(
  m: Machine,
  c: Cpu,
  pfn: number,
  as: AddressSpace,
  idx: number,
  entry: number,
): void {
  const fr = m.frames
  const where = `${WHERE} move_from_swap_cache`
  if (!fr.test(pfn, PG.locked)) throw new KernelBugError('move_from_swap_cache: the page is locked', where)
  if (fr.test(pfn, PG.writeback))
    throw new KernelBugError('move_from_swap_cache: the page is not under writeback', where)
  if (fr.test(pfn, PG.private))
    throw new KernelBugError('move_from_swap_cache: the page has no private data', where)
  if (!fr.test(pfn, PG.swapcache) || fr.getPrivate(pfn) !== entry)
    throw new KernelBugError('move_from_swap_cache: the page is the swap-cache page of the entry', where)
  m.swap.cache.delete(entry)
  fr.setPrivate(pfn, 0)
  fr.clear(pfn, PG.swapcache)
  fr.mapping[pfn] = as.id
  fr.index[pfn] = idx
  as.pages.set(idx, pfn)
  m.fs.nrPages++
  fr.clear(pfn, PG.dirty)
  setPageDirty(m, c, pfn)
  as.shmem!.swap.delete(idx)
  swapFree(m, entry) // the swap cache's reference
  swapFree(m, entry) // the vector's reference
}

/**
 * `shmem_nopage(vma, address)`: the tmpfs page at the linear page offset, or
 * {@link NOPAGE_SIGBUS} at or past i_size rounded up to a page.
 */
export function shmemNopage(m: Machine, c: Cpu, vma: Vma, address: number): number {
  const as = vma.file!
  const idx = vma.linearIndex(address)
  if (idx >= as.sizePages) return NOPAGE_SIGBUS
  const pfn = shmemGetpage(m, c, as, idx)
  markPageAccessed(m, pfn)
  return pfn
}

/**
 * `shmem_writepage(page)` from shrink_list's pageout (see the module
 * comment). The caller (writepage in filemap.ts) has cleaned the page
 * (clear_page_dirty_for_io). Returns true when the page moved to swap, false
 * when it was redirtied and stays in the page cache (inode locked, or no free
 * swap slot).
 */
export function shmemWritepage(m: Machine, c: Cpu, pfn: number, as: AddressSpace): boolean {
  const fr = m.frames
  const info = as.shmem!
  const where = `${WHERE} shmem_writepage`
  if (!fr.test(pfn, PG.locked))
    throw new KernelBugError('shmem_writepage: the page is locked', where, `pfn ${pfn}`)
  if (fr.mapcount[pfn]! > 0)
    throw new KernelBugError('shmem_writepage: the page is not mapped', where, `pfn ${pfn}`)
  const idx = fr.index[pfn]!
  if (info.locked) {
    setPageDirty(m, c, pfn) // redirty: SHM_LOCKed
    return false
  }
  const entry = getSwapPage(m)
  if (!entry) {
    setPageDirty(m, c, pfn) // redirty: no swap
    return false
  }
  if (idx >= info.nextIndex) throw new KernelBugError('shmem_writepage: the swap vector slot exists', where)
  if (info.swap.has(idx)) throw new KernelBugError('shmem_writepage: the swap vector slot is empty', where)
  moveToSwapCache(m, pfn, as, entry)
  info.swap.set(idx, entry)
  m.counters.swap.addToSwap++
  return true
}

/**
 * `move_to_swap_cache(page, entry)`: BUG if the page is PageAnon or already
 * swapcache. Out of the inode's page cache, into swapper_space (PG_swapcache,
 * private = entry, mapping NULL); swap_duplicate (the cache's reference, the
 * slot's first being the vector's); then set_page_dirty, BUG if already dirty.
 * The page cache's page reference becomes the swap cache's.
 */
function moveToSwapCache(m: Machine, pfn: number, as: AddressSpace, entry: number): void {
  const fr = m.frames
  const where = `${WHERE} move_to_swap_cache`
  if (fr.test(pfn, PG.anon)) throw new KernelBugError('move_to_swap_cache: the page is not anon', where)
  if (fr.test(pfn, PG.swapcache))
    throw new KernelBugError('move_to_swap_cache: the page is not swapcache', where)
  as.pages.delete(fr.index[pfn]!)
  m.fs.nrPages--
  fr.mapping[pfn] = NO_MAPPING
  fr.set(pfn, PG.swapcache)
  fr.setPrivate(pfn, entry)
  m.swap.cache.set(entry, pfn)
  swapDuplicate(m, entry)
  if (fr.test(pfn, PG.dirty))
    throw new KernelBugError('move_to_swap_cache: the page is not dirty when it is re-dirtied', where)
  fr.set(pfn, PG.dirty) // set_page_dirty of a swap-cache page: no nr_dirty count
}

/**
 * `shmem_truncate`: free the swap vector entries at or past the new size in
 * pages (free_swap_and_cache each).
 */
export function shmemTruncate(m: Machine, c: Cpu, as: AddressSpace): void {
  const info = as.shmem!
  const end = as.sizePages
  if (info.nextIndex > end) info.nextIndex = end
  for (const [idx, entry] of [...info.swap]) {
    if (idx < end) continue
    info.swap.delete(idx)
    freeSwapAndCache(m, c, entry)
  }
}

/**
 * `shmem_unuse(entry, page)` (page locked, in the swap cache): find `entry`
 * in a tmpfs inode's swap vector and move the page back into that inode's
 * page cache. Returns the entries found (0 or 1).
 */
export function shmemUnuse(m: Machine, c: Cpu, entry: number, pfn: number): number {
  for (const as of m.fs.files()) {
    const info = as.shmem
    if (!info || info.swap.size === 0) continue
    for (const [idx, e] of info.swap) {
      if (e !== entry) continue
      if (as.pages.has(idx))
        throw new KernelBugError(
          'shmem_unuse: a swapped tmpfs index has no page-cache page',
          `${WHERE} shmem_unuse`,
        )
      waitOnPageWriteback(m, c, pfn)
      moveFromSwapCache(m, c, pfn, as, idx, entry)
      return 1
    }
  }
  return 0
}

/** Swap references held by tmpfs swap vectors, by entry (for m.check()). */
export function shmemSwapRefs(m: Machine): Map<number, number> {
  const refs = new Map<number, number>()
  for (const as of m.fs.files()) {
    if (!as.shmem) continue
    for (const e of as.shmem.swap.values()) refs.set(e, (refs.get(e) ?? 0) + 1)
  }
  return refs
}

/**
 * m.check() for tmpfs: every tmpfs page index is in the page cache or in
 * swap, never both; a vector entry's slot is in use and holds the page's
 * word (or its page is in the swap cache); a tmpfs page-cache page is dirty.
 */
export function checkShmem(m: Machine, v: string[]): void {
  const fr = m.frames
  const s = m.swap
  for (const as of m.fs.files()) {
    const info = as.shmem
    if (!info) continue
    for (const [idx, pfn] of as.pages) {
      if (info.swap.has(idx)) v.push(`tmpfs ${as.path} page ${idx} is in the page cache or in swap, not both`)
      if (!fr.test(pfn, PG.dirty) && !fr.test(pfn, PG.locked))
        v.push(`tmpfs ${as.path} page ${idx} (pfn ${pfn}) in the page cache is dirty (its only copy)`)
    }
    for (const [idx, e] of info.swap) {
      const area = s.areas[s.type(e)]
      const off = s.offset(e)
      if (!area?.count(off)) {
        v.push(`tmpfs ${as.path} page ${idx}: its swap entry ${s.type(e)}:${off} is a used slot`)
        continue
      }
      if (!s.cache.has(e) && !area.words.has(off))
        v.push(`tmpfs ${as.path} page ${idx}: slot ${s.type(e)}:${off} holds its word (never lost)`)
      if (idx >= as.sizePages) v.push(`tmpfs ${as.path} page ${idx} in swap lies inside i_size`)
    }
  }
}
