/**
 * mm/mremap.c of the -aa tree (`do_mremap`, `move_vma`, `move_page_tables`),
 * with the merge rules of each design's kernel where -aa left merging
 * disabled (2.6.7's `copy_vma`, 2.6.6's, or 2.6.4's `move_vma`).
 *
 * Why an anonymous mremap costs the reverse mapping nothing (docs/designs.md#mremap-and-the-anonymous-vm_pgoff): an anonymous
 * page's page->index is its *linear* index, the virtual page number of the
 * mapping it was first faulted in, and the rmap finds it in a vma at
 * vm_start + (index - vm_pgoff) pages. `move_vma` gives the new vma the old
 * linear origin — vm_pgoff = old vm_pgoff + (old address - vm_start) / PAGE —
 * and the same anon_vma, and `move_page_tables` moves each pte word to the
 * new address (ptep_get_and_clear + TLB flush at the old address, set_pte at
 * the new one). No page is touched: mapping, index, mapcount, count and rss all
 * stay (under objrmap; anonmm, whose page->index is the user address, notes
 * the new address or copies the page first: see `move_one_page`). The walk computes the new address from the new vma's pgoff, and a page
 * still shared with a fork relative (who maps it at the old address) is found
 * through the same anon_vma in both. The price: the moved vma's pgoff no longer
 * follows its address, so it cannot merge with neighbours whose pgoff does.
 *
 * The rules of 2.6.5 `do_mremap`, in its order:
 *
 * 1. EINVAL: flags other than MREMAP_MAYMOVE|MREMAP_FIXED; an unaligned old
 *    address; a new length of 0 (after page rounding; an old length of 0 is the
 *    DOS-emu "duplicate" case and is allowed).
 * 2. MREMAP_FIXED: EINVAL for an unaligned new address, for FIXED without
 *    MAYMOVE, for a target past TASK_SIZE, and when the old and new ranges
 *    overlap. Then the target is unmapped — before the old range is even
 *    looked at, so a later EFAULT leaves the target unmapped, as in the kernel.
 * 3. Shrinking (new length <= old) unmaps the tail and returns the same
 *    address (unless FIXED asks for a move); the old range is not checked.
 * 4. EFAULT when the old range is not inside one vma; EFAULT when a
 *    VM_DONTEXPAND vma would grow.
 * 5. Growing in place when the old range ends the vma, no move is asked for,
 *    and the gap up to the next vma (or TASK_SIZE) is big enough.
 * 6. Otherwise ENOMEM without MREMAP_MAYMOVE, or `move_vma` to the FIXED
 *    address or to a free range from `get_unmapped_area`.
 *
 * What the model adds or leaves out, and why:
 *
 * - `move_vma` refuses with ENOMEM up front when map_count >= max_map_count - 3
 *   (the new vma plus a split of the old one into three). That check is later
 *   mainline's; the -aa tree ignored a failing do_munmap of the old range and
 *   left it mapped with its ptes gone. Up front, a refused move changes nothing.
 * - The new vma's anonymous vm_pgoff is the design's (`anonMovePgoff`:
 *   objrmap re-bases an anonymous vma that never had an anon_vma to the new
 *   address, as 2.6.7's `copy_vma`; 2.6.4's move_vma and rmap 11 keep the
 *   origin). Who merges it is the design's kernel's too (`mremapCopyVma`):
 *   `copy_vma` (2.6.6 and 2.6.7: anonmm, objrmap) merges it with its
 *   neighbours where `canMerge` allows — flags, file and anon_vma compatible
 *   and pgoffs contiguous (for anonymous vmas only under objrmap: 2.6.4 and
 *   2.6.6 did not compare them) — which under objrmap a moved anonymous vma
 *   with pages can only do with a neighbour that carries the same linear
 *   origin; the -aa tree had that merging disabled (VMA_MERGING_FIXUP off).
 *   2.6.4's move_vma (pte_chains) merges a private anonymous range only, by
 *   growing a neighbour over it ({@link moveVmaMerge}).
 * - RLIMIT_MEMLOCK (EAGAIN for a locked vma) and RLIMIT_AS (ENOMEM) are not
 *   modelled (both RLIM_INFINITY by default in 2.6.5), nor the commit charge
 *   behind VM_ACCOUNT. The flag itself is kept: the new vma copies the old
 *   one's flags, and what is left of the old vma keeps it (move_vma hides it
 *   from do_munmap only so as not to undo the charge).
 * - No hugetlb vmas exist in the model (EINVAL in the kernel).
 * - The -aa order is kept: the page tables are moved first, the new vma is
 *   linked after; if a destination page table cannot be allocated, the ptes
 *   already moved go back and the call fails with ENOMEM. 2.6.4's move_vma
 *   merged first and kept the grown neighbour on that failure: the bug
 *   'move-vma-merge-first' (bugs.ts) puts that order back under pte_chains.
 */

