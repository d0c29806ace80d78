/**
 * Bugs of the "Re: 2.6.5-rc1-aa1" thread (and the 2.6.5 ppc/ppc64 code it
 * touches) that a machine can re-introduce on demand: the `bugs` option of
 * Machine. With no `bugs` every path is the fixed kernel. Each bug is one mask
 * bit; a kernel path tests `m.bugs` (or `env.bugs`, `env.rules`) once, at the
 * one place the bug lived, and the architecture code chooses its buggy
 * functions once, when its MMU is built. The demos that show each bug caught
 * are in @rmaplab/workload (`BUG_DEMOS`).
 */

import type { RmapDesignName } from './rmap/strategy.js'

/** Names of the re-introducible bugs. */
export type BugName =
  | 'pg-anon-race'
  | 'pg-anon-clear-race'
  | 'pagetables-0kb'
  | 'shmem-swapcache-bug-on'
  | 'ppc-no-pgtable-rmap'
  | 'ppc-early-pte-count'
  | 'ppc-young-no-flush'
  | 'ppc-flush-hash-shift'
  | 'nonlinear-nr-mapped'
  | 'move-vma-merge-first'

/** A re-introducible bug: its name, the mask bit the kernel paths test, and what it was. */
export interface BugInfo {
  readonly name: BugName
  readonly bit: number
  readonly what: string
  /** True when the bug lives in the objrmap design's code only: `designs` is `['objrmap']` (derived from it). */
  readonly objrmapOnly: boolean
  /** The rmap designs whose kernel had the bug (absent: every design); a machine of another design refuses it. */
  readonly designs?: readonly RmapDesignName[]
  /** The layouts whose code had the bug (absent: every layout). */
  readonly arches?: readonly string[]
}

/** Mask bits of `m.bugs`. */
export const BUG = {
  /** Callers SetPageAnon before page_add_rmap, outside page_map_lock (2.6.5-rc1-aa1). */
  pgAnonRace: 1,
  /** PG_anon cleared after page_map_lock is dropped on the last unmap (the mirror race). */
  pgAnonClearRace: 2,
  /** No nr_page_table_pages accounting at all (aa1 deleted pgtable_add_rmap with it). */
  pagetables0kb: 4,
  /** aa1's BUG_ON(PageSwapCache) after lock_page in find_lock_page and truncate_inode_pages. */
  shmemSwapcacheBugOn: 8,
  /** ppc/ppc64 pte pages carry no mm and address (aa1: pgtable rmap gone, no arch tagging yet). */
  ppcNoPgtableRmap: 16,
  /** pte_alloc_kernel counts kernel pte pages with no mem_init_done guard. */
  ppcEarlyPteCount: 32,
  /** 2.6.5 ppc ptep_test_and_clear_young: HASHPTE tested on the masked old value, never flushes. */
  ppcYoungNoFlush: 64,
  /** 2.6.5 ppc flush_hash_one_pte: the pte's address from byte offset << 9 instead of << 10. */
  ppcFlushHashShift: 128,
  /**
   * 2.6.7's try_to_unmap counts nr_mapped down again after the nonlinear
   * scan's page_remove_rmap did. The bit picks where the count sits, so it is
   * tested at both places: try_to_unmap_one's 1→0 (2.6.9) and the end of
   * try_to_unmap (2.6.7); each page's 1→0 meets one of the two tests.
   */
  nonlinearNrMapped: 256,
  /**
   * 2.6.4's move_vma grows the neighbour it merges with over the new range
   * before move_page_tables, and keeps it grown when that fails (ENOMEM).
   */
  moveVmaMergeFirst: 512,
} as const

const PPC = ['ppc', 'ppc64'] as const

