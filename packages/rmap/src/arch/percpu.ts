/**
 * Per-cpu `struct page_state` (include/linux/page-flags.h, mm/page_alloc.c).
 *
 * Each cpu has its own copy of a few unsigned-long counters. `inc_page_state`
 * and `dec_page_state` add 1 or `0UL-1` to the *current* cpu's copy with
 * interrupts off, nothing more; so a page table allocated on cpu A and freed on
 * cpu B leaves A at 1 and B at 2^BITS_PER_LONG-1. `get_page_state` adds the
 * copies of every possible cpu, which is right modulo 2^BITS_PER_LONG.
 *
 * Storage is one Uint32Array: 64-bit longs are two words with a carry, so the
 * hot path never touches bigint.
 */
import { KernelBugError } from '../errors.js'

/** The fields of struct page_state in kernel order; nr_slab is GET_PAGE_STATE_LAST. */
export const PAGE_STATE_FIELDS = [
  'nr_dirty',
  'nr_writeback',
  'nr_unstable',
  'nr_page_table_pages',
  'nr_mapped',
  'nr_slab',
] as const

/** A field name of struct page_state. */
export type PageStateField = (typeof PAGE_STATE_FIELDS)[number]

/** Field indices, for callers on the hot path. */
export const PS = {
  nr_dirty: 0,
  nr_writeback: 1,
  nr_unstable: 2,
  nr_page_table_pages: 3,
  nr_mapped: 4,
  nr_slab: 5,
} as const satisfies Record<PageStateField, number>

const NFIELDS = PAGE_STATE_FIELDS.length

/** The per-cpu page_state counters of one machine. */
export class PageState {
  /** Number of possible cpus (one copy each). */
  readonly cpus: number
  /** Width of the counters: the kernel's unsigned long. */
  readonly bitsPerLong: 32 | 64
  /**
   * False until the per-cpu areas are set up (setup_per_cpu_areas). Touching a
   * counter before that is the bug the ppc/ppc64 early-boot rule exists to avoid.
   */
  ready: boolean
  private readonly words: Uint32Array
  private readonly wpl: 1 | 2

  constructor(cpus: number, bitsPerLong: 32 | 64, ready = true) {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) {
      throw new RangeError(`PageState: cpus must be an integer in 1..64 (NR_CPUS), got ${cpus}`)
    }
    this.cpus = cpus
    this.bitsPerLong = bitsPerLong
    this.ready = ready
    this.wpl = bitsPerLong === 64 ? 2 : 1
    this.words = new Uint32Array(cpus * NFIELDS * this.wpl)
  }

  /** `inc_page_state(field)` on `cpu`. */
  inc(cpu: number, field: number): void {
    this.add(cpu, field, 1)
  }

  /** `dec_page_state(field)` on `cpu`: adds 0UL-1, wrapping. */
  dec(cpu: number, field: number): void {
    this.add(cpu, field, -1)
  }

  /** `mod_page_state(field, delta)` on `cpu`, delta in -2^31..2^31-1. */
  add(cpu: number, field: number, delta: number): void {
    if (!this.ready) {
      throw new KernelBugError(
        'per-cpu page_state touched before the per-cpu areas are set up',
        'include/linux/page-flags.h mod_page_state',
        `field ${PAGE_STATE_FIELDS[field]}, cpu ${cpu}`,
      )
    }
    const i = (cpu * NFIELDS + field) * this.wpl
    const w = this.words
    if (this.wpl === 1) {
      w[i] = (w[i]! + delta) >>> 0
      return
    }
    // 64-bit: add to the low word, carry or borrow into the high word.
    const lo = w[i]! + delta
    w[i] = lo >>> 0
    if (lo > 0xffffffff) w[i + 1] = (w[i + 1]! + 1) >>> 0
    else if (lo < 0) w[i + 1] = (w[i + 1]! - 1) >>> 0
  }

  /** This cpu's raw unsigned copy of `field`. */
  get(cpu: number, field: PageStateField | number): bigint {
    const f = typeof field === 'number' ? field : PS[field]
    const i = (cpu * NFIELDS + f) * this.wpl
    const lo = BigInt(this.words[i]!)
    return this.wpl === 1 ? lo : lo | (BigInt(this.words[i + 1]!) << 32n)
  }

  /** `get_page_state`: the sum over every possible cpu, modulo 2^BITS_PER_LONG. */
  sum(field: PageStateField | number): bigint {
    let s = 0n
    for (let c = 0; c < this.cpus; c++) s += this.get(c, field)
    return BigInt.asUintN(this.bitsPerLong, s)
  }

  /** The sum read as the signed count it stands for (what meminfo shows once every inc has its dec). */
  count(field: PageStateField | number): number {
    return Number(BigInt.asIntN(this.bitsPerLong, this.sum(field)))
  }
}
