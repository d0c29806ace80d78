// The examples of packages/rmap/README.md and arch/i386/README.md, run as written.
import { clearPageTables, PageTableEnv, pteAllocMap, pteUnmap, pteVal } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { i386, i386Pae } from '../src/index.js'

describe('README examples', () => {
  it('@rmaplab/rmap: pte_alloc_map on cpu 0, clear_page_tables on cpu 1', () => {
    const env = new PageTableEnv({ arch: i386Pae, lowmemPages: 4096, highmemPages: 256, cpus: 2 })
    const mm = env.mmCreate()
    env.cpu = 0
    const ptr = pteAllocMap(env, mm, 0x08048000)
    expect(env.isHighmem(Math.floor(ptr / 512))).toBe(true)
    env.mmu.setPte(ptr, i386Pae.fast.mkPteLo(0x1234, 0x25), i386Pae.fast.mkPteHi(0x1234, 0x25))
    expect(pteVal(env, ptr).toString(16)).toBe('1234025')
    pteUnmap(env, ptr)
    env.mmu.ptepGetAndClear(ptr)
    env.cpu = 1
    clearPageTables(env, mm, 0, i386Pae.geometry.USER_PTRS_PER_PGD)
    expect(env.pageState.get(0, 'nr_page_table_pages')).toBe(1n)
    expect(env.pageState.get(1, 'nr_page_table_pages')).toBe(4294967295n)
    expect(env.pageState.sum('nr_page_table_pages')).toBe(0n)
  })

  it('@rmaplab/rmap: the encodings, strict and truncating', () => {
    expect(i386.mkPte(0x8048n, i386.prot.PAGE_KERNEL)).toBe(0x8048063n)
    expect(i386.swpEntryToPte(30, 0xabcdn)).toBe(0xabcd3cn)
    expect(i386.pgoffToPte(0xabcden)).toBe(0x55e67cn)
    expect(() => i386.mkPte(0x100000n, i386.prot.PAGE_COPY)).toThrow(/largest pfn a pte holds \(0xfffff\)/)
    expect(i386.macros.mkPte(0x100000n, i386.prot.PAGE_COPY)).toBe(0x25n)
  })
})