import { BUG } from './bugs.js'
import type { Cpu } from './cpu.js'
import { KernelBugError, OutOfMemoryError, SyscallError } from './errors.js'
import type { Machine } from './machine.js'
import { makePageExclusive } from './memory.js'
import { makePagesPresent } from './mlock.js'
import { PG } from './mm/page.js'
import { type Mm, VM, Vma } from './mm/vma.js'
import { absorb, canVmaMerge, doMunmap, getUnmappedArea, vmaLink, vmaMergeAround } from './mmap.js'
import {
  lookupPte,
  NO_PTE,
  pteAllocMap,
  pteOffsetMapNested,
  pteUnmap,
  pteUnmapNested,
  pteWordOffset,
} from './pgtable.js'
import { MREMAP_FIXED, MREMAP_MAYMOVE } from './uapi.js'

const PAGE = 4096
const S = 'mremap'

/**
 * `get_one_pte_map_nested(mm, addr)`: the source pte mapped with KM_PTE1, or
 * NO_PTE (nothing mapped) when there is no pte page or the pte is none.
 */
function getOnePteMapNested(m: Machine, c: Cpu, mm: number, addr: number): number {
  const ptr = pteOffsetMapNested(m.env, mm, addr, c.id)
  if (ptr === NO_PTE) return NO_PTE
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  if (m.fast.none(w[at]!, m.fast.words === 2 ? w[at + 1]! : 0)) {
    pteUnmapNested(m.env, ptr, c.id)
    return NO_PTE
  }
  return ptr
}

/**
 * `move_one_page(vma, old_addr, new_addr)` with `copy_one_pte`: move one pte
 * word, whatever it holds (present, swap or file pte), from `oldAddr` to
 * `newAddr` of `mm`. The source is mapped nested (KM_PTE1); when the
 * destination needs a new page table the source is unmapped first (the
 * allocation may sleep and drop page_table_lock), the destination allocated
 * and mapped with KM_PTE0 (pte_alloc_map), and the source looked up again.
 * `ptep_clear_flush` clears the source and flushes its TLB entry (on ppc the
 * hash entry, found through the source pte's _PAGE_HASHPTE); `set_pte` stores
 * the word at the destination (the arch drops hash bits that belonged to the
 * source). The page itself is not touched (no count change); the rmap design
 * is asked first whether a present pte may move (`canMoveOnePte`, rmap 11's
 * can_move_one_pte: anonmm notes the new page->index of an exclusive
 * anonymous page and refuses a shared one) and told of every present pte it
 * moved (`pteMoved`: objrmap needs nothing, pte_chains move the chain entry).
 * Returns false, with nothing moved, when the design refused (-EAGAIN).
 * Throws OutOfMemoryError (with nothing mapped or moved) when the destination
 * page table cannot be allocated.
 */
