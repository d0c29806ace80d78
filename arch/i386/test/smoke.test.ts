import { PageTableEnv, PS, pteAllocMap, pteUnmap, pteVal } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { i386, i386Pae } from '../src/index.js'

describe('smoke', () => {
  it('encodes', () => {
    expect(i386.mkPte(0x8048n, 0x63n)).toBe(0x8048063n)
    expect(i386Pae.mkPte(0xabcdefn, 0x25n)).toBe(0xabcdef025n)
    expect(i386.swpEntryToPte(30, 0xabcdn)).toBe(0xabcd3cn)
    expect(i386.pgoffToPte(0xabcden)).toBe(0x55e67cn)
  })
  it('allocates', () => {
    const env = new PageTableEnv({ arch: i386Pae, highmemPages: 128 })
    const mm = env.mmCreate()
    const ptr = pteAllocMap(env, mm, 0x8048000)
    expect(env.kmap.outstanding()).toHaveLength(1)
    env.mmu.setPte(ptr, i386Pae.fast.mkPteLo(5, 0x27), i386Pae.fast.mkPteHi(5, 0x27))
    expect(pteVal(env, ptr)).toBe(0x5027n)
    pteUnmap(env, ptr)
    expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(1n)
  })
})
