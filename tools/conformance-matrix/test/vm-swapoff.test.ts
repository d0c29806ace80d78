// swapoff (issue 4 item 4): sys_swapoff → try_to_unuse → unuse_process →
// unuse_vma → unuse_pte (docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (16)), on every layout,
// with m.check() after every step.
import { Machine, type PageoutReport, type Process, SyscallError } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, errnoOf, pageoutUntilFreed, pages, pfnAt } from './vm-helpers.js'

describe.each(ARCHES)('swapoff on $name', (arch) => {
  /** Swap out the page `p` maps at `addr`: activated first if referenced, written, freed once the write completed. */
  function swapOut(m: Machine, p: Process, addr: number): PageoutReport {
    const r = pageoutUntilFreed(m, pfnAt(p, addr))
    expect(r.result).toBe('freed')
    return r
  }

  it('brings every page back with its data, old and write-protected, and frees the area', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 4)
    for (let i = 0; i < 4; i++) p.write(a + pages(i), 0x100 + i)
    for (let i = 0; i < 3; i++) swapOut(m, p, a + pages(i))
    expect(p.pagemap(a).swapped).toBe(true)
    expect(m.swapAreas()[0]!.used).toBe(3)
    const rss = p.mm.rss
    const r = m.swapoff(0)
    m.check()
    expect(r).toEqual({ type: 0, slots: 3, pagesRead: 3, ptes: 3, shmem: 0 })
    expect(m.swapAreas()).toEqual([])
    expect(m.meminfo()).toMatchObject({ SwapTotal: 0, SwapFree: 0, SwapCached: 0 })
    expect(p.mm.rss).toBe(rss + 3)
    for (let i = 0; i < 3; i++) {
      const e = p.pagemap(a + pages(i))
      expect(e.present).toBe(true)
      expect(e.young).toBe(false) // pte_mkold
      expect(e.write).toBe(false) // do_wp_page decides later
      const pg = m.page(e.pfn!)
      expect(pg.mapcount).toBe(1)
      expect(pg.flags).toContain('anon')
      expect(pg.flags).toContain('dirty')
      expect(pg.flags).not.toContain('swapcache')
    }
    for (let i = 0; i < 4; i++) expect(p.read(a + pages(i))).toBe(0x100 + i)
    m.check()
    // A write reuses the page (count 1, no swap cache): no copy.
    const pfn = pfnAt(p, a)
    p.write(a, 7)
    expect(pfnAt(p, a)).toBe(pfn)
    m.check()
  })

  it('pages shared by fork come back shared: mapcount 2 on one frame', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 0xaaaa)
    p.write(a + pages(1), 0xbbbb)
    const c = p.fork()
    m.check()
    swapOut(m, p, a)
    expect(p.pagemap(a).swapped && c.pagemap(a).swapped).toBe(true)
    expect(m.swapCount(0, p.pagemap(a).swapOffset!)).toBe(2)
    const r = m.swapoff(0)
    m.check()
    expect(r.ptes).toBe(2)
    const pfn = pfnAt(p, a)
    expect(pfnAt(c, a)).toBe(pfn)
    expect(m.page(pfn).mapcount).toBe(2)
    expect(p.read(a)).toBe(0xaaaa)
    expect(c.read(a)).toBe(0xaaaa)
    // COW still separates them.
    c.write(a, 0xcccc)
    m.check()
    expect(p.read(a)).toBe(0xaaaa)
    expect(c.read(a)).toBe(0xcccc)
    m.check()
  })

  it('a page already in the swap cache is not read again; one only in the cache is freed', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 1)
    p.write(a + pages(1), 2)
    swapOut(m, p, a)
    swapOut(m, p, a + pages(1))
    expect(p.read(a)).toBe(1) // swap-cache page mapped again, slot still held by the cache
    m.check()
    expect(m.meminfo().SwapCached).toBe(4)
    const r = m.swapoff(0)
    m.check()
    expect(r).toMatchObject({ slots: 2, pagesRead: 1, ptes: 1 })
    expect(m.meminfo().SwapCached).toBe(0)
    expect(p.read(a)).toBe(1)
    expect(p.read(a + pages(1))).toBe(2)
    m.check()
  })

  it('other areas keep working; a freed type is reused by the next swapon', () => {
    const m = new Machine({ arch })
    expect(m.swapon({ size: '1M', priority: 5 })).toBe(0)
    expect(m.swapon({ size: '1M', priority: 1 })).toBe(1)
    const p = m.spawn()
    const a = anon(p, 3)
    for (let i = 0; i < 3; i++) p.write(a + pages(i), 10 + i)
    expect(swapOut(m, p, a).swap).toEqual({ type: 0, offset: 1 })
    m.swapoff(0)
    m.check()
    expect(m.swapAreas().map((x) => x.type)).toEqual([1])
    expect(swapOut(m, p, a + pages(1)).swap).toEqual({ type: 1, offset: 1 })
    expect(m.swapon('1M')).toBe(0)
    m.check()
    m.swapoff(1)
    m.check()
    for (let i = 0; i < 3; i++) expect(p.read(a + pages(i))).toBe(10 + i)
    m.check()
  })

  it('a process that exits before swapoff leaves no slot behind', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 5)
    const c = p.fork()
    swapOut(m, p, a)
    c.exit()
    m.check()
    expect(m.swapoff(0).ptes).toBe(1)
    m.check()
    expect(p.read(a)).toBe(5)
  })

  it('ENOMEM when free memory cannot hold the pages: nothing changed, nothing lost', () => {
    const m = new Machine({ arch, ram: '8M', swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 8)
    for (let i = 0; i < 8; i++) p.write(a + pages(i), 0x200 + i)
    for (let i = 0; i < 8; i++) swapOut(m, p, a + pages(i))
    // Fill memory until fewer than 8 frames are free.
    const hog = m.spawn()
    const free = m.meminfo().MemFree / 4
    const h = anon(hog, free)
    let i = 0
    while (m.meminfo().MemFree / 4 >= 8) hog.write(h + pages(i++), 1)
    m.check()
    const before = {
      areas: m.swapAreas(),
      meminfo: m.meminfo(),
      maps: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => p.pagemap(a + pages(k))),
      rss: p.mm.rss,
    }
    let err: unknown
    try {
      m.swapoff(0)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SyscallError)
    expect((err as SyscallError).errno).toBe('ENOMEM')
    m.check()
    expect({
      areas: m.swapAreas(),
      meminfo: m.meminfo(),
      maps: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => p.pagemap(a + pages(k))),
      rss: p.mm.rss,
    }).toEqual(before)
    // Free the hog and it works, with every word intact.
    hog.exit()
    m.check()
    expect(m.swapoff(0).pagesRead).toBe(8)
    m.check()
    for (let k = 0; k < 8; k++) expect(p.read(a + pages(k))).toBe(0x200 + k)
    m.check()
  })

  it('bad input: an unknown area, a bad type, an area already being turned off → EINVAL, nothing changed', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 9)
    swapOut(m, p, a)
    const before = { areas: m.swapAreas(), meminfo: m.meminfo() }
    for (const t of [1, 31, 32, -1, 0.5, Number.NaN]) expect(errnoOf(() => m.swapoff(t))).toBe('EINVAL')
    expect({ areas: m.swapAreas(), meminfo: m.meminfo() }).toEqual(before)
    m.check()
    // Another cpu calls swapoff on the same area while try_to_unuse has not run yet.
    let inner: unknown
    m.swap.swapoffRacer = (type) => {
      try {
        m.swapoff(type)
      } catch (e) {
        inner = e
      }
    }
    m.swapoff(0)
    expect(inner).toBeInstanceOf(SyscallError)
    expect((inner as SyscallError).errno).toBe('EINVAL')
    expect((inner as SyscallError).message).toContain('SWP_WRITEOK')
    m.check()
    expect(p.read(a)).toBe(9)
    expect(errnoOf(() => m.swapoff(0))).toBe('EINVAL')
    m.check()
  })
})
