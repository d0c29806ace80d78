/**
 * The arch contract: what one page-table layout must provide so that the VM
 * model can run on it and the conformance suite can check it.
 *
 * An {@link Arch} is a plain object in five parts, each named as the kernel
 * names it:
 *
 * 1. geometry and constants ({@link ArchGeometry});
 * 2. the pte layout as the kernel macros compute it, on `bigint`
 *    (`mkPte`, `ptePfn`, `swpEntryToPte`...), plus a number-based fast form of
 *    the same encodings for the VM's hot path ({@link PteCodec});
 * 3. page-table pages: allocation, `pte_offset_map`/`pte_unmap`/
 *    `pte_offset_kernel`, and on ppc/ppc64 the (mm, address) tag of a pte page
 *    ({@link ArchPgtable});
 * 4. per-cpu page-table accounting (the rules live in the generic
 *    `pte_alloc_map`/`free_one_pmd` of `pgtable.ts`; the arch contributes its
 *    early-boot rule);
 * 5. the MMU cache that must be kept coherent when a pte changes
 *    ({@link ArchMmu}).
 */
import type { KernelProfile, PgtableEnv } from './env.js'
import type { MmuCache } from './mmu.js'

/** Names of the layouts shipped by rmaplab; third-party arches use their own. */
export type ArchName = 'i386' | 'i386-pae' | 'ppc' | 'ppc64'

/**
 * Sizes, shifts and limits of a layout. Address-sized values are `bigint`
 * (ppc64 addresses do not fit a double); counts and shifts are numbers.
 */
export interface ArchGeometry {
  /** log2 of the page size; 12 on every layout here. */
  readonly PAGE_SHIFT: number
  /** Bytes per page. */
  readonly PAGE_SIZE: bigint
  /** `~(PAGE_SIZE-1)` at BITS_PER_LONG. */
  readonly PAGE_MASK: bigint
  /** Shift of the address bits that index the pgd. */
  readonly PGDIR_SHIFT: number
  /** Shift of the address bits that index the pmd (equal to PGDIR_SHIFT when the pmd is folded). */
  readonly PMD_SHIFT: number
  /** Entries in a pgd. */
  readonly PTRS_PER_PGD: number
  /** Entries in a pmd (1 when folded into the pgd). */
  readonly PTRS_PER_PMD: number
  /** Entries in a pte page. */
  readonly PTRS_PER_PTE: number
  /** Number of real levels: 2 (pmd folded) or 3. */
  readonly levels: 2 | 3
  /** Width of the kernel's `unsigned long`: per-cpu counters wrap at 2^BITS_PER_LONG. */
  readonly BITS_PER_LONG: 32 | 64
  /** Width of a pte in bits (`sizeof(pte_t) * 8`). */
  readonly PTE_BITS: 32 | 64
  /** Width of a pmd entry in bits (the pgd entry when the pmd is folded). */
  readonly PMD_ENTRY_BITS: 32 | 64
  /** Width of a pgd entry in bits. */
  readonly PGD_ENTRY_BITS: 32 | 64
  /** First address user space cannot map. On ppc64 this is TASK_SIZE_USER64. */
  readonly TASK_SIZE: bigint
  /** Start of the kernel's linear map of low memory. */
  readonly PAGE_OFFSET: bigint
  /**
   * Where `get_unmapped_area` starts looking for room (include/asm-ARCH/processor.h):
   * i386 TASK_SIZE/3, ppc TASK_SIZE/8*3, ppc64 STACK_TOP_USER64/4. Optional:
   * the VM uses PAGE_ALIGN(TASK_SIZE/3) when an arch leaves it out.
   */
  readonly TASK_UNMAPPED_BASE?: bigint
  /** pgd entries that map user space (TASK_SIZE / PGDIR_SIZE). */
  readonly USER_PTRS_PER_PGD: number
  /** Bits of file page offset a nonlinear (file) pte holds. */
  readonly PTE_FILE_MAX_BITS: number
  /** Bit position of the pfn in a pte: PAGE_SHIFT, except ppc64's PTE_SHIFT of 16. */
  readonly PTE_PFN_SHIFT: number
  /** Largest pfn a pte holds without truncation. */
  readonly MAX_PTE_PFN: bigint
  /** Largest swap offset that survives the pte encoding (`__swp_offset` of the all-ones offset). */
  readonly SWP_OFFSET_MAX: bigint
  /** `sys_swapon`'s bound on maxpages: SWP_OFFSET_MAX - 1 (see docs/layouts.md#swap-entries). */
  readonly SWAP_MAXPAGES_LIMIT: bigint
}

