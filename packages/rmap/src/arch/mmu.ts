/**
 * Part 5 of the arch contract: the MMU cache and the pte updates that must keep
 * it coherent.
 *
 * A cpu does not read the page tables on every access: i386 caches
 * translations in a per-cpu TLB, ppc and ppc64 in a hashed page table (HPT)
 * shared by all cpus. When the kernel clears or downgrades a pte, the cached
 * copy must be flushed (`flush_tlb_page`, `flush_tlb_mm`, `flush_tlb_range`; on
 * ppc64 also the batch of `hpte_update`). The model keeps the caches for real,
 * so a flush the VM forgets leaves an entry that {@link MmuCache.stale} reports.
 *
 * The pte updates go through the cache object because on ppc and ppc64 they
 * are not plain stores: `_PAGE_HASHPTE` must survive `set_pte` and
 * `ptep_get_and_clear`, and ppc64 queues an HPTE invalidation whenever a pte
 * that had one changes.
 */

/**
 * A pte location: `pfn * PTRS_PER_PTE + index` of the pte page and the entry.
 * A number, so that walks allocate nothing; `pte_offset_map` returns one and
 * `pte_unmap` takes it back.
 */
export type PtePtr = number

/** A cached translation that no longer matches the page table. */
export interface StaleEntry {
  /** The cpu whose TLB holds it, or -1 for a global hashed page table. */
  readonly cpu: number
  /** The mm (address space) it translates for. */
  readonly mm: number
  /** The page-aligned user address. */
  readonly address: number
  /** The pfn the cache still points to. */
  readonly cachedPfn: number
  /** Whether the cache still allows writes. */
  readonly cachedWrite: boolean
  /** Why it is stale, e.g. `'pte cleared'`, `'pfn changed'`, `'write-protected'`, `'HPTE not tracked by pte'`. */
  readonly reason: string
}

/** The MMU cache of one machine. Created by `arch.mmu.create(env)`. */
export interface MmuCache {
  /**
   * A user access from the current cpu to `address` in `mm`, through the pte at
   * `ptr`, as the hardware (i386) or `hash_page` (ppc, ppc64) performs it.
   * Returns false when it would fault: pte not present, no user access, or a
   * write through a read-only pte. Otherwise the pte gets ACCESSED (and DIRTY on
   * a write) and the translation is cached.
   *
   * `cpu` is the cpu making the access (`smp_processor_id()`); every method
   * that takes a trailing `cpu` acts on that cpu's per-cpu state (its TLB, the
   * ppc64 `ppc64_tlb_batch`). The VM model always passes the cpu context it
   * runs on; a direct caller that leaves it out gets `env.cpu`.
   *
   * Simplification: the model walks the pte on every access, as if the cache
   * always missed, so the accessed bit is set again even where a real TLB hit
   * would leave it clear. The cache is kept so that a missed flush shows as a
   * stale entry ({@link stale}), not to short-cut the walk.
   */
  access(mm: number, address: number, ptr: PtePtr, write: boolean, cpu?: number): boolean
  /** `set_pte`: store a pte (both words; on ppc keeping `_PAGE_HASHPTE`). */
  setPte(ptr: PtePtr, lo: number, hi: number, cpu?: number): void
  /** `ptep_get_and_clear`: clear the pte and return its old low word; the old high word is {@link lastHi}. */
  ptepGetAndClear(ptr: PtePtr, cpu?: number): number
  /** High word of the pte the last `ptepGetAndClear` returned. */
  readonly lastHi: number
  /** `ptep_test_and_clear_young`: clear ACCESSED, return whether it was set. Knows only the pte location. */
  ptepTestAndClearYoung(ptr: PtePtr, cpu?: number): boolean
  /** `ptep_test_and_clear_dirty`. */
  ptepTestAndClearDirty(ptr: PtePtr, cpu?: number): boolean
  /** `ptep_set_wrprotect`. */
  ptepSetWrprotect(ptr: PtePtr, cpu?: number): void
  /** `flush_tlb_page(vma, addr)`. */
  flushTlbPage(mm: number, address: number, cpu?: number): void
  /** `flush_tlb_range(vma, start, end)`. */
  flushTlbRange(mm: number, start: number, end: number, cpu?: number): void
  /** `flush_tlb_mm(mm)`. */
  flushTlbMm(mm: number, cpu?: number): void
  /** `flush_tlb_pending()`: run queued HPTE invalidations (ppc64); a no-op elsewhere. */
  flushTlbPending(cpu?: number): void
  /** The pfn `cpu` (or the HPT, for hash MMUs: any cpu) would use for (mm, address), or -1. */
  cachedPfn(cpu: number, mm: number, address: number): number
  /** Every cached translation that no longer matches its pte. Empty when coherent. */
  stale(): StaleEntry[]
  /** Number of cached translations. */
  readonly size: number
}
