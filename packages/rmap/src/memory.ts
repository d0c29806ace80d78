/**
 * mm/memory.c of the -aa tree: the page-fault handlers, `zap_page_range`
 * (munmap, exit), `copy_page_range` (fork) and `change_protection`
 * (mprotect), on the arch's raw pte words.
 *
 * The hot paths read and write pte words straight from the page-table store
 * through the arch's fast codec: no bigint, no object per pte.
 */

import { BUG } from './bugs.js'
import type { Cpu } from './cpu.js'
import { KernelBugError, OutOfMemoryError, SignalError } from './errors.js'
import { filemapNopage, markPageAccessed, NOPAGE_SIGBUS, setPageDirty } from './filemap.js'
import { filemapPopulate } from './fremap.js'
import { LOCK, lockPage, testSetPageLocked, unlockPage } from './locks.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { VM, type Vma } from './mm/vma.js'
import {
  lookupPte,
  NO_PTE,
  pteAllocMap,
  pteMapFound,
  pteOffsetMap,
  pteOffsetMapNested,
  pteUnmap,
  pteUnmapNested,
  pteWordOffset,
} from './pgtable.js'
import { freeSwapCache, lookupSwapCache, readSwapCacheAsync } from './swap_state.js'
import {
  exclusiveSwapPage,
  freeSwapAndCache,
  removeExclusiveSwapPage,
  swapDuplicate,
  swapFree,
} from './swapfile.js'

/**
 * How a fault was resolved (counted in m.stats().faults): `file` is do_no_page
 * mapping a page-cache page, `fileCow` its early COW into an anonymous page,
 * `nonlinear` do_file_page re-populating a file pte, `swapCache` do_swap_page
 * finding the page in the swap cache, `swapMajor` do_swap_page reading it
 * from its slot (VM_FAULT_MAJOR).
 */
export type FaultKind =
  | 'anonymousZero'
  | 'anonymous'
  | 'wpCopy'
  | 'wpReuse'
  | 'minor'
  | 'file'
  | 'fileCow'
  | 'nonlinear'
  | 'swapCache'
  | 'swapMajor'

/** Read the two words of the pte at `ptr`. The high word lands in `c.hi`. */
function readPte(m: Machine, c: Cpu, ptr: number): number {
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  c.hi = m.fast.words === 2 ? w[at + 1]! : 0
  return w[at]!
}

/**
 * `handle_mm_fault` → `handle_pte_fault` for a user access to `address` (page
 * aligned) in `vma`, which the caller found and permission-checked; `found`,
 * when given, is the pte location of `address`, found by the caller's walk
 * with nothing run since.
 */
export function handleMmFault(
  m: Machine,
  c: Cpu,
  vma: Vma,
  address: number,
  write: boolean,
  pid: number,
  found: number = NO_PTE,
): FaultKind {
  const mm = vma.mm
  // 2.6.4's pte_chain_alloc before anything changes (a call that does nothing under objrmap).
  m.rmap.pageRmapReserve(m, c)
  // `found`: the pte the faulting access's own walk just found, on a
  // sequential machine (nothing can free the pte page in between), so the
  // fault maps it instead of walking the page tables again.
  const ptr = found === NO_PTE ? pteAllocMap(m.env, mm.id, address, c.id) : pteMapFound(m.env, found, c.id)
  try {
    const lo = readPte(m, c, ptr)
    const hi = c.hi
    const f = m.fast
    if (!f.present(lo, hi)) {
      if (f.none(lo, hi)) {
        if (vma.file) return doNoPage(m, c, vma, address, ptr, write, pid)
        return doAnonymousPage(m, c, vma, address, ptr, write)
      }
      if (f.file(lo, hi)) return doFilePage(m, c, vma, address, ptr, lo, hi, write, pid)
      return doSwapPage(m, c, vma, address, ptr, lo, hi, write)
    }
    if (write && (lo & f.WRITE) === 0) return doWpPage(m, c, vma, address, ptr, lo, hi)
    // The pte allows the access: mark it young (and dirty on a write), as
    // handle_pte_fault does through ptep_establish.
    const entry = (lo | f.YOUNG | (write ? f.DIRTY : 0)) >>> 0
    m.env.mmu.setPte(ptr, entry, hi, c.id)
    m.env.mmu.flushTlbPage(mm.id, address, c.id)
    void pid
    return 'minor'
  } finally {
    pteUnmap(m.env, ptr, c.id)
  }
}

