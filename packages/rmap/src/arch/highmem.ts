/**
 * `kmap_atomic` slots (include/asm-i386/kmap_types.h, arch/i386/mm/highmem.c).
 *
 * A highmem page has no permanent kernel address; to read it the kernel maps it
 * into a per-cpu fixmap slot of a given type with preemption off, and must
 * release the slot (`kunmap_atomic`) before taking the same type again or
 * leaving the cpu. `pte_offset_map` uses KM_PTE0, `pte_offset_map_nested` KM_PTE1,
 * and in 2.6.4–2.6.6 the pte_chain code used KM_PTE2 (removed by rmap 13). So a
 * pte walk nests at most two deep, three with pte_chains.
 *
 * For a lowmem page `kmap_atomic` returns the linear address and takes no slot.
 * The model still checks the pairing for lowmem pages (`strict`, the default):
 * a missing `pte_unmap` is harmless there but would break a HIGHPTE machine, so
 * the model reports it on every arch. With `strict: false` only real slot use
 * (highmem pages) is checked, exactly as CONFIG_DEBUG_HIGHMEM would.
 */
import { KernelBugError } from '../errors.js'

/** The atomic kmap slot types rmaplab uses, in the kernel's km_type order. */
export const KM_TYPES = ['KM_USER0', 'KM_USER1', 'KM_PTE0', 'KM_PTE1', 'KM_PTE2'] as const
/** One slot type. */
export type KmType = (typeof KM_TYPES)[number]
/** Slot indices. */
export const KM = { KM_USER0: 0, KM_USER1: 1, KM_PTE0: 2, KM_PTE1: 3, KM_PTE2: 4 } as const satisfies Record<
  KmType,
  number
>

const NSLOTS = KM_TYPES.length
const FREE = -1

/** The kmap_atomic slots of every cpu. */
export class KmapAtomic {
  readonly cpus: number
  readonly strict: boolean
  /** Which slot types exist in this kernel (KM_PTE2 only with pte_chains). */
  private readonly available: Uint8Array
  /** pfn held in each (cpu, slot), or -1. */
  private readonly held: Int32Array
  /** 1 where the held page is highmem (a real fixmap slot is in use). */
  private readonly fixmap: Uint8Array
  /** Number of kmap_atomic calls that used a real fixmap slot. */
  highmemMaps = 0

  constructor(cpus: number, opts: { strict?: boolean; ptechains?: boolean } = {}) {
    this.cpus = cpus
    this.strict = opts.strict ?? true
    this.available = new Uint8Array(NSLOTS).fill(1)
    if (!opts.ptechains) this.available[KM.KM_PTE2] = 0
    this.held = new Int32Array(cpus * NSLOTS).fill(FREE)
    this.fixmap = new Uint8Array(cpus * NSLOTS)
  }

  /** `kmap_atomic(page, type)` on `cpu`. */
  map(cpu: number, slot: number, pfn: number, highmem: boolean): void {
    if (!this.available[slot]) {
      throw new KernelBugError(
        `kmap_atomic: no slot ${KM_TYPES[slot]} in this kernel`,
        'include/asm-i386/kmap_types.h',
      )
    }
    if (!highmem && !this.strict) return
    const i = cpu * NSLOTS + slot
    if (this.held[i] !== FREE) {
      throw new KernelBugError(
        `kmap_atomic: ${KM_TYPES[slot]} already in use on cpu ${cpu}`,
        'arch/i386/mm/highmem.c kmap_atomic',
        `held pfn ${this.held[i]}, new pfn ${pfn}`,
      )
    }
    this.held[i] = pfn
    this.fixmap[i] = highmem ? 1 : 0
    if (highmem) this.highmemMaps++
  }

  /** `kunmap_atomic(addr, type)` on `cpu`. */
  unmap(cpu: number, slot: number, pfn: number, highmem: boolean): void {
    if (!highmem && !this.strict) return
    const i = cpu * NSLOTS + slot
    if (this.held[i] !== pfn) {
      throw new KernelBugError(
        `kunmap_atomic: ${KM_TYPES[slot]} on cpu ${cpu} does not hold pfn ${pfn}`,
        'arch/i386/mm/highmem.c kunmap_atomic',
        this.held[i] === FREE ? 'slot is free' : `slot holds pfn ${this.held[i]}`,
      )
    }
    this.held[i] = FREE
    this.fixmap[i] = 0
  }

  /** The pfn `cpu` holds in `slot`, or -1. */
  holder(cpu: number, slot: number): number {
    return this.held[cpu * NSLOTS + slot]!
  }

  /** Slots still held, as (cpu, slot type, pfn, highmem); empty when every map was released. */
  outstanding(): { cpu: number; slot: KmType; pfn: number; highmem: boolean }[] {
    const out: { cpu: number; slot: KmType; pfn: number; highmem: boolean }[] = []
    for (let c = 0; c < this.cpus; c++) {
      for (let s = 0; s < NSLOTS; s++) {
        const i = c * NSLOTS + s
        if (this.held[i] !== FREE) {
          out.push({ cpu: c, slot: KM_TYPES[s]!, pfn: this.held[i]!, highmem: this.fixmap[i] === 1 })
        }
      }
    }
    return out
  }
}
