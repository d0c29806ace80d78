/**
 * Differential checks across the four layouts: outcomes the kernel facts make
 * arch-independent must come out the same on every arch. They live here, not
 * in the published suite, because they need every arch package at once.
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import { runConformance, VM_SCENARIO_CHECKS } from '@rmaplab/conformance'
import {
  type Arch,
  clearPageTables,
  INIT_MM,
  KERNEL_PROFILES,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAX_SWAPFILES,
  Machine,
  PAGE_SIZE,
  PageTableEnv,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
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
    '[docs/layouts.md#pagetables-accounting] the same page-table workload leaves the same per-cpu nr_page_table_pages (%s)',
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

  it('[docs/layouts.md#swap-entries] the generic swp_entry_t is the same on every 32-bit layout, and type/offset agree on all', () => {
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

  it('[docs/layouts.md#swap-entries] SWAP_MAXPAGES_LIMIT is 0xfffffe on i386, PAE and ppc, 0xfffffffffe on ppc64', () => {
    expect(Object.fromEntries(ARCHES.map((a) => [a.name, a.geometry.SWAP_MAXPAGES_LIMIT]))).toEqual({
      i386: 0xfffffen,
      'i386-pae': 0xfffffen,
      ppc: 0xfffffen,
      ppc64: 0xfffffffffen,
    })
  })

  it('[docs/layouts.md#finding-a-ptes-mm-and-address] PTRS_PER_PTE·sizeof(pte_t) = PAGE_SIZE, so the 2.6.5 and 2.6.6 ptep_to_address agree', () => {
    for (const a of ARCHES)
      expect(BigInt((a.geometry.PTRS_PER_PTE * a.geometry.PTE_BITS) / 8)).toBe(a.geometry.PAGE_SIZE)
  })
})

/**
 * One VM workload (fork, COW, zero page, mprotect split and merge, munmap,
 * exec, exit) and everything it shows that must not depend on the layout:
 * contents, vmas relative to the first mapping (the stack relative to
 * TASK_SIZE), which pages share a frame (pfns renumbered by first sight, the
 * zero page as Z), mapcounts, pte write bits, Mapped/Active, and the counters of
 * m.stats(). Page-table costs (PageTables, MemFree) are left out: they follow
 * the geometry.
 */
function vmWorkload(arch: Arch) {
  const m = new Machine({ arch, ram: '64M', cpus: 2, seed: 2004 })
  const RW = PROT_READ | PROT_WRITE
  const ANON = MAP_PRIVATE | MAP_ANONYMOUS
  const steps: unknown[] = []
  const P = m.spawn()
  const a = P.mmap(0, 16 * PAGE_SIZE, RW, ANON)
  const b = P.mmap(0, 4 * PAGE_SIZE, PROT_READ, ANON)
  const rel = (x: number) => (x >= a && x - a < 2 ** 30 ? x - a : `TASK_SIZE${x - m.taskSize}`)
  const procs: Process[] = [P]
  const observe = (what: string) => {
    const ids = new Map<number, string>()
    const frame = (pfn: number) => {
      if (pfn === m.zeroPage) return 'Z'
      if (!ids.has(pfn)) ids.set(pfn, `f${ids.size}`)
      return ids.get(pfn)
    }
    const live = procs.filter((q) => q.alive)
    const view = live.map((q) => {
      const vmas = q
        .maps()
        .map((v) => ({ start: rel(v.start), end: rel(v.end), perms: v.perms, pgoff: rel(v.pgoff) }))
      const pages: unknown[] = []
      for (const v of q.maps()) {
        for (let x = v.start; x < v.end; x += PAGE_SIZE) {
          const e = q.pagemap(x)
          if (!e.present) {
            pages.push({ at: rel(x), present: false })
            continue
          }
          const pfn = e.pfn ?? -1
          pages.push({
            at: rel(x),
            frame: frame(pfn),
            write: e.write,
            dirty: e.dirty,
            mapcount: m.page(pfn).mapcount,
            content: m.page(pfn).content,
          })
        }
      }
      return { vmas, pages }
    })
    const info = m.meminfo()
    const { rmapBytes: _bytes, rmapMemory: _memory, ...counters } = m.stats()
    m.check()
    steps.push({ what, view, Mapped: info.Mapped, Active: info.Active, counters })
  }
  for (let k = 0; k < 16; k++) P.write(a + k * PAGE_SIZE, 0x1000 + k)
  for (let k = 0; k < 4; k++) P.read(b + k * PAGE_SIZE)
  observe('P wrote a, read b')
  const C = P.fork()
  procs.push(C)
  C.write(a + 3 * PAGE_SIZE, 0xc3)
  C.write(a + 5 * PAGE_SIZE, 0xc5)
  P.write(a + 7 * PAGE_SIZE, 0xa7)
  observe('fork, COW both ways')
  P.mprotect(a + 8 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_READ)
  P.munmap(a + 12 * PAGE_SIZE, 2 * PAGE_SIZE)
  C.mprotect(b, 4 * PAGE_SIZE, RW)
  C.write(b + PAGE_SIZE, 0xb1)
  observe('mprotect split, munmap, zero-page COW')
  const G = C.fork()
  procs.push(G)
  G.write(a, 0x9)
  for (let k = 0; k < 16; k++) G.read(a + k * PAGE_SIZE)
  C.mprotect(a, 16 * PAGE_SIZE, PROT_NONE)
  C.mprotect(a, 16 * PAGE_SIZE, RW)
  observe('grandchild, PROT_NONE and back (merge)')
  P.exec([7, 8])
  C.exit()
  observe('P execs, C exits')
  G.exit()
  P.exit()
  observe('all exit')
  const { rmapBytes, objects } = m.stats()
  return { steps, rmapBytes, objects }
}

