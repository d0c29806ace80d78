/**
 * The environment an arch's page-table code runs in: page frames with the
 * `struct page` fields page tables use (`mapping`, `index`), the storage of
 * page-table pages as raw words, per-cpu `page_state`, kmap slots, the current
 * cpu, the boot stage, and the MMU cache.
 *
 * {@link PageTableEnv} is the reference implementation used by the conformance
 * suite and by the VM model; an arch only sees the {@link PgtableEnv} interface.
 */
import { BUG } from '../bugs.js'
import { ArchLimitError, KernelBugError, OutOfMemoryError } from '../errors.js'
import { NO_MAPPING, PageFrames, PG, PG_PAGETABLE } from '../mm/page.js'
import { KmapAtomic } from './highmem.js'
import type { MmuCache } from './mmu.js'
import { PageState } from './percpu.js'
import type { Arch } from './types.js'

/**
 * Which kernel's rules are in force where kernels differ.
 *
 * - `'2.6.5-aa'` (default): Andrea's objrmap + anon_vma tree. User pte pages are
 *   counted in `pte_alloc_map` only; ppc/ppc64 pte pages are tagged by the arch's
 *   `pte_alloc_one*` as 2.6.7 does (how that tree tagged them is not verified,
 *   docs/layouts.md#open-points).
 * - `'2.6.7'`: mainline after rmap 12 (`29024c89…`): the same accounting.
 * - `'2.6.4'`: mainline with pte_chains (also 2.6.5 and 2.6.6 mainline): the
 *   generic `pgtable_add_rmap` tags and counts every pte page, kernel ones too,
 *   except on ppc/ppc64 before `mem_init_done`; kmap slot KM_PTE2 exists.
 */
export type KernelProfile = '2.6.5-aa' | '2.6.7' | '2.6.4'

/** Every profile, default first. */
export const KERNEL_PROFILES: readonly KernelProfile[] = ['2.6.5-aa', '2.6.7', '2.6.4']

/** The rules a profile switches, as data. */
export interface ProfileRules {
  /** `pgtable_add_rmap`/`pgtable_remove_rmap` run from mm/memory.c (pte_chain kernels). */
  readonly pgtableRmap: boolean
  /** `pte_alloc_kernel` counts kernel pte pages in nr_page_table_pages. */
  readonly countsKernelPteTables: boolean
  /** ppc/ppc64 `pte_alloc_one*` set page->mapping and page->index themselves. */
  readonly archTagsPtePages: boolean
  /** The kmap slot KM_PTE2 of the pte_chain code exists. */
  readonly kmPte2: boolean
  /**
   * `pte_alloc_map`/`free_one_pmd` count user pte pages in nr_page_table_pages
   * (true in every kernel; false only with the re-introduced `pagetables-0kb` bug).
   */
  readonly countsUserPteTables: boolean
}

/** The rules of a profile. */
export function profileRules(profile: KernelProfile): ProfileRules {
  switch (profile) {
    case '2.6.4':
      return {
        pgtableRmap: true,
        countsKernelPteTables: true,
        archTagsPtePages: false,
        kmPte2: true,
        countsUserPteTables: true,
      }
    case '2.6.5-aa':
    case '2.6.7':
      return {
        pgtableRmap: false,
        countsKernelPteTables: false,
        archTagsPtePages: true,
        kmPte2: false,
        countsUserPteTables: true,
      }
    default:
      throw new RangeError(`unknown kernel profile ${String(profile)}; valid: ${KERNEL_PROFILES.join(', ')}`)
  }
}

/**
 * The rules of a profile with re-introduced bugs (bugs.ts) applied:
 * `pagetables-0kb` and `ppc-no-pgtable-rmap` are the 2.6.5-rc1-aa1 tree with
 * the pgtable rmap deleted (no pgtable_add_rmap, so no count in it, and, for
 * the second, no arch tagging of pte pages either); `ppc-early-pte-count`
 * counts kernel pte pages in pte_alloc_kernel.
 */