/** MAX_SWAPFILES_SHIFT: the swap type has 5 bits on every arch (include/linux/swap.h). */
export const MAX_SWAPFILES_SHIFT = 5
/** MAX_SWAPFILES: swap types are 0..31. */
export const MAX_SWAPFILES = 32

/** A swap entry split into its parts, as `swp_type()`/`swp_offset()` return them. */
export interface SwpEntry {
  /** The swap area (0..31). */
  readonly type: number
  /** The page slot inside the area. */
  readonly offset: bigint
}

/** The protection values of `include/asm-ARCH/pgtable.h`, raw. */
export interface ArchProt {
  readonly PAGE_NONE: bigint
  readonly PAGE_SHARED: bigint
  readonly PAGE_COPY: bigint
  readonly PAGE_READONLY: bigint
  readonly PAGE_KERNEL: bigint
  readonly [name: string]: bigint
}

/**
 * The kernel-macro surface on `bigint`, raw values exactly as the 2.6.5 headers
 * compute them. The strict form on {@link Arch} rejects what the kernel could not
 * represent; {@link Arch.macros} is the same arithmetic with the C truncation.
 */
export interface PteMacros {
  /** `pfn_pte(pfn, prot)` (mk_pte of the page with that pfn). */
  mkPte(pfn: bigint, prot: bigint): bigint
  /** `pte_pfn(pte)`. */
  ptePfn(pte: bigint): bigint
  /** `pte_present`: the pte maps a page (PROT_NONE ptes count as present). */
  ptePresent(pte: bigint): boolean
  /** `pte_none`: the pte is empty (ignoring bits the arch says to ignore, such as ppc's HASHPTE). */
  pteNone(pte: bigint): boolean
  /** `pte_file`: a non-present pte holding a file page offset (nonlinear vma). */
  pteFile(pte: bigint): boolean
  /** `pte_young`: the accessed bit. */
  pteYoung(pte: bigint): boolean
  /** `pte_dirty`: the dirty bit. */
  pteDirty(pte: bigint): boolean
  /** `pte_write`: the writable bit. */
  pteWrite(pte: bigint): boolean
  /** `swp_entry_to_pte(swp_entry(type, offset))`: a swap pte. */
  swpEntryToPte(type: number, offset: bigint): bigint
  /** `pte_to_swp_entry(pte)` split by `swp_type`/`swp_offset`. */
  pteToSwpEntry(pte: bigint): SwpEntry
  /** `pgoff_to_pte(pgoff)`: a nonlinear file pte. */
  pgoffToPte(pgoff: bigint): bigint
  /** `pte_to_pgoff(pte)`. */
  pteToPgoff(pte: bigint): bigint
  /** `pgd_index(addr)`. */
  pgdIndex(addr: bigint): number
  /** The pmd index used by `pmd_offset` (0 when the pmd is folded). */
  pmdIndex(addr: bigint): number
  /** The pte index used by `pte_offset_*`. */
  pteIndex(addr: bigint): number
}

/**
 * The arch's own swap-entry macros and the generic `swp_entry_t` packing, with C
 * truncation. Exposed so that every intermediate of the kernel's conversion can
 * be checked against the facts.
 */
export interface SwapMacros {
  /** `__swp_entry(type, offset).val`, the arch-format entry. */
  archEntry(type: number, offset: bigint): bigint
  /** `__swp_type(e)` of an arch-format entry. */
  archType(entry: bigint): number
  /** `__swp_offset(e)` of an arch-format entry. */
  archOffset(entry: bigint): bigint
  /** `__swp_entry_to_pte(e)`. */
  archEntryToPte(entry: bigint): bigint
  /** `__pte_to_swp_entry(pte)`. */
  pteToArchEntry(pte: bigint): bigint
  /** Generic `swp_entry(type, offset).val` (type in the top 5 bits of an unsigned long). */
  genericVal(type: number, offset: bigint): bigint
}

