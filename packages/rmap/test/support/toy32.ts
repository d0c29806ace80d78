/**
 * A copy of examples/arch-toy32 for the core's own tests, which cannot depend
 * on an arch package (the arch packages depend on the core).
 *
 * toy32: a teaching page-table layout, written the way a third party writes an
 * rmaplab arch package — against the public API of `@rmaplab/rmap` only.
 *
 * It is not a Linux 2.6 layout. It borrows its pte format from RISC-V Sv32
 * (pfn at bit 10, separate R/W/X bits, hardware A/D bits) and keeps i386's
 * geometry (2 levels, 1024-entry tables, 4 KB pages), so a class can compare a
 * pfn-at-bit-10 encoding with i386's pfn-at-bit-12 one under the same suite.
 *
 * The software bits and the swap and file encodings are this package's own
 * choice, made so that present, swap and file ptes can never be confused:
 *
 * | bits  | present pte | swap pte          | file pte        |
 * |-------|-------------|-------------------|-----------------|
 * | 0     | V = 1       | 0                 | 0               |
 * | 1–5   | R W X U G   | swap type         | 0               |
 * | 6–7   | A D         | 0                 | 0               |
 * | 8     | PROTNONE    | 0                 | 0               |
 * | 9     | 0           | 0                 | FILE = 1        |
 * | 10–31 | pfn         | swap offset       | pgoff           |
 */
import {
  type Arch,
  type ArchPgtable,
  defineArch,
  PerCpuTlb,
  type PgtableEnv,
  type PteCodec,
  trunc,
  withGenericSwap,
} from '../../src/index.js'

const _PAGE_PRESENT = 0x001n // V
const _PAGE_READ = 0x002n // R
const _PAGE_RW = 0x004n // W
const _PAGE_EXEC = 0x008n // X
const _PAGE_USER = 0x010n // U
const _PAGE_GLOBAL = 0x020n // G
const _PAGE_ACCESSED = 0x040n // A
const _PAGE_DIRTY = 0x080n // D
const _PAGE_PROTNONE = 0x100n // software: a PROT_NONE mapping, present to the VM, invalid to the MMU
const _PAGE_FILE = 0x200n // software: nonlinear file pte (only when not present)
const PFN_SHIFT = 10n

const PAGE_NONE = _PAGE_PROTNONE | _PAGE_ACCESSED
const PAGE_READONLY = _PAGE_PRESENT | _PAGE_READ | _PAGE_USER | _PAGE_ACCESSED
const PAGE_COPY = PAGE_READONLY
const PAGE_SHARED = PAGE_READONLY | _PAGE_RW
const PAGE_KERNEL = _PAGE_PRESENT | _PAGE_READ | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_GLOBAL
const PAGE_READONLY_X = PAGE_READONLY | _PAGE_EXEC
const PAGE_SHARED_X = PAGE_SHARED | _PAGE_EXEC
const PAGE_COPY_X = PAGE_READONLY_X

const u32 = (x: bigint): bigint => trunc(x, 32)

/** Swap entries: the arch entry is the pte itself; the core adds the generic swp_entry_t. */
const { swap, swpEntryToPte, pteToSwpEntry } = withGenericSwap(
  {
    archEntry: (type, offset) => u32((BigInt(type & 0x1f) << 1n) | (offset << PFN_SHIFT)),
    archType: (e) => Number((e >> 1n) & 0x1fn),
    archOffset: (e) => u32(e) >> PFN_SHIFT,
    archEntryToPte: (e) => u32(e),
    pteToArchEntry: (pte) => u32(pte),
  },
  32,
)