export function rulesWithBugs(rules: ProfileRules, bugs: number): ProfileRules {
  if ((bugs & (BUG.pagetables0kb | BUG.ppcNoPgtableRmap | BUG.ppcEarlyPteCount)) === 0) return rules
  const r: { -readonly [K in keyof ProfileRules]: ProfileRules[K] } = { ...rules }
  if (bugs & BUG.pagetables0kb) {
    r.pgtableRmap = false
    r.archTagsPtePages = true
    r.countsUserPteTables = false
    r.countsKernelPteTables = false
  }
  if (bugs & BUG.ppcNoPgtableRmap) {
    r.pgtableRmap = false
    r.archTagsPtePages = false
  }
  if (bugs & BUG.ppcEarlyPteCount) r.countsKernelPteTables = true
  return r
}

/**
 * Boot stages that matter to page tables: before the per-cpu areas exist
 * (`setup_arch`, where ppc's `MMU_init` maps RAM), after `setup_per_cpu_areas`,
 * and after `mem_init` sets `mem_init_done`.
 */
export const BOOT = { setupArch: 0, perCpuReady: 1, memInitDone: 2 } as const
/** A boot stage. */
export type BootStage = (typeof BOOT)[keyof typeof BOOT]

/** Page-allocation flags that matter here. */
export interface Gfp {
  /** `__GFP_HIGHMEM`: the page may come from highmem. */
  readonly highmem: boolean
}

/** A memory zone: a range of pfns with its own free list. */
export interface Zone {
  /** `'DMA'`, `'Normal'` or `'HighMem'`, as /proc/zoneinfo names them. */
  readonly name: 'DMA' | 'Normal' | 'HighMem'
  /** First pfn. */
  readonly start: number
  /** One past the last pfn. */
  readonly end: number
}

/** The mm of the kernel's own page tables (init_mm); user mms are 1, 2, ... */
export const INIT_MM = 0
export { NO_MAPPING }

/**
 * Page-table pages the store reserves room for when it is made (4 GiB of
 * words): see {@link PageTableStore}.
 */
const RESERVE_PAGES = 1 << 20
/** Page-table pages of a new store's first array. */
const FIRST_PAGES = 16
/** Up to this many page-table pages (1 MiB of words at 4 KiB pages) the array grows by doubling. */
const DOUBLE_PAGES = 256

/**
 * Page-table pages stored as raw words. Every page-table page (pgd, pmd or pte
 * page) gets PAGE_SIZE/4 words of one Uint32Array, found through a pfn →
 * slot table. The words are in the arch's encoding, little end first for
 * 64-bit entries (lo, hi).
 *
 * The array starts small ({@link FIRST_PAGES} pages) and doubles while it is
 * small (most machines never need more than {@link DOUBLE_PAGES} pages); past
 * that it is replaced once by one sized for every frame being a page table
 * (up to {@link RESERVE_PAGES} pages): a zero-filled ArrayBuffer is calloc'ed
 * memory that the host maps on first touch, so a slot costs resident memory
 * only once a table is written there, and the store does not copy itself
 * again as it fills (a doubling array copied on every growth was most of a
 * large fork's time, and the old copy alive during the growth set the peak
 * memory of many-process runs). Only a machine with more frames than that, or
 * a host that refuses the reservation, goes on doubling.
 */
export class PageTableStore {
  /** Words per page-table page. */
  readonly wordsPerPage: number
  /** The words of every page-table page; replaced only when a store outgrows its reservation. */
  words: Uint32Array
  /**
   * The frames: a page-table page is marked PG_PAGETABLE and its content word
   * holds its slot here (a page table has no user content), so finding a
   * table's words costs no per-frame array of its own.
   */
  readonly frames: PageFrames
  /**
   * Page-table pages detached so far. A pte location found by a walk stays
   * valid while this is unchanged (the pgd → pmd → pte links change only by
   * filling an empty entry or by freeing a table), so a sequential caller
   * that walked once may skip a second walk of the same address.
   */
  freed = 0
  private readonly freeSlots: number[] = []
  private nextSlot = 0
  /** Page-table pages to make room for at the first growth. */
  private readonly reserve: number
  /** log2(PTRS_PER_PTE): a pte location (pfn * PTRS_PER_PTE + index) shifted right by it is its pte page. */
  private ptrShift: number
  /** PTRS_PER_PTE - 1: the index part of a pte location. */
  private ptrMask: number
  /** log2(32-bit words per pte). */
  private pteWordShift = 0

