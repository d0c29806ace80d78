// Locks with owners, wired where the 2004 code takes them (locks.ts): i_shared_sem
// in vma_link / remove_shared_vm_struct and the down_trylock of objrmap's file
// walks, the anon_vma lock in anon_vma_link / merge / unlink and the anon walks,
// and the page lock at every lock_page / TestSetPageLocked / unlock_page. Each
// test plays "another cpu" by hand on a machine given a several-cpu context
// (m.smp, as the race explorer installs it), and would pass on a path that
// ignored the owner table.
import { describe, expect, it } from 'vitest'
import {
  downISharedSem,
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
  unlockPage,
  upISharedSem,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const arch = toy32
const PAGE = 4096

/** A machine driven as cpu 0 of two, the other cpu's locks taken by hand through `smp.locks`. */
function smpMachine(): { m: Machine; smp: Smp } {
  const m = new Machine({ arch, ram: '4M', swap: '1M', cpus: 2 })
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
  const fd = p.open('/f', O_RDWR)
  const a = p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
  p.write(a, 7)
  return { as, p, fd, a, pfn: p.pagemap(a).pfn! }
}

describe('i_shared_sem', () => {
  it('vma_link takes it: a file mmap waits while another cpu holds it, and releases it after', () => {
    const { m, smp } = smpMachine()
    const { as, p, fd } = fileSetup(m)
    m.smp = smp
    smp.locks.acquire(1, LOCK.i_shared_sem, as.id)
    let err: unknown
    try {
      p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(LockBlocked)
    expect((err as LockBlocked).owner).toBe(1)
    expect((err as LockBlocked).message).toMatch(/i_shared_sem of address_space/)
    expect(as.iMmapShared).toHaveLength(1) // nothing half linked
    smp.locks.release(1, LOCK.i_shared_sem, as.id)
    const b = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    expect(as.iMmapShared).toHaveLength(2)
    expect(smp.locks.holder(LOCK.i_shared_sem, as.id)).toBe(-1)
    expect(smp.locks.heldBy(0)).toEqual([])
    p.munmap(b, PAGE) // remove_shared_vm_struct takes and drops it too
    expect(as.iMmapShared).toHaveLength(1)
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
    m.check()
  })

  it("objrmap's file walks down_trylock it: another cpu's semaphore means not referenced and SWAP_AGAIN", () => {
    const { m, smp } = smpMachine()
    const { as, pfn } = fileSetup(m)
    m.pageReferenced(pfn) // clear PG_referenced and the young bit
    m.smp = smp
    smp.locks.acquire(1, LOCK.i_shared_sem, as.id)
    const fails = m.stats().rmap.trylockFailures
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    expect(m.stats().rmap.trylockFailures).toBe(fails + 1)
    expect(m.page(pfn).mapcount).toBe(1)
    smp.locks.release(1, LOCK.i_shared_sem, as.id)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
    m.check()
  })

  it('a blocking down under page_table_lock is out of order: a LockOrderError naming both', () => {
    const { m, smp } = smpMachine()
    const { as, p } = fileSetup(m)
    m.smp = smp
    smp.locks.acquire(0, LOCK.page_table_lock, p.mm.id)
    expect(() => downISharedSem(m, m.cpus[0]!, as, 'test')).toThrow(LockOrderError)
    expect(() => downISharedSem(m, m.cpus[0]!, as, 'test')).toThrow(
      new RegExp(
        `i_shared_sem of address_space ${as.id} is taken before mm->page_table_lock of mm ${p.mm.id}`,
      ),
    )
    smp.locks.release(0, LOCK.page_table_lock, p.mm.id)
    downISharedSem(m, m.cpus[0]!, as, 'test')
    expect(smp.locks.holder(LOCK.i_shared_sem, as.id)).toBe(0)
    upISharedSem(m, m.cpus[0]!, as)
    expect(as.sharedSemHeld).toBe(false)
    m.smp = null
  })
})

describe('the anon_vma lock', () => {
  function anonSetup(m: Machine) {
    const p = m.spawn()
    const a = p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 1)
    return { p, a, pfn: p.pagemap(a).pfn!, av: p.mm.vmas[0]!.anonVma! }
  }

  it('page_referenced_anon takes it: the walk waits while another cpu holds it', () => {
    const { m, smp } = smpMachine()
    const { pfn, av } = anonSetup(m)
    m.smp = smp
    smp.locks.acquire(1, LOCK.anon_vma_lock, av.id)
    expect(() => m.pageReferenced(pfn)).toThrow(/anon_vma->lock of anon_vma \d+, held by suspended cpu 1/)
    smp.locks.release(1, LOCK.anon_vma_lock, av.id)
    expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
  })

  it('anon_vma_link takes it: fork waits, and the half-built child is torn down cleanly', () => {
    const { m, smp } = smpMachine()
    const { p, a, av } = anonSetup(m)
    m.smp = smp
    smp.locks.acquire(1, LOCK.anon_vma_lock, av.id)
    expect(() => p.fork()).toThrow(LockBlocked)
    expect(av.vmas).toHaveLength(1)
    smp.locks.release(1, LOCK.anon_vma_lock, av.id)
    const child = p.fork()
    expect(av.vmas).toHaveLength(2)
    expect(child.read(a)).toBe(1)
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
    m.check()
  })
})

describe('the page lock', () => {
  it('TestSetPageLocked of a page another cpu holds fails; unlock_page drops the owner', () => {
    const { m, smp } = smpMachine()
    const { pfn } = fileSetup(m)
    m.smp = smp
    expect(testSetPageLocked(m, m.cpus[1]!, pfn)).toBe(false)
    expect(smp.locks.holder(LOCK.page_lock, pfn)).toBe(1)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN') // cpu 0's TestSetPageLocked fails
    expect(() => lockPage(m, m.cpus[0]!, pfn, 'test')).toThrow(
      /page lock \(PG_locked\) of pfn \d+, held by suspended cpu 1/,
    )
    unlockPage(m, m.cpus[1]!, pfn)
    expect(smp.locks.holder(LOCK.page_lock, pfn)).toBe(-1)
    expect(m.frames.test(pfn, PG.locked)).toBe(false)
    lockPage(m, m.cpus[0]!, pfn, 'test')
    expect(smp.locks.holder(LOCK.page_lock, pfn)).toBe(0)
    unlockPage(m, m.cpus[0]!, pfn)
    expect(smp.locks.heldBy(0)).toEqual([])
    m.smp = null
  })

  it('a page lock whose bit a path without an owner record cleared does not make another cpu wait', () => {
    const { m, smp } = smpMachine()
    const { pfn } = fileSetup(m)
    m.smp = smp
    expect(testSetPageLocked(m, m.cpus[1]!, pfn)).toBe(false)
    m.frames.clear(pfn, PG.locked) // e.g. a read completing: unlock_page without the table
    lockPage(m, m.cpus[0]!, pfn, 'test')
    expect(smp.locks.holder(LOCK.page_lock, pfn)).toBe(0)
    expect(smp.locks.heldBy(1)).toEqual([])
    unlockPage(m, m.cpus[0]!, pfn)
    m.smp = null
  })

  it('lock_page under page_map_lock is out of order: a LockOrderError naming both', () => {
    const { m, smp } = smpMachine()
    const { pfn } = fileSetup(m)
    m.smp = smp
    smp.locks.acquire(0, LOCK.page_map_lock, pfn)
    expect(() => lockPage(m, m.cpus[0]!, pfn, 'test')).toThrow(
      new RegExp(
        `page lock \\(PG_locked\\) of pfn ${pfn} is taken before page_map_lock \\(PG_maplock\\) of pfn ${pfn}`,
      ),
    )
    expect(m.frames.test(pfn, PG.locked)).toBe(false)
    smp.locks.release(0, LOCK.page_map_lock, pfn)
    m.smp = null
  })

  it('a sequential machine keeps the one-thread rule: lock_page of a locked page is a kernel bug', () => {
    const m = new Machine({ arch, ram: '4M' })
    const { pfn } = fileSetup(m)
    expect(testSetPageLocked(m, m.cpus[0]!, pfn)).toBe(false)
    expect(testSetPageLocked(m, m.cpus[1]!, pfn)).toBe(true)
    expect(() => lockPage(m, m.cpus[0]!, pfn, 'mm/filemap.c test')).toThrow(
      /lock_page of a page nobody unlocks/,
    )
    unlockPage(m, m.cpus[0]!, pfn)
    expect(m.frames.test(pfn, PG.locked)).toBe(false)
  })
})
