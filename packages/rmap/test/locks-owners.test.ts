// The locks the rmap walks and the swap read-in take, with owners (locks.ts):
// the spin_trylock of mm->page_table_lock in every walk that reaches a pte
// (objrmap, anonmm, pte_chains' try_to_unmap_one), 2.6.4's pte_chain_lock,
// anonmm's head lock, and the page lock add_to_swap_cache hands back to
// read_swap_cache_async. Each test plays "another cpu" by hand on a machine
// given a several-cpu context (m.smp, as the race explorer installs it), and
// looks at the owner table from inside the walk (a spy on the mmu operation
// the walk does under the lock): a path that only tested the lock, or took it
// without recording this cpu, or kept it after, fails here.
import { describe, expect, it } from 'vitest'
import {
  LOCK,
  LockBlocked,
  LockOrderError,
  LockTable,
  lockPage,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PG,
  PROT_READ,
  PROT_WRITE,
  type Smp,
  testSetPageLocked,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const PAGE = 4096
type Design = 'objrmap' | 'anonmm' | 'pte_chains'

/** A machine driven as cpu 0 of two; the other cpu's locks are taken by hand through `smp.locks`. */
function smpMachine(rmap: Design = 'objrmap'): { m: Machine; smp: Smp } {
  const m = new Machine({ arch: toy32, ram: '4M', swap: '1M', cpus: 2, rmap })
  const smp: Smp = {
    cpu: 0,
    locks: new LockTable(2, (_cls, id) => m.frames.test(id, PG.locked)),
    preempt() {},
  }
  return { m, smp }
}

/** A process with a shared mapping of a one-page file, the page faulted in. */
function fileSetup(m: Machine) {
  const as = m.fs.create('/f', { size: PAGE })
  const p = m.spawn()
  const a = p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, p.open('/f', O_RDWR), 0)
  p.write(a, 7)
  return { as, p, a, pfn: p.pagemap(a).pfn! }
}

/** A process with one written anonymous page. */
function anonSetup(m: Machine) {
  const p = m.spawn()
  const a = p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  p.write(a, 1)
  return { p, a, pfn: p.pagemap(a).pfn! }
}

type MmuOp = 'ptepTestAndClearYoung' | 'ptepGetAndClear'

/** Run `probe` each time the walk calls `op` on the mmu (under the page_table_lock it took). */
function spyMmu(m: Machine, op: MmuOp, probe: () => void): () => void {
  const mmu = m.env.mmu as unknown as Record<MmuOp, (...args: unknown[]) => unknown>
  const orig = mmu[op]
  mmu[op] = function (this: unknown, ...args: unknown[]) {
    probe()
    return orig.apply(this, args)
  }
  return () => {
    mmu[op] = orig
  }
}

/** What cpu 0 holds and whether cpu 1 could trylock `mm`'s page_table_lock, at each probe. */
function observe(smp: Smp, mmId: number) {
  const seen: Array<{ holder: number; held: string[]; otherTrylock: boolean }> = []
  const probe = () => {
    const otherTrylock = smp.locks.trylock(1, LOCK.page_table_lock, mmId)
    if (otherTrylock) smp.locks.release(1, LOCK.page_table_lock, mmId)
    seen.push({
      holder: smp.locks.holder(LOCK.page_table_lock, mmId),
      held: smp.locks.heldBy(0),
      otherTrylock,
    })
  }
  return { seen, probe }
}