/** `do_anonymous_page`: the zero page for a read, a fresh zeroed anon page for a write. */
function doAnonymousPage(
  m: Machine,
  c: Cpu,
  vma: Vma,
  address: number,
  ptr: number,
  write: boolean,
): FaultKind {
  const f = m.fast
  if (!write) {
    // Read-only mapping of ZERO_PAGE: PageReserved, so page_add_rmap ignores
    // it, and it is not counted in rss.
    const lo = (f.mkPteLo(m.zeroPage, vma.pageProt) & ~f.WRITE) >>> 0
    m.env.mmu.setPte(ptr, lo, f.mkPteHi(m.zeroPage, vma.pageProt), c.id)
    m.rmap.pageAddRmap(m, c, m.zeroPage, vma, address, ptr, false)
    return 'anonymousZero'
  }
  m.rmap.vmaPrepare(m, c, vma)
  const pfn = m.allocUserPage()
  m.frames.content[pfn] = 0 // clear_user_highpage
  vma.mm.rss++
  const lo = (f.mkPteLo(pfn, vma.pageProt) | f.WRITE | f.DIRTY) >>> 0
  m.lruAddActive(pfn)
  m.frames.set(pfn, PG.referenced) // mark_page_accessed
  m.env.mmu.setPte(ptr, lo, f.mkPteHi(pfn, vma.pageProt), c.id)
  if (m.bugs & BUG.pgAnonRace) m.frames.set(pfn, PG.anon) // 2.6.5-rc1-aa1: SetPageAnon(page)
  m.rmap.pageAddRmap(m, c, pfn, vma, address, ptr, true)
  return 'anonymous'
}

/**
 * `do_swap_page`: a fault on a swap pte. BUG if the vma has no anon_vma (a
 * swap pte only exists where an anonymous page was). The page comes from the
 * swap cache, or is read in from its slot (a major fault; read-ahead omitted,
 * see swap_state.ts). Then, with the page locked and the pte unchanged: the
 * pte's slot reference is dropped (swap_free); if swap is more than half full
 * (vm_swap_full) the page leaves the swap cache when nobody else uses it
 * (remove_exclusive_swap_page); rss++; the pte is writable only for a write
 * that can_share_swap_page allows (otherwise the retried access COWs through
 * do_wp_page); and `page_add_rmap(page, vma, address, 1)`, whose 0→1
 * transition re-homes an unmapped swap-cache page to this vma's anon_vma and
 * linear index (docs/designs.md#the-three-states-of-an-anonymous-page state 3 → 1/2). Entered and left with `ptr` mapped.
 */
