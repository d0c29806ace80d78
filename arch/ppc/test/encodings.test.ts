// Encodings against the published rows of packages/conformance/src/fixtures/ppc.ts (the rows
// @rmaplab/conformance ships) and the values of docs/layouts.md#ppc.

import { FIXTURES } from '@rmaplab/conformance'
import { ArchLimitError, KernelBugError } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { historical, ppc } from '../src/index.js'

// The published vector rows, as @rmaplab/conformance ships them, in tuples.
const V = FIXTURES['ppc']!
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
// ptep_to_address: [addr, page_index, byte_offset, generic_2_6_5, generic_2_6_6, ppc_flush_hash_one_pte]
const PTEP_TO_ADDRESS = V.ptep_to_address.map(
  (r) =>
    [
      h(r.addr),
      h(r.page_index),
      h(r.byte_offset),
      h(r.generic_2_6_5),
      h(r.generic_2_6_6),
      h(r['ppc_flush_hash_one_pte']!),
    ] as const,
)

const lo = (v: bigint): number => Number(v & 0xffffffffn)

describe('ppc geometry and constants (docs/layouts.md#ppc)', () => {
  it('has the 6xx layout with the Kconfig defaults', () => {
    const g = ppc.geometry
    expect([g.PGDIR_SHIFT, g.PMD_SHIFT, g.PTRS_PER_PGD, g.PTRS_PER_PMD, g.PTRS_PER_PTE]).toEqual([
      22, 22, 1024, 1, 1024,
    ])
    expect(g.levels).toBe(2)
    expect(g.TASK_SIZE).toBe(0x80000000n)
    expect(g.PAGE_OFFSET).toBe(0xc0000000n)
    expect(g.USER_PTRS_PER_PGD).toBe(512)
    expect(g.PTE_FILE_MAX_BITS).toBe(29)
    expect(g.SWAP_MAXPAGES_LIMIT).toBe(0xfffffen)
  })

  it('defines every _PAGE_* and mask with the kernel values', () => {
    expect(ppc.bits).toMatchObject({
      _PAGE_PRESENT: 0x1n,
      _PAGE_HASHPTE: 0x2n,
      _PAGE_FILE: 0x4n,
      _PAGE_USER: 0x4n,
      _PAGE_GUARDED: 0x8n,
      _PAGE_COHERENT: 0x10n,
      _PAGE_NO_CACHE: 0x20n,
      _PAGE_WRITETHRU: 0x40n,
      _PAGE_DIRTY: 0x80n,
      _PAGE_ACCESSED: 0x100n,
      _PAGE_EXEC: 0x200n,
      _PAGE_RW: 0x400n,
      _PAGE_SHARED: 0n,
      _PAGE_HWWRITE: 0n,
      _PAGE_HWEXEC: 0n,
      _PTE_NONE_MASK: 0x2n,
      _PMD_PRESENT: 0n,
      _PMD_PRESENT_MASK: 0xfffff000n,
      _PMD_BAD: 0xfffn,
      _PAGE_CHG_MASK: 0xfffff180n,
      _PAGE_BASE: 0x101n,
      _PAGE_WRENABLE: 0x480n,
      _PAGE_KERNEL: 0x581n,
      _PAGE_KERNEL_RO: 0x101n,
      _PAGE_IO: 0x5a9n,
      _PAGE_RAM: 0x581n,
    })
  })

  it('has the protection values, _X variants and PAGE_KERNEL_NOCACHE', () => {
    expect(ppc.prot).toEqual({
      PAGE_NONE: 0x101n,
      PAGE_SHARED: 0x505n,
      PAGE_COPY: 0x105n,
      PAGE_READONLY: 0x105n,
      PAGE_KERNEL: 0x581n,
      PAGE_READONLY_X: 0x305n,
      PAGE_SHARED_X: 0x705n,
      PAGE_COPY_X: 0x305n,
      PAGE_KERNEL_NOCACHE: 0x5a9n,
    })
  })

  it('maps exec to the _X values in protection_map', () => {
    const { prot } = ppc
    expect(ppc.protectionMap.private).toEqual([
      prot.PAGE_NONE,
      prot.PAGE_READONLY_X,
      prot.PAGE_COPY,
      prot.PAGE_COPY_X,
      prot.PAGE_READONLY,
      prot.PAGE_READONLY_X,
      prot.PAGE_COPY,
      prot.PAGE_COPY_X,
    ])
    expect(ppc.protectionMap.shared[0b011]).toBe(0x705n)
    expect(ppc.protectionMap.shared[0b010]).toBe(0x505n)
  })
})

