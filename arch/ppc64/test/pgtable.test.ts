// Page-table pages on ppc64: 32-bit upper entries, pmd pages on demand, the
// (mm, address) tag of pte pages, and the early-boot rules (docs/layouts.md#pagetables-accounting, docs/layouts.md#ppc64, docs/layouts.md#mmu-cache-coherence).
import {
  BOOT,
  clearPageTables,
  INIT_MM,
  NO_MAPPING,
  PageTableEnv,
  PS,
  pteAllocKernel,
  pteAllocMap,
  ptePage,
  ptepToAddress,
  ptepToAddressNumber,
  ptepToMm,
  pteUnmap,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ppc64 } from '../src/index.js'

const count = (env: PageTableEnv) => env.pageState.sum(PS.nr_page_table_pages)

describe('ppc64 page-table pages', () => {
  it('pmd_alloc and pte_alloc_map write page numbers into the 32-bit pgd and pmd entries', () => {
    const env = new PageTableEnv({ arch: ppc64 })
    const mm = env.mmCreate()
    const used = env.usedPages
    const a = 0x1fffffff000 // the last user page: pgd 1023, pmd 1023, pte 511
    const ptr = pteAllocMap(env, mm, a)
    expect(env.usedPages - used).toBe(2) // one pmd page (uncounted), one pte page
    expect(count(env)).toBe(1n)
    expect(env.kmap.outstanding()).toEqual([]) // pte_offset_map does not kmap
    pteUnmap(env, ptr)
    const w = env.tables.words
    const pgdWord = w[env.tables.base(env.mmPgd(mm)) + 1023]!
    const pmdWord = w[env.tables.base(pgdWord) + 1023]!
    expect(pmdWord).toBe(ptePage(env, ptr) << 2)
    expect(ptr - ptePage(env, ptr) * 512).toBe(511)
  })

  it('pte pages are tagged: every pte maps back to (mm, address), kernel regions included', () => {
    const env = new PageTableEnv({ arch: ppc64 })
    env.mmCreate()
    const mm = env.mmCreate()
    const ptr = pteAllocMap(env, mm, 0xfffffff000)
    pteUnmap(env, ptr)
    const page = ptePage(env, ptr)
    expect([env.pageMapping(page), env.pageIndex(page)]).toEqual([mm, 0xffffe00000n])
    expect(ptepToMm(env, ptr)).toBe(mm)
    expect(ptepToAddress(env, ptr)).toBe(0xfffffff000n)
    expect(ptepToAddressNumber(env, ptr)).toBe(0xfffffff000)
    const k = pteAllocKernel(env, INIT_MM, 0xd000000000201000n)
    expect(ptepToMm(env, k)).toBe(INIT_MM)
    expect(env.pageIndex(ptePage(env, k))).toBe(0xd000000000200000n)
    expect(ptepToAddress(env, k)).toBe(0xd000000000201000n)
    expect(count(env)).toBe(1n) // kernel pte pages are not counted after rmap 12
  })

  it('2.6.7 tags kernel pte pages even before mem_init_done (no check); 2.6.4 skips them', () => {
    const e7 = new PageTableEnv({ arch: ppc64, profile: '2.6.7', bootStage: BOOT.perCpuReady })
    const k7 = pteAllocKernel(e7, INIT_MM, 0xe000000080000000n)
    expect(ptepToMm(e7, k7)).toBe(INIT_MM)
    expect(e7.isInUse(ptePage(e7, k7)) && ptePage(e7, k7) < 4096 - 32).toBe(true) // zero_cache, not bootmem

    const e4 = new PageTableEnv({ arch: ppc64, profile: '2.6.4', bootStage: BOOT.perCpuReady })
    const k4 = pteAllocKernel(e4, INIT_MM, 0xe000000080000000n)
    expect(ptepToMm(e4, k4)).toBe(NO_MAPPING)
    expect(count(e4)).toBe(0n)
    e4.advanceBoot(BOOT.memInitDone)
    const k4b = pteAllocKernel(e4, INIT_MM, 0xe000000080200000n)
    expect(ptepToMm(e4, k4b)).toBe(INIT_MM)
    expect(ptepToAddress(e4, k4b)).toBe(0xe000000080200000n)
    expect(count(e4)).toBe(1n)
  })

  it('clear_page_tables frees pte pages (tag cleared) and the pmd pages under them', () => {
    const env = new PageTableEnv({ arch: ppc64, cpus: 2 })
    const mm = env.mmCreate()
    const used = env.usedPages
    for (const a of [0x10000000, 0x10200000, 0x100000000]) pteUnmap(env, pteAllocMap(env, mm, a))
    expect(env.usedPages - used).toBe(5) // two pmd pages, three pte pages
    const page = ptePage(env, pteAllocMap(env, mm, 0x10000000))
    env.cpu = 1
    clearPageTables(env, mm, 0, ppc64.geometry.USER_PTRS_PER_PGD)
    expect(env.usedPages).toBe(used)
    expect(env.pageMapping(page)).toBe(NO_MAPPING)
    expect(env.pageState.get(0, PS.nr_page_table_pages)).toBe(3n)
    expect(env.pageState.get(1, PS.nr_page_table_pages)).toBe(2n ** 64n - 3n)
    expect(count(env)).toBe(0n)
  })
})
