/**
 * The ppc (32-bit) page-table layout of Linux 2.6.5 for the classic hash MMU:
 * the CONFIG_6xx branch of include/asm-ppc/pgtable.h (60x, 7xx, 74xx, POWER3/4
 * in 32-bit mode) with 32-bit ptes, plus include/asm-ppc/{page.h,pgalloc.h} and
 * arch/ppc/mm/{pgtable.c,tlb.c,hashtable.S}. Facts: docs/layouts.md#ppc, docs/layouts.md#mmu-cache-coherence.
 *
 * - 2 levels: a 1024-entry pgd whose entries hold the *physical address* of a
 *   1024-entry pte page (the pmd is folded into the pgd). The hash code reaches
 *   ptes through that physical address, so the pmd value matters bit for bit.
 * - TASK_SIZE 0x80000000 and KERNELBASE 0xc0000000: the Kconfig defaults of
 *   CONFIG_TASK_SIZE and CONFIG_KERNEL_START (both changeable under
 *   ADVANCED_OPTIONS).
 * - The MMU never reads a Linux pte: it reads HPTEs that `hash_page` builds
 *   from ptes (see hashtable.ts), and `_PAGE_HASHPTE` in the pte records that
 *   one exists. `pte_none` therefore ignores that bit.
 *
 * The encodings are identical in 2.6.4–2.6.7.
 */
import {
  type Arch,
  type ArchPgtable,
  defineArch,
  NO_MAPPING,
  type PgtableEnv,
  type PteAllocation,
  type PteCodec,
  trunc,
  withGenericSwap,
} from '@rmaplab/rmap'
import { PpcHashTable } from './hashtable.js'

/** PTE_SHIFT: PAGE_SHIFT - 2, the shift from a pte's byte offset to its page index. */
export const PTE_SHIFT = 10
/** PMD_SIZE = PGDIR_SIZE: bytes mapped by one pte page (4 MB). */
export const PMD_SIZE = 0x400000n
/** PMD_MASK = PGDIR_MASK: rounds an address down to its pte page's base; page->index of a pte page. */
export const PMD_MASK = 0xffc00000n
/** KERNELBASE = PAGE_OFFSET = CONFIG_KERNEL_START (Kconfig default). */
export const KERNELBASE = 0xc0000000n
/** USER_PGD_PTRS: pgd entries below PAGE_OFFSET (PAGE_OFFSET >> PGDIR_SHIFT). */
export const USER_PGD_PTRS = 768
/** KERNEL_PGD_PTRS: PTRS_PER_PGD - USER_PGD_PTRS, the entries pgd_alloc copies from swapper_pg_dir. */
export const KERNEL_PGD_PTRS = 256

const PAGE_MASK = 0xfffff000n

// _PAGE_* of the CONFIG_6xx branch. DIRTY and ACCESSED sit where the hardware
// C and R bits sit in an HPTE, so hash_page can copy them across.
const _PAGE_PRESENT = 0x001n
const _PAGE_HASHPTE = 0x002n
/** Same bit as USER; meaningful only when the pte is not present. */
const _PAGE_FILE = 0x004n
const _PAGE_USER = 0x004n
const _PAGE_GUARDED = 0x008n
const _PAGE_COHERENT = 0x010n
const _PAGE_NO_CACHE = 0x020n
const _PAGE_WRITETHRU = 0x040n
const _PAGE_DIRTY = 0x080n
const _PAGE_ACCESSED = 0x100n
const _PAGE_EXEC = 0x200n
const _PAGE_RW = 0x400n
// Bits other ppc families use; 0 on 6xx.
const _PAGE_SHARED = 0n
const _PAGE_HWWRITE = 0n
const _PAGE_HWEXEC = 0n
const _PTE_NONE_MASK = _PAGE_HASHPTE
const _PMD_PRESENT = 0n
const _PMD_PRESENT_MASK = PAGE_MASK
const _PMD_BAD = 0xfffn
const _PAGE_CHG_MASK = PAGE_MASK | _PAGE_ACCESSED | _PAGE_DIRTY
const _PAGE_BASE = _PAGE_PRESENT | _PAGE_ACCESSED
const _PAGE_WRENABLE = _PAGE_RW | _PAGE_DIRTY | _PAGE_HWWRITE
const _PAGE_KERNEL = _PAGE_BASE | _PAGE_SHARED | _PAGE_WRENABLE
const _PAGE_KERNEL_RO = _PAGE_BASE | _PAGE_SHARED
const _PAGE_IO = _PAGE_KERNEL | _PAGE_NO_CACHE | _PAGE_GUARDED
const _PAGE_RAM = _PAGE_KERNEL | _PAGE_HWEXEC

