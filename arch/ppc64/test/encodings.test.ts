// Encodings against the published rows of packages/conformance/src/fixtures/ppc64.ts
// (the rows @rmaplab/conformance ships) and the values of docs/layouts.md#ppc64.

import { FIXTURES } from '@rmaplab/conformance'
import { ArchLimitError } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { historical, ppc64, TASK_SIZE_USER32, VMALLOC_START } from '../src/index.js'

// The published vector rows, as @rmaplab/conformance ships them, in tuples.
const V = FIXTURES['ppc64']!
const h = (x: string): bigint => BigInt(x)
// mk_pte: [pfn, prot name, pte, pfn_back, present, young, dirty, write]
const MK_PTE = V.mk_pte.map(
  (r) => [h(r.pfn), r.prot, h(r.pte), h(r.pfn_back), r.present, r.young, r.dirty, r.write] as const,
)
// swp: [type, offset, arch_entry, generic_val, pte, back type, back offset, none]
const SWP = V.swp.map(
  (r) =>
    [
      r.type,
      h(r.offset),
      h(r.arch_entry),
      h(r.generic_val),
      h(r.pte),
      r.back.type,
      h(r.back.offset),
      r.none,
    ] as const,
)
// pgoff: [pgoff, pte, back]
const PGOFF = V.pgoff.map((r) => [h(r.pgoff), h(r.pte), h(r.back)] as const)
// index: [addr, pgd, pmd, pte]
const INDEX = V.index.map((r) => [h(r.addr), r.pgd, r.pmd, r.pte] as const)
// ptep_to_address: [addr, page_index, byte_offset, generic_2_6_5, generic_2_6_6, ppc64_hpte_update_2_6_7]
const PTEP_TO_ADDRESS = V.ptep_to_address.map(
  (r) =>
    [
      h(r.addr),
      h(r.page_index),
      h(r.byte_offset),
      h(r.generic_2_6_5),
      h(r.generic_2_6_6),
      h(r['ppc64_hpte_update_2_6_7']!),
    ] as const,
)

const lo = (v: bigint): number => Number(v & 0xffffffffn)
const hi = (v: bigint): number => Number((v >> 32n) & 0xffffffffn)

describe('ppc64 geometry and constants (docs/layouts.md#ppc64)', () => {
  it('has 3 levels of 4 KB pages with 64-bit ptes and 32-bit upper entries', () => {
    const g = ppc64.geometry
    expect([g.PGDIR_SHIFT, g.PMD_SHIFT, g.PTRS_PER_PGD, g.PTRS_PER_PMD, g.PTRS_PER_PTE]).toEqual([
      31, 21, 1024, 1024, 512,
    ])
    expect([g.PTE_BITS, g.PMD_ENTRY_BITS, g.PGD_ENTRY_BITS, g.BITS_PER_LONG]).toEqual([64, 32, 32, 64])
    expect(g.TASK_SIZE).toBe(0x20000000000n)
    expect(TASK_SIZE_USER32).toBe(0xfffff000n)
    expect(g.PAGE_OFFSET).toBe(0xc000000000000000n)
    expect(VMALLOC_START).toBe(0xd000000000000000n)
    expect(g.PTE_PFN_SHIFT).toBe(16)
    expect(g.PTE_FILE_MAX_BITS).toBe(48)
    expect(g.SWAP_MAXPAGES_LIMIT).toBe(0xfffffffffen)
  })

  it('defines every _PAGE_* and mask with the kernel values', () => {
    expect(ppc64.bits).toEqual({
      _PAGE_PRESENT: 0x1n,
      _PAGE_USER: 0x2n,
      _PAGE_FILE: 0x2n,
      _PAGE_RW: 0x4n,
      _PAGE_GUARDED: 0x8n,
      _PAGE_COHERENT: 0x10n,
      _PAGE_NO_CACHE: 0x20n,
      _PAGE_WRITETHRU: 0x40n,
      _PAGE_DIRTY: 0x80n,
      _PAGE_ACCESSED: 0x100n,
      _PAGE_EXEC: 0x200n,
      _PAGE_HASHPTE: 0x400n,
      _PAGE_BUSY: 0x800n,
      _PAGE_GROUP_IX: 0x7000n,
      _PAGE_SECONDARY: 0x8000n,
      _PAGE_HPTEFLAGS: 0xfc00n,
      _PAGE_CHG_MASK: 0xfffffffffffffd80n,
      _PAGE_BASE: 0x111n,
      _PAGE_WRENABLE: 0x84n,
    })
  })

  it('has the protection values, _X variants and PAGE_KERNEL_CI; exec maps to _X', () => {
    expect(ppc64.prot).toEqual({
      PAGE_NONE: 0x101n,
      PAGE_SHARED: 0x117n,
      PAGE_COPY: 0x113n,
      PAGE_READONLY: 0x113n,
      PAGE_KERNEL: 0x195n,
      PAGE_READONLY_X: 0x313n,
      PAGE_SHARED_X: 0x317n,
      PAGE_COPY_X: 0x313n,
      PAGE_KERNEL_CI: 0x1adn,
    })
    expect(ppc64.protectionMap.private).toEqual([
      0x101n,
      0x313n,
      0x113n,
      0x313n,
      0x113n,
      0x313n,
      0x113n,
      0x313n,
    ])
    expect(ppc64.protectionMap.shared).toEqual([
      0x101n,
      0x313n,
      0x117n,
      0x317n,
      0x113n,
      0x313n,
      0x117n,
      0x317n,
    ])
  })
})

