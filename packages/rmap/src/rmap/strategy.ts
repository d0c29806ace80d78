/**
 * The reverse-mapping design interface: everything that differs between the
 * 2004 designs — -aa objrmap + anon_vma, mainline 2.6.4's per-pte pte_chains,
 * Hugh's anonmm — sits behind it. Faults, fork, munmap, mremap, exit, reclaim,
 * swapoff, `m.check()` and `m.stats()` call these methods and name no design;
 * each design lives in its own folder (`rmap/objrmap/` ...) and is picked by
 * the Machine option `rmap` through `rmap/registry.ts`.
 *
 * A pte location is a {@link PtePtr}: the pte page's frame times PTRS_PER_PTE
 * plus the pte's index in it, the number every page-table walk already holds,
 * so passing it costs nothing. It is what 2.6.4's `pte_addr_t` stores, and it
 * stays valid while the pte page does (pte_chains keep it; objrmap ignores it).
 *
 * The life-cycle hooks are called by the generic code at the kernel's places:
 * `vmaLink` from `__vma_link` (every vma insertion: mmap, the new piece of
 * split_vma, a fork copy, mremap's copy, the exec stack), `vmaUnlink` from
 * unmap_vma and exit_mmap, `vmaMerge` before a vma merged away is unlinked
 * (vma_merge; 2.6.4's mprotect and move_vma merges), `vmaPrepare` wherever
 * the kernel calls anon_vma_prepare (before an anonymous page is added to a
 * vma). A design that needs nothing there does nothing: the hook costs one
 * call. The 2.6.4 merges that only move a vma boundary (a vma grows over a
 * range no vma held, or over part of its neighbour) call no hook: no design
 * that runs those rules keeps per-vma rmap state.
 */

import type { PtePtr } from '../arch/mmu.js'
import type { Cpu } from '../cpu.js'
import type { Machine } from '../machine.js'
import type { Mm, Vma } from '../mm/vma.js'

/** try_to_unmap's answer (-aa include/linux/objrmap.h: SWAP_SUCCESS 0, SWAP_AGAIN 1, SWAP_FAIL 2). */
export type SwapResult = 'SWAP_SUCCESS' | 'SWAP_AGAIN' | 'SWAP_FAIL'

/** Names of the designs a Machine can run today (the `rmap` option's implemented values). */
export const RMAP_STRATEGIES = ['objrmap', 'pte_chains', 'anonmm'] as const
/** An implemented design's name. */
export type RmapStrategyName = (typeof RMAP_STRATEGIES)[number]

/**
 * Every design name the `rmap` option knows: `'objrmap'` (2.6.5-aa objrmap +
 * anon_vma), `'pte_chains'` (mainline 2.6.4), `'anonmm'` (Hugh's rmap 10/11).
 * A known name that is not in {@link RMAP_STRATEGIES} is refused with an
 * RmapDesignNotImplementedError.
 */
export const RMAP_DESIGNS = ['objrmap', 'pte_chains', 'anonmm'] as const
/** A design name, implemented or not. */
export type RmapDesignName = (typeof RMAP_DESIGNS)[number]

/**
 * What `m.check()` has counted for the design's own invariants: per pfn, the
 * present user ptes that map it (`ptes`) and those of them that a
 * VM_NONLINEAR vma holds away from the page's linear address (`nonlinear`).
 */
export interface RmapCheckFacts {
  readonly ptes: Int32Array
  readonly nonlinear: Int32Array
}

/** The memory a design costs at this moment, at the arch's structure sizes. */
export interface RmapAccounting {
  /** The design. */
  design: RmapStrategyName
  /** Bytes by structure (e.g. `anonVma`, `vmaFields`, `mapcount` for objrmap). */
  bytes: Record<string, number>
  /** Sum of `bytes`. */
  total: number
  /** Live objects by structure (e.g. `anonVma`). */
  objects: Record<string, number>
  /** Page frames of the model's lowmem the design's structures occupy (0 when they are not modelled as frames). */
  lowmemFrames: number
  /** The design's sizing (pte_chains: `cacheLine`, `nrpte`, `pteAddrBytes`); empty when it has none. */
  parameters: Record<string, number>
}

/** One vma (or pte) an rmap walk of a page reaches, as {@link RmapView} lists them. */
export interface RmapViewEntry {
  /** The list or structure it was found through: `'anon_vma'`, `'i_mmap'`, `'i_mmap_shared'` ... */
  via: string
  /** The mm's id, and the pid of the process that owns it (-1 for none). */
  mm: number
  pid: number
  /** The vma: vm_start, vm_end, vm_pgoff, and whether it is VM_NONLINEAR. */
  start: number
  end: number
  pgoff: number
  nonlinear: boolean
  /** The user address the design computes for the page in this vma, or -1 when it falls outside the vma. */
  address: number
  /** The pte at that address: its low and high words, or null when there is no pte page. */
  pte: { lo: number; hi: number } | null
  /** True when that pte is present and maps this page. */
  mapsPage: boolean
}

