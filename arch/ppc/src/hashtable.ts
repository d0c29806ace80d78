/**
 * The ppc32 hashed page table and the pte updates that keep it coherent
 * (arch/ppc/mm/hashtable.S, arch/ppc/mm/tlb.c, include/asm-ppc/pgtable.h of
 * 2.6.5; docs/layouts.md#ppc, docs/layouts.md#mmu-cache-coherence).
 *
 * - `hash_page` (the HPT-miss handler) checks the pte, sets ACCESSED (DIRTY
 *   on a write) and `_PAGE_HASHPTE`, and builds the HPTE. If the pte already
 *   had HASHPTE it looks for the existing HPTE and updates it; otherwise it
 *   inserts without looking.
 * - The pte updates do not flush: `set_pte` keeps HASHPTE, `ptep_get_and_clear`
 *   clears everything but HASHPTE, so that the caller's `flush_tlb_*` still
 *   finds the HPTE.
 * - `flush_tlb_page`/`_range`/`_mm` go through `flush_hash_pages`: for each pte
 *   with HASHPTE, clear the bit and invalidate the HPTE. A pte without HASHPTE
 *   is skipped, so an HPTE whose pte lost the bit without a flush can never be
 *   found again: `stale()` reports it as 'HPTE not tracked by pte'.
 * - `ptep_test_and_clear_young` has only the pte pointer, so it flushes through
 *   `flush_hash_one_pte`, which reads mm and address from the pte page's tag.
 *   The model does what that code meant to do; see `historical` in ppc.ts for
 *   what 2.6.5 actually did (no flush, and a wrong address).
 */
import {
  BUG,
  HashMmu,
  type HashPteBits,
  KernelBugError,
  lookupPte,
  NO_MAPPING,
  type PgtableEnv,
  type PtePtr,
  ptePage,
  ptepToAddressNumber,
  pteWordOffset,
} from '@rmaplab/rmap'

/**
 * PTEGs in the model's HPT: 1024 groups of 8 (8192 HPTEs, 64 KB), the smallest
 * hash table the kernel sets up (it sizes the table from RAM).
 */
export const PPC_HPT_GROUPS = 1024

/** Bytes one pte page maps (PMD_SIZE), as a number. */
const PTE_PAGE_SPAN = 0x400000

/** The hash MMU of one ppc32 machine: `env.mmu` when the arch is `ppc`. */
export class PpcHashTable extends HashMmu {
  /**
   * Times `hash_page` inserted an HPTE for a virtual page that already had one
   * (its pte had lost HASHPTE): the real HPT then holds two, which the
   * architecture forbids. Both are kept; `stale()` names the one a flush misses.
   */
  duplicates = 0

  constructor(env: PgtableEnv, bits: HashPteBits) {
    super(env, bits, PPC_HPT_GROUPS)
    // Re-introduced 2.6.5 bugs (Machine's `bugs` option), chosen once here so
    // that the fixed functions test nothing per pte.
    if (env.bugs & BUG.ppcYoungNoFlush) this.ptepTestAndClearYoung = this.ptepTestAndClearYoung265
    if (env.bugs & BUG.ppcFlushHashShift) this.flushHashOnePte = this.flushHashOnePte265
  }

  /**
   * `ptep_test_and_clear_young` as 2.6.5 wrote it (bug `ppc-young-no-flush`):
   * the old value is masked with _PAGE_ACCESSED before _PAGE_HASHPTE is
   * tested, so the flush never runs (`historical.ptepTestAndClearYoungFlushes`).
   */
  private ptepTestAndClearYoung265(ptr: PtePtr): boolean {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    w[at] = (old & ~this.bits.ACCESSED) >>> 0
    const masked = old & this.bits.ACCESSED
    if ((masked & this.bits.HASHPTE) !== 0) this.flushHashOnePte(ptr)
    return masked !== 0
  }

  /**
   * `flush_hash_one_pte` as 2.6.4–2.6.10 wrote it (bug `ppc-flush-hash-shift`):
   * the address is page->index + (byte offset << 9), half the pte's real
   * offset (`historical.flushHashOnePteAddress`), so the flush goes to another
   * pte of the same pte page.
   */
  private flushHashOnePte265(ptr: PtePtr): void {
    const { env } = this
    const page = ptePage(env, ptr)
    const mm = this.ptePageMm(page)
    const byteOffset = (ptr - page * env.arch.geometry.PTRS_PER_PTE) * 4
    const va = (env.pageIndexNumber(page) + byteOffset * 512) >>> 0
    this.flushHashPages(env.mmContext(mm), va, page, 1)
  }

