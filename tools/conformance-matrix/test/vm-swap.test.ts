// Swap, step 1 of issue 4: swap areas, the swap cache, try_to_unmap of a
// swap-cache page, do_swap_page, and m.pageout's shrink_list order
// (docs/designs.md#locking-and-the-reclaim-order, docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (16–17), docs/designs.md#the-three-states-of-an-anonymous-page; docs/scenarios.md F2, C1, C3, E1),
// on every layout, with m.check() after every step.
import {
  ArchLimitError,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  type PageoutReport,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SwapAreaError,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, pageoutUntilFreed, pages, pfnAt } from './vm-helpers.js'

const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED
/** SwapTotal in kB of a `bytes` area: slot 0 is the header. */
const swapKb = (bytes: number): number => (bytes / PAGE_SIZE - 1) * 4

describe.each(ARCHES)('swap on $name', (arch) => {
  /** Swap out the page `p` maps at `addr`: activated first if referenced, written, freed once the write completed. */
  function swapOut(m: Machine, p: Process, addr: number): PageoutReport {
    const r = pageoutUntilFreed(m, pfnAt(p, addr))
    expect(r.result).toBe('freed')
    return r
  }

  describe('swapon', () => {
    it('the swap option creates area 0; slot 0 is the header', () => {
      const m = new Machine({ arch, swap: '1M' })
      expect(m.swapAreas()).toEqual([{ type: 0, priority: -1, pages: 255, used: 0 }])
      expect(m.meminfo()).toMatchObject({ SwapTotal: swapKb(2 ** 20), SwapFree: 1020, SwapCached: 0 })
      m.check()
      const none = new Machine({ arch })
      expect(none.swapAreas()).toEqual([])
      expect(none.meminfo()).toMatchObject({ SwapTotal: 0, SwapFree: 0, SwapCached: 0 })
    })

    it('refuses sizes below a header page plus one slot, and above SWAP_MAXPAGES_LIMIT pages, changing nothing', () => {
      const m = new Machine({ arch, swap: '1M' })
      const before = { areas: m.swapAreas(), meminfo: m.meminfo() }
      for (const size of [0, 4095, PAGE_SIZE, PAGE_SIZE * 2 - 1]) {
        expect(() => m.swapon(size)).toThrow(SwapAreaError)
      }
      const limit = Number(arch.geometry.SWAP_MAXPAGES_LIMIT)
      let err: unknown
      try {
        m.swapon((limit + 1) * PAGE_SIZE)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ArchLimitError)
      expect((err as Error).message).toContain(`0x${limit.toString(16)}`)
      expect(() => m.swapon('1X')).toThrow(RangeError)
      expect(() => m.swapon({ size: '1M', priority: 1.5 })).toThrow(RangeError)
      expect({ areas: m.swapAreas(), meminfo: m.meminfo() }).toEqual(before)
      m.check()
      // Exactly the limit is accepted (the swap map is allocated lazily).
      expect(m.swapon(limit * PAGE_SIZE)).toBe(1)
      expect(m.meminfo().SwapTotal).toBe(1020 + (limit - 1) * 4)
      m.check()
    })

    it('at most MAX_SWAPFILES (32) areas; swapoff frees a type for reuse', () => {
      const m = new Machine({ arch })
      for (let i = 0; i < 32; i++) expect(m.swapon(pages(2))).toBe(i)
      expect(m.meminfo().SwapTotal).toBe(32 * 4)
      const before = m.swapAreas()
      let err: unknown
      try {
        m.swapon(pages(2))
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(SwapAreaError)
      expect((err as SwapAreaError).limit).toBe('MAX_SWAPFILES (32)')
      expect(m.swapAreas()).toEqual(before)
      expect(m.swapoff(0)).toMatchObject({ type: 0, slots: 0 })
      expect(m.swapon(pages(2))).toBe(0)
      m.check()
    })

    it('get_swap_page: highest priority first, equal priorities in turn, slots in sequence from 1', () => {
      const m = new Machine({ arch })
      expect(m.swapon({ size: '1M', priority: 5 })).toBe(0)
      expect(m.swapon({ size: '1M', priority: 5 })).toBe(1)
      expect(m.swapon('1M')).toBe(2)
      expect(m.swapAreas().map((a) => [a.type, a.priority])).toEqual([
        [1, 5],
        [0, 5],
        [2, -1],
      ])
      const p = m.spawn()
      const a = anon(p, 4)
      for (let i = 0; i < 4; i++) p.write(a + pages(i), i + 1)
      const slots = [0, 1, 2, 3].map((i) => swapOut(m, p, a + pages(i)).swap)
      expect(slots).toEqual([
        { type: 1, offset: 1 },
        { type: 0, offset: 1 },
        { type: 1, offset: 2 },
        { type: 0, offset: 2 },
      ])
      expect(m.swapAreas().map((x) => x.used)).toEqual([2, 2, 0])
      expect(m.meminfo().SwapFree).toBe(3 * 1020 - 16)
      for (let i = 0; i < 4; i++) expect(p.read(a + pages(i))).toBe(i + 1)
      m.check()
    })
  })

  it('F2: a referenced page is activated, then swapped out, then swapped back in with its data', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 0xdeadbeef)
    const pfn = pfnAt(p, a)
    expect(p.pagemap(a).young).toBe(true)
    m.check()
    // First pass: PG_referenced (mark_page_accessed at the fault) and the young pte.
    expect(m.pageout(pfn)).toEqual({
      pfn,
      result: 'activated',
      reason: 'referenced and in use',
      referenced: 2,
      addedToSwap: false,
      swap: null,
      unmap: null,
      wrote: false,
    })
    expect(p.pagemap(a)).toMatchObject({ present: true, pfn, young: false })
    expect(m.page(pfn).flags).toContain('active')
    expect(m.page(pfn).flags).not.toContain('swapcache')
    m.check()
    // Second pass: unreferenced → add_to_swap → try_to_unmap → written, under write-back.
    expect(m.pageout(pfn)).toEqual({
      pfn,
      result: 'written',
      reason: 'written to swap, under write-back (PG_writeback)',
      referenced: 0,
      addedToSwap: true,
      swap: { type: 0, offset: 1 },
      unmap: 'SWAP_SUCCESS',
      wrote: true,
    })
    expect(m.meminfo()).toMatchObject({ Writeback: 4, SwapCached: 4, SwapFree: 1016 })
    m.check()
    // -aa shrink_list: a page under write-back is kept; after the write completed, freed.
    expect(m.pageout(pfn)).toMatchObject({ result: 'kept', reason: 'under write-back (PG_writeback)' })
    expect(m.completeWriteback()).toBe(1)
    expect(m.meminfo().Writeback).toBe(0)
    m.check()
    expect(m.pageout(pfn)).toEqual({
      pfn,
      result: 'freed',
      reason: 'freed',
      referenced: 0,
      addedToSwap: false,
      swap: { type: 0, offset: 1 },
      unmap: null,
      wrote: false,
    })
    expect(p.pagemap(a)).toEqual({ present: false, swapped: true, swapType: 0, swapOffset: 1 })
    expect(m.page(pfn).count).toBe(0)
    expect(m.swapCount(0, 1)).toBe(1)
    expect(p.mm.rss).toBe(0)
    expect(m.meminfo()).toMatchObject({ SwapTotal: 1020, SwapFree: 1016, SwapCached: 0, Mapped: 0 })
    m.check()
    // A read swaps it back in: a major fault, the page in the swap cache and mapped.
    expect(p.read(a)).toBe(0xdeadbeef)
    expect(m.stats().faults.swapMajor).toBe(1)
    const back = pfnAt(p, a)
    expect(p.pagemap(a).write).toBe(false)
    expect(m.page(back)).toMatchObject({ count: 2, mapcount: 1, private: m.swap.entry(0, 1) })
    expect(m.page(back).flags).toEqual(expect.arrayContaining(['anon', 'swapcache', 'lru']))
    expect(m.swapCount(0, 1)).toBe(1)
    expect(m.meminfo()).toMatchObject({ SwapFree: 1016, SwapCached: 4 })
    m.check()
    // exit frees the page, the swap cache entry and the slot.
    p.exit()
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    expect(m.swapCount(0, 1)).toBe(0)
    m.check()
  })

  it("the anon page's three states (docs/designs.md#the-three-states-of-an-anonymous-page), re-homed to the vma that maps it next", () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 7)
    const pfn = pfnAt(p, a)
    const av = p.mm.vmaAt(a)!.anonVma!.id
    // 1. mapped.
    expect(m.page(pfn)).toMatchObject({
      mapcount: 1,
      count: 1,
      mapping: { kind: 'anon_vma', id: av },
      private: 0,
    })
    expect(m.page(pfn).flags).toContain('anon')
    expect(m.page(pfn).flags).not.toContain('swapcache')
    m.check()
    // 2. in the swap cache and mapped: try_to_unmap's page_table_lock trylock fails.
    m.pageReferenced(pfn)
    m.heldPageTableLocks.add(p.mm.id)
    expect(m.pageout(pfn)).toMatchObject({
      result: 'kept',
      reason: 'SWAP_AGAIN',
      addedToSwap: true,
      swap: { type: 0, offset: 1 },
      unmap: 'SWAP_AGAIN',
    })
    m.heldPageTableLocks.delete(p.mm.id)
    expect(m.page(pfn)).toMatchObject({
      mapcount: 1,
      count: 2,
      mapping: { kind: 'anon_vma', id: av },
      private: m.swap.entry(0, 1),
    })
    expect(m.page(pfn).flags).toEqual(expect.arrayContaining(['anon', 'swapcache', 'dirty', 'lru']))
    expect(m.meminfo()).toMatchObject({ SwapFree: 1016, SwapCached: 4 })
    m.check()
    // Swap it out, fork (the slot now counts 2), then P brings it in and unmaps it.
    expect(pageoutUntilFreed(m, pfn)).toMatchObject({ result: 'freed', unmap: 'SWAP_SUCCESS', wrote: true })
    const c = p.fork()
    expect(m.swapCount(0, 1)).toBe(2)
    m.check()
    expect(p.read(a)).toBe(7)
    const page = pfnAt(p, a)
    expect(m.swapCount(0, 1)).toBe(2) // C's pte + the swap cache
    p.munmap(a, PAGE_SIZE)
    // 3. swap cache only: unmapped, mapping none, PG_anon clear.
    expect(m.page(page)).toMatchObject({
      mapcount: 0,
      count: 1,
      mapping: { kind: 'none' },
      private: m.swap.entry(0, 1),
    })
    expect(m.page(page).flags).toContain('swapcache')
    expect(m.page(page).flags).not.toContain('anon')
    expect(m.swapCount(0, 1)).toBe(2)
    expect(m.meminfo()).toMatchObject({ SwapFree: 1016, SwapCached: 4 })
    m.check()
    // C maps it next, after moving its vma: the 0→1 page_add_rmap re-homes it.
    const y = c.mremap(a, PAGE_SIZE, PAGE_SIZE, MOVE, a + pages(64))
    const vma = c.mm.vmaAt(y)!
    expect(c.read(y)).toBe(7)
    expect(m.stats().faults.swapCache).toBe(1)
    expect(pfnAt(c, y)).toBe(page)
    expect(m.page(page)).toMatchObject({
      mapcount: 1,
      count: 2,
      mapping: { kind: 'anon_vma', id: vma.anonVma!.id },
      index: vma.linearIndex(y),
    })
    expect(m.page(page).flags).toEqual(expect.arrayContaining(['anon', 'swapcache']))
    expect(m.swapCount(0, 1)).toBe(1)
    m.check()
    c.exit()
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    m.check()
  })

  it('fork copies swap ptes (swap_duplicate), exit and munmap free the slots', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 1)
    p.write(a + PAGE_SIZE, 2)
    swapOut(m, p, a)
    swapOut(m, p, a + PAGE_SIZE)
    expect(m.meminfo()).toMatchObject({ SwapFree: 1012, SwapCached: 0 })
    const c = p.fork()
    for (const q of [p, c]) {
      expect(q.pagemap(a)).toEqual({ present: false, swapped: true, swapType: 0, swapOffset: 1 })
      expect(q.pagemap(a + PAGE_SIZE)).toEqual({ present: false, swapped: true, swapType: 0, swapOffset: 2 })
    }
    expect([m.swapCount(0, 1), m.swapCount(0, 2)]).toEqual([2, 2])
    expect(c.mm.rss).toBe(0)
    m.check()
    c.exit()
    expect([m.swapCount(0, 1), m.swapCount(0, 2)]).toEqual([1, 1])
    expect(m.meminfo().SwapFree).toBe(1012)
    m.check()
    p.munmap(a, PAGE_SIZE)
    expect([m.swapCount(0, 1), m.swapCount(0, 2)]).toEqual([0, 1])
    expect(m.meminfo().SwapFree).toBe(1016)
    m.check()
    p.exit()
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    m.check()
  })

  it('do_swap_page: a write reuses an exclusive swap-cache page, a shared slot makes it copy', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 5)
    swapOut(m, p, a)
    // Alone: read in (major), slot count 1 after swap_free, page count 2 → writable at once.
    p.write(a, 6)
    expect(m.stats().faults).toMatchObject({ swapMajor: 1, wpReuse: 0, wpCopy: 0 })
    expect(p.pagemap(a)).toMatchObject({ present: true, write: true, dirty: true })
    const pfn = pfnAt(p, a)
    expect(m.page(pfn)).toMatchObject({ count: 2, mapcount: 1 })
    expect(m.swapCount(0, 1)).toBe(1)
    m.check()
    // Swap out again (dirty: written again), then fork: the slot is shared.
    const r = swapOut(m, p, a)
    expect(r).toMatchObject({ addedToSwap: false, swap: { type: 0, offset: 1 }, wrote: true })
    const c = p.fork()
    expect(m.swapCount(0, 1)).toBe(2)
    // C's write: read in read-only (slot count 2 after swap_free), then do_wp_page copies.
    c.write(a, 9)
    expect(m.stats().faults).toMatchObject({ swapMajor: 2, wpCopy: 1 })
    expect(m.stats().cow.copies).toBe(1)
    const old = m.swap.cache.get(m.swap.entry(0, 1))!
    expect(m.page(old)).toMatchObject({ count: 1, mapcount: 0, mapping: { kind: 'none' } })
    expect(m.swapCount(0, 1)).toBe(2) // P's pte + the swap cache
    m.check()
    // P reads: found in the swap cache (a minor swap fault), mapped read-only.
    expect(p.read(a)).toBe(6)
    expect(c.read(a)).toBe(9)
    expect(m.stats().faults.swapCache).toBe(1)
    expect(pfnAt(p, a)).toBe(old)
    expect(m.swapCount(0, 1)).toBe(1)
    expect(m.meminfo()).toMatchObject({ SwapFree: 1016, SwapCached: 4 })
    m.check()
    // Its write now reuses the page (count 2, slot count 1).
    p.write(a, 10)
    expect(m.stats().faults.wpReuse).toBe(1)
    expect(pfnAt(p, a)).toBe(old)
    m.check()
    p.exit()
    c.exit()
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    m.check()
  })

  it('a clean swap-cache page is freed without writing; its slot keeps the word', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 0x1234)
    swapOut(m, p, a)
    expect(p.read(a)).toBe(0x1234)
    const r = swapOut(m, p, a)
    expect(r).toMatchObject({
      addedToSwap: false,
      swap: { type: 0, offset: 1 },
      unmap: 'SWAP_SUCCESS',
      wrote: false,
    })
    expect(m.stats().swap.pagesWritten).toBe(1)
    expect(p.read(a)).toBe(0x1234)
    expect(m.stats().swap.pagesRead).toBe(2)
    m.check()
  })

  it('without a free slot, add_to_swap fails and the page is activated', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 1)
    const pfn = pfnAt(p, a)
    m.pageReferenced(pfn)
    expect(m.pageout(pfn)).toMatchObject({
      result: 'activated',
      reason: 'add_to_swap: no free swap slot',
      addedToSwap: false,
      swap: null,
      unmap: null,
    })
    expect(p.pagemap(a).present).toBe(true)
    m.check()
  })

  it('C1: after mremap, both pages swap out at their new address and read back', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const x = anon(p, 2)
    p.write(x, 0xa1)
    p.write(x + PAGE_SIZE, 0xa2)
    const y = p.mremap(x, pages(2), pages(2), MOVE, x + pages(32))
    expect([p.read(y), p.read(y + PAGE_SIZE)]).toEqual([0xa1, 0xa2])
    expect(p.mm.vmaAt(y)!.pgoff).toBe(x / PAGE_SIZE)
    const r = [swapOut(m, p, y), swapOut(m, p, y + PAGE_SIZE)]
    expect(r.map((o) => [o.unmap, o.swap])).toEqual([
      ['SWAP_SUCCESS', { type: 0, offset: 1 }],
      ['SWAP_SUCCESS', { type: 0, offset: 2 }],
    ])
    expect(p.pagemap(y)).toEqual({ present: false, swapped: true, swapType: 0, swapOffset: 1 })
    expect(p.pagemap(y + PAGE_SIZE)).toEqual({ present: false, swapped: true, swapType: 0, swapOffset: 2 })
    expect(p.pagemap(x)).toEqual({ present: false, swapped: false })
    expect([p.read(y), p.read(y + PAGE_SIZE)]).toEqual([0xa1, 0xa2])
    m.check()
  })

  it('C3: fork, mremap in the child; swap-out removes both ptes of each page, no copies', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const x = anon(p, 4)
    for (let i = 0; i < 4; i++) p.write(x + pages(i), 0x100 + i)
    const c = p.fork()
    const y = c.mremap(x, pages(4), pages(4), MOVE, x + pages(64))
    expect(c.mm.vmaAt(y)!.pgoff).toBe(x / PAGE_SIZE)
    const used = m.meminfo().MemFree
    for (let i = 0; i < 4; i++) {
      const pfn = pfnAt(p, x + pages(i))
      expect(pfnAt(c, y + pages(i))).toBe(pfn)
      expect(m.page(pfn).mapcount).toBe(2)
      const r = swapOut(m, p, x + pages(i))
      expect(r).toMatchObject({ unmap: 'SWAP_SUCCESS', swap: { type: 0, offset: i + 1 }, wrote: true })
      const e = { present: false, swapped: true, swapType: 0, swapOffset: i + 1 }
      expect(p.pagemap(x + pages(i))).toEqual(e)
      expect(c.pagemap(y + pages(i))).toEqual(e)
      expect(m.swapCount(0, i + 1)).toBe(2)
    }
    expect(m.meminfo().MemFree - used).toBe(16)
    expect(m.stats().cow.copies).toBe(0)
    m.check()
    for (let i = 0; i < 4; i++) {
      expect(p.read(x + pages(i))).toBe(0x100 + i)
      expect(c.read(y + pages(i))).toBe(0x100 + i)
      const pfn = pfnAt(p, x + pages(i))
      expect(pfnAt(c, y + pages(i))).toBe(pfn)
      expect(m.page(pfn)).toMatchObject({ mapcount: 2, count: 3 })
      expect(m.swapCount(0, i + 1)).toBe(1)
    }
    expect(m.meminfo()).toMatchObject({ SwapFree: 1004, SwapCached: 16 })
    m.check()
    p.exit()
    c.exit()
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    m.check()
  })

  it('E1: a shared file page swaps out to its file: both ptes become pte_none', () => {
    const m = new Machine({ arch, swap: '1M' })
    m.fs.create('/f', { size: pages(4) })
    const p = m.spawn()
    const fd = p.open('/f', O_RDWR)
    const a = p.mmap(0, pages(4), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    const c = p.fork()
    c.write(a + pages(2), 0x68656c6c)
    expect(p.read(a + pages(2))).toBe(0x68656c6c)
    const r = swapOut(m, p, a + pages(2))
    expect(r).toMatchObject({ addedToSwap: false, swap: null, unmap: 'SWAP_SUCCESS', wrote: true })
    for (const q of [p, c]) expect(q.pagemap(a + pages(2))).toEqual({ present: false, swapped: false })
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    expect(p.read(a + pages(2))).toBe(0x68656c6c)
    m.check()
  })

  it('a seeded fork/write/read/pageout/munmap/exit mix keeps every word and every slot accounted for', () => {
    const m = new Machine({ arch, swap: '1M' })
    const memFree = m.meminfo().MemFree
    let seed = 12345
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return (seed >>> 8) % n
    }
    const N = 8
    const root = m.spawn()
    const base = anon(root, N)
    // The words each live process should read, per page (undefined: unmapped).
    const shadow = new Map<Process, Array<number | undefined>>([[root, new Array(N).fill(0)]])
    const counts = { write: 0, read: 0, fork: 0, exit: 0, pageout: 0, freed: 0, completed: 0, munmap: 0 }
    for (let op = 0; op < 600; op++) {
      const procs = [...shadow.keys()]
      const p = procs[rnd(procs.length)]!
      const words = shadow.get(p)!
      const i = rnd(N)
      const addr = base + pages(i)
      const kind = rnd(10)
      if (words[i] === undefined) continue
      if (kind < 3) {
        const v = (op * 7919 + 1) >>> 0
        p.write(addr, v)
        words[i] = v
        counts.write++
      } else if (kind < 5) {
        expect(p.read(addr)).toBe(words[i])
        counts.read++
      } else if (kind < 8) {
        const e = p.pagemap(addr)
        if (e.present && e.pfn !== m.zeroPage) {
          let r = m.pageout(e.pfn!)
          counts.pageout++
          // Now and then the disk completes the writes in flight (m.completeWriteback)
          // and a page just written is taken again: freed once its write is done.
          if (r.result === 'written' && rnd(2) === 0) {
            m.check()
            counts.completed += m.completeWriteback()
            m.check()
            r = m.pageout(e.pfn!)
            counts.pageout++
          }
          if (r.result === 'freed') counts.freed++
        }
      } else if (kind === 8) {
        if (procs.length < 4) {
          shadow.set(p.fork(), [...words])
          counts.fork++
        } else {
          p.exit()
          shadow.delete(p)
          counts.exit++
          if (shadow.size === 0) break
        }
      } else {
        p.munmap(addr, PAGE_SIZE)
        words[i] = undefined
        counts.munmap++
      }
      m.check()
    }
    for (const [p, words] of shadow) {
      for (let i = 0; i < N; i++) if (words[i] !== undefined) expect(p.read(base + pages(i))).toBe(words[i])
    }
    m.check()
    // The same outcome on every layout.
    expect(counts).toEqual({
      write: 54,
      read: 40,
      fork: 14,
      exit: 12,
      pageout: 41,
      freed: 5,
      completed: 10,
      munmap: 19,
    })
    expect(m.stats().swap).toEqual({
      addToSwap: 10,
      pagesWritten: 11,
      pagesRead: 4,
      majorFaults: 4,
      cacheHits: 9,
      pageouts: 41,
      freed: 5,
      activated: 24,
    })
    m.completeWriteback()
    for (const p of shadow.keys()) p.exit()
    m.check()
    // A page that was under write-back when its last pte went stayed in the swap
    // cache (free_swap_and_cache leaves it): shrink_list frees those (m.reclaim
    // would not look at a 3-page list before nr_scan_inactive reaches 32).
    for (let pfn = 0; pfn < m.frames.n; pfn++)
      if (m.frames.count[pfn] && m.page(pfn).flags.includes('swapcache')) {
        // Clean: freed. Dirtied by the zap: swap_writepage's remove_exclusive_swap_page
        // drops it from the swap cache without a write, and reclaim's put frees it.
        const r = m.pageout(pfn)
        if (r.result !== 'freed') expect(r.reason).toMatch(/^swap_writepage: remove_exclusive_swap_page/)
        expect(m.frames.count[pfn]).toBe(0)
        m.check()
      }
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0, Writeback: 0, MemFree: memFree })
    m.check()
  })

  it('pageout refuses a pfn that is not an LRU page', () => {
    const m = new Machine({ arch, swap: '1M' })
    expect(() => m.pageout(m.zeroPage)).toThrow(RangeError)
    expect(() => m.pageout(-1)).toThrow(RangeError)
    m.check()
  })
})