/** `m.rmapOf(pfn)`: a page's reverse map as data, for tools (an explorer draws it). */
export interface RmapView {
  design: RmapStrategyName
  pfn: number
  mapcount: number
  /** What page->mapping names for the design: the anon_vma, the anonmm or the address_space (kind `'none'` when nothing). */
  object: { kind: 'none' | 'anon_vma' | 'anonmm' | 'address_space'; id: number; path?: string }
  /** page->index (the linear index objrmap computes addresses from). */
  index: number
  /** Every vma (or pte) the design's walk visits, in walk order. */
  entries: RmapViewEntry[]
}

/** What every rmap design provides, named after the kernel functions. */
export interface RmapStrategy {
  readonly name: RmapStrategyName
  /** The kernel file the design's BUG_ONs are reported from (e.g. `'mm/objrmap.c'`). */
  readonly source: string

  // --- page operations ---------------------------------------------------

  /**
   * Before a caller changes anything for a page_add_rmap / pageDupRmap to
   * come: allocate what that call may need (2.6.4's pte_chain_alloc), so
   * that an OutOfMemoryError leaves nothing half done. objrmap needs nothing.
   */
  pageRmapReserve(m: Machine, c: Cpu): void
  /**
   * False when {@link pageRmapReserve} does nothing (objrmap, anonmm), so that
   * copy_page_range may leave out its call per pte; a design that leaves it
   * unset is called.
   */
  readonly perPteReserve?: boolean
  /** `page_add_rmap(page, vma, address, anon)`: the pte at `ptep` (user address `address` in `vma`) now maps `pfn`. */
  pageAddRmap(m: Machine, c: Cpu, pfn: number, vma: Vma, address: number, ptep: PtePtr, anon: boolean): void
  /**
   * copy_page_range's rmap step for a present page the parent maps: the
   * child's pte at `ptep` now maps `pfn` too (-aa: the BUG_ONs, then
   * `page_add_rmap(page, vma, address, PageAnon(page))`; 2.6.7: page_dup_rmap).
   */
  pageDupRmap(m: Machine, c: Cpu, pfn: number, child: Vma, address: number, ptep: PtePtr): void
  /** `page_remove_rmap(page, ptep)`: the pte at `ptep` no longer maps `pfn`. */
  pageRemoveRmap(m: Machine, c: Cpu, pfn: number, ptep: PtePtr): void
  /** The page's rmap lock (PG_maplock's page_map_lock in -aa; pte_chain_lock in 2.6.4). */
  pageMapLock(m: Machine, c: Cpu, pfn: number): void
  /** Release {@link pageMapLock}. */
  pageMapUnlock(m: Machine, c: Cpu, pfn: number): void
  /** `page_referenced(page)` (rmap lock held): young ptes cleared and counted. */
  pageReferenced(m: Machine, c: Cpu, pfn: number): number
  /** `try_to_unmap(page)` (page lock and rmap lock held), for a mapped page. */
  tryToUnmap(m: Machine, c: Cpu, pfn: number): SwapResult

  // --- vma and mm life cycle ----------------------------------------------

  /** `anon_vma_prepare(vma)`: before an anonymous page is added to `vma`. */
  vmaPrepare(m: Machine, c: Cpu, vma: Vma): void
  /**
   * The design's BUG_ON before a swap pte of `vma` at `address` is made
   * present again (do_swap_page, unuse_pte; `where` names the caller as
   * `'mm/memory.c do_swap_page'`): -aa BUGs on a vma without an anon_vma.
   */
  vmaCheckSwapIn(m: Machine, vma: Vma, address: number, where: string): void
  /** `__vma_link`'s rmap part: `vma` was inserted into its mm. */
  vmaLink(m: Machine, c: Cpu, vma: Vma): void
  /** unmap_vma / exit_mmap: `vma` leaves its mm. */
  vmaUnlink(m: Machine, c: Cpu, vma: Vma): void
  /** split_vma: `piece` was cut off `vma` (and already linked). */
  vmaSplit(m: Machine, c: Cpu, vma: Vma, piece: Vma): void
  /** The design's part of can_vma_merge: may `a` and `b` become one vma? */
  vmaCanMerge(a: Vma, b: Vma): boolean
  /** `anon_vma_merge(keep, dying)`: `keep` grows over `dying`, which is unlinked next. */
  vmaMerge(m: Machine, c: Cpu, keep: Vma, dying: Vma): void
  /** dup_mmap: `child` is the fork copy of `parent` (before it is linked and its ptes copied). */
  vmaFork(m: Machine, c: Cpu, parent: Vma, child: Vma): void
  /** dup_mmap's start: `child` is being forked from `parent`. */
  mmFork(m: Machine, c: Cpu, parent: Mm, child: Mm): void
  /** exec: `mm` is a new image's mm (its stack vma linked, before the argument pages). */
  mmExec(m: Machine, c: Cpu, mm: Mm): void
  /** exit_mmap: every vma of `mm` is gone. */
  mmExit(m: Machine, c: Cpu, mm: Mm): void
  /**
   * mremap's move_one_page moved a present pte mapping `pfn` in `mm` from
   * (`oldAddr`, `oldPtep`) to (`newAddr`, `newPtep`).
   */
  pteMoved(
    m: Machine,
    c: Cpu,
    pfn: number,
    mm: Mm,
    oldAddr: number,
    oldPtep: PtePtr,
    newAddr: number,
    newPtep: PtePtr,
  ): void

