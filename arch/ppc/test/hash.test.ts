// The ppc32 hashed page table: hash_page fills it, pte updates keep
// _PAGE_HASHPTE, flush_hash_pages empties it (docs/layouts.md#ppc, docs/layouts.md#mmu-cache-coherence).
import {
  KernelBugError,
  NO_MAPPING,
  PageTableEnv,
  pteAllocMap,
  ptePage,
  pteUnmap,
  pteVal,
  pteWordOffset,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { PpcHashTable, ppc } from '../src/index.js'

const { fast, prot } = ppc
const A = 0x10003000

/** A machine with one mm and a present user pte at A mapping `pfn` with `p`. */
function setup(p: bigint = prot.PAGE_SHARED, pfn = 0x1234) {
  const env = new PageTableEnv({ arch: ppc })
  const mm = env.mmCreate()
  const ptr = pteAllocMap(env, mm, A)
  pteUnmap(env, ptr)
  env.mmu.setPte(ptr, fast.mkPteLo(pfn, Number(p)), 0)
  return { env, mm, ptr, mmu: env.mmu as PpcHashTable }
}

describe('ppc hash_page', () => {
  it('fills the HPT and sets ACCESSED and _PAGE_HASHPTE (DIRTY on a write)', () => {
    const { env, mm, ptr, mmu } = setup()
    expect(mmu).toBeInstanceOf(PpcHashTable)
    expect(mmu.size).toBe(0)
    expect(mmu.access(mm, A, ptr, false)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x1234507n)
    expect(mmu.size).toBe(1)
    expect(mmu.cachedPfn(1, mm, A)).toBe(0x1234)
    expect(mmu.access(mm, A, ptr, true)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x1234587n)
    expect(mmu.size).toBe(1) // found through HASHPTE and updated in place
    expect(mmu.stale()).toEqual([])
  })

  it('puts the HPTE where the 6xx hash says: CTX_TO_VSID, primary group first', () => {
    const { mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, false)
    // context 1: vsid = (14352 + 1 * 0x111) & 0xffffff = 0x3921; page index 0x0003
    expect(mmu.hash(1, A)).toBe(0x3921 ^ 0x3)
    const slot = mmu.hpt.find(mmu.hash(1, A), 1, A / 4096)
    expect(slot).toBe((0x3922 & 1023) * 8)
  })

  it('faults without touching the pte: not present, PROT_NONE (no USER), write to a read-only pte', () => {
    const { env, mm, ptr, mmu } = setup(prot.PAGE_COPY)
    expect(mmu.access(mm, A, ptr, true)).toBe(false)
    expect(pteVal(env, ptr)).toBe(0x1234105n)
    mmu.setPte(ptr, fast.mkPteLo(0x1234, Number(prot.PAGE_NONE)), 0)
    expect(mmu.access(mm, A, ptr, false)).toBe(false)
    mmu.setPte(ptr, 0, 0)
    expect(mmu.access(mm, A, ptr, false)).toBe(false)
    expect(mmu.size).toBe(0)
  })

  it('a read of a clean writable pte makes a read-only HPTE; the first write upgrades it', () => {
    const { mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, false)
    const slot = mmu.hpt.find(mmu.hash(1, A), 1, A / 4096)
    expect(mmu.hpt.write[slot]).toBe(0)
    mmu.access(mm, A, ptr, true)
    expect(mmu.hpt.write[slot]).toBe(1)
  })
})

describe('ppc pte updates and flush_hash_pages', () => {
  it('set_pte keeps _PAGE_HASHPTE; ptep_get_and_clear keeps only it', () => {
    const { env, mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, false)
    mmu.setPte(ptr, fast.mkPteLo(0x999, Number(prot.PAGE_COPY)), 0)
    expect(pteVal(env, ptr)).toBe(0x999107n)
    expect(mmu.stale().map((s) => s.reason)).toEqual(['pfn changed'])
    expect(mmu.ptepGetAndClear(ptr)).toBe(0x999107)
    expect(pteVal(env, ptr)).toBe(0x2n)
    expect(fast.none(0x2, 0)).toBe(true)
  })

  it('a clear without a flush leaves a stale HPTE; flush_tlb_page removes it and clears HASHPTE', () => {
    const { env, mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, true)
    mmu.ptepGetAndClear(ptr)
    expect(mmu.stale()).toEqual([
      { cpu: -1, mm, address: A, cachedPfn: 0x1234, cachedWrite: true, reason: 'pte cleared' },
    ])
    mmu.flushTlbPage(mm, A)
    expect(mmu.stale()).toEqual([])
    expect(mmu.size).toBe(0)
    expect(pteVal(env, ptr)).toBe(0n)
  })

  it('write-protect and clean need the caller flush (flush_tlb_range, flush_tlb_mm)', () => {
    const { mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, true)
    mmu.ptepSetWrprotect(ptr)
    expect(mmu.stale().map((s) => s.reason)).toEqual(['write-protected'])
    mmu.flushTlbRange(mm, A, A + 1)
    expect(mmu.size).toBe(0)
    mmu.setPte(ptr, fast.mkPteLo(0x1234, Number(prot.PAGE_SHARED)), 0)
    mmu.access(mm, A, ptr, true)
    expect(mmu.ptepTestAndClearDirty(ptr)).toBe(true)
    expect(mmu.stale().map((s) => s.reason)).toEqual(['dirty bit cleared'])
    mmu.flushTlbMm(mm)
    expect(mmu.stale()).toEqual([])
    expect(mmu.size).toBe(0)
  })

  it('an HPTE whose pte lost _PAGE_HASHPTE is not found by the flush: the hazard', () => {
    const { env, mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, false)
    const w = env.tables.words
    w[pteWordOffset(env, ptr)] = w[pteWordOffset(env, ptr)]! & ~0x2 // a pte write that dropped HASHPTE
    mmu.flushTlbPage(mm, A)
    expect(mmu.size).toBe(1)
    expect(mmu.stale().map((s) => s.reason)).toEqual(['HPTE not tracked by pte'])
    // The next miss inserts a second HPTE for the same page (the real HPT
    // then holds two); the flush invalidates the first it finds only.
    mmu.access(mm, A, ptr, false)
    expect(mmu.duplicates).toBe(1)
    expect(mmu.size).toBe(2)
    expect(mmu.stale().map((s) => s.reason)).toEqual(['duplicate HPTE'])
    mmu.flushTlbPage(mm, A)
    expect(mmu.size).toBe(1)
    expect(mmu.stale().map((s) => s.reason)).toEqual(['HPTE not tracked by pte'])
  })

  it('a full group spills into the secondary group, then evicts', () => {
    const { env, mm, mmu } = setup()
    // Pages 0x800 apart in one segment share the primary group (hash = vsid ^ page).
    const addrs = Array.from({ length: 17 }, (_, k) => 0x10000000 + k * 0x800 * 4096)
    for (const a of addrs) {
      const p = pteAllocMap(env, mm, a)
      pteUnmap(env, p)
      mmu.setPte(p, fast.mkPteLo(0x100, Number(prot.PAGE_SHARED)), 0)
      mmu.access(mm, a, p, false)
    }
    const primary = mmu.hpt.primaryGroup(mmu.hash(1, addrs[0]!))
    expect(addrs.map((a) => mmu.hpt.primaryGroup(mmu.hash(1, a)))).toEqual(addrs.map(() => primary))
    expect(mmu.size).toBe(16)
    expect(mmu.hpt.evictions).toBe(1)
    expect(mmu.hpt.secondary[mmu.hpt.secondaryGroup(mmu.hash(1, addrs[8]!))]).toBe(1)
    expect(mmu.cachedPfn(0, mm, addrs[0]!)).toBe(-1) // evicted: its pte keeps HASHPTE, harmlessly
    expect(mmu.stale()).toEqual([])
  })
})

describe('ppc ptep_test_and_clear_young (flush_hash_one_pte)', () => {
  it('clears ACCESSED and flushes the HPTE found through the pte page tag (the correct behaviour)', () => {
    const { env, mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, false)
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x1234405n) // neither ACCESSED nor HASHPTE
    expect(mmu.size).toBe(0)
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(false)
    expect(mmu.access(mm, A, ptr, false)).toBe(true)
    expect(mmu.size).toBe(1)
  })

  it('flush_hash_one_pte on an untagged pte page dereferences a NULL mm', () => {
    const { env, mm, ptr, mmu } = setup()
    mmu.access(mm, A, ptr, false)
    env.setPageMapping(ptePage(env, ptr), NO_MAPPING, 0n)
    expect(() => mmu.ptepTestAndClearYoung(ptr)).toThrow(KernelBugError)
  })
})
