/**
 * User-visible constants, with the values of the Linux 2.6 generic headers
 * (include/asm-generic/mman.h as i386 used it; ppc and ppc64 share these values).
 */

/** Bytes in a page on every layout rmaplab models (PAGE_SHIFT 12). */
export const PAGE_SIZE = 4096
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12

export const PROT_NONE = 0x0
export const PROT_READ = 0x1
export const PROT_WRITE = 0x2
export const PROT_EXEC = 0x4

export const MAP_SHARED = 0x01
export const MAP_PRIVATE = 0x02
export const MAP_FIXED = 0x10
export const MAP_ANONYMOUS = 0x20

/** The vm_flags bits that index protection_map (VM_READ|VM_WRITE|VM_EXEC, plus VM_SHARED). */
export const VM_READ = 0x1
export const VM_WRITE = 0x2
export const VM_EXEC = 0x4
export const VM_SHARED = 0x8

/** mremap flags (include/linux/mman.h): the mapping may move. */
export const MREMAP_MAYMOVE = 1
/** mremap flags: move to exactly `new_address` (requires MREMAP_MAYMOVE). */
export const MREMAP_FIXED = 2

/** madvise advice (asm-generic mman.h values, as i386, ppc and ppc64 use them). */
export const MADV_NORMAL = 0
export const MADV_RANDOM = 1
export const MADV_SEQUENTIAL = 2
export const MADV_WILLNEED = 3
export const MADV_DONTNEED = 4

/**
 * mlockall flags on i386 (asm-i386/mman.h): lock what is mapped now / what will
 * be mapped. ppc and ppc64 number them differently: {@link MCL_CURRENT_PPC}.
 */
export const MCL_CURRENT = 1
export const MCL_FUTURE = 2
/** mlockall flags on ppc and ppc64 (asm-ppc/mman.h, asm-ppc64/mman.h). */
export const MCL_CURRENT_PPC = 0x2000
export const MCL_FUTURE_PPC = 0x4000
