/**
 * The i386 page-table layouts of Linux 2.6.5 (include/asm-i386/pgtable.h,
 * pgtable-2level.h, pgtable-3level.h, page.h; arch/i386/mm/pgtable.c), unchanged
 * through 2.6.7 for everything modelled here. Facts: docs/layouts.md#i386, docs/layouts.md#i386-pae.
 *
 * - 2-level: one 32-bit word per pte, 1024 ptes per page, pmd folded into the pgd.
 * - PAE (CONFIG_HIGHMEM64G): 64-bit ptes as {pte_low, pte_high}, 512 per page,
 *   3 levels with a 4-entry pgd whose 3 user pmds come with the pgd.
 *
 * Both layouts keep every flag in pte_low and share the swap encoding (type in
 * bits 1–5, offset in bits 8–31 of pte_low) — PAE's own swap format came after
 * 2.6.7. There is no NX bit in these kernels.
 */
import {
  type Arch,
  type ArchPgtable,
  defineArch,
  PerCpuTlb,
  type PgtableEnv,
  type PteAllocation,
  type PteCodec,
  trunc,
  withGenericSwap,
} from '@rmaplab/rmap'

/** `_PAGE_*` bit numbers of include/asm-i386/pgtable.h. */
const BIT = {
  _PAGE_BIT_PRESENT: 0n,
  _PAGE_BIT_RW: 1n,
  _PAGE_BIT_USER: 2n,
  _PAGE_BIT_PWT: 3n,
  _PAGE_BIT_PCD: 4n,
  _PAGE_BIT_ACCESSED: 5n,
  _PAGE_BIT_DIRTY: 6n,
  _PAGE_BIT_PSE: 7n,
  _PAGE_BIT_GLOBAL: 8n,
} as const

const _PAGE_PRESENT = 1n << BIT._PAGE_BIT_PRESENT
const _PAGE_RW = 1n << BIT._PAGE_BIT_RW
const _PAGE_USER = 1n << BIT._PAGE_BIT_USER
const _PAGE_PWT = 1n << BIT._PAGE_BIT_PWT
const _PAGE_PCD = 1n << BIT._PAGE_BIT_PCD
const _PAGE_ACCESSED = 1n << BIT._PAGE_BIT_ACCESSED
const _PAGE_DIRTY = 1n << BIT._PAGE_BIT_DIRTY
const _PAGE_PSE = 1n << BIT._PAGE_BIT_PSE
const _PAGE_GLOBAL = 1n << BIT._PAGE_BIT_GLOBAL
/** Shares bit 6 with DIRTY; meaningful only when the pte is not present. */
const _PAGE_FILE = 0x040n
/** Shares bit 7 with PSE; meaningful only when the pte is not present. */
const _PAGE_PROTNONE = 0x080n
const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY
const _KERNPG_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY
const PTE_MASK = 0xfffff000n
const _PAGE_CHG_MASK = PTE_MASK | _PAGE_ACCESSED | _PAGE_DIRTY
const _PAGE_KERNEL = _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED

const PAGE_NONE = _PAGE_PROTNONE | _PAGE_ACCESSED
const PAGE_SHARED = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED
const PAGE_COPY = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED
const PAGE_READONLY = PAGE_COPY

const bits = {
  ...BIT,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_USER,
  _PAGE_PWT,
  _PAGE_PCD,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PSE,
  _PAGE_GLOBAL,
  _PAGE_FILE,
  _PAGE_PROTNONE,
  _PAGE_TABLE,
  _KERNPG_TABLE,
  _PAGE_CHG_MASK,
  _PAGE_KERNEL,
}

/**
 * PAGE_KERNEL is the run-time variable `__PAGE_KERNEL`: _PAGE_KERNEL (0x063) at
 * boot, with _PAGE_GLOBAL ORed in by pagetable_init() on a cpu with PGE (0x163).
 */
const prot = {
  PAGE_NONE,
  PAGE_SHARED,
  PAGE_COPY,
  PAGE_READONLY,
  PAGE_KERNEL: _PAGE_KERNEL,
  PAGE_KERNEL_PGE: _PAGE_KERNEL | _PAGE_GLOBAL,
}