describe('ppc64 encodings: vector rows', () => {
  it.each(MK_PTE)('mk_pte(%s, %s)', (pfn, name, pte, back, present, young, dirty, write) => {
    const p = ppc64.prot[name]!
    expect(ppc64.macros.mkPte(pfn, p)).toBe(pte)
    expect(ppc64.ptePfn(pte)).toBe(back)
    expect([ppc64.ptePresent(pte), ppc64.pteYoung(pte), ppc64.pteDirty(pte), ppc64.pteWrite(pte)]).toEqual([
      present,
      young,
      dirty,
      write,
    ])
    if (pfn <= 0xffffffffffffn) {
      expect(ppc64.mkPte(pfn, p)).toBe(pte)
      expect([
        ppc64.fast.mkPteLo(Number(pfn), Number(p)),
        ppc64.fast.mkPteHi(Number(pfn), Number(p)),
      ]).toEqual([lo(pte), hi(pte)])
      expect(ppc64.fast.pfn(lo(pte), hi(pte))).toBe(Number(back))
    } else {
      expect(() => ppc64.mkPte(pfn, p)).toThrow(ArchLimitError)
    }
  })

  it.each(SWP)('swap type %i offset %s', (type, offset, entry, generic, pte, bt, bo, none) => {
    expect(ppc64.macros.swap.archEntry(type, offset)).toBe(entry)
    expect(ppc64.macros.swap.genericVal(type, offset)).toBe(generic)
    expect(ppc64.macros.swpEntryToPte(type, offset)).toBe(pte)
    expect(ppc64.macros.pteToSwpEntry(pte)).toEqual({ type: bt, offset: bo })
    expect(ppc64.macros.pteNone(pte)).toBe(none)
    expect(ppc64.ptePresent(pte) || ppc64.pteFile(pte)).toBe(false)
    if (offset <= 0xffffffffffn) {
      expect(ppc64.swpEntryToPte(type, offset)).toBe(pte)
      expect([ppc64.fast.swpLo(type, Number(offset)), ppc64.fast.swpHi(type, Number(offset))]).toEqual([
        lo(pte),
        hi(pte),
      ])
      expect(ppc64.fast.swpType(lo(pte), hi(pte))).toBe(bt)
      expect(ppc64.fast.swpOffset(lo(pte), hi(pte))).toBe(Number(bo))
    } else {
      expect(() => ppc64.swpEntryToPte(type, offset)).toThrow(/0xffffffffff/)
    }
  })

  it.each(PGOFF)('pgoff_to_pte(%s)', (pgoff, pte, back) => {
    expect(ppc64.macros.pgoffToPte(pgoff)).toBe(pte)
    expect(ppc64.pteToPgoff(pte)).toBe(back)
    expect(ppc64.pteFile(pte) && !ppc64.ptePresent(pte)).toBe(true)
    if (pgoff < 1n << 48n) {
      expect([ppc64.fast.pgoffLo(Number(pgoff)), ppc64.fast.pgoffHi(Number(pgoff))]).toEqual([
        lo(pte),
        hi(pte),
      ])
      expect(ppc64.fast.pgoff(lo(pte), hi(pte))).toBe(Number(back))
    } else {
      expect(() => ppc64.pgoffToPte(pgoff)).toThrow(ArchLimitError)
    }
  })

  it.each(INDEX)('indices of %s', (addr, pgd, pmd, pte) => {
    expect([ppc64.pgdIndex(addr), ppc64.pmdIndex(addr), ppc64.pteIndex(addr)]).toEqual([pgd, pmd, pte])
    if (addr < ppc64.geometry.TASK_SIZE) {
      const a = Number(addr)
      expect([ppc64.fast.pgdIndex(a), ppc64.fast.pmdIndex(a), ppc64.fast.pteIndex(a)]).toEqual([
        pgd,
        pmd,
        pte,
      ])
    }
  })
})

describe('ppc64 predicates, entries and limits', () => {
  it('pgd_index masks with 0x7ff: TASK_SIZE (2^41) indexes entry 1024, past the pgd (kernel behaviour)', () => {
    expect(ppc64.pgdIndex(0x20000000000n)).toBe(1024)
    expect(ppc64.fast.pgdIndex(2 ** 41)).toBe(1024)
    expect(ppc64.pgdIndex(0x40000000000n)).toBe(0)
  })

  it('pte_none ignores the HPTE flags; the slot bits sit below the pfn', () => {
    expect(ppc64.pteNone(0xfc00n)).toBe(true)
    expect(ppc64.fast.none(0xfc00, 0)).toBe(true)
    expect(ppc64.fast.none(0xfc00, 1)).toBe(false)
    expect(ppc64.pteNone(0x10000n)).toBe(false)
    expect(ppc64.ptePfn(0x1234fd17n)).toBe(0x1234n)
  })

  it('a pmd entry is the pte page frame << 2, a pgd entry the pmd page frame', () => {
    expect(ppc64.fast.pmdEntryLo(0x1234)).toBe(0x48d0)
    expect(ppc64.fast.pmdPfn(0x48d0, 0)).toBe(0x1234)
    expect(ppc64.fast.pgdEntryLo(0x1234)).toBe(0x1234)
    expect(ppc64.fast.pgdPfn(0x1234, 0)).toBe(0x1234)
  })
})

describe('ppc64 ptep_to_address formulas (docs/layouts.md#finding-a-ptes-mm-and-address, docs/layouts.md#mmu-cache-coherence)', () => {
  it.each(PTEP_TO_ADDRESS)('pte of %s', (addr, index, offset, g265, g266, h267) => {
    expect(index + offset * 512n).toBe(addr)
    expect(historical.genericPtepToAddress265(index, offset)).toBe(g265)
    expect(historical.genericPtepToAddress266(index, offset)).toBe(g266)
    expect(historical.hpteUpdateAddress267(index, offset)).toBe(h267)
  })
})
