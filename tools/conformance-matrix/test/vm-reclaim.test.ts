// Reclaim, issue 4 item 3 and item 7 (LRU consistency): the LRU scan of
// 2.6.5 (refill_inactive_zone with the swap_tendency / reclaim_mapped rule,
// shrink_list in batches, priorities DEF_PRIORITY..0), m.reclaim({ pages }),
// direct reclaim when a fault finds memory short, the OOM killer, and a small
// seeded swap stress run (docs/designs.md#locking-and-the-reclaim-order, docs/designs.md#objrmap-and-anon_vma, docs/designs.md#the-three-states-of-an-anonymous-page), on every
// layout, with m.check() after every step.
import {
  DEF_PRIORITY,
  type InvariantError,
  Machine,
  MREMAP_MAYMOVE,
  OomKillError,
  PAGE_SIZE,
  PG,
  type Process,
  swapTendency,
  VM_SWAPPINESS,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, dropSwapCache, pfnAt } from './vm-helpers.js'

/** Usable page frames: MemTotal in pages. */
const memPages = (m: Machine): number => m.meminfo().MemTotal / 4

describe('swap_tendency (refill_inactive_zone)', () => {
  it('is mapped_ratio/2 + (100 >> prev_priority) + vm_swappiness, reclaim_mapped at 100', () => {
    expect(VM_SWAPPINESS).toBe(60)
    expect(DEF_PRIORITY).toBe(12)
    // Few mapped pages, first pass: distress 0, 60 + 5 < 100.
    expect(swapTendency(100, 1000, 12)).toEqual({
      mappedRatio: 10,
      distress: 0,
      swapTendency: 65,
      reclaimMapped: false,
    })
    // 80% mapped reaches 100 with no distress at all.
    expect(swapTendency(800, 1000, 12).reclaimMapped).toBe(true)
    expect(swapTendency(799, 1000, 12).reclaimMapped).toBe(false)
    // distress = 100 >> priority: 25 at priority 2, 50 at 1, 100 at 0.
    expect(swapTendency(100, 1000, 2)).toMatchObject({ distress: 25, swapTendency: 90, reclaimMapped: false })
    expect(swapTendency(300, 1000, 2)).toMatchObject({ swapTendency: 100, reclaimMapped: true })
    expect(swapTendency(0, 1000, 1)).toMatchObject({ distress: 50, reclaimMapped: true })
    expect(swapTendency(0, 1000, 0).distress).toBe(100)
    // vm_swappiness 0 needs distress and mapped memory together.
    expect(swapTendency(0, 1000, 1, 0).reclaimMapped).toBe(false)
  })
})