const bits = {
  _PAGE_PRESENT,
  _PAGE_HASHPTE,
  _PAGE_FILE,
  _PAGE_USER,
  _PAGE_GUARDED,
  _PAGE_COHERENT,
  _PAGE_NO_CACHE,
  _PAGE_WRITETHRU,
  _PAGE_DIRTY,
  _PAGE_ACCESSED,
  _PAGE_EXEC,
  _PAGE_RW,
  _PAGE_SHARED,
  _PAGE_HWWRITE,
  _PAGE_HWEXEC,
  _PTE_NONE_MASK,
  _PMD_PRESENT,
  _PMD_PRESENT_MASK,
  _PMD_BAD,
  _PAGE_CHG_MASK,
  _PAGE_BASE,
  _PAGE_WRENABLE,
  _PAGE_KERNEL,
  _PAGE_KERNEL_RO,
  _PAGE_IO,
  _PAGE_RAM,
}

// No USER in PAGE_NONE: the pte is present but hash_page refuses user access.
const PAGE_NONE = _PAGE_BASE
const PAGE_READONLY = _PAGE_BASE | _PAGE_USER
const PAGE_READONLY_X = _PAGE_BASE | _PAGE_USER | _PAGE_EXEC
const PAGE_SHARED = _PAGE_BASE | _PAGE_USER | _PAGE_RW
const PAGE_SHARED_X = _PAGE_BASE | _PAGE_USER | _PAGE_RW | _PAGE_EXEC
const PAGE_COPY = _PAGE_BASE | _PAGE_USER
const PAGE_COPY_X = _PAGE_BASE | _PAGE_USER | _PAGE_EXEC

const prot = {
  PAGE_NONE,
  PAGE_SHARED,
  PAGE_COPY,
  PAGE_READONLY,
  PAGE_KERNEL: _PAGE_RAM,
  PAGE_READONLY_X,
  PAGE_SHARED_X,
  PAGE_COPY_X,
  PAGE_KERNEL_NOCACHE: _PAGE_IO,
}

// protection_map, indexed by VM_READ|VM_WRITE|VM_EXEC. Unlike i386, exec gets
// the _X values (the software _PAGE_EXEC bit, for i-cache coherence), and a
// private writable mapping starts as COPY (write-protected until COW).
const protectionMap = {
  private: [
    PAGE_NONE,
    PAGE_READONLY_X,
    PAGE_COPY,
    PAGE_COPY_X,
    PAGE_READONLY,
    PAGE_READONLY_X,
    PAGE_COPY,
    PAGE_COPY_X,
  ],
  shared: [
    PAGE_NONE,
    PAGE_READONLY_X,
    PAGE_SHARED,
    PAGE_SHARED_X,
    PAGE_READONLY,
    PAGE_READONLY_X,
    PAGE_SHARED,
    PAGE_SHARED_X,
  ],
}

const u32 = (x: bigint): bigint => trunc(x, 32)

/**
 * The swap macros: __swp_entry puts the type in bits 0–4 and the offset above
 * it; __swp_entry_to_pte shifts the entry left by 3 so that PRESENT, HASHPTE
 * and FILE (bits 0–2) stay clear. Type lands in pte bits 3–7, offset in 8–31.
 */
const { swap, swpEntryToPte, pteToSwpEntry } = withGenericSwap(
  {
    archEntry: (type, offset) => u32(BigInt(type) | (offset << 5n)),
    archType: (e) => Number(e & 0x1fn),
    archOffset: (e) => u32(e) >> 5n,
    archEntryToPte: (e) => u32(e << 3n),
    pteToArchEntry: (pte) => u32(pte) >> 3n,
  },
  32,
)

const macros = {
  mkPte: (pfn: bigint, p: bigint) => u32((pfn << 12n) | p),
  ptePfn: (pte: bigint) => u32(pte) >> 12n,
  ptePresent: (pte: bigint) => (pte & _PAGE_PRESENT) !== 0n,
  // pte_none: only _PTE_NONE_MASK (HASHPTE) may be set: a cleared pte keeps
  // HASHPTE until its HPTE is flushed.
  pteNone: (pte: bigint) => (u32(pte) & ~_PTE_NONE_MASK) === 0n,
  pteFile: (pte: bigint) => (pte & _PAGE_FILE) !== 0n,
  pteYoung: (pte: bigint) => (pte & _PAGE_ACCESSED) !== 0n,
  pteDirty: (pte: bigint) => (pte & _PAGE_DIRTY) !== 0n,
  pteWrite: (pte: bigint) => (pte & _PAGE_RW) !== 0n,
  swpEntryToPte,
  pteToSwpEntry,
  pgoffToPte: (off: bigint) => u32((off << 3n) | _PAGE_FILE),
  pteToPgoff: (pte: bigint) => u32(pte) >> 3n,
  // pgd_index has no mask: address >> PGDIR_SHIFT is at most 1023 anyway.
  pgdIndex: (a: bigint) => Number(u32(a) >> 22n),
  pmdIndex: () => 0,
  pteIndex: (a: bigint) => Number((u32(a) >> 12n) & 1023n),
  swap,
}

