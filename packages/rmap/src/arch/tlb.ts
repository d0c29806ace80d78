/**
 * A per-cpu TLB, as on i386: each cpu caches translations of the mms it runs,
 * and the kernel must flush every cpu in the mm's cpu_vm_mask when a pte is
 * cleared, remapped or write-protected. Hardware sets ACCESSED and DIRTY in the
 * pte itself when it loads a translation. Nothing is flushed by the pte updates
 * themselves: i386's `ptep_test_and_clear_young`, `ptep_get_and_clear` and
 * `ptep_set_wrprotect` are plain atomic bit operations, and the callers flush.
 */

import { lookupPte, pteWordOffset } from '../pgtable.js'
import type { PgtableEnv } from './env.js'
import type { MmuCache, PtePtr, StaleEntry } from './mmu.js'

/** The pte bits (low word) a hardware-walked TLB needs. */
export interface TlbBits {
  readonly PRESENT: number
  readonly USER: number
  readonly RW: number
  readonly ACCESSED: number
  readonly DIRTY: number
}

// Keys pack (mm, virtual page number): vpn < 2^30 covers every user address here.
const VPN_SPAN = 2 ** 30

/** The i386-style per-cpu TLB. */
export class PerCpuTlb implements MmuCache {
  lastHi = 0
  private readonly maps: Map<number, number>[]
  private readonly pageSize: number

  constructor(
    private readonly env: PgtableEnv,
    private readonly bits: TlbBits,
  ) {
    this.maps = Array.from({ length: env.cpus }, () => new Map<number, number>())
    this.pageSize = 2 ** env.arch.geometry.PAGE_SHIFT
  }

  private key(mm: number, address: number): number {
    return mm * VPN_SPAN + Math.floor(address / this.pageSize)
  }

  access(mm: number, address: number, ptr: PtePtr, write: boolean): boolean {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const b = this.bits
    const lo = w[at]!
    // The hardware walker checks _PAGE_PRESENT itself: a PROT_NONE pte faults.
    if ((lo & b.PRESENT) === 0 || (lo & b.USER) === 0) return false
    if (write && (lo & b.RW) === 0) return false
    w[at] = (lo | b.ACCESSED | (write ? b.DIRTY : 0)) >>> 0
    const hi = this.env.arch.fast.words === 2 ? w[at + 1]! : 0
    const pfn = this.env.arch.fast.pfn(lo, hi)
    this.maps[this.env.cpu]!.set(this.key(mm, address), pfn * 2 + ((lo & b.RW) !== 0 ? 1 : 0))
    return true
  }

  setPte(ptr: PtePtr, lo: number, hi: number): void {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    // PAE set_pte: high word first, then smp_wmb, then the low word with PRESENT.
    if (this.env.arch.fast.words === 2) w[at + 1] = hi
    w[at] = lo
  }

  ptepGetAndClear(ptr: PtePtr): number {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    // PAE: exchange the low word first, then read and clear the high word.
    const lo = w[at]!
    w[at] = 0
    if (this.env.arch.fast.words === 2) {
      this.lastHi = w[at + 1]!
      w[at + 1] = 0
    } else {
      this.lastHi = 0
    }
    return lo
  }

  private testAndClear(ptr: PtePtr, mask: number): boolean {
    const w = this.env.tables.words
    const at = pteWordOffset(this.env, ptr)
    const old = w[at]!
    w[at] = (old & ~mask) >>> 0
    return (old & mask) !== 0
  }

  ptepTestAndClearYoung(ptr: PtePtr): boolean {
    return this.testAndClear(ptr, this.bits.ACCESSED)
  }

  ptepTestAndClearDirty(ptr: PtePtr): boolean {
    return this.testAndClear(ptr, this.bits.DIRTY)
  }

  ptepSetWrprotect(ptr: PtePtr): void {
    this.testAndClear(ptr, this.bits.RW)
  }

  flushTlbPage(mm: number, address: number): void {
    const k = this.key(mm, address)
    for (const m of this.maps) m.delete(k)
  }

  flushTlbRange(mm: number, start: number, end: number): void {
    const size = this.pageSize
    if ((end - start) / size > 64) {
      // A long range: one pass over the cached entries instead of one lookup per page.
      const lo = this.key(mm, start)
      const hi = this.key(mm, end - 1)
      for (const m of this.maps) for (const k of m.keys()) if (k >= lo && k <= hi) m.delete(k)
      return
    }
    for (let a = start - (start % size); a < end; a += size) this.flushTlbPage(mm, a)
  }

  flushTlbMm(mm: number): void {
    for (const m of this.maps) {
      for (const k of m.keys()) if (Math.floor(k / VPN_SPAN) === mm) m.delete(k)
    }
  }

  flushTlbPending(): void {}

  cachedPfn(cpu: number, mm: number, address: number): number {
    const v = this.maps[cpu]?.get(this.key(mm, address))
    return v === undefined ? -1 : Math.floor(v / 2)
  }

  stale(): StaleEntry[] {
    const out: StaleEntry[] = []
    const page = this.pageSize
    this.maps.forEach((m, cpu) => {
      for (const [k, v] of m) {
        const mm = Math.floor(k / VPN_SPAN)
        const address = (k - mm * VPN_SPAN) * page
        const cachedPfn = Math.floor(v / 2)
        const cachedWrite = v % 2 === 1
        const reason = staleReason(
          this.env,
          this.bits.PRESENT,
          this.bits.RW,
          mm,
          address,
          cachedPfn,
          cachedWrite,
        )
        if (reason) out.push({ cpu, mm, address, cachedPfn, cachedWrite, reason })
      }
    })
    return out
  }

  get size(): number {
    let n = 0
    for (const m of this.maps) n += m.size
    return n
  }
}

/**
 * Why a cached translation (pfn, write) no longer matches the pte of (mm,
 * address), or '' when it still does. A cache that is *less* permissive than
 * the pte is not stale: the access faults and the fault handler refills it.
 */
export function staleReason(
  env: PgtableEnv,
  presentMask: number,
  writeMask: number,
  mm: number,
  address: number,
  cachedPfn: number,
  cachedWrite: boolean,
): string {
  if (!env.hasMm(mm)) return 'mm destroyed'
  const ptr = lookupPte(env, mm, address)
  if (ptr < 0) return 'pte page freed'
  const w = env.tables.words
  const at = pteWordOffset(env, ptr)
  const lo = w[at]!
  const hi = env.arch.fast.words === 2 ? w[at + 1]! : 0
  if ((lo & presentMask) === 0) return 'pte cleared'
  if (env.arch.fast.pfn(lo, hi) !== cachedPfn) return 'pfn changed'
  if (cachedWrite && (lo & writeMask) === 0) return 'write-protected'
  return ''
}