function doSwapPage(
  m: Machine,
  c: Cpu,
  vma: Vma,
  address: number,
  ptr: number,
  lo: number,
  hi: number,
  write: boolean,
): FaultKind {
  const f = m.fast
  const fr = m.frames
  const mm = vma.mm
  m.rmap.vmaCheckSwapIn(m, vma, address, 'mm/memory.c do_swap_page')
  const entry = m.swap.entry(f.swpType(lo, hi), f.swpOffset(lo, hi))
  let major = false
  let pfn: number
  pteUnmap(m.env, ptr, c.id)
  try {
    pfn = lookupSwapCache(m, entry)
    if (pfn < 0) {
      pfn = readSwapCacheAsync(m, c, entry)
      major = true
    }
    markPageAccessed(m, pfn)
    lockPage(m, c, pfn, 'mm/memory.c do_swap_page')
  } finally {
    pteOffsetMap(m.env, mm.id, address, c.id)
  }
  // spin_lock(&mm->page_table_lock), held to the end (modelled under the explorer only).
  const smp = m.smp
  if (smp !== null) smp.locks.acquire(c.id, LOCK.page_table_lock, mm.id)
  const now = readPte(m, c, ptr)
  if (now !== lo || c.hi !== hi) {
    // Another thread handled the fault meanwhile: back out.
    unlockPage(m, c, pfn)
    if (smp !== null) smp.locks.release(c.id, LOCK.page_table_lock, mm.id)
    m.putPage(pfn)
    return 'minor'
  }
  swapFree(m, entry)
  if (m.swap.full()) removeExclusiveSwapPage(m, pfn)
  mm.rss++
  let pte = f.mkPteLo(pfn, vma.pageProt)
  if (write && canShareSwapPage(m, pfn)) pte |= f.DIRTY | (vma.flags & VM.WRITE ? f.WRITE : 0)
  unlockPage(m, c, pfn)
  const phi = f.mkPteHi(pfn, vma.pageProt)
  m.env.mmu.setPte(ptr, pte >>> 0, phi, c.id)
  if (m.bugs & BUG.pgAnonRace) fr.set(pfn, PG.anon) // 2.6.5-rc1-aa1: SetPageAnon outside page_map_lock
  if (smp !== null) smp.preempt('do_swap_page:set_pte→page_add_rmap')
  m.rmap.pageAddRmap(m, c, pfn, vma, address, ptr, true)
  if (smp !== null) smp.locks.release(c.id, LOCK.page_table_lock, mm.id)
  // rmap 11: a design that cannot find the page at this address (anonmm, after
  // an mremap moved this swap pte away from where another mm maps the page)
  // takes a private copy now.
  if (m.rmap.swapInMustCopy(m, pfn, address)) {
    m.counters.rmap.swapInCows++
    doWpPage(m, c, vma, address, ptr, pte >>> 0, phi)
  }
  if (major) m.counters.swap.majorFaults++
  else m.counters.swap.cacheHits++
  return major ? 'swapMajor' : 'swapCache'
}

/**
 * `can_share_swap_page(page)` (page locked): may a write fault reuse the page
 * instead of copying it? Only when this pte holds the one reference (count 1),
 * or the extra reference is the swap cache's and the swap slot is exclusive.
 */
export function canShareSwapPage(m: Machine, pfn: number): boolean {
  const fr = m.frames
  if (!fr.test(pfn, PG.locked))
    throw new KernelBugError('can_share_swap_page of an unlocked page', 'mm/swapfile.c can_share_swap_page')
  const count = fr.count[pfn]!
  if (count === 1) return !fr.test(pfn, PG.reserved)
  // count 3 only with buffers (PagePrivate); then, as for count 2, the extra
  // reference must be the swap cache's and the swap slot exclusive.
  if (count === 3 && !fr.test(pfn, PG.private)) return false
  if (count !== 2 && count !== 3) return false
  return fr.test(pfn, PG.swapcache) && exclusiveSwapPage(m, pfn)
}

/**
 * `make_page_exclusive(vma, addr)` of rmap 11 (include/linux/rmap.h there):
 * a write fault at `addr` in `vma`, so that the anonymous page mapped there
 * becomes a private copy that only this mm maps (for mremap's
 * move_page_tables and swapoff's unuse_process under anonmm). Throws
 * OutOfMemoryError when no frame is left for the copy (the kernel's -ENOMEM).
 */
export function makePageExclusive(m: Machine, c: Cpu, vma: Vma, addr: number): void {
  handleMmFault(m, c, vma, addr, true, -1)
}