describe('differential: the whole VM agrees on every layout', () => {
  it('[docs/scenarios.md A, B, D, H; docs/README.md#the-public-api-in-one-example] one workload gives the same contents, vmas, sharing, mapcounts and counters on all four', () => {
    const runs = ARCHES.map((arch) => ({ arch: arch.name, ...vmWorkload(arch) }))
    const [first, ...rest] = runs
    expect(first!.steps).toHaveLength(6)
    for (const r of rest) expect(r.steps, `${r.arch} vs ${first!.arch}`).toEqual(first!.steps)
  })

  it('[docs/designs.md#data-structures-and-sizes, docs/designs.md#costs anon_vma] rmap memory differs by pointer size only: 12-byte anon_vmas and 3 words per vma on 32-bit, twice that on ppc64', () => {
    const runs = Object.fromEntries(
      ARCHES.map((arch) => [
        arch.name,
        (() => {
          const m = new Machine({ arch, ram: '64M', cpus: 2 })
          const p = m.spawn()
          const a = p.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
          p.write(a, 1)
          p.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
          const c = p.fork()
          c.write(a + PAGE_SIZE, 2)
          const { rmapBytes, objects } = m.stats()
          return { rmapBytes, objects, frames: m.frames.n }
        })(),
      ]),
    )
    const i = runs['i386']!
    expect(
      i.objects,
      'two vmas in each of two mms, one anon_vma (the read-only vma never faulted anonymously)',
    ).toEqual({ anonVmas: 1, vmas: 4 })
    expect(i.rmapBytes).toEqual({
      anonVma: 12,
      vmaFields: 4 * 12,
      mapcount: i.frames * 4,
      total: 12 + 48 + i.frames * 4,
    })
    for (const name of ['i386-pae', 'ppc']) expect(runs[name], name).toEqual(i)
    const w = runs['ppc64']!
    expect({ objects: w.objects, frames: w.frames }).toEqual({ objects: i.objects, frames: i.frames })
    expect(w.rmapBytes, 'ppc64: every structure is pointers and longs, twice the size').toEqual({
      anonVma: 2 * i.rmapBytes.anonVma,
      vmaFields: 2 * i.rmapBytes.vmaFields,
      mapcount: 2 * i.rmapBytes.mapcount,
      total: 2 * i.rmapBytes.total,
    })
  })

  it('[conformance layer (c)] every vm.* check has the same outcome on all four layouts', () => {
    const outcomes = ARCHES.map((arch) => ({
      arch: arch.name,
      vm: Object.fromEntries(
        runConformance(arch, { numRuns: 5 })
          .filter((o) => o.id.startsWith('vm.'))
          .map((o) => [o.id, o.status]),
      ),
    }))
    const [first, ...rest] = outcomes
    // The published scenarios that need no swap-out (docs/scenarios.md A1, A3, A6, B1–B4, C1, C3, C7,
    // C8, D1, D2, D4, E1–E3, G2, H2), each a check of the VM layer that passes on every layout.
    const scenarios = VM_SCENARIO_CHECKS
    expect(Object.keys(first!.vm).length).toBeGreaterThanOrEqual(29)
    expect(
      Object.fromEntries(scenarios.map((id) => [id, first!.vm[id]])),
      `${first!.arch}: every scenario check passes`,
    ).toEqual(Object.fromEntries(scenarios.map((id) => [id, 'pass'])))
    for (const o of rest) expect(o.vm, `${o.arch} vs ${first!.arch}`).toEqual(first!.vm)
  })
})