describe('ppc encodings: vector rows', () => {
  it.each(MK_PTE)('mk_pte(%s, %s)', (pfn, name, pte, back, present, young, dirty, write) => {
    const p = ppc.prot[name]!
    expect(ppc.macros.mkPte(pfn, p)).toBe(pte)
    expect(ppc.ptePfn(pte)).toBe(back)
    expect([ppc.ptePresent(pte), ppc.pteYoung(pte), ppc.pteDirty(pte), ppc.pteWrite(pte)]).toEqual([
      present,
      young,
      dirty,
      write,
    ])
    if (pfn <= 0xfffffn) {
      expect(ppc.mkPte(pfn, p)).toBe(pte)
      expect(ppc.fast.mkPteLo(Number(pfn), Number(p))).toBe(lo(pte))
      expect(ppc.fast.pfn(lo(pte), 0)).toBe(Number(back))
    } else {
      expect(() => ppc.mkPte(pfn, p)).toThrow(ArchLimitError)
    }
  })

  it.each(SWP)('swap type %i offset %s', (type, offset, entry, generic, pte, bt, bo, none) => {
    expect(ppc.macros.swap.archEntry(type, offset)).toBe(entry)
    expect(ppc.macros.swap.genericVal(type, offset)).toBe(generic)
    expect(ppc.macros.swpEntryToPte(type, offset)).toBe(pte)
    expect(ppc.macros.pteToSwpEntry(pte)).toEqual({ type: bt, offset: bo })
    expect(ppc.macros.pteNone(pte)).toBe(none)
    expect(ppc.ptePresent(pte) || ppc.pteFile(pte)).toBe(false)
    if (offset <= 0xffffffn) {
      expect(ppc.fast.swpLo(type, Number(offset))).toBe(Number(pte))
      expect(ppc.fast.swpType(Number(pte), 0)).toBe(bt)
      expect(ppc.fast.swpOffset(Number(pte), 0)).toBe(Number(bo))
    }
  })

  it.each(PGOFF)('pgoff_to_pte(%s)', (pgoff, pte, back) => {
    expect(ppc.macros.pgoffToPte(pgoff)).toBe(pte)
    expect(ppc.pteToPgoff(pte)).toBe(back)
    expect(ppc.pteFile(pte) && !ppc.ptePresent(pte)).toBe(true)
    if (pgoff < 1n << 29n) {
      expect(ppc.pgoffToPte(pgoff)).toBe(pte)
      expect(ppc.fast.pgoffLo(Number(pgoff))).toBe(Number(pte))
      expect(ppc.fast.pgoff(Number(pte), 0)).toBe(Number(back))
    }
  })

  it.each(INDEX)('indices of %s', (addr, pgd, pmd, pte) => {
    expect([ppc.pgdIndex(addr), ppc.pmdIndex(addr), ppc.pteIndex(addr)]).toEqual([pgd, pmd, pte])
    const a = Number(addr)
    expect([ppc.fast.pgdIndex(a), ppc.fast.pmdIndex(a), ppc.fast.pteIndex(a)]).toEqual([pgd, pmd, pte])
  })
})

describe('ppc predicates and limits', () => {
  it('pte_none ignores _PAGE_HASHPTE: a cleared pte may keep it', () => {
    expect(ppc.pteNone(0x2n)).toBe(true)
    expect(ppc.fast.none(0x2, 0)).toBe(true)
    expect(ppc.pteNone(0x3n)).toBe(false)
    expect(ppc.pteNone(0x4n)).toBe(false)
  })

  it('pte_present is _PAGE_PRESENT alone: PAGE_NONE is present without USER', () => {
    expect(ppc.ptePresent(ppc.mkPte(1n, ppc.prot.PAGE_NONE))).toBe(true)
    expect(ppc.mkPte(1n, ppc.prot.PAGE_NONE) & ppc.bits._PAGE_USER!).toBe(0n)
  })

  it('upper-level entries hold the physical address of the pte page', () => {
    expect(ppc.fast.pmdEntryLo(0x1234)).toBe(0x1234000)
    expect(ppc.fast.pmdPfn(0x1234000, 0)).toBe(0x1234)
  })

  it('refuses what the layout cannot hold and keeps the swap BUG()s', () => {
    expect(() => ppc.swpEntryToPte(0, 0x1000000n)).toThrow(/0xffffff/)
    expect(() => ppc.pgoffToPte(1n << 29n)).toThrow(ArchLimitError)
    expect(() => ppc.pgdIndex(1n << 32n)).toThrow(ArchLimitError)
    expect(() => ppc.pteToSwpEntry(ppc.pgoffToPte(5n))).toThrow(KernelBugError)
  })
})

describe('ppc ptep_to_address formulas (docs/layouts.md#mmu-cache-coherence)', () => {
  it.each(PTEP_TO_ADDRESS)('pte of %s', (addr, index, offset, g265, g266, literal) => {
    expect(index + offset * 1024n).toBe(addr)
    expect(historical.genericPtepToAddress265(index, offset)).toBe(g265)
    expect(historical.genericPtepToAddress266(index, offset)).toBe(g266)
    expect(historical.flushHashOnePteAddress(index, offset)).toBe(literal)
  })

  it('2.6.5 ptep_test_and_clear_young never reaches its flush: old is masked to _PAGE_ACCESSED first', () => {
    for (const old of [0x0n, 0x2n, 0x102n, 0x1235507n, 0xffffffffn]) {
      expect(historical.ptepTestAndClearYoungFlushes(old)).toBe(false)
    }
  })
})