/** `do_wp_page`: a write to a present, write-protected pte (COW). */
function doWpPage(
  m: Machine,
  c: Cpu,
  vma: Vma,
  address: number,
  ptr: number,
  lo: number,
  hi: number,
): FaultKind {
  const f = m.fast
  const fr = m.frames
  const mm = vma.mm
  const old = f.pfn(lo, hi)
  const reserved = fr.test(old, PG.reserved)
  if (!reserved && !testSetPageLocked(m, c, old)) {
    const reuse = canShareSwapPage(m, old)
    unlockPage(m, c, old)
    if (reuse) {
      // maybe_mkwrite(pte_mkyoung(pte_mkdirty(pte))) and ptep_establish.
      const entry = (lo | f.DIRTY | f.YOUNG | (vma.flags & VM.WRITE ? f.WRITE : 0)) >>> 0
      m.env.mmu.setPte(ptr, entry, hi, c.id)
      m.env.mmu.flushTlbPage(mm.id, address, c.id)
      m.counters.cow.reuses++
      return 'wpReuse'
    }
  }
  m.getPage(old)
  // page_table_lock dropped (and the pte unmapped) to allocate and copy; under
  // the explorer another cpu may run here.
  const smp = m.smp
  if (smp !== null) {
    pteUnmap(m.env, ptr, c.id)
    smp.preempt('do_wp_page:page_table_lock dropped→alloc')
  }
  let pfn: number
  try {
    m.rmap.vmaPrepare(m, c, vma)
    pfn = m.allocUserPage()
  } catch (e) {
    // no_new_page: page_cache_release(old_page) before VM_FAULT_OOM.
    m.putPage(old)
    throw e
  }
  // copy_cow_page: the zero page is cleared rather than copied.
  fr.content[pfn] = old === m.zeroPage ? 0 : fr.content[old]!
  copyEofTail(m, old, pfn)
  if (smp !== null) pteOffsetMap(m.env, mm.id, address, c.id)
  // page_table_lock retaken: if the pte changed meanwhile (reclaim unmapped
  // the page, or aged the pte), back out and let the access fault again.
  const now = readPte(m, c, ptr)
  if (now !== lo || c.hi !== hi) {
    m.putPage(pfn)
    m.putPage(old)
    return 'minor'
  }
  if (reserved) mm.rss++
  m.rmap.pageRemoveRmap(m, c, old, ptr)
  // break_cow: maybe_mkwrite(pte_mkdirty(mk_pte(new_page, vm_page_prot))): writable
  // only in a VM_WRITE vma (a forced get_user_pages write COWs a read-only one).
  const entry =
    (f.mkPteLo(pfn, vma.pageProt) | (vma.flags & VM.WRITE ? f.WRITE : 0) | f.DIRTY | f.YOUNG) >>> 0
  m.env.mmu.setPte(ptr, entry, f.mkPteHi(pfn, vma.pageProt), c.id)
  m.env.mmu.flushTlbPage(mm.id, address, c.id)
  if (m.bugs & BUG.pgAnonRace) fr.set(pfn, PG.anon) // 2.6.5-rc1-aa1: SetPageAnon(new_page)
  m.rmap.pageAddRmap(m, c, pfn, vma, address, ptr, true)
  m.lruAddActive(pfn)
  // The old page loses the reference the pte held and the one taken above.
  m.putPage(old)
  m.putPage(old)
  m.counters.cow.copies++
  return 'wpCopy'
}

/** The EOF tail word of `from` goes with its content to the copy `to` (filemap.ts, "The EOF tail"). */
function copyEofTail(m: Machine, from: number, to: number): void {
  const tails = m.fs.tails
  if (tails.size === 0) return
  const t = tails.get(from)
  if (t === undefined) tails.delete(to)
  else tails.set(to, t)
}

/** Run the one-shot `m.fs.nopageRacer` as another cpu would, in do_no_page's unlocked window. */
function runNopageRacer(m: Machine, vma: Vma, address: number): void {
  const racer = m.fs.nopageRacer
  if (!racer) return
  m.fs.nopageRacer = undefined
  racer(vma, address)
}

function nopageBug(invariant: string, pfn: number): never {
  throw new KernelBugError(invariant, 'mm/memory.c do_no_page', `pfn ${pfn}`)
}