  /**
   * A store over `frames` (or over a fresh set of `frames` frames), with room
   * for `reserve` page-table pages before it grows (tests make it small).
   */
  constructor(frames: PageFrames | number, pageSize = 4096, reserve = RESERVE_PAGES) {
    this.wordsPerPage = pageSize >>> 2
    this.frames = typeof frames === 'number' ? new PageFrames(frames) : frames
    this.reserve = Math.max(16, Math.min(this.frames.n, reserve))
    this.words = new Uint32Array(this.wordsPerPage * Math.min(this.reserve, FIRST_PAGES))
    this.ptrShift = 31 - Math.clz32(this.wordsPerPage)
    this.ptrMask = this.wordsPerPage - 1
  }

  /**
   * Set how pte locations map to words: `ptrsPerPte` ptes of `words` 32-bit
   * words per pte page (PageTableEnv does this for its layout; the default
   * is one-word ptes filling the page). Both are powers of two, and every pte
   * location of the frames fits 32 bits, so the hot paths find a pte's page
   * and word with a shift and a mask.
   */
  setPteGeometry(ptrsPerPte: number, words: 1 | 2): void {
    if (!Number.isInteger(ptrsPerPte) || ptrsPerPte < 1 || (ptrsPerPte & (ptrsPerPte - 1)) !== 0) {
      throw new RangeError(`PageTableStore: PTRS_PER_PTE must be a power of two, got ${ptrsPerPte}`)
    }
    if (ptrsPerPte * words > this.wordsPerPage) {
      throw new RangeError(
        `PageTableStore: ${ptrsPerPte} ptes of ${words} word(s) do not fit a page of ${this.wordsPerPage} words`,
      )
    }
    if (this.frames.n * ptrsPerPte > 2 ** 32) {
      throw new RangeError(
        `PageTableStore: ${this.frames.n} frames of ${ptrsPerPte} ptes need pte locations past 2^32`,
      )
    }
    this.ptrShift = 31 - Math.clz32(ptrsPerPte)
    this.ptrMask = ptrsPerPte - 1
    this.pteWordShift = words === 2 ? 1 : 0
  }

  /** The pte page of pte location `ptr` (`ptr / PTRS_PER_PTE`). */
  ptePfn(ptr: number): number {
    return ptr >>> this.ptrShift
  }

  /**
   * Word offset of the pte at location `ptr`: its page's first word plus the
   * index's words. A location whose page is not a page table is a kernel BUG,
   * as in {@link base}.
   */
  pteWord(ptr: number): number {
    return this.base(ptr >>> this.ptrShift) + ((ptr & this.ptrMask) << this.pteWordShift)
  }

  /** Make `pfn` a page-table page, zero-filled (`clear_page`). */
  attach(pfn: number): void {
    const f = this.frames
    if (f.test(pfn, PG_PAGETABLE)) {
      throw new KernelBugError('page-table page attached twice', 'pgtable store', `pfn ${pfn}`)
    }
    let slot = this.freeSlots.pop()
    if (slot === undefined) {
      // A slot never used before is still zero: not touched until written.
      slot = this.nextSlot++
      const need = (slot + 1) * this.wordsPerPage
      if (need > this.words.length) this.grow(need)
    } else {
      this.words.fill(0, slot * this.wordsPerPage, (slot + 1) * this.wordsPerPage)
    }
    f.set(pfn, PG_PAGETABLE)
    f.content[pfn] = slot
  }