function moveOnePage(m: Machine, c: Cpu, mm: Mm, oldAddr: number, newAddr: number): boolean {
  const env = m.env
  let src = getOnePteMapNested(m, c, mm.id, oldAddr)
  if (src === NO_PTE) return true
  // page_table_present(mm, new_addr)
  if (lookupPte(env, mm.id, newAddr) === NO_PTE) {
    pteUnmapNested(env, src, c.id)
    src = NO_PTE
  }
  const dst = pteAllocMap(env, mm.id, newAddr, c.id)
  if (src === NO_PTE) src = getOnePteMapNested(m, c, mm.id, oldAddr)
  if (src !== NO_PTE) {
    const mmu = env.mmu
    const f = m.fast
    if (!canMoveOnePte(m, c, mm, src, newAddr)) {
      pteUnmapNested(env, src, c.id)
      pteUnmap(env, dst, c.id)
      return false
    }
    const lo = mmu.ptepGetAndClear(src, c.id)
    const hi = mmu.lastHi
    mmu.flushTlbPage(mm.id, oldAddr, c.id)
    mmu.setPte(dst, lo, hi, c.id)
    // The rmap design hears of a moved present pte of a tracked page.
    if (f.present(lo, hi)) {
      const pfn = f.pfn(lo, hi)
      if (pfn < m.frames.n && !m.frames.test(pfn, PG.reserved))
        m.rmap.pteMoved(m, c, pfn, mm, oldAddr, src, newAddr, dst)
    }
    pteUnmapNested(env, src, c.id)
  }
  pteUnmap(env, dst, c.id)
  return true
}

/** `can_move_one_pte(src, new_addr)`: a present pte of a tracked page moves only if the design agrees. */
function canMoveOnePte(m: Machine, c: Cpu, mm: Mm, src: number, newAddr: number): boolean {
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, src)
  const lo = w[at]!
  const hi = m.fast.words === 2 ? w[at + 1]! : 0
  if (!m.fast.present(lo, hi)) return true
  const pfn = m.fast.pfn(lo, hi)
  if (pfn >= m.frames.n || m.frames.test(pfn, PG.reserved)) return true
  return m.rmap.canMoveOnePte(m, c, pfn, mm, newAddr)
}

/**
 * `move_page_tables(vma, new_addr, old_addr, len)`: move every pte of
 * [oldAddr, oldAddr + len) to the same offset from `newAddr`, last page first.
 * When the design refuses to move a page shared with another mm (anonmm,
 * rmap 11), the page is made exclusive — a write fault at the old address
 * copies it (make_page_exclusive) — and the same pte is tried again; each
 * copy counts in `rmap.mremapCows`, the number rmap 11 printed as "mremap
 * moved N cows". When a destination page table or a copy cannot be
 * allocated, the ptes already moved are moved back (their old page tables
 * still exist) and the move fails with ENOMEM.
 */
export function movePageTables(
  m: Machine,
  c: Cpu,
  mm: Mm,
  newAddr: number,
  oldAddr: number,
  len: number,
): void {
  let offset = len
  try {
    while (offset > 0) {
      offset -= PAGE
      if (moveOnePage(m, c, mm, oldAddr + offset, newAddr + offset)) continue
      const vma = mm.findVma(oldAddr + offset)
      if (!vma || vma.start > oldAddr + offset)
        throw new KernelBugError(
          'make_page_exclusive: a vma covers the pte being moved',
          'mm/mremap.c move_page_tables',
        )
      makePageExclusive(m, c, vma, oldAddr + offset)
      m.counters.rmap.mremapCows++
      offset += PAGE
    }
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e
    for (offset += PAGE; offset < len; offset += PAGE)
      moveOnePage(m, c, mm, newAddr + offset, oldAddr + offset)
    throw new SyscallError(S, 'ENOMEM', 'move_page_tables: no memory for a destination page table or a copy')
  }
}

/**
 * `move_vma(vma, addr, old_len, new_len, new_addr)`: move [addr, addr +
 * oldLen) of `vma` to a new vma [newAddr, newAddr + newLen) that keeps the
 * linear origin (see the module comment), then unmap the old range. A locked
 * vma that grows has the new part faulted in. Returns the new address.
 */