const macros = {
  mkPte: (pfn: bigint, prot: bigint) => u32((pfn << PFN_SHIFT) | prot),
  ptePfn: (pte: bigint) => u32(pte) >> PFN_SHIFT,
  ptePresent: (pte: bigint) => (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0n,
  pteNone: (pte: bigint) => u32(pte) === 0n,
  pteFile: (pte: bigint) => (pte & _PAGE_FILE) !== 0n,
  pteYoung: (pte: bigint) => (pte & _PAGE_ACCESSED) !== 0n,
  pteDirty: (pte: bigint) => (pte & _PAGE_DIRTY) !== 0n,
  pteWrite: (pte: bigint) => (pte & _PAGE_RW) !== 0n,
  swpEntryToPte,
  pteToSwpEntry,
  pgoffToPte: (off: bigint) => u32((off << PFN_SHIFT) | _PAGE_FILE),
  pteToPgoff: (pte: bigint) => u32(pte) >> PFN_SHIFT,
  pgdIndex: (a: bigint) => Number((u32(a) >> 22n) & 1023n),
  pmdIndex: () => 0,
  pteIndex: (a: bigint) => Number((u32(a) >> 12n) & 1023n),
  swap,
}

const V = Number(_PAGE_PRESENT)
const PN = Number(_PAGE_PROTNONE)
const F = Number(_PAGE_FILE)
// A pmd entry (the pgd slot) points at a pte page: V alone, as Sv32's non-leaf entries.
const fast: PteCodec = {
  words: 1,
  YOUNG: Number(_PAGE_ACCESSED),
  DIRTY: Number(_PAGE_DIRTY),
  WRITE: Number(_PAGE_RW),
  mkPteLo: (pfn, prot) => ((pfn << 10) | prot) >>> 0,
  mkPteHi: () => 0,
  pfn: (lo) => lo >>> 10,
  present: (lo) => (lo & (V | PN)) !== 0,
  none: (lo) => lo === 0,
  file: (lo) => (lo & F) !== 0,
  swpLo: (type, offset) => (((type & 0x1f) << 1) | (offset << 10)) >>> 0,
  swpHi: () => 0,
  swpType: (lo) => (lo >>> 1) & 0x1f,
  swpOffset: (lo) => lo >>> 10,
  pgoffLo: (off) => ((off << 10) | F) >>> 0,
  pgoffHi: () => 0,
  pgoff: (lo) => lo >>> 10,
  pgdIndex: (a) => (a >>> 22) & 1023,
  pmdIndex: () => 0,
  pteIndex: (a) => (a >>> 12) & 1023,
  pmdEntryLo: (pfn) => ((pfn << 10) | V) >>> 0,
  pmdEntryHi: () => 0,
  pmdPfn: (lo) => lo >>> 10,
  pgdEntryLo: () => 0,
  pgdEntryHi: () => 0,
  pgdPfn: () => -1,
}

const pgtable: ArchPgtable = {
  highpte: false,
  pteOffsetMapKmaps: false,
  brokenPteAllocOneEarly: false,
  tagsPtePages: false,
  pgdPreallocPmds: 0,
  pteAllocOne(env: PgtableEnv) {
    const pfn = env.allocPage({ highmem: false })
    env.tables.attach(pfn)
    return { pfn, bootmem: false }
  },
  pteAllocOneKernel(env: PgtableEnv) {
    const bootmem = !env.memInitDone
    const pfn = bootmem ? env.bootmemAlloc() : env.allocPage({ highmem: false })
    env.tables.attach(pfn)
    return { pfn, bootmem }
  },
  pteFree(env: PgtableEnv, pfn: number) {
    env.tables.detach(pfn)
    env.freePage(pfn)
  },
  pteFreeKernel(env: PgtableEnv, pfn: number) {
    env.tables.detach(pfn)
    env.freePage(pfn)
  },
}

/** The toy32 layout. */
export const toy32: Arch = defineArch({
  name: 'toy32',
  description: 'toy32 teaching layout (2-level, Sv32-style pte with the pfn at bit 10)',
  geometry: {
    PAGE_SHIFT: 12,
    PAGE_SIZE: 0x1000n,
    PAGE_MASK: 0xfffff000n,
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
    PAGE_OFFSET: 0x80000000n,
    USER_PTRS_PER_PGD: 512,
    PTE_FILE_MAX_BITS: 22,
    PTE_PFN_SHIFT: 10,
    MAX_PTE_PFN: 0x3fffffn,
    SWP_OFFSET_MAX: 0x3fffffn,
    SWAP_MAXPAGES_LIMIT: 0x3ffffen,
  },
  bits: {
    _PAGE_PRESENT,
    _PAGE_READ,
    _PAGE_RW,
    _PAGE_EXEC,
    _PAGE_USER,
    _PAGE_GLOBAL,
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PROTNONE,
    _PAGE_FILE,
  },
  prot: {
    PAGE_NONE,
    PAGE_SHARED,
    PAGE_COPY,
    PAGE_READONLY,
    PAGE_KERNEL,
    PAGE_READONLY_X,
    PAGE_COPY_X,
    PAGE_SHARED_X,
  },
  protectionMap: {
    private: [
      PAGE_NONE,
      PAGE_READONLY,
      PAGE_COPY,
      PAGE_COPY,
      PAGE_READONLY_X,
      PAGE_READONLY_X,
      PAGE_COPY_X,
      PAGE_COPY_X,
    ],
    shared: [
      PAGE_NONE,
      PAGE_READONLY,
      PAGE_SHARED,
      PAGE_SHARED,
      PAGE_READONLY_X,
      PAGE_READONLY_X,
      PAGE_SHARED_X,
      PAGE_SHARED_X,
    ],
  },
  macros,
  fast,
  pgtable,
  mmu: {
    kind: 'tlb',
    create: (env) =>
      new PerCpuTlb(env, {
        PRESENT: V,
        USER: Number(_PAGE_USER),
        RW: Number(_PAGE_RW),
        ACCESSED: Number(_PAGE_ACCESSED),
        DIRTY: Number(_PAGE_DIRTY),
      }),
  },
  capabilities: { wordPtes: false, highpte: false, ptepToMmAddress: false, hashMmu: false },
})