/** {@link PteMacros} with C truncation, plus the swap intermediates. */
export interface ArchMacros extends PteMacros {
  readonly swap: SwapMacros
}

/**
 * The fast, number-based form of the encodings, for the VM's hot path.
 *
 * A pte is one or two 32-bit words (`words`): `lo` holds bits 0–31 and `hi` bits
 * 32–63 (always 0 for 32-bit ptes). Page tables are stored as `Uint32Array`s of
 * these words, so nothing here allocates: encoders return the low and the high
 * word from two calls, decoders take both words. All flag and protection bits
 * of the four layouts live in the low word.
 *
 * Inputs are trusted (the VM validated them once at the boundary); the
 * conformance suite checks that every function agrees with {@link PteMacros}.
 */
export interface PteCodec {
  /** 32-bit words per pte: 1 or 2. */
  readonly words: 1 | 2
  /** Mask of the accessed bit in the low word. */
  readonly YOUNG: number
  /** Mask of the dirty bit in the low word. */
  readonly DIRTY: number
  /** Mask of the writable bit in the low word. */
  readonly WRITE: number
  /** Low word of `pfn_pte(pfn, prot)`; `prot` is the low word of a protection value. */
  mkPteLo(pfn: number, prot: number): number
  /** High word of `pfn_pte(pfn, prot)`. */
  mkPteHi(pfn: number, prot: number): number
  /** `pte_pfn`. */
  pfn(lo: number, hi: number): number
  /** `pte_present`. */
  present(lo: number, hi: number): boolean
  /** `pte_none`. */
  none(lo: number, hi: number): boolean
  /** `pte_file`. */
  file(lo: number, hi: number): boolean
  /** Low word of a swap pte. */
  swpLo(type: number, offset: number): number
  /** High word of a swap pte. */
  swpHi(type: number, offset: number): number
  /** `swp_type(pte_to_swp_entry(pte))`. */
  swpType(lo: number, hi: number): number
  /** `swp_offset(pte_to_swp_entry(pte))`. */
  swpOffset(lo: number, hi: number): number
  /** Low word of `pgoff_to_pte`. */
  pgoffLo(pgoff: number): number
  /** High word of `pgoff_to_pte`. */
  pgoffHi(pgoff: number): number
  /** `pte_to_pgoff`. */
  pgoff(lo: number, hi: number): number
  /** `pgd_index` of a user address (a number below 2^53). */
  pgdIndex(addr: number): number
  /** pmd index of a user address. */
  pmdIndex(addr: number): number
  /** pte index of a user address. */
  pteIndex(addr: number): number
  /** Low word of the entry `pmd_populate` writes for a pte page at `pfn` (the pgd slot when folded). */
  pmdEntryLo(ptePfn: number): number
  /** High word of that entry (0 for 32-bit entries). */
  pmdEntryHi(ptePfn: number): number
  /** `pmd_page`: the pfn of the pte page a pmd entry points to. */
  pmdPfn(lo: number, hi: number): number
  /** Low word of the pgd entry that points to a pmd page (3-level layouts only; 0 otherwise). */
  pgdEntryLo(pmdPfn: number): number
  /** High word of that entry. */
  pgdEntryHi(pmdPfn: number): number
  /** The pfn of the pmd page a pgd entry points to (3-level layouts only). */
  pgdPfn(lo: number, hi: number): number
}

/** Where a page-table page's frame may come from. */
export interface PteAllocation {
  /** The pfn of the new, zeroed page. */
  readonly pfn: number
  /** True when it came from boot memory (ppc `early_get_page`), not from the page allocator. */
  readonly bootmem: boolean
}

/**
 * Part 3 of the contract: page-table pages as the arch allocates, maps and frees
 * them. The generic callers (`pte_alloc_map`, `pte_alloc_kernel`,
 * `free_one_pmd` in `pgtable.ts`) do the locking, the pmd re-check and the
 * per-cpu accounting; the arch does what its `pgalloc.h`/`pgtable.c` did.
 */
