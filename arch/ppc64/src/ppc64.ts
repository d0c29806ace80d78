/**
 * The ppc64 page-table layout of Linux 2.6.5 (include/asm-ppc64/{page.h,
 * pgtable.h,pgalloc.h,processor.h}, arch/ppc64/mm/{tlb.c,hash_utils.c,
 * hash_low.S,init.c}). Facts: docs/layouts.md#ppc64, docs/layouts.md#mmu-cache-coherence.
 *
 * - 3 levels of 4 KB pages: pgd (1024 × 32-bit) → pmd (1024 × 32-bit) → pte
 *   (512 × 64-bit). Upper-level entries are page numbers, not pointers: a pgd
 *   entry is the pmd page's frame number, a pmd entry the pte page's frame
 *   number << PMD_TO_PTEPAGE_SHIFT (2), leaving two flag bits.
 * - The pfn sits at PTE_SHIFT 16, not at PAGE_SHIFT: pte bits 12–15 hold the
 *   slot of the pte's HPTE (`_PAGE_GROUP_IX`, `_PAGE_SECONDARY`).
 * - The effective address space: user addresses below TASK_SIZE_USER64 = 2^41
 *   (region 0); the kernel's linear map at 0xC…, vmalloc at 0xD…, ioremap at
 *   0xE…, each region with its own pgd. The top 4 bits (the region) fall
 *   outside every index mask.
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
import { Ppc64HashTable } from './hash.js'

/** PTE_SHIFT: where the pfn starts in a pte (bits 12–15 are HPTE slot bits). */
export const PTE_SHIFT = 16
/** PTE_INDEX_SIZE: log2(PTRS_PER_PTE). */
export const PTE_INDEX_SIZE = 9
/** PMD_INDEX_SIZE: log2(PTRS_PER_PMD). */
export const PMD_INDEX_SIZE = 10
/** PGD_INDEX_SIZE: log2(PTRS_PER_PGD). */
export const PGD_INDEX_SIZE = 10
/** EADDR_SIZE: bits of effective address the three levels translate (12 + 9 + 10 + 10). */
export const EADDR_SIZE = 41
/** PMD_TO_PTEPAGE_SHIFT: a pmd entry is the pte page's frame number shifted left by 2. */
export const PMD_TO_PTEPAGE_SHIFT = 2
/** PMD_SIZE: bytes mapped by one pte page (2 MB). */
export const PMD_SIZE = 0x200000n
/** PMD_MASK: rounds an address down to its pte page's base; page->index of a pte page. */
export const PMD_MASK = 0xffffffffffe00000n
/** PGDIR_SIZE: bytes mapped by one pmd page (2 GB). */
export const PGDIR_SIZE = 0x80000000n
/** PGDIR_MASK. */
export const PGDIR_MASK = 0xffffffff80000000n
/** TASK_SIZE_USER64: the address-space limit of a 64-bit task (2 TB); `ppc64.geometry.TASK_SIZE`. */
export const TASK_SIZE_USER64 = 0x20000000000n
/** TASK_SIZE_USER32: the limit of a TIF_32BIT task (4 GB less a page). */
export const TASK_SIZE_USER32 = 0xfffff000n
/** KERNELBASE = PAGE_OFFSET: the linear map of real memory (region 0xC). */
export const KERNELBASE = 0xc000000000000000n
/** VMALLOC_START (region 0xD, init_mm's pgd). */
export const VMALLOC_START = 0xd000000000000000n
/** IMALLOC_BASE: ioremap space (region 0xE, ioremap_dir). */
export const IMALLOC_BASE = 0xe000000080000000n
/** VALID_EA_BITS: the offset bits within a region. */
export const VALID_EA_BITS = 0x1ffffffffffn
/** REGION_SHIFT: the region id is the top 4 bits of an effective address. */
export const REGION_SHIFT = 60
/** REGION_MASK. */
export const REGION_MASK = 0xf000000000000000n
/** USER_REGION_ID: user space is region 0 (its HPTEs use mm->context; other regions context 0). */
export const USER_REGION_ID = 0

const PAGE_MASK = 0xfffffffffffff000n

