/**
 * Truncating a mapped file: `vmtruncate` (mm/memory.c of the -aa tree),
 * `invalidate_mmap_range` and `truncate_inode_pages` (mm/truncate.c), and the
 * disk filesystem's `->truncate`, which frees the blocks past the new end.
 *
 * Shrinking runs, in the kernel's order: set i_size; `invalidate_mmap_range`
 * from the first page wholly past the new size, which takes i_shared_sem,
 * bumps `truncate_count` (a racing `do_no_page` sees the change and retries
 * `->nopage`, which now answers SIGBUS) and zaps that part of every vma on
 * `i_mmap` and `i_mmap_shared`, COWed anonymous pages of private vmas
 * included; then `truncate_inode_pages` drops the page-cache pages past the
 * end (their content is discarded, not written back) and zeroes the EOF tail
 * of a partial last page; then the blocks past the end are freed, so a file
 * grown again reads zeros there. Growing only sets i_size (EFBIG past
 * s_maxbytes).
 *
 * Nonlinear vmas: the -aa tree zaps them like linear ones, by address, which
 * misses the ptes remap_file_pages put elsewhere and would leave pages past
 * the new end mapped while truncate_inode_pages drops them (a later
 * page_remove_rmap then BUGs on the NULL mapping). 2.6.7's
 * `unmap_mapping_range` walks nonlinear vmas whole (zap_page_range with
 * `details->nonlinear_vma`): a present page whose page->index lies in the hole
 * is unmapped, leaving `pgoff_to_pte(page->index)` where it was not at its
 * linear position, and file ptes are left alone, so the next access there is
 * SIGBUS past the new end. rmaplab follows that (mm/memory.c zap_pte_range of
 * 2.6.7; docs/README.md#which-kernel).
 */
import { BUG } from './bugs.js'
import type { Cpu } from './cpu.js'
import { KernelBugError, OutOfMemoryError, SyscallError } from './errors.js'
import type { AddressSpace } from './filemap.js'
import { clearPageDirty, downISharedSem, pageCacheOf, removeFromPageCache, upISharedSem } from './filemap.js'
import type { Machine } from './machine.js'
import { zapPageRange } from './memory.js'
import { PG } from './mm/page.js'
import { VM, type Vma } from './mm/vma.js'
import { waitOnPageWriteback } from './page-writeback.js'
import { lookupPte, NO_PTE, pteOffsetMap, pteUnmap, pteWordOffset } from './pgtable.js'
import { shmemGetpageRead, shmemTruncate } from './shmem.js'

const PAGE = 4096

/**
 * s_maxbytes of the disk filesystem: ext2 with 4 KB blocks, whose i_blocks
 * counts 512-byte sectors in 32 bits, so a file ends one block short of 2 TB
 * (the 2.6-era `ext2_max_size`; later kernels also subtract the indirect
 * blocks). Within MAX_LFS_FILESIZE on every layout.
 */
export const S_MAXBYTES = 2 ** 41 - PAGE

/**
 * `vmtruncate(inode, offset)`: change i_size, unmapping and dropping the pages
 * a shrink cuts off. `syscall` names the caller for the EFBIG error.
 */
export function vmtruncate(m: Machine, c: Cpu, as: AddressSpace, offset: number, syscall: string): void {
  if (as.size < offset) {
    // do_expand: the rlimit is infinite in the model; s_maxbytes is not.
    if (offset > S_MAXBYTES) {
      throw new SyscallError(syscall, 'EFBIG', `length ${offset} exceeds s_maxbytes (${S_MAXBYTES})`)
    }
    as.size = offset
    return
  }
  // shmem_notify_change: truncating tmpfs down to a partial page brings that
  // page back from swap (shmem_getpage with SGP_READ: an existing page only)
  // and holds it until truncation is over, so truncate_partial_page zeroes
  // its tail instead of leaving the old bytes in the swap slot.
  let held = -1
  if (as.shmem && offset < as.size && offset % PAGE !== 0) {
    try {
      held = shmemGetpageRead(m, c, as, Math.floor(offset / PAGE))
    } catch (e) {
      // (void) shmem_getpage: an allocation failure is ignored and the
      // truncation goes on without the page.
      if (!(e instanceof OutOfMemoryError)) throw e
    }
  }
  try {
    as.size = offset
    invalidateMmapRange(m, c, as, offset + PAGE - 1, 0)
    truncateInodePages(m, c, as, offset)
    if (as.shmem)
      shmemTruncate(m, c, as) // tmpfs ->truncate: free the swap vector past i_size
    else ext2Truncate(as)
  } finally {
    if (held >= 0) m.putPage(held)
  }
}

/**
 * `invalidate_mmap_range(mapping, holebegin, holelen)`: zap the ptes of every
 * vma that maps file pages [holebegin / PAGE, + ceil(holelen / PAGE)) (to the
 * end for holelen 0), under i_shared_sem, after bumping truncate_count.
 */