describe.each(ARCHES)('reclaim on $name', (arch) => {
  it('anonymous memory larger than RAM: direct reclaim swaps out, every word reads back', () => {
    const m = new Machine({ arch, ram: '4M', swap: '16M' })
    const p = m.spawn()
    const n = Math.ceil(memPages(m) * 1.5)
    const a = anon(p, n)
    for (let i = 0; i < n; i++) {
      p.write(a + i * PAGE_SIZE, (i * 7 + 1) >>> 0)
      if (i % 64 === 0) m.check()
    }
    m.check()
    const s = m.stats()
    expect(s.reclaim.directReclaims).toBeGreaterThan(0)
    expect(s.swap.pagesWritten).toBeGreaterThan(n - memPages(m))
    expect(m.oomKills).toEqual([])
    for (let i = 0; i < n; i++) {
      expect(p.read(a + i * PAGE_SIZE)).toBe((i * 7 + 1) >>> 0)
      if (i % 64 === 0) m.check()
    }
    m.check()
    expect(m.stats().faults.swapMajor).toBeGreaterThan(0)
    p.exit()
    m.check()
    dropSwapCache(m) // pages whose write was in flight at exit stayed in the swap cache
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal)
  })

  it('m.reclaim frees pages as kswapd would and reports the scan', () => {
    const m = new Machine({ arch, ram: '8M', swap: '8M' })
    const p = m.spawn()
    const a = anon(p, 64)
    for (let i = 0; i < 64; i++) p.write(a + i * PAGE_SIZE, i + 100)
    m.check()
    const free0 = m.meminfo().MemFree
    const r = m.reclaim({ pages: 16 })
    m.check()
    expect(r.progress).toBe(true)
    expect(r.freed).toBeGreaterThanOrEqual(16)
    expect(r.requested).toBe(16)
    expect(m.meminfo().MemFree - free0).toBe(r.freed * 4)
    expect(r.writes).toBeGreaterThanOrEqual(r.freed) // every freed anonymous page was written to its slot
    expect(r.passes).toBeGreaterThanOrEqual(1)
    expect(r.addedToSwap).toBeGreaterThanOrEqual(r.freed)
    expect(r.walks.vmasVisited).toBeGreaterThan(0)
    expect(r.zones.reduce((t, z) => t + z.freed, 0)).toBe(r.freed)
    expect(r.priority).toBeLessThanOrEqual(DEF_PRIORITY)
    for (let i = 0; i < 64; i++) expect(p.read(a + i * PAGE_SIZE)).toBe(i + 100)
    m.check()
    // Nothing asked, nothing done.
    const z = m.reclaim({ pages: 0 })
    expect(z).toMatchObject({ freed: 0, scanned: 0, progress: true })
    m.check()
  })

  /** Time passes with no access: every young bit and PG_referenced of the pages is cleared. */
  function age(m: Machine, p: Process, a: number, n: number): void {
    for (let i = 0; i < n; i++) m.pageReferenced(pfnAt(p, a + i * PAGE_SIZE))
  }

  it('reclaim_mapped switches with nr_mapped: few mapped pages wait for distress, many do not', () => {
    // Few mapped pages: the active list is kept until distress (priority ≤ 1) makes swap_tendency reach 100.
    const few = new Machine({ arch, ram: '16M', swap: '8M' })
    const p = few.spawn()
    const a = anon(p, 32)
    for (let i = 0; i < 32; i++) p.write(a + i * PAGE_SIZE, i)
    age(few, p, a, 32)
    few.check()
    const r1 = few.reclaim({ pages: 1 })
    few.check()
    expect(r1.freed).toBeGreaterThanOrEqual(1)
    // The first balance_pgdat run keeps every mapped page active and fails down to
    // priority 1; the next starts from prev_priority 1 (distress 50) and deactivates
    // the 32 pages, but their max_scan (32 >> 5 + … + 32 >> 1 = 31) leaves
    // nr_scan_inactive short of SWAP_CLUSTER_MAX; the third scans and writes
    // them; the fourth, after the writes completed, frees them.
    expect(r1.passes).toBe(4)
    expect(r1).toMatchObject({ deactivated: 32, writes: 32, writebacksCompleted: 32 })
    expect(r1.reclaimMapped).toBe(true)
    expect(r1.swapTendency).toBeGreaterThanOrEqual(100)
    // Many mapped pages (≥ 80% of memory): reclaim_mapped holds from the first pass.
    const many = new Machine({ arch, ram: '4M', swap: '8M' })
    const q = many.spawn()
    const n = Math.ceil(memPages(many) * 0.85)
    const b = anon(q, n)
    for (let i = 0; i < n; i++) q.write(b + i * PAGE_SIZE, i)
    age(many, q, b, n)
    many.check()
    expect(many.meminfo().Mapped / many.meminfo().MemTotal).toBeGreaterThanOrEqual(0.8)
    const r2 = many.reclaim({ pages: 1 })
    many.check()
    expect(r2.freed).toBeGreaterThanOrEqual(1)
    // The first run writes what it deactivates; the second, after the writes completed, frees.
    expect(r2.passes).toBe(2)
    expect(r2.reclaimMapped).toBe(true)
    // No distress needed: the last run frees them before priority 1 (at the priority
    // where nr_inactive >> priority brings nr_scan_inactive to SWAP_CLUSTER_MAX).
    expect(r2.priority).toBeGreaterThan(1)
    expect(r2.deactivated).toBeGreaterThan(0)
    for (let i = 0; i < n; i++) expect(q.read(b + i * PAGE_SIZE)).toBe(i)
    many.check()
  })

  it('a referenced page on the inactive list is activated, not freed; shrink_cache scans all of max_scan', () => {
    const m = new Machine({ arch, ram: '8M', swap: '8M' })
    const p = m.spawn()
    const a = anon(p, 64)
    for (let i = 0; i < 64; i++) p.write(a + i * PAGE_SIZE, i + 1)
    const pfns = Array.from({ length: 64 }, (_, i) => pfnAt(p, a + i * PAGE_SIZE))
    // As refill_inactive_zone would leave them: on the inactive list, young bits
    // cleared; the first one added is the list's tail.
    for (const pfn of pfns) {
      m.lruDel(pfn)
      m.lruAddInactive(pfn)
      m.pageReferenced(pfn)
    }
    m.check()
    p.read(a) // pfns[0], at the tail, is referenced again
    const r = m.reclaim({ pages: 1 })
    m.check()
    // nr_scan_inactive reaches SWAP_CLUSTER_MAX only at priority 1 (64 >> 6 + … + 64 >> 1
    // = 63): shrink_cache(63) takes two batches, activates the referenced page and
    // writes the other 63. kswapd sleeps, the writes complete and move the pages to
    // the inactive tail, and the next run frees all 63 — not the 1 page asked for:
    // the -aa shrink_cache does not stop at nr_pages.
    expect(r).toMatchObject({
      freed: 63,
      writes: 63,
      addedToSwap: 63,
      writebacksCompleted: 63,
      progress: true,
    })
    expect(r.activated).toBeGreaterThanOrEqual(1)
    expect(m.page(pfns[0]!).flags).toContain('active')
    expect(p.pagemap(a)).toMatchObject({ present: true, pfn: pfns[0] })
    // The page next to the tail, unreferenced, went instead.
    expect(p.pagemap(a + PAGE_SIZE)).toMatchObject({ present: false, swapped: true })
    expect(p.read(a + PAGE_SIZE)).toBe(2)
    m.check()
  })

  it('m.check() names LRU inconsistencies', () => {
    const m = new Machine({ arch, ram: '8M', swap: '8M' })
    const p = m.spawn()
    const a = anon(p, 4)
    for (let i = 0; i < 4; i++) p.write(a + i * PAGE_SIZE, i)
    m.check()
    const violations = (): string[] => {
      try {
        m.check()
        return []
      } catch (e) {
        return [...(e as InvariantError).violations]
      }
    }
    const [x, y] = [pfnAt(p, a), pfnAt(p, a + PAGE_SIZE)]
    // Off every list, PG_lru cleared: a mapped page on no list.
    m.lruDel(x)
    expect(violations()).toEqual([`every in-use user or cache page is on an LRU list (page ${x} is on none)`])
    m.lruAddActive(x)
    m.check()
    // PG_active without being on the active list.
    m.lruDel(y)
    m.lruAddInactive(y)
    m.frames.set(y, PG.active)
    expect(
      violations().some((v) => v.includes(`a page is on the active list iff PG_active (page ${y}`)),
    ).toBe(true)
    m.frames.clear(y, PG.active)
    m.check()
    // A list count that does not match its list.
    const list = m.frames.zone(x) * 2 + 1
    m.lruCount[list]!++
    expect(violations().some((v) => v.includes('counts its list'))).toBe(true)
    m.lruCount[list]!--
    m.check()
  })

  it('refuses negative or fractional page counts, naming the limit, changing nothing', () => {
    const m = new Machine({ arch, ram: '8M', swap: '8M' })
    const p = m.spawn()
    const a = anon(p, 8)
    for (let i = 0; i < 8; i++) p.write(a + i * PAGE_SIZE, i)
    const before = { meminfo: m.meminfo(), stats: m.stats() }
    for (const pages of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '4' as unknown as number]) {
      expect(() => m.reclaim({ pages })).toThrow(RangeError)
      expect(() => m.reclaim({ pages })).toThrow(/whole number in 0\.\.2147483647/)
    }
    expect({ meminfo: m.meminfo(), stats: m.stats() }).toEqual(before)
    m.check()
  })

  it('reclaim that cannot make progress says so rather than looping', () => {
    const m = new Machine({ arch, ram: '8M' }) // no swap: anonymous pages cannot go
    const p = m.spawn()
    const a = anon(p, 16)
    for (let i = 0; i < 16; i++) p.write(a + i * PAGE_SIZE, i)
    const r = m.reclaim({ pages: 4 })
    m.check()
    // Two balance_pgdat runs: from prev_priority 12, then from 1 (distress 50); then it stops.
    expect(r).toMatchObject({ freed: 0, progress: false, priority: 1, passes: 2 })
    expect(r.activated).toBeGreaterThan(0)
    for (let i = 0; i < 16; i++) expect(p.read(a + i * PAGE_SIZE)).toBe(i)
  })

  it('with no swap, OOM kills the process with the highest badness (total_vm); the faulting one gets OomKillError', () => {
    const m = new Machine({ arch, ram: '4M' })
    const total = memPages(m)
    const small = m.spawn()
    const s = anon(small, 16)
    for (let i = 0; i < 16; i++) small.write(s + i * PAGE_SIZE, 1)
    const big = m.spawn()
    const bigPages = Math.floor(total * 0.6)
    const b = anon(big, bigPages)
    for (let i = 0; i < bigPages; i++) big.write(b + i * PAGE_SIZE, 2)
    m.check()
    const grower = m.spawn()
    const gPages = Math.floor(total * 0.5)
    const g = anon(grower, gPages)
    for (let i = 0; i < gPages; i++) {
      grower.write(g + i * PAGE_SIZE, 3)
      if (i % 64 === 0) m.check()
    }
    m.check()
    expect(big.alive).toBe(false)
    expect(big.killedBy).toBe('SIGKILL')
    expect(m.oomKills).toEqual([{ pid: big.pid, badness: bigPages }])
    expect(m.stats().reclaim.oomKills).toBe(1)
    expect(small.alive && grower.alive).toBe(true)
    expect(small.read(s)).toBe(1)
    // Now the grower is the biggest: its own fault kills it.
    const h = anon(grower, total)
    let err: unknown
    try {
      for (let i = 0; i < total; i++) grower.write(h + i * PAGE_SIZE, 4)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(OomKillError)
    expect(err).toMatchObject({ pid: grower.pid, signal: 'SIGKILL' })
    expect(grower.alive).toBe(false)
    expect(grower.killedBy).toBe('SIGKILL')
    expect(m.stats().reclaim.oomKills).toBe(2)
    m.check()
    expect(small.read(s + 15 * PAGE_SIZE)).toBe(1)
    small.exit()
    m.check()
  })

  it('swap stress: fork trees touching memory read-only and read-write under reclaim, with mremap and munmap', () => {
    const m = new Machine({ arch, ram: '4M', swap: '32M', seed: 7 })
    const free0 = m.meminfo().MemFree
    let rng = 0x9e3779b9
    const rand = (n: number): number => {
      rng ^= rng << 13
      rng ^= rng >>> 17
      rng ^= rng << 5
      rng >>>= 0
      return rng % n
    }
    interface Region {
      addr: number
      pages: number
    }
    interface Task {
      p: Process
      regions: Region[]
      data: Map<number, number>
    }
    const budget = Math.floor(memPages(m) * 3) // pages mapped over all tasks: three times RAM, under RAM + swap
    const mappedPages = (): number =>
      tasks.reduce((t, k) => t + k.regions.reduce((u, r) => u + r.pages, 0), 0)
    const root = m.spawn()
    const tasks: Task[] = [{ p: root, regions: [], data: new Map() }]
    let ops = 0
    let checks = 0
    let reads = 0
    const OPS = Number(process.env.RMAPLAB_STRESS_OPS ?? 800) // larger runs: RMAPLAB_STRESS_OPS=5000
    for (; ops < OPS; ops++) {
      const t = tasks[rand(tasks.length)]!
      const op = rand(100)
      if (op < 10 && mappedPages() + 80 <= budget) {
        const n = 16 + rand(64)
        t.regions.push({ addr: anon(t.p, n), pages: n })
      } else if (
        op < 16 &&
        tasks.length < 6 &&
        mappedPages() + t.regions.reduce((u, r) => u + r.pages, 0) <= budget
      ) {
        const c = t.p.fork()
        tasks.push({ p: c, regions: t.regions.map((r) => ({ ...r })), data: new Map(t.data) })
      } else if (op < 19 && tasks.length > 1 && t.p !== root) {
        t.p.exit()
        tasks.splice(tasks.indexOf(t), 1)
      } else if (op < 24 && t.regions.length) {
        // mremap: grow or shrink, moving if need be; the words move with the pages.
        const r = t.regions[rand(t.regions.length)]!
        const want = Math.max(1, r.pages + rand(17) - 8)
        if (want <= r.pages || mappedPages() + want - r.pages <= budget) {
          const to = t.p.mremap(r.addr, r.pages * PAGE_SIZE, want * PAGE_SIZE, MREMAP_MAYMOVE)
          const moved = new Map<number, number>()
          for (const [k, v] of t.data) {
            if (k >= r.addr && k < r.addr + r.pages * PAGE_SIZE) {
              const i = (k - r.addr) / PAGE_SIZE
              if (i < want) moved.set(to + i * PAGE_SIZE, v)
            } else moved.set(k, v)
          }
          t.data = moved
          r.addr = to
          r.pages = want
        }
      } else if (op < 27 && t.regions.length) {
        // munmap the tail of a region (or all of it).
        const ri = rand(t.regions.length)
        const r = t.regions[ri]!
        const k = 1 + rand(r.pages)
        const from = r.addr + (r.pages - k) * PAGE_SIZE
        t.p.munmap(from, k * PAGE_SIZE)
        for (let i = 0; i < k; i++) t.data.delete(from + i * PAGE_SIZE)
        r.pages -= k
        if (r.pages === 0) t.regions.splice(ri, 1)
      } else if (op < 29) {
        m.reclaim({ pages: 1 + rand(64) })
      } else if (t.regions.length) {
        // Touch a run of pages: read-only (checked against what was written) or read-write.
        const r = t.regions[rand(t.regions.length)]!
        const sweep = op < 40 // a third of the touches sweep a whole region
        const start = sweep ? 0 : rand(r.pages)
        const len = sweep ? r.pages : Math.min(r.pages - start, 1 + rand(48))
        const write = rand(3) !== 0
        for (let i = 0; i < len; i++) {
          const addr = r.addr + (start + i) * PAGE_SIZE
          if (write) {
            const v = (ops * 131 + i) >>> 0
            t.p.write(addr, v)
            t.data.set(addr, v)
          } else {
            expect(t.p.read(addr)).toBe(t.data.get(addr) ?? 0)
            reads++
          }
        }
      }
      m.check()
      checks++
    }
    const s = m.stats()
    expect(s.reclaim.directReclaims).toBeGreaterThan(0)
    expect(s.swap.pagesWritten).toBeGreaterThan(0)
    expect(s.faults.swapMajor + s.faults.swapCache).toBeGreaterThan(0)
    expect(m.oomKills).toEqual([])
    // Every page accounted for: each task reads back every word it wrote, then all exit
    // and every frame and every swap slot is free again.
    for (const t of tasks) {
      for (const [addr, v] of t.data) expect(t.p.read(addr)).toBe(v)
      m.check()
      checks++
    }
    for (const t of tasks) {
      t.p.exit()
      m.check()
      checks++
    }
    // Swap-cache pages nobody maps stay until reclaim takes them (as in the kernel):
    // m.reclaim takes most; a list too short for nr_scan_inactive to reach
    // SWAP_CLUSTER_MAX at priority >= 1 is left to shrink_list page by page.
    m.reclaim({ pages: memPages(m) })
    m.check()
    dropSwapCache(m)
    checks++
    const mi = m.meminfo()
    expect(mi.SwapFree).toBe(mi.SwapTotal)
    expect(mi.Active + mi.Inactive).toBe(0)
    expect(mi.MemFree).toBe(free0)
    expect({ ops, checks }).toMatchObject({ ops: OPS })
    console.log(
      `swap stress on ${arch.name}: ${ops} operations, ${checks} m.check() passes, ${reads} checked reads, ` +
        `${s.reclaim.directReclaims} direct reclaims, ${s.swap.pagesWritten} pages written, ` +
        `${s.faults.swapMajor} major swap faults, ${s.reclaim.freed} pages reclaimed`,
    )
  })
})
