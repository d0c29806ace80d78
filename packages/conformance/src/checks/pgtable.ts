/**
 * Layer (b), page-table pages: allocation and freeing across cpus with the
 * per-cpu accounting of each kernel profile, the pmd re-check of
 * pte_alloc_map, kmap slots on arches whose pte_offset_map kmaps, kernel pte
 * pages, the (mm, address) tag of ppc/ppc64 pte pages, and the early-boot rule.
 */
import {
  type Arch,
  BOOT,
  type BootStage,
  clearPageTables,
  INIT_MM,
  type KernelProfile,
  NO_MAPPING,
  NO_PTE,
  PageTableEnv,
  PS,
  profileRules,
  pteAllocKernel,
  pteAllocMap,
  pteOffsetKernel,
  pteOffsetMap,
  pteOffsetMapNested,
  ptePage,
  ptepToAddress,
  ptepToMm,
  pteUnmap,
  pteUnmapNested,
} from '@rmaplab/rmap'
import fc from 'fast-check'
import { expect } from 'vitest'
import { expectBug, hex, wideBig } from '../util.js'
import { type CheckDef, generic, needCap, needFixture, sec } from './define.js'

const L = 'page-table pages' as const

/** A small machine for one check, as the brief of the suite fixes it. */
export function smallEnv(
  arch: Arch,
  profile: KernelProfile,
  opts: { bootStage?: BootStage; cpus?: number } = {},
): PageTableEnv {
  return new PageTableEnv({
    arch,
    profile,
    cpus: opts.cpus ?? 2,
    lowmemPages: 256,
    highmemPages: arch.capabilities.highpte ? 128 : 0,
    ...(opts.bootStage === undefined ? {} : { bootStage: opts.bootStage }),
  })
}

/** Bytes a pte page maps: PTRS_PER_PTE pages (address & PMD_MASK is the tag). */
export const ptePageSpan = (arch: Arch): bigint =>
  BigInt(arch.geometry.PTRS_PER_PTE) * arch.geometry.PAGE_SIZE

/** The base address a pte page covering `a` is tagged with (`address & PMD_MASK`). */
const tagOf = (arch: Arch, a: bigint): bigint => a - (a % ptePageSpan(arch))

/** A classic user address (the i386 ELF text start), valid on every layout. */
export const USER_A = 0x08048000

/** A kernel address for vmalloc-style pte pages: 8 MB into the kernel's linear map. */
export const kernelAddr = (arch: Arch): bigint => arch.geometry.PAGE_OFFSET + 0x803000n

/** 2^BITS_PER_LONG - 1: what a per-cpu counter holds after one dec from 0. */
const minusOne = (arch: Arch): bigint => (1n << BigInt(arch.geometry.BITS_PER_LONG)) - 1n

/** Whether a freshly allocated pte page carries (mm, address) under `profile`. */
function tagged(arch: Arch, profile: KernelProfile, kernel: boolean): boolean {
  const r = profileRules(profile)
  if (kernel ? r.countsKernelPteTables : r.pgtableRmap) return true
  return r.archTagsPtePages && arch.pgtable.tagsPtePages
}

function expectTag(env: PageTableEnv, pfn: number, tag: { mm: number; address: bigint } | undefined): void {
  if (tag === undefined) {
    expect(env.pageMapping(pfn), `pfn ${pfn} is untagged`).toBe(NO_MAPPING)
    return
  }
  expect({ mapping: env.pageMapping(pfn), index: hex(env.pageIndex(pfn)) }, `tag of pte page ${pfn}`).toEqual(
    {
      mapping: tag.mm,
      index: hex(tag.address),
    },
  )
}

const notOnly =
  (...profiles: KernelProfile[]) =>
  (p: KernelProfile) =>
    !profiles.includes(p)