export function invalidateMmapRange(
  m: Machine,
  c: Cpu,
  as: AddressSpace,
  holebegin: number,
  holelen: number,
): void {
  const hba = Math.floor(holebegin / PAGE)
  const hlen = Math.ceil(holelen / PAGE)
  const hea = hlen === 0 ? Number.POSITIVE_INFINITY : hba + hlen - 1
  downISharedSem(m, c, as, 'mm/memory.c invalidate_mmap_range')
  try {
    as.truncateCount++
    for (const list of [as.iMmap, as.iMmapShared]) {
      for (const vma of [...list]) {
        if (vma.flags & VM.NONLINEAR) {
          zapNonlinearHole(m, c, vma, hba, hea)
          continue
        }
        const vba = vma.pgoff
        const vea = vba + vma.pages - 1
        if (hea < vba || vea < hba) continue
        const zba = Math.max(hba, vba)
        const zea = Math.min(hea, vea)
        zapPageRange(m, c, vma, vma.start + (zba - vba) * PAGE, vma.start + (zea - vba + 1) * PAGE)
      }
    }
  } finally {
    upISharedSem(m, c, as)
  }
}

/**
 * The 2.6.7 treatment of a nonlinear vma in the hole (zap_pte_range with
 * `details->nonlinear_vma`): every pte of the vma is looked at. A present
 * page whose page->index falls in [hba, hea] is unmapped, and when it was not
 * at its linear position the pte becomes `pgoff_to_pte(page->index)`, so the
 * next access there faults through do_file_page and gets SIGBUS past the new
 * end instead of silently showing the file's linear page. Ptes that are not
 * present (file ptes: a nonlinear vma is VM_SHARED, so no swap ptes) are left
 * alone; their pgoff past i_size already makes the next access SIGBUS.
 */
function zapNonlinearHole(m: Machine, c: Cpu, vma: Vma, hba: number, hea: number): void {
  const f = m.fast
  const w = m.env.tables.words
  for (let a = vma.start; a < vma.end; a += PAGE) {
    const ptr = lookupPte(m.env, vma.mm.id, a)
    if (ptr === NO_PTE) continue
    const at = pteWordOffset(m.env, ptr)
    const lo = w[at]!
    const hi = f.words === 2 ? w[at + 1]! : 0
    if (!f.present(lo, hi)) continue
    const pfn = f.pfn(lo, hi)
    if (pfn >= m.frames.n || pageCacheOf(m, pfn) !== vma.file) continue
    const index = m.frames.index[pfn]!
    if (index < hba || index > hea) continue
    zapPageRange(m, c, vma, a, a + PAGE)
    if (vma.linearIndex(a) === index) continue
    const p = pteOffsetMap(m.env, vma.mm.id, a, c.id)
    m.env.mmu.setPte(p, f.pgoffLo(index), f.pgoffHi(index), c.id)
    pteUnmap(m.env, p, c.id)
  }
}

/**
 * `truncate_inode_pages(mapping, lstart)`: drop every cached page wholly past
 * `lstart` (truncate_complete_page: the content is discarded, so the page is
 * cleaned, not written), and zero the EOF tail of the partial page
 * (truncate_partial_page). The pages were unmapped by invalidate_mmap_range.
 */
export function truncateInodePages(m: Machine, c: Cpu, as: AddressSpace, lstart: number): void {
  const start = Math.ceil(lstart / PAGE)
  let n = 0
  // No "not swapcache" assertion on these pages: see findGetPage in filemap.ts.
  for (const [index, pfn] of [...as.pages]) {
    if (index < start) continue
    if (m.smp !== null) {
      // pagevec_lookup took the page; lock_page may sleep while reclaim holds
      // it (findLockPage in filemap.ts). Woken, a page that left the mapping
      // (shmem_writepage moved it to the swap cache) is skipped.
      m.smp.preempt('truncate_inode_pages:pagevec_lookup→lock_page')
      if (as.pages.get(index) !== pfn) {
        if (m.bugs & BUG.shmemSwapcacheBugOn && m.frames.test(pfn, PG.swapcache))
          throw new KernelBugError(
            'a locked page found through a file mapping is not swapcache (aa1 BUG_ON(PageSwapCache(page)))',
            'mm/truncate.c truncate_inode_pages',
            `pfn ${pfn}, ${as.path} index ${index}`,
          )
        continue
      }
    }
    waitOnPageWriteback(m, c, pfn) // truncate_inode_pages waits for a write in flight
    clearPageDirty(m, c, pfn)
    removeFromPageCache(m, pfn)
    n++
  }
  if (lstart % PAGE !== 0) {
    const partial = as.pages.get(start - 1)
    if (partial !== undefined) m.fs.tails.delete(partial)
  }
  m.counters.filemap.truncated += n
}

/** ext2's `->truncate`: free the blocks wholly past i_size; they read as holes (zeros) from now on. */
function ext2Truncate(as: AddressSpace): void {
  const end = as.sizePages
  for (const index of [...as.blocks.keys()]) if (index >= end) as.blocks.delete(index)
  if (as.initialPages > end) as.initialPages = end
}
