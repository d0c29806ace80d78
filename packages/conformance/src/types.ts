/**
 * Types of the conformance suite: the fixture format (the published vector
 * files, plus the facts the vectors do not carry), the options of
 * {@link describeArchConformance}, and the entries of the capability manifest.
 */
import type { KernelProfile, RmapDesignName } from '@rmaplab/rmap'

/** A hex string such as `"0x1000"`: every big number in the vector files. */
export type Hex = string

/** One `mk_pte` row: `pfn_pte(pfn, prot)` and what the pte predicates say of it. */
export interface MkPteRow {
  readonly pfn: Hex
  /** The protection's kernel name, e.g. `"PAGE_COPY"`. */
  readonly prot: string
  readonly prot_val: Hex
  readonly pte: Hex
  /** PAE only: the low and high words of the pte. */
  readonly pte_low?: Hex
  readonly pte_high?: Hex
  /** `pte_pfn(pte)`; differs from `pfn` on rows past the largest pfn (C truncation). */
  readonly pfn_back: Hex
  readonly present: boolean
  readonly young: boolean
  readonly dirty: boolean
  readonly write: boolean
}

/** A swap entry as the vector files write it. */
export interface SwpPair {
  readonly type: number
  readonly offset: Hex
}

/** One `swp` row: every intermediate of `swp_entry_to_pte` and back. */
export interface SwpRow {
  readonly type: number
  readonly offset: Hex
  /** `__swp_entry(type, offset).val`. */
  readonly arch_entry: Hex
  /** The arch-independent `swp_entry(type, offset).val`. */
  readonly generic_val: Hex
  readonly pte: Hex
  /** `__swp_type`/`__swp_offset` of `__pte_to_swp_entry(pte)`. */
  readonly back: SwpPair
  /** `swp_type`/`swp_offset` of `pte_to_swp_entry(pte)`. */
  readonly generic_back: SwpPair
  readonly present: boolean
  readonly file: boolean
  readonly none: boolean
}

/** One `pgoff` row: a nonlinear file pte. */
export interface PgoffRow {
  readonly pgoff: Hex
  readonly pte: Hex
  readonly back: Hex
  readonly present: boolean
  readonly file: boolean
}

/** One `index` row. */
export interface IndexRow {
  readonly addr: Hex
  readonly pgd: number
  readonly pmd: number
  readonly pte: number
}

/** One `ptep_to_address` row; arch-specific formula columns are extra keys. */
export interface PtepRow {
  readonly addr: Hex
  readonly page_index: Hex
  readonly byte_offset: Hex
  readonly generic_2_6_5: Hex
  readonly generic_2_6_6: Hex
  readonly [column: string]: Hex
}

/**
 * A vector file exactly as `packages/conformance/src/fixtures/<arch>.ts` publishes it
 * (docs/layouts.md#the-test-vectors). Rows past a limit are kept on purpose: they show
 * the C truncation, so `back` differs from the input there.
 */
export interface VectorFile {
  readonly arch: string
  readonly variant?: string
  readonly subset?: string
  readonly source?: string
  readonly kernel_versions_checked?: readonly string[]
  readonly notes?: readonly string[]
  readonly constants: Readonly<Record<string, number | Hex>>
  readonly bits: Readonly<Record<string, Hex>>
  readonly prot: Readonly<Record<string, Hex>>
  readonly mk_pte: readonly MkPteRow[]
  readonly swp: readonly SwpRow[]
  readonly pgoff: readonly PgoffRow[]
  readonly index: readonly IndexRow[]
  readonly ptep_to_address: readonly PtepRow[]
}

/** An upper-level entry as `(pfn << shift) | flags`. */
export interface EntryFormat {
  readonly shift: number
  readonly flags: Hex
}

/**
 * Facts of a layout that the vector files do not carry, taken from the prose of
 * the facts document. Optional in a third party's fixture: the checks that need
 * one are then reported as not applicable.
 */
