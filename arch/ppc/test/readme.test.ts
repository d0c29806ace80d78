// The examples of arch/ppc/README.md, run as written.
import { PageTableEnv, pteAllocMap, ptepToAddress, ptepToMm, pteUnmap, pteVal } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ppc } from '../src/index.js'

describe('README examples', () => {
  it('the encodings', () => {
    expect(ppc.mkPte(0x8048n, ppc.prot.PAGE_KERNEL)).toBe(0x8048581n)
    expect(ppc.swpEntryToPte(30, 0xabcdn)).toBe(0xabcdf0n)
    expect(ppc.pgoffToPte(0xabcden)).toBe(0x55e6f4n)
    expect(ppc.pteNone(ppc.bits._PAGE_HASHPTE!)).toBe(true)
    expect(ppc.protectionMap.private[0b101]).toBe(0x305n)
    expect(ppc.pgdIndex(0xc0001000n)).toBe(768)
  })

  it('a walk through the tag and the hashed page table', () => {
    const env = new PageTableEnv({ arch: ppc })
    const mm = env.mmCreate()
    const ptr = pteAllocMap(env, mm, 0x10003000)
    env.mmu.setPte(ptr, ppc.fast.mkPteLo(0x1234, Number(ppc.prot.PAGE_SHARED)), 0)
    pteUnmap(env, ptr)
    expect(ptepToMm(env, ptr)).toBe(mm)
    expect(ptepToAddress(env, ptr)).toBe(0x10003000n)
    env.mmu.access(mm, 0x10003000, ptr, true)
    expect(pteVal(env, ptr)).toBe(0x1234587n)
    env.mmu.ptepGetAndClear(ptr)
    expect(env.mmu.stale()).toEqual([
      { cpu: -1, mm, address: 0x10003000, cachedPfn: 0x1234, cachedWrite: true, reason: 'pte cleared' },
    ])
    env.mmu.flushTlbPage(mm, 0x10003000)
    expect(env.mmu.stale()).toEqual([])
  })
})