const _PAGE_PRESENT = 0x0001n
const _PAGE_USER = 0x0002n
/** Same bit as USER; meaningful only when the pte is not present. */
const _PAGE_FILE = 0x0002n
const _PAGE_RW = 0x0004n
const _PAGE_GUARDED = 0x0008n
const _PAGE_COHERENT = 0x0010n
const _PAGE_NO_CACHE = 0x0020n
const _PAGE_WRITETHRU = 0x0040n
const _PAGE_DIRTY = 0x0080n
const _PAGE_ACCESSED = 0x0100n
const _PAGE_EXEC = 0x0200n
const _PAGE_HASHPTE = 0x0400n
const _PAGE_BUSY = 0x0800n
const _PAGE_GROUP_IX = 0x7000n
const _PAGE_SECONDARY = 0x8000n
const _PAGE_HPTEFLAGS = _PAGE_BUSY | _PAGE_HASHPTE | _PAGE_SECONDARY | _PAGE_GROUP_IX
const _PAGE_CHG_MASK = PAGE_MASK | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_HPTEFLAGS
const _PAGE_BASE = _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_COHERENT
const _PAGE_WRENABLE = _PAGE_RW | _PAGE_DIRTY

const bits = {
  _PAGE_PRESENT,
  _PAGE_USER,
  _PAGE_FILE,
  _PAGE_RW,
  _PAGE_GUARDED,
  _PAGE_COHERENT,
  _PAGE_NO_CACHE,
  _PAGE_WRITETHRU,
  _PAGE_DIRTY,
  _PAGE_ACCESSED,
  _PAGE_EXEC,
  _PAGE_HASHPTE,
  _PAGE_BUSY,
  _PAGE_GROUP_IX,
  _PAGE_SECONDARY,
  _PAGE_HPTEFLAGS,
  _PAGE_CHG_MASK,
  _PAGE_BASE,
  _PAGE_WRENABLE,
}

// PAGE_NONE has neither COHERENT nor USER: present, but no user access.
const PAGE_NONE = _PAGE_PRESENT | _PAGE_ACCESSED
const PAGE_SHARED = _PAGE_BASE | _PAGE_RW | _PAGE_USER
const PAGE_SHARED_X = _PAGE_BASE | _PAGE_RW | _PAGE_USER | _PAGE_EXEC
const PAGE_COPY = _PAGE_BASE | _PAGE_USER
const PAGE_COPY_X = _PAGE_BASE | _PAGE_USER | _PAGE_EXEC
const PAGE_READONLY = _PAGE_BASE | _PAGE_USER
const PAGE_READONLY_X = _PAGE_BASE | _PAGE_USER | _PAGE_EXEC

const prot = {
  PAGE_NONE,
  PAGE_SHARED,
  PAGE_COPY,
  PAGE_READONLY,
  PAGE_KERNEL: _PAGE_BASE | _PAGE_WRENABLE,
  PAGE_READONLY_X,
  PAGE_SHARED_X,
  PAGE_COPY_X,
  PAGE_KERNEL_CI: _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_WRENABLE | _PAGE_NO_CACHE | _PAGE_GUARDED,
}

// protection_map as on ppc32: exec gets the _X values.
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

const u64 = (x: bigint): bigint => trunc(x, 64)

/**
 * The swap macros: __swp_entry is type << 1 | offset << 8 (with a 6-bit
 * __swp_type mask, though only 5 bits of type are ever used), and the entry
 * is shifted into the pfn field (<< PTE_SHIFT). Type lands in pte bits 17–21,
 * offset in bits 24–63 (40 bits).
 */
const { swap, swpEntryToPte, pteToSwpEntry } = withGenericSwap(
  {
    archEntry: (type, offset) => u64((BigInt(type) << 1n) | (offset << 8n)),
    archType: (e) => Number((e >> 1n) & 0x3fn),
    archOffset: (e) => u64(e) >> 8n,
    archEntryToPte: (e) => u64(e << 16n),
    pteToArchEntry: (pte) => u64(pte) >> 16n,
  },
  64,
)

const macros = {
  mkPte: (pfn: bigint, p: bigint) => u64((pfn << 16n) | p),
  ptePfn: (pte: bigint) => u64(pte) >> 16n,
  ptePresent: (pte: bigint) => (pte & _PAGE_PRESENT) !== 0n,
  // pte_none: nothing outside the HPTE flags; a cleared pte may keep them.
  pteNone: (pte: bigint) => (u64(pte) & ~_PAGE_HPTEFLAGS) === 0n,
  pteFile: (pte: bigint) => (pte & _PAGE_FILE) !== 0n,
  pteYoung: (pte: bigint) => (pte & _PAGE_ACCESSED) !== 0n,
  pteDirty: (pte: bigint) => (pte & _PAGE_DIRTY) !== 0n,
  pteWrite: (pte: bigint) => (pte & _PAGE_RW) !== 0n,
  swpEntryToPte,
  pteToSwpEntry,
  pgoffToPte: (off: bigint) => u64((off << 16n) | _PAGE_FILE),
  pteToPgoff: (pte: bigint) => u64(pte) >> 16n,
  // pgd_index masks with 0x7ff, not PTRS_PER_PGD-1 (the header: "to avoid
  // overflow in free_pgtables"). Kernel behaviour, kept: 2^41 = TASK_SIZE gives
  // 1024, one past the end of the 1024-entry pgd.
  pgdIndex: (a: bigint) => Number((u64(a) >> 31n) & 0x7ffn),
  pmdIndex: (a: bigint) => Number((u64(a) >> 21n) & 1023n),
  pteIndex: (a: bigint) => Number((u64(a) >> 12n) & 511n),
  swap,
}

