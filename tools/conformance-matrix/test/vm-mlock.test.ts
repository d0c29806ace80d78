// mlock/munlock/mlockall and the single-page reclaim entry points on every
// layout, with m.check() after every step. The 2.6.5 rules are in
// packages/rmap/src/mlock.ts; the entry points are m.pageReferenced(pfn) and
// m.tryToUnmap(pfn) (machine.ts).
import {
  KernelBugError,
  MAP_SHARED,
  Machine,
  MCL_CURRENT,
  MCL_CURRENT_PPC,
  MCL_FUTURE,
  MCL_FUTURE_PPC,
  NotModelledError,
  O_RDWR,
  PAGE_SIZE,
  PG,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  VM,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, errnoOf, pages, pfnAt, snapshot } from './vm-helpers.js'

/** The flags of the vmas of `p`, VM_LOCKED or not, in address order. */
const lockedFlags = (p: Process) => p.mm.vmas.map((v) => (v.flags & VM.LOCKED) !== 0)

describe.each(ARCHES)('mlock on $name', (arch) => {
  const ppc = arch.name === 'ppc' || arch.name === 'ppc64'

  it('locks a whole vma: VM_LOCKED, locked_vm, every page faulted in for writing', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 4)
    const faults = m.stats().faults.anonymous
    p.mlock(a, pages(4))
    m.check()
    expect(lockedFlags(p)).toEqual([true])
    expect(p.mm.lockedVm).toBe(4)
    expect(p.mm.rss).toBe(4)
    expect(m.stats().faults.anonymous - faults).toBe(4)
    for (let i = 0; i < 4; i++) {
      expect(p.pagemap(a + pages(i))).toMatchObject({ present: true, write: true, dirty: true })
      expect(m.page(pfnAt(p, a + pages(i))).flags).toContain('referenced')
    }
    expect(p.read(a + pages(3))).toBe(0)
    // Locking again changes nothing (mlock_fixup returns at once when the flags agree).
    p.mlock(a, pages(4))
    expect(p.mm.lockedVm).toBe(4)
    p.munlock(a, pages(4))
    m.check()
    expect(lockedFlags(p)).toEqual([false])
    expect(p.mm.lockedVm).toBe(0)
    expect(p.mm.rss).toBe(4) // munlock does not unmap anything
  })

  it('splits at the edges and does not merge back on munlock (2.6.5 mlock_fixup only splits)', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 6)
    p.mlock(a + pages(2), pages(2))
    m.check()
    expect(p.maps().map((e) => [e.start - a, e.end - a, e.pgoff - a])).toEqual([
      [0, pages(2), 0],
      [pages(2), pages(4), pages(2)],
      [pages(4), pages(6), pages(4)],
    ])
    expect(lockedFlags(p)).toEqual([false, true, false])
    expect(p.mm.lockedVm).toBe(2)
    expect(p.pagemap(a + pages(1)).present).toBe(false)
    expect(p.pagemap(a + pages(2)).present).toBe(true)
    expect(p.pagemap(a + pages(4)).present).toBe(false)
    p.munlock(a + pages(2), pages(2))
    m.check()
    expect(p.mm.mapCount).toBe(3)
    expect(lockedFlags(p)).toEqual([false, false, false])
    expect(p.mm.lockedVm).toBe(0)
  })

  it('rounds an unaligned start down and the length up instead of failing', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 4)
    p.mlock(a + PAGE_SIZE + 100, PAGE_SIZE) // touches pages 1 and 2
    m.check()
    expect(lockedFlags(p)).toEqual([false, true, false])
    expect(p.mm.lockedVm).toBe(2)
    p.mlock(a, 0) // an empty range: nothing
    expect(p.mm.lockedVm).toBe(2)
  })

  it('faults a read-only vma in for reading: the zero page, no rss', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 3, undefined, PROT_READ)
    p.mlock(a, pages(3))
    m.check()
    for (let i = 0; i < 3; i++)
      expect(p.pagemap(a + pages(i))).toMatchObject({ present: true, pfn: m.zeroPage })
    expect(p.mm.rss).toBe(0)
    expect(p.mm.lockedVm).toBe(3)
  })

  it('a PROT_NONE vma: EFAULT from make_pages_present, with VM_LOCKED already set (2.6.5)', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2, undefined, PROT_NONE)
    expect(errnoOf(() => p.mlock(a, pages(2)))).toBe('EFAULT')
    m.check()
    expect(lockedFlags(p)).toEqual([true])
    expect(p.mm.lockedVm).toBe(2)
    expect(p.pagemap(a).present).toBe(false)
  })

  it('a hole in the range: ENOMEM after locking the vma before it', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    anon(p, 2, a + pages(3), PROT_READ)
    expect(errnoOf(() => p.mlock(a, pages(5)))).toBe('ENOMEM')
    m.check()
    expect(lockedFlags(p)).toEqual([true, false])
    expect(p.mm.lockedVm).toBe(2)
    expect(errnoOf(() => p.munlock(a, pages(5)))).toBe('ENOMEM')
    expect(p.mm.lockedVm).toBe(0)
    m.check()
  })

  it.each([
    ['an unmapped start', 'ENOMEM', (a: number) => [a + pages(8), pages(1)]],
    ['a range that wraps the address space', 'EINVAL', (a: number) => [a, 2 ** 64]],
    ['a negative length', 'EINVAL', (a: number) => [a, -1]],
  ] as const)('%s fails with %s and changes nothing', (_what, errno, args) => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 1)
    const before = snapshot(m, p)
    const [start, len] = args(a) as [number, number]
    expect(errnoOf(() => p.mlock(start, len))).toBe(errno)
    expect(errnoOf(() => p.munlock(start, len))).toBe(errno)
    expect(snapshot(m, p)).toEqual(before)
    m.check()
  })

  it('a split refused at vm.max_map_count is EAGAIN and changes nothing', () => {
    const m = new Machine({ arch, maxMapCount: 2 })
    const p = m.spawn()
    const a = anon(p, 4)
    const before = snapshot(m, p)
    // Two splits would be needed; only one fits.
    expect(errnoOf(() => p.mlock(a + PAGE_SIZE, PAGE_SIZE))).toBe('EAGAIN')
    expect(snapshot(m, p)).toEqual(before)
    m.check()
    // One split fits.
    p.mlock(a, PAGE_SIZE)
    expect(p.mm.mapCount).toBe(2)
    m.check()
  })

  it('mlock after fork breaks every COW share (make_pages_present writes); the child is not locked', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 4)
    for (let i = 0; i < 4; i++) p.write(a + pages(i), 0x40 + i)
    p.mlock(a, pages(4))
    const c = p.fork()
    m.check()
    expect(c.mm.lockedVm).toBe(0)
    expect(lockedFlags(c)).toEqual([false])
    expect(p.mm.lockedVm).toBe(4)
    const shared = [0, 1, 2, 3].map((i) => pfnAt(c, a + pages(i)))
    for (const pfn of shared) expect(m.page(pfn).mapcount).toBe(2)
    const copies = m.stats().cow.copies
    // The child locks its copy: each write fault copies the shared page.
    c.mlock(a, pages(4))
    m.check()
    expect(m.stats().cow.copies - copies).toBe(4)
    for (let i = 0; i < 4; i++) {
      expect(pfnAt(c, a + pages(i))).not.toBe(shared[i])
      expect(m.page(shared[i]!).mapcount).toBe(1)
      expect(c.read(a + pages(i))).toBe(0x40 + i)
    }
  })

  it('mlockall(MCL_CURRENT) and munlockall, with the arch flag values', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    anon(p, 3, a + pages(4), PROT_NONE)
    const current = ppc ? MCL_CURRENT_PPC : MCL_CURRENT
    const future = ppc ? MCL_FUTURE_PPC : MCL_FUTURE
    expect(errnoOf(() => p.mlockall(0))).toBe('EINVAL')
    expect(errnoOf(() => p.mlockall(ppc ? MCL_CURRENT : MCL_CURRENT_PPC))).toBe('EINVAL')
    expect(() => p.mlockall(future)).toThrow(NotModelledError)
    p.mlockall(current) // the PROT_NONE vma's EFAULT is ignored
    m.check()
    expect(lockedFlags(p)).toEqual([true, true])
    expect(p.mm.lockedVm).toBe(5)
    expect(p.pagemap(a + PAGE_SIZE).present).toBe(true)
    p.munlockall()
    m.check()
    expect(lockedFlags(p)).toEqual([false, false])
    expect(p.mm.lockedVm).toBe(0)
  })

  describe('reclaim entry points', () => {
    function oneLockedPage(): { m: Machine; p: Process; a: number; pfn: number } {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 1)
      p.mlock(a, PAGE_SIZE)
      return { m, p, a, pfn: pfnAt(p, a) }
    }

    it('try_to_unmap of a page in a VM_LOCKED vma is SWAP_FAIL and leaves the pte', () => {
      const m = new Machine({ arch, swap: '1M' })
      const p = m.spawn()
      const a = anon(p, 1)
      p.mlock(a, PAGE_SIZE)
      const pfn = pfnAt(p, a)
      // -aa's try_to_unmap only walks an anonymous page that is in the swap
      // cache: pageout gives it a slot (add_to_swap), then try_to_unmap fails
      // on the VM_LOCKED vma and the page is activated.
      m.pageReferenced(pfn)
      expect(m.pageout(pfn)).toMatchObject({ result: 'activated', unmap: 'SWAP_FAIL', addedToSwap: true })
      expect(m.page(pfn).flags).toContain('swapcache')
      m.check()
      const fails = m.stats().rmap.swapFail
      expect(m.tryToUnmap(pfn)).toBe('SWAP_FAIL')
      expect(m.stats().rmap.swapFail - fails).toBe(1)
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 1, ptesProbed: 1 })
      expect(p.pagemap(a).pfn).toBe(pfn)
      expect(m.page(pfn)).toMatchObject({ mapcount: 1, count: 2 })
      expect(m.page(pfn).flags).not.toContain('locked')
      expect(m.page(pfn).flags).not.toContain('maplock')
      m.check()
      // exit: the last pte goes, and with it the swap-cache page and its slot.
      p.exit()
      expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal)
      expect(m.meminfo().SwapCached).toBe(0)
      m.check()
    })

    it('a page-cache page mapped in a VM_LOCKED vma is SWAP_FAIL; unlocked, try_to_unmap removes every pte', () => {
      const m = new Machine({ arch })
      m.fs.create('/f', { size: pages(2), fill: 7 })
      const p = m.spawn()
      const fd = p.open('/f', O_RDWR)
      const a = p.mmap(0, pages(2), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
      const c = p.fork()
      p.mlock(a, pages(2)) // VM_WRITE: make_pages_present faults for writing
      expect(c.read(a)).toBe(7)
      const pfn = pfnAt(p, a)
      expect(pfnAt(c, a)).toBe(pfn)
      expect(m.page(pfn)).toMatchObject({ mapcount: 2, count: 3 })
      m.check()
      // 2.6.5's dup_mmap put the child's vma just before its parent on
      // i_mmap_shared: the walk unmaps the child's pte (fork cleared
      // VM_LOCKED there), then meets the locked parent and stops.
      expect(m.tryToUnmap(pfn)).toBe('SWAP_FAIL')
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 2, ptesProbed: 2 })
      expect(m.page(pfn)).toMatchObject({ mapcount: 1, count: 2 })
      expect([p.pagemap(a).present, c.pagemap(a).present]).toEqual([true, false])
      m.check()
      p.munlock(a, pages(2))
      expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
      // The child's vma holds no pte now: probed, nothing found; the parent's is unmapped.
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 2, ptesProbed: 2 })
      expect(m.page(pfn)).toMatchObject({ mapcount: 0, count: 1 }) // only the page cache holds it
      expect(m.page(pfn).flags).toContain('dirty') // the parent's write fault dirtied the pte
      expect([p.pagemap(a).present, c.pagemap(a).present]).toEqual([false, false])
      m.check()
      expect([p.read(a), c.read(a)]).toEqual([7, 7])
      m.check()
    })

    it('without a swap slot an anonymous page is SWAP_AGAIN without a walk, locked or not', () => {
      const { m, p, a, pfn } = oneLockedPage()
      expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 0, ptesProbed: 0 })
      p.munlock(a, PAGE_SIZE)
      expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
      expect(m.page(pfn)).toMatchObject({ mapcount: 1, count: 1 })
      m.check()
    })

    it('a page someone holds locked is SWAP_AGAIN (the trylock fails) and stays locked', () => {
      const { m, pfn } = oneLockedPage()
      m.frames.set(pfn, PG.locked)
      const calls = m.stats().rmap.tryToUnmapCalls
      expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
      expect(m.stats().rmap.tryToUnmapCalls).toBe(calls)
      expect(m.page(pfn).flags).toContain('locked')
      m.frames.clear(pfn, PG.locked)
      m.check()
    })

    it('VM_LOCKED does not change page_referenced: it counts and clears young ptes', () => {
      const { m, p, a, pfn } = oneLockedPage()
      // PG_referenced from the fault and from follow_page, plus the young pte.
      expect(m.pageReferenced(pfn)).toBe(2)
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 1, ptesProbed: 1 })
      expect(p.pagemap(a).young).toBe(false)
      expect(m.pageReferenced(pfn)).toBe(0)
      p.read(a)
      expect(m.pageReferenced(pfn)).toBe(1)
      m.check()
    })

    it('reserved, free and page-table pages: KernelBugError, nothing left locked; bad pfns: RangeError', () => {
      const { m, p, a, pfn } = oneLockedPage()
      const bug = (q: number) => {
        try {
          m.tryToUnmap(q)
        } catch (e) {
          return e
        }
      }
      const zero = bug(m.zeroPage)
      expect(zero).toBeInstanceOf(KernelBugError)
      expect((zero as KernelBugError).invariant).toBe('try_to_unmap of a reserved page')
      p.munmap(a, PAGE_SIZE)
      m.check()
      expect(m.page(pfn).count).toBe(0)
      const free = bug(pfn)
      expect(free).toBeInstanceOf(KernelBugError)
      expect((free as KernelBugError).invariant).toBe('try_to_unmap of a page without mapping')
      expect(m.page(pfn).flags).toEqual([])
      expect(m.page(pfn).count).toBe(0)
      expect(m.pageReferenced(pfn)).toBe(0)
      expect(m.pageReferenced(m.zeroPage)).toBe(0)
      for (const q of [-1, m.frames.n, 1.5, Number.NaN]) {
        expect(() => m.tryToUnmap(q)).toThrow(RangeError)
        expect(() => m.pageReferenced(q)).toThrow(/max_mapnr/)
      }
      m.check()
    })
  })

  it('A6 (metric, small): 50 pages × 50 children — one anon_vma lists 51 vmas, and page_referenced visits them all', () => {
    const N = 50
    const m = new Machine({ arch, ram: '64M' })
    const p = m.spawn()
    const a = anon(p, N)
    for (let i = 0; i < N; i++) p.write(a + pages(i), i)
    const children = Array.from({ length: N }, () => p.fork())
    for (const c of children) for (let i = 0; i < N; i++) c.write(a + pages(i), 1000 + i)
    m.check()
    const c = children[N - 1]!
    const pfn = pfnAt(c, a + pages(7))
    expect(m.page(pfn)).toMatchObject({ mapcount: 1, count: 1, index: a / PAGE_SIZE + 7 })
    expect(c.mm.vmas[0]!.anonVma!.vmas.length).toBe(N + 1)
    // -aa's try_to_unmap returns SWAP_AGAIN for an anonymous page with no swap
    // slot before walking anything, so the walk cost is measured on
    // page_referenced, which visits every vma on the anon_vma list.
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    expect(m.stats().lastWalk).toEqual({ vmasVisited: 0, ptesProbed: 0 })
    expect(m.pageReferenced(pfn)).toBe(1) // the child's young pte (the COW copy has no PG_referenced)
    const walk = m.stats().lastWalk
    // Every vma lies at the same address, so each costs a page-table walk that finds another page.
    expect(walk).toEqual({ vmasVisited: N + 1, ptesProbed: N + 1 })
    console.info(
      `A6 ${arch.name}: ${N} pages × ${N} children: page_referenced of one child page visited ${walk.vmasVisited} vmas, probed ${walk.ptesProbed} ptes, found 1`,
    )
    m.check()
  })
})
