/**
 * The ppc64 hashed page table, `__hash_page`, and the batched HPTE
 * invalidation of `hpte_update`/`flush_tlb_pending` (arch/ppc64/mm/{hash_low.S,
 * hash_utils.c,tlb.c}, include/asm-ppc64/{pgtable.h,tlbflush.h} of 2.6.5;
 * docs/layouts.md#ppc64, docs/layouts.md#mmu-cache-coherence).
 *
 * - `__hash_page` (HPT miss) checks the pte, turns a write into DIRTY, sets
 *   ACCESSED|HASHPTE, inserts (or, when the pte names a slot that still holds
 *   its HPTE, updates) the HPTE, and writes the slot's index within its group
 *   into `_PAGE_GROUP_IX` and the secondary-group flag into `_PAGE_SECONDARY`.
 * - Every pte update of a pte that had `_PAGE_HASHPTE` calls `hpte_update`,
 *   which queues (context, address, old pte) in a per-cpu batch; the mm and
 *   address come from the pte page's tag. `flush_tlb_pending` runs the batch:
 *   `flush_hash_page` recomputes the hash from (context, address) and goes
 *   straight to the slot the *old* pte names. Wrong or missing slot bits
 *   therefore leave the HPTE behind.
 * - `flush_tlb_page`/`_range`/`_mm` are all `flush_tlb_pending()`.
 *
 * Two kernels are modelled (`env.profile`): 2.6.5 (profiles '2.6.5-aa' and
 * '2.6.4'), whose updates clear the HPTE flags along with their own bit and
 * whose `ptep_test_and_clear_young` flushes the batch at once; and 2.6.7
 * (`1dad9d32…`, `8750a3a6…`), whose test-and-clear functions return early when
 * there is nothing to clear, keep the HPTE flags, and leave the flush batched,
 * and whose `set_pte` flushes the batch when it replaces a present pte.
 */
import {
  HashMmu,
  type HashPteBits,
  HPTES_PER_GROUP,
  KernelBugError,
  NO_MAPPING,
  type PgtableEnv,
  type PtePtr,
  ptePage,
  ptepToAddressNumber,
  pteWordOffset,
} from '@rmaplab/rmap'

/** PPC64_TLB_BATCH_NR: entries in the per-cpu `ppc64_tlb_batch`; a full batch is flushed. */
export const PPC64_TLB_BATCH_NR = 192

/** PTEGs in the model's HPT: 2048 groups of 8 (16384 HPTEs); the kernel sizes it from RAM. */
export const PPC64_HPT_GROUPS = 2048

/** The pte bits the ppc64 hash code reads and writes (low word). */
export interface Ppc64HashBits extends HashPteBits {
  /** `_PAGE_GROUP_IX` (bits 12–14): the HPTE's slot within its group. */
  readonly GROUP_IX: number
  /** `_PAGE_SECONDARY`: the HPTE is in the secondary group. */
  readonly SECONDARY: number
  /** `_PAGE_HPTEFLAGS`: BUSY | HASHPTE | SECONDARY | GROUP_IX. */
  readonly HPTEFLAGS: number
}

/** Effective addresses at or above this are outside the user region (REGION_ID != 0). */
const REGION_SIZE = 2 ** 60
const SEGMENT = 2 ** 28

/** The hash MMU of one ppc64 machine: `env.mmu` when the arch is `ppc64`. */
export class Ppc64HashTable extends HashMmu {
  /** True under the 2.6.7 rules (profile '2.6.7'), false under 2.6.5's. */
  readonly rules267: boolean
  declare protected readonly bits: Ppc64HashBits
  // The per-cpu ppc64_tlb_batch, struct-of-arrays: index, context and mm per
  // cpu; (old pte, address) per entry at cpu * PPC64_TLB_BATCH_NR + i.
  private readonly batchIndex: Int32Array
  private readonly batchContext: Float64Array
  private readonly batchMm: Int32Array
  private readonly batchPteLo: Uint32Array
  private readonly batchPteHi: Uint32Array
  private readonly batchAddr: Float64Array

