// Reclaim of the pages of VM_NONLINEAR vmas (2.6.7's try_to_unmap_file, the
// default `nonlinearReclaim: '2.6.7-cluster'`) under the several-cpu explorer
// and sequentially. 2.6.7 mm/rmap.c drops the page's page_map_lock before the
// cluster scan and takes it again after ("relock"); try_to_unmap_cluster calls
// page_remove_rmap on every pte it clears, so each page's page_map_lock is
// taken alone, inside the page_table_lock. A model that kept the target's lock
// across the scan took a second page_map_lock under it: a LockOrderError in
// every explorer run that reclaimed such a page. 2.6.7 (and 2.6.8) also
// counted nr_mapped down twice when the scan unmapped the page's last pte; the
// model counts it once, as 2.6.9 does, and `bugs: ['nonlinear-nr-mapped']`
// brings the double count back for m.check() to catch.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type BugName,
  explore,
  LOCK,
  LockOrderError,
  MAP_SHARED,
  Machine,
  nonlinearReclaimScenario,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type RaceScenario,
  type RmapStrategy,
  type SwapResult,
  VM,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const arch = toy32
const P = 4096

/** nr_mapped in pages (meminfo's Mapped is in kB). */
const nrMapped = (m: Machine): number => m.meminfo().Mapped / 4

/**
 * The mutant the explorer must catch: the old model, which kept the target's
 * page_map_lock across the cluster scan. Every page_remove_rmap of another
 * page that try_to_unmap's scan makes is wrapped in the target's
 * page_map_lock again, so its own page_map_lock is taken under it.
 */
function nestedLockMutant(m: Machine): void {
  const inner = m.rmap
  let target = -1
  const mutant: RmapStrategy = Object.create(inner)
  Object.assign(mutant, {
    tryToUnmap(mm: Machine, c: Parameters<RmapStrategy['tryToUnmap']>[1], pfn: number): SwapResult {
      target = pfn
      try {
        return inner.tryToUnmap(mm, c, pfn)
      } finally {
        target = -1
      }
    },
    pageRemoveRmap(mm: Machine, c: Parameters<RmapStrategy['pageRemoveRmap']>[1], pfn: number, ptep: number) {
      if (target < 0 || pfn === target) return inner.pageRemoveRmap(mm, c, pfn, ptep)
      inner.pageMapLock(mm, c, target)
      try {
        inner.pageRemoveRmap(mm, c, pfn, ptep)
      } finally {
        inner.pageMapUnlock(mm, c, target)
      }
    },
  })
  ;(m as unknown as { rmap: RmapStrategy }).rmap = mutant
}

/** The scenario with its machine replaced by the mutant. */
function mutated<C>(s: RaceScenario<C>): RaceScenario<C> {
  return {
    ...s,
    machine: () => {
      const m = s.machine()
      nestedLockMutant(m)
      return m
    },
  }
}

