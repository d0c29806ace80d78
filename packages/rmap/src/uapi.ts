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