export function moveVma(
  m: Machine,
  c: Cpu,
  mm: Mm,
  pid: number,
  vma: Vma,
  addr: number,
  oldLen: number,
  newLen: number,
  newAddr: number,
): number {
  // Later mainline's guard against failing in do_munmap below, which may split
  // one vma into three (the -aa tree ignored that failure).
  if (mm.mapCount >= m.maxMapCount - 3) {
    throw new SyscallError(
      S,
      'ENOMEM',
      `move_vma: map_count ${mm.mapCount} leaves no room below vm.max_map_count (${m.maxMapCount}) for the new vma and a split`,
    )
  }
  const locked = (vma.flags & VM.LOCKED) !== 0
  let pgoff = vma.pgoff + (addr - vma.start) / PAGE
  // The design's rule for an anonymous vma: 2.6.4's move_vma and rmap 11's
  // copy_vma keep the linear origin; 2.6.7's copy_vma (objrmap) re-bases a vma
  // that never faulted (no page to find through its pgoff) to the new address,
  // so that it merges more often.
  if (!vma.file) pgoff = m.rmap.anonMovePgoff(vma, pgoff, newAddr)
  // Bug 'move-vma-merge-first': 2.6.4 merged (grew the neighbour) before
  // move_page_tables, and a failing move left the neighbour grown; the model
  // otherwise keeps the -aa order, in which a failed move has changed nothing.
  const ownMerge = !m.rmap.mremapCopyVma // 2.6.4's move_vma merges by itself
  const mergeFirst = ownMerge && (m.bugs & BUG.moveVmaMergeFirst) !== 0
  let merged = mergeFirst && moveVmaMerge(m, c, mm, vma, newAddr, newLen)
  movePageTables(m, c, mm, newAddr, addr, oldLen)
  if (ownMerge && !mergeFirst) merged = moveVmaMerge(m, c, mm, vma, newAddr, newLen)
  if (merged) {
    // 2.6.4 counts the moved range in total_vm (and locked_vm) only once the move has worked.
    const pages = newLen / PAGE
    mm.totalVm += pages
    if (locked) mm.lockedVm += pages
  } else {
    const moved = new Vma(
      mm,
      newAddr,
      newAddr + newLen,
      vma.flags,
      vma.pageProt,
      pgoff,
      vma.file,
      vma.anonVma,
    )
    // Same anon_vma list (vmaLink → anon_vma_link); same file list (__vma_link_file).
    vmaLink(m, c, moved)
    // copy_vma's vma_merge; 2.6.4's move_vma has tried its own merge already.
    if (!ownMerge) vmaMergeAround(m, c, moved)
  }
  // The old vma object may have merged away: everything from here goes by address.
  if (oldLen > 0) doMunmap(m, c, mm, addr, oldLen, S)
  if (locked && newLen > oldLen) makePagesPresent(m, c, mm, pid, newAddr + oldLen, newAddr + newLen)
  return newAddr
}

/**
 * 2.6.4 `move_vma`'s own merge, before there was copy_vma: a private
 * anonymous `vma` moved to [newAddr, newAddr + newLen) joins the vma ending at
 * newAddr (which then absorbs the next one too when it touches and matches),
 * or else the vma starting at the end of the range, which grows down and keeps
 * its vm_pgoff (2.6.6's copy_vma lowers it). Both must be anonymous vmas with
 * `vma`'s flags (`can_vma_merge`). False when nothing merged: the caller
 * links a new vma. A file or shared vma never merges here. The grown vma is
 * not counted in total_vm here: the caller counts it once the ptes moved.
 */
function moveVmaMerge(m: Machine, c: Cpu, mm: Mm, vma: Vma, newAddr: number, newLen: number): boolean {
  if (vma.file !== null || vma.flags & VM.SHARED) return false
  // find_vma_prev(mm, new_addr, &prev): the destination is free, so `next`
  // (if any) starts at or after its end and `prev` ends at or before it.
  const i = mm.findIndex(newAddr)
  const next = mm.vmas[i]
  const prev = mm.vmas[i - 1]
  if (prev && prev.end === newAddr && canVmaMerge(m, prev, vma.flags, vma)) {
    prev.end = newAddr + newLen
    if (next && prev.end === next.start && canVmaMerge(m, next, prev.flags, prev)) absorb(m, c, prev, next)
    return true
  }
  if (next && next.start === newAddr + newLen && canVmaMerge(m, next, vma.flags, vma)) {
    next.start = newAddr
    return true
  }
  return false
}

function checkInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0)
    throw new SyscallError(S, 'EINVAL', `${name} ${v} is not a non-negative integer`)
}