  /** Replace the array by one of at least `need` words: doublings while small, then the reservation, then doublings. */
  private grow(need: number): void {
    const wpp = this.wordsPerPage
    const len = this.words.length
    const reserved = this.reserve * wpp
    const grown =
      len < DOUBLE_PAGES * wpp || len >= reserved || need > reserved
        ? new Uint32Array(Math.max(need, len * 2))
        : reserveWords(wpp, this.reserve, need)
    grown.set(this.words)
    this.words = grown
  }

  /** `pfn` is no longer a page-table page. */
  detach(pfn: number): void {
    const f = this.frames
    if (!f.test(pfn, PG_PAGETABLE)) {
      throw new KernelBugError('freeing a page that is not a page table', 'pgtable store', `pfn ${pfn}`)
    }
    f.clear(pfn, PG_PAGETABLE)
    this.freed++
    this.freeSlots.push(f.content[pfn]!)
    f.content[pfn] = 0
  }

  /** True when `pfn` holds a page table. */
  has(pfn: number): boolean {
    return pfn >= 0 && pfn < this.frames.n && this.frames.test(pfn, PG_PAGETABLE)
  }

  /** Word offset of the first word of page-table page `pfn`. */
  base(pfn: number): number {
    const f = this.frames
    if (!(pfn >= 0 && pfn < f.n && (f.flags[pfn]! & (1 << PG_PAGETABLE)) !== 0)) {
      throw new KernelBugError('access to a page that is not a page table', 'pgtable store', `pfn ${pfn}`)
    }
    return f.content[pfn]! * this.wordsPerPage
  }

  /** Number of page-table pages held. */
  get size(): number {
    return this.nextSlot - this.freeSlots.length
  }
}

/**
 * A zero-filled array of `pages` pages of `wordsPerPage` words, or of fewer
 * pages (never under `need` words) when the host refuses that much.
 */
function reserveWords(wordsPerPage: number, pages: number, need: number): Uint32Array {
  for (let p = pages; ; p >>>= 1) {
    const n = Math.max(need, wordsPerPage * p)
    try {
      return new Uint32Array(n)
    } catch (e) {
      if (n === need || !(e instanceof RangeError)) throw e
    }
  }
}

/** What an arch's page-table code may use. */
export interface PgtableEnv {
  /** The layout. */
  readonly arch: Arch
  /** The kernel whose rules apply. */
  readonly profile: KernelProfile
  /** The rules of that kernel (with the re-introduced bugs applied, see {@link rulesWithBugs}). */
  readonly rules: ProfileRules
  /** Re-introduced bugs, as a mask of `BUG` bits (bugs.ts); 0 is the fixed kernel. */
  readonly bugs: number
  /** Number of cpus. */
  readonly cpus: number
  /** The cpu the current code runs on (`smp_processor_id()`). */
  cpu: number
  /** Boot stage; see {@link BOOT}. */
  readonly bootStage: BootStage
  /** `mem_init_done` (ppc, ppc64): true once mem_init has run. */
  readonly memInitDone: boolean
  /** Per-cpu page_state. */
  readonly pageState: PageState
  /** kmap_atomic slots. */
  readonly kmap: KmapAtomic
  /** Page-table pages as raw words. */
  readonly tables: PageTableStore
  /** The MMU cache of this machine. */
  readonly mmu: MmuCache
  /** Allocate a page frame (buddy allocator); throws {@link OutOfMemoryError}. */
  allocPage(gfp: Gfp): number
  /** Free a page frame. */
  freePage(pfn: number): void
  /** A page from boot memory (bootmem), for page tables built before mem_init. */
  bootmemAlloc(): number
  /** True when `pfn` is in highmem. */
  isHighmem(pfn: number): boolean
  /** page->mapping of a page-table page: the owning mm, or {@link NO_MAPPING}. */
  pageMapping(pfn: number): number
  /** page->index of a page-table page: the base address it maps. */
  pageIndex(pfn: number): bigint
  /**
   * page->index as a number, for the MMU hot paths that must not allocate a
   * bigint (ppc64 `hpte_update`, ppc `flush_hash_one_pte`). Exact below 2^53,
   * i.e. for every user address; a kernel-region index (ppc64 0xC…) is rounded.
   */
  pageIndexNumber(pfn: number): number
  /** Set page->mapping and page->index (index as a bigint address). */
  setPageMapping(pfn: number, mm: number, index: bigint): void
  /** The pgd page of `mm` (init_mm is {@link INIT_MM}). */
  mmPgd(mm: number): number
  /** True while `mm` exists. */
  hasMm(mm: number): boolean
  /** mm->context: the MMU context id (ppc VSID base, i386 unused). */
  mmContext(mm: number): number
  /**
   * Called where the kernel runs with `page_table_lock` dropped to allocate a
   * page table (`pte_alloc_map`, `pte_alloc_kernel`), so a test can play the other
   * thread that populates the pmd meanwhile. The hook must leave `cpu` as it found it.
   */
  onPageTableLockDropped?: ((mm: number, address: bigint) => void) | undefined
}

