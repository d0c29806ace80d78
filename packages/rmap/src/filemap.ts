/**
 * Files and their page cache: `address_space` with the two vma lists objrmap
 * walks (`i_mmap` for private mappings, `i_mmap_shared` for shared ones), the
 * `truncate_count` that closes the nopage/truncate race, and the pages cached
 * by index (docs/designs.md#data-structures-and-sizes).
 *
 * A file's content is modelled per page as one 32-bit word: a page never
 * written reads a value derived from (file id, page index), and writeback
 * stores the word in the file's blocks, so a value written through a shared
 * mapping reads back after the page was dropped.
 *
 * The page-cache functions below are mm/filemap.c's, as the fault path and
 * truncate use them: `find_get_page`, `read_cache_page` (add_to_page_cache_lru
 * + readpage), `filemap_nopage`, `filemap_getpage`, `mark_page_accessed`,
 * `set_page_dirty`, `writepage` and `remove_from_page_cache`. A page-cache
 * page holds one reference for the cache itself (so, with every pte holding
 * one more, its count is mapcount + 1), carries mapping = the address_space
 * and index = its page offset, and is on the LRU.
 *
 * The EOF tail. The last page of a file whose size is not a multiple of
 * PAGE_SIZE holds bytes past i_size: the kernel zero-fills them on read-in,
 * a store there through a mapping changes the page but never reaches the file
 * (writeback writes i_size bytes), and truncate zeroes them again
 * (truncate_partial_page). One content word cannot say both "file data here"
 * and "zeros there", so such a page gets a second word, its tail, kept in
 * `m.fs.tails` by pfn for the frames that have a non-zero one: an access at a
 * file offset at or past i_size reads or writes the tail, everything else the
 * content word. The split is taken at the time of the access.
 */

import { PS } from './arch/percpu.js'
import { BUG } from './bugs.js'
import type { Cpu } from './cpu.js'
import { KernelBugError } from './errors.js'
import { LOCK } from './locks.js'
import type { Machine } from './machine.js'
import { NO_MAPPING, PG } from './mm/page.js'
import type { Vma } from './mm/vma.js'
import { type ShmemInfo, shmemGetpage, shmemNopage, shmemWritepage } from './shmem.js'

const PAGE = 4096

/** Page indices below this are also kept in the flat lookup table of a {@link PageCache} (4 bytes each). */
const INDEXED_PAGES = 1 << 22

/**
 * The page cache of one file (the radix tree of the kernel's address_space):
 * a Map of page index → pfn, iterated in insertion order as before, whose
 * lookups go through a flat Int32Array indexed by page index (pfn + 1, 0 when
 * absent). A Map lookup hashes the index into a table the size of the cache,
 * a cache miss per page of a sequential read of a big file; the flat table is
 * read in order. Indices at or past {@link INDEXED_PAGES} are looked up in
 * the Map.
 */
export class PageCache extends Map<number, number> {
  private table = new Int32Array(0)

  override get(index: number): number | undefined {
    if (index >= 0 && index < this.table.length) {
      const v = this.table[index]!
      return v === 0 ? undefined : v - 1
    }
    return super.get(index)
  }

  override has(index: number): boolean {
    return this.get(index) !== undefined
  }

  override set(index: number, pfn: number): this {
    super.set(index, pfn)
    // The constructor of Map calls set before the table field exists.
    if (this.table === undefined || !Number.isInteger(index) || index < 0 || index >= INDEXED_PAGES)
      return this
    if (index >= this.table.length) {
      const grown = new Int32Array(Math.min(INDEXED_PAGES, Math.max(index + 1, this.table.length * 2, 64)))
      grown.set(this.table)
      this.table = grown
    }
    this.table[index] = pfn + 1
    return this
  }

  override delete(index: number): boolean {
    if (index >= 0 && index < this.table.length) this.table[index] = 0
    return super.delete(index)
  }

  override clear(): void {
    this.table = new Int32Array(0)
    super.clear()
  }
}