  /**
   * The primary hash of the 6xx MMU: VSID bits 0–18 XOR the 16-bit page index
   * within the 256 MB segment, where the VSID is CTX_TO_VSID(context, ea) =
   * (context × 897 × 16 + (ea >> 28) × 0x111) & 0xffffff (include/asm-ppc/mmu_context.h).
   */
  hash(context: number, address: number): number {
    const vsid = (context * (897 * 16) + Math.floor(address / 2 ** 28) * 0x111) & 0xffffff
    return (vsid & 0x7ffff) ^ (Math.floor(address / this.pageSize) & 0xffff)
  }

  /**
   * `hash_page` for a user access. Faults (false) unless the pte is present,
   * USER, and RW for a write; PROT_NONE ptes are present without USER.
   */
  access(mm: number, address: number, ptr: PtePtr, write: boolean): boolean {
    const { env, bits, hpt } = this
    const w = env.tables.words
    const at = pteWordOffset(env, ptr)
    const lo = w[at]!
    const need = bits.PRESENT | bits.USER | (write ? bits.RW : 0)
    if ((lo & need) !== need) return false
    const nlo = (lo | bits.ACCESSED | bits.HASHPTE | (write ? bits.DIRTY : 0)) >>> 0
    w[at] = nlo
    const ctx = env.mmContext(mm)
    const vpn = Math.floor(address / this.pageSize)
    const hash = this.hash(ctx, address)
    const pfn = nlo >>> 12
    const writable = this.hpteWritable(nlo)
    // create_hpte: only a pte that had HASHPTE makes it search for its HPTE.
    const found = (lo & bits.HASHPTE) !== 0 ? hpt.find(hash, ctx, vpn) : -1
    if (found >= 0) {
      hpt.update(found, pfn, writable)
    } else {
      if (hpt.find(hash, ctx, vpn) >= 0) this.duplicates++
      hpt.insert(hash, ctx, vpn, mm, pfn, writable)
    }
    return true
  }

  /** `set_pte`: store the new pte but keep the current `_PAGE_HASHPTE`. */
  setPte(ptr: PtePtr, lo: number, _hi: number): void {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const h = this.bits.HASHPTE
    w[at] = ((w[at]! & h) | (lo & ~h)) >>> 0
  }

  /** `ptep_get_and_clear`: clear everything except `_PAGE_HASHPTE`; returns the old pte. */
  ptepGetAndClear(ptr: PtePtr): number {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    w[at] = (old & this.bits.HASHPTE) >>> 0
    this.lastHi = 0
    return old
  }

  /**
   * `ptep_test_and_clear_young`: clear ACCESSED, and when the old pte had an
   * HPTE flush it (`flush_hash_one_pte`), so the next reference faults into
   * hash_page and sets ACCESSED again. 2.6.5 masks the old value before the
   * HASHPTE test, so its flush never runs; the model tests the real old value.
   */
  ptepTestAndClearYoung(ptr: PtePtr): boolean {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    w[at] = (old & ~this.bits.ACCESSED) >>> 0
    if ((old & this.bits.HASHPTE) !== 0) this.flushHashOnePte(ptr)
    return (old & this.bits.ACCESSED) !== 0
  }

  /** `ptep_test_and_clear_dirty`: clear DIRTY (and the 0 HWWRITE); the caller flushes. */
  ptepTestAndClearDirty(ptr: PtePtr): boolean {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    w[at] = (old & ~this.bits.DIRTY) >>> 0
    return (old & this.bits.DIRTY) !== 0
  }

  /** `ptep_set_wrprotect`: clear RW (and the 0 HWWRITE); the caller flushes. */
  ptepSetWrprotect(ptr: PtePtr): void {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    w[at] = (w[at]! & ~this.bits.RW) >>> 0
  }

  /**
   * `flush_hash_one_pte(ptep)`: flush the HPTE of a pte known only by its
   * location. The mm is page->mapping of the pte page and the address
   * page->index + entry × PAGE_SIZE (the model's formula; 2.6.5 shifted the
   * byte offset by 9 instead). A pte page without a tag would make the kernel
   * dereference a NULL mm.
   */
  flushHashOnePte(ptr: PtePtr): void {
    const { env } = this
    const page = ptePage(env, ptr)
    const mm = this.ptePageMm(page)
    this.flushHashPages(env.mmContext(mm), ptepToAddressNumber(env, ptr), page, 1)
  }

