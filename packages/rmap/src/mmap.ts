/**
 * mm/mmap.c and mm/mprotect.c: creating, splitting, merging and removing vmas,
 * with the errno of every failure the kernel reports.
 *
 * An anonymous vma's vm_pgoff is the design's rule (`anonPgoffFromAddress`,
 * see {@link anonVmaPgoff}): objrmap's -aa tree numbers it `addr >>
 * PAGE_SHIFT`, so a page's linear index is its original virtual page number;
 * mainline 2.6.4 (pte_chains) and 2.6.6 (anonmm) keep what the vma is created
 * with (do_mmap_pgoff: the caller's offset; do_brk, setup_arg_pages: 0).
 * Split pieces keep the arithmetic by adding the offset to the upper piece's
 * pgoff. A new mapping merges as vma_merge does (2.6.4 and 2.6.7 agree on
 * which, and on which vma object survives: see {@link vmaMergeAround}; a
 * split's new object is the one split_vma's new_below names, see
 * {@link splitVma}): two vmas merge only when their flags (VM_ACCOUNT
 * included) and file agree, their pgoffs
 * are contiguous (for anonymous vmas only where the design's can_vma_merge_*
 * compare them: `anonMergeContiguous`) and at most one of them has an
 * anon_vma, or both the same one. After mprotect the design's kernel decides
 * (`mprotectVmaMerge`): 2.6.7's mprotect_fixup uses vma_merge (objrmap, where
 * the -aa tree had merging off); 2.6.4's and 2.6.6's merge private anonymous
 * vmas only (pte_chains, anonmm; see {@link mprotectAttemptMerge}).
 */
import type { Cpu } from './cpu.js'
import { KernelBugError, SyscallError } from './errors.js'
import { downISharedSem, upISharedSem } from './filemap.js'
import type { FdTable } from './fs.js'
import { FMODE_READ, FMODE_WRITE } from './fs.js'
import type { Machine } from './machine.js'
import { changeProtection, zapPageRange } from './memory.js'
import { type Mm, VM, Vma } from './mm/vma.js'
import { clearPageTables } from './pgtable.js'
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from './uapi.js'

/** DEFAULT_MAX_MAP_COUNT: the default of sysctl vm.max_map_count (the Machine option `maxMapCount`). */
export const MAX_MAP_COUNT = 65536
const PAGE = 4096
/** MAP_TYPE: the mask of MAP_SHARED/MAP_PRIVATE. */
const MAP_TYPE = 0x0f
/** PROT_SEM is accepted by mprotect and ignored. */
const PROT_SEM = 0x8

/** vm_flags from prot (calc_vm_prot_bits) and the MAY bits a private anonymous mapping gets. */
export function protToVmFlags(prot: number): number {
  return (
    (prot & PROT_READ ? VM.READ : 0) | (prot & PROT_WRITE ? VM.WRITE : 0) | (prot & PROT_EXEC ? VM.EXEC : 0)
  )
}

/** vm_page_prot: protection_map[vm_flags & 0xf], low word. */
export function vmPageProt(m: Machine, flags: number): number {
  const map = flags & VM.SHARED ? m.arch.protectionMap.shared : m.arch.protectionMap.private
  return Number(map[flags & (VM.READ | VM.WRITE | VM.EXEC)]! & 0xffffffffn)
}

function pageAlign(n: number): number {
  return Math.ceil(n / PAGE) * PAGE
}

/**
 * `vma_link`: insert a vma into its mm's sorted list, its file's vma list (at
 * the tail, or before `fileBefore`) and, through the design, its anon_vma list.
 * BUGs on overlap.
 */
export function vmaLink(m: Machine, c: Cpu, vma: Vma, fileBefore: Vma | null = null): void {
  const mm = vma.mm
  const i = mm.findIndex(vma.start)
  const next = mm.vmas[i]
  const prev = mm.vmas[i - 1]
  if ((next && next.start < vma.end) || (prev && prev.end > vma.start)) {
    throw new KernelBugError(
      '__insert_vm_struct: vmas do not overlap',
      'mm/mmap.c __vma_link',
      `0x${vma.start.toString(16)}`,
    )
  }
  // vma_link: i_shared_sem (a file vma), then the design's link (-aa:
  // anon_vma_link under the anon_vma lock) before the mm and file lists, so
  // that a lock this cpu must wait for leaves nothing half linked.
  const as = vma.file
  if (as !== null) downISharedSem(m, c, as, 'mm/mmap.c vma_link')
  try {
    m.rmap.vmaLink(m, c, vma)
    mm.vmas.splice(i, 0, vma)
    if (as !== null) linkFileVma(vma, fileBefore)
  } finally {
    if (as !== null) upISharedSem(m, c, as)
  }
  mm.totalVm += vma.pages
  if (vma.flags & VM.LOCKED) mm.lockedVm += vma.pages
  m.counters.objects.vmas++
}

