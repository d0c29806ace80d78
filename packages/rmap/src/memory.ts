/**
 * mm/memory.c of the -aa tree: the page-fault handlers, `zap_page_range`
 * (munmap, exit), `copy_page_range` (fork) and `change_protection`
 * (mprotect), on the arch's raw pte words.
 *
 * The hot paths read and write pte words straight from the page-table store
 * through the arch's fast codec: no bigint, no object per pte.
 */
import { KernelBugError, NotModelledError, SignalError } from './errors.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { AnonVma, VM, type Vma } from './mm/vma.js'
import {
  lookupPte,
  NO_PTE,
  pteAllocMap,
  pteOffsetMap,
  pteOffsetMapNested,
  pteUnmap,
  pteUnmapNested,
  pteWordOffset,
} from './pgtable.js'

/** How a fault was resolved (counted in m.stats().faults). */
export type FaultKind = 'anonymousZero' | 'anonymous' | 'wpCopy' | 'wpReuse' | 'minor'

/** `anon_vma_prepare(vma)`: give the vma an anon_vma (a fresh one, as -aa does) and link it. */
export function anonVmaPrepare(m: Machine, vma: Vma): AnonVma {
  if (vma.anonVma) return vma.anonVma
  const av = new AnonVma(m.newObjectId())
  m.objects.set(av.id, av)
  vma.anonVma = av
  av.vmas.push(vma)
  m.counters.objects.anonVmas++
  return av
}

/** `anon_vma_link(vma)`: put a copied or split vma on its anon_vma's list. */
export function anonVmaLink(vma: Vma): void {
  vma.anonVma?.vmas.push(vma)
}

/** `anon_vma_unlink(vma)`: take it off; free the anon_vma when the list empties. */
export function anonVmaUnlink(m: Machine, vma: Vma): void {
  const av = vma.anonVma
  if (!av) return
  const i = av.vmas.indexOf(vma)
  if (i < 0)
    throw new KernelBugError('a vma being unlinked is on its anon_vma list', 'mm/objrmap.c anon_vma_unlink')
  av.vmas.splice(i, 1)
  if (av.vmas.length === 0) {
    m.objects.delete(av.id)
    m.counters.objects.anonVmas--
  }
}

/** Read the two words of the pte at `ptr`. The high word lands in `m.hi`. */
function readPte(m: Machine, ptr: number): number {
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  m.hi = m.fast.words === 2 ? w[at + 1]! : 0
  return w[at]!
}

/**
 * `handle_mm_fault` → `handle_pte_fault` for a user access to `address` (page
 * aligned) in `vma`, which the caller found and permission-checked.
 */
export function handleMmFault(m: Machine, vma: Vma, address: number, write: boolean, pid: number): FaultKind {
  const mm = vma.mm
  const ptr = pteAllocMap(m.env, mm.id, address)
  try {
    const lo = readPte(m, ptr)
    const hi = m.hi
    const f = m.fast
    if (!f.present(lo, hi)) {
      if (f.none(lo, hi)) {
        if (vma.file)
          throw new NotModelledError('do_no_page: file mappings arrive with the filemap work (issue #3)')
        return doAnonymousPage(m, vma, address, ptr, write)
      }
      if (f.file(lo, hi))
        throw new NotModelledError('do_file_page: nonlinear vmas arrive with remap_file_pages')
      throw new NotModelledError('do_swap_page: swap arrives with the reclaim work (issue #4)')
    }
    if (write && (lo & f.WRITE) === 0) return doWpPage(m, vma, address, ptr, lo, hi)
    // The pte allows the access: mark it young (and dirty on a write), as
    // handle_pte_fault does through ptep_establish.
    const entry = (lo | f.YOUNG | (write ? f.DIRTY : 0)) >>> 0
    m.env.mmu.setPte(ptr, entry, hi)
    m.env.mmu.flushTlbPage(mm.id, address)
    void pid
    return 'minor'
  } finally {
    pteUnmap(m.env, ptr)
  }
}