  /**
   * The mm of a pte page (its page->mapping, set by the pgtable rmap): the
   * flush needs it for the context. A pte page without one is the NULL mm
   * dereference of 2.6.5 flush_hash_one_pte, a kernel BUG.
   */
  private ptePageMm(page: number): number {
    const mm = this.env.pageMapping(page)
    if (mm === NO_MAPPING) {
      throw new KernelBugError(
        'flush_hash_one_pte on a pte page without page->mapping (NULL mm)',
        'arch/ppc/mm/tlb.c flush_hash_one_pte',
        `pte page pfn ${page}`,
      )
    }
    return mm
  }

  /**
   * `flush_hash_pages(context, va, pmdval, count)`: for `count` ptes of the pte
   * page `ptePfn` from va's index on (never past the page), clear
   * `_PAGE_HASHPTE` of each pte that has it and invalidate the HPTE found for
   * (context, va) in its primary or secondary group.
   */
  flushHashPages(context: number, va: number, ptePfn: number, count: number): void {
    const { env, hpt } = this
    const w = env.tables.words
    const n = env.arch.geometry.PTRS_PER_PTE
    const h = this.bits.HASHPTE
    const page = this.pageSize
    let vpn = Math.floor(va / page)
    for (let i = 0, idx = vpn % n; i < count && idx < n; i++, idx++, vpn++) {
      const at = pteWordOffset(env, ptePfn * n + idx)
      const lo = w[at]!
      if ((lo & h) === 0) continue
      w[at] = (lo & ~h) >>> 0
      const slot = hpt.find(this.hash(context, vpn * page), context, vpn)
      if (slot >= 0) hpt.invalidate(slot)
    }
  }

  /** `flush_tlb_page`: `flush_hash_pages` for the one pte, if its pte page exists. */
  flushTlbPage(mm: number, address: number): void {
    const ptr = lookupPte(this.env, mm, address)
    if (ptr < 0) return
    this.flushHashPages(this.env.mmContext(mm), address, ptePage(this.env, ptr), 1)
  }

  /** `flush_tlb_range` (flush_range): `flush_hash_pages` over each populated pmd of [start, end). */
  flushTlbRange(mm: number, start: number, end: number): void {
    const { env } = this
    const ctx = env.mmContext(mm)
    let a = start - (start % this.pageSize)
    while (a < end) {
      const next = (Math.floor(a / PTE_PAGE_SPAN) + 1) * PTE_PAGE_SPAN
      const ptr = lookupPte(env, mm, a)
      if (ptr >= 0) {
        const count = Math.ceil((Math.min(next, end) - a) / this.pageSize)
        this.flushHashPages(ctx, a, ptePage(env, ptr), count)
      }
      a = next
    }
  }

  /**
   * `flush_tlb_mm`: the kernel runs flush_range over each vma of the mm; the
   * model, which has no vmas here, covers all of user space (ptes exist only
   * under vmas, so the effect is the same).
   */
  flushTlbMm(mm: number): void {
    this.flushTlbRange(mm, 0, Number(this.env.arch.geometry.TASK_SIZE))
  }

  /** No batching on ppc32: every flush is immediate. */
  flushTlbPending(_cpu?: number): void {}

  /**
   * A pte-driven flush finds this HPTE when the pte has `_PAGE_HASHPTE` and the
   * HPTE is the first match in search order (flush_hash_pages invalidates one).
   */
  protected trackReason(slot: number, lo: number): string {
    if ((lo & this.bits.HASHPTE) === 0) return 'HPTE not tracked by pte'
    // ptep_test_and_clear_young flushes the HPTE of a pte it makes old, so that
    // the next access faults into hash_page and sets ACCESSED again.
    if ((lo & this.bits.ACCESSED) === 0) return 'accessed bit cleared without a flush'
    const { hpt } = this
    const ctx = hpt.context[slot]!
    const vpn = hpt.vpn[slot]!
    if (hpt.find(this.hash(ctx, vpn * this.pageSize), ctx, vpn) !== slot) return 'duplicate HPTE'
    return ''
  }
}
