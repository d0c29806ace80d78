/**
 * @rmaplab/arch-ppc: the ppc 32-bit page-table layout of Linux 2.6.5 (classic
 * hash MMU, 6xx) for the rmaplab VM model, with its hashed page table.
 *
 * @packageDocumentation
 */
export { PPC_HPT_GROUPS, PpcHashTable } from './hashtable.js'
export {
  historical,
  KERNEL_PGD_PTRS,
  KERNELBASE,
  PMD_MASK,
  PMD_SIZE,
  PTE_SHIFT,
  ppc,
  USER_PGD_PTRS,
} from './ppc.js'
