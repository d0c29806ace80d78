/**
 * Decoding one pte in its layout's own bits. Everything is read through the
 * arch's kernel-macro surface (`arch.macros.ptePresent`, `pteToSwpEntry`,
 * `pteToPgoff`...) and its `_PAGE_*` table (`arch.bits`): nothing here
 * re-encodes a bit by hand, so a layout's decoding is exactly what its package
 * says. Bigint work is fine here: only the rows on screen are decoded.
 */
import type { Arch } from '@rmaplab/rmap'

/** One named bit or field of a pte, as the header names it. */
export interface PteField {
  name: string
  /** 1 for a single bit, the field value for a multi-bit field (ppc64 `_PAGE_GROUP_IX`). */
  value: number
  /** A multi-bit field: shown as `NAME=value`. */
  field: boolean
}

/** `PRESENT`, `GROUP_IX=3`. */
export function fieldText(f: PteField): string {
  return f.field ? `${f.name}=${f.value}` : f.name
}

/** A decoded pte. */
export interface DecodedPte {
  /** pte_val as hex, zero-padded to the pte width. */
  raw: string
  kind: 'none' | 'present' | 'swap' | 'file'
  /** pte_pfn, for a present pte. */
  pfn?: number
  young?: boolean
  dirty?: boolean
  write?: boolean
  /** swp_type / swp_offset of a swap pte. */
  swapType?: number
  swapOffset?: number
  /** pte_to_pgoff of a nonlinear file pte. */
  pgoff?: number
  /** `_PAGE_*` bits and fields that are set. */
  fields: PteField[]
}

interface Mask {
  name: string
  mask: bigint
  shift: bigint
  single: boolean
}

const maskCache = new WeakMap<Arch, Mask[]>()

/**
 * The `_PAGE_*` entries of `arch.bits` that name bits or small fields of the
 * low word (not `_PAGE_BIT_*` numbers, not composite masks such as
 * `_PAGE_CHG_MASK` or `_PAGE_HPTEFLAGS`, which are unions of named bits).
 */
export function pteMasks(arch: Arch): Mask[] {
  const hit = maskCache.get(arch)
  if (hit) return hit
  const out: Mask[] = []
  const entries = Object.entries(arch.bits).filter(
    ([n, v]) => n.startsWith('_PAGE_') && !n.startsWith('_PAGE_BIT_') && v > 0n && v < 1n << 32n,
  )
  for (const [name, mask] of entries) {
    const single = (mask & (mask - 1n)) === 0n
    let shift = 0n
    while (((mask >> shift) & 1n) === 0n) shift++
    if (!single) {
      // A contiguous field (ppc64's GROUP_IX) is shown as a value; a union of named bits is skipped.
      const run = mask >> shift
      const contiguous = (run & (run + 1n)) === 0n
      const covered = entries.reduce((acc, [n, v]) => (n !== name && (mask & v) === v ? acc | v : acc), 0n)
      if (!contiguous || covered === mask || run > 0xffn) continue
      out.push({ name, mask, shift, single })
    } else out.push({ name, mask, shift, single })
  }
  maskCache.set(arch, out)
  return out
}

/** Decode `lo`/`hi` (the two 32-bit words of a pte; `hi` 0 for 32-bit ptes). */
export function decodePte(arch: Arch, lo: number, hi: number): DecodedPte {
  const mac = arch.macros
  const pte = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
  const raw = `0x${pte.toString(16).padStart(arch.geometry.PTE_BITS / 4, '0')}`
  const fields: PteField[] = []
  let kind: DecodedPte['kind']
  if (mac.pteNone(pte)) kind = 'none'
  else if (mac.ptePresent(pte)) kind = 'present'
  else if (mac.pteFile(pte)) kind = 'file'
  else kind = 'swap'
  for (const m of pteMasks(arch)) {
    const v = (pte & m.mask) >> m.shift
    if (v === 0n) continue
    // A bit that means one thing in a present pte and another in a file pte
    // (i386 _PAGE_FILE is the dirty bit; ppc64's is _PAGE_USER).
    if (kind === 'present' && m.name === '_PAGE_FILE') continue
    if (kind !== 'present' && m.name === '_PAGE_PROTNONE' && kind !== 'none') continue
    fields.push({ name: m.name.slice(6), value: Number(v), field: !m.single })
  }
  const d: DecodedPte = { raw, kind, fields }
  if (kind === 'present') {
    d.pfn = Number(mac.ptePfn(pte))
    d.young = mac.pteYoung(pte)
    d.dirty = mac.pteDirty(pte)
    d.write = mac.pteWrite(pte)
  } else if (kind === 'swap') {
    const e = mac.pteToSwpEntry(pte)
    d.swapType = e.type
    d.swapOffset = Number(e.offset)
  } else if (kind === 'file') {
    d.pgoff = Number(mac.pteToPgoff(pte))
  }
  return d
}

/** `0x0804a000` at the arch's address width. */
export function hexAddr(arch: Arch, a: number): string {
  const digits = arch.geometry.BITS_PER_LONG === 64 ? 12 : 8
  return `0x${a.toString(16).padStart(digits, '0')}`
}
