/**
 * `struct page`, as struct-of-arrays over page frame numbers.
 *
 * The -aa tree's struct page is 32 bytes on i386: flags, count, mapcount,
 * mapping, index, lru and private (kernel-facts/rmap.md §1.1). Each field is one
 * typed array here, so per-page state costs no object and no allocation: the
 * fault, fork and rmap-walk paths index arrays by pfn.
 *
 * `mapping` holds an object id: an `address_space` for a page-cache page, the
 * `anon_vma` for a PageAnon page (told apart by PG_anon, as the kernel does with
 * one pointer field), or the owning mm for a page-table page on ppc/ppc64.
 * {@link NO_MAPPING} is NULL.
 */

/**
 * Page flag bits, as numbered in the -aa page-flags.h (kernel-facts/rmap.md
 * §1.2): PG_maplock 15 guards mapcount, PG_anon and mapping; PG_anon 20;
 * PG_swapcache 21 (private then holds the swap entry). The bits rmap.md does
 * not list (error, uptodate, lru, active, slab, highmem...) keep their 2.6.5
 * mainline numbers.
 */
export const PG = {
  locked: 0,
  error: 1,
  referenced: 2,
  uptodate: 3,
  dirty: 4,
  lru: 5,
  active: 6,
  slab: 7,
  highmem: 8,
  checked: 9,
  arch_1: 10,
  reserved: 11,
  private: 12,
  writeback: 13,
  nosave: 14,
  maplock: 15,
  anon: 20,
  swapcache: 21,
} as const

/** A flag name. */
export type PageFlag = keyof typeof PG

/** Flag names by bit, for reports. */
export const PAGE_FLAG_NAMES: readonly PageFlag[] = Object.keys(PG) as PageFlag[]

/** page->mapping == NULL. */
export const NO_MAPPING = -1

/** The struct page fields of every frame. */
export class PageFrames {
  /** Number of frames. */
  readonly n: number
  /** page->flags, one bit per {@link PG} entry. */
  readonly flags: Uint32Array
  /** page->count (page_count): references; 0 means free. */
  readonly count: Int32Array
  /** page->mapcount: ptes mapping the page (guarded by PG_maplock). */
  readonly mapcount: Int32Array
  /** page->mapping as an object id, or {@link NO_MAPPING}. */
  readonly mapping: Int32Array
  /** page->index: file page offset, linear anon pgoff, or a pte page's base address. */
  readonly index: Float64Array
  /** page->private: the swap entry of a swap-cache page, buffers otherwise. */
  readonly private: Float64Array
  /** LRU list links (pfns; -1 ends a list). */
  readonly lruPrev: Int32Array
  readonly lruNext: Int32Array
  /** The page's content: one 32-bit word, the value last written anywhere in it. */
  readonly content: Uint32Array
  /** page->index values at or above 2^53 (ppc64 kernel-region pte pages), exactly. */
  private readonly bigIndex = new Map<number, bigint>()

  constructor(n: number) {
    this.n = n
    this.flags = new Uint32Array(n)
    this.count = new Int32Array(n)
    this.mapcount = new Int32Array(n)
    this.mapping = new Int32Array(n).fill(NO_MAPPING)
    this.index = new Float64Array(n)
    this.private = new Float64Array(n)
    this.lruPrev = new Int32Array(n).fill(-1)
    this.lruNext = new Int32Array(n).fill(-1)
    this.content = new Uint32Array(n)
  }

  /** `PageX(page)`. */
  test(pfn: number, bit: number): boolean {
    return (this.flags[pfn]! & (1 << bit)) !== 0
  }

  /** `SetPageX(page)`. */
  set(pfn: number, bit: number): void {
    this.flags[pfn] = this.flags[pfn]! | (1 << bit)
  }

  /** `ClearPageX(page)`. */
  clear(pfn: number, bit: number): void {
    this.flags[pfn] = this.flags[pfn]! & ~(1 << bit)
  }

  /** `TestSetPageX(page)`: set the bit, return whether it was set. */
  testAndSet(pfn: number, bit: number): boolean {
    const was = this.test(pfn, bit)
    this.set(pfn, bit)
    return was
  }

  /** page->index as an exact bigint. */
  indexBig(pfn: number): bigint {
    return this.bigIndex.get(pfn) ?? BigInt(this.index[pfn]!)
  }

  /** Set page->index from a bigint (exact even above 2^53). */
  setIndexBig(pfn: number, index: bigint): void {
    this.index[pfn] = Number(index)
    if (index >= 1n << 53n) this.bigIndex.set(pfn, index)
    else this.bigIndex.delete(pfn)
  }

  /** The flags of a page by kernel name. */
  flagNames(pfn: number): PageFlag[] {
    const f = this.flags[pfn]!
    return PAGE_FLAG_NAMES.filter((name) => (f & (1 << PG[name])) !== 0)
  }

  /** Reset every field of a frame to its free state. */
  reset(pfn: number): void {
    this.flags[pfn] = 0
    this.count[pfn] = 0
    this.mapcount[pfn] = 0
    this.mapping[pfn] = NO_MAPPING
    this.index[pfn] = 0
    this.private[pfn] = 0
    this.lruPrev[pfn] = -1
    this.lruNext[pfn] = -1
    this.content[pfn] = 0
    this.bigIndex.delete(pfn)
  }
}