describe("page_table_lock: the rmap walks' spin_trylock records its owner until the spin_unlock", () => {
  it('objrmap page_referenced_one: held by this cpu inside page_map_lock and i_shared_sem, refused to another, gone after', () => {
    const { m, smp } = smpMachine()
    const { as, p, pfn } = fileSetup(m)
    m.smp = smp
    const { seen, probe } = observe(smp, p.mm.id)
    const restore = spyMmu(m, 'ptepTestAndClearYoung', probe)
    try {
      expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    } finally {
      restore()
    }
    expect(seen).toEqual([
      {
        holder: 0,
        held: [
          `page_map_lock (PG_maplock) of pfn ${pfn}`,
          `i_shared_sem of address_space ${as.id}`,
          `mm->page_table_lock of mm ${p.mm.id}`,
        ],
        otherTrylock: false,
      },
    ])
    expect(smp.locks.holder(LOCK.page_table_lock, p.mm.id)).toBe(-1)
    expect(smp.locks.heldBy(0)).toEqual([])
    expect(smp.locks.trylock(1, LOCK.page_table_lock, p.mm.id)).toBe(true)
    smp.locks.release(1, LOCK.page_table_lock, p.mm.id)
    m.smp = null
    m.check()
  })

  it('objrmap try_to_unmap_one: held across the pte work of an anonymous swap-cache page, inside the anon_vma lock', () => {
    const { m, smp } = smpMachine()
    const { p, a, pfn } = anonSetup(m)
    const av = p.mm.vmas[0]!.anonVma!
    m.pageReferenced(pfn)
    expect(m.pageout(pfn).result).toBe('written') // in the swap cache now, unmapped: fault it back
    m.completeWriteback()
    expect(p.read(a)).toBe(1)
    const back = p.pagemap(a).pfn!
    expect(m.frames.test(back, PG.swapcache)).toBe(true)
    m.smp = smp
    const { seen, probe } = observe(smp, p.mm.id)
    const restore = spyMmu(m, 'ptepGetAndClear', probe)
    try {
      expect(m.tryToUnmap(back)).toBe('SWAP_SUCCESS')
    } finally {
      restore()
    }
    expect(seen).toEqual([
      {
        holder: 0,
        held: [
          `page lock (PG_locked) of pfn ${back}`,
          `page_map_lock (PG_maplock) of pfn ${back}`,
          `anon_vma->lock of anon_vma ${av.id}`,
          `mm->page_table_lock of mm ${p.mm.id}`,
        ],
        otherTrylock: false,
      },
    ])
    expect(smp.locks.heldBy(0)).toEqual([])
    expect(smp.locks.holder(LOCK.page_table_lock, p.mm.id)).toBe(-1)
    m.smp = null
    expect(p.read(a)).toBe(1)
    m.check()
  })

  it("another cpu's page_table_lock makes the walk's trylock fail: not referenced, SWAP_AGAIN, and the lock stays that cpu's", () => {
    const { m, smp } = smpMachine()
    const { p, pfn } = anonSetup(m)
    m.pageReferenced(pfn) // PG_referenced and the young bit cleared
    p.read(p.mm.vmas[0]!.start) // young again
    m.smp = smp
    smp.locks.acquire(1, LOCK.page_table_lock, p.mm.id)
    const fails = m.stats().rmap.trylockFailures
    expect(m.pageReferenced(pfn)).toBe(0)
    expect(m.stats().rmap.trylockFailures).toBe(fails + 1)
    expect(smp.locks.holder(LOCK.page_table_lock, p.mm.id)).toBe(1)
    expect(smp.locks.heldBy(0)).toEqual([])
    smp.locks.release(1, LOCK.page_table_lock, p.mm.id)
    expect(m.pageReferenced(pfn)).toBe(1) // the young bit the failed trylock left
    m.smp = null
  })

  it('a lock taken by a trylock is held like any other: a blocking acquire the order puts before it is a LockOrderError', () => {
    const t = new LockTable(2, () => true)
    expect(t.trylock(0, LOCK.page_table_lock, 3)).toBe(true)
    expect(t.trylock(1, LOCK.page_table_lock, 3)).toBe(false)
    expect(() => t.acquire(0, LOCK.i_shared_sem, 5)).toThrow(LockOrderError)
    expect(() => t.acquire(0, LOCK.i_shared_sem, 5)).toThrow(
      /i_shared_sem of address_space 5 is taken before mm->page_table_lock of mm 3/,
    )
    t.acquire(0, LOCK.page_map_lock, 9) // page_map_lock nests inside it
    t.release(0, LOCK.page_map_lock, 9)
    t.release(0, LOCK.page_table_lock, 3)
    expect(t.trylock(1, LOCK.page_table_lock, 3)).toBe(true)
  })

  it('a sequential machine records nothing and keeps the experiment-held lock: the trylock fails only for it', () => {
    const m = new Machine({ arch: toy32, ram: '4M' })
    const { p, pfn } = fileSetup(m)
    m.heldPageTableLocks.add(p.mm.id)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    m.heldPageTableLocks.delete(p.mm.id)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    expect(m.smp).toBe(null)
    m.check()
  })
})