  /**
   * mremap's `can_move_one_pte` (rmap 11), before move_one_page moves the
   * present pte of tracked page `pfn` in `mm` to `newAddr`: true to move it
   * (anonmm's mremap_move_anon_rmap notes the new address of an anonymous
   * page only this pte maps), false when the page must first be made
   * exclusive — mremap then write-faults it at the old address
   * (make_page_exclusive, an early COW counted in `rmap.mremapCows`) and
   * retries. objrmap and pte_chains move every pte: always true.
   */
  canMoveOnePte(m: Machine, c: Cpu, pfn: number, mm: Mm, newAddr: number): boolean
  /**
   * The vm_pgoff rule of the design's kernel for a new anonymous vma. True:
   * vm_start >> PAGE_SHIFT, the page number it starts at (-aa's
   * do_mmap_pgoff and do_brk, which anon_vma's address arithmetic needs;
   * 2.6.7 sets it in insert_vm_struct too). False: the pgoff the vma is
   * created with — do_mmap_pgoff keeps the caller's offset >> PAGE_SHIFT (0
   * for the usual mmap(..., 0)), do_brk and exec's setup_arg_pages give 0
   * (mainline 2.6.4, and 2.6.6's mm/mmap.c under rmap 10/11) — and so
   * do_mmap_pgoff's offset-overflow check applies to an anonymous mapping too.
   */
  readonly anonPgoffFromAddress: boolean
  /**
   * The vm_pgoff of the new vma when mremap moves anonymous `vma` to
   * `newStart`; `origin` is the moved range's linear origin, old vm_pgoff +
   * (old address - vm_start) >> PAGE_SHIFT, which 2.6.4's move_vma and
   * rmap 11's copy_vma always give. 2.6.7's copy_vma (objrmap) gives
   * newStart >> PAGE_SHIFT instead when the vma has no anon_vma yet.
   */
  anonMovePgoff(vma: Vma, origin: number, newStart: number): number
  /**
   * can_vma_merge_before/after: do two anonymous vmas need contiguous
   * vm_pgoffs to merge? True under 2.6.7's rules (objrmap); false in 2.6.4 and
   * 2.6.6, whose checks return at once for a vma without a file.
   */
  readonly anonMergeContiguous: boolean
  /**
   * Which mm/mprotect.c merges the vma that mprotect changed. True: 2.6.7's
   * mprotect_fixup hands it to vma_merge (rmap 36), which joins file vmas too
   * and either neighbour (objrmap, on 2.6.7's rules where -aa had merging
   * off). False: 2.6.4's (and 2.6.6's) mprotect_attempt_merge, which lets only
   * a private anonymous range join the anonymous vma before it (growing it, and
   * moving the rest of the vma's start up without touching its vm_pgoff), and
   * sys_mprotect's merge of the last vma with the next one, done only when the
   * range ends where a vma ends; a file or shared vma never merges there
   * (pte_chains, and anonmm, whose rmap 10/11 left mm/mprotect.c alone).
   */
  readonly mprotectVmaMerge: boolean
  /**
   * Who merges the new vma of an mremap move. True: copy_vma through
   * vma_merge (2.6.6 and later: anonmm, objrmap), file vmas with contiguous
   * vm_pgoffs too. False: 2.6.4's move_vma itself, for a private anonymous
   * vma only: the vma ending at the destination grows over it (and over the
   * next one when that then touches), or else the vma starting right after
   * it grows down over it and keeps its vm_pgoff (pte_chains).
   */
  readonly mremapCopyVma: boolean
  /**
   * rmap 11's `mremap_moved_anon_rmap` after a swapped-in anonymous page
   * `pfn` was mapped at `address` (do_swap_page, swapoff's unuse_pte): true
   * when the design cannot find the page there (anonmm: page->index names
   * another address, noted by an earlier swap-in of an mremap-moved copy),
   * so the caller takes a private copy at once (do_wp_page;
   * make_page_exclusive). objrmap and pte_chains: always false.
   */
  swapInMustCopy(m: Machine, pfn: number, address: number): boolean

  // --- the model -----------------------------------------------------------

  /** The design's own invariants for `m.check()`: push one line per violation onto `out`. */
  check(m: Machine, facts: RmapCheckFacts, out: string[]): void
  /** The design's memory now. */
  accounting(m: Machine): RmapAccounting
  /** `pfn`'s reverse map as data (see {@link RmapView}). */
  describe(m: Machine, pfn: number): RmapView
}
