/**
 * `struct page`, as struct-of-arrays over page frame numbers.
 *
 * The -aa tree's struct page is 32 bytes on i386: flags, count, mapcount,
 * mapping, index, lru and private (docs/designs.md#data-structures-and-sizes). Each field is one
 * typed array here, so per-page state costs no object and no allocation: the
 * fault, fork and rmap-walk paths index arrays by pfn.
 *
 * `mapping` holds an object id: an `address_space` for a page-cache page, the
 * `anon_vma` for a PageAnon page (told apart by PG_anon, as the kernel does with
 * one pointer field), or the owning mm for a page-table page on ppc/ppc64.
 * {@link NO_MAPPING} is NULL.
 */

/**
 * Page flag bits, as numbered in the -aa page-flags.h (docs/designs.md#data-structures-and-sizes): PG_maplock 15 guards mapcount, PG_anon and mapping; PG_anon 20;
 * PG_swapcache 21 (private then holds the swap entry); 2.6.4's PG_direct 16
 * (PG_chainlock was bit 15, the bit -aa renamed). The bits docs/designs.md does
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
  /** 2.6.4 PG_direct (bit 16): page->pte.direct holds the page's one pte (rmap: 'pte_chains'). */
  direct: 16,
  /** PG_reclaim (2.6.5 bit 17): reclaim started this page's write-back; its completion rotates it to the inactive tail. */
  reclaim: 17,
  anon: 20,
  swapcache: 21,
} as const

/** A flag name. */
export type PageFlag = keyof typeof PG

/** Flag names by bit, for reports. */
export const PAGE_FLAG_NAMES: readonly PageFlag[] = Object.keys(PG) as PageFlag[]

/** page->mapping == NULL. */
export const NO_MAPPING = -1

/**
 * The zone of a frame lives in the top bits of page->flags, as the kernel keeps
 * it (NODEZONE_SHIFT); 2 bits hold DMA, Normal or HighMem.
 */
export const ZONE_SHIFT = 28
const ZONE_MASK = 3 << ZONE_SHIFT
/** A page-table page (pgd, pmd or pte page): its content word holds its slot in the page-table store. */
export const PG_PAGETABLE = 27
/** Bits that survive a free: the zone and PG_highmem describe the frame, not its use. */
const FRAME_BITS = ZONE_MASK | (1 << PG.highmem)
/**
 * page->index of a page-table page whose base address does not fit the index
 * array (in 4 KiB units below 2^32 - 1): the address is in a side Map.
 */
const BIG_TAG = 0xffffffff

/**
 * The struct page fields of every frame: 8 typed arrays of 4 bytes, 32 bytes
 * per frame, the size of the -aa tree's struct page on i386. Like the kernel,
 * the model reuses fields by page use: a free page's `lruNext` links its zone's
 * free list (the buddy allocator links free pages through page->lru), a
 * page-table page's `content` holds its slot in the page-table store, and
 * `private` (the swap entry of a swap-cache page) is kept sparse because few
 * pages have one.
 */
export class PageFrames {
  /** Number of frames. */
  readonly n: number
  /** page->flags: one bit per {@link PG} entry, the zone in the top bits. */
  readonly flags: Uint32Array
  /** page->count (page_count): references; 0 means free. */
  readonly count: Int32Array
  /** page->mapcount: ptes mapping the page (guarded by PG_maplock). */
  readonly mapcount: Int32Array
  /** page->mapping as an object id, or {@link NO_MAPPING}. */
  readonly mapping: Int32Array
  /**
   * page->index: the file page offset or the linear anon pgoff. For a page-table
   * page (whose kernel index is the base address it maps) use {@link tagIndex}.
   */
  readonly index: Uint32Array
  /** LRU links (pfns; -1 ends a list); a free page's lruNext links its zone's free list. */
  readonly lruPrev: Int32Array
  readonly lruNext: Int32Array
  /** The page's content: one 32-bit word, the value last written anywhere in it. */
  readonly content: Uint32Array
  /** page->private where it is set (swap entries of swap-cache pages). */
  private readonly priv = new Map<number, number>()
  /** Page-table tags too large for `index` in page units (ppc64 kernel regions). */
  private readonly bigTag = new Map<number, bigint>()

  constructor(n: number) {
    this.n = n
    this.flags = new Uint32Array(n)
    this.count = new Int32Array(n)
    this.mapcount = new Int32Array(n)
    this.mapping = new Int32Array(n).fill(NO_MAPPING)
    this.index = new Uint32Array(n)
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

  /** The zone index kept in page->flags. */
  zone(pfn: number): number {
    return (this.flags[pfn]! & ZONE_MASK) >>> ZONE_SHIFT
  }

  /** Record the zone of a frame (at boot). */
  setZone(pfn: number, zone: number): void {
    this.flags[pfn] = (this.flags[pfn]! & ~ZONE_MASK) | (zone << ZONE_SHIFT)
  }

  /** page->private (0 when unset). */
  getPrivate(pfn: number): number {
    return this.priv.size === 0 ? 0 : (this.priv.get(pfn) ?? 0)
  }

  /** Set page->private; 0 clears it. */
  setPrivate(pfn: number, value: number): void {
    if (value === 0) this.priv.delete(pfn)
    else this.priv.set(pfn, value)
  }

  /** The page->index of a page-table page: the base address it maps, exactly. */
  tagIndex(pfn: number): bigint {
    const i = this.index[pfn]!
    return i === BIG_TAG ? this.bigTag.get(pfn)! : BigInt(i) * 4096n
  }

  /**
   * {@link tagIndex} as a number (exact below 2^53; every user address is).
   * The hash MMUs read it for every pte they flush: a typed-array read, the
   * Map only for an index the array cannot hold (ppc64's kernel region).
   */
  tagIndexNumber(pfn: number): number {
    const i = this.index[pfn]!
    return i === BIG_TAG ? Number(this.bigTag.get(pfn)!) : i * 4096
  }

  /** Set a page-table page's page->index (a page-aligned address). */
  setTagIndex(pfn: number, address: bigint): void {
    const units = address / 4096n
    if (address % 4096n === 0n && units < BigInt(BIG_TAG)) {
      this.index[pfn] = Number(units)
      if (this.bigTag.size !== 0) this.bigTag.delete(pfn)
    } else {
      this.index[pfn] = BIG_TAG
      this.bigTag.set(pfn, address)
    }
  }

  /** The flags of a page by kernel name. */
  flagNames(pfn: number): PageFlag[] {
    const f = this.flags[pfn]!
    return PAGE_FLAG_NAMES.filter((name) => (f & (1 << PG[name])) !== 0)
  }

  /** Reset every field of a frame to its free state (zone and PG_highmem stay). */
  reset(pfn: number): void {
    this.flags[pfn] = this.flags[pfn]! & FRAME_BITS
    this.count[pfn] = 0
    this.mapcount[pfn] = 0
    this.mapping[pfn] = NO_MAPPING
    this.index[pfn] = 0
    this.lruPrev[pfn] = -1
    this.lruNext[pfn] = -1
    this.content[pfn] = 0
    if (this.priv.size !== 0) this.priv.delete(pfn)
    if (this.bigTag.size !== 0) this.bigTag.delete(pfn)
  }
}