export interface ArchFacts {
  /** The document the facts come from, cited in test names (e.g. `"docs/layouts.md"`). */
  readonly doc: string
  /** Its section for this layout (e.g. `"#i386"`, an anchor of that page). */
  readonly section: string
  readonly BITS_PER_LONG: 32 | 64
  readonly levels: 2 | 3
  readonly PMD_ENTRY_BITS: 32 | 64
  readonly PGD_ENTRY_BITS: 32 | 64
  /** Bit position of the pfn in a pte. */
  readonly PTE_PFN_SHIFT: number
  /** Largest pfn a pte holds without truncation. */
  readonly MAX_PTE_PFN: Hex
  /** Largest swap offset the pte encoding holds. */
  readonly SWP_OFFSET_MAX: Hex
  /** `protection_map` by prot name, indexed by VM_READ|VM_WRITE|VM_EXEC. */
  readonly protectionMap: { readonly private: readonly string[]; readonly shared: readonly string[] }
  /** Bits `pte_none` ignores (ppc HASHPTE, ppc64 HPTEFLAGS; 0 elsewhere). */
  readonly pteNoneIgnores: Hex
  /** What `pmd_populate` writes for a pte page (the pgd slot when folded). */
  readonly pmdEntry: EntryFormat
  /** What a pgd entry pointing to a pmd page holds (3-level layouts). */
  readonly pgdEntry?: EntryFormat
  /** The MMU cache: a per-cpu TLB or a hashed page table. */
  readonly mmu: 'tlb' | 'hash'
  /** Whether pte pages carry (mm, address) for the hash flush. */
  readonly tagsPtePages: boolean
  /** BROKEN_PPC_PTE_ALLOC_ONE: the early-boot rule of asm-ppc*\/rmap.h. */
  readonly brokenPteAllocOneEarly: boolean
  /** pmd pages `pgd_alloc` allocates with every pgd. */
  readonly pgdPreallocPmds: number
}

/** What the suite checks a layout against: the vector file plus the prose facts. */
export interface ArchFixture extends VectorFile {
  readonly facts?: ArchFacts
}

/**
 * A known gap of one arch: the reason, shown in the test name, and whether the
 * check is run as an expected failure (`'fail'`, the default: it must keep
 * failing, so a fix is noticed) or not run at all (`'skip'`).
 */
export type Expectation = string | { readonly reason: string; readonly mode?: 'fail' | 'skip' }

/** Options of {@link describeArchConformance}. */
export interface ConformanceOptions {
  /** Vector rows and facts for an arch the suite does not ship (same shape as the JSON files). */
  readonly fixtures?: ArchFixture | VectorFile
  /** Known gaps: check id → reason (the Web Platform Tests way). */
  readonly expectations?: Readonly<Record<string, Expectation>>
  /** Runs per property test (fast-check `numRuns`); default 100. */
  readonly numRuns?: number
  /**
   * fast-check seed for every property test, to replay a failure exactly (the
   * failing seed is printed in the error). Default: a fresh seed per run.
   */
  readonly seed?: number
  /**
   * Kernel profiles to run the page-table checks (and the profile-dependent VM
   * checks) under; default every profile the arch supports. The other VM checks
   * run under the first of them.
   */
  readonly profiles?: readonly KernelProfile[]
  /** Title of the top-level describe block; default the arch's name (`<name>/<design>` for a design other than objrmap). */
  readonly label?: string
  /**
   * The reverse-mapping design the whole-VM checks run under (the Machine's
   * `rmap` option); default `'objrmap'`. The checks expect each design's own
   * answers where the designs differ by construction (where an anonymous page
   * points, anon_vma objects, page->index, a moved vma's vm_pgoff, anonmm's
   * copies on mremap, what a walk visits, the pte_chain slab frame). Under a
   * design other than objrmap only the whole-VM layer runs: the other layers
   * do not depend on the design.
   */
  readonly rmap?: RmapDesignName
  /**
   * {@link runConformance} only: run just these checks, by id (`vm.c1`) or, for a
   * check run once per profile, by its base id (`pt.alloc` names every
   * `pt.alloc[<profile>]`); the others are left out of the result. An id that
   * names no check throws a `RangeError`. Default: every check.
   */
  readonly only?: readonly string[]
}

/**
 * The layers of the suite: (a) geometry and encodings; (b) page-table pages and
 * the MMU cache; (c) the whole VM (the acceptance scenarios); and the meta check.
 */
export type Layer = 'geometry and encodings' | 'page-table pages' | 'MMU cache' | 'whole VM' | 'meta'

/** One entry of the capability manifest: a check and whether it applies to the arch. */
export interface ConformanceCheck {
  /** Stable id, e.g. `enc.mkpte.vectors` or `pt.count.user[2.6.4]`. */
  readonly id: string
  readonly layer: Layer
  /** The kernel fact it checks, e.g. `docs/layouts.md#i386 pfn placement`. */
  readonly cite: string
  /** What it checks, in words. */
  readonly title: string
  /** The full vitest test name: `<id>: [<cite>] <title>`. */
  readonly name: string
  /** False when a capability, a fixture or a profile is missing. */
  readonly applicable: boolean
  /** Why it does not apply. */
  readonly reason?: string
  /** The known gap recorded for it, if any. */
  readonly expectation?: { readonly reason: string; readonly mode: 'fail' | 'skip' }
}