// Low-word masks for the fast form and the MMU (every flag is in bits 0–15).
const P = Number(_PAGE_PRESENT)
const FILE = Number(_PAGE_FILE)
const HPTEFLAGS = Number(_PAGE_HPTEFLAGS)
const TWO16 = 0x10000
const TWO31 = 0x80000000
const TWO21 = 0x200000

const fast: PteCodec = {
  words: 2,
  YOUNG: Number(_PAGE_ACCESSED),
  DIRTY: Number(_PAGE_DIRTY),
  WRITE: Number(_PAGE_RW),
  // pfn << 16: its low 16 bits go to the top of the low word, the rest to the high word.
  mkPteLo: (pfn, p) => (((pfn & 0xffff) << 16) | p) >>> 0,
  mkPteHi: (pfn) => Math.floor(pfn / TWO16) >>> 0,
  pfn: (lo, hi) => hi * TWO16 + (lo >>> 16),
  present: (lo) => (lo & P) !== 0,
  none: (lo, hi) => (lo & ~HPTEFLAGS) === 0 && hi === 0,
  file: (lo) => (lo & FILE) !== 0,
  // type << 17 | offset << 24: the offset's low 8 bits in the low word.
  swpLo: (type, offset) => ((type << 17) | ((offset & 0xff) << 24)) >>> 0,
  swpHi: (_type, offset) => Math.floor(offset / 0x100) >>> 0,
  swpType: (lo) => (lo >>> 17) & 0x1f,
  swpOffset: (lo, hi) => hi * 0x100 + (lo >>> 24),
  pgoffLo: (off) => (((off & 0xffff) << 16) | FILE) >>> 0,
  pgoffHi: (off) => Math.floor(off / TWO16) >>> 0,
  pgoff: (lo, hi) => hi * TWO16 + (lo >>> 16),
  pgdIndex: (a) => Math.floor(a / TWO31) & 0x7ff,
  pmdIndex: (a) => Math.floor(a / TWO21) & 1023,
  pteIndex: (a) => Math.floor(a / 0x1000) & 511,
  // pmd_populate: (pte page address & ~REGION_MASK) >> 12 << PMD_TO_PTEPAGE_SHIFT.
  pmdEntryLo: (pfn) => (pfn << PMD_TO_PTEPAGE_SHIFT) >>> 0,
  pmdEntryHi: () => 0,
  pmdPfn: (lo) => lo >>> PMD_TO_PTEPAGE_SHIFT,
  // pgd_set: (pmd page address & ~REGION_MASK) >> 12.
  pgdEntryLo: (pfn) => pfn >>> 0,
  pgdEntryHi: () => 0,
  pgdPfn: (lo) => lo,
}

/**
 * `pte_free`/`pte_free_kernel` (kmem_cache_free to zero_cache); 2.6.7 sets
 * page->mapping back to NULL first.
 *
 * The kernel frees user pte pages through `__pte_free_tlb`, which batches them
 * in a per-cpu `pte_freelist_batch` released after an RCU grace period when
 * another cpu may still walk them. The model frees at once (RCU batching is
 * not modelled). 2.6.5's PTE_FREELIST_SIZE, the capacity of that batch, was
 * mis-parenthesized so that it did not compute (PAGE_SIZE − header) / pointer
 * size and a batch could be filled past the end of its page; fixed in 2.6.6
 * ("ppc64: Fix nasty typo in PTE freeing code", `4b9f9761…`).
 */
function ptePageFree(env: PgtableEnv, pfn: number): void {
  if (env.rules.archTagsPtePages) env.setPageMapping(pfn, NO_MAPPING, 0n)
  env.tables.detach(pfn)
  env.freePage(pfn)
}

/**
 * `pte_alloc_one_kernel` (and `pte_alloc_one`, which is it plus virt_to_page):
 * a pre-zeroed page from zero_cache. Never bootmem: before mem_init_done
 * ppc64 builds no Linux page tables at all (map_io_page bolts HPTEs directly).
 * 2.6.7 tags the page on every call, without a mem_init_done check; in 2.6.4
 * the generic pgtable_add_rmap tags it (and skips early pages).
 */