/**
 * `do_no_page` for a file vma (its `->nopage` is filemap_nopage): entered and
 * left with the pte at `ptr` mapped, as handle_mm_fault expects, but, like the
 * kernel, without it (and page_table_lock) across `->nopage`.
 *
 * - truncate_count is sampled before `->nopage` and compared again under the
 *   lock: a truncate that ran in between (invalidate_mmap_range bumps it)
 *   makes the fault drop its page and call `->nopage` again, which then sees
 *   the new i_size. Without the retry a page truncate just dropped from the
 *   cache would be mapped.
 * - A page offset at or past i_size is NOPAGE_SIGBUS: the process gets SIGBUS.
 *   The -aa tree runs the BUG_ONs below on the returned page before it tests
 *   for NOPAGE_SIGBUS/NOPAGE_OOM (NULL and -1 as struct page pointers), which
 *   would oops on them; the model tests the sentinels first, as the mainline
 *   2.6 do_no_page does.
 * - A write fault on a private vma breaks COW early: anon_vma_prepare, copy
 *   into a new page, release the cache page (never mapped here), and map the
 *   copy with `page_add_rmap(..., anon = 1)`.
 * - Otherwise the page-cache page is mapped with `page_add_rmap(..., anon = 0)`,
 *   its reference passing to the pte. A write fault on a shared vma maps it
 *   dirty and writable (maybe_mkwrite); a read fault maps it with
 *   vm_page_prot, which for a VM_SHARED|VM_WRITE vma is PAGE_SHARED, already
 *   writable, so the first write to it needs no further fault.
 */
function doNoPage(
  m: Machine,
  c: Cpu,
  vma: Vma,
  address: number,
  ptr: number,
  write: boolean,
  pid: number,
): FaultKind {
  const as = vma.file!
  const mm = vma.mm
  const fr = m.frames
  const f = m.fast
  pteUnmap(m.env, ptr, c.id)
  const tables = m.env.tables
  const freed = tables.freed
  let mapped = false
  try {
    let sequence = as.truncateCount
    for (;;) {
      if (m.smp !== null) m.smp.preempt('do_no_page:->nopage')
      let page = filemapNopage(m, c, vma, address)
      if (page === NOPAGE_SIGBUS) {
        m.counters.filemap.sigbus++
        throw new SignalError(
          'SIGBUS',
          address,
          pid,
          `page offset ${vma.linearIndex(address)} of ${as.path} is at or past i_size (${as.size} bytes)`,
        )
      }
      // BUG_ONs of do_no_page (docs/designs.md#invariants (13)).
      if (page < 0 || page >= fr.n) nopageBug('->nopage returns a valid pfn', page)
      if (fr.test(page, PG.swapcache)) nopageBug('->nopage never returns a swapcache page', page)
      if (fr.test(page, PG.anon)) nopageBug('->nopage never returns an anonymous page', page)
      if (!(vma.flags & VM.RESERVED) && (fr.mapping[page] === -1 || fr.test(page, PG.reserved)))
        nopageBug('outside VM_RESERVED vmas ->nopage returns a page with a mapping, not PageReserved', page)
      let anon = false
      if (write && !(vma.flags & VM.SHARED)) {
        // Early COW break.
        let copy: number
        try {
          m.rmap.vmaPrepare(m, c, vma)
          copy = m.allocUserPage()
        } catch (e) {
          // oom: page_cache_release(new_page) before VM_FAULT_OOM.
          m.putPage(page)
          throw e
        }
        fr.content[copy] = fr.content[page]!
        copyEofTail(m, page, copy)
        m.putPage(page)
        m.lruAddActive(copy)
        page = copy
        anon = true
        if (m.bugs & BUG.pgAnonRace) fr.set(copy, PG.anon) // 2.6.5-rc1-aa1: SetPageAnon, cleared on retry
      }
      runNopageRacer(m, vma, address)
      if (m.smp !== null) m.smp.preempt('do_no_page:truncate_count check')
      if (sequence !== as.truncateCount) {
        // invalidate_mmap_range ran meanwhile: drop the page, ask ->nopage again.
        sequence = as.truncateCount
        if (anon && m.bugs & BUG.pgAnonRace) fr.clear(page, PG.anon)
        m.putPage(page)
        m.counters.filemap.nopageRetries++
        continue
      }
      // pte_offset_map again: on a sequential machine with no page table
      // freed since the fault's walk (PageTableStore.freed), that walk's
      // location is what this one would find; only the kmap is taken.
      const again =
        m.smp === null && tables.freed === freed
          ? pteMapFound(m.env, ptr, c.id)
          : pteOffsetMap(m.env, mm.id, address, c.id)
      mapped = true
      if (again !== ptr) nopageBug('the pte page stays while the fault runs unlocked', page)
      const lo = readPte(m, c, ptr)
      if (!f.none(lo, c.hi)) {
        // Another thread mapped the pte meanwhile: back out.
        m.putPage(page)
        return 'minor'
      }
      if (!fr.test(page, PG.reserved)) mm.rss++
      let entry = f.mkPteLo(page, vma.pageProt)
      if (write) entry |= f.DIRTY | (vma.flags & VM.WRITE ? f.WRITE : 0)
      m.env.mmu.setPte(ptr, entry >>> 0, f.mkPteHi(page, vma.pageProt), c.id)
      if (!(vma.flags & VM.RESERVED)) m.rmap.pageAddRmap(m, c, page, vma, address, ptr, anon)
      return anon ? 'fileCow' : 'file'
    }
  } finally {
    if (!mapped) pteOffsetMap(m.env, mm.id, address, c.id)
  }
}