  constructor(env: PgtableEnv, bits: Ppc64HashBits) {
    super(env, bits, PPC64_HPT_GROUPS)
    this.rules267 = env.profile === '2.6.7'
    this.batchIndex = new Int32Array(env.cpus)
    this.batchContext = new Float64Array(env.cpus)
    this.batchMm = new Int32Array(env.cpus)
    this.batchPteLo = new Uint32Array(env.cpus * PPC64_TLB_BATCH_NR)
    this.batchPteHi = new Uint32Array(env.cpus * PPC64_TLB_BATCH_NR)
    this.batchAddr = new Float64Array(env.cpus * PPC64_TLB_BATCH_NR)
  }

  /**
   * The primary hash: VSID XOR the 16-bit page index within the 256 MB
   * segment, as `hpt_hash` computes it. The VSID here is a stand-in for the
   * kernel's scramble of (context, segment): a 32-bit multiplicative hash of
   * (context << 15 | esid). Only its determinism matters to the model: insert
   * and flush must derive the same group from (context, address).
   */
  hash(context: number, address: number): number {
    const proto = (context * 0x8000 + Math.floor(address / SEGMENT)) >>> 0
    const vsid = Math.imul(proto, 0x0fffffc7) >>> 0
    return (vsid ^ (Math.floor(address / this.pageSize) & 0xffff)) >>> 0
  }

  /** The slot a pte's `_PAGE_SECONDARY`/`_PAGE_GROUP_IX` bits name for a given primary hash. */
  slotOf(hash: number, lo: number): number {
    const h = (lo & this.bits.SECONDARY) !== 0 ? ~hash : hash
    return (h & this.hpt.hashMask) * HPTES_PER_GROUP + ((lo & this.bits.GROUP_IX) >>> 12)
  }

  /**
   * `__hash_page` for a user access. Faults (false) unless the pte is present,
   * USER, and RW for a write. The HPTE goes to the first free slot of the
   * primary group, else of the secondary group, else replaces a victim; its
   * position is written back into the pte.
   */
  access(mm: number, address: number, ptr: PtePtr, write: boolean): boolean {
    const { env, bits, hpt } = this
    const w = env.tables.words
    const at = pteWordOffset(env, ptr)
    const lo = w[at]!
    const hi = w[at + 1]!
    const need = bits.PRESENT | bits.USER | (write ? bits.RW : 0)
    if ((lo & need) !== need) return false
    let nlo = lo | bits.ACCESSED | bits.HASHPTE | (write ? bits.DIRTY : 0)
    const ctx = env.mmContext(mm)
    const vpn = Math.floor(address / this.pageSize)
    const hash = this.hash(ctx, address)
    const pfn = env.arch.fast.pfn(nlo, hi)
    const writable = this.hpteWritable(nlo)
    // With HASHPTE set, try the slot the pte names (ppc_md.hpte_updatepp); if
    // that HPTE is gone (flushed or evicted), insert a new one.
    let slot = (lo & bits.HASHPTE) !== 0 ? this.slotOf(hash, lo) : -1
    if (slot >= 0 && hpt.matches(slot, ctx, vpn)) hpt.update(slot, pfn, writable)
    else slot = hpt.insert(hash, ctx, vpn, mm, pfn, writable)
    nlo =
      (nlo & ~(bits.GROUP_IX | bits.SECONDARY)) |
      ((slot % HPTES_PER_GROUP) << 12) |
      (hpt.secondary[slot] === 1 ? bits.SECONDARY : 0)
    w[at] = nlo >>> 0
    return true
  }

  /**
   * `set_pte`: a present pte is first cleared through `pte_clear` (queueing its
   * HPTE; 2.6.7 then flushes the batch), and the new value is stored without
   * HPTE flags.
   */
  setPte(ptr: PtePtr, lo: number, hi: number, cpu: number = this.env.cpu): void {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    if ((w[at]! & this.bits.PRESENT) !== 0) {
      this.pteClear(ptr, cpu)
      if (this.rules267) this.flushTlbPending(cpu)
    }
    w[at + 1] = hi
    w[at] = (lo & ~this.bits.HPTEFLAGS) >>> 0
  }

  /** `pte_clear`: clear the whole pte; queue its HPTE if it had one. */
  pteClear(ptr: PtePtr, cpu: number = this.env.cpu): void {
    this.ptepGetAndClear(ptr, cpu)
  }