/** Remove a vma from its mm (`unmap_vma`): list, anon_vma, accounting. Its ptes are gone already. */
export function vmaUnlink(m: Machine, c: Cpu, vma: Vma): void {
  const mm = vma.mm
  const i = mm.vmas.indexOf(vma)
  if (i < 0) throw new KernelBugError('unlinking a vma that is not in its mm', 'mm/mmap.c unmap_vma')
  mm.vmas.splice(i, 1)
  // remove_shared_vm_struct under i_shared_sem, then the design's unlink (-aa: anon_vma_unlink).
  const as = vma.file
  if (as !== null) {
    downISharedSem(m, c, as, 'mm/mmap.c remove_shared_vm_struct')
    unlinkFileVma(vma)
    upISharedSem(m, c, as)
  }
  m.rmap.vmaUnlink(m, c, vma)
  mm.totalVm -= vma.pages
  if (vma.flags & VM.LOCKED) mm.lockedVm -= vma.pages
  m.counters.objects.vmas--
}

/**
 * The vm_pgoff of a new anonymous vma at `start` that its caller creates with
 * `pgoff` (do_mmap_pgoff: offset >> PAGE_SHIFT; do_brk and setup_arg_pages:
 * 0): `start >> PAGE_SHIFT` where the design numbers anonymous vmas by
 * address (-aa, 2.6.7), `pgoff` where it keeps it (2.6.4, 2.6.6).
 */
export function anonVmaPgoff(m: Machine, start: number, pgoff: number): number {
  return m.rmap.anonPgoffFromAddress ? start / PAGE : pgoff
}

/**
 * Can `a` (below) and `b` (above, adjacent) become one vma? can_vma_merge_*
 * compare the pgoffs of file vmas always, of anonymous ones where the design
 * says so (2.6.7; 2.6.4 returned at once for a vma without a file); the rmap
 * design has the last word.
 */
function canMerge(m: Machine, a: Vma, b: Vma): boolean {
  return (
    a.end === b.start &&
    a.flags === b.flags &&
    a.file === b.file &&
    ((!a.file && !m.rmap.anonMergeContiguous) || a.pgoff + a.pages === b.pgoff) &&
    m.rmap.vmaCanMerge(a, b)
  )
}

/**
 * Merge `vma`, a new mapping just linked (do_mmap_pgoff, copy_vma), with its
 * neighbours where `canMerge` allows, as vma_merge does (2.6.4, 2.6.6 and
 * 2.6.7 agree on which object survives). Returns the surviving vma.
 *
 * - With the vma before it: that vma grows over the new one (and over the
 *   next vma too when that one matches as well); the new vma goes.
 * - With the next vma only: the *next* vma survives, keeping its place in the
 *   mm and on its file's i_mmap / i_mmap_shared list (so file rmap walks visit
 *   it where they did), and grows down: vm_start = the new vma's start,
 *   vm_pgoff lowered by the pages gained. Where pgoffs must be contiguous that
 *   is the new vma's own; for anonymous vmas under 2.6.4's rules it need not
 *   be, and may go below 0 (an unsigned long wraps it: maps() shows it so).
 *
 * The survivor inherits an anon_vma from the one that dies (anon_vma_merge).
 */
export function vmaMergeAround(m: Machine, c: Cpu, vma: Vma): Vma {
  const mm = vma.mm
  const i = mm.vmas.indexOf(vma)
  const prev = mm.vmas[i - 1]
  const next = mm.vmas[i + 1]
  if (prev && canMerge(m, prev, vma)) {
    absorb(m, c, prev, vma)
    if (next && canMerge(m, prev, next)) absorb(m, c, prev, next)
    return prev
  }
  if (next && canMerge(m, vma, next)) {
    const pgoff = next.pgoff - vma.pages
    absorb(m, c, next, vma)
    next.pgoff = pgoff
    return next
  }
  return vma
}