/** Every re-introducible bug. */
const BUG_LIST: readonly Omit<BugInfo, 'objrmapOnly'>[] = [
  {
    name: 'pg-anon-race',
    bit: BUG.pgAnonRace,
    designs: ['objrmap'],
    what:
      'the 2.6.5-rc1-aa1 code before the fix of <20040318230628.GA2050@dualathlon.random>: do_swap_page, ' +
      'do_wp_page, do_anonymous_page and unuse_pte SetPageAnon(page) outside page_map_lock, then ' +
      'page_add_rmap(page, vma, address) takes anon from PG_anon; reclaim unmapping the page from ' +
      'another mm in between clears PG_anon and page->mapping, and page_add_rmap treats the page as a ' +
      'file page: BUG_ON(!page->mapping) at mm/objrmap.c:271',
  },
  {
    name: 'pg-anon-clear-race',
    bit: BUG.pgAnonClearRace,
    designs: ['objrmap'],
    what:
      'the mirror race (derived, not in the thread): page_remove_rmap drops the last mapping and ' +
      "page->mapping under page_map_lock but clears PG_anon after releasing it; another mm's " +
      'page_add_rmap in between links the page to its anon_vma, then PG_anon goes: a mapped page whose ' +
      'mapping is an anon_vma but which reclaim would walk as a file page',
  },
  {
    name: 'pagetables-0kb',
    bit: BUG.pagetables0kb,
    what:
      '2.6.5-rc1-aa1 deleted pgtable_add_rmap/pgtable_remove_rmap, and the inc/dec_page_state' +
      '(nr_page_table_pages) in them went too: /proc/meminfo showed "PageTables: 0 kB" while page ' +
      'tables existed (Hugh Dickins in the thread); the fix counts in pte_alloc_map and free_one_pmd',
  },
  {
    name: 'shmem-swapcache-bug-on',
    bit: BUG.shmemSwapcacheBugOn,
    what:
      "2.6.5-rc1-aa1's over-enthusiastic BUG_ON(PageSwapCache(page)) after lock_page in mm/filemap.c " +
      'find_lock_page and mm/truncate.c: a tmpfs page found in the page cache, then waited for while ' +
      'reclaim holds it, can legitimately wake up in the swap cache (shmem_writepage moved it there); ' +
      'the page->mapping != mapping test right after handles it',
  },
  {
    name: 'ppc-no-pgtable-rmap',
    bit: BUG.ppcNoPgtableRmap,
    arches: PPC,
    what:
      'ppc and ppc64 find the mm and the address of a pte from its pte page alone (page->mapping, ' +
      'page->index, set by the pgtable rmap of 2.6.4); 2.6.5-rc1-aa1 removed the pgtable rmap and ' +
      'nothing tagged pte pages any more, so the hash flush of a pte known only by its location ' +
      '(ppc64 hpte_update, ppc flush_hash_one_pte) reads a NULL mm',
  },
  {
    name: 'ppc-early-pte-count',
    bit: BUG.ppcEarlyPteCount,
    arches: PPC,
    what:
      'pte_alloc_kernel counting kernel pte pages in nr_page_table_pages with no mem_init_done guard ' +
      '(Hugh\'s question in the thread: "should it have been there anyway? ... whether ppc and ppc64 ' +
      'can manage an early per-cpu increment"): ppc builds kernel page tables in MMU_init before the ' +
      'per-cpu areas exist, where inc_page_state cannot run; 2.6.4 skipped it (BROKEN_PPC_PTE_ALLOC_ONE), ' +
      'the fix leaves pte_alloc_kernel uncounted (2.6.7 too)',
  },
  {
    name: 'ppc-young-no-flush',
    bit: BUG.ppcYoungNoFlush,
    arches: ['ppc'],
    what:
      '2.6.4-2.6.10 ppc ptep_test_and_clear_young masks the old pte with _PAGE_ACCESSED before testing ' +
      '_PAGE_HASHPTE, so flush_hash_one_pte never runs: the HPTE of a pte made old stays, the next ' +
      'access does not fault into hash_page, and ACCESSED is never set again',
  },
  {
    name: 'ppc-flush-hash-shift',
    bit: BUG.ppcFlushHashShift,
    arches: ['ppc'],
    what:
      '2.6.4-2.6.10 ppc flush_hash_one_pte computes the address of a pte as page->index + (byte offset ' +
      '<< 9) instead of << 10 (fixed in 2.6.11-rc5, "ppc32: Wrong vaddr in flush_hash_one_pte()"): ' +
      'the flush goes to the pte halfway down the page and the HPTE of the pte made old stays',
  },
  {
    name: 'nonlinear-nr-mapped',
    bit: BUG.nonlinearNrMapped,
    designs: ['objrmap'],
    what:
      '2.6.7-2.6.8 mm/rmap.c, not in the thread: try_to_unmap_file drops the page_map_lock of the page ' +
      'for the nonlinear cluster scan ("rmap 8 unmap nonlinear"), whose page_remove_rmap counts ' +
      'nr_mapped down when it unmaps the last pte of that page (as does a racing zap while the lock is ' +
      'dropped); try_to_unmap then finds mapcount 0 and decrements nr_mapped again. Fixed in 2.6.9 by ' +
      '"rmaplock: kill page_map_lock" (f7f5e03df0): the count moved into page_remove_rmap, which ' +
      'try_to_unmap_one calls, and try_to_unmap stopped counting',
  },
  {
    name: 'move-vma-merge-first',
    bit: BUG.moveVmaMergeFirst,
    designs: ['pte_chains'],
    what:
      '2.6.4-2.6.5 mm/mremap.c move_vma, not in the thread: a private anonymous range that moves next to a ' +
      'vma it can merge with makes that vma grow over the new range (prev->vm_end = new_addr + ' +
      'new_len, or next->vm_start = new_addr) before move_page_tables runs; when a destination page ' +
      'table cannot be allocated, move_page_tables puts the ptes back and mremap fails with ENOMEM, ' +
      'but the neighbour stays grown over a range nothing was moved to: the failed call leaves new ' +
      'memory mapped (zero pages on touch) and total_vm, added only on success, short of the vmas. ' +
      'Fixed in 2.6.6-rc1 by "mremap: move_vma fixes and cleanup" (Hugh Dickins, e01346d8e9): copy_vma ' +
      'makes the new vma, and a failed move goes back and unmaps the new range',
  },
]

