/**
 * Hugh Dickins' anonmm design (rmap 10 and 11 of May 2004), as the
 * {@link RmapStrategy} the Machine option `rmap: 'anonmm'` picks: the page
 * operations and per-mm bookkeeping of its mm/rmap.c (anonmm.ts) and its
 * checks, accounting and introspection (model.ts).
 *
 * Its life-cycle hooks: exec (and a spawned process's fresh mm) starts a fork
 * group (exec_rmap), fork links the child's anonmm onto it (dup_rmap), exit
 * drops the mm's reference (exit_rmap). Nothing per vma: no anon_vma to
 * prepare, link, split or merge, so any two neighbouring vmas may merge as
 * far as the design is concerned; swap ptes need no anon_vma either. mremap
 * asks `canMoveOnePte` before each present pte moves: an exclusive anonymous
 * page takes its new address, a shared one is copied first (rmap 11).
 *
 * What a process can tell apart from objrmap + anon_vma, by construction:
 * - mremap of anonymous pages shared with a fork relative copies them (one
 *   more COW each, `rmap.mremapCows`), and a swapped-out page whose swap pte
 *   mremap moved is copied when it comes back in at a clashing address
 *   (`rmap.swapInCows`); values read are the same, memory use is not;
 * - an anonymous vma's vm_pgoff follows 2.6.6's mm/mmap.c, which rmap 10/11
 *   left alone: the pgoff mmap was given (0 for mmap(..., 0)), the linear
 *   origin after an mremap move even when it never faulted (rmap 11's
 *   copy_vma; 2.6.7 re-bases such a vma); and vmas merge whatever their
 *   pgoffs, where anon_vma's "at most one anon_vma" rule and 2.6.7's
 *   contiguous pgoffs would keep them apart, so the vma layout (map_count,
 *   vm_pgoff, an mremap spanning two former vmas) can differ;
 * - a make_page_exclusive copy needs a free frame: at exhaustion mremap fails
 *   with ENOMEM where objrmap, which copies nothing, succeeds.
 */
import type { RmapStrategy } from '../strategy.js'
import { anonmmPageOps, dupRmap, execRmap, exitRmap } from './anonmm.js'
import { anonmmAccounting, checkAnonmm, describeAnonmm } from './model.js'

export { Anonmm } from './anonmm.js'

function nothing(): void {}

/** The anonmm design. */
export const anonmm: RmapStrategy = {
  name: 'anonmm',
  source: 'mm/rmap.c',
  ...anonmmPageOps,
  pageRmapReserve: nothing,
  perPteReserve: false,
  vmaPrepare: nothing,
  vmaCheckSwapIn: nothing,
  vmaLink: nothing,
  vmaUnlink: nothing,
  vmaSplit: nothing,
  vmaCanMerge: () => true,
  vmaMerge: nothing,
  vmaFork: nothing,
  mmFork(m, c, parent, child) {
    dupRmap(m, c, child, parent)
  },
  mmExec: execRmap,
  mmExit: exitRmap,
  pteMoved: nothing,
  // rmap 10/11 left mm/mmap.c as 2.6.6 had it: an anonymous vma keeps the
  // pgoff it is given (do_mmap_pgoff's, 0 from do_brk), copy_vma keeps the
  // linear origin, and can_vma_merge_* ignore an anonymous vma's pgoff.
  anonPgoffFromAddress: false,
  anonMovePgoff: (_vma, origin) => origin,
  anonMergeContiguous: false,
  // 2.6.6's mm/mprotect.c is 2.6.4's (vma_merge came to mprotect with rmap 36);
  // its mm/mremap.c moves through copy_vma (rmap 11 calls it).
  mprotectVmaMerge: false,
  mremapCopyVma: true,
  check: checkAnonmm,
  accounting: anonmmAccounting,
  describe: describeAnonmm,
}
