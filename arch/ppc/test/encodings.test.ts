// Encodings against the published rows of kernel-facts/vectors/ppc.json (copied
// here: CI has only the repo) and the values of kernel-facts/arch.md §4.
import { ArchLimitError, KernelBugError } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { historical, ppc } from '../src/index.js'

// mk_pte: [pfn, prot name, pte, pfn_back, present, young, dirty, write]
const MK_PTE = [
  [0x0n, 'PAGE_NONE', 0x101n, 0x0n, true, true, false, false],
  [0x2n, 'PAGE_COPY', 0x2105n, 0x2n, true, true, false, false],
  [0x8048n, 'PAGE_KERNEL', 0x8048581n, 0x8048n, true, true, true, true],
  [0x80000n, 'PAGE_SHARED_X', 0x80000705n, 0x80000n, true, true, false, true],
  [0xbffffn, 'PAGE_KERNEL_NOCACHE', 0xbffff5a9n, 0xbffffn, true, true, true, true],
  [0xfffffn, 'PAGE_SHARED', 0xfffff505n, 0xfffffn, true, true, false, true],
  [0x12345n, 'PAGE_READONLY', 0x12345105n, 0x12345n, true, true, false, false],
  [0x400n, 'PAGE_READONLY_X', 0x400305n, 0x400n, true, true, false, false],
  [0x100001n, 'PAGE_COPY_X', 0x1305n, 0x1n, true, true, false, false],
  [0xfffffffn, 'PAGE_NONE', 0xfffff101n, 0xfffffn, true, true, false, false],
] as const
// swp: [type, offset, arch_entry, generic_val, pte, back type, back offset, none]
const SWP = [
  [0, 0x0n, 0x0n, 0x0n, 0x0n, 0, 0x0n, true],
  [2, 0x2n, 0x42n, 0x10000002n, 0x210n, 2, 0x2n, false],
  [5, 0x20n, 0x405n, 0x28000020n, 0x2028n, 5, 0x20n, false],
  [15, 0x100n, 0x200fn, 0x78000100n, 0x10078n, 15, 0x100n, false],
  [30, 0xabcdn, 0x1579ben, 0xf000abcdn, 0xabcdf0n, 30, 0xabcdn, false],
  [0, 0x7ffffn, 0xffffe0n, 0x7ffffn, 0x7ffff00n, 0, 0x7ffffn, false],
  [2, 0xfffffn, 0x1ffffe2n, 0x100fffffn, 0xfffff10n, 2, 0xfffffn, false],
  [5, 0x7fffffn, 0xfffffe5n, 0x287fffffn, 0x7fffff28n, 5, 0x7fffffn, false],
  [15, 0xffffffn, 0x1fffffefn, 0x78ffffffn, 0xffffff78n, 15, 0xffffffn, false],
  [30, 0x1000001n, 0x2000003en, 0xf1000001n, 0x1f0n, 30, 0x1n, false],
] as const
// pgoff: [pgoff, pte, back]
const PGOFF = [
  [0x0n, 0x4n, 0x0n],
  [0x2n, 0x14n, 0x2n],
  [0x20n, 0x104n, 0x20n],
  [0x100n, 0x804n, 0x100n],
  [0xabcden, 0x55e6f4n, 0xabcden],
  [0xfffffffn, 0x7ffffffcn, 0xfffffffn],
  [0x1ffffffen, 0xfffffff4n, 0x1ffffffen],
  [0x20000000n, 0x4n, 0x0n],
  [0xffffffffn, 0xfffffffcn, 0x1fffffffn],
] as const
// index: [addr, pgd, pmd, pte]
const INDEX = [
  [0x0n, 0, 0, 0],
  [0x1000n, 0, 0, 1],
  [0x3fffffn, 0, 0, 1023],
  [0x10000000n, 64, 0, 0],
  [0x3fffffffn, 255, 0, 1023],
  [0x7fbff000n, 510, 0, 1023],
  [0x7fffffffn, 511, 0, 1023],
  [0xbfffffffn, 767, 0, 1023],
  [0xc0001000n, 768, 0, 1],
  [0xfdfff000n, 1015, 0, 1023],
  [0xffffffffn, 1023, 0, 1023],
] as const
// ptep_to_address: [addr, page_index, byte_offset, generic_2_6_5, generic_2_6_6, ppc_flush_hash_one_pte]
const PTEP_TO_ADDRESS = [
  [0x0n, 0x0n, 0x0n, 0x0n, 0x0n, 0x0n],
  [0x1000n, 0x0n, 0x4n, 0x1000n, 0x1000n, 0x800n],
  [0x3ff000n, 0x0n, 0xffcn, 0x3ff000n, 0x3ff000n, 0x1ff800n],
  [0x10000000n, 0x10000000n, 0x0n, 0x10000000n, 0x10000000n, 0x10000000n],
  [0x3ffff000n, 0x3fc00000n, 0xffcn, 0x3ffff000n, 0x3ffff000n, 0x3fdff800n],
  [0x7fbff000n, 0x7f800000n, 0xffcn, 0x7fbff000n, 0x7fbff000n, 0x7f9ff800n],
  [0x7ffff000n, 0x7fc00000n, 0xffcn, 0x7ffff000n, 0x7ffff000n, 0x7fdff800n],
  [0xbffff000n, 0xbfc00000n, 0xffcn, 0xbffff000n, 0xbffff000n, 0xbfdff800n],
  [0xc0001000n, 0xc0000000n, 0x4n, 0xc0001000n, 0xc0001000n, 0xc0000800n],
  [0xfdfff000n, 0xfdc00000n, 0xffcn, 0xfdfff000n, 0xfdfff000n, 0xfddff800n],
  [0xfffff000n, 0xffc00000n, 0xffcn, 0xfffff000n, 0xfffff000n, 0xffdff800n],
] as const

const lo = (v: bigint): number => Number(v & 0xffffffffn)

describe('ppc geometry and constants (arch.md §4)', () => {
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

describe('ppc ptep_to_address formulas (arch.md §6)', () => {
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