/** Options of {@link PageTableEnv}. */
export interface PageTableEnvOptions {
  /** The layout. */
  arch: Arch
  /** Kernel profile (default `'2.6.5-aa'`). */
  profile?: KernelProfile
  /** Number of cpus (default 2). */
  cpus?: number
  /** Low-memory page frames (default 4096 = 16 MB). */
  lowmemPages?: number
  /** Highmem page frames (default 0; only i386 layouts have highmem). */
  highmemPages?: number
  /** Low frames that form ZONE_DMA (i386: the first 16 MB); default 0. */
  dmaPages?: number
  /** Boot stage to start in (default {@link BOOT.memInitDone}). */
  bootStage?: BootStage
  /** Re-introduced bugs, a mask of `BUG` bits (default 0: the fixed kernel; Machine's `bugs` option). */
  bugs?: number
  /** Check kmap pairing for lowmem pages too (default true; see highmem.ts). */
  strictKmap?: boolean
}

const MAX_MODEL_PAGES = 1 << 24
/** Frames kept at the top of lowmem for boot-time allocations (bootmem). */
const BOOTMEM_PAGES = 32

/**
 * A small, deterministic machine for page-table code: lowmem and highmem
 * frames with a lowest-pfn-first allocator per zone, bootmem carved from the top
 * of lowmem, and an mm table. The VM model builds on it.
 */
export class PageTableEnv implements PgtableEnv {
  readonly arch: Arch
  readonly profile: KernelProfile
  readonly rules: ProfileRules
  readonly bugs: number
  readonly cpus: number
  cpu = 0
  readonly pageState: PageState
  readonly kmap: KmapAtomic
  readonly tables: PageTableStore
  readonly mmu: MmuCache
  onPageTableLockDropped: ((mm: number, address: bigint) => void) | undefined = undefined
  /** Total page frames. */
  readonly totalPages: number
  /** First highmem pfn (== totalPages when there is no highmem). */
  readonly highmemStart: number
  /** The struct page of every frame. */
  readonly frames: PageFrames
  /** The zones, lowest first (empty ones left out). */
  readonly zones: readonly Zone[]
  /** Frames set aside for bootmem (the top of lowmem), never given to the page allocator. */
  readonly bootmemPages = BOOTMEM_PAGES
  private stage: BootStage
  /**
   * Free lists, one per zone: heads of lists linked through page->lru (lruNext),
   * lowest pfn first at boot, last freed first after that (LIFO, deterministic).
   */
  private readonly freeHead: Int32Array
  private readonly freeCount: Int32Array
  private bootmemNext: number
  private readonly pgds = new Map<number, number>()
  /** The pgd pfn by mm id (-1: none), the hot paths' copy of `pgds`: a typed array read, not a Map lookup, per walk. */
  private pgdOf = new Int32Array(64).fill(-1)
  /** mm->context by mm id, valid where `pgdOf` is: the hash MMUs read it for every HPTE they insert or flush. */
  private ctxOf = new Int32Array(64)
  private nextMm = 1

