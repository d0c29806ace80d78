/**
 * Differential checks across the four layouts: outcomes the kernel facts make
 * arch-independent must come out the same on every arch. They live here, not
 * in the published suite, because they need every arch package at once.
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  clearPageTables,
  INIT_MM,
  KERNEL_PROFILES,
  MAX_SWAPFILES,
  PageTableEnv,
  PS,
  pteAllocKernel,
  pteAllocMap,
  pteUnmap,
} from '@rmaplab/rmap'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const ARCHES: readonly Arch[] = [i386, i386Pae, ppc, ppc64]
const PTE_SPAN_MAX = 0x400000 // the largest span one pte page maps (i386, ppc: 4 MB)

describe('differential: every layout agrees', () => {
  it.each(KERNEL_PROFILES)(
    '[arch.md §1.1] the same page-table workload leaves the same per-cpu nr_page_table_pages (%s)',
    (profile) => {
      const outcome = (arch: Arch) => {
        const env = new PageTableEnv({ arch, profile, cpus: 3, lowmemPages: 256 })
        const mm = env.mmCreate()
        const steps: number[][] = []
        const snap = () =>
          steps.push(
            Array.from({ length: env.cpus }, (_, c) =>
              Number(
                BigInt.asIntN(arch.geometry.BITS_PER_LONG, env.pageState.get(c, PS.nr_page_table_pages)),
              ),
            ),
          )
        // Three user pte pages on cpus 0, 1, 0; one kernel pte page on cpu 2; all user ones freed on cpu 1.
        for (const [cpu, a] of [
          [0, 0x08048000],
          [1, 0x08048000 + PTE_SPAN_MAX],
          [0, 0x08048000 + 8 * PTE_SPAN_MAX],
          [1, 0x08049000],
        ] as const) {
          env.cpu = cpu
          pteUnmap(env, pteAllocMap(env, mm, a))
          snap()
        }
        env.cpu = 2
        pteAllocKernel(env, INIT_MM, arch.geometry.PAGE_OFFSET + 0x803000n)
        snap()
        env.cpu = 1
        clearPageTables(env, mm, 0, arch.geometry.USER_PTRS_PER_PGD)
        snap()
        return steps
      }
      const [first, ...rest] = ARCHES.map(outcome)
      const kernel = profile === '2.6.4' ? 1 : 0
      expect(first).toEqual([
        [1, 0, 0],
        [1, 1, 0],
        [2, 1, 0],
        [2, 1, 0],
        [2, 1, kernel],
        [2, -2, kernel],
      ])
      for (const r of rest) expect(r).toEqual(first)
    },
  )

  it('[arch.md §1.3] the generic swp_entry_t is the same on every 32-bit layout, and type/offset agree on all', () => {
    const narrow = ARCHES.filter((a) => a.geometry.BITS_PER_LONG === 32)
    expect(narrow.map((a) => a.name)).toEqual(['i386', 'i386-pae', 'ppc'])
    const common = ARCHES.map((a) => a.geometry.SWP_OFFSET_MAX).sort((x, y) => (x < y ? -1 : 1))[0]!
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_SWAPFILES - 1 }),
        fc.bigInt({ min: 0n, max: common }),
        (t, o) => {
          const vals = narrow.map((a) => a.macros.swap.genericVal(t, o))
          expect(new Set(vals).size).toBe(1)
          for (const a of ARCHES)
            expect(a.pteToSwpEntry(a.swpEntryToPte(t, o))).toEqual({ type: t, offset: o })
        },
      ),
    )
  })

  it('[arch.md §1.3] SWAP_MAXPAGES_LIMIT is 0xfffffe on i386, PAE and ppc, 0xfffffffffe on ppc64', () => {
    expect(Object.fromEntries(ARCHES.map((a) => [a.name, a.geometry.SWAP_MAXPAGES_LIMIT]))).toEqual({
      i386: 0xfffffen,
      'i386-pae': 0xfffffen,
      ppc: 0xfffffen,
      ppc64: 0xfffffffffen,
    })
  })

  it('[arch.md §1.4] PTRS_PER_PTE·sizeof(pte_t) = PAGE_SIZE, so the 2.6.5 and 2.6.6 ptep_to_address agree', () => {
    for (const a of ARCHES)
      expect(BigInt((a.geometry.PTRS_PER_PTE * a.geometry.PTE_BITS) / 8)).toBe(a.geometry.PAGE_SIZE)
  })
})
