// The ppc64 hashed page table: __hash_page and its slot bits, hpte_update's
// per-cpu batch, flush_hash_page by slot, and the 2.6.5 / 2.6.7 differences
// (docs/layouts.md#ppc64, docs/layouts.md#mmu-cache-coherence).
import {
  KernelBugError,
  type KernelProfile,
  NO_MAPPING,
  PageTableEnv,
  pteAllocMap,
  ptePage,
  pteUnmap,
  pteVal,
  pteWordOffset,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { PPC64_TLB_BATCH_NR, Ppc64HashTable, ppc64 } from '../src/index.js'

const { fast, prot } = ppc64
const A = 0x10003000
const SHARED = Number(prot.PAGE_SHARED)

function machine(profile: KernelProfile = '2.6.5-aa') {
  const env = new PageTableEnv({ arch: ppc64, profile })
  const mm = env.mmCreate()
  const mmu = env.mmu as Ppc64HashTable
  /** A present user pte at `a` mapping `pfn`. */
  const map = (a: number, pfn = 0x1234, p = SHARED, owner = mm) => {
    const ptr = pteAllocMap(env, owner, a)
    pteUnmap(env, ptr)
    mmu.setPte(ptr, fast.mkPteLo(pfn, p), fast.mkPteHi(pfn, p))
    return ptr
  }
  return { env, mm, mmu, map }
}

const reasons = (mmu: Ppc64HashTable) => mmu.stale().map((s) => s.reason)

describe('ppc64 __hash_page', () => {
  it('sets ACCESSED|HASHPTE (DIRTY on a write) and records the slot in the pte', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A)
    expect(mmu).toBeInstanceOf(Ppc64HashTable)
    expect(mmu.access(mm, A, ptr, false)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x12340517n) // primary group, index 0
    expect(mmu.slotOf(mmu.hash(1, A), 0x12340517)).toBe(mmu.hpt.primaryGroup(mmu.hash(1, A)))
    expect(mmu.access(mm, A, ptr, true)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x12340597n)
    expect(mmu.size).toBe(1)
    expect(mmu.cachedPfn(0, mm, A)).toBe(0x1234)
    expect(mmu.stale()).toEqual([])
  })

  it('faults on a non-present pte, PAGE_NONE (no USER) and a write to a read-only pte', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A, 0x1234, Number(prot.PAGE_COPY))
    expect(mmu.access(mm, A, ptr, true)).toBe(false)
    expect(pteVal(env, ptr)).toBe(0x12340113n)
    mmu.setPte(ptr, fast.mkPteLo(1, Number(prot.PAGE_NONE)), 0)
    expect(mmu.access(mm, A, ptr, false)).toBe(false)
    expect(mmu.size).toBe(0)
  })

  it('fills a group slot by slot (GROUP_IX), then the secondary group (SECONDARY)', () => {
    const { env, mm, mmu, map } = machine()
    // Pages 2048 apart in one 256 MB segment share the primary group.
    const addrs = Array.from({ length: 10 }, (_, k) => 0x10000000 + k * 2048 * 4096)
    const g = mmu.hpt.primaryGroup(mmu.hash(1, addrs[0]!))
    const slotBits = addrs.map((a) => {
      const ptr = map(a, 0x100)
      expect(mmu.hpt.primaryGroup(mmu.hash(1, a))).toBe(g)
      mmu.access(mm, a, ptr, false)
      return Number(pteVal(env, ptr) & 0xf000n)
    })
    expect(slotBits).toEqual([0x0000, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000, 0x9000])
    expect(mmu.stale()).toEqual([])
  })
})

describe('ppc64 hpte_update and flush_tlb_pending', () => {
  it('a clear queues the HPTE; it stays until flush_tlb_pending (flush_tlb_page)', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A)
    mmu.access(mm, A, ptr, true)
    expect(mmu.ptepGetAndClear(ptr)).toBe(0x12340597)
    expect(mmu.lastHi).toBe(0)
    expect(pteVal(env, ptr)).toBe(0n)
    expect(mmu.pendingFlushes()).toBe(1)
    expect(mmu.pendingMm()).toBe(mm)
    expect(mmu.stale()).toEqual([
      { cpu: -1, mm, address: A, cachedPfn: 0x1234, cachedWrite: true, reason: 'pte cleared' },
    ])
    mmu.flushTlbPage(mm, A)
    expect(mmu.pendingFlushes()).toBe(0)
    expect(mmu.size).toBe(0)
    expect(mmu.stale()).toEqual([])
  })

  it('flush_hash_page trusts the old pte slot bits: wrong bits leave the HPTE behind', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    const at = pteWordOffset(env, ptr)
    env.tables.words[at] = env.tables.words[at]! | 0x3000 // GROUP_IX now names slot 3
    mmu.ptepGetAndClear(ptr)
    mmu.flushTlbPending()
    expect(mmu.size).toBe(1)
    expect(reasons(mmu)).toEqual(['pte cleared'])
  })

  it('an HPTE whose present pte lost HASHPTE is reported as untracked', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    env.tables.words[pteWordOffset(env, ptr)]! &= ~0x400
    expect(reasons(mmu)).toEqual(['HPTE not tracked by pte'])
    mmu.flushTlbMm(mm)
    expect(reasons(mmu)).toEqual(['HPTE not tracked by pte'])
  })

  it('a change of context mid-batch flushes the batch first', () => {
    const { env, mm, mmu, map } = machine()
    const other = env.mmCreate()
    const p1 = map(A)
    const p2 = map(A, 0x777, SHARED, other)
    mmu.access(mm, A, p1, false)
    mmu.access(other, A, p2, false)
    mmu.ptepGetAndClear(p1)
    expect([mmu.pendingFlushes(), mmu.pendingMm(), mmu.size]).toEqual([1, mm, 2])
    mmu.ptepGetAndClear(p2)
    expect([mmu.pendingFlushes(), mmu.pendingMm(), mmu.size]).toEqual([1, other, 1])
    expect(mmu.cachedPfn(0, mm, A)).toBe(-1)
    expect(mmu.cachedPfn(0, other, A)).toBe(0x777)
  })

  it(`a full batch (PPC64_TLB_BATCH_NR = ${PPC64_TLB_BATCH_NR}) is flushed at once`, () => {
    const { mm, mmu, map } = machine()
    const ptrs = Array.from({ length: 193 }, (_, i) => {
      const ptr = map(A + i * 4096)
      mmu.access(mm, A + i * 4096, ptr, false)
      return ptr
    })
    for (let i = 0; i < 191; i++) mmu.ptepGetAndClear(ptrs[i]!)
    expect([mmu.pendingFlushes(), mmu.size]).toEqual([191, 193])
    mmu.ptepGetAndClear(ptrs[191]!)
    expect([mmu.pendingFlushes(), mmu.size]).toEqual([0, 1])
  })

  it('the batch is per cpu: flushing on another cpu leaves it queued', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    mmu.ptepGetAndClear(ptr)
    env.cpu = 1
    mmu.flushTlbPending()
    expect([mmu.pendingFlushes(0), mmu.pendingFlushes(1), mmu.size]).toEqual([1, 0, 1])
    env.cpu = 0
    mmu.flushTlbPending()
    expect(mmu.size).toBe(0)
  })

  it('hpte_update on an untagged pte page dereferences a NULL mm', () => {
    const { env, mm, mmu, map } = machine()
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    env.setPageMapping(ptePage(env, ptr), NO_MAPPING, 0n)
    expect(() => mmu.ptepGetAndClear(ptr)).toThrow(KernelBugError)
  })
})