  constructor(opts: PageTableEnvOptions) {
    const { arch } = opts
    this.arch = arch
    this.profile = opts.profile ?? '2.6.5-aa'
    this.bugs = opts.bugs ?? 0
    this.rules = rulesWithBugs(profileRules(this.profile), this.bugs)
    this.cpus = opts.cpus ?? 2
    const low = opts.lowmemPages ?? 4096
    const high = opts.highmemPages ?? 0
    for (const [k, v] of [
      ['lowmemPages', low],
      ['highmemPages', high],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v > MAX_MODEL_PAGES) {
        throw new ArchLimitError(arch.name, 'PageTableEnv', k, `an integer in 0..${MAX_MODEL_PAGES}`, v)
      }
    }
    if (low < 64) throw new ArchLimitError(arch.name, 'PageTableEnv', 'lowmemPages', 'at least 64 pages', low)
    const dma = opts.dmaPages ?? 0
    if (!Number.isInteger(dma) || dma < 0 || dma > low - BOOTMEM_PAGES - 1) {
      throw new ArchLimitError(
        arch.name,
        'PageTableEnv',
        'dmaPages',
        `an integer in 0..${low - BOOTMEM_PAGES - 1}`,
        dma,
      )
    }
    if (high > 0 && !arch.pgtable.highpte && arch.name !== 'i386' && arch.name !== 'i386-pae') {
      throw new ArchLimitError(arch.name, 'PageTableEnv', 'highmemPages', 'no highmem on this layout', high)
    }
    this.stage = opts.bootStage ?? BOOT.memInitDone
    this.totalPages = low + high
    this.highmemStart = low
    this.pageState = new PageState(this.cpus, arch.geometry.BITS_PER_LONG, this.stage >= BOOT.perCpuReady)
    this.kmap = new KmapAtomic(this.cpus, { strict: opts.strictKmap ?? true, ptechains: this.rules.kmPte2 })
    this.frames = new PageFrames(this.totalPages)
    this.tables = new PageTableStore(this.frames, Number(arch.geometry.PAGE_SIZE))
    this.tables.setPteGeometry(arch.geometry.PTRS_PER_PTE, arch.fast.words)
    const zones: Zone[] = []
    if (dma > 0) zones.push({ name: 'DMA', start: 0, end: dma })
    zones.push({ name: 'Normal', start: dma, end: low })
    if (high > 0) zones.push({ name: 'HighMem', start: low, end: this.totalPages })
    this.zones = zones
    // The top BOOTMEM_PAGES lowmem frames are bootmem, handed out top-down
    // before mem_init and never returned to the page allocator.
    this.bootmemNext = low - 1
    this.freeHead = new Int32Array(zones.length).fill(-1)
    this.freeCount = new Int32Array(zones.length)
    const f = this.frames
    zones.forEach((z, i) => {
      const top = z.end === low ? low - BOOTMEM_PAGES : z.end
      for (let p = z.end - 1; p >= z.start; p--) {
        f.setZone(p, i)
        if (z.name === 'HighMem') f.set(p, PG.highmem)
        if (p < top) this.pushFree(i, p)
      }
    })
    // swapper_pg_dir; on a layout whose pgd_alloc preallocates pmds, init_mm has
    // a pmd under every pgd entry, built at boot.
    this.setPgd(INIT_MM, this.pgdAlloc(arch.pgtable.pgdPreallocPmds > 0 ? arch.geometry.PTRS_PER_PGD : 0))
    this.ctxOf[INIT_MM] = 0
    this.mmu = arch.mmu.create(this)
  }

  get bootStage(): BootStage {
    return this.stage
  }

  get memInitDone(): boolean {
    return this.stage >= BOOT.memInitDone
  }

  /** Move boot forward (never back): per-cpu areas, then mem_init. */
  advanceBoot(stage: BootStage): void {
    if (stage < this.stage) throw new RangeError('boot stages only move forward')
    this.stage = stage
    if (stage >= BOOT.perCpuReady) this.pageState.ready = true
  }