// Low-word masks for the fast form and the MMU.
const P = Number(_PAGE_PRESENT)
const FILE = Number(_PAGE_FILE)
const HASHPTE = Number(_PAGE_HASHPTE)

const fast: PteCodec = {
  words: 1,
  YOUNG: Number(_PAGE_ACCESSED),
  DIRTY: Number(_PAGE_DIRTY),
  WRITE: Number(_PAGE_RW),
  mkPteLo: (pfn, p) => ((pfn << 12) | p) >>> 0,
  mkPteHi: () => 0,
  pfn: (lo) => lo >>> 12,
  present: (lo) => (lo & P) !== 0,
  none: (lo) => (lo & ~HASHPTE) === 0,
  file: (lo) => (lo & FILE) !== 0,
  swpLo: (type, offset) => ((type << 3) | (offset << 8)) >>> 0,
  swpHi: () => 0,
  swpType: (lo) => (lo >>> 3) & 0x1f,
  swpOffset: (lo) => lo >>> 8,
  pgoffLo: (off) => ((off << 3) | FILE) >>> 0,
  pgoffHi: () => 0,
  pgoff: (lo) => lo >>> 3,
  pgdIndex: (a) => a >>> 22,
  pmdIndex: () => 0,
  pteIndex: (a) => (a >>> 12) & 1023,
  // pmd_populate: the physical address of the pte page | _PMD_PRESENT (0).
  pmdEntryLo: (pfn) => (pfn << 12) >>> 0,
  pmdEntryHi: () => 0,
  pmdPfn: (lo) => lo >>> 12,
  pgdEntryLo: () => 0,
  pgdEntryHi: () => 0,
  pgdPfn: () => -1,
}

/** Tag a pte page with its mm and base address (2.6.7 `pte_alloc_one*`; page->index = address & PMD_MASK). */
function tagPtePage(env: PgtableEnv, pfn: number, mm: number, address: bigint): void {
  env.setPageMapping(pfn, mm, address & PMD_MASK)
}

/**
 * `pte_free`/`pte_free_kernel`: on SMP the kernel first calls hash_page_sync()
 * so no cpu is still inside hash_page on this page (nothing to model with one
 * thread); 2.6.7 then sets page->mapping back to NULL, which the page
 * allocator's free_pages_check requires.
 */
function ptePageFree(env: PgtableEnv, pfn: number): void {
  if (env.rules.archTagsPtePages) env.setPageMapping(pfn, NO_MAPPING, 0n)
  env.tables.detach(pfn)
  env.freePage(pfn)
}

const pgtable: ArchPgtable = {
  // arch/ppc/Kconfig has no CONFIG_HIGHPTE: the __GFP_HIGHMEM in pte_alloc_one is dead code.
  highpte: false,
  // pte_offset_map always goes through kmap_atomic(KM_PTE0), which takes no
  // slot for a lowmem page; the model still checks the pte_unmap pairing.
  pteOffsetMapKmaps: true,
  brokenPteAllocOneEarly: true,
  tagsPtePages: true,
  pgdPreallocPmds: 0,
  pteAllocOne(env: PgtableEnv, mm: number, address: bigint): PteAllocation {
    // alloc_pages(GFP_KERNEL|__GFP_REPEAT) + clear_highpage. In 2.6.4 the
    // generic pgtable_add_rmap tags the page instead, after the pmd re-check.
    const pfn = env.allocPage({ highmem: false })
    env.tables.attach(pfn)
    if (env.rules.archTagsPtePages) tagPtePage(env, pfn, mm, address)
    return { pfn, bootmem: false }
  },
  pteAllocOneKernel(env: PgtableEnv, mm: number, address: bigint): PteAllocation {
    if (!env.memInitDone) {
      // early_get_page(): MMU_init -> mapin_ram -> map_page builds the kernel's
      // tables from boot memory before mem_init. No tag in any kernel: this is
      // exactly the page BROKEN_PPC_PTE_ALLOC_ONE exists for.
      const pfn = env.bootmemAlloc()
      env.tables.attach(pfn)
      return { pfn, bootmem: true }
    }
    // __get_free_page(GFP_KERNEL|__GFP_REPEAT): lowmem; 2.6.7 tags it here.
    const pfn = env.allocPage({ highmem: false })
    env.tables.attach(pfn)
    if (env.rules.archTagsPtePages) tagPtePage(env, pfn, mm, address)
    return { pfn, bootmem: false }
  },
  pteFree: ptePageFree,
  pteFreeKernel: ptePageFree,
}