describe('the nonlinear-reclaim race scenario (2 cpus)', () => {
  it('finds nothing in any schedule to bound 3, and the unlocked window is explored', () => {
    const s = nonlinearReclaimScenario({ arch })
    // Record whether P ever runs while reclaim is inside try_to_unmap (called,
    // not returned) with the page's page_map_lock dropped, and whether the
    // file's i_shared_sem is dropped then too (cond_resched_lock).
    let inWindow = 0
    let semDropped = 0
    const spied: typeof s = {
      ...s,
      cpus: [
        s.cpus[0]!,
        {
          ...s.cpus[1]!,
          ops: s.cpus[1]!.ops.map((op) => ({
            name: op.name,
            run: (m: Machine, c: Parameters<typeof op.run>[1]) => {
              const locks = m.smp!.locks
              const ctr = m.counters.rmap
              const inTryToUnmap = ctr.tryToUnmapCalls > ctr.swapSuccess + ctr.swapAgain + ctr.swapFail
              if (inTryToUnmap && locks.holder(LOCK.page_map_lock, c.pfn) === -1) {
                inWindow++
                if (locks.holder(LOCK.i_shared_sem, m.fs.lookup('/tmp/nonlinear')!.id) === -1) semDropped++
              }
              return op.run(m, c)
            },
          })),
        },
      ],
    }
    const r = explore(spied, { bound: 3 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(3)
    expect(r.complete).toBe(true)
    expect(r.schedules).toBeGreaterThan(10)
    expect(inWindow).toBeGreaterThan(0)
    expect(semDropped).toBe(inWindow)
  })

  it('catches the mutant that keeps the page_map_lock across the scan, with no preemption', () => {
    const r = explore(mutated(nonlinearReclaimScenario({ arch })), { bound: 1 })
    expect(r.failure).not.toBeNull()
    expect(r.failure!.preemptions).toBe(0)
    expect(r.failure!.violation.kind).toBe('bug')
    expect(r.failure!.violation.error).toBeInstanceOf(LockOrderError)
    expect(r.failure!.violation.message).toMatch(
      /page_map_lock \(PG_maplock\) of pfn \d+ is taken before page_map_lock \(PG_maplock\) of pfn \d+/,
    )
  })

  it.each(['anonmm', 'pte_chains'] as const)('is clean to bound 3 under the %s design too', (rmap) => {
    // anonmm's file pages take objrmap's walk; 2.6.4's pte_chains unmap each
    // nonlinear pte from the page's own chain, under its pte_chain_lock alone.
    const s = nonlinearReclaimScenario({ arch })
    const r = explore({ ...s, machine: () => new Machine({ arch, ram: '16M', cpus: 2, rmap }) }, { bound: 3 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(3)
  })

  it("catches 2.6.7's double nr_mapped count (bugs: ['nonlinear-nr-mapped']) with m.check()", () => {
    const r = explore(nonlinearReclaimScenario({ arch, bugs: ['nonlinear-nr-mapped'] }), { bound: 1 })
    expect(r.failure).not.toBeNull()
    expect(r.failure!.violation.kind).toBe('check')
    expect(r.failure!.violation.message).toMatch(/nr_mapped \(-1\) equals the mapped pages \(0\)/)
  })
})

/** A file of `pages` pages mapped MAP_SHARED at x, its two ends swapped by remap_file_pages. */
function nonlinearMachine(bugs: BugName[] = [], pages = 4) {
  const m = new Machine({ arch, ram: '16M', bugs })
  m.fs.create('/tmp/nl', { size: pages * P, fill: 0 })
  const p = m.spawn()
  const fd = p.open('/tmp/nl', O_RDWR)
  const x = p.mmap(0, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
  p.remapFilePages(x, P, 0, pages - 1)
  p.remapFilePages(x + (pages - 1) * P, P, 0, 0)
  for (let k = 0; k < pages; k++) p.write(x + k * P, k + 1)
  expect(p.mm.vmaAt(x)!.flags & VM.NONLINEAR).toBe(VM.NONLINEAR)
  return { m, p, x, pages }
}

describe('sequential counters of a nonlinear reclaim', () => {
  it('each page the cluster unmaps is counted once in nr_mapped; mapcounts and m.check() agree', () => {
    const { m, p, x, pages } = nonlinearMachine()
    const target = p.pagemap(x + (pages - 1) * P).pfn!
    const all = Array.from({ length: pages }, (_, k) => p.pagemap(x + k * P).pfn!)
    const before = nrMapped(m)
    expect(m.tryToUnmap(target)).toBe('SWAP_AGAIN') // every pte young: aged only
    expect(nrMapped(m)).toBe(before)
    m.check()
    expect(m.tryToUnmap(target)).toBe('SWAP_SUCCESS')
    for (const pfn of all) expect(m.page(pfn).mapcount).toBe(0)
    expect(nrMapped(m)).toBe(before - pages)
    expect(p.mm.rss).toBe(0)
    // The page_map_lock is held by nobody afterwards (it was dropped and taken again).
    for (const pfn of all) expect(m.page(pfn).flags).not.toContain('maplock')
    m.check()
  })

  it("with bugs: ['nonlinear-nr-mapped'] the target is counted twice, as 2.6.7 did, and m.check() says so", () => {
    const { m, p, x, pages } = nonlinearMachine(['nonlinear-nr-mapped'])
    const target = p.pagemap(x + (pages - 1) * P).pfn!
    const before = nrMapped(m)
    m.tryToUnmap(target)
    expect(m.tryToUnmap(target)).toBe('SWAP_SUCCESS')
    expect(nrMapped(m)).toBe(before - pages - 1)
    expect(() => m.check()).toThrow(/nr_mapped/)
  })

  it('the linear walk alone counts the same with and without the bug', () => {
    for (const bugs of [[], ['nonlinear-nr-mapped']] as BugName[][]) {
      const m = new Machine({ arch, ram: '16M', bugs })
      m.fs.create('/tmp/lin', { size: 2 * P, fill: 0 })
      const a = m.spawn()
      const x = a.mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, a.open('/tmp/lin', O_RDWR), 0)
      a.write(x, 1)
      const b = a.fork()
      const pfn = a.pagemap(x).pfn!
      const before = nrMapped(m)
      m.pageReferenced(pfn)
      expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
      expect(nrMapped(m)).toBe(before - 1)
      expect(b.pagemap(x).present).toBe(false)
      m.check()
    }
  })

  it('the sequential run of the mutant is clean: only the explorer sees the nested lock', () => {
    const { m, p, x, pages } = nonlinearMachine()
    nestedLockMutant(m)
    const target = p.pagemap(x + (pages - 1) * P).pfn!
    m.tryToUnmap(target)
    expect(m.tryToUnmap(target)).toBe('SWAP_SUCCESS')
    m.check()
  })
})

// Model-based: random programs over nonlinear windows of one file (several
// processes, fork, remap_file_pages, mlock, reads and writes, reclaim of a
// page, kswapd's scan, write-back), m.check() after every step and the data
// of every file page checked against a model.
type Cmd =
  | { k: 'write'; proc: number; page: number; v: number }
  | { k: 'read'; proc: number; page: number }
  | { k: 'remap'; proc: number; page: number; pgoff: number }
  | { k: 'fork'; proc: number }
  | { k: 'exit'; proc: number }
  | { k: 'mlock'; proc: number; page: number }
  | { k: 'munlock'; proc: number }
  | { k: 'pageout'; index: number }
  | { k: 'tryToUnmap'; index: number }
  | { k: 'referenced'; index: number }
  | { k: 'reclaim'; pages: number }
  | { k: 'writeback' }

const FILE = 8

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ k: fc.constant('write' as const), proc: fc.nat(3), page: fc.nat(FILE - 1), v: fc.nat(1000) }),
  fc.record({ k: fc.constant('read' as const), proc: fc.nat(3), page: fc.nat(FILE - 1) }),
  fc.record({
    k: fc.constant('remap' as const),
    proc: fc.nat(3),
    page: fc.nat(FILE - 1),
    pgoff: fc.nat(FILE - 1),
  }),
  fc.record({ k: fc.constant('fork' as const), proc: fc.nat(3) }),
  fc.record({ k: fc.constant('exit' as const), proc: fc.nat(3) }),
  fc.record({ k: fc.constant('mlock' as const), proc: fc.nat(3), page: fc.nat(FILE - 1) }),
  fc.record({ k: fc.constant('munlock' as const), proc: fc.nat(3) }),
  fc.record({ k: fc.constant('pageout' as const), index: fc.nat(FILE - 1) }),
  fc.record({ k: fc.constant('tryToUnmap' as const), index: fc.nat(FILE - 1) }),
  fc.record({ k: fc.constant('referenced' as const), index: fc.nat(FILE - 1) }),
  fc.record({ k: fc.constant('reclaim' as const), pages: fc.integer({ min: 1, max: 16 }) }),
  fc.constant({ k: 'writeback' as const }),
)

interface World {
  m: Machine
  procs: Process[]
  /** Per process: the file page each window page shows. */
  window: number[][]
  /** The value each file page holds. */
  data: number[]
  x: number
}

function world(bugs: BugName[] = []): World {
  const m = new Machine({ arch, ram: '16M', bugs })
  m.fs.create('/tmp/fc', { size: FILE * P, fill: 0 })
  const p = m.spawn()
  const x = p.mmap(0, FILE * P, PROT_READ | PROT_WRITE, MAP_SHARED, p.open('/tmp/fc', O_RDWR), 0)
  return {
    m,
    procs: [p],
    window: [Array.from({ length: FILE }, (_, k) => k)],
    data: new Array(FILE).fill(0),
    x,
  }
}

function step(w: World, c: Cmd): void {
  const { m } = w
  const live = w.procs.length
  const pick = (i: number) => i % live
  const cached = (index: number): number | undefined => m.fs.lookup('/tmp/fc')!.pages.get(index)
  switch (c.k) {
    case 'write': {
      const i = pick(c.proc)
      w.procs[i]!.write(w.x + c.page * P, c.v)
      w.data[w.window[i]![c.page]!] = c.v
      break
    }
    case 'read': {
      const i = pick(c.proc)
      expect(w.procs[i]!.read(w.x + c.page * P)).toBe(w.data[w.window[i]![c.page]!])
      break
    }
    case 'remap': {
      const i = pick(c.proc)
      w.procs[i]!.remapFilePages(w.x + c.page * P, P, 0, c.pgoff)
      w.window[i]![c.page] = c.pgoff
      break
    }
    case 'fork': {
      if (live >= 4) break
      const i = pick(c.proc)
      w.procs.push(w.procs[i]!.fork())
      w.window.push([...w.window[i]!])
      break
    }
    case 'exit': {
      if (live <= 1) break
      const i = pick(c.proc)
      w.procs[i]!.exit()
      w.procs.splice(i, 1)
      w.window.splice(i, 1)
      break
    }
    case 'mlock':
      w.procs[pick(c.proc)]!.mlock(w.x + c.page * P, P)
      break
    case 'munlock':
      w.procs[pick(c.proc)]!.munlock(w.x, FILE * P)
      break
    case 'pageout': {
      const pfn = cached(c.index)
      if (pfn !== undefined && m.page(pfn).flags.includes('lru')) m.pageout(pfn)
      break
    }
    case 'tryToUnmap': {
      const pfn = cached(c.index)
      if (pfn !== undefined) {
        const before = m.page(pfn).mapcount
        const r = m.tryToUnmap(pfn)
        if (r === 'SWAP_SUCCESS') expect(m.page(pfn).mapcount).toBe(0)
        else expect(before).toBeGreaterThan(0)
      }
      break
    }
    case 'referenced': {
      const pfn = cached(c.index)
      if (pfn !== undefined) m.pageReferenced(pfn)
      break
    }
    case 'reclaim':
      m.reclaim({ pages: c.pages })
      break
    case 'writeback':
      m.completeWriteback()
      break
  }
}

describe('model-based: nonlinear windows under reclaim (fast-check)', () => {
  it('m.check() holds after every step and every window reads what was written', () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 40 }), (cmds) => {
        const w = world()
        for (const c of cmds) {
          step(w, c)
          w.m.check()
        }
        for (let i = 0; i < w.procs.length; i++)
          for (let k = 0; k < FILE; k++) expect(w.procs[i]!.read(w.x + k * P)).toBe(w.data[w.window[i]![k]!])
        w.m.check()
      }),
      { numRuns: 150, seed: 2004 },
    )
  })

  it("finds 2.6.7's double count (bugs: ['nonlinear-nr-mapped']): the same property fails", () => {
    const r = fc.check(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 40 }), (cmds) => {
        const w = world(['nonlinear-nr-mapped'])
        for (const c of cmds) {
          step(w, c)
          w.m.check()
        }
      }),
      { numRuns: 300, seed: 2004 },
    )
    expect(r.failed).toBe(true)
    expect(String((r.errorInstance as Error).message)).toMatch(/nr_mapped/)
  })

  it('random programs, then reclaim on one cpu against a random step on the other: no finding to bound 1', () => {
    // A reclaim of each cached page against each kind of step of the owner.
    const second = fc.oneof(
      fc.record({
        k: fc.constant('write' as const),
        proc: fc.constant(0),
        page: fc.nat(FILE - 1),
        v: fc.nat(1000),
      }),
      fc.record({
        k: fc.constant('remap' as const),
        proc: fc.constant(0),
        page: fc.nat(FILE - 1),
        pgoff: fc.nat(FILE - 1),
      }),
      fc.record({ k: fc.constant('mlock' as const), proc: fc.constant(0), page: fc.nat(FILE - 1) }),
    )
    const prefix = fc.array(
      cmd.filter((c) => c.k !== 'fork' && c.k !== 'exit'),
      { maxLength: 12 },
    )
    const run = (mutant: boolean) =>
      fc.check(
        fc.property(prefix, fc.nat(FILE - 1), second, (cmds, index, other) => {
          const s: RaceScenario<World> = {
            name: 'random-nonlinear',
            description: 'reclaim of a page of a nonlinear file against its owner',
            machine: () => {
              const m = new Machine({ arch, ram: '16M', cpus: 2 })
              if (mutant) nestedLockMutant(m)
              return m
            },
            setup: (m) => {
              m.fs.create('/tmp/fc', { size: FILE * P, fill: 0 })
              const p = m.spawn()
              const x = p.mmap(0, FILE * P, PROT_READ | PROT_WRITE, MAP_SHARED, p.open('/tmp/fc', O_RDWR), 0)
              // Map every file page nonlinearly (a reversed window), then the random prefix.
              for (let k = 0; k < FILE; k++) p.remapFilePages(x + k * P, P, 0, FILE - 1 - k)
              for (let k = 0; k < FILE; k++) p.write(x + k * P, k + 1)
              const v: World = {
                m,
                procs: [p],
                window: [Array.from({ length: FILE }, (_, k) => FILE - 1 - k)],
                data: Array.from({ length: FILE }, (_, i) => FILE - i),
                x,
              }
              for (const c of cmds) step(v, c)
              // Age every pte and drop PG_referenced so that the reclaim unmaps.
              for (let i = 0; i < FILE; i++) {
                const pfn = m.fs.lookup('/tmp/fc')!.pages.get(i)
                if (pfn !== undefined && m.page(pfn).mapcount > 0) m.tryToUnmap(pfn)
                if (pfn !== undefined) m.pageReferenced(pfn)
              }
              return v
            },
            cpus: [
              {
                name: 'reclaim',
                ops: [
                  {
                    name: `shrink_list of file page ${index}`,
                    run: (m) => {
                      const pfn = m.fs.lookup('/tmp/fc')!.pages.get(index)
                      if (pfn !== undefined && m.page(pfn).flags.includes('lru')) m.pageout(pfn)
                    },
                  },
                ],
              },
              { name: 'owner', ops: [{ name: other.k, run: (_m, c) => step(c, other) }] },
            ],
          }
          const r = explore(s, { bound: 1 })
          if (r.failure) throw new Error(r.failure.violation.message)
        }),
        { numRuns: 25, seed: 7 },
      )
    expect(run(false).failed).toBe(false)
    const bad = run(true)
    expect(bad.failed).toBe(true)
    expect(String((bad.errorInstance as Error).message)).toMatch(/lock order: page_map_lock/)
  })
})