  /**
   * `alloc_page(gfp)`: the lowest free pfn of the first zone of the zonelist
   * with one (GFP_HIGHUSER: HighMem, Normal, DMA; GFP_KERNEL: Normal, DMA). The
   * page comes back with count 1.
   */
  allocPage(gfp: Gfp): number {
    const pfn = this.tryAllocPage(gfp)
    if (pfn < 0) throw new OutOfMemoryError(`${this.arch.name}: out of page frames`)
    return pfn
  }

  /** As {@link allocPage}, but -1 instead of throwing when every zone is empty. */
  tryAllocPage(gfp: Gfp): number {
    for (let i = this.zones.length - 1; i >= 0; i--) {
      if (!gfp.highmem && this.zones[i]!.name === 'HighMem') continue
      const pfn = this.freeHead[i]!
      if (pfn >= 0) {
        const f = this.frames
        this.freeHead[i] = f.lruNext[pfn]!
        this.freeCount[i]!--
        f.lruNext[pfn] = -1
        f.count[pfn] = 1
        return pfn
      }
    }
    return -1
  }

  /** nr_free_pages(): free frames in every zone (no allocation; reclaim's watermark check). */
  nrFreePages(): number {
    let n = 0
    for (let i = 0; i < this.freeCount.length; i++) n += this.freeCount[i]!
    return n
  }

  /** Free frames per zone, in zone order. */
  freePagesPerZone(): number[] {
    return Array.from(this.freeCount)
  }

  private pushFree(zone: number, pfn: number): void {
    this.frames.lruNext[pfn] = this.freeHead[zone]!
    this.freeHead[zone] = pfn
    this.freeCount[zone]!++
  }

  /** The zone a pfn belongs to. */
  zoneOfPfn(pfn: number): Zone {
    return this.zones[this.frames.zone(pfn)]!
  }

  /**
   * `__free_page`: drop a reference; at zero the frame goes back to its zone.
   * The checks are free_pages_check's: a freed page is unmapped and has no
   * mapping.
   */
  freePage(pfn: number): void {
    const f = this.frames
    if (f.count[pfn]! <= 0) {
      throw new KernelBugError(
        'put_page_testzero: page count already 0',
        'include/linux/mm.h put_page_testzero',
        `pfn ${pfn}`,
      )
    }
    if (--f.count[pfn]! > 0) return
    if (f.mapping[pfn] !== NO_MAPPING || f.mapcount[pfn] !== 0) {
      f.count[pfn] = 1
      throw new KernelBugError(
        'freeing a page that is still mapped or has page->mapping set',
        'mm/page_alloc.c free_pages_check',
        `pfn ${pfn}, mapcount ${f.mapcount[pfn]}, mapping ${f.mapping[pfn]}`,
      )
    }
    f.reset(pfn)
    if (pfn < this.bootmemFloor || pfn >= this.highmemStart) this.pushFree(f.zone(pfn), pfn)
  }

  private get bootmemFloor(): number {
    return this.highmemStart - BOOTMEM_PAGES
  }

  bootmemAlloc(): number {
    if (this.memInitDone) {
      throw new KernelBugError('bootmem allocation after mem_init', 'mm/bootmem.c __alloc_bootmem')
    }
    if (this.bootmemNext < this.bootmemFloor) throw new OutOfMemoryError(`${this.arch.name}: out of bootmem`)
    const pfn = this.bootmemNext--
    this.frames.count[pfn] = 1
    this.frames.set(pfn, PG.reserved)
    return pfn
  }

  isHighmem(pfn: number): boolean {
    return pfn >= this.highmemStart
  }

  /** True when `pfn` is allocated. */
  isInUse(pfn: number): boolean {
    return this.frames.count[pfn]! > 0
  }

  /** Frames currently allocated (including bootmem and pgd pages). */
  get usedPages(): number {
    return (
      this.totalPages -
      this.bootmemPages -
      this.freePagesPerZone().reduce((a, b) => a + b, 0) +
      this.bootmemUsed
    )
  }

  /** Bootmem frames handed out so far. */
  get bootmemUsed(): number {
    return this.highmemStart - 1 - this.bootmemNext
  }

  pageMapping(pfn: number): number {
    return this.frames.mapping[pfn]!
  }