// protection_map, indexed by VM_READ|VM_WRITE|VM_EXEC: exec is read, and a
// private writable mapping is PAGE_COPY (write-protected until COW).
const protectionMap = {
  private: [
    PAGE_NONE,
    PAGE_READONLY,
    PAGE_COPY,
    PAGE_COPY,
    PAGE_READONLY,
    PAGE_READONLY,
    PAGE_COPY,
    PAGE_COPY,
  ],
  shared: [
    PAGE_NONE,
    PAGE_READONLY,
    PAGE_SHARED,
    PAGE_SHARED,
    PAGE_READONLY,
    PAGE_READONLY,
    PAGE_SHARED,
    PAGE_SHARED,
  ],
}

const u32 = (x: bigint): bigint => trunc(x, 32)
const lowOf = (pte: bigint): bigint => u32(pte)
const highOf = (pte: bigint): bigint => u32(pte >> 32n)

/**
 * The swap macros of 2.6.4–2.6.7 i386 pgtable.h, shared by both layouts: the
 * entry is pte_low, type in bits 1–5, offset in bits 8–31.
 */
const { swap, swpEntryToPte, pteToSwpEntry } = withGenericSwap(
  {
    archEntry: (type, offset) => u32((BigInt(type) << 1n) | (offset << 8n)),
    archType: (e) => Number((e >> 1n) & 0x1fn),
    archOffset: (e) => u32(e) >> 8n,
    archEntryToPte: (e) => u32(e),
    pteToArchEntry: (pte) => lowOf(pte),
  },
  32,
)

// Low-word masks for the fast form.
const P = Number(_PAGE_PRESENT)
const PN = Number(_PAGE_PROTNONE)
const FILE = Number(_PAGE_FILE)
const TABLE = Number(_PAGE_TABLE)

/** Options of {@link createI386}. */
export interface I386Options {
  /** CONFIG_X86_PAE (HIGHMEM64G): 3-level, 64-bit ptes. */
  pae: boolean
  /**
   * CONFIG_HIGHPTE: user pte pages come from highmem (`__GFP_HIGHMEM` in
   * pte_alloc_one) and `pte_offset_map` kmaps them with KM_PTE0/KM_PTE1.
   * Needs HIGHMEM4G or HIGHMEM64G.
   */
  highpte: boolean
}

function pgtableOps(highpte: boolean, pae: boolean): ArchPgtable {
  return {
    highpte,
    pteOffsetMapKmaps: highpte,
    brokenPteAllocOneEarly: false,
    tagsPtePages: false,
    pgdPreallocPmds: pae ? 3 : 0,
    pteAllocOne(env: PgtableEnv): PteAllocation {
      // alloc_pages(GFP_KERNEL|__GFP_REPEAT [|__GFP_HIGHMEM]) + clear_highpage.
      // i386 leaves page->mapping and page->index alone: it has no hash table.
      const pfn = env.allocPage({ highmem: highpte })
      env.tables.attach(pfn)
      return { pfn, bootmem: false }
    },
    pteAllocOneKernel(env: PgtableEnv): PteAllocation {
      // Before mem_init the kernel's own tables come from bootmem
      // (one_page_table_init); afterwards __get_free_page, always lowmem.
      const bootmem = !env.memInitDone
      const pfn = bootmem ? env.bootmemAlloc() : env.allocPage({ highmem: false })
      env.tables.attach(pfn)
      return { pfn, bootmem }
    },
    pteFree(env: PgtableEnv, pfn: number): void {
      env.tables.detach(pfn)
      env.freePage(pfn)
    },
    pteFreeKernel(env: PgtableEnv, pfn: number): void {
      env.tables.detach(pfn)
      env.freePage(pfn)
    },
  }
}

const mmu = {
  kind: 'tlb' as const,
  create: (env: PgtableEnv) =>
    new PerCpuTlb(env, {
      PRESENT: P,
      USER: Number(_PAGE_USER),
      RW: Number(_PAGE_RW),
      ACCESSED: Number(_PAGE_ACCESSED),
      DIRTY: Number(_PAGE_DIRTY),
    }),
}

const common = {
  PAGE_SHIFT: 12,
  PAGE_SIZE: 0x1000n,
  PAGE_MASK: 0xfffff000n,
  BITS_PER_LONG: 32 as const,
  TASK_SIZE: 0xc0000000n,
  PAGE_OFFSET: 0xc0000000n,
  // PAGE_ALIGN(TASK_SIZE / 3), include/asm-i386/processor.h.
  TASK_UNMAPPED_BASE: 0x40000000n,
  PTE_PFN_SHIFT: 12,
  // The swap offset field is pte bits 8–31; sys_swapon allows one less.
  SWP_OFFSET_MAX: 0xffffffn,
  SWAP_MAXPAGES_LIMIT: 0xfffffen,
}