/** `do_mremap(addr, old_len, new_len, flags, new_addr)`: the address of the (possibly moved) mapping. */
export function doMremap(
  m: Machine,
  c: Cpu,
  mm: Mm,
  pid: number,
  addr: number,
  oldLen: number,
  newLen: number,
  flags: number,
  newAddr: number,
): number {
  checkInt('old address', addr)
  checkInt('old length', oldLen)
  checkInt('new length', newLen)
  checkInt('flags', flags)
  // new_addr is an unsigned long even when MREMAP_FIXED is not given and it is ignored.
  if (!Number.isInteger(newAddr))
    throw new SyscallError(S, 'EINVAL', `new address ${newAddr} is not an integer`)
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE))
    throw new SyscallError(
      S,
      'EINVAL',
      `flags 0x${flags.toString(16)} has bits other than MREMAP_MAYMOVE|MREMAP_FIXED`,
    )
  if (addr % PAGE !== 0)
    throw new SyscallError(S, 'EINVAL', `old address 0x${addr.toString(16)} is not page aligned`)
  oldLen = Math.ceil(oldLen / PAGE) * PAGE
  newLen = Math.ceil(newLen / PAGE) * PAGE
  // A zero old length is allowed (DOS-emu's "duplicate shm area"); a zero new one is not.
  if (newLen === 0) throw new SyscallError(S, 'EINVAL', 'new length is 0')
  const taskSize = m.taskSize
  if (flags & MREMAP_FIXED) {
    checkInt('new address', newAddr)
    if (newAddr % PAGE !== 0)
      throw new SyscallError(
        S,
        'EINVAL',
        `MREMAP_FIXED address 0x${newAddr.toString(16)} is not page aligned`,
      )
    if (!(flags & MREMAP_MAYMOVE)) throw new SyscallError(S, 'EINVAL', 'MREMAP_FIXED without MREMAP_MAYMOVE')
    if (newLen > taskSize || newAddr > taskSize - newLen)
      throw new SyscallError(S, 'EINVAL', 'MREMAP_FIXED range goes past TASK_SIZE')
    if ((newAddr <= addr && newAddr + newLen > addr) || (addr <= newAddr && addr + oldLen > newAddr))
      throw new SyscallError(S, 'EINVAL', 'the old and new ranges overlap')
    doMunmap(m, c, mm, newAddr, newLen, S)
  }
  // Shrinking always works: unmap the tail.
  if (oldLen >= newLen) {
    if (oldLen !== newLen) doMunmap(m, c, mm, addr + newLen, oldLen - newLen, S)
    if (!(flags & MREMAP_FIXED) || newAddr === addr) return addr
    oldLen = newLen
  }
  // Grow, or move.
  const vma = mm.findVma(addr)
  if (!vma || vma.start > addr) throw new SyscallError(S, 'EFAULT', `0x${addr.toString(16)} is not mapped`)
  if (oldLen > vma.end - addr)
    throw new SyscallError(S, 'EFAULT', 'the old range crosses the end of its vma (one vma only)')
  if (vma.flags & VM.DONTEXPAND && newLen > oldLen)
    throw new SyscallError(S, 'EFAULT', 'a VM_DONTEXPAND mapping cannot grow')
  // The old range ends the vma and no move is asked for: grow in place if the gap allows.
  if (
    oldLen === vma.end - addr &&
    !(flags & MREMAP_FIXED && addr !== newAddr) &&
    (oldLen !== newLen || !(flags & MREMAP_MAYMOVE))
  ) {
    const next = mm.vmas[mm.vmas.indexOf(vma) + 1]
    const maxAddr = next ? next.start : taskSize
    if (maxAddr - addr >= newLen) {
      const pages = (newLen - oldLen) / PAGE
      vma.end = addr + newLen
      mm.totalVm += pages
      if (vma.flags & VM.LOCKED) {
        mm.lockedVm += pages
        makePagesPresent(m, c, mm, pid, addr + oldLen, addr + newLen)
      }
      return addr
    }
  }
  if (!(flags & MREMAP_MAYMOVE)) {
    throw new SyscallError(
      S,
      'ENOMEM',
      'cannot grow in place (the next mapping is in the way) and MREMAP_MAYMOVE was not given',
    )
  }
  let target = newAddr
  if (!(flags & MREMAP_FIXED)) target = getUnmappedArea(m, mm, 0, newLen, S)
  return moveVma(m, c, mm, pid, vma, addr, oldLen, newLen, target)
}
