/**
 * A cpu of the machine: the explicit context every kernel path runs on.
 *
 * The kernel's code runs "on" a cpu and reaches that cpu's state through
 * `smp_processor_id()` and the per-cpu variables (`DEFINE_PER_CPU`): the
 * kmap_atomic slots of its fixmap (include/asm-i386/kmap_types.h), its copy of
 * `struct page_state` (mm/page_alloc.c), its TLB or, on ppc64, its
 * `ppc64_tlb_batch`, and scratch such as its `mmu_gathers` (the per-cpu
 * `struct mmu_gather` of asm-generic/tlb.h that zap_page_range fills). The
 * model passes that cpu explicitly, as the argument right after the machine
 * (`zapPageRange(m, c, vma, start, end)`), and keeps each cpu's scratch here,
 * so two kernel paths paused on two cpus (the race explorer, race/explore.ts)
 * never share a buffer.
 *
 * The per-cpu state that is also part of the arch contract (kmap slots,
 * page_state, the MMU cache) stays in the page-table environment's typed
 * arrays, indexed by {@link Cpu.id}; `Machine.cpus[i]` is created once per
 * machine. Nothing here allocates on a fault, fork or walk.
 */
import type { PageoutReport } from './vmscan.js'

/** One cpu of a machine. */
export class Cpu {
  /** `smp_processor_id()`: 0..cpus-1. */
  readonly id: number
  /**
   * The pfns of this cpu's mmu_gather: pages whose references zapPageRange
   * drops after the TLB flush. Grown on demand and reused; a zap never
   * nests on one cpu (freeing a page does not zap).
   */
  gather: Int32Array = new Int32Array(1024)
  /** Scratch: the high word of the last pte a hot path read on this cpu (0 for one-word ptes). */
  hi = 0
  /** Scratch of shrink_cache / refill_inactive_zone: the pfns isolated from an LRU tail. */
  lruBatch: Int32Array
  /** Scratch of shrink_cache: what shrink_list did with the last page. */
  readonly pageout: PageoutReport

  constructor(id: number, pageout: PageoutReport, lruBatch: number) {
    this.id = id
    this.pageout = pageout
    this.lruBatch = new Int32Array(lruBatch)
  }

  /** The room of the mmu_gather, doubled (a zap of more pages than it ever held). */
  growGather(): Int32Array {
    const grown = new Int32Array(this.gather.length * 2)
    grown.set(this.gather)
    this.gather = grown
    return grown
  }
}
