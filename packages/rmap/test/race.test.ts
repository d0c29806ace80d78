// The interleaving explorer (race/explore.ts), its locks (locks.ts), and the
// two PG_anon races of the "Re: 2.6.5-rc1-aa1" thread, re-introduced with the
// `bugs` option. A checker that cannot fail is a defect: each scenario is run
// both ways, and the buggy variant must be caught.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BUG_NAMES,
  decodeSchedule,
  encodeSchedule,
  explore,
  KernelBugError,
  LOCK,
  LockBlocked,
  LockOrderError,
  LockTable,
  Machine,
  pgAnonScenario,
  RACE_SCENARIO_NAMES,
  type RaceScenario,
  ReplayMismatchError,
  raceScenario,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const arch = toy32

describe('explorer self-test: toy counter', () => {
  it('finds the lost update of an unlocked read-modify-write with one preemption', () => {
    const r = explore(raceScenario('toy-counter', { arch }), { bound: 2 })
    expect(r.failure).not.toBeNull()
    expect(r.failure!.preemptions).toBe(1)
    expect(r.failure!.violation.kind).toBe('assertion')
    expect(r.failure!.violation.message).toMatch(/got 1/)
    expect(r.boundReached).toBe(0)
    const again = explore(raceScenario('toy-counter', { arch }), { replay: r.failure!.token })
    expect(again.failure!.trace).toEqual(r.failure!.trace)
  })

  it('does not flag the same increment under a lock, over every schedule to bound 3', () => {
    const r = explore(raceScenario('toy-counter-locked', { arch }), { bound: 3 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(3)
    expect(r.complete).toBe(true)
    // the schedules that preempt inside the critical section cannot run: counted, not flagged
    expect(r.infeasible).toBeGreaterThan(0)
    expect(r.schedules).toBeGreaterThan(1)
  })

  it('PCT finds the toy race from a seed, and the same seed gives the same result', () => {
    const a = explore(raceScenario('toy-counter', { arch }), { pct: { runs: 200, seed: 7, depth: 2 } })
    const b = explore(raceScenario('toy-counter', { arch }), { pct: { runs: 200, seed: 7, depth: 2 } })
    expect(a.failure).not.toBeNull()
    expect(b.failure!.token).toBe(a.failure!.token)
    expect(b.runs).toBe(a.runs)
  })
})

describe('the PG_anon race (pre-fix 2.6.5-rc1-aa1 against the fix)', () => {
  it("finds the oops BUG_ON(!page->mapping) in page_add_rmap in the pre-fix code, with the thread's interleaving", () => {
    const r = explore(pgAnonScenario({ arch, bugs: ['pg-anon-race'] }), { bound: 2 })
    const f = r.failure!
    expect(f).not.toBeNull()
    expect(f.violation.kind).toBe('bug')
    expect(f.violation.error).toBeInstanceOf(KernelBugError)
    expect((f.violation.error as KernelBugError).invariant).toBe(
      'file page_add_rmap of a page without mapping',
    )
    expect(f.violation.message).toMatch(/mm\/objrmap\.c:271/)
    expect(f.preemptions).toBe(1)
    expect(f.steps.filter((s) => s.preemption)).toEqual([
      { from: 0, to: 1, fn: 'do_swap_page', point: 'set_pte→page_add_rmap', preemption: true },
    ])
    // The thread's steps: B set_pte; reclaim unmaps P from A (B's pte skipped by the
    // page_table_lock trylock), mapcount 1→0 clears PG_anon and mapping; B's page_add_rmap oopses.
    expect(f.trace).toEqual([
      "cpu0 (B) runs 'B reads x (do_swap_page)'",
      'cpu0 (B) preempted in do_swap_page at set_pte→page_add_rmap',
      "cpu1 (reclaim) runs 'shrink_list of P (m.pageout)'",
      "cpu1 (reclaim) finishes 'shrink_list of P (m.pageout)': kept (still in use (page count 3); try_to_unmap SWAP_SUCCESS); P mapcount 0, no PG_anon, no mapping, swapcache",
      "cpu1 (reclaim) runs 'shrink_list of P again'",
      "cpu1 (reclaim) finishes 'shrink_list of P again': kept (still in use (page count 3); try_to_unmap not called); P mapcount 0, no PG_anon, no mapping, swapcache",
      'cpu0 (B) resumes in do_swap_page at set_pte→page_add_rmap',
      `cpu0 (B) raises ${f.violation.message}`,
    ])
    const replay = explore(pgAnonScenario({ arch, bugs: ['pg-anon-race'] }), { replay: f.token })
    expect(replay.failure!.trace).toEqual(f.trace)
  })

  // This also covers do_wp_page's pte_same re-check after the page_table_lock
  // is dropped to allocate: without it, reclaim unmapping B's pte in that
  // window left B's COW copy mapped over a swap pte (found at bound 1).
  it('the fixed page_add_rmap(..., anon) comes out clean over every schedule to bound 3', () => {
    const r = explore(pgAnonScenario({ arch }), { bound: 3 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(3)
    expect(r.complete).toBe(true)
    expect(r.schedules).toBeGreaterThanOrEqual(3)
  })

  it('the pre-fix schedule replayed on the fixed code passes', () => {
    const bad = explore(pgAnonScenario({ arch, bugs: ['pg-anon-race'] }), { bound: 1 })
    const r = explore(pgAnonScenario({ arch }), { replay: bad.failure!.token })
    expect(r.failure).toBeNull()
  })

  it('PCT finds it too', () => {
    const r = explore(pgAnonScenario({ arch, bugs: ['pg-anon-race'] }), {
      pct: { runs: 300, seed: 1, depth: 2 },
    })
    expect(r.failure?.violation.kind).toBe('bug')
  })
})

describe('the mirror race: PG_anon cleared outside page_map_lock', () => {
  it('is caught by m.check() in the buggy code: a mapped page whose anon_vma mapping reclaim cannot walk', () => {
    const r = explore(raceScenario('pg-anon-clear', { arch, bugs: ['pg-anon-clear-race'] }), { bound: 2 })
    const f = r.failure!
    expect(f.violation.kind).toBe('check')
    expect(f.violation.message).toMatch(/rmap walk of page \d+ finds its mapcount \(1\) ptes.*found -1/)
    expect(f.steps.filter((s) => s.preemption)[0]).toMatchObject({
      fn: 'page_remove_rmap',
      point: 'page_map_unlock→ClearPageAnon',
    })
    expect(
      explore(raceScenario('pg-anon-clear', { arch, bugs: ['pg-anon-clear-race'] }), { replay: f.token })
        .failure!.trace,
    ).toEqual(f.trace)
  })

  it('the fixed code is clean to bound 3', () => {
    const r = explore(raceScenario('pg-anon-clear', { arch }), { bound: 3 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(3)
  })
})

describe("fork against reclaim: copy_page_range's unlocked PG_anon read", () => {
  // Safe because copy_page_range holds the parent's page_table_lock, so reclaim's
  // trylock on the parent fails. With that lock left out (a mutation tried by
  // hand), the explorer finds the copy_page_range BUG_ON at bound 1.
  it.each([[[]], [['pg-anon-race']], [['pg-anon-clear-race']]] as const)(
    'is clean to bound 3 with bugs %j',
    (bugs) => {
      const r = explore(raceScenario('pg-anon-fork', { arch, bugs }), { bound: 3 })
      expect(r.failure).toBeNull()
      expect(r.boundReached).toBe(3)
      expect(r.schedules).toBeGreaterThan(3)
    },
  )
})

describe('the bugs option and the explorer surface', () => {
  it('lists the valid bug names for an unknown one, before building anything', () => {
    expect(() => new Machine({ arch, bugs: ['nope' as never] })).toThrow(
      /unknown bug 'nope'; valid: pg-anon-race, pg-anon-clear-race, pagetables-0kb, /,
    )
    expect(BUG_NAMES.slice(0, 2)).toEqual(['pg-anon-race', 'pg-anon-clear-race'])
    expect(new Machine({ arch }).bugs).toBe(0)
    expect(new Machine({ arch }).smp).toBeNull()
  })

  it('rejects bad options and unknown scenarios with RangeErrors', () => {
    const s = raceScenario('toy-counter', { arch })
    expect(() => explore(s, { bound: -1 })).toThrow(RangeError)
    expect(() => explore(s, { bound: 1, replay: 'v1:0' })).toThrow(/one of/)
    expect(() => explore(s, { pct: { runs: 0, seed: 1 } })).toThrow(RangeError)
    expect(() => explore(s, { replay: 'garbage' })).toThrow(ReplayMismatchError)
    expect(() => explore(s, { replay: 'v1:0,0,0' })).toThrow(ReplayMismatchError)
    expect(() => raceScenario('nope', { arch })).toThrow(new RegExp(RACE_SCENARIO_NAMES.join(', ')))
  })

  it('replay tokens are run-length coded cpu choices', () => {
    expect(encodeSchedule([0, 0, 0, 1, 1, 0])).toBe('v1:0*3,1*2,0')
    expect(decodeSchedule('v1:0*3,1*2,0')).toEqual([0, 0, 0, 1, 1, 0])
    expect(decodeSchedule('v1:')).toEqual([])
  })
})

describe('locks with owners and the lock order', () => {
  const table = () => new LockTable(2, () => true)

  it('an out-of-order blocking acquire is a LockOrderError naming both locks', () => {
    const t = table()
    t.acquire(0, LOCK.page_map_lock, 5)
    const e = (() => {
      try {
        t.acquire(0, LOCK.page_table_lock, 1)
      } catch (x) {
        return x
      }
    })() as LockOrderError
    expect(e).toBeInstanceOf(LockOrderError)
    expect(e.wanted).toBe('mm->page_table_lock of mm 1')
    expect(e.held).toBe('page_map_lock (PG_maplock) of pfn 5')
  })

  it('the -aa order page lock → page_table_lock → page_map_lock → anon_vma lock is accepted', () => {
    const t = table()
    t.acquire(0, LOCK.page_lock, 3)
    t.acquire(0, LOCK.page_table_lock, 1)
    t.acquire(0, LOCK.page_map_lock, 3)
    t.acquire(0, LOCK.anon_vma_lock, 9)
    expect(t.heldBy(0)).toHaveLength(4)
    t.release(0, LOCK.anon_vma_lock, 9)
    t.release(0, LOCK.page_map_lock, 3)
    t.release(0, LOCK.page_table_lock, 1)
    t.release(0, LOCK.page_lock, 3)
    expect(t.heldBy(0)).toEqual([])
  })

  it('trylocks are exempt from the order (reclaim trylocks page_table_lock under page_map_lock)', () => {
    const t = table()
    t.acquire(1, LOCK.page_map_lock, 5)
    expect(t.trylock(1, LOCK.page_table_lock, 2)).toBe(true)
    t.acquire(0, LOCK.page_table_lock, 3)
    expect(t.trylock(1, LOCK.page_table_lock, 3)).toBe(false)
  })

  it('owners: self-deadlock is a kernel bug, another owner blocks, a foreign release is a bug', () => {
    const t = table()
    t.acquire(0, LOCK.page_table_lock, 1)
    expect(() => t.acquire(0, LOCK.page_table_lock, 1)).toThrow(KernelBugError)
    expect(() => t.acquire(1, LOCK.page_table_lock, 1)).toThrow(LockBlocked)
    expect(() => t.release(1, LOCK.page_table_lock, 1)).toThrow(KernelBugError)
    expect(t.holder(LOCK.page_table_lock, 1)).toBe(0)
  })

  it('mmap_sem: readers share, a writer waits for them', () => {
    const t = table()
    t.downRead(0, 1)
    t.downRead(1, 1)
    expect(() => t.acquire(1, LOCK.mmap_sem, 1)).toThrow(LockBlocked)
    t.upRead(0, 1)
    t.upRead(1, 1)
    t.acquire(1, LOCK.mmap_sem, 1)
    expect(() => t.downRead(0, 1)).toThrow(LockBlocked)
  })
})

describe('the explorer reports what the kernel paths break', () => {
  it('an out-of-order acquire inside an operation is a violation naming both locks', () => {
    const s: RaceScenario<null> = {
      name: 'bad-order',
      description: 'takes page_map_lock, then page_table_lock',
      machine: () => new Machine({ arch, ram: '4M' }),
      setup: () => null,
      cpus: [
        {
          name: 'one',
          ops: [
            {
              name: 'inverted',
              run(m) {
                const smp = m.smp!
                smp.locks.acquire(smp.cpu, LOCK.page_map_lock, 1)
                smp.locks.acquire(smp.cpu, LOCK.page_table_lock, 1)
              },
            },
          ],
        },
      ],
    }
    const r = explore(s, { bound: 0 })
    expect(r.failure!.violation.error).toBeInstanceOf(LockOrderError)
    expect(r.failure!.violation.message).toMatch(
      /mm->page_table_lock of mm 1.*page_map_lock \(PG_maplock\) of pfn 1/,
    )
  })

  it('PCT never flags the fixed kernel, whatever the seed (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 4 }), (seed, depth) => {
        for (const name of ['pg-anon', 'pg-anon-clear', 'shmem-getpage', 'shmem-truncate'])
          expect(explore(raceScenario(name, { arch }), { pct: { runs: 3, seed, depth } }).failure).toBeNull()
      }),
      { numRuns: 15 },
    )
  })

  it('machines outside the explorer are untouched: smp is null after a run, sequential paths unchanged', () => {
    const s = pgAnonScenario({ arch })
    const m = s.machine()
    s.setup(m)
    expect(m.smp).toBeNull()
    m.check()
  })
})
