/**
 * @rmaplab/arch-ppc64: the ppc64 page-table layout of Linux 2.6.5 (3 levels,
 * 64-bit ptes, hashed page table with batched HPTE invalidation) for the
 * rmaplab VM model.
 *
 * @packageDocumentation
 */
export { PPC64_HPT_GROUPS, PPC64_TLB_BATCH_NR, type Ppc64HashBits, Ppc64HashTable } from './hash.js'
export {
  EADDR_SIZE,
  historical,
  IMALLOC_BASE,
  KERNELBASE,
  PGD_INDEX_SIZE,
  PGDIR_MASK,
  PGDIR_SIZE,
  PMD_INDEX_SIZE,
  PMD_MASK,
  PMD_SIZE,
  PMD_TO_PTEPAGE_SHIFT,
  PTE_INDEX_SIZE,
  PTE_SHIFT,
  ppc64,
  REGION_MASK,
  REGION_SHIFT,
  TASK_SIZE_USER32,
  TASK_SIZE_USER64,
  USER_REGION_ID,
  VALID_EA_BITS,
  VMALLOC_START,
} from './ppc64.js'