/** `anon_vma_merge` + vma removal: `keep` grows over `dying`, which is adjacent. */
export function absorb(m: Machine, c: Cpu, keep: Vma, dying: Vma): void {
  const pages = dying.pages
  const lowerDies = dying.start < keep.start
  // anon_vma_merge before the unlink: if `dying` is the only vma on its
  // anon_vma, unlinking it first would free the anon_vma its pages still name.
  m.rmap.vmaMerge(m, c, keep, dying)
  vmaUnlink(m, c, dying)
  if (lowerDies) {
    keep.start = dying.start
    keep.pgoff = dying.pgoff
  } else {
    keep.end += pages * PAGE
  }
  keep.mm.totalVm += pages
  if (keep.flags & VM.LOCKED) keep.mm.lockedVm += pages
}

/**
 * `split_vma(mm, vma, addr, new_below)`: cut `vma` at `addr`. The new vma is
 * the piece below `addr` when `newBelow` (mprotect_fixup, mlock_fixup and
 * madvise at the start of their range, do_munmap at the end of its range), the
 * piece above it otherwise; `vma` keeps the other piece, and with it its place
 * on its file's list, where the new piece goes to the tail (__vma_link_file).
 * The new piece is a copy on the same anon_vma list; the upper piece's pgoff
 * moves by the offset. Returns the new piece. ENOMEM at the map-count limit.
 */
export function splitVma(m: Machine, c: Cpu, vma: Vma, addr: number, syscall: string, newBelow = false): Vma {
  const mm = vma.mm
  if (mm.mapCount >= m.maxMapCount) {
    throw new SyscallError(
      syscall,
      'ENOMEM',
      `split_vma: map_count would exceed vm.max_map_count (${m.maxMapCount})`,
    )
  }
  const delta = (addr - vma.start) / PAGE
  let piece: Vma
  let moved: number
  if (newBelow) {
    piece = new Vma(mm, vma.start, addr, vma.flags, vma.pageProt, vma.pgoff, vma.file, vma.anonVma)
    moved = delta
    vma.start = addr
    vma.pgoff += delta
  } else {
    piece = new Vma(mm, addr, vma.end, vma.flags, vma.pageProt, vma.pgoff + delta, vma.file, vma.anonVma)
    moved = (vma.end - addr) / PAGE
    vma.end = addr
  }
  // vmaLink counts the new piece's pages again.
  mm.totalVm -= moved
  if (vma.flags & VM.LOCKED) mm.lockedVm -= moved
  vmaLink(m, c, piece)
  m.rmap.vmaSplit(m, c, vma, piece)
  return piece
}

/** `get_unmapped_area` for a non-fixed request: first gap from TASK_UNMAPPED_BASE (or the hint) upwards. */
export function getUnmappedArea(m: Machine, mm: Mm, hint: number, len: number, syscall = 'mmap'): number {
  const taskSize = m.taskSize
  if (len > taskSize)
    throw new SyscallError(syscall, 'ENOMEM', `length 0x${len.toString(16)} exceeds TASK_SIZE`)
  if (hint) {
    const a = pageAlign(hint)
    const v = mm.findVma(a)
    if (taskSize - len >= a && (!v || a + len <= v.start)) return a
  }
  let addr = m.taskUnmappedBase
  for (let i = mm.findIndex(addr); ; i++) {
    if (taskSize - len < addr)
      throw new SyscallError(syscall, 'ENOMEM', 'no free range of that length below TASK_SIZE')
    const v = mm.vmas[i]
    if (!v || addr + len <= v.start) return addr
    addr = Math.max(addr, v.end)
  }
}

/** An address as error text shows it: hex as the kernel prints addresses, anything else (NaN, -1, 1.5) as is. */
export function addrText(addr: number): string {
  return Number.isSafeInteger(addr) && addr >= 0 ? `0x${addr.toString(16)}` : String(addr)
}

/** Check an (addr, len) pair the way sys_munmap/sys_mprotect do; returns the page-aligned length. */
function checkRange(m: Machine, syscall: string, addr: number, len: number): number {
  if (!Number.isInteger(addr) || addr < 0 || addr % PAGE !== 0) {
    throw new SyscallError(
      syscall,
      'EINVAL',
      `address ${addrText(addr)} is not a page-aligned non-negative integer`,
    )
  }
  if (!Number.isInteger(len) || len < 0)
    throw new SyscallError(syscall, 'EINVAL', `length ${len} is not a non-negative integer`)
  const aligned = pageAlign(len)
  if (addr > m.taskSize || aligned > m.taskSize - addr) {
    throw new SyscallError(
      syscall,
      'EINVAL',
      `range 0x${addr.toString(16)}+0x${aligned.toString(16)} goes past TASK_SIZE`,
    )
  }
  return aligned
}

