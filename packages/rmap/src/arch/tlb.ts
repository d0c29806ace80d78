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
/** Ways per set: the Pentium III data TLB is 4-way set associative. */
const WAYS = 4

/**
 * Entries per cpu: the 64-entry data TLB of the Pentium III (4-way set
 * associative, so 16 sets) for 4 KB pages. A real TLB is small, so whether a
 * missed flush leaves a stale entry depends on what happens to be cached; the
 * model keeps exactly that, replacing entries round-robin within a set.
 */
export const TLB_ENTRIES = 64

/** The i386-style per-cpu TLB, as typed arrays: no allocation on a fill or a flush. */
export class PerCpuTlb implements MmuCache {
  lastHi = 0
  /** Per cpu and slot: the key (mm * 2^30 + vpn), or -1 when empty. */
  private readonly keys: Float64Array
  /** Per cpu and slot: pfn * 2 + (writable ? 1 : 0). */
  private readonly vals: Float64Array
  /** Per cpu and set: the next way to replace. */
  private readonly victim: Uint8Array
  private readonly sets: number
  /** sets - 1 when sets is a power of two (the set of a vpn is then a mask), else -1. */
  private readonly setMask: number
  private readonly perCpu: number
  private readonly pageSize: number
  /** 1 / pageSize: a power of two, so vpn = floor(address × this) is exact. */
  private readonly perPage: number

  constructor(
    private readonly env: PgtableEnv,
    private readonly bits: TlbBits,
    entries = TLB_ENTRIES,
  ) {
    if (!Number.isInteger(entries) || entries < WAYS || entries % WAYS !== 0) {
      throw new RangeError(`PerCpuTlb: entries must be a positive multiple of ${WAYS}, got ${entries}`)
    }
    this.sets = entries / WAYS
    this.perCpu = entries
    this.keys = new Float64Array(env.cpus * entries).fill(-1)
    this.vals = new Float64Array(env.cpus * entries)
    this.victim = new Uint8Array(env.cpus * this.sets)
    this.setMask = (this.sets & (this.sets - 1)) === 0 ? this.sets - 1 : -1
    this.pageSize = 2 ** env.arch.geometry.PAGE_SHIFT
    this.perPage = 2 ** -env.arch.geometry.PAGE_SHIFT
  }

  private vpn(address: number): number {
    return Math.floor(address * this.perPage)
  }

  /** The set `vpn` falls in. */
  private set(vpn: number): number {
    return this.setMask >= 0 ? vpn & this.setMask : vpn % this.sets
  }

  /** First slot of the set `vpn` falls in, on `cpu`. */
  private setBase(cpu: number, vpn: number): number {
    return cpu * this.perCpu + this.set(vpn) * WAYS
  }

  access(mm: number, address: number, ptr: PtePtr, write: boolean, cpu: number = this.env.cpu): boolean {
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
    this.fill(cpu, mm, this.vpn(address), pfn * 2 + ((lo & b.RW) !== 0 ? 1 : 0))
    return true
  }

  /** Load a translation into its set, replacing round-robin when the set is full. */
  private fill(cpu: number, mm: number, vpn: number, value: number): void {
    const key = mm * VPN_SPAN + vpn
    const base = this.setBase(cpu, vpn)
    const k = this.keys
    let slot = -1
    for (let i = 0; i < WAYS; i++) {
      if (k[base + i] === key) {
        slot = base + i
        break
      }
      if (slot < 0 && k[base + i] === -1) slot = base + i
    }
    if (slot < 0) {
      const s = cpu * this.sets + this.set(vpn)
      slot = base + this.victim[s]!
      this.victim[s] = (this.victim[s]! + 1) & (WAYS - 1)
    }
    k[slot] = key
    this.vals[slot] = value
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
    const vpn = this.vpn(address)
    const key = mm * VPN_SPAN + vpn
    const k = this.keys
    for (let cpu = 0; cpu < this.env.cpus; cpu++) {
      const base = this.setBase(cpu, vpn)
      for (let i = 0; i < WAYS; i++) if (k[base + i] === key) k[base + i] = -1
    }
  }

  flushTlbRange(mm: number, start: number, end: number): void {
    if ((end - start) / this.pageSize > this.perCpu) {
      // A long range: one pass over every entry instead of one lookup per page.
      const lo = mm * VPN_SPAN + this.vpn(start)
      const hi = mm * VPN_SPAN + this.vpn(end - 1)
      const k = this.keys
      for (let i = 0; i < k.length; i++) if (k[i]! >= lo && k[i]! <= hi) k[i] = -1
      return
    }
    const size = this.pageSize
    for (let a = start - (start % size); a < end; a += size) this.flushTlbPage(mm, a)
  }

  flushTlbMm(mm: number): void {
    const k = this.keys
    for (let i = 0; i < k.length; i++) if (k[i]! >= 0 && Math.floor(k[i]! / VPN_SPAN) === mm) k[i] = -1
  }

  flushTlbPending(_cpu?: number): void {}

  cachedPfn(cpu: number, mm: number, address: number): number {
    if (cpu < 0 || cpu >= this.env.cpus) return -1
    const vpn = this.vpn(address)
    const key = mm * VPN_SPAN + vpn
    const base = this.setBase(cpu, vpn)
    for (let i = 0; i < WAYS; i++)
      if (this.keys[base + i] === key) return Math.floor(this.vals[base + i]! / 2)
    return -1
  }

  stale(): StaleEntry[] {
    const out: StaleEntry[] = []
    const k = this.keys
    for (let i = 0; i < k.length; i++) {
      const key = k[i]!
      if (key < 0) continue
      const cpu = Math.floor(i / this.perCpu)
      const mm = Math.floor(key / VPN_SPAN)
      const address = (key - mm * VPN_SPAN) * this.pageSize
      const v = this.vals[i]!
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
    return out
  }

  get size(): number {
    let n = 0
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i]! >= 0) n++
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