/** `do_anonymous_page`: the zero page for a read, a fresh zeroed anon page for a write. */
function doAnonymousPage(m: Machine, vma: Vma, address: number, ptr: number, write: boolean): FaultKind {
  const f = m.fast
  if (!write) {
    // Read-only mapping of ZERO_PAGE: PageReserved, so page_add_rmap ignores
    // it, and it is not counted in rss.
    const lo = (f.mkPteLo(m.zeroPage, vma.pageProt) & ~f.WRITE) >>> 0
    m.env.mmu.setPte(ptr, lo, f.mkPteHi(m.zeroPage, vma.pageProt))
    m.rmap.pageAddRmap(m, m.zeroPage, vma, address, false)
    return 'anonymousZero'
  }
  anonVmaPrepare(m, vma)
  const pfn = m.allocUserPage()
  m.frames.content[pfn] = 0 // clear_user_highpage
  vma.mm.rss++
  const lo = (f.mkPteLo(pfn, vma.pageProt) | f.WRITE | f.DIRTY) >>> 0
  m.lruAddActive(pfn)
  m.frames.set(pfn, PG.referenced) // mark_page_accessed
  m.env.mmu.setPte(ptr, lo, f.mkPteHi(pfn, vma.pageProt))
  m.rmap.pageAddRmap(m, pfn, vma, address, true)
  return 'anonymous'
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
  return fr.test(pfn, PG.swapcache) && m.exclusiveSwapPage(pfn)
}