/**
 * `sys_mmap2` → `do_mmap_pgoff`: private anonymous mappings, and MAP_SHARED or
 * MAP_PRIVATE mappings of an open file of `files` (vm_pgoff = offset >>
 * PAGE_SHIFT; the vma joins its file's i_mmap_shared list if VM_SHARED, its
 * i_mmap list otherwise). Shared anonymous memory (tmpfs) is not modelled yet.
 */
export function doMmap(
  m: Machine,
  c: Cpu,
  mm: Mm,
  addr: number,
  length: number,
  prot: number,
  flags: number,
  fd: number | undefined,
  offset: number,
  files?: FdTable,
): number {
  const S = 'mmap'
  for (const [name, v] of [
    ['addr', addr],
    ['length', length],
    ['prot', prot],
    ['flags', flags],
    ['offset', offset],
  ] as const) {
    if (!Number.isInteger(v) || v < 0)
      throw new SyscallError(S, 'EINVAL', `${name} ${v} is not a non-negative integer`)
  }
  if (offset % PAGE !== 0)
    throw new SyscallError(S, 'EINVAL', `offset 0x${offset.toString(16)} is not page aligned`)
  // fget(fd) for a file mapping: EBADF unless fd is open.
  const file = flags & MAP_ANONYMOUS ? null : fd === undefined ? undefined : files?.get(fd)
  if (file === undefined) throw new SyscallError(S, 'EBADF', `fd ${fd ?? -1} is not an open file`)
  // 2.6.5 do_mmap_pgoff maps nothing for a zero length and returns the hint
  // (EINVAL for it came with 2.6.12).
  if (length === 0) return addr
  const type = flags & MAP_TYPE
  if (type !== MAP_SHARED && type !== MAP_PRIVATE) {
    throw new SyscallError(S, 'EINVAL', 'flags must include exactly one of MAP_SHARED and MAP_PRIVATE')
  }
  const len = pageAlign(length)
  if (len > m.taskSize) throw new SyscallError(S, 'EINVAL', `length 0x${len.toString(16)} exceeds TASK_SIZE`)
  const pgoff = offset / PAGE
  // Offset overflow: pgoff + pages wraps an unsigned long (reachable on 32-bit
  // layouts only). 2.6.4 tests it for every mapping; the model skips it for an
  // anonymous one where the design numbers the vma by its address instead.
  if ((file || !m.rmap.anonPgoffFromAddress) && pgoff + len / PAGE >= 2 ** m.arch.geometry.BITS_PER_LONG) {
    throw new SyscallError(S, 'EINVAL', `pgoff ${pgoff} + ${len / PAGE} pages overflows an unsigned long`)
  }
  if (mm.mapCount > m.maxMapCount)
    throw new SyscallError(S, 'ENOMEM', `map_count exceeds vm.max_map_count (${m.maxMapCount})`)
  if (type === MAP_SHARED && !file) {
    throw new SyscallError(
      S,
      'ENODEV',
      'shared anonymous memory (shmem_zero_setup) arrives with tmpfs (issue #4)',
    )
  }
  let vmFlags = protToVmFlags(prot) | VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC
  if (file) {
    // do_mmap_pgoff's file checks. A MAP_SHARED mapping of a file not open for
    // writing is VM_MAYSHARE only: neither VM_SHARED (so it is a private,
    // i_mmap vma with private protections) nor VM_MAYWRITE (so mprotect
    // cannot make it writable: EACCES).
    if (type === MAP_SHARED) {
      if (prot & PROT_WRITE && !(file.mode & FMODE_WRITE))
        throw new SyscallError(S, 'EACCES', `MAP_SHARED with PROT_WRITE of fd ${fd}, not open for writing`)
      vmFlags |= VM.SHARED | VM.MAYSHARE
      if (!(file.mode & FMODE_WRITE)) vmFlags &= ~(VM.MAYWRITE | VM.SHARED)
    }
    if (!(file.mode & FMODE_READ)) throw new SyscallError(S, 'EACCES', `fd ${fd} is not open for reading`)
  }
  // do_mmap_pgoff's accounting: a private writable mapping is charged and
  // marked VM_ACCOUNT. A shared one is marked too but loses the flag once
  // set up (its pages are the file's, or shmem's, to account), so only the
  // private writable case is left with it. The charge itself
  // (vm_committed_space, vm.overcommit_memory) is not modelled, nor
  // MAP_NORESERVE, which would leave the flag off.
  if (!(vmFlags & VM.SHARED) && vmFlags & VM.WRITE) vmFlags |= VM.ACCOUNT
  let start: number
  if (flags & MAP_FIXED) {
    // get_unmapped_area: the range test (ENOMEM) comes before the alignment test (EINVAL).
    if (addr > m.taskSize - len) throw new SyscallError(S, 'ENOMEM', 'MAP_FIXED range goes past TASK_SIZE')
    if (addr % PAGE !== 0)
      throw new SyscallError(S, 'EINVAL', `MAP_FIXED address 0x${addr.toString(16)} is not page aligned`)
    start = addr
    doMunmap(m, c, mm, start, len, S)
  } else {
    start = getUnmappedArea(m, mm, addr, len)
  }
  const as = file ? file.inode : null
  const vma = new Vma(
    mm,
    start,
    start + len,
    vmFlags,
    vmPageProt(m, vmFlags),
    as ? pgoff : anonVmaPgoff(m, start, pgoff),
    as,
    null,
  )
  vmaLink(m, c, vma)
  vmaMergeAround(m, c, vma)
  return start
}

