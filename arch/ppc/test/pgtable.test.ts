// Page-table pages on ppc: the (mm, address) tag of pte pages, the early-boot
// rules, and the kmap_atomic that pte_offset_map always does (docs/layouts.md#pagetables-accounting, docs/layouts.md#ppc, docs/layouts.md#mmu-cache-coherence).
import {
  BOOT,
  clearPageTables,
  INIT_MM,
  KernelBugError,
  NO_MAPPING,
  PageTableEnv,
  PS,
  pteAllocKernel,
  pteAllocMap,
  pteOffsetMap,
  ptePage,
  ptepToAddress,
  ptepToMm,
  pteUnmap,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ppc } from '../src/index.js'

const count = (env: PageTableEnv) => env.pageState.sum(PS.nr_page_table_pages)

describe('ppc pte pages', () => {
  it('pte_alloc_one tags the page with (mm, address & PMD_MASK): every pte maps back to its address', () => {
    const env = new PageTableEnv({ arch: ppc })
    env.mmCreate()
    const mm = env.mmCreate()
    const ptr = pteAllocMap(env, mm, 0x7fbff000)
    pteUnmap(env, ptr)
    const page = ptePage(env, ptr)
    expect(env.pageMapping(page)).toBe(mm)
    expect(env.pageIndex(page)).toBe(0x7f800000n)
    expect(ptr - page * 1024).toBe(1023)
    expect(ptepToMm(env, ptr)).toBe(mm)
    expect(ptepToAddress(env, ptr)).toBe(0x7fbff000n)
    expect(ptepToAddress(env, page * 1024 + 4)).toBe(0x7f804000n)
    expect(count(env)).toBe(1n)
  })

  it('pte_offset_map kmaps the (lowmem) pte page with KM_PTE0 until pte_unmap, without a fixmap slot', () => {
    const env = new PageTableEnv({ arch: ppc })
    const mm = env.mmCreate()
    pteUnmap(env, pteAllocMap(env, mm, 0x10000000))
    const ptr = pteOffsetMap(env, mm, 0x10001000)
    expect(env.kmap.outstanding()).toEqual([
      { cpu: 0, slot: 'KM_PTE0', pfn: ptePage(env, ptr), highmem: false },
    ])
    expect(() => pteOffsetMap(env, mm, 0x10002000)).toThrow(KernelBugError)
    pteUnmap(env, ptr)
    expect(env.kmap.outstanding()).toEqual([])
    expect(env.kmap.highmemMaps).toBe(0)
  })

  it('pte_free clears the tag: clear_page_tables frees tagged pages, and the race loser too', () => {
    const env = new PageTableEnv({ arch: ppc, cpus: 2 })
    const mm = env.mmCreate()
    let winner = -1
    env.onPageTableLockDropped = () => {
      env.cpu = 1
      winner = pteAllocMap(env, mm, 0x20000000)
      pteUnmap(env, winner)
    }
    const used = env.usedPages
    const ptr = pteAllocMap(env, mm, 0x20000000)
    pteUnmap(env, ptr)
    env.onPageTableLockDropped = undefined
    expect(ptr).toBe(winner)
    expect(env.usedPages - used).toBe(1)
    const page = ptePage(env, ptr)
    clearPageTables(env, mm, 0, ppc.geometry.USER_PTRS_PER_PGD)
    expect(env.pageMapping(page)).toBe(NO_MAPPING)
    expect(env.isInUse(page)).toBe(false)
    expect(count(env)).toBe(0n)
  })

  it('2.6.4: the generic pgtable_add_rmap tags and counts user and kernel pte pages', () => {
    const env = new PageTableEnv({ arch: ppc, profile: '2.6.4' })
    const mm = env.mmCreate()
    const user = pteAllocMap(env, mm, 0x30000000)
    pteUnmap(env, user)
    const kernel = pteAllocKernel(env, INIT_MM, 0xd0001000n)
    expect(ptepToMm(env, user)).toBe(mm)
    expect(ptepToAddress(env, kernel)).toBe(0xd0001000n)
    expect(ptepToMm(env, kernel)).toBe(INIT_MM)
    expect(count(env)).toBe(2n)
    clearPageTables(env, mm, 0, 512)
    expect(count(env)).toBe(1n)
  })
})

describe('ppc early boot (mem_init_done)', () => {
  it('before mem_init, pte_alloc_one_kernel takes bootmem (early_get_page) and tags nothing, in 2.6.7 too', () => {
    for (const profile of ['2.6.5-aa', '2.6.7'] as const) {
      const env = new PageTableEnv({ arch: ppc, profile, bootStage: BOOT.setupArch })
      const ptr = pteAllocKernel(env, INIT_MM, 0xc0000000n)
      const page = ptePage(env, ptr)
      expect(page).toBe(4095) // bootmem is carved from the top of lowmem
      expect(env.pageMapping(page)).toBe(NO_MAPPING)
      expect(env.pageState.ready).toBe(false)
      env.advanceBoot(BOOT.memInitDone)
      const later = ptePage(env, pteAllocKernel(env, INIT_MM, 0xd0400000n))
      expect(later).toBeLessThan(4096 - 32)
      expect(env.pageMapping(later)).toBe(INIT_MM)
      expect(env.pageIndex(later)).toBe(0xd0400000n)
      expect(count(env)).toBe(0n) // 2.6.5-aa and 2.6.7 count user pte pages only
    }
  })

  it('2.6.4 BROKEN_PPC_PTE_ALLOC_ONE: an early kernel pte page gets no mapping and no count', () => {
    const env = new PageTableEnv({ arch: ppc, profile: '2.6.4', bootStage: BOOT.perCpuReady })
    const ptr = pteAllocKernel(env, INIT_MM, 0xc0000000n)
    expect(env.pageMapping(ptePage(env, ptr))).toBe(NO_MAPPING)
    expect(ptepToMm(env, ptr)).toBe(NO_MAPPING)
    expect(count(env)).toBe(0n)
    env.advanceBoot(BOOT.memInitDone)
    const after = pteAllocKernel(env, INIT_MM, 0xc0400000n)
    expect(ptepToMm(env, after)).toBe(INIT_MM)
    expect(count(env)).toBe(1n)
  })
})
