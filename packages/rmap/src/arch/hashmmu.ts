/**
 * Hashed page tables: the machinery the ppc and ppc64 MMU caches share.
 *
 * A PowerPC hash MMU does not walk the Linux page tables. It looks a
 * translation up in one global hashed page table (HPT) of 8-entry groups
 * (PTEGs): the primary group is chosen by a hash of the virtual segment id
 * (VSID, made from mm->context and the effective address) and the page index,
 * and when that group is full the secondary group (the complemented hash) is
 * used. A miss traps to `hash_page`, which reads the Linux pte and inserts an
 * HPTE; when both groups are full an existing HPTE is evicted.
 *
 * The Linux pte remembers that an HPTE exists (`_PAGE_HASHPTE`; on ppc64 also
 * the slot in its group and the secondary flag) so that a pte change can find
 * and invalidate it. An HPTE that its pte no longer tracks can never be
 * flushed: that is the hazard the model makes observable through
 * {@link HashMmu.stale}.
 *
 * Slots live in typed arrays, tagged with (context, virtual page number) as the
 * hardware tags them with the VSID and page. The owning mm is recorded too
 * (the hardware does not), only to report stale entries.
 */
import { lookupPte, pteWordOffset } from '../pgtable.js'
import type { PgtableEnv } from './env.js'
import type { MmuCache, PtePtr, StaleEntry } from './mmu.js'
import { staleReason } from './tlb.js'

/** HPTEs per group (PTEG), on both the 32-bit and the 64-bit hash MMU. */
export const HPTES_PER_GROUP = 8

/**
 * The HPT itself: `groups` PTEGs of {@link HPTES_PER_GROUP} slots. Callers pass
 * the primary hash; the table applies `htab_hash_mask` and the complement for
 * the secondary group.
 */
export class HashedPageTable {
  /** Number of groups (a power of two). */
  readonly groups: number
  /** `htab_hash_mask`: groups - 1. */
  readonly hashMask: number
  /** Number of slots: groups * 8. */
  readonly slots: number
  /** 1 where the slot holds a valid HPTE (the V bit). */
  readonly valid: Uint8Array
  /** The context (VSID base) the HPTE translates for. */
  readonly context: Float64Array
  /** The virtual page number (effective address >> PAGE_SHIFT) it translates. */
  readonly vpn: Float64Array
  /** The mm whose fault created it (model bookkeeping, for stale reports). */
  readonly mm: Int32Array
  /** The physical page it maps. */
  readonly pfn: Float64Array
  /** 1 where the PP bits allow user writes (the pte was RW and DIRTY). */
  readonly write: Uint8Array
  /** 1 where the HPTE sits in its secondary group (the H bit). */
  readonly secondary: Uint8Array
  /** Valid HPTEs. */
  count = 0
  /** HPTEs thrown out to make room (both groups full). */
  evictions = 0
  private nextVictim = 0

  constructor(groups: number) {
    if (!Number.isInteger(groups) || groups < 2 || groups > 1 << 24 || (groups & (groups - 1)) !== 0) {
      throw new RangeError(`HashedPageTable: groups must be a power of two in 2..2^24, got ${groups}`)
    }
    this.groups = groups
    this.hashMask = groups - 1
    this.slots = groups * HPTES_PER_GROUP
    this.valid = new Uint8Array(this.slots)
    this.context = new Float64Array(this.slots)
    this.vpn = new Float64Array(this.slots)
    this.mm = new Int32Array(this.slots)
    this.pfn = new Float64Array(this.slots)
    this.write = new Uint8Array(this.slots)
    this.secondary = new Uint8Array(this.slots)
  }

  /** First slot of the primary group of `hash`. */
  primaryGroup(hash: number): number {
    return (hash & this.hashMask) * HPTES_PER_GROUP
  }

  /** First slot of the secondary group of `hash` (the complemented hash). */
  secondaryGroup(hash: number): number {
    return (~hash & this.hashMask) * HPTES_PER_GROUP
  }

  /** True when `slot` holds a valid HPTE for (context, vpn): the tag check of `hpte_invalidate`/`updatepp`. */
  matches(slot: number, context: number, vpn: number): boolean {
    return this.valid[slot] === 1 && this.context[slot] === context && this.vpn[slot] === vpn
  }

