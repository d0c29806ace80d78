/**
 * `defineArch`: build an {@link Arch} from its raw parts. The arch supplies the
 * kernel macros with their C truncation; `defineArch` derives the strict
 * surface, which rejects every value the kernel could not represent with an
 * {@link ArchLimitError} naming the limit, and the BUG()s of the generic swap
 * code as {@link KernelBugError}s.
 */
import { ArchLimitError, KernelBugError } from '../errors.js'
import type { KernelProfile } from './env.js'
import {
  type Arch,
  type ArchCapabilities,
  type ArchGeometry,
  type ArchMacros,
  type ArchMmu,
  type ArchPgtable,
  type ArchProt,
  MAX_SWAPFILES,
  type PteCodec,
  type SwpEntry,
} from './types.js'

/** Everything an arch supplies; {@link defineArch} adds the strict surface. */
export interface ArchSpec {
  readonly name: Arch['name']
  readonly description: string
  readonly geometry: ArchGeometry
  readonly bits: Readonly<Record<string, bigint>>
  readonly prot: ArchProt
  readonly protectionMap: Arch['protectionMap']
  readonly macros: ArchMacros
  readonly fast: PteCodec
  readonly pgtable: ArchPgtable
  readonly mmu: ArchMmu
  readonly capabilities: ArchCapabilities
  readonly profiles?: readonly KernelProfile[]
}

const hex = (v: bigint): string => `0x${v.toString(16)}`

/** Assemble an arch; the result is frozen. */
export function defineArch(spec: ArchSpec): Arch {
  const g = spec.geometry
  const m = spec.macros
  const name = spec.name
  const longLimit = 1n << BigInt(g.BITS_PER_LONG)
  const pteLimit = 1n << BigInt(g.PTE_BITS)
  const pgoffLimit = 1n << BigInt(g.PTE_FILE_MAX_BITS)
  const protLimit = 1n << BigInt(g.PTE_PFN_SHIFT)

  const big = (fn: string, arg: string, v: unknown, limit: bigint, limitText: string): bigint => {
    if (typeof v !== 'bigint') throw new ArchLimitError(name, fn, arg, 'a bigint', v)
    if (v < 0n) throw new ArchLimitError(name, fn, arg, 'an unsigned value (>= 0)', v)
    if (v >= limit) throw new ArchLimitError(name, fn, arg, limitText, v)
    return v
  }
  const pte = (fn: string, v: unknown): bigint =>
    big(fn, 'pte', v, pteLimit, `a ${g.PTE_BITS}-bit pte (< ${hex(pteLimit)})`)
  const addr = (fn: string, v: unknown): bigint =>
    big(fn, 'addr', v, longLimit, `a ${g.BITS_PER_LONG}-bit address (< ${hex(longLimit)})`)

  const strict = {
    mkPte(pfn: bigint, prot: bigint): bigint {
      big(
        'mkPte',
        'pfn',
        pfn,
        g.MAX_PTE_PFN + 1n,
        `at most the largest pfn a pte holds (${hex(g.MAX_PTE_PFN)})`,
      )
      big('mkPte', 'prot', prot, protLimit, `protection bits below the pfn field (< ${hex(protLimit)})`)
      return m.mkPte(pfn, prot)
    },
    ptePfn: (v: bigint) => m.ptePfn(pte('ptePfn', v)),
    ptePresent: (v: bigint) => m.ptePresent(pte('ptePresent', v)),
    pteNone: (v: bigint) => m.pteNone(pte('pteNone', v)),
    pteFile: (v: bigint) => m.pteFile(pte('pteFile', v)),
    pteYoung: (v: bigint) => m.pteYoung(pte('pteYoung', v)),
    pteDirty: (v: bigint) => m.pteDirty(pte('pteDirty', v)),
    pteWrite: (v: bigint) => m.pteWrite(pte('pteWrite', v)),
    swpEntryToPte(type: number, offset: bigint): bigint {
      if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type >= MAX_SWAPFILES) {
        throw new ArchLimitError(
          name,
          'swpEntryToPte',
          'type',
          `a swap type below MAX_SWAPFILES (${MAX_SWAPFILES})`,
          type,
        )
      }
      big(
        'swpEntryToPte',
        'offset',
        offset,
        g.SWP_OFFSET_MAX + 1n,
        `at most the largest swap offset the pte encoding holds (${hex(g.SWP_OFFSET_MAX)})`,
      )
      const out = m.swpEntryToPte(type, offset)
      if (m.pteFile(out)) {
        throw new KernelBugError(
          'swp_entry_to_pte produced a file pte',
          'include/linux/swapops.h swp_entry_to_pte',
        )
      }
      return out
    },
    pteToSwpEntry(v: bigint): SwpEntry {
      pte('pteToSwpEntry', v)
      if (m.pteFile(v)) {
        throw new KernelBugError(
          'pte_to_swp_entry of a file pte',
          'include/linux/swapops.h pte_to_swp_entry',
          hex(v),
        )
      }
      return m.pteToSwpEntry(v)
    },
    pgoffToPte(pgoff: bigint): bigint {
      big('pgoffToPte', 'pgoff', pgoff, pgoffLimit, `below 2^PTE_FILE_MAX_BITS (2^${g.PTE_FILE_MAX_BITS})`)
      return m.pgoffToPte(pgoff)
    },
    pteToPgoff: (v: bigint) => m.pteToPgoff(pte('pteToPgoff', v)),
    pgdIndex: (a: bigint) => m.pgdIndex(addr('pgdIndex', a)),
    pmdIndex: (a: bigint) => m.pmdIndex(addr('pmdIndex', a)),
    pteIndex: (a: bigint) => m.pteIndex(addr('pteIndex', a)),
  }

  return Object.freeze({
    name,
    description: spec.description,
    geometry: Object.freeze({ ...g }),
    bits: Object.freeze({ ...spec.bits }),
    prot: Object.freeze({ ...spec.prot }),
    protectionMap: Object.freeze({
      private: Object.freeze([...spec.protectionMap.private]),
      shared: Object.freeze([...spec.protectionMap.shared]),
    }),
    macros: spec.macros,
    fast: spec.fast,
    pgtable: spec.pgtable,
    mmu: spec.mmu,
    capabilities: Object.freeze({ ...spec.capabilities }),
    profiles: Object.freeze([...(spec.profiles ?? ['2.6.5-aa', '2.6.7', '2.6.4'])]),
    ...strict,
  })
}

/** `x & (2^bits - 1)`: the C truncation of an unsigned value to `bits` bits. */
export function trunc(x: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, x)
}