describe("anonmm: the group head's lock and the page_table_lock trylock", () => {
  it('page_referenced_anon holds the head lock and, per pte, the page_table_lock; a second cpu is refused both', () => {
    const { m, smp } = smpMachine('anonmm')
    const { p, pfn } = anonSetup(m)
    const head = p.mm.anonmm!.head
    m.smp = smp
    const { seen, probe } = observe(smp, p.mm.id)
    const restore = spyMmu(m, 'ptepTestAndClearYoung', probe)
    try {
      expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    } finally {
      restore()
    }
    expect(seen).toEqual([
      {
        holder: 0,
        held: [
          `page_map_lock (PG_maplock) of pfn ${pfn}`,
          `anonmm->lock of anonmm ${head.id}`,
          `mm->page_table_lock of mm ${p.mm.id}`,
        ],
        otherTrylock: false,
      },
    ])
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
  })

  it("another cpu's head lock makes the walk and fork's dup_rmap wait; released, both go through", () => {
    const { m, smp } = smpMachine('anonmm')
    const { p, a, pfn } = anonSetup(m)
    const head = p.mm.anonmm!.head
    m.smp = smp
    smp.locks.acquire(1, LOCK.anonmm_lock, head.id)
    expect(() => m.pageReferenced(pfn)).toThrow(
      new RegExp(`anonmm->lock of anonmm ${head.id}, held by suspended cpu 1`),
    )
    expect(m.frames.test(pfn, PG.maplock)).toBe(false) // page_map_lock released on the way out
    expect(() => p.fork()).toThrow(LockBlocked)
    expect(head.ring).toHaveLength(1) // the child was not linked
    smp.locks.release(1, LOCK.anonmm_lock, head.id)
    const child = p.fork()
    expect(head.ring).toHaveLength(2)
    expect(child.read(a)).toBe(1)
    expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    child.exit() // exit_rmap takes it too, and drops it
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
    m.check()
  })
  it('the head lock ranks with the anon_vma lock: page_map_lock under it is out of order (rmap 10 mm/rmap.c)', () => {
    const t = new LockTable(2, () => true)
    t.acquire(0, LOCK.page_map_lock, 4)
    t.acquire(0, LOCK.anonmm_lock, 9) // page_referenced_anon, free_anonmm: inside page_map_lock
    expect(() => t.acquire(0, LOCK.anon_vma_lock, 3)).toThrow(LockOrderError) // same rank, another class
    t.release(0, LOCK.anonmm_lock, 9)
    t.release(0, LOCK.page_map_lock, 4)
    t.acquire(0, LOCK.anonmm_lock, 9) // dup_rmap, exit_rmap: alone
    expect(() => t.acquire(0, LOCK.page_map_lock, 5)).toThrow(
      /lock order \(rmap 10 mm\/rmap\.c header\): lock order: page_map_lock \(PG_maplock\) of pfn 5 is taken before anonmm->lock of anonmm 9/,
    )
    t.release(0, LOCK.anonmm_lock, 9)
    expect(t.heldBy(0)).toEqual([])
  })
})