  /** The first HPTE for (context, vpn) in search order (primary group, then secondary), or -1. */
  find(hash: number, context: number, vpn: number): number {
    const p = this.primaryGroup(hash)
    for (let i = 0; i < HPTES_PER_GROUP; i++) if (this.matches(p + i, context, vpn)) return p + i
    const s = this.secondaryGroup(hash)
    for (let i = 0; i < HPTES_PER_GROUP; i++) if (this.matches(s + i, context, vpn)) return s + i
    return -1
  }

  /**
   * Insert an HPTE without looking for an existing one (as `hash_page` does when
   * the pte has no `_PAGE_HASHPTE`): the first free slot of the primary group,
   * else of the secondary group, else a victim of the primary group chosen
   * round-robin (the kernels pick one by a rotating counter or the timebase).
   * Returns the slot.
   */
  insert(hash: number, context: number, vpn: number, mm: number, pfn: number, write: boolean): number {
    const p = this.primaryGroup(hash)
    for (let i = 0; i < HPTES_PER_GROUP; i++) {
      if (this.valid[p + i] === 0) return this.put(p + i, 0, context, vpn, mm, pfn, write)
    }
    const s = this.secondaryGroup(hash)
    for (let i = 0; i < HPTES_PER_GROUP; i++) {
      if (this.valid[s + i] === 0) return this.put(s + i, 1, context, vpn, mm, pfn, write)
    }
    // Both groups full: evict. The evicted HPTE's Linux pte keeps its
    // _PAGE_HASHPTE; a later flush simply finds nothing (the tag check fails).
    const victim = p + (this.nextVictim++ & (HPTES_PER_GROUP - 1))
    this.invalidate(victim)
    this.evictions++
    return this.put(victim, 0, context, vpn, mm, pfn, write)
  }

  /** `hpte_updatepp`: new protection (and pfn) for an HPTE found in place. */
  update(slot: number, pfn: number, write: boolean): void {
    this.pfn[slot] = pfn
    this.write[slot] = write ? 1 : 0
  }

  /** `hpte_invalidate` (tlbie included): the slot becomes free. */
  invalidate(slot: number): void {
    if (this.valid[slot] === 0) return
    this.valid[slot] = 0
    this.count--
  }

  private put(
    slot: number,
    secondary: 0 | 1,
    context: number,
    vpn: number,
    mm: number,
    pfn: number,
    write: boolean,
  ): number {
    this.valid[slot] = 1
    this.secondary[slot] = secondary
    this.context[slot] = context
    this.vpn[slot] = vpn
    this.mm[slot] = mm
    this.pfn[slot] = pfn
    this.write[slot] = write ? 1 : 0
    this.count++
    return slot
  }
}

/** The pte bits (low word) a hash MMU reads and sets. */
export interface HashPteBits {
  /** `_PAGE_PRESENT`. */
  readonly PRESENT: number
  /** `_PAGE_USER`: user access allowed. */
  readonly USER: number
  /** `_PAGE_RW`: user write allowed. */
  readonly RW: number
  /** `_PAGE_ACCESSED` (the HPTE's R bit). */
  readonly ACCESSED: number
  /** `_PAGE_DIRTY` (the HPTE's C bit). */
  readonly DIRTY: number
  /** `_PAGE_HASHPTE`: an HPTE exists for this pte. */
  readonly HASHPTE: number
}

/**
 * 2^shift for every page shift a layout can declare, read from an array: a
 * `2 ** shift` with a shift that is not a compile-time constant costs a
 * floating-point pow per call, which made this function 53 % of ppc64's exit
 * (one call per pte whose HPTE is flushed).
 */
const PAGE_BYTES: readonly number[] = Array.from({ length: 53 }, (_, s) => 2 ** s)

/**
 * `ptep_to_address` on numbers: page->index of the pte page plus the entry's
 * share, index × PAGE_SIZE (the correct formula; see `ptepToAddress` in
 * pgtable.ts). Exact for every user address; no bigint on the hot path.
 */
export function ptepToAddressNumber(env: PgtableEnv, ptr: PtePtr): number {
  const g = env.arch.geometry
  const n = g.PTRS_PER_PTE
  const pfn = env.tables.ptePfn(ptr)
  return env.pageIndexNumber(pfn) + (ptr - pfn * n) * PAGE_BYTES[g.PAGE_SHIFT]!
}

