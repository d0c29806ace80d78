/**
 * The objrmap + anon_vma design of the 2.6.5-aa tree, as the
 * {@link RmapStrategy} the Machine option `rmap: 'objrmap'` (the default)
 * picks: the page operations and anon_vma helpers of mm/objrmap.c
 * (objrmap.ts) and its checks, accounting and introspection (model.ts).
 *
 * Its life-cycle hooks: `__vma_link` links a vma that carries an anon_vma at
 * the head of the list (anon_vma_link); unmap_vma and exit_mmap unlink it
 * (anon_vma_unlink frees an emptied anon_vma); vma_merge calls
 * anon_vma_merge. split_vma and dup_mmap copy the whole vma, anon_vma
 * pointer included, so linking the copy is all they need; fork, exec and exit
 * of an mm and mremap's moved ptes need nothing (the moved vma keeps its
 * vm_pgoff, so the computed address follows the pte).
 */
import { KernelBugError } from '../../errors.js'
import type { RmapStrategy } from '../strategy.js'
import { checkObjrmap, describeObjrmap, objrmapAccounting } from './model.js'
import {
  anonVmaCanMerge,
  anonVmaLink,
  anonVmaMerge,
  anonVmaPrepare,
  anonVmaUnlink,
  objrmapPageOps,
} from './objrmap.js'

export { NONLINEAR_CLUSTER_PAGES, pageMapLock, pageMapUnlock } from './objrmap.js'

function nothing(): void {}

/** The objrmap + anon_vma design. */
export const objrmap: RmapStrategy = {
  name: 'objrmap',
  source: 'mm/objrmap.c',
  ...objrmapPageOps,
  pageRmapReserve: nothing,
  perPteReserve: false,
  vmaPrepare(m, c, vma) {
    anonVmaPrepare(m, c, vma)
  },
  vmaCheckSwapIn(_m, vma, address, where) {
    if (!vma.anonVma) {
      const fn = where.slice(where.lastIndexOf(' ') + 1)
      throw new KernelBugError(`${fn}: the vma has an anon_vma`, where, `0x${address.toString(16)}`)
    }
  },
  vmaLink: anonVmaLink,
  vmaUnlink: anonVmaUnlink,
  vmaSplit: nothing,
  vmaCanMerge: anonVmaCanMerge,
  vmaMerge: anonVmaMerge,
  vmaFork: nothing,
  mmFork: nothing,
  mmExec: nothing,
  mmExit: nothing,
  pteMoved: nothing,
  canMoveOnePte: () => true,
  // -aa: vm_pgoff = vm_start >> PAGE_SHIFT; 2.6.7 copy_vma re-bases a moved
  // vma that has no anon_vma yet; 2.6.7 can_vma_merge_* compare pgoffs.
  anonPgoffFromAddress: true,
  anonMovePgoff: (vma, origin, newStart) => (vma.anonVma ? origin : newStart / 4096),
  anonMergeContiguous: true,
  mprotectVmaMerge: true,
  mremapCopyVma: true,
  swapInMustCopy: () => false,
  check: checkObjrmap,
  accounting: objrmapAccounting,
  describe: describeObjrmap,
}