describe('ppc64 2.6.5 vs 2.6.7 pte updates', () => {
  it('2.6.5: ptep_test_and_clear_young clears ACCESSED and the HPTE flags and flushes at once', () => {
    const { env, mm, mmu, map } = machine('2.6.5-aa')
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x12340017n)
    expect([mmu.pendingFlushes(), mmu.size]).toEqual([0, 0])
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(false)
  })

  it('2.6.7: it keeps the HPTE flags, leaves the flush batched, and returns early with nothing to do', () => {
    const { env, mm, mmu, map } = machine('2.6.7')
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x12340417n)
    expect([mmu.pendingFlushes(), mmu.size]).toEqual([1, 1])
    expect(mmu.stale()).toEqual([]) // still tracked by the pte's slot bits
    mmu.flushTlbPending()
    expect(mmu.size).toBe(0)
    // The pte still says HASHPTE: the next miss finds its slot empty and inserts anew.
    expect(mmu.access(mm, A, ptr, false)).toBe(true)
    expect([mmu.size, pteVal(env, ptr)]).toEqual([1, 0x12340517n])
    mmu.setPte(ptr, fast.mkPteLo(0x1234, SHARED & ~0x100), 0)
    expect(mmu.size).toBe(0) // set_pte over a present pte flushes in 2.6.7
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(false)
    expect(mmu.pendingFlushes()).toBe(0)
  })

  it('2.6.5: clearing DIRTY of a clean page leaves the HPTE pending until the flush', () => {
    const { env, mm, mmu, map } = machine('2.6.5-aa')
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    expect(mmu.ptepTestAndClearDirty(ptr)).toBe(false)
    expect(pteVal(env, ptr)).toBe(0x12340117n)
    expect(reasons(mmu)).toEqual(['HPTE flush pending'])
    mmu.flushTlbRange(mm, A, A + 4096)
    expect(mmu.stale()).toEqual([])
  })

  it('2.6.7: clearing DIRTY keeps HASHPTE but the writable HPTE must still go', () => {
    const { env, mm, mmu, map } = machine('2.6.7')
    const ptr = map(A)
    mmu.access(mm, A, ptr, true)
    expect(mmu.ptepTestAndClearDirty(ptr)).toBe(true)
    expect(pteVal(env, ptr)).toBe(0x12340517n)
    expect(reasons(mmu)).toEqual(['dirty bit cleared'])
    expect(mmu.ptepTestAndClearDirty(ptr)).toBe(false)
    expect(mmu.pendingFlushes()).toBe(1)
    mmu.flushTlbPending()
    expect(mmu.stale()).toEqual([])
  })

  it('ptep_set_wrprotect queues the HPTE: write-protected until the flush', () => {
    for (const profile of ['2.6.5-aa', '2.6.7'] as const) {
      const { env, mm, mmu, map } = machine(profile)
      const ptr = map(A)
      mmu.access(mm, A, ptr, true)
      mmu.ptepSetWrprotect(ptr)
      expect(pteVal(env, ptr)).toBe(profile === '2.6.7' ? 0x12340593n : 0x12340193n)
      expect(reasons(mmu)).toEqual(['write-protected'])
      mmu.flushTlbMm(mm)
      expect(mmu.stale()).toEqual([])
    }
  })

  it('2.6.5: set_pte over a present pte queues the old HPTE and stores the new pte without HPTE flags', () => {
    const { env, mm, mmu, map } = machine('2.6.5-aa')
    const ptr = map(A)
    mmu.access(mm, A, ptr, false)
    mmu.setPte(ptr, fast.mkPteLo(0x999, SHARED) | 0xfc00, 0)
    expect(pteVal(env, ptr)).toBe(0x9990117n)
    expect(mmu.pendingFlushes()).toBe(1)
    expect(reasons(mmu)).toEqual(['pfn changed'])
    mmu.flushTlbPending()
    expect(mmu.stale()).toEqual([])
  })
})
