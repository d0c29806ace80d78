/**
 * mm/madvise.c of the 2.6.5 era: `sys_madvise(start, len, behavior)`.
 *
 * - MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL (`madvise_behavior`): split the
 *   vmas at the edges of the range — always, even when the hint does not
 *   change — and set the read-ahead hint in vm_flags (VM_RAND_READ,
 *   VM_SEQ_READ, or neither). No merging: vma_merge in madvise came after
 *   2.6.11. A refused split is EAGAIN; the model checks both splits first, so
 *   a refused vma is left unsplit.
 * - MADV_WILLNEED (`madvise_willneed`): EBADF on anonymous memory; on a file
 *   mapping the range's file pages are read into the page cache (not mapped),
 *   at once: the model's reads do not wait. On tmpfs nothing happens (no
 *   ->readpage: force_page_cache_readahead's -EINVAL is ignored).
 * - MADV_DONTNEED (`madvise_dontneed`): EINVAL on a VM_LOCKED vma (2.6.5 checks
 *   nothing else: no VM_HUGETLB test, zap_page_range handles huge pages);
 *   otherwise `zap_page_range` over the range: the ptes go, each page loses its
 *   mapping (rmap) and its reference, and the vma stays as it is. A later read
 *   of private anonymous memory finds pte_none and maps the zero page; a
 *   private file mapping shows the file again.
 *
 * The walk (`sys_madvise`): EINVAL for an unaligned start, a start + len that
 * wraps, or an unknown behavior — but the behavior is only looked at per vma,
 * so a bad one over a wholly unmapped range is ENOMEM, and any behavior with
 * len 0 succeeds. Holes in the range are skipped and reported as ENOMEM once
 * the mapped parts are done; an error from one vma stops the walk with the
 * vmas before it done.
 */
import type { Cpu } from './cpu.js'
import { SyscallError } from './errors.js'
import { readCachePage } from './filemap.js'
import type { Machine } from './machine.js'
import { zapPageRange } from './memory.js'
import { isolateRange } from './mlock.js'
import { type Mm, VM, type Vma } from './mm/vma.js'
import { addrText } from './mmap.js'
import { MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED } from './uapi.js'

const PAGE = 4096
const S = 'madvise'

/** `madvise_behavior`: split out [start, end) and set its read-ahead hint. */
function madviseBehavior(m: Machine, c: Cpu, vma: Vma, start: number, end: number, behavior: number): void {
  const v = isolateRange(m, c, vma, start, end, S)
  // VM_ClearReadHint, then the new hint.
  v.flags &= ~(VM.SEQ_READ | VM.RAND_READ)
  if (behavior === MADV_SEQUENTIAL) v.flags |= VM.SEQ_READ
  else if (behavior === MADV_RANDOM) v.flags |= VM.RAND_READ
}

/**
 * `madvise_willneed`: `force_page_cache_readahead` of the file pages behind
 * [start, end) — read into the page cache, not mapped — at most
 * `max_sane_readahead` pages (half of the inactive and free pages), and none
 * at or past i_size; EBADF without a file. The offsets are the vma's linear
 * ones, as the kernel computes them (also for a nonlinear vma).
 */
function madviseWillneed(m: Machine, vma: Vma, start: number, end: number): void {
  const as = vma.file
  if (!as) throw new SyscallError(S, 'EBADF', 'MADV_WILLNEED on memory that maps no file')
  // tmpfs: shmem_aops has no ->readpage (nor ->readpages), so 2.6.5's
  // force_page_cache_readahead answers -EINVAL at once, which
  // madvise_willneed ignores: nothing is read, and the call succeeds. Going
  // through the disk-file read-in here would put a clean page (which reclaim
  // could drop: tmpfs has no backing file) or a second, zero-filled copy of a
  // swapped page into the page cache.
  if (as.shmem) return
  const first = vma.linearIndex(start)
  const last = vma.linearIndex(Math.min(end, vma.end))
  const sane = Math.floor((m.lruPages().inactive + m.meminfo().MemFree / 4) / 2)
  const stop = Math.min(first + Math.min(last - first, sane), as.sizePages)
  for (let index = first; index < stop; index++) {
    // The read-in page keeps only the page cache's reference.
    if (!as.pages.has(index)) m.putPage(readCachePage(m, as, index))
  }
}

/** `madvise_dontneed`: throw away the ptes (and so the private pages) of [start, end). */
function madviseDontneed(m: Machine, c: Cpu, vma: Vma, start: number, end: number): void {
  if (vma.flags & VM.LOCKED)
    throw new SyscallError(
      S,
      'EINVAL',
      'MADV_DONTNEED on a VM_LOCKED mapping (locked pages are not released)',
    )
  zapPageRange(m, c, vma, start, end)
}

/** `madvise_vma`: one vma's part of the range. */
function madviseVma(m: Machine, c: Cpu, vma: Vma, start: number, end: number, behavior: number): void {
  switch (behavior) {
    case MADV_NORMAL:
    case MADV_SEQUENTIAL:
    case MADV_RANDOM:
      madviseBehavior(m, c, vma, start, end, behavior)
      break
    case MADV_WILLNEED:
      madviseWillneed(m, vma, start, end)
      break
    case MADV_DONTNEED:
      madviseDontneed(m, c, vma, start, end)
      break
    default:
      throw new SyscallError(S, 'EINVAL', `behavior ${behavior} is not an MADV_* value`)
  }
}

/** `sys_madvise(start, len, behavior)`. */
export function doMadvise(m: Machine, c: Cpu, mm: Mm, start: number, len: number, behavior: number): void {
  if (!Number.isInteger(start) || start < 0)
    throw new SyscallError(S, 'EINVAL', `address ${addrText(start)} is not a non-negative integer`)
  if (!Number.isInteger(len) || len < 0)
    throw new SyscallError(S, 'EINVAL', `length ${len} is not a non-negative integer`)
  if (!Number.isInteger(behavior))
    throw new SyscallError(S, 'EINVAL', `behavior ${behavior} is not an integer`)
  if (start % PAGE !== 0)
    throw new SyscallError(S, 'EINVAL', `address 0x${start.toString(16)} is not page aligned`)
  const end = start + Math.ceil(len / PAGE) * PAGE
  if (end > 2 ** m.arch.geometry.BITS_PER_LONG)
    throw new SyscallError(S, 'EINVAL', 'start + len wraps around the address space')
  if (end === start) return
  // Holes are skipped, and reported as ENOMEM at the end.
  let unmapped = false
  for (let vma = mm.findVma(start); ; vma = mm.findVma(start)) {
    if (!vma) throw new SyscallError(S, 'ENOMEM', `0x${start.toString(16)}.. is not mapped`)
    if (start < vma.start) {
      unmapped = true
      start = vma.start
    }
    if (end <= vma.end) {
      if (start < end) madviseVma(m, c, vma, start, end, behavior)
      if (unmapped)
        throw new SyscallError(S, 'ENOMEM', 'part of the range is not mapped (the rest was advised)')
      return
    }
    const vmEnd = vma.end
    madviseVma(m, c, vma, start, vmEnd, behavior)
    start = vmEnd
  }
}