/**
 * `do_munmap(mm, start, len)`: split the vmas at the edges, zap their ptes,
 * free the page tables no vma needs any more, and drop the vmas.
 */
export function doMunmap(
  m: Machine,
  c: Cpu,
  mm: Mm,
  start: number,
  length: number,
  syscall = 'munmap',
): void {
  const len = checkRange(m, syscall, start, length)
  if (len === 0) throw new SyscallError(syscall, 'EINVAL', 'length is 0')
  const end = start + len
  let first = mm.findVma(start)
  if (!first || first.start >= end) return
  // The kernel splits the first vma and only then finds that the last one
  // cannot be split (ENOMEM with the first split left in place); the model
  // counts both splits first, so that a refused munmap changes nothing.
  const last0 = mm.findVma(end)
  const splits = (first.start < start ? 1 : 0) + (last0 && last0.start < end && last0.end > end ? 1 : 0)
  if (splits > 0 && mm.mapCount + splits - 1 >= m.maxMapCount) {
    throw new SyscallError(syscall, 'ENOMEM', `splitting would exceed vm.max_map_count (${m.maxMapCount})`)
  }
  if (first.start < start) first = splitVma(m, c, first, start, syscall)
  const last = mm.findVma(end)
  if (last && last.start < end) splitVma(m, c, last, end, syscall, true)
  const i = mm.findIndex(start)
  const doomed: Vma[] = []
  for (let j = i; j < mm.vmas.length && mm.vmas[j]!.start < end; j++) doomed.push(mm.vmas[j]!)
  for (const v of doomed) zapPageRange(m, c, v, v.start, v.end)
  const prev = mm.vmas[i - 1] ?? null
  for (const v of doomed) vmaUnlink(m, c, v)
  freePgtables(m, c, mm, prev, start, end)
}

/**
 * `__vma_link_file`: put a file vma on its address_space's i_mmap_shared
 * (VM_SHARED) or i_mmap list, at the tail, or just before `before` (fork's
 * list_add_tail next to the parent). The caller holds i_shared_sem.
 */
function linkFileVma(v: Vma, before: Vma | null): void {
  if (!v.file) return
  const list = v.flags & VM.SHARED ? v.file.iMmapShared : v.file.iMmap
  const at = before === null ? -1 : list.indexOf(before)
  if (at < 0) list.push(v)
  else list.splice(at, 0, v)
}

/** `__remove_shared_vm_struct`: take a file vma off its address_space list. The caller holds i_shared_sem. */
function unlinkFileVma(v: Vma): void {
  if (!v.file) return
  const list = v.flags & VM.SHARED ? v.file.iMmapShared : v.file.iMmap
  const k = list.indexOf(v)
  if (k >= 0) list.splice(k, 1)
}

/**
 * `free_pgtables(tlb, prev, start, end)`: free the page tables of whole pgd
 * entries in [start, end) that no remaining vma reaches. 2.6 frees page tables
 * only at pgd granularity (1 GB on PAE, 2 GB on ppc64, 4 MB on 2-level), so
 * pte pages under a partly used pgd entry stay until exit.
 */
