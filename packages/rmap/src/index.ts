/**
 * @rmaplab/rmap: the Linux 2.6 (spring 2004) VM model and the arch contract
 * its page-table layouts implement.
 *
 * @packageDocumentation
 */

export * from './arch/define.js'
export * from './arch/env.js'
export * from './arch/hashmmu.js'
export * from './arch/highmem.js'
export * from './arch/mmu.js'
export * from './arch/percpu.js'
export * from './arch/swapops.js'
export * from './arch/tlb.js'
export * from './arch/types.js'
export * from './bugs.js'
export { Cpu } from './cpu.js'
export * from './errors.js'
export * from './filemap.js'
export { installFilePte, installPage, MAP_NONBLOCK } from './fremap.js'
export type { CreateOptions, OpenFile } from './fs.js'
export {
  FdTable,
  FileSystem,
  FMODE_READ,
  FMODE_WRITE,
  O_ACCMODE,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
} from './fs.js'
export * from './locks.js'
export * from './machine.js'
export * from './mm/page.js'
export * from './mm/vma.js'
export { nrFreePagecachePages, type ZoneWatermarks, zoneWatermarks } from './page_alloc.js'
export * from './pgtable.js'
export * from './race/explore.js'
export * from './race/scenarios.js'
export { Anonmm, anonmm } from './rmap/anonmm/index.js'
export { objrmap, pageMapLock, pageMapUnlock } from './rmap/objrmap/index.js'
export {
  RmapDesignNotImplementedError,
  resolveRmapDesign,
  UnknownRmapDesignError,
} from './rmap/registry.js'
export * from './rmap/strategy.js'
export {
  moveFromSwapCache,
  ShmemInfo,
  shmemGetpage,
  shmemNopage,
  shmemTruncate,
  shmemUnuse,
  shmemWritepage,
} from './shmem.js'
export {
  SWAP_MAP_MAX,
  SWAPFILE_CLUSTER,
  SwapArea,
  SwapAreaError,
  type SwapEntryParts,
  type SwapoffReport,
  type SwaponOptions,
  SwapState,
} from './swapfile.js'
export { invalidateMmapRange, S_MAXBYTES, truncateInodePages, vmtruncate } from './truncate.js'
export * from './uapi.js'
export {
  DEF_PRIORITY,
  type PageoutReport,
  type ReclaimReport,
  SWAP_CLUSTER_MAX,
  swapTendency,
  totalMemory,
  VM_SWAPPINESS,
} from './vmscan.js'
