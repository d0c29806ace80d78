/**
 * `vm_area_struct`, `anon_vma` and `mm_struct`.
 *
 * A vma is an object (there are few of them, unlike pages). Each mm keeps its
 * vmas in an array sorted by start address, so `find_vma` is a binary search:
 * O(log n), as the kernel's rb-tree gives. Linking and unlinking are O(n) array
 * splices, which at the map-count limit (65536) is still cheap next to the page
 * work that goes with them.
 *
 * The -aa tree adds two fields to the vma (docs/designs.md#data-structures-and-sizes): the
 * `anon_vma` pointer and the `anon_vma_node` list link. An anon_vma is the
 * head of a list of every vma that may map the same anonymous pages: a vma,
 * its fork-copies and its split pieces.
 */

import type { AddressSpace } from '../filemap.js'
import type { Anonmm } from '../rmap/anonmm/anonmm.js'

/** vm_flags bits (include/linux/mm.h, 2.6.5). */
export const VM = {
  READ: 0x00000001,
  WRITE: 0x00000002,
  EXEC: 0x00000004,
  SHARED: 0x00000008,
  MAYREAD: 0x00000010,
  MAYWRITE: 0x00000020,
  MAYEXEC: 0x00000040,
  MAYSHARE: 0x00000080,
  GROWSDOWN: 0x00000100,
  GROWSUP: 0x00000200,
  SHM: 0x00000400,
  DENYWRITE: 0x00000800,
  EXECUTABLE: 0x00001000,
  LOCKED: 0x00002000,
  IO: 0x00004000,
  SEQ_READ: 0x00008000,
  RAND_READ: 0x00010000,
  DONTCOPY: 0x00020000,
  DONTEXPAND: 0x00040000,
  RESERVED: 0x00080000,
  ACCOUNT: 0x00100000,
  HUGETLB: 0x00400000,
  NONLINEAR: 0x00800000,
} as const

/** The anon_vma of -aa objrmap.c: a lock and a list of vmas. */
export class AnonVma {
  /** Object id, stored in page->mapping of its pages. */
  readonly id: number
  /** The anon_vma_head list, in list order. */
  readonly vmas: Vma[] = []
  constructor(id: number) {
    this.id = id
  }
}

/** One vm_area_struct. */
export class Vma {
  /** The owning mm. */
  readonly mm: Mm
  /** vm_start (inclusive). */
  start: number
  /** vm_end (exclusive). */
  end: number
  /** vm_flags. */
  flags: number
  /** vm_page_prot, the low word of the arch's protection value. */
  pageProt: number
  /**
   * vm_pgoff: file page offset; for anonymous vmas what the design's rule gave
   * (`RmapStrategy.anonPgoffFromAddress`): the linear origin, start >>
   * PAGE_SHIFT at creation (objrmap), or the pgoff mmap was given (pte_chains,
   * anonmm: 0 for mmap(..., 0), below 0 after a merge where the kernel's
   * unsigned long wraps; maps() shows the wrapped value).
   */
  pgoff: number
  /** vm_file's mapping, or null for anonymous memory. */
  file: AddressSpace | null
  /** The anon_vma, once an anonymous or COW fault prepared one. */
  anonVma: AnonVma | null
  /**
   * 2.6.7's `vm_private_data` cursor of a VM_NONLINEAR vma: the byte offset
   * from vm_start where try_to_unmap's next cluster scan starts (the
   * `'2.6.7-cluster'` nonlinearReclaim of the machine). A hint only: a new
   * vma (split, fork copy, mremap) starts at 0.
   */
  nonlinearCursor = 0

  constructor(
    mm: Mm,
    start: number,
    end: number,
    flags: number,
    pageProt: number,
    pgoff: number,
    file: AddressSpace | null,
    anonVma: AnonVma | null,
  ) {
    this.mm = mm
    this.start = start
    this.end = end
    this.flags = flags
    this.pageProt = pageProt
    this.pgoff = pgoff
    this.file = file
    this.anonVma = anonVma
  }

  /** Pages covered. */
  get pages(): number {
    return (this.end - this.start) / 4096
  }

  /** The linear page index of `address` in this vma: (address - vm_start)/PAGE_SIZE + vm_pgoff. */
  linearIndex(address: number): number {
    return (address - this.start) / 4096 + this.pgoff
  }

  /** The address of linear index `index` in this vma (may fall outside it). */
  addressOf(index: number): number {
    return this.start + (index - this.pgoff) * 4096
  }
}

/** mm_struct: an address space. */
export class Mm {
  /** The id of its page tables in the PageTableEnv (its pgd). */
  readonly id: number
  /** The vmas, sorted by start, never overlapping. */
  readonly vmas: Vma[] = []
  /** rss: pages mapped by present ptes, the zero page and reserved pages excluded. */
  rss = 0
  /** locked_vm: pages in VM_LOCKED vmas. */
  lockedVm = 0
  /** total_vm: pages of all vmas. */
  totalVm = 0
  /** Processes using it (mm_users). */
  users = 1
  /** The cpu the process runs on. */
  cpu: number
  /** `mm->anonmm` (Hugh's anonmm design, rmap 10): this mm's anonmm; null under other designs and once exited. */
  anonmm: Anonmm | null = null
  /** The index {@link findIndex} answered last (the model's mmap_cache; checked before use). */
  private lastIndex = 0

  constructor(id: number, cpu: number) {
    this.id = id
    this.cpu = cpu
  }

  /** map_count. */
  get mapCount(): number {
    return this.vmas.length
  }

  /** Index of the first vma with end > addr (the `find_vma` answer), or vmas.length. */
  findIndex(addr: number): number {
    // mmap_cache: the vma of the last lookup, when it is still at that index
    // of the list and still contains addr, is the answer (the vmas are
    // sorted and never overlap). Nothing has to invalidate it.
    const last = this.lastIndex
    const v = last < this.vmas.length ? this.vmas[last]! : null
    if (v !== null && v.start <= addr && addr < v.end) return last
    let lo = 0
    let hi = this.vmas.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.vmas[mid]!.end > addr) hi = mid
      else lo = mid + 1
    }
    this.lastIndex = lo
    return lo
  }

  /** `find_vma`: the first vma with end > addr, or null. It may start above addr. */
  findVma(addr: number): Vma | null {
    return this.vmas[this.findIndex(addr)] ?? null
  }

  /** The vma containing addr, or null. */
  vmaAt(addr: number): Vma | null {
    const v = this.findVma(addr)
    return v && v.start <= addr ? v : null
  }
}