/**
 * `do_file_page`: a fault on a file pte (remap_file_pages put it there) is
 * re-populated through `->populate` with the pgoff the pte holds, mapping
 * that file page at this address. A write to a private vma (never the case
 * for a file pte made by remap_file_pages, which needs VM_SHARED) clears the
 * pte and goes through do_no_page. A pgoff at or past i_size is SIGBUS.
 * Entered and left with `ptr` mapped.
 */
function doFilePage(
  m: Machine,
  c: Cpu,
  vma: Vma,
  address: number,
  ptr: number,
  lo: number,
  hi: number,
  write: boolean,
  pid: number,
): FaultKind {
  const as = vma.file
  if (!as) {
    throw new KernelBugError(
      'do_file_page: the vma has a nopage method',
      'mm/memory.c do_file_page',
      `0x${address.toString(16)}`,
    )
  }
  if (write && !(vma.flags & VM.SHARED)) {
    m.env.mmu.ptepGetAndClear(ptr, c.id)
    return doNoPage(m, c, vma, address, ptr, write, pid)
  }
  const pgoff = m.fast.pgoff(lo, hi)
  pteUnmap(m.env, ptr, c.id)
  try {
    const err = filemapPopulate(m, c, vma, address, 4096, vma.pageProt, pgoff, false)
    // VM_FAULT_OOM: as any other fault that cannot allocate (the page's reference was released).
    if (err === 'ENOMEM') throw new OutOfMemoryError(`${m.arch.name}: out of page frames (do_file_page)`)
    if (err) {
      m.counters.filemap.sigbus++
      throw new SignalError(
        'SIGBUS',
        address,
        pid,
        `file pte for page offset ${pgoff} of ${as.path}, at or past i_size (${as.size} bytes)`,
      )
    }
  } finally {
    pteOffsetMap(m.env, vma.mm.id, address, c.id)
  }
  return 'nonlinear'
}

/** The span [address, end) clipped to the pte page that maps `address`. */
function pteSpanEnd(m: Machine, address: number, end: number): number {
  const span = m.arch.geometry.PTRS_PER_PTE * 4096
  return Math.min(end, (Math.floor(address / span) + 1) * span)
}

/**
 * `zap_page_range(vma, start, end)`: clear every pte in the range, drop the
 * rmap and the page references, and flush the TLB once the ptes are gone
 * (the mmu_gather: pages are freed only after the flush).
 */