  /** `ptep_get_and_clear`: clear the whole pte, queue its HPTE, return the old low word ({@link lastHi}: high). */
  ptepGetAndClear(ptr: PtePtr, cpu: number = this.env.cpu): number {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const lo = w[at]!
    const hi = w[at + 1]!
    w[at] = 0
    w[at + 1] = 0
    if ((lo & this.bits.HASHPTE) !== 0) this.hpteUpdate(ptr, lo, hi, cpu)
    this.lastHi = hi
    return lo
  }

  /**
   * `ptep_test_and_clear_young`. 2.6.5: clear ACCESSED and the HPTE flags; if
   * there was an HPTE, queue it and flush the batch at once (the generic
   * caller does not flush). 2.6.7: return early when neither ACCESSED nor
   * HASHPTE is set, clear ACCESSED only, and leave the HPTE in the batch.
   * (That last point is docs/layouts.md#mmu-cache-coherence; the copies of benh's May 2004
   * pgtable.h patches found in the archives still flush at once here.)
   */
  ptepTestAndClearYoung(ptr: PtePtr, cpu: number = this.env.cpu): boolean {
    const { ACCESSED, HASHPTE } = this.bits
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    if (this.rules267) {
      if ((old & (ACCESSED | HASHPTE)) === 0) return false
      w[at] = (old & ~ACCESSED) >>> 0
      if ((old & HASHPTE) !== 0) this.hpteUpdate(ptr, old, w[at + 1]!, cpu)
    } else {
      w[at] = (old & ~(ACCESSED | this.bits.HPTEFLAGS)) >>> 0
      if ((old & HASHPTE) !== 0) {
        this.hpteUpdate(ptr, old, w[at + 1]!, cpu)
        this.flushTlbPending(cpu)
      }
    }
    return (old & ACCESSED) !== 0
  }

  /** `ptep_test_and_clear_dirty`: as {@link ptepTestAndClearYoung} for DIRTY, never flushing at once. */
  ptepTestAndClearDirty(ptr: PtePtr, cpu: number = this.env.cpu): boolean {
    return (this.clearAndQueue(ptr, this.bits.DIRTY, cpu) & this.bits.DIRTY) !== 0
  }

  /** `ptep_set_wrprotect`: clear RW (2.6.5: and the HPTE flags), queueing the HPTE. */
  ptepSetWrprotect(ptr: PtePtr, cpu: number = this.env.cpu): void {
    this.clearAndQueue(ptr, this.bits.RW, cpu)
  }

  /** Clear `bit` (2.6.5: with the HPTE flags; 2.6.7: alone, and only if set); queue the HPTE. */
  private clearAndQueue(ptr: PtePtr, bit: number, cpu: number): number {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    if (this.rules267) {
      if ((old & bit) === 0) return old
      w[at] = (old & ~bit) >>> 0
    } else {
      w[at] = (old & ~(bit | this.bits.HPTEFLAGS)) >>> 0
    }
    if ((old & this.bits.HASHPTE) !== 0) this.hpteUpdate(ptr, old, w[at + 1]!, cpu)
    return old
  }

  /**
   * `hpte_update(ptep, pte, wrprot)`: queue the HPTE of the old pte (lo, hi) at
   * `ptr` for invalidation. The mm is page->mapping of the pte page and the
   * address `ptep_to_address`; the context is mm->context in the user region, 0
   * elsewhere. A batch of another context is flushed first, and a full batch
   * right after. An untagged pte page would make the kernel dereference a NULL mm.
   */
  hpteUpdate(ptr: PtePtr, lo: number, hi: number, cpu: number = this.env.cpu): void {
    const { env } = this
    const page = ptePage(env, ptr)
    const mm = env.pageMapping(page)
    if (mm === NO_MAPPING) {
      throw new KernelBugError(
        'hpte_update on a pte page without page->mapping (NULL mm)',
        'arch/ppc64/mm/tlb.c hpte_update',
        `pte page pfn ${page}`,
      )
    }
    const addr = ptepToAddressNumber(env, ptr)
    const context = addr < REGION_SIZE ? env.mmContext(mm) : 0
    let i = this.batchIndex[cpu]!
    // A context change mid-batch (e.g. reclaim run from inside copy_page_range):
    // flush what is queued first.
    if (i !== 0 && context !== this.batchContext[cpu]) {
      this.flushTlbPending(cpu)
      i = 0
    }
    if (i === 0) {
      this.batchContext[cpu] = context
      this.batchMm[cpu] = mm
    }
    const k = cpu * PPC64_TLB_BATCH_NR + i
    this.batchPteLo[k] = lo
    this.batchPteHi[k] = hi
    this.batchAddr[k] = addr
    this.batchIndex[cpu] = ++i
    if (i >= PPC64_TLB_BATCH_NR) this.flushTlbPending(cpu)
  }