/** An inode's address_space. */
export class AddressSpace {
  /** Object id, stored in page->mapping of its pages. */
  readonly id: number
  /** The path it was created under. */
  readonly path: string
  /** i_size in bytes. */
  size: number
  /** Private (MAP_PRIVATE) vmas mapping the file. */
  readonly iMmap: Vma[] = []
  /** Shared (MAP_SHARED) vmas mapping the file. */
  readonly iMmapShared: Vma[] = []
  /** Bumped by invalidate_mmap_range so that a racing do_no_page retries. */
  truncateCount = 0
  /** i_shared_sem: held while the vma lists are walked or changed (trylocked by reclaim). */
  sharedSemHeld = false
  /** The page cache: page index → pfn (a Map, with an indexed table for lookups). */
  readonly pages: PageCache = new PageCache()
  /** The file's blocks: the last word written back per page index. */
  readonly blocks = new Map<number, number>()
  /**
   * Pages below this index that were never written back read their initial
   * word; at or above it they are holes and read 0. Set from the size at
   * creation; truncate lowers it, so that a file grown again reads zeros past
   * the old end (its blocks were freed).
   */
  initialPages: number
  /** The initial word of every page, or null for the per-(file, index) value of {@link initialWord}. */
  readonly fill: number | null
  /** For a tmpfs (/dev/shm) inode, its shmem_inode_info (swap vector, lock); null for a disk file. */
  shmem: ShmemInfo | null = null

  constructor(id: number, path: string, size: number, fill: number | null = null) {
    this.id = id
    this.path = path
    this.size = size
    this.initialPages = Math.ceil(size / PAGE)
    this.fill = fill === null ? null : fill >>> 0
  }