describe("pte_chains: 2.6.4's pte_chain_lock and try_to_unmap_one's page_table_lock", () => {
  it('try_to_unmap_one holds page_table_lock inside pte_chain_lock; page_referenced takes none (2.6.4)', () => {
    const { m, smp } = smpMachine('pte_chains')
    const { p, pfn } = fileSetup(m)
    m.smp = smp
    const ref = observe(smp, p.mm.id)
    let restore = spyMmu(m, 'ptepTestAndClearYoung', ref.probe)
    try {
      expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    } finally {
      restore()
    }
    expect(ref.seen).toEqual([
      { holder: -1, held: [`pte_chain_lock (PG_chainlock) of pfn ${pfn}`], otherTrylock: true },
    ])
    const unmap = observe(smp, p.mm.id)
    restore = spyMmu(m, 'ptepGetAndClear', unmap.probe)
    try {
      expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    } finally {
      restore()
    }
    expect(unmap.seen).toEqual([
      {
        holder: 0,
        held: [
          `page lock (PG_locked) of pfn ${pfn}`,
          `pte_chain_lock (PG_chainlock) of pfn ${pfn}`,
          `mm->page_table_lock of mm ${p.mm.id}`,
        ],
        otherTrylock: false,
      },
    ])
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
    m.check()
  })

  it("another cpu's pte_chain_lock makes page_referenced wait; under it, lock_page and page_table_lock are out of order", () => {
    const { m, smp } = smpMachine('pte_chains')
    const { p, pfn } = fileSetup(m)
    m.smp = smp
    smp.locks.acquire(1, LOCK.pte_chain_lock, pfn)
    expect(() => m.pageReferenced(pfn)).toThrow(
      new RegExp(`pte_chain_lock \\(PG_chainlock\\) of pfn ${pfn}, held by suspended cpu 1`),
    )
    expect(m.frames.test(pfn, PG.maplock)).toBe(false)
    smp.locks.release(1, LOCK.pte_chain_lock, pfn)
    expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    smp.locks.acquire(0, LOCK.pte_chain_lock, pfn)
    expect(() => lockPage(m, m.cpus[0]!, pfn, 'test')).toThrow(
      new RegExp(
        `lock order \\(2\\.6\\.4 mm/rmap\\.c header\\): lock order: page lock \\(PG_locked\\) of pfn ${pfn} is taken before pte_chain_lock \\(PG_chainlock\\) of pfn ${pfn}`,
      ),
    )
    expect(() => smp.locks.acquire(0, LOCK.page_table_lock, p.mm.id)).toThrow(LockOrderError)
    smp.locks.release(0, LOCK.pte_chain_lock, pfn)
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
    m.check()
  })

  it("fork's copy_page_range waits on another cpu's pte_chain_lock and unwinds without the page_table_locks it held", () => {
    const { m, smp } = smpMachine('pte_chains')
    const { p, pfn } = fileSetup(m)
    m.smp = smp
    smp.locks.acquire(1, LOCK.pte_chain_lock, pfn)
    expect(() => p.fork()).toThrow(
      new RegExp(`pte_chain_lock \\(PG_chainlock\\) of pfn ${pfn}, held by suspended cpu 1`),
    )
    // Nothing of the child's or the parent's page_table_lock is left recorded.
    // (The explorer drops such a schedule; so does this test: the half-built
    // child's teardown waited on the same lock, so the machine is not reused.)
    expect(smp.locks.heldBy(0)).toEqual([])
    expect(smp.locks.holder(LOCK.page_table_lock, p.mm.id)).toBe(-1)
    m.smp = null
  })
})

describe('the page lock of a page read in from swap: add_to_swap_cache hands it to the reading cpu', () => {
  it('held by the cpu that reads it in until the read completes; another cpu cannot take it meanwhile', () => {
    const { m, smp } = smpMachine()
    const { p, a, pfn } = anonSetup(m)
    m.pageReferenced(pfn)
    expect(m.pageout(pfn).result).toBe('written')
    m.completeWriteback()
    expect(m.pageout(pfn).result).toBe('freed')
    expect(p.pagemap(a).present).toBe(false)
    m.smp = smp
    const seen: Array<{ pfn: number; holder: number; otherLocked: boolean; held: string[] }> = []
    const lruAddActive = m.lruAddActive
    m.lruAddActive = (x: number) => {
      // read_swap_cache_async: after add_to_swap_cache, before the read completes
      seen.push({
        pfn: x,
        holder: smp.locks.holder(LOCK.page_lock, x),
        otherLocked: testSetPageLocked(m, m.cpus[1]!, x),
        held: smp.locks.heldBy(0),
      })
      lruAddActive.call(m, x)
    }
    try {
      expect(p.read(a)).toBe(1)
    } finally {
      m.lruAddActive = lruAddActive
    }
    expect(seen).toHaveLength(1)
    const x = seen[0]!.pfn
    expect(seen[0]).toEqual({
      pfn: x,
      holder: 0,
      otherLocked: true,
      held: [`mmap_sem of mm ${p.mm.id}`, `page lock (PG_locked) of pfn ${x}`],
    })
    expect(m.frames.test(x, PG.locked)).toBe(false)
    expect(smp.locks.holder(LOCK.page_lock, x)).toBe(-1)
    expect(smp.locks.heldBy(0)).toEqual([])
    expect(smp.locks.heldBy(1)).toEqual([])
    m.smp = null
    m.check()
  })

  it('a sequential swap-in leaves the page unlocked and records nothing', () => {
    const m = new Machine({ arch: toy32, ram: '4M', swap: '1M' })
    const { p, a, pfn } = anonSetup(m)
    m.pageReferenced(pfn)
    expect(m.pageout(pfn).result).toBe('written')
    m.completeWriteback()
    expect(m.pageout(pfn).result).toBe('freed')
    expect(p.read(a)).toBe(1)
    expect(m.frames.test(p.pagemap(a).pfn!, PG.locked)).toBe(false)
    m.check()
  })
})