export function zapPageRange(m: Machine, c: Cpu, vma: Vma, start: number, end: number): void {
  if (start >= end) throw new KernelBugError('unmap_page_range: start < end', 'mm/memory.c unmap_page_range')
  const mm = vma.mm
  const f = m.fast
  const fr = m.frames
  const mmu = m.env.mmu
  const env = m.env
  const rmap = m.rmap
  const words = f.words
  const w32 = words === 2
  // This cpu's mmu_gather (cpu.ts): the pfns whose references drop after the TLB flush.
  let gather = c.gather
  let freed = 0
  for (let a = start; a < end; ) {
    const spanEnd = pteSpanEnd(m, a, end)
    const base = pteOffsetMap(env, mm.id, a, c.id)
    if (base !== NO_PTE) {
      // The ptes are read by word offset within the pte page: one lookup of the page per pte page.
      for (
        let addr = a, ptr = base, at = pteWordOffset(env, base);
        addr < spanEnd;
        addr += 4096, ptr++, at += words
      ) {
        const w = env.tables.words
        const lo = w[at]!
        const hi = w32 ? w[at + 1]! : 0
        if (f.none(lo, hi)) continue
        if (!f.present(lo, hi)) {
          // A swap pte drops its slot reference (and the cached page, if that was the last user).
          if (!f.file(lo, hi)) freeSwapAndCache(m, c, m.swap.entry(f.swpType(lo, hi), f.swpOffset(lo, hi)))
          mmu.ptepGetAndClear(ptr, c.id)
          continue
        }
        const old = mmu.ptepGetAndClear(ptr, c.id)
        const pfn = f.pfn(old, mmu.lastHi)
        if (pfn < fr.n && !fr.test(pfn, PG.reserved)) {
          if (old & f.DIRTY) setPageDirty(m, c, pfn)
          // A young pte of a page-cache page counts as an access (page_mapping
          // is NULL for anonymous pages in the -aa tree, so only file pages).
          if (old & f.YOUNG && !fr.test(pfn, PG.anon) && fr.mapping[pfn] !== -1) markPageAccessed(m, pfn)
          rmap.pageRemoveRmap(m, c, pfn, ptr)
          if (freed === gather.length) gather = c.growGather()
          gather[freed++] = pfn
          mm.rss--
        }
      }
      pteUnmap(env, base, c.id)
    }
    a = spanEnd
  }
  mmu.flushTlbRange(mm.id, start, end, c.id)
  // free_pages_and_swap_cache: a swap-cache page nobody else uses leaves the cache with its last pte.
  for (let i = 0; i < freed; i++) {
    const pfn = gather[i]!
    if (fr.test(pfn, PG.swapcache)) freeSwapCache(m, c, pfn)
    m.putPage(pfn)
  }
}

/**
 * `copy_page_range(dst, src, vma)` for fork: copy every pte of the parent's vma
 * into the child's page tables. A COW mapping (VM_MAYWRITE without VM_SHARED)
 * is write-protected on both sides; the child's ptes are old (and clean for
 * VM_SHARED). Each copied page gains a reference and, through page_add_rmap
 * with the unlocked PageAnon read (safe: the parent's pte keeps the page mapped
 * while fork holds mmap_sem and page_table_lock), a mapping.
 */