  /** The word a page reads before anything was written to it: derived from (file, index). */
  initialWord(index: number): number {
    return (Math.imul(this.id, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0
  }

  /** The word on disk for page `index`: written back, initial, or 0 for a hole. */
  diskWord(index: number): number {
    const b = this.blocks.get(index)
    if (b !== undefined) return b
    if (index >= this.initialPages) return 0
    return this.fill ?? this.initialWord(index)
  }

  /** Pages of i_size, rounded up: a fault at or past this page offset is SIGBUS. */
  get sizePages(): number {
    return Math.ceil(this.size / PAGE)
  }
}

/**
 * `down(&mapping->i_shared_sem)`: the semaphore of the vma lists (vma_link,
 * remove_shared_vm_struct, vma_merge, invalidate_mmap_range). On a sequential
 * machine a held semaphore would never be released: a kernel bug reported at
 * `where`. Under the explorer the owner table decides first (another cpu's
 * semaphore makes this one wait; an acquire out of the lock order is a
 * LockOrderError), then the flag: one set by a test that stages a busy
 * semaphore counts as held by another cpu.
 */
export function downISharedSem(m: Machine, c: Cpu, as: AddressSpace, where: string): void {
  const s = m.smp
  if (s !== null) {
    s.locks.acquire(c.id, LOCK.i_shared_sem, as.id)
    if (as.sharedSemHeld) {
      s.locks.release(c.id, LOCK.i_shared_sem, as.id)
      throw s.locks.wait(`i_shared_sem of ${as.path}`, c.id, -1)
    }
  } else if (as.sharedSemHeld) {
    throw new KernelBugError(
      'down(i_shared_sem) while it is held: the single-threaded model would deadlock',
      where,
      as.path,
    )
  }
  as.sharedSemHeld = true
}

/**
 * `down_trylock(&mapping->i_shared_sem)`, as the -aa rmap walks take it: true
 * when this cpu now holds it. Never waits; exempt from the lock order.
 */
export function downTrylockISharedSem(m: Machine, c: Cpu, as: AddressSpace): boolean {
  if (as.sharedSemHeld) return false
  const s = m.smp
  if (s !== null && !s.locks.trylock(c.id, LOCK.i_shared_sem, as.id)) return false
  as.sharedSemHeld = true
  return true
}

/** `up(&mapping->i_shared_sem)`. */
export function upISharedSem(m: Machine, c: Cpu, as: AddressSpace): void {
  const s = m.smp
  if (s !== null) s.locks.release(c.id, LOCK.i_shared_sem, as.id)
  as.sharedSemHeld = false
}

/** `NOPAGE_SIGBUS`: what `filemap_nopage` answers for a page offset at or past i_size. */
export const NOPAGE_SIGBUS = -1

/** The address_space whose page-cache page `pfn` is, or null (anonymous, swap cache, free, ...). */
export function pageCacheOf(m: Machine, pfn: number): AddressSpace | null {
  const id = m.frames.mapping[pfn]!
  if (id === NO_MAPPING || m.frames.test(pfn, PG.anon)) return null
  const obj = m.objects.get(id)
  return obj instanceof AddressSpace ? obj : null
}

/**
 * `find_get_page(mapping, index)`: the cached page with a reference taken for the caller, or -1.
 *
 * No "the page is not swapcache" assertion here or in truncate.ts. aa1 had
 * BUG_ON(PageSwapCache(page)) after lock_page in find_lock_page (and in
 * truncate_complete_page, invalidate_complete_page, invalidate_inode_pages2);
 * but a caller that found a tmpfs page and slept in lock_page can wake to
 * find that shmem_writepage moved it into the swap cache meanwhile, which is
 * legitimate, and the "page->mapping != mapping → retry/skip" test that
 * follows handles it. Hugh saw the filemap.c one fire and sent their removal
 * (Hugh Dickins, "Re: 2.6.5-rc1-aa1", 18 Mar 2004, <Pine.LNX.4.44.0403181928210.16385-100000@localhost.localdomain>:
 * "over-enthusiastic BUG_ONs which will trigger when shmem_writepage swizzles
 * a tmpfs page to swap at the wrong moment"); Andrea accepted them (Andrea
 * Arcangeli, "Re: 2.6.5-rc1-aa1", 19 Mar 2004,
 * <20040318230628.GA2050@dualathlon.random>). docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (20).
 */
export function findGetPage(m: Machine, as: AddressSpace, index: number): number {
  const pfn = as.pages.get(index)
  if (pfn === undefined) return -1
  m.getPage(pfn)
  return pfn
}

/**
 * `find_lock_page(mapping, index)` as shmem_getpage uses it: the cached page
 * with a reference for the caller, or -1. The kernel drops tree_lock and
 * sleeps in lock_page when the page is locked (reclaim holds it through
 * shrink_list and writepage), then asks "has the page been truncated while
 * we slept?": a page whose mapping or index changed is released and the
 * lookup repeats. The model collapses lock_page/unlock_page (the page comes
 * back unlocked, as from find_get_page) and keeps the re-check.
 *
 * Under the explorer the window is the preemption point
 * `find_lock_page:radix_tree_lookup→lock_page`. It sits before the
 * reference is taken because the explorer cannot resume a suspended cpu while
 * another is suspended above it: the schedule it finds (reclaim runs its whole
 * shrink_list inside the window) stands for the kernel's reclaim past
 * is_page_cache_freeable, lookup and sleep, shmem_writepage, unlock, wake.
 *
 * With the re-introduced `shmem-swapcache-bug-on` bug the re-check first
 * asserts aa1's BUG_ON(PageSwapCache(page)), which fires on a tmpfs page that
 * shmem_writepage moved to the swap cache meanwhile (see findGetPage).
 */
export function findLockPage(m: Machine, as: AddressSpace, index: number): number {
  const fr = m.frames
  for (;;) {
    const pfn = as.pages.get(index)
    if (pfn === undefined) return -1
    if (m.smp !== null) m.smp.preempt('find_lock_page:radix_tree_lookup→lock_page')
    m.getPage(pfn)
    if (fr.mapping[pfn] === as.id && fr.index[pfn] === index) return pfn
    if (m.bugs & BUG.shmemSwapcacheBugOn && fr.test(pfn, PG.swapcache))
      throw new KernelBugError(
        'a locked page found through a file mapping is not swapcache (aa1 BUG_ON(PageSwapCache(page)))',
        'mm/filemap.c find_lock_page',
        `pfn ${pfn}, ${as.path} index ${index}`,
      )
    m.putPage(pfn)
  }
}

/**
 * `read_cache_page` for a page not in the cache: `page_cache_alloc` (the
 * mapping's gfp mask is GFP_HIGHUSER for a regular file), `add_to_page_cache_lru`
 * (the allocation's reference becomes the cache's own; the page joins the
 * inactive list) and `->readpage` (the word on disk; the EOF tail reads zero).
 * Returns the page with a second reference, the caller's.
 */
export function readCachePage(m: Machine, as: AddressSpace, index: number): number {
  const fr = m.frames
  const pfn = m.allocUserPage()
  fr.mapping[pfn] = as.id
  fr.index[pfn] = index
  as.pages.set(index, pfn)
  m.fs.nrPages++
  m.lruAddInactive(pfn)
  fr.content[pfn] = as.diskWord(index)
  m.fs.tails.delete(pfn)
  fr.set(pfn, PG.uptodate)
  m.counters.filemap.pagesRead++
  m.getPage(pfn)
  return pfn
}

/**
 * `filemap_getpage(file, pgoff, nonblock)` (for `->populate`): the cached page,
 * or read it in; with `nonblock` (MAP_NONBLOCK) a page that is not cached is
 * not read and -1 comes back. The page carries a reference for the caller.
 */
export function filemapGetPage(
  m: Machine,
  c: Cpu,
  as: AddressSpace,
  pgoff: number,
  nonblock: boolean,
): number {
  if (as.shmem) return nonblock && !as.pages.has(pgoff) ? -1 : shmemGetpage(m, c, as, pgoff) // shmem_populate
  const pfn = findGetPage(m, as, pgoff)
  if (pfn >= 0 || nonblock) return pfn
  return readCachePage(m, as, pgoff)
}

/**
 * `filemap_nopage(vma, address)`: the page cache page for the linear page
 * offset of `address`, read in if needed, with a reference for the caller and
 * marked accessed. A page offset at or past i_size rounded up to a page is
 * {@link NOPAGE_SIGBUS} (the faulting mm is the current one).
 */
export function filemapNopage(m: Machine, c: Cpu, vma: Vma, address: number): number {
  const as = vma.file
  if (!as) throw new KernelBugError('filemap_nopage of a vma without a file', 'mm/filemap.c filemap_nopage')
  if (as.shmem) return shmemNopage(m, c, vma, address) // tmpfs: vm_ops->nopage is shmem_nopage
  const pgoff = vma.linearIndex(address)
  if (pgoff >= as.sizePages) return NOPAGE_SIGBUS
  let pfn = findGetPage(m, as, pgoff)
  if (pfn < 0) pfn = readCachePage(m, as, pgoff)
  markPageAccessed(m, pfn)
  return pfn
}

/**
 * `mark_page_accessed`: an inactive page seen referenced a second time is
 * activated (activate_page); otherwise PG_referenced is set.
 */
export function markPageAccessed(m: Machine, pfn: number): void {
  const fr = m.frames
  if (!fr.test(pfn, PG.active) && fr.test(pfn, PG.referenced) && fr.test(pfn, PG.lru)) {
    m.lruDel(pfn)
    m.lruAddActive(pfn)
    fr.clear(pfn, PG.referenced)
  } else if (!fr.test(pfn, PG.referenced)) {
    fr.set(pfn, PG.referenced)
  }
}

/**
 * `set_page_dirty`: set PG_dirty; a page-cache page newly dirtied is counted
 * in nr_dirty (meminfo Dirty). An anonymous page gets the bit only, as
 * page_mapping() is NULL for it in the -aa tree.
 */
export function setPageDirty(m: Machine, c: Cpu, pfn: number): void {
  if (m.frames.testAndSet(pfn, PG.dirty)) return
  if (pageCacheOf(m, pfn)) m.env.pageState.inc(c.id, PS.nr_dirty)
}

/** `test_clear_page_dirty`: clear PG_dirty (and the nr_dirty count of a cache page); true if it was set. */
export function clearPageDirty(m: Machine, c: Cpu, pfn: number): boolean {
  const fr = m.frames
  if (!fr.test(pfn, PG.dirty)) return false
  fr.clear(pfn, PG.dirty)
  if (pageCacheOf(m, pfn)) m.env.pageState.dec(c.id, PS.nr_dirty)
  return true
}

/**
 * `->writepage` of the disk filesystem for a dirty page-cache page: store its
 * word in the file's block and clean it. A page wholly past i_size is cleaned
 * without writing (block_write_full_page discards it); the EOF tail never
 * reaches the file. Returns whether the page was dirty. Dirty ptes are not
 * looked at: the caller unmapped the page first (reclaim) or the ptes'
 * dirty bits were moved to PG_dirty when they were zapped.
 */
export function writePage(m: Machine, c: Cpu, pfn: number): boolean {
  const as = pageCacheOf(m, pfn)
  if (!as)
    throw new KernelBugError('writepage of a page that is not in a page cache', 'mm/filemap.c writepage')
  if (!clearPageDirty(m, c, pfn)) return false
  if (as.shmem) return shmemWritepage(m, c, pfn, as) // tmpfs: a_ops->writepage is shmem_writepage
  const index = m.frames.index[pfn]!
  if (index < as.sizePages) as.blocks.set(index, m.frames.content[pfn]!)
  m.counters.filemap.writeback++
  return true
}

/**
 * `remove_from_page_cache` + `page_cache_release` of the cache's reference.
 * The page must be unmapped. A dirty page may not leave the cache, since its
 * word would be lost; truncate cleans the pages it discards first.
 */
export function removeFromPageCache(m: Machine, pfn: number): void {
  const fr = m.frames
  const as = pageCacheOf(m, pfn)
  if (!as) {
    throw new KernelBugError(
      'remove_from_page_cache of a page that is not in a page cache',
      'mm/filemap.c remove_from_page_cache',
      `pfn ${pfn}`,
    )
  }
  if (fr.mapcount[pfn]! > 0) {
    throw new KernelBugError(
      'a page leaving the page cache is not mapped (page_remove_rmap would find no mapping)',
      'mm/objrmap.c page_remove_rmap',
      `pfn ${pfn}, mapcount ${fr.mapcount[pfn]}`,
    )
  }
  if (fr.test(pfn, PG.dirty)) {
    throw new KernelBugError(
      'a dirty page leaves the page cache only after writeback (its content would be lost)',
      'docs/simplifications.md#page-content',
      `pfn ${pfn}`,
    )
  }
  as.pages.delete(fr.index[pfn]!)
  fr.mapping[pfn] = NO_MAPPING
  fr.clear(pfn, PG.uptodate)
  m.fs.nrPages--
  m.fs.tails.delete(pfn)
  m.putPage(pfn)
}

/**
 * Is a user access at `address` (reaching frame `pfn` through `vma`) at a file
 * offset at or past i_size, i.e. in the EOF tail? The page's file index is its
 * page->index for a page-cache page of the vma's file, and the linear index
 * for an anonymous (COWed) page of a private file mapping.
 */
export function accessPastEof(m: Machine, vma: Vma, address: number, pfn: number): boolean {
  const as = vma.file
  if (!as) return false
  const fr = m.frames
  const offset = address % PAGE
  const index =
    fr.mapping[pfn] === as.id && !fr.test(pfn, PG.anon) ? fr.index[pfn]! : vma.linearIndex(address - offset)
  return index * PAGE + offset >= as.size
}
