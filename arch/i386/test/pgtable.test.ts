import {
  INIT_MM,
  lookupPte,
  PageTableEnv,
  PS,
  pteAllocKernel,
  pteAllocMap,
  pteUnmap,
  pteVal,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { i386, i386Pae } from '../src/index.js'

describe('i386 page-table pages', () => {
  it('PAE pgd_alloc brings its 3 user pmds; a pte page is allocated on first touch and counted once', () => {
    const env = new PageTableEnv({ arch: i386Pae, highmemPages: 128 })
    const before = env.usedPages
    const mm = env.mmCreate()
    expect(env.usedPages - before).toBe(4) // pgd + 3 pmds, none counted
    expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(0n)
    const a = pteAllocMap(env, mm, 0x8048000)
    pteUnmap(env, a)
    const b = pteAllocMap(env, mm, 0x8049000)
    pteUnmap(env, b)
    expect(b - a).toBe(1)
    expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(1n)
  })

  it('pte_alloc_map re-checks the pmd after dropping page_table_lock: the loser is freed uncounted', () => {
    const env = new PageTableEnv({ arch: i386Pae, highmemPages: 128 })
    const mm = env.mmCreate()
    let winner = -1
    env.onPageTableLockDropped = () => {
      env.cpu = 1 // the other thread runs on cpu 1 and installs its own pte page
      winner = pteAllocMap(env, mm, 0x8048000)
      pteUnmap(env, winner)
    }
    env.cpu = 0
    const used = env.usedPages
    const ptr = pteAllocMap(env, mm, 0x8048000)
    pteUnmap(env, ptr)
    expect(ptr).toBe(winner)
    expect(env.usedPages - used).toBe(1) // two pages were allocated, one went back
    expect(env.pageState.get(1, PS.nr_page_table_pages)).toBe(1n)
    expect(env.pageState.get(0, PS.nr_page_table_pages)).toBe(0n)
  })

  it('pte_alloc_kernel is not counted under 2.6.5-aa but is under 2.6.4 (pgtable_add_rmap)', () => {
    for (const [profile, count] of [
      ['2.6.5-aa', 0n],
      ['2.6.7', 0n],
      ['2.6.4', 1n],
    ] as const) {
      const env = new PageTableEnv({ arch: i386, profile })
      pteAllocKernel(env, INIT_MM, 0xd0000000n)
      expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(count)
      expect(env.pageMapping(Math.floor(pteAllocKernel(env, INIT_MM, 0xd0000000n) / 1024))).toBe(
        profile === '2.6.4' ? INIT_MM : -1,
      )
    }
  })

  it('set_pte on PAE writes both words; lookupPte finds it without mapping', () => {
    const env = new PageTableEnv({ arch: i386Pae, highmemPages: 128 })
    const mm = env.mmCreate()
    const ptr = pteAllocMap(env, mm, 0xbffff000)
    env.mmu.setPte(ptr, i386Pae.fast.mkPteLo(0xabcdef, 0x25), i386Pae.fast.mkPteHi(0xabcdef, 0x25))
    pteUnmap(env, ptr)
    expect(lookupPte(env, mm, 0xbffff000)).toBe(ptr)
    expect(pteVal(env, ptr)).toBe(0xabcdef025n)
    expect(env.kmap.outstanding()).toEqual([])
  })
})