/** Every re-introducible bug, `objrmapOnly` derived from `designs`. */
export const BUGS: readonly BugInfo[] = BUG_LIST.map((b) => ({
  ...b,
  objrmapOnly: b.designs?.length === 1 && b.designs[0] === 'objrmap',
}))

/** Names of the re-introducible bugs. */
export const BUG_NAMES: readonly BugName[] = BUGS.map((b) => b.name)

/** The mask of a `bugs` option; a RangeError listing the valid names for an unknown one. */
export function bugMask(names: readonly string[] | undefined, who: string): number {
  if (names === undefined) return 0
  if (!Array.isArray(names))
    throw new RangeError(`${who}: bugs must be an array of names; valid: ${BUG_NAMES.join(', ')}`)
  let mask = 0
  for (const n of names) {
    const b = BUGS.find((x) => x.name === n)
    if (!b) throw new RangeError(`${who}: unknown bug '${String(n)}'; valid: ${BUG_NAMES.join(', ')}`)
    mask |= b.bit
  }
  return mask
}

/** The bugs of a mask, by name. */
export function bugNames(mask: number): BugName[] {
  return BUGS.filter((b) => (mask & b.bit) !== 0).map((b) => b.name)
}

/** Mask of the bugs that live in the objrmap design's code. */
export const OBJRMAP_BUGS: number = BUGS.reduce((a, b) => (b.objrmapOnly ? a | b.bit : a), 0)

/**
 * The bugs of `mask` whose code the rmap design `design` did not have: those
 * of the same designs as the first such bug (so one message can name the
 * design to use), or none.
 */
export function bugsNotInDesign(mask: number, design: string): BugInfo[] {
  const off = BUGS.filter(
    (b) => (mask & b.bit) !== 0 && b.designs && !(b.designs as readonly string[]).includes(design),
  )
  const first = off[0]?.designs?.join()
  return off.filter((b) => b.designs!.join() === first)
}

/** The first bug of `mask` whose code the layout `arch` did not have, or null. */
export function bugNotOnArch(mask: number, arch: string): BugInfo | null {
  for (const b of BUGS) if ((mask & b.bit) !== 0 && b.arches && !b.arches.includes(arch)) return b
  return null
}