const mmu = {
  kind: 'hash' as const,
  create: (env: PgtableEnv) =>
    new PpcHashTable(env, {
      PRESENT: P,
      USER: Number(_PAGE_USER),
      RW: Number(_PAGE_RW),
      ACCESSED: Number(_PAGE_ACCESSED),
      DIRTY: Number(_PAGE_DIRTY),
      HASHPTE,
    }),
}

/** ppc 32-bit, classic hash MMU (6xx), 4 KB pages, 2 levels. */
export const ppc: Arch = defineArch({
  name: 'ppc',
  description: 'ppc 32-bit classic hash MMU (6xx: 2-level, 1024-entry pgd and pte pages, hashed page table)',
  geometry: {
    PAGE_SHIFT: 12,
    PAGE_SIZE: 0x1000n,
    PAGE_MASK,
    PGDIR_SHIFT: 22,
    PMD_SHIFT: 22,
    PTRS_PER_PGD: 1024,
    PTRS_PER_PMD: 1,
    PTRS_PER_PTE: 1024,
    levels: 2,
    BITS_PER_LONG: 32,
    PTE_BITS: 32,
    PMD_ENTRY_BITS: 32,
    PGD_ENTRY_BITS: 32,
    TASK_SIZE: 0x80000000n,
    PAGE_OFFSET: KERNELBASE,
    // TASK_SIZE / 8 * 3, include/asm-ppc/processor.h.
    TASK_UNMAPPED_BASE: 0x30000000n,
    USER_PTRS_PER_PGD: 512,
    PTE_FILE_MAX_BITS: 29,
    PTE_PFN_SHIFT: 12,
    MAX_PTE_PFN: 0xfffffn,
    // The swap offset field is pte bits 8–31; sys_swapon allows one less.
    SWP_OFFSET_MAX: 0xffffffn,
    SWAP_MAXPAGES_LIMIT: 0xfffffen,
  },
  bits,
  prot,
  protectionMap,
  macros,
  fast,
  pgtable,
  mmu,
  capabilities: { wordPtes: false, highpte: false, ptepToMmAddress: true, hashMmu: true },
})

/**
 * The 2.6.5 source as written, where it differs from what the model does
 * (docs/layouts.md#mmu-cache-coherence). Both points are literal source observations, not
 * checked on a ppc machine; the model runs the intended behaviour.
 */
export const historical = {
  /**
   * `flush_hash_one_pte` (arch/ppc/mm/tlb.c, 2.6.4–2.6.10) computes the address
   * of a pte as page->index + (byte offset << 9), in a 32-bit unsigned long.
   * With 4-byte ptes the inverse of pte_index is byte offset << 10 (× 1024, the
   * generic `ptep_to_address`): the literal formula lands halfway into the pte
   * page's range. Fixed in 2.6.11-rc5 ("ppc32: Wrong vaddr in
   * flush_hash_one_pte()"). The model uses the ×1024 formula.
   */
  flushHashOnePteAddress(pageIndex: bigint, byteOffset: bigint): bigint {
    return u32(pageIndex + (byteOffset << 9n))
  },
  /**
   * Whether 2.6.5's `ptep_test_and_clear_young` reaches its
   * `flush_hash_one_pte` call for an old pte value: never. The old value is
   * masked with _PAGE_ACCESSED before `_PAGE_HASHPTE` is tested, so the test is
   * always false and the HPTE of a pte made old is not flushed (which is also
   * why the wrong address above, and an untagged pte page, went unnoticed). The
   * model tests the unmasked old value and flushes.
   */
  ptepTestAndClearYoungFlushes(oldPte: bigint): boolean {
    return (oldPte & _PAGE_ACCESSED & _PAGE_HASHPTE) !== 0n
  },
  /** asm-generic/rmap.h `ptep_to_address` of 2.6.4–2.6.5: page->index + byte offset × PTRS_PER_PTE. */
  genericPtepToAddress265(pageIndex: bigint, byteOffset: bigint): bigint {
    return u32(pageIndex + byteOffset * 1024n)
  },
  /**
   * The same after wli's ARM fix in 2.6.6 (`cbaafb90…`): (byte offset & (PTRS_PER_PTE ×
   * sizeof(pte_t) − 1)) × (PAGE_SIZE / sizeof(pte_t)); equal to the 2.6.5 formula here.
   */
  genericPtepToAddress266(pageIndex: bigint, byteOffset: bigint): bigint {
    return u32(pageIndex + (byteOffset & 0xfffn) * 1024n)
  },
}