function freePgtables(m: Machine, c: Cpu, mm: Mm, prev: Vma | null, start: number, end: number): void {
  const g = m.arch.geometry
  const pgdir = 2 ** g.PGDIR_SHIFT
  let first = Math.floor(start / pgdir) * pgdir
  let last = Math.ceil(end / pgdir) * pgdir
  if (prev && prev.end > first) first = Math.ceil(prev.end / pgdir) * pgdir
  const next = prev ? mm.vmas[mm.vmas.indexOf(prev) + 1] : mm.vmas[0]
  if (next && next.start < last) last = Math.floor(next.start / pgdir) * pgdir
  if (last <= first) return
  const from = m.fast.pgdIndex(first)
  const to = last >= m.taskSize ? g.USER_PTRS_PER_PGD : m.fast.pgdIndex(last)
  if (to > from) clearPageTables(m.env, mm.id, from, to - from, c.id)
}

/**
 * `sys_mprotect(start, len, prot)`. As in the kernel, the vmas before a hole
 * keep their new protection when the walk then fails with ENOMEM.
 *
 * How the changed vmas merge is the design's kernel's (`mprotectVmaMerge`):
 * 2.6.7's mprotect_fixup merges through vma_merge; 2.6.4's and 2.6.6's
 * (mprotect_attempt_merge, and the merge with the next vma at the end of
 * sys_mprotect) only merge private anonymous vmas, see {@link mprotectFixup}.
 */
export function doMprotect(m: Machine, c: Cpu, mm: Mm, start: number, length: number, prot: number): void {
  const S = 'mprotect'
  // sys_mprotect has no TASK_SIZE test: a range above it finds no vma (ENOMEM).
  if (!Number.isInteger(start) || start < 0 || start % PAGE !== 0) {
    throw new SyscallError(
      S,
      'EINVAL',
      `address ${addrText(start)} is not a page-aligned non-negative integer`,
    )
  }
  if (!Number.isInteger(length) || length < 0) {
    throw new SyscallError(S, 'EINVAL', `length ${length} is not a non-negative integer`)
  }
  const len = pageAlign(length)
  if (!Number.isInteger(prot) || prot < 0 || prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) {
    throw new SyscallError(
      S,
      'EINVAL',
      `prot 0x${prot.toString(16)} has bits other than PROT_READ|PROT_WRITE|PROT_EXEC|PROT_SEM`,
    )
  }
  if (len === 0) return
  const end = start + len
  // find_vma_prev(mm, start, &prev)
  let i = mm.findIndex(start)
  let vma = mm.vmas[i]
  if (!vma || vma.start > start) throw new SyscallError(S, 'ENOMEM', `0x${start.toString(16)} is not mapped`)
  // 2.6.4: the vma before the range, for mprotect_attempt_merge; then the
  // vma that holds the range done so far (mprotect_fixup's *pprev).
  let prev: Vma | null = mm.vmas[i - 1] ?? null
  const viaVmaMerge = m.rmap.mprotectVmaMerge
  // 2.6.7: a range starting inside the vma has the vma itself as prev.
  if (viaVmaMerge && start > vma.start) prev = vma
  let nstart = start
  for (;;) {
    const newFlags = protToVmFlags(prot) | (vma.flags & ~(VM.READ | VM.WRITE | VM.EXEC))
    // A permission the vma may not have (VM_MAYx clear) is EACCES.
    if (newFlags & ~(newFlags >> 4) & (VM.READ | VM.WRITE | VM.EXEC)) {
      throw new SyscallError(S, 'EACCES', 'the mapping may not be given that protection (VM_MAY* clear)')
    }
    const tmp = Math.min(vma.end, end)
    if (viaVmaMerge) {
      // `prev` of 2.6.7's sys_mprotect: the vma that now holds [nstart, tmp),
      // which a merge may have grown over its neighbours on both sides.
      prev = mprotectFixup(m, c, vma, prev, nstart, tmp, newFlags)
      // Continue from prev->vm_end: after a merge with the next vma the walk
      // resumes past it, not at a start no vma has any more.
      nstart = Math.max(tmp, prev.end)
      if (nstart >= end) return
    } else {
      // 2.6.4: the vma after this one, taken before mprotect_fixup changes anything.
      const next = mm.vmas[mm.vmas.indexOf(vma) + 1] ?? null
      const last = vma.end === end
      prev = mprotectFixup(m, c, vma, prev, nstart, tmp, newFlags)
      if (tmp === end) {
        // Only when the range ends where a vma ends does the last one try to
        // absorb the next vma (a range ending inside a vma leaves its tail
        // with the old protection: nothing to merge).
        if (last) mprotectMergeNext(m, c, prev, next)
        return
      }
      nstart = tmp
    }
    i = mm.vmas.indexOf(prev)
    const next = mm.vmas[i + 1]
    if (!next || next.start !== nstart)
      throw new SyscallError(S, 'ENOMEM', `0x${nstart.toString(16)} is not mapped`)
    vma = next
  }
}