export function copyPageRange(m: Machine, c: Cpu, child: Vma, parent: Vma): void {
  const f = m.fast
  const fr = m.frames
  const env = m.env
  const mmu = env.mmu
  // The design, read once: one call site per hook, and its per-pte reserve
  // (2.6.4's pte_chain_alloc) only where the design has one.
  const rmap = m.rmap
  const reserve = rmap.perPteReserve !== false
  const cow = (parent.flags & (VM.SHARED | VM.MAYWRITE)) === VM.MAYWRITE
  const shared = (parent.flags & VM.SHARED) !== 0
  const words = f.words
  const w32 = words === 2
  const childMm = child.mm
  const counters = m.counters.fork
  // spin_lock(&dst->page_table_lock) for the whole copy, the source's per pte
  // page (nested, same class): modelled only under the explorer.
  const smp = m.smp
  if (smp !== null) smp.locks.acquire(c.id, LOCK.page_table_lock, childMm.id)
  for (let a = parent.start; a < parent.end; ) {
    const spanEnd = pteSpanEnd(m, a, parent.end)
    // An empty source pmd is skipped; otherwise, in the kernel's order, the
    // child's pte page is allocated and mapped (KM_PTE0), then the parent's
    // is mapped nested (KM_PTE1).
    if (lookupPte(env, parent.mm.id, a) === NO_PTE) {
      a = spanEnd
      continue
    }
    const dst = pteAllocMap(env, childMm.id, a, c.id)
    if (smp !== null) smp.locks.acquire(c.id, LOCK.page_table_lock, parent.mm.id, true)
    const src = pteOffsetMapNested(env, parent.mm.id, a, c.id)
    // The parent's ptes are read by word offset within its pte page: one
    // lookup of the page per pte page, not per pte.
    for (let addr = a, k = 0, at = pteWordOffset(env, src); addr < spanEnd; addr += 4096, k++, at += words) {
      const w = env.tables.words
      let lo = w[at]!
      const hi = w32 ? w[at + 1]! : 0
      if (f.none(lo, hi)) continue
      counters.ptesCopied++
      if (reserve) {
        try {
          rmap.pageRmapReserve(m, c)
        } catch (e) {
          // 2.6.4: when pte_chain_alloc(GFP_ATOMIC) fails, both ptes are unmapped
          // and both page_table_locks dropped before the GFP_KERNEL retry; when
          // that fails too, fork's nomem path runs with nothing mapped or held.
          pteUnmapNested(env, src, c.id)
          pteUnmap(env, dst, c.id)
          if (smp !== null) {
            smp.locks.release(c.id, LOCK.page_table_lock, parent.mm.id)
            smp.locks.release(c.id, LOCK.page_table_lock, childMm.id)
          }
          throw e
        }
      }
      if (!f.present(lo, hi)) {
        // A swap pte: one more reference to its slot; a file pte is copied as is.
        if (!f.file(lo, hi)) swapDuplicate(m, m.swap.entry(f.swpType(lo, hi), f.swpOffset(lo, hi)))
        mmu.setPte(dst + k, lo, hi, c.id)
        continue
      }
      const pfn = f.pfn(lo, hi)
      if (pfn >= fr.n || fr.test(pfn, PG.reserved)) {
        mmu.setPte(dst + k, lo, hi, c.id)
        continue
      }
      if (cow) {
        mmu.ptepSetWrprotect(src + k, c.id)
        lo = (lo & ~f.WRITE) >>> 0
      }
      if (shared) lo = (lo & ~f.DIRTY) >>> 0
      lo = (lo & ~f.YOUNG) >>> 0
      m.getPage(pfn)
      childMm.rss++
      mmu.setPte(dst + k, lo, hi, c.id)
      if (smp === null) rmap.pageDupRmap(m, c, pfn, child, addr, dst + k)
      else {
        try {
          rmap.pageDupRmap(m, c, pfn, child, addr, dst + k)
        } catch (e) {
          // Under the explorer the rmap lock may be another cpu's (LockBlocked):
          // the schedule is dropped, and fork unwinds with nothing held.
          pteUnmapNested(env, src, c.id)
          pteUnmap(env, dst, c.id)
          smp.locks.release(c.id, LOCK.page_table_lock, parent.mm.id)
          smp.locks.release(c.id, LOCK.page_table_lock, childMm.id)
          throw e
        }
      }
    }
    pteUnmapNested(env, src, c.id)
    pteUnmap(env, dst, c.id)
    if (smp !== null) smp.locks.release(c.id, LOCK.page_table_lock, parent.mm.id)
    a = spanEnd
  }
  if (smp !== null) smp.locks.release(c.id, LOCK.page_table_lock, childMm.id)
}

/**
 * `change_protection(vma, start, end, newprot)`: rewrite every present pte with
 * `pte_modify` (keep the pfn, accessed and dirty bits, take the new
 * protection), then flush the range.
 */
export function changeProtection(
  m: Machine,
  c: Cpu,
  vma: Vma,
  start: number,
  end: number,
  prot: number,
): void {
  const f = m.fast
  const mmu = m.env.mmu
  const keep = m.pteChgMaskLo
  for (let a = start; a < end; ) {
    const spanEnd = pteSpanEnd(m, a, end)
    const base = pteOffsetMap(m.env, vma.mm.id, a, c.id)
    if (base !== NO_PTE) {
      for (let addr = a, ptr = base; addr < spanEnd; addr += 4096, ptr++) {
        const lo = readPte(m, c, ptr)
        if (!f.present(lo, c.hi)) continue
        const old = mmu.ptepGetAndClear(ptr, c.id)
        mmu.setPte(ptr, ((old & keep) | prot) >>> 0, mmu.lastHi, c.id)
      }
      pteUnmap(m.env, base, c.id)
    }
    a = spanEnd
  }
  mmu.flushTlbRange(vma.mm.id, start, end, c.id)
}

/** A SIGSEGV for `pid` at `address`. */
export function segv(pid: number, address: number, reason: string): SignalError {
  return new SignalError('SIGSEGV', address, pid, reason)
}