  pageIndex(pfn: number): bigint {
    return this.frames.tagIndex(pfn)
  }

  pageIndexNumber(pfn: number): number {
    return this.frames.tagIndexNumber(pfn)
  }

  setPageMapping(pfn: number, mm: number, index: bigint): void {
    this.frames.mapping[pfn] = mm
    this.frames.setTagIndex(pfn, index)
  }

  mmPgd(mm: number): number {
    if (mm >= 0 && mm < this.pgdOf.length) {
      const p = this.pgdOf[mm]!
      if (p >= 0) return p
    }
    const pgd = this.pgds.get(mm)
    if (pgd === undefined) throw new RangeError(`no mm ${mm}`)
    return pgd
  }

  hasMm(mm: number): boolean {
    return this.pgds.has(mm)
  }

  mmContext(mm: number): number {
    if (mm >= 0 && mm < this.pgdOf.length && this.pgdOf[mm]! >= 0) return this.ctxOf[mm]!
    throw new RangeError(`no mm ${mm}`)
  }

  /** Create an mm with an empty pgd (`mm_alloc` + `pgd_alloc`); returns its id. */
  mmCreate(): number {
    const mm = this.nextMm++
    this.setPgd(mm, this.pgdAlloc(this.arch.pgtable.pgdPreallocPmds))
    // Contexts are handed out in creation order, as ppc's mmu_context allocator does.
    this.ctxOf[mm] = mm
    return mm
  }

  /** Drop an mm whose page tables were already freed (`pgd_free`). */
  mmDestroy(mm: number): void {
    if (mm === INIT_MM) throw new RangeError('init_mm cannot be destroyed')
    const pgd = this.mmPgd(mm)
    const { fast } = this.arch
    const step = this.arch.geometry.PGD_ENTRY_BITS >>> 5
    const base = this.tables.base(pgd)
    for (let i = 0; i < this.arch.pgtable.pgdPreallocPmds; i++) {
      const w = this.tables.words
      const pmd = fast.pgdPfn(w[base + i * step]!, step === 2 ? w[base + i * step + 1]! : 0)
      this.tables.detach(pmd)
      this.freePage(pmd)
    }
    this.tables.detach(pgd)
    this.freePage(pgd)
    this.pgds.delete(mm)
    this.pgdOf[mm] = -1
    this.ctxOf[mm] = 0
  }

  private setPgd(mm: number, pgd: number): void {
    this.pgds.set(mm, pgd)
    if (mm >= this.pgdOf.length) {
      const grown = new Int32Array(Math.max(mm + 1, this.pgdOf.length * 2)).fill(-1)
      grown.set(this.pgdOf)
      this.pgdOf = grown
      const ctx = new Int32Array(grown.length)
      ctx.set(this.ctxOf)
      this.ctxOf = ctx
    }
    this.pgdOf[mm] = pgd
  }

  /** Every live mm, init_mm first. */
  mms(): number[] {
    return [...this.pgds.keys()]
  }

  /** `pgd_alloc`: a pgd page, with `pmds` pmd pages already hooked under its first entries. */
  private pgdAlloc(pmds: number): number {
    const pgd = this.allocTablePage()
    const { fast } = this.arch
    const step = this.arch.geometry.PGD_ENTRY_BITS >>> 5
    const done: number[] = []
    try {
      for (let i = 0; i < pmds; i++) {
        const pmd = this.allocTablePage()
        done.push(pmd)
        const at = this.tables.base(pgd) + i * step
        if (step === 2) this.tables.words[at + 1] = fast.pgdEntryHi(pmd)
        this.tables.words[at] = fast.pgdEntryLo(pmd)
      }
    } catch (e) {
      // pgd_alloc's out_oom: free the pmds already taken and the pgd.
      for (const pfn of [...done, pgd]) {
        this.tables.detach(pfn)
        this.freePage(pfn)
      }
      throw e
    }
    return pgd
  }

  private allocTablePage(): number {
    const pfn = this.allocPage({ highmem: false })
    this.tables.attach(pfn)
    return pfn
  }
}