  /**
   * `flush_tlb_pending`: run this cpu's batch (`__flush_tlb_pending`:
   * flush_hash_page for one entry, flush_hash_range for more; whether the
   * tlbie is local to this cpu does not matter to the model).
   */
  flushTlbPending(cpu: number = this.env.cpu): void {
    const n = this.batchIndex[cpu]!
    if (n === 0) return
    const context = this.batchContext[cpu]!
    for (let j = 0, k = cpu * PPC64_TLB_BATCH_NR; j < n; j++, k++) {
      this.flushHashPage(context, this.batchAddr[k]!, this.batchPteLo[k]!)
    }
    this.batchIndex[cpu] = 0
  }

  /**
   * `flush_hash_page(context, ea, pte, local)`: recompute the hash of (context,
   * ea), complement it if the old pte says SECONDARY, go to slot group × 8 +
   * GROUP_IX, and invalidate it if it still holds this translation
   * (`hpte_invalidate` checks the tag).
   */
  flushHashPage(context: number, ea: number, pteLo: number): void {
    const slot = this.slotOf(this.hash(context, ea), pteLo)
    if (this.hpt.matches(slot, context, Math.floor(ea / this.pageSize))) this.hpt.invalidate(slot)
  }

  /** HPTE invalidations queued on `cpu` (default: the current cpu). */
  pendingFlushes(cpu: number = this.env.cpu): number {
    return this.batchIndex[cpu]!
  }

  /** The mm of the batch queued on `cpu`, or -1 when it is empty. */
  pendingMm(cpu: number = this.env.cpu): number {
    return this.batchIndex[cpu] === 0 ? -1 : this.batchMm[cpu]!
  }

  /** `flush_tlb_page` is `flush_tlb_pending()` on ppc64. */
  flushTlbPage(_mm: number, _address: number, cpu: number = this.env.cpu): void {
    this.flushTlbPending(cpu)
  }

  /** `flush_tlb_range` is `flush_tlb_pending()` on ppc64. */
  flushTlbRange(_mm: number, _start: number, _end: number, cpu: number = this.env.cpu): void {
    this.flushTlbPending(cpu)
  }

  /** `flush_tlb_mm` is `flush_tlb_pending()` on ppc64. */
  flushTlbMm(_mm: number, cpu: number = this.env.cpu): void {
    this.flushTlbPending(cpu)
  }

  /**
   * A flush finds this HPTE when the pte has HASHPTE and its slot bits name
   * this slot. Otherwise it may still be found by an entry queued in some
   * cpu's batch ('HPTE flush pending'), or by nothing at all.
   */
  protected trackReason(slot: number, lo: number): string {
    const { hpt } = this
    const ctx = hpt.context[slot]!
    const vpn = hpt.vpn[slot]!
    const hash = this.hash(ctx, vpn * this.pageSize)
    if ((lo & this.bits.HASHPTE) !== 0 && this.slotOf(hash, lo) === slot) return ''
    for (let cpu = 0; cpu < this.env.cpus; cpu++) {
      if (this.batchIndex[cpu] === 0 || this.batchContext[cpu] !== ctx) continue
      for (let j = 0, k = cpu * PPC64_TLB_BATCH_NR; j < this.batchIndex[cpu]!; j++, k++) {
        if (
          Math.floor(this.batchAddr[k]! / this.pageSize) === vpn &&
          this.slotOf(hash, this.batchPteLo[k]!) === slot
        ) {
          return 'HPTE flush pending'
        }
      }
    }
    return 'HPTE not tracked by pte'
  }
}