export const pgtableChecks: CheckDef[] = [
  {
    id: 'pt.count.user',
    layer: L,
    perProfile: true,
    cite: generic(
      'docs/layouts.md#pagetables-accounting page_state; pte_alloc_map counts, free_one_pmd uncounts',
    ),
    title:
      'a user pte page allocated on cpu 0 and freed on cpu 1 leaves cpu0 = 1, cpu1 = 2^BITS_PER_LONG-1, sum 0, frames freed',
    run(ctx) {
      const { arch, profile } = ctx
      const env = smallEnv(arch, profile)
      const mm = env.mmCreate()
      const base = env.usedPages
      env.cpu = 0
      const ptr = pteAllocMap(env, mm, USER_A)
      const pfn = ptePage(env, ptr)
      pteUnmap(env, ptr)
      expect([
        env.pageState.get(0, PS.nr_page_table_pages),
        env.pageState.get(1, PS.nr_page_table_pages),
      ]).toEqual([1n, 0n])
      const again = pteAllocMap(env, mm, USER_A + Number(arch.geometry.PAGE_SIZE))
      expect(ptePage(env, again), 'the next pte of the span is in the same page').toBe(pfn)
      pteUnmap(env, again)
      expect(env.pageState.sum(PS.nr_page_table_pages), 'one page, counted once').toBe(1n)
      expectTag(
        env,
        pfn,
        tagged(arch, profile, false) ? { mm, address: tagOf(arch, BigInt(USER_A)) } : undefined,
      )
      env.cpu = 1
      clearPageTables(env, mm, arch.fast.pgdIndex(USER_A), 1)
      expect({
        cpu0: hex(env.pageState.get(0, PS.nr_page_table_pages)),
        cpu1: hex(env.pageState.get(1, PS.nr_page_table_pages)),
        sum: env.pageState.sum(PS.nr_page_table_pages),
        count: env.pageState.count(PS.nr_page_table_pages),
      }).toEqual({ cpu0: '0x1', cpu1: hex(minusOne(arch)), sum: 0n, count: 0 })
      expect(env.isInUse(pfn), 'the pte page is freed').toBe(false)
      expect(env.pageMapping(pfn)).toBe(NO_MAPPING)
      expect(env.usedPages, 'every page clear_page_tables owns is freed').toBe(base)
      expect(pteOffsetMap(env, mm, USER_A)).toBe(NO_PTE)
      expect(env.kmap.outstanding()).toEqual([])
    },
  },
  {
    id: 'pt.count.kernel',
    layer: L,
    perProfile: true,
    cite: generic(
      'docs/layouts.md#pagetables-accounting pte_alloc_kernel (counted by 2.6.4 pgtable_add_rmap, not by 2.6.7/-aa)',
    ),
    title:
      'kernel pte pages count only under 2.6.4, on the current cpu; user pte pages count under every profile',
    run(ctx) {
      const { arch, profile } = ctx
      const rules = profileRules(profile)
      const env = smallEnv(arch, profile)
      const k = kernelAddr(arch)
      env.cpu = 1
      const ptr = pteAllocKernel(env, INIT_MM, k)
      const pfn = ptePage(env, ptr)
      const kernel = rules.countsKernelPteTables ? 1n : 0n
      expect([
        env.pageState.get(0, PS.nr_page_table_pages),
        env.pageState.get(1, PS.nr_page_table_pages),
      ]).toEqual([0n, kernel])
      expectTag(env, pfn, tagged(arch, profile, true) ? { mm: INIT_MM, address: tagOf(arch, k) } : undefined)
      expect(pteAllocKernel(env, INIT_MM, k + arch.geometry.PAGE_SIZE), 'same page, no new count').toBe(
        ptr + 1,
      )
      const mm = env.mmCreate()
      env.cpu = 0
      pteUnmap(env, pteAllocMap(env, mm, USER_A))
      expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(kernel + 1n)
      expect(env.pageState.get(0, PS.nr_page_table_pages)).toBe(1n)
    },
  },
  {
    id: 'pt.recheck',
    layer: L,
    perProfile: true,
    cite: generic(
      'docs/layouts.md#pagetables-accounting the pmd re-check under page_table_lock; docs/layouts.md#pagetables-accounting a page that loses the race is never counted',
    ),
    title:
      'when another thread (on cpu 1) populates the pmd first, our user or kernel pte page goes back through pte_free uncounted',
    run(ctx) {
      const { arch, profile } = ctx
      const rules = profileRules(profile)
      const env = smallEnv(arch, profile)
      const mm = env.mmCreate()
      let winner = -1
      let usedByBoth = -1
      // The other thread runs on cpu 1 while page_table_lock is dropped.
      env.onPageTableLockDropped = (owner, address) => {
        env.cpu = 1
        if (owner === INIT_MM) {
          winner = ptePage(env, pteAllocKernel(env, INIT_MM, address))
        } else {
          const p = pteAllocMap(env, owner, Number(address))
          winner = ptePage(env, p)
          pteUnmap(env, p)
        }
        usedByBoth = env.usedPages
      }
      env.cpu = 0
      const ptr = pteAllocMap(env, mm, USER_A)
      expect(winner, 'the other thread ran').toBeGreaterThanOrEqual(0)
      expect(ptePage(env, ptr), 'the installed page is the winner').toBe(winner)
      expect(env.usedPages, 'our page, the loser, is freed').toBe(usedByBoth - 1)
      expect([
        env.pageState.get(0, PS.nr_page_table_pages),
        env.pageState.get(1, PS.nr_page_table_pages),
      ]).toEqual([0n, 1n])
      pteUnmap(env, ptr)
      expect(env.kmap.outstanding()).toEqual([])
      expectTag(
        env,
        winner,
        tagged(arch, profile, false) ? { mm, address: tagOf(arch, BigInt(USER_A)) } : undefined,
      )
      // The same race in pte_alloc_kernel.
      winner = -1
      const k = kernelAddr(arch)
      const kptr = pteAllocKernel(env, INIT_MM, k)
      expect(ptePage(env, kptr), 'the installed kernel page is the winner').toBe(winner)
      expect(env.usedPages, 'the kernel loser is freed').toBe(usedByBoth - 1)
      const kernel = rules.countsKernelPteTables ? 1n : 0n
      expect([
        env.pageState.get(0, PS.nr_page_table_pages),
        env.pageState.get(1, PS.nr_page_table_pages),
      ]).toEqual([0n, 1n + kernel])
      expectTag(
        env,
        winner,
        tagged(arch, profile, true) ? { mm: INIT_MM, address: tagOf(arch, k) } : undefined,
      )
      expect(env.cpu, 'the cpu is restored after the race').toBe(0)
    },
  },
  {
    id: 'pt.kmap.nesting',
    layer: L,
    cite: (c) => sec(c, 'pte_offset_map (KM_PTE0, _nested KM_PTE1, pte_unmap)'),
    title:
      'pte_offset_map and _nested hold KM_PTE0 and KM_PTE1 together; a second KM_PTE0 or an unmap on the wrong cpu is a BUG; all released',
    needs: (ctx) => (ctx.arch.pgtable.pteOffsetMapKmaps ? undefined : 'pgtable.pteOffsetMapKmaps is false'),
    run(ctx) {
      const { arch } = ctx
      const env = smallEnv(arch, ctx.profile)
      const mm = env.mmCreate()
      const b = USER_A + Number(ptePageSpan(arch))
      pteUnmap(env, pteAllocMap(env, mm, USER_A))
      pteUnmap(env, pteAllocMap(env, mm, b))
      expect(env.kmap.outstanding()).toEqual([])
      const p0 = pteOffsetMap(env, mm, USER_A)
      const p1 = pteOffsetMapNested(env, mm, b)
      const pfn0 = ptePage(env, p0)
      const pfn1 = ptePage(env, p1)
      expect(pfn0).not.toBe(pfn1)
      expect(env.kmap.outstanding()).toEqual([
        { cpu: 0, slot: 'KM_PTE0', pfn: pfn0, highmem: env.isHighmem(pfn0) },
        { cpu: 0, slot: 'KM_PTE1', pfn: pfn1, highmem: env.isHighmem(pfn1) },
      ])
      expectBug(() => pteOffsetMap(env, mm, b), 'KM_PTE0')
      expectBug(() => pteAllocMap(env, mm, b), 'KM_PTE0')
      env.cpu = 1
      expectBug(() => pteUnmap(env, p0), 'KM_PTE0')
      expectBug(() => pteUnmapNested(env, p1), 'KM_PTE1')
      env.cpu = 0
      pteUnmapNested(env, p1)
      pteUnmap(env, p0)
      expect(env.kmap.outstanding()).toEqual([])
      expectBug(() => pteUnmap(env, p0), 'KM_PTE0')
      // Both slots again, on the other cpu this time.
      env.cpu = 1
      const q0 = pteOffsetMap(env, mm, b)
      const q1 = pteOffsetMapNested(env, mm, USER_A)
      expect(env.kmap.outstanding().map((o) => `${o.cpu}:${o.slot}`)).toEqual(['1:KM_PTE0', '1:KM_PTE1'])
      pteUnmap(env, q0)
      pteUnmapNested(env, q1)
      expect(env.kmap.outstanding()).toEqual([])
    },
  },
  {
    id: 'pt.kmap.none',
    layer: L,
    cite: (c) => sec(c, 'pte_offset_map without kmap (pte_unmap is a no-op)'),
    title: 'where pte_offset_map does not kmap, mapping takes no slot and pte_unmap releases nothing',
    needs: (ctx) => (ctx.arch.pgtable.pteOffsetMapKmaps ? 'pgtable.pteOffsetMapKmaps is true' : undefined),
    run(ctx) {
      const { arch } = ctx
      const env = smallEnv(arch, ctx.profile)
      const mm = env.mmCreate()
      const p = pteAllocMap(env, mm, USER_A)
      const q = pteOffsetMap(env, mm, USER_A)
      const n = pteOffsetMapNested(env, mm, USER_A)
      expect([p, q, n]).toEqual([p, p, p])
      expect(env.kmap.outstanding()).toEqual([])
      expect(env.kmap.highmemMaps).toBe(0)
      pteUnmap(env, p)
      pteUnmap(env, q)
      pteUnmapNested(env, n)
      expect(env.kmap.outstanding()).toEqual([])
    },
  },
  {
    id: 'pt.highpte',
    layer: L,
    cite: (c) => sec(c, 'pte_alloc_one (__GFP_HIGHMEM under CONFIG_HIGHPTE)'),
    title:
      'user pte pages come from highmem when there is highmem, and reading them takes a real fixmap slot',
    needs: needCap('highpte'),
    run(ctx) {
      const { arch } = ctx
      const env = smallEnv(arch, ctx.profile)
      const mm = env.mmCreate()
      const before = env.kmap.highmemMaps
      const p = pteAllocMap(env, mm, USER_A)
      const pfn = ptePage(env, p)
      expect(env.isHighmem(pfn), `pte page ${pfn} is in highmem`).toBe(true)
      expect(env.kmap.outstanding()).toEqual([{ cpu: 0, slot: 'KM_PTE0', pfn, highmem: true }])
      expect(env.kmap.highmemMaps).toBe(before + 1)
      pteUnmap(env, p)
      const q = pteOffsetMap(env, mm, USER_A)
      expect(env.kmap.highmemMaps).toBe(before + 2)
      pteUnmap(env, q)
      expect(env.kmap.outstanding()).toEqual([])
    },
  },
  {
    id: 'pt.kernel.lowmem',
    layer: L,
    cite: (c) => sec(c, 'pte_alloc_one_kernel (always lowmem) and pte_offset_kernel'),
    title: 'kernel pte pages are never highmem, and pte_offset_kernel never maps anything',
    run(ctx) {
      const { arch } = ctx
      const env = smallEnv(arch, ctx.profile)
      const k = kernelAddr(arch)
      const span = ptePageSpan(arch)
      expect(pteOffsetKernel(env, INIT_MM, k), 'no pte page yet').toBe(NO_PTE)
      const maps = env.kmap.highmemMaps
      for (let i = 0n; i < 4n; i++) {
        const a = k + i * span
        const ptr = pteAllocKernel(env, INIT_MM, a)
        expect(env.isHighmem(ptePage(env, ptr)), `kernel pte page for ${hex(a)}`).toBe(false)
        expect(pteOffsetKernel(env, INIT_MM, a)).toBe(ptr)
        expect(env.kmap.outstanding()).toEqual([])
      }
      expect(env.kmap.highmemMaps).toBe(maps)
    },
  },
  {
    id: 'pt.ptep-to-mm',
    layer: L,
    perProfile: true,
    cite: generic(
      'docs/layouts.md#mmu-cache-coherence page->mapping = mm, page->index = address & PMD_MASK; docs/layouts.md#finding-a-ptes-mm-and-address ptep_to_address',
    ),
    title: 'every pte of a tagged pte page maps back to its (mm, address); kernel pte pages to init_mm',
    needs: needCap('ptepToMmAddress'),
    run(ctx) {
      const { arch, profile } = ctx
      const g = arch.geometry
      const env = smallEnv(arch, profile)
      env.mmCreate()
      const mm = env.mmCreate()
      const top = Number(g.TASK_SIZE - g.PAGE_SIZE)
      const user = (a: number) => {
        const p = pteAllocMap(env, mm, a)
        pteUnmap(env, p)
        return [mm, BigInt(a), p] as const
      }
      const kernel = [INIT_MM, kernelAddr(arch), pteAllocKernel(env, INIT_MM, kernelAddr(arch))] as const
      for (const [owner, address, ptr] of [user(USER_A), user(top), kernel]) {
        const pfn = ptePage(env, ptr)
        const base = tagOf(arch, address)
        expectTag(env, pfn, { mm: owner, address: base })
        const first = pfn * g.PTRS_PER_PTE
        for (let i = 0; i < g.PTRS_PER_PTE; i++) {
          if (ptepToMm(env, first + i) !== owner)
            expect(ptepToMm(env, first + i), `mm of pte ${i}`).toBe(owner)
          const want = base + BigInt(i) * g.PAGE_SIZE
          const got = ptepToAddress(env, first + i)
          if (got !== want) expect(hex(got), `address of pte ${i} of ${hex(base)}`).toBe(hex(want))
        }
        expect(ptepToAddress(env, ptr)).toBe(address - (address % g.PAGE_SIZE))
      }
      fc.assert(
        fc.property(wideBig({ min: 0n, max: g.TASK_SIZE - 1n }), (a) => {
          const e = smallEnv(arch, profile)
          const m = e.mmCreate()
          const p = pteAllocMap(e, m, Number(a))
          pteUnmap(e, p)
          expect(ptepToMm(e, p)).toBe(m)
          expect(hex(ptepToAddress(e, p))).toBe(hex(a - (a % g.PAGE_SIZE)))
        }),
        { numRuns: Math.min(ctx.numRuns, 50) },
      )
    },
  },
  {
    id: 'pt.ptep.vectors',
    layer: L,
    perProfile: true,
    profileFilter: (p) => profileRules(p).pgtableRmap,
    cite: generic(
      'docs/layouts.md#finding-a-ptes-mm-and-address pgtable_add_rmap and ptep_to_address (2.6.4–2.6.6)',
    ),
    title:
      "page->index and ptep_to_address of real pte pages give the published rows (the pte_chain kernels' rmap)",
    needs: needFixture,
    run(ctx) {
      const { arch, profile } = ctx
      const g = arch.geometry
      const env = smallEnv(arch, profile)
      const mm = env.mmCreate()
      let checked = 0
      for (const r of ctx.fixture?.ptep_to_address ?? []) {
        const a = BigInt(r.addr)
        let ptr: number
        let owner: number
        if (a < g.TASK_SIZE) {
          ptr = pteAllocMap(env, mm, Number(a))
          pteUnmap(env, ptr)
          owner = mm
        } else if (arch.macros.pgdIndex(a) < g.PTRS_PER_PGD) {
          ptr = pteAllocKernel(env, INIT_MM, a)
          owner = INIT_MM
        } else {
          continue // past the pgd (ppc64's index 1024): the formula rows cover it
        }
        const pfn = ptePage(env, ptr)
        const byteOffset = BigInt((ptr - pfn * g.PTRS_PER_PTE) * (g.PTE_BITS / 8))
        expect(
          {
            mm: ptepToMm(env, ptr),
            page_index: hex(env.pageIndex(pfn)),
            byte_offset: hex(byteOffset),
            address: hex(ptepToAddress(env, ptr)),
          },
          r.addr,
        ).toEqual({
          mm: owner,
          page_index: hex(BigInt(r.page_index)),
          byte_offset: hex(BigInt(r.byte_offset)),
          address: hex(BigInt(r.generic_2_6_5)),
        })
        checked++
      }
      expect(checked).toBeGreaterThan(0)
    },
  },
  {
    id: 'pt.early-boot',
    layer: L,
    perProfile: true,
    profileFilter: (p) => profileRules(p).pgtableRmap,
    cite: generic(
      'docs/layouts.md#pagetables-accounting BROKEN_PPC_PTE_ALLOC_ONE: pgtable_add_rmap returns before mem_init_done',
    ),
    title:
      'before mem_init_done a kernel pte page gets no mapping, no index and no count, even before per-cpu set-up',
    needs: (ctx) =>
      ctx.arch.pgtable.brokenPteAllocOneEarly ? undefined : 'pgtable.brokenPteAllocOneEarly is false',
    run(ctx) {
      const { arch, profile } = ctx
      const span = ptePageSpan(arch)
      const k = kernelAddr(arch)
      const env = smallEnv(arch, profile, { bootStage: BOOT.setupArch })
      expectBug(() => env.pageState.inc(0, PS.nr_page_table_pages), 'per-cpu')
      // MMU_init -> mapin_ram -> map_page runs here, before setup_per_cpu_areas.
      const early = ptePage(env, pteAllocKernel(env, INIT_MM, k))
      env.advanceBoot(BOOT.perCpuReady)
      const stillEarly = ptePage(env, pteAllocKernel(env, INIT_MM, k + span))
      for (const pfn of [early, stillEarly]) {
        expect({ mapping: env.pageMapping(pfn), index: env.pageIndex(pfn) }, `early pte page ${pfn}`).toEqual(
          {
            mapping: NO_MAPPING,
            index: 0n,
          },
        )
        expect(env.isHighmem(pfn)).toBe(false)
      }
      expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(0n)
      env.advanceBoot(BOOT.memInitDone)
      const late = ptePage(env, pteAllocKernel(env, INIT_MM, k + 2n * span))
      expectTag(env, late, { mm: INIT_MM, address: tagOf(arch, k + 2n * span) })
      expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(1n)
    },
  },
  {
    id: 'pt.early-boot.uncounted',
    layer: L,
    perProfile: true,
    profileFilter: notOnly('2.6.4'),
    cite: generic(
      'docs/layouts.md#pagetables-accounting 2.6.7 (rmap 12) and -aa: pte_alloc_kernel does not count',
    ),
    title: 'kernel pte pages built before per-cpu set-up never touch page_state',
    run(ctx) {
      const { arch, profile } = ctx
      const env = smallEnv(arch, profile, { bootStage: BOOT.setupArch })
      expectBug(() => env.pageState.inc(0, PS.nr_page_table_pages), 'per-cpu')
      const ptr = pteAllocKernel(env, INIT_MM, kernelAddr(arch))
      expect(env.isHighmem(ptePage(env, ptr))).toBe(false)
      env.advanceBoot(BOOT.memInitDone)
      expect(env.pageState.sum(PS.nr_page_table_pages)).toBe(0n)
    },
  },
]