/**
 * `can_vma_merge(vma, vm_flags)` of 2.6.4 include/linux/mm.h: an anonymous
 * vma with exactly those flags (and the design agrees to merge it with `other`).
 */
export function canVmaMerge(m: Machine, vma: Vma, flags: number, other: Vma): boolean {
  return vma.file === null && vma.flags === flags && m.rmap.vmaCanMerge(vma, other)
}

/**
 * 2.6.4's `mprotect_attempt_merge(vma, prev, end, newflags)`: a private
 * anonymous `vma` whose [vm_start, end) takes the flags of the anonymous vma
 * just before it joins that vma: `prev` grows to `end`, and `vma` goes (when
 * `end` is its end) or starts at `end`, its vm_pgoff untouched. True if merged.
 */
function mprotectAttemptMerge(
  m: Machine,
  c: Cpu,
  vma: Vma,
  prev: Vma | null,
  end: number,
  newFlags: number,
): boolean {
  if (!prev || prev.end !== vma.start) return false
  if (!canVmaMerge(m, prev, newFlags, vma)) return false
  if (vma.file !== null || vma.flags & VM.SHARED) return false
  if (end === vma.end) {
    absorb(m, c, prev, vma)
    return true
  }
  // The pages move from one vma to the other; the mm's totals stay (newflags
  // keeps VM_LOCKED as it was).
  prev.end = end
  vma.start = end
  return true
}

/**
 * The end of 2.6.4's `sys_mprotect`: `prev`, which ends the range, absorbs
 * `next` when both are private anonymous vmas with the same flags; `prev`
 * keeps its vm_pgoff.
 */
function mprotectMergeNext(m: Machine, c: Cpu, prev: Vma, next: Vma | null): void {
  if (
    next &&
    prev.end === next.start &&
    canVmaMerge(m, next, prev.flags, prev) &&
    prev.file === null &&
    !(prev.flags & VM.SHARED)
  )
    absorb(m, c, prev, next)
}

/**
 * `mprotect_fixup(vma, &prev, start, end, newflags)`: give [start, end) of
 * `vma` the new flags and rewrite its ptes; returns the vma that holds the
 * range now (the kernel's *pprev).
 *
 * Making a private mapping writable sets VM_ACCOUNT (the commit charge itself
 * is not modelled), unless the vma is accounted, writable or shared already;
 * making it read-only again keeps the flag, so such a vma no longer matches a
 * fresh read-only neighbour.
 *
 * Under 2.6.7's rules the range first tries {@link mprotectVmaMerge}; under
 * 2.6.4's a range starting at vm_start first tries
 * {@link mprotectAttemptMerge} with `prev` (the vma before `vma`, or the one
 * the previous step returned). Only if that fails is the range split off:
 * `vma` keeps [start, end) (split_vma at `start` with new_below, then at `end`).
 */
function mprotectFixup(
  m: Machine,
  c: Cpu,
  vma: Vma,
  prev: Vma | null,
  start: number,
  end: number,
  flags: number,
): Vma {
  if (flags === vma.flags) return vma
  let newFlags = flags
  if (newFlags & VM.WRITE && !(vma.flags & (VM.ACCOUNT | VM.WRITE | VM.SHARED))) newFlags |= VM.ACCOUNT
  if (m.rmap.mprotectVmaMerge) {
    const merged = mprotectVmaMerge(m, c, vma, prev, start, end, newFlags)
    if (merged !== null) {
      // Case 8 leaves the changed vma with its old flags until here.
      setVmaFlags(m, merged, newFlags)
      changeProtection(m, c, merged, start, end, merged.pageProt)
      return merged
    }
  } else if (vma.start === start && prev && mprotectAttemptMerge(m, c, vma, prev, end, newFlags)) {
    changeProtection(m, c, prev, start, end, prev.pageProt)
    return prev
  }
  if (vma.start < start) splitVma(m, c, vma, start, 'mprotect', true)
  if (vma.end > end) splitVma(m, c, vma, end, 'mprotect')
  setVmaFlags(m, vma, newFlags)
  changeProtection(m, c, vma, vma.start, vma.end, vma.pageProt)
  return vma
}

