// The examples of arch/ppc64/README.md, run as written.
import { PageTableEnv, pteAllocMap, ptepToAddress, pteUnmap, pteVal } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { type Ppc64HashTable, ppc64 } from '../src/index.js'

describe('README examples', () => {
  it('the encodings', () => {
    expect(ppc64.mkPte(0x123456789n, ppc64.prot.PAGE_READONLY)).toBe(0x1234567890113n)
    expect(ppc64.swpEntryToPte(30, 0xabcdn)).toBe(0xabcd3c0000n)
    expect(ppc64.pgoffToPte(0xabcden)).toBe(0xabcde0002n)
    expect(ppc64.pteNone(ppc64.bits._PAGE_HPTEFLAGS!)).toBe(true)
    expect(ppc64.pgdIndex(0x1ffffffffffn)).toBe(1023)
    expect(ppc64.pgdIndex(0x20000000000n)).toBe(1024)
    expect(ppc64.pgdIndex(0xd000000000201000n)).toBe(0)
  })

  it('a walk under the 2.6.7 rules', () => {
    const env = new PageTableEnv({ arch: ppc64, profile: '2.6.7' })
    const mm = env.mmCreate()
    const mmu = env.mmu as Ppc64HashTable
    const a = 0x1fffffff000
    const ptr = pteAllocMap(env, mm, a)
    const shared = Number(ppc64.prot.PAGE_SHARED)
    mmu.setPte(ptr, ppc64.fast.mkPteLo(0x1234, shared), ppc64.fast.mkPteHi(0x1234, shared))
    pteUnmap(env, ptr)
    expect(ptepToAddress(env, ptr)).toBe(0x1fffffff000n)
    mmu.access(mm, a, ptr, true)
    expect(pteVal(env, ptr)).toBe(0x12340597n)
    expect(mmu.ptepTestAndClearYoung(ptr)).toBe(true)
    expect(mmu.pendingFlushes()).toBe(1)
    mmu.flushTlbPending()
    expect(mmu.size).toBe(0)
  })
})
