/**
 * The generic swap entry of include/linux/swapops.h (unchanged 2.6.4–2.6.7),
 * which every arch shares. A `swp_entry_t` keeps the swap type in its top
 * MAX_SWAPFILES_SHIFT (5) bits and the offset in the rest of an unsigned long;
 * `swp_entry_to_pte` and `pte_to_swp_entry` go through it on their way to and
 * from the arch's own `__swp_*` format. An arch supplies only those `__swp_*`
 * macros; {@link withGenericSwap} composes the rest as the kernel does.
 */
import { MAX_SWAPFILES_SHIFT, type SwapMacros, type SwpEntry } from './types.js'

/** The arch's own swap macros: {@link SwapMacros} without the generic packing. */
export type ArchSwapMacros = Omit<SwapMacros, 'genericVal'>

/** The arch swap macros completed with the generic packing, and the two conversions built on them. */
export interface GenericSwap {
  /** The arch's macros plus `genericVal`. */
  readonly swap: SwapMacros
  /** `swp_entry_to_pte(swp_entry(type, offset))`, with the C truncation of every step. */
  swpEntryToPte(type: number, offset: bigint): bigint
  /** `pte_to_swp_entry(pte)` split by `swp_type`/`swp_offset`. */
  pteToSwpEntry(pte: bigint): SwpEntry
}

/** Complete an arch's `__swp_*` macros with the generic swp_entry_t of a `bitsPerLong`-bit kernel. */
export function withGenericSwap(arch: ArchSwapMacros, bitsPerLong: 32 | 64): GenericSwap {
  const shift = BigInt(bitsPerLong - MAX_SWAPFILES_SHIFT)
  const offsetMask = (1n << shift) - 1n
  // swp_entry(type, offset).val, truncated to an unsigned long.
  const genericVal = (type: number, offset: bigint): bigint =>
    BigInt.asUintN(bitsPerLong, (BigInt(type) << shift) | (offset & offsetMask))
  const split = (val: bigint): SwpEntry => ({ type: Number(val >> shift), offset: val & offsetMask })
  return {
    swap: { ...arch, genericVal },
    swpEntryToPte(type, offset) {
      const { type: t, offset: o } = split(genericVal(type, offset))
      return arch.archEntryToPte(arch.archEntry(t, o))
    },
    pteToSwpEntry(pte) {
      const e = arch.pteToArchEntry(pte)
      return split(genericVal(arch.archType(e), arch.archOffset(e)))
    },
  }
}