function pteAllocOne(env: PgtableEnv, mm: number, address: bigint): PteAllocation {
  const pfn = env.allocPage({ highmem: false })
  env.tables.attach(pfn)
  if (env.rules.archTagsPtePages) env.setPageMapping(pfn, mm, address & PMD_MASK)
  return { pfn, bootmem: false }
}

const pgtable: ArchPgtable = {
  highpte: false,
  // pte_offset_map is pte_offset_kernel and pte_unmap a no-op: no highmem.
  pteOffsetMapKmaps: false,
  brokenPteAllocOneEarly: true,
  tagsPtePages: true,
  // pmd pages come one at a time from pmd_alloc (zero_cache), never counted.
  pgdPreallocPmds: 0,
  pteAllocOne,
  pteAllocOneKernel: pteAllocOne,
  pteFree: ptePageFree,
  pteFreeKernel: ptePageFree,
}

const mmu = {
  kind: 'hash' as const,
  create: (env: PgtableEnv) =>
    new Ppc64HashTable(env, {
      PRESENT: P,
      USER: Number(_PAGE_USER),
      RW: Number(_PAGE_RW),
      ACCESSED: Number(_PAGE_ACCESSED),
      DIRTY: Number(_PAGE_DIRTY),
      HASHPTE: Number(_PAGE_HASHPTE),
      GROUP_IX: Number(_PAGE_GROUP_IX),
      SECONDARY: Number(_PAGE_SECONDARY),
      HPTEFLAGS,
    }),
}

/** ppc64: 3 levels, 64-bit ptes with the pfn at bit 16, hashed page table. */
export const ppc64: Arch = defineArch({
  name: 'ppc64',
  description:
    'ppc64 (3-level: 1024-entry pgd and pmd of 32-bit entries, 512 64-bit ptes; hashed page table)',
  geometry: {
    PAGE_SHIFT: 12,
    PAGE_SIZE: 0x1000n,
    PAGE_MASK,
    PGDIR_SHIFT: 31,
    PMD_SHIFT: 21,
    PTRS_PER_PGD: 1024,
    PTRS_PER_PMD: 1024,
    PTRS_PER_PTE: 512,
    levels: 3,
    BITS_PER_LONG: 64,
    PTE_BITS: 64,
    PMD_ENTRY_BITS: 32,
    PGD_ENTRY_BITS: 32,
    TASK_SIZE: TASK_SIZE_USER64,
    PAGE_OFFSET: KERNELBASE,
    // PAGE_ALIGN(STACK_TOP_USER64 / 4) for 64-bit tasks, include/asm-ppc64/processor.h.
    TASK_UNMAPPED_BASE: 0x8000000000n,
    USER_PTRS_PER_PGD: 1024,
    // BITS_PER_LONG - PTE_SHIFT.
    PTE_FILE_MAX_BITS: 48,
    PTE_PFN_SHIFT: PTE_SHIFT,
    MAX_PTE_PFN: 0xffffffffffffn,
    // The swap offset field is pte bits 24–63; sys_swapon allows one less.
    SWP_OFFSET_MAX: 0xffffffffffn,
    SWAP_MAXPAGES_LIMIT: 0xfffffffffen,
  },
  bits,
  prot,
  protectionMap,
  macros,
  fast,
  pgtable,
  mmu,
  capabilities: { wordPtes: true, highpte: false, ptepToMmAddress: true, hashMmu: true },
})

/**
 * Address formulas of the kernels, for checking the `ptep_to_address` vectors
 * (docs/layouts.md#finding-a-ptes-mm-and-address, docs/layouts.md#mmu-cache-coherence). On ppc64 they all agree, because
 * PTRS_PER_PTE × sizeof(pte_t) = PAGE_SIZE.
 */
export const historical = {
  /** asm-generic/rmap.h `ptep_to_address` of 2.6.4–2.6.5 (what 2.6.5 `hpte_update` calls): index + byte offset × PTRS_PER_PTE. */
  genericPtepToAddress265(pageIndex: bigint, byteOffset: bigint): bigint {
    return u64(pageIndex + byteOffset * 512n)
  },
  /** The same after the 2.6.6 ARM fix: (byte offset & 0xfff) × (PAGE_SIZE / sizeof(pte_t)). */
  genericPtepToAddress266(pageIndex: bigint, byteOffset: bigint): bigint {
    return u64(pageIndex + (byteOffset & 0xfffn) * 512n)
  },
  /** 2.6.7 `hpte_update` (arch/ppc64/mm/tlb.c after rmap 12): page->index + byte offset × PTRS_PER_PTE. */
  hpteUpdateAddress267(pageIndex: bigint, byteOffset: bigint): bigint {
    return u64(pageIndex + byteOffset * 512n)
  },
}
