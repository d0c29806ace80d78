import { describe, expect, it } from 'vitest'
import { KernelBugError, KM, KmapAtomic } from '../src/index.js'

describe('kmap_atomic slots (arch/i386/mm/highmem.c)', () => {
  it('KM_PTE0 and KM_PTE1 nest; each must be released on the cpu that took it', () => {
    const k = new KmapAtomic(2)
    k.map(0, KM.KM_PTE0, 100, true)
    k.map(0, KM.KM_PTE1, 101, true)
    expect(k.outstanding()).toEqual([
      { cpu: 0, slot: 'KM_PTE0', pfn: 100, highmem: true },
      { cpu: 0, slot: 'KM_PTE1', pfn: 101, highmem: true },
    ])
    expect(() => k.unmap(1, KM.KM_PTE0, 100, true)).toThrow(KernelBugError)
    k.unmap(0, KM.KM_PTE1, 101, true)
    k.unmap(0, KM.KM_PTE0, 100, true)
    expect(k.outstanding()).toEqual([])
    expect(k.highmemMaps).toBe(2)
  })

  it('taking a slot that is in use is the DEBUG_HIGHMEM BUG', () => {
    const k = new KmapAtomic(1)
    k.map(0, KM.KM_PTE0, 7, true)
    expect(() => k.map(0, KM.KM_PTE0, 8, true)).toThrow(/KM_PTE0 already in use/)
  })

  it('the same cpu slot is independent per cpu', () => {
    const k = new KmapAtomic(2)
    k.map(0, KM.KM_PTE0, 7, true)
    k.map(1, KM.KM_PTE0, 8, true)
    expect(k.holder(0, KM.KM_PTE0)).toBe(7)
    expect(k.holder(1, KM.KM_PTE0)).toBe(8)
  })

  it('KM_PTE2 exists only in the pte_chain kernels', () => {
    expect(() => new KmapAtomic(1).map(0, KM.KM_PTE2, 1, true)).toThrow(/no slot KM_PTE2/)
    const k = new KmapAtomic(1, { ptechains: true })
    k.map(0, KM.KM_PTE2, 1, true)
    expect(k.holder(0, KM.KM_PTE2)).toBe(1)
  })

  it('strict mode checks lowmem pairing too; non-strict ignores lowmem as the kernel does', () => {
    const strict = new KmapAtomic(1)
    strict.map(0, KM.KM_PTE0, 3, false)
    expect(() => strict.map(0, KM.KM_PTE0, 4, false)).toThrow(KernelBugError)
    const lax = new KmapAtomic(1, { strict: false })
    lax.map(0, KM.KM_PTE0, 3, false)
    lax.map(0, KM.KM_PTE0, 4, false)
    expect(lax.outstanding()).toEqual([])
  })
})