/**
 * The common half of a hash MMU cache: the HPT, the lookups by (mm, address)
 * and the coherence check. Subclasses supply the VSID hash, the pte updates
 * and flushes of their kernel, and how a pte tracks its HPTE.
 */
export abstract class HashMmu implements MmuCache {
  /** High word of the pte the last `ptepGetAndClear` returned. */
  lastHi = 0
  /** The hashed page table. */
  readonly hpt: HashedPageTable
  /** Bytes per page. */
  protected readonly pageSize: number

  constructor(
    protected readonly env: PgtableEnv,
    protected readonly bits: HashPteBits,
    groups: number,
  ) {
    this.hpt = new HashedPageTable(groups)
    this.pageSize = 2 ** env.arch.geometry.PAGE_SHIFT
  }

  /** The primary hash of (context, effective address): VSID bits XOR the page index. */
  abstract hash(context: number, address: number): number

  /**
   * Why a flush driven by the Linux pte (low word `lo`, high word `hi`) would
   * not find the HPTE in `slot`, or '' when it would.
   */
  protected abstract trackReason(slot: number, lo: number, hi: number): string

  // The MmuCache operations (documented on the interface), per kernel.
  abstract access(mm: number, address: number, ptr: PtePtr, write: boolean): boolean
  abstract setPte(ptr: PtePtr, lo: number, hi: number): void
  abstract ptepGetAndClear(ptr: PtePtr): number
  abstract ptepTestAndClearYoung(ptr: PtePtr): boolean
  abstract ptepTestAndClearDirty(ptr: PtePtr): boolean
  abstract ptepSetWrprotect(ptr: PtePtr): void
  abstract flushTlbPage(mm: number, address: number): void
  abstract flushTlbRange(mm: number, start: number, end: number): void
  abstract flushTlbMm(mm: number): void
  abstract flushTlbPending(cpu?: number): void

  /**
   * Whether `hash_page` makes the HPTE writable: the PP bits allow a user write
   * only for a pte that is both RW and DIRTY, so the first write to a clean
   * page faults and marks it dirty.
   */
  protected hpteWritable(lo: number): boolean {
    return (lo & this.bits.RW) !== 0 && (lo & this.bits.DIRTY) !== 0
  }

  /** The HPT is global: `cpu` is ignored. */
  cachedPfn(_cpu: number, mm: number, address: number): number {
    const { hpt } = this
    const vpn = Math.floor(address / this.pageSize)
    if (this.env.hasMm(mm)) {
      const ctx = this.env.mmContext(mm)
      const s = hpt.find(this.hash(ctx, address), ctx, vpn)
      return s < 0 ? -1 : hpt.pfn[s]!
    }
    for (let s = 0; s < hpt.slots; s++) {
      if (hpt.valid[s] === 1 && hpt.mm[s] === mm && hpt.vpn[s] === vpn) return hpt.pfn[s]!
    }
    return -1
  }

  /**
   * Every HPTE that no longer matches its pte, or that a pte-driven flush would
   * not find. Reasons, in order: those of {@link staleReason} (mm destroyed, pte
   * page freed, pte cleared, pfn changed, write-protected); `'dirty bit
   * cleared'` (a writable HPTE over a clean pte: writes would not dirty it);
   * then the subclass's tracking reason (`'HPTE not tracked by pte'`...).
   */
  stale(): StaleEntry[] {
    const { hpt, env, bits } = this
    const out: StaleEntry[] = []
    for (let s = 0; s < hpt.slots; s++) {
      if (hpt.valid[s] === 0) continue
      const mm = hpt.mm[s]!
      const address = hpt.vpn[s]! * this.pageSize
      const cachedPfn = hpt.pfn[s]!
      const cachedWrite = hpt.write[s] === 1
      let reason = staleReason(env, bits.PRESENT, bits.RW, mm, address, cachedPfn, cachedWrite)
      if (!reason) {
        const at = pteWordOffset(env, lookupPte(env, mm, address))
        const w = env.tables.words
        const lo = w[at]!
        const hi = env.arch.fast.words === 2 ? w[at + 1]! : 0
        reason = cachedWrite && (lo & bits.DIRTY) === 0 ? 'dirty bit cleared' : this.trackReason(s, lo, hi)
      }
      if (reason) out.push({ cpu: -1, mm, address, cachedPfn, cachedWrite, reason })
    }
    return out
  }

  get size(): number {
    return this.hpt.count
  }
}