export interface ArchPgtable {
  /** CONFIG_HIGHPTE: user pte pages may come from highmem and must be kmapped to be read. */
  readonly highpte: boolean
  /**
   * Whether `pte_offset_map` goes through `kmap_atomic` (i386 with HIGHPTE, ppc
   * always). kmap_atomic takes a fixmap slot only for a highmem page.
   */
  readonly pteOffsetMapKmaps: boolean
  /**
   * BROKEN_PPC_PTE_ALLOC_ONE (asm-ppc/rmap.h, asm-ppc64/rmap.h, 2.6.4–2.6.6): the
   * generic `pgtable_add_rmap` returns at once before `mem_init_done`, so an
   * early pte page gets no mapping, no index and no count.
   */
  readonly brokenPteAllocOneEarly: boolean
  /**
   * Whether the arch needs a pte page tagged with its mm and base address, so that
   * a bare pte pointer maps back to (mm, address): true on ppc and ppc64, whose
   * hash flush needs the VSID of the mm and the effective address.
   */
  readonly tagsPtePages: boolean
  /**
   * pmd pages that `pgd_alloc` allocates with every pgd and `pgd_free` frees (i386
   * PAE: USER_PTRS_PER_PGD = 3, from pmd_cache; never counted). 0 where pmds are
   * allocated on demand (ppc64) or folded.
   */
  readonly pgdPreallocPmds: number
  /** `pte_alloc_one`: a user pte page. */
  pteAllocOne(env: PgtableEnv, mm: number, address: bigint): PteAllocation
  /** `pte_alloc_one_kernel`: a kernel pte page (vmalloc, ioremap); never highmem. */
  pteAllocOneKernel(env: PgtableEnv, mm: number, address: bigint): PteAllocation
  /** `pte_free`. */
  pteFree(env: PgtableEnv, pfn: number): void
  /** `pte_free_kernel`. */
  pteFreeKernel(env: PgtableEnv, pfn: number): void
}

/**
 * Part 5 of the contract: the MMU cache of the layout. Each {@link PgtableEnv}
 * gets its own instance from {@link ArchMmu.create}.
 */
export interface ArchMmu {
  /** `'tlb'` for a per-cpu TLB (i386), `'hash'` for a hashed page table (ppc, ppc64). */
  readonly kind: 'tlb' | 'hash'
  /** A fresh, empty cache for one machine. */
  create(env: PgtableEnv): MmuCache
}

/** Optional parts of the contract, read by the conformance suite to gate test groups. */
export interface ArchCapabilities {
  /** Ptes are two 32-bit words. */
  readonly wordPtes: boolean
  /** User pte pages can live in highmem (kmap slots matter). */
  readonly highpte: boolean
  /** A bare pte location maps back to (mm, address) through the pte page's tag. */
  readonly ptepToMmAddress: boolean
  /** The MMU cache is a hashed page table with `_PAGE_HASHPTE`. */
  readonly hashMmu: boolean
}

/** One page-table layout. Plain data plus functions; see the module comment. */
export interface Arch extends PteMacros {
  /** Layout name: `'i386'`, `'i386-pae'`, `'ppc'`, `'ppc64'`, or a third party's. */
  readonly name: ArchName | (string & {})
  /** One line for people. */
  readonly description: string
  /** Part 1. */
  readonly geometry: ArchGeometry
  /** Every `_PAGE_*` (and `_PAGE_BIT_*`, where the header has them) by kernel name. */
  readonly bits: Readonly<Record<string, bigint>>
  /** Protection values by kernel name. */
  readonly prot: ArchProt
  /**
   * `protection_map`: `private` is `__P000`..`__P111` and `shared` is
   * `__S000`..`__S111`, indexed by VM_READ|VM_WRITE|VM_EXEC.
   */
  readonly protectionMap: { readonly private: readonly bigint[]; readonly shared: readonly bigint[] }
  /** Part 2 with the C truncation (no checks). */
  readonly macros: ArchMacros
  /** Part 2, number-based, for the hot path. */
  readonly fast: PteCodec
  /** Part 3. */
  readonly pgtable: ArchPgtable
  /** Part 5. */
  readonly mmu: ArchMmu
  /** Optional parts. */
  readonly capabilities: ArchCapabilities
  /** Kernel profiles this layout supports (all three for the shipped layouts). */
  readonly profiles: readonly KernelProfile[]
}