const shared = {
  YOUNG: Number(_PAGE_ACCESSED),
  DIRTY: Number(_PAGE_DIRTY),
  WRITE: Number(_PAGE_RW),
  swpLo: (type: number, offset: number) => ((type << 1) | (offset << 8)) >>> 0,
  swpHi: () => 0,
  swpType: (lo: number) => (lo >>> 1) & 0x1f,
  swpOffset: (lo: number) => lo >>> 8,
  pmdEntryLo: (pfn: number) => ((pfn << 12) | TABLE) >>> 0,
}

/** The 2-level layout. */
function twoLevel(highpte: boolean): Arch {
  const macros = {
    mkPte: (pfn: bigint, p: bigint) => u32((pfn << 12n) | p),
    ptePfn: (pte: bigint) => u32(pte) >> 12n,
    ptePresent: (pte: bigint) => (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0n,
    pteNone: (pte: bigint) => u32(pte) === 0n,
    pteFile: (pte: bigint) => (pte & _PAGE_FILE) !== 0n,
    pteYoung: (pte: bigint) => (pte & _PAGE_ACCESSED) !== 0n,
    pteDirty: (pte: bigint) => (pte & _PAGE_DIRTY) !== 0n,
    pteWrite: (pte: bigint) => (pte & _PAGE_RW) !== 0n,
    swpEntryToPte,
    pteToSwpEntry,
    // pgoff bits 0–4 go to pte bits 1–5, the rest to bits 8–31; bit 6 is _PAGE_FILE.
    pgoffToPte: (off: bigint) => u32(((off & 0x1fn) << 1n) | ((off >> 5n) << 8n) | _PAGE_FILE),
    pteToPgoff: (pte: bigint) => ((u32(pte) >> 1n) & 0x1fn) + ((u32(pte) >> 8n) << 5n),
    pgdIndex: (a: bigint) => Number((u32(a) >> 22n) & 1023n),
    pmdIndex: () => 0,
    pteIndex: (a: bigint) => Number((u32(a) >> 12n) & 1023n),
    swap,
  }
  const fast: PteCodec = {
    ...shared,
    words: 1,
    mkPteLo: (pfn, p) => ((pfn << 12) | p) >>> 0,
    mkPteHi: () => 0,
    pfn: (lo) => lo >>> 12,
    present: (lo) => (lo & (P | PN)) !== 0,
    none: (lo) => lo === 0,
    file: (lo) => (lo & FILE) !== 0,
    pgoffLo: (off) => (((off & 0x1f) << 1) | ((off >>> 5) << 8) | FILE) >>> 0,
    pgoffHi: () => 0,
    pgoff: (lo) => ((lo >>> 1) & 0x1f) + (lo >>> 8) * 32,
    pgdIndex: (a) => (a >>> 22) & 1023,
    pmdIndex: () => 0,
    pteIndex: (a) => (a >>> 12) & 1023,
    pmdEntryHi: () => 0,
    pmdPfn: (lo) => lo >>> 12,
    pgdEntryLo: () => 0,
    pgdEntryHi: () => 0,
    pgdPfn: () => -1,
  }
  return defineArch({
    name: 'i386',
    description: `i386 2-level (4 KB pages, 1024-entry pgd and pte pages${highpte ? ', HIGHPTE' : ''})`,
    geometry: {
      ...common,
      PGDIR_SHIFT: 22,
      PMD_SHIFT: 22,
      PTRS_PER_PGD: 1024,
      PTRS_PER_PMD: 1,
      PTRS_PER_PTE: 1024,
      levels: 2,
      PTE_BITS: 32,
      PMD_ENTRY_BITS: 32,
      PGD_ENTRY_BITS: 32,
      USER_PTRS_PER_PGD: 768,
      PTE_FILE_MAX_BITS: 29,
      MAX_PTE_PFN: 0xfffffn,
    },
    bits,
    prot,
    protectionMap,
    macros,
    fast,
    pgtable: pgtableOps(highpte, false),
    mmu,
    capabilities: { wordPtes: false, highpte, ptepToMmAddress: false, hashMmu: false },
  })
}

/** The PAE layout. */
function pae(highpte: boolean): Arch {
  const macros = {
    // pfn_pte: pte_high = pfn >> 20, pte_low = (pfn << 12) | prot, both 32-bit.
    mkPte: (pfn: bigint, p: bigint) => (u32(u32(pfn) >> 20n) << 32n) | u32((pfn << 12n) | p),
    ptePfn: (pte: bigint) => u32((lowOf(pte) >> 12n) | (highOf(pte) << 20n)),
    ptePresent: (pte: bigint) => (lowOf(pte) & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0n,
    pteNone: (pte: bigint) => lowOf(pte) === 0n && highOf(pte) === 0n,
    pteFile: (pte: bigint) => (lowOf(pte) & _PAGE_FILE) !== 0n,
    pteYoung: (pte: bigint) => (lowOf(pte) & _PAGE_ACCESSED) !== 0n,
    pteDirty: (pte: bigint) => (lowOf(pte) & _PAGE_DIRTY) !== 0n,
    pteWrite: (pte: bigint) => (lowOf(pte) & _PAGE_RW) !== 0n,
    swpEntryToPte,
    pteToSwpEntry,
    // The whole pgoff in pte_high, _PAGE_FILE alone in pte_low.
    pgoffToPte: (off: bigint) => (u32(off) << 32n) | _PAGE_FILE,
    pteToPgoff: (pte: bigint) => highOf(pte),
    pgdIndex: (a: bigint) => Number((u32(a) >> 30n) & 3n),
    pmdIndex: (a: bigint) => Number((u32(a) >> 21n) & 511n),
    pteIndex: (a: bigint) => Number((u32(a) >> 12n) & 511n),
    swap,
  }
  const fast: PteCodec = {
    ...shared,
    words: 2,
    mkPteLo: (pfn, p) => ((pfn << 12) | p) >>> 0,
    mkPteHi: (pfn) => pfn >>> 20,
    pfn: (lo, hi) => ((lo >>> 12) | (hi << 20)) >>> 0,
    present: (lo) => (lo & (P | PN)) !== 0,
    none: (lo, hi) => lo === 0 && hi === 0,
    file: (lo) => (lo & FILE) !== 0,
    pgoffLo: () => FILE,
    pgoffHi: (off) => off >>> 0,
    pgoff: (_lo, hi) => hi,
    pgdIndex: (a) => (a >>> 30) & 3,
    pmdIndex: (a) => (a >>> 21) & 511,
    pteIndex: (a) => (a >>> 12) & 511,
    pmdEntryHi: (pfn) => pfn >>> 20,
    pmdPfn: (lo, hi) => ((lo >>> 12) | (hi << 20)) >>> 0,
    // pgd_alloc stores each pmd as __pa(pmd) + 1 (the present bit).
    pgdEntryLo: (pfn) => ((pfn << 12) | 1) >>> 0,
    pgdEntryHi: (pfn) => pfn >>> 20,
    pgdPfn: (lo, hi) => ((lo >>> 12) | (hi << 20)) >>> 0,
  }
  return defineArch({
    name: 'i386-pae',
    description: `i386 PAE (3-level, 64-bit ptes as pte_low/pte_high${highpte ? ', HIGHPTE' : ''})`,
    geometry: {
      ...common,
      PGDIR_SHIFT: 30,
      PMD_SHIFT: 21,
      PTRS_PER_PGD: 4,
      PTRS_PER_PMD: 512,
      PTRS_PER_PTE: 512,
      levels: 3,
      PTE_BITS: 64,
      PMD_ENTRY_BITS: 64,
      PGD_ENTRY_BITS: 64,
      USER_PTRS_PER_PGD: 3,
      PTE_FILE_MAX_BITS: 32,
      // pte_pfn returns a 32-bit unsigned long: every 32-bit pfn round-trips
      // (the cpu itself addresses 36 bits, pfn 0xffffff).
      MAX_PTE_PFN: 0xffffffffn,
    },
    bits,
    prot,
    protectionMap,
    macros,
    fast,
    pgtable: pgtableOps(highpte, true),
    mmu,
    capabilities: { wordPtes: true, highpte, ptepToMmAddress: false, hashMmu: false },
  })
}

/** Build an i386 layout with the given configuration. */
export function createI386(opts: I386Options): Arch {
  return opts.pae ? pae(opts.highpte) : twoLevel(opts.highpte)
}

/** i386 2-level, as most 2004 desktops ran it (no HIGHPTE). */
export const i386: Arch = createI386({ pae: false, highpte: false })

/** i386 PAE with HIGHPTE (CONFIG_HIGHMEM64G + CONFIG_HIGHPTE): user pte pages in highmem. */
export const i386Pae: Arch = createI386({ pae: true, highpte: true })