/** vm_flags and vm_page_prot of `v` become `flags`'s, with locked_vm following VM_LOCKED. */
function setVmaFlags(m: Machine, v: Vma, flags: number): void {
  if ((v.flags & VM.LOCKED) !== (flags & VM.LOCKED)) v.mm.lockedVm += flags & VM.LOCKED ? v.pages : -v.pages
  v.flags = flags
  v.pageProt = vmPageProt(m, flags)
}

/**
 * 2.6.7's `vma_merge(mm, prev, start, end, newflags, vma->anon_vma,
 * vma->vm_file, pgoff)` as mprotect_fixup calls it, before any split: can
 * [start, end) of `vma`, given `newFlags`, join `prev` (the vma before it, or
 * `vma` itself when the range starts inside it) or the vma after the range?
 * Returns the vma that holds the range after the merge, or null (no merge,
 * nothing changed). The objects that survive are vma_merge's (its cases):
 *
 * - 1, 6: `prev` grows over `vma` and the vma after it; both go.
 * - 7: `prev` grows over the whole of `vma`, which goes.
 * - 5: `prev` grows to `end`; `vma` stays, now starting at `end` (vm_pgoff
 *   moved up by the pages it lost). No new vma.
 * - 4: the range ends `vma`: `vma` shrinks to `start` and the next vma grows
 *   down over the range, vm_pgoff lowered. No new vma.
 * - 8: the whole of `vma` joins the next vma, and `vma` survives, growing over it.
 *
 * In cases 4 and 5, where pages pass from one vma to the other without a vma
 * dying, a receiving vma without an anon_vma is linked onto the giver's (as
 * later mainline's vma_adjust does for its importer), so that the rmap still
 * finds the pages it now maps.
 */
function mprotectVmaMerge(
  m: Machine,
  c: Cpu,
  vma: Vma,
  prev: Vma | null,
  start: number,
  end: number,
  newFlags: number,
): Vma | null {
  const mm = vma.mm
  // The range as a vma of its own, only to ask canMerge about it.
  const range = new Vma(
    mm,
    start,
    end,
    newFlags,
    0,
    vma.pgoff + (start - vma.start) / PAGE,
    vma.file,
    vma.anonVma,
  )
  const pages = (end - start) / PAGE
  const i = mm.vmas.indexOf(vma)
  // vma_merge's `next`: the vma after the range (after `vma` when the range ends it).
  const next = (vma.end === end ? mm.vmas[i + 1] : vma.start === start ? vma : mm.vmas[i + 1]) ?? null
  if (prev && prev.end === start && prev !== vma && canMerge(m, prev, range)) {
    if (
      vma.end === end &&
      next &&
      next.start === end &&
      canMerge(m, range, next) &&
      m.rmap.vmaCanMerge(prev, next)
    ) {
      absorb(m, c, prev, vma)
      absorb(m, c, prev, next)
    } else if (vma.end === end) {
      absorb(m, c, prev, vma)
    } else {
      importAnonVma(m, c, prev, vma)
      prev.end = end
      vma.start = end
      vma.pgoff += pages
    }
    return prev
  }
  if (vma.end === end && next && next.start === end && canMerge(m, range, next)) {
    if (start > vma.start) {
      importAnonVma(m, c, next, vma)
      vma.end = start
      next.start = start
      next.pgoff -= pages
      return next
    }
    absorb(m, c, vma, next)
    return vma
  }
  return null
}

/**
 * Pages of `giver` pass to `receiver` (vma_merge cases 4 and 5): a receiver
 * with no anon_vma joins the giver's list. The mm's totals stay (the two
 * vmas' flags agree on VM_LOCKED).
 */
function importAnonVma(m: Machine, c: Cpu, receiver: Vma, giver: Vma): void {
  if (receiver.anonVma !== null || giver.anonVma === null) return
  receiver.anonVma = giver.anonVma
  m.rmap.vmaLink(m, c, receiver)
}