/** `do_wp_page`: a write to a present, write-protected pte (COW). */
function doWpPage(m: Machine, vma: Vma, address: number, ptr: number, lo: number, hi: number): FaultKind {
  const f = m.fast
  const fr = m.frames
  const mm = vma.mm
  const old = f.pfn(lo, hi)
  const reserved = fr.test(old, PG.reserved)
  if (!reserved && !fr.testAndSet(old, PG.locked)) {
    const reuse = canShareSwapPage(m, old)
    fr.clear(old, PG.locked)
    if (reuse) {
      // maybe_mkwrite(pte_mkyoung(pte_mkdirty(pte))) and ptep_establish.
      const entry = (lo | f.DIRTY | f.YOUNG | (vma.flags & VM.WRITE ? f.WRITE : 0)) >>> 0
      m.env.mmu.setPte(ptr, entry, hi)
      m.env.mmu.flushTlbPage(mm.id, address)
      m.counters.cow.reuses++
      return 'wpReuse'
    }
  }
  m.getPage(old)
  anonVmaPrepare(m, vma)
  const pfn = m.allocUserPage()
  // copy_cow_page: the zero page is cleared rather than copied.
  fr.content[pfn] = old === m.zeroPage ? 0 : fr.content[old]!
  if (reserved) mm.rss++
  m.rmap.pageRemoveRmap(m, old)
  // break_cow: a dirty, young, writable pte for the copy.
  const entry = (f.mkPteLo(pfn, vma.pageProt) | f.WRITE | f.DIRTY | f.YOUNG) >>> 0
  m.env.mmu.setPte(ptr, entry, f.mkPteHi(pfn, vma.pageProt))
  m.env.mmu.flushTlbPage(mm.id, address)
  m.rmap.pageAddRmap(m, pfn, vma, address, true)
  m.lruAddActive(pfn)
  // The old page loses the reference the pte held and the one taken above.
  m.putPage(old)
  m.putPage(old)
  m.counters.cow.copies++
  return 'wpCopy'
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
export function zapPageRange(m: Machine, vma: Vma, start: number, end: number): void {
  if (start >= end) throw new KernelBugError('unmap_page_range: start < end', 'mm/memory.c unmap_page_range')
  const mm = vma.mm
  const f = m.fast
  const fr = m.frames
  const mmu = m.env.mmu
  const freed: number[] = []
  for (let a = start; a < end; ) {
    const spanEnd = pteSpanEnd(m, a, end)
    const base = pteOffsetMap(m.env, mm.id, a)
    if (base !== NO_PTE) {
      for (let addr = a, ptr = base; addr < spanEnd; addr += 4096, ptr++) {
        const lo = readPte(m, ptr)
        const hi = m.hi
        if (f.none(lo, hi)) continue
        if (!f.present(lo, hi)) {
          if (!f.file(lo, hi)) throw new NotModelledError('free_swap_and_cache: swap arrives with issue #4')
          mmu.ptepGetAndClear(ptr)
          continue
        }
        const old = mmu.ptepGetAndClear(ptr)
        const pfn = f.pfn(old, mmu.lastHi)
        if (pfn < fr.n && !fr.test(pfn, PG.reserved)) {
          if (old & f.DIRTY) fr.set(pfn, PG.dirty)
          m.rmap.pageRemoveRmap(m, pfn)
          freed.push(pfn)
          mm.rss--
        }
      }
      pteUnmap(m.env, base)
    }
    a = spanEnd
  }
  mmu.flushTlbRange(mm.id, start, end)
  for (const pfn of freed) m.putPage(pfn)
}

/**
 * `copy_page_range(dst, src, vma)` for fork: copy every pte of the parent's vma
 * into the child's page tables. A COW mapping (VM_MAYWRITE without VM_SHARED)
 * is write-protected on both sides; the child's ptes are old (and clean for
 * VM_SHARED). Each copied page gains a reference and, through page_add_rmap
 * with the unlocked PageAnon read (safe: the parent's pte keeps the page mapped
 * while fork holds mmap_sem and page_table_lock), a mapping.
 */
export function copyPageRange(m: Machine, child: Vma, parent: Vma): void {
  const f = m.fast
  const fr = m.frames
  const mmu = m.env.mmu
  const cow = (parent.flags & (VM.SHARED | VM.MAYWRITE)) === VM.MAYWRITE
  const shared = (parent.flags & VM.SHARED) !== 0
  const w32 = f.words === 2
  for (let a = parent.start; a < parent.end; ) {
    const spanEnd = pteSpanEnd(m, a, parent.end)
    // An empty source pmd is skipped; otherwise, in the kernel's order, the
    // child's pte page is allocated and mapped (KM_PTE0), then the parent's
    // is mapped nested (KM_PTE1).
    if (lookupPte(m.env, parent.mm.id, a) === NO_PTE) {
      a = spanEnd
      continue
    }
    const dst = pteAllocMap(m.env, child.mm.id, a)
    const src = pteOffsetMapNested(m.env, parent.mm.id, a)
    for (let addr = a, k = 0; addr < spanEnd; addr += 4096, k++) {
      let lo = readPte(m, src + k)
      const hi = m.hi
      if (f.none(lo, hi)) continue
      m.counters.fork.ptesCopied++
      if (!f.present(lo, hi)) {
        if (!f.file(lo, hi)) throw new NotModelledError('swap_duplicate: swap arrives with issue #4')
        mmu.setPte(dst + k, lo, hi)
        continue
      }
      const pfn = f.pfn(lo, hi)
      if (pfn >= fr.n || fr.test(pfn, PG.reserved)) {
        mmu.setPte(dst + k, lo, hi)
        continue
      }
      if (cow) {
        mmu.ptepSetWrprotect(src + k)
        lo = (lo & ~f.WRITE) >>> 0
      }
      if (shared) lo = (lo & ~f.DIRTY) >>> 0
      lo = (lo & ~f.YOUNG) >>> 0
      m.getPage(pfn)
      child.mm.rss++
      mmu.setPte(dst + k, lo, w32 ? hi : 0)
      if (fr.mapcount[pfn] === 0 || fr.mapping[pfn] === -1) {
        throw new KernelBugError(
          'copy_page_range: a present page in a non-VM_RESERVED vma is mapped and has a mapping',
          'mm/memory.c copy_page_range',
          `pfn ${pfn}`,
        )
      }
      m.rmap.pageAddRmap(m, pfn, child, addr, fr.test(pfn, PG.anon))
    }
    pteUnmapNested(m.env, src)
    pteUnmap(m.env, dst)
    a = spanEnd
  }
}

/**
 * `change_protection(vma, start, end, newprot)`: rewrite every present pte with
 * `pte_modify` (keep the pfn, accessed and dirty bits, take the new
 * protection), then flush the range.
 */
export function changeProtection(m: Machine, vma: Vma, start: number, end: number, prot: number): void {
  const f = m.fast
  const mmu = m.env.mmu
  const keep = m.pteChgMaskLo
  for (let a = start; a < end; ) {
    const spanEnd = pteSpanEnd(m, a, end)
    const base = pteOffsetMap(m.env, vma.mm.id, a)
    if (base !== NO_PTE) {
      for (let addr = a, ptr = base; addr < spanEnd; addr += 4096, ptr++) {
        const lo = readPte(m, ptr)
        if (!f.present(lo, m.hi)) continue
        const old = mmu.ptepGetAndClear(ptr)
        mmu.setPte(ptr, ((old & keep) | prot) >>> 0, mmu.lastHi)
      }
      pteUnmap(m.env, base)
    }
    a = spanEnd
  }
  mmu.flushTlbRange(vma.mm.id, start, end)
}

/** A SIGSEGV for `pid` at `address`. */
export function segv(pid: number, address: number, reason: string): SignalError {
  return new SignalError('SIGSEGV', address, pid, reason)
}
