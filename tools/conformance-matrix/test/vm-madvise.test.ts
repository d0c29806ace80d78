// madvise on every layout: acceptance scenario B4 (MADV_DONTNEED gives
// zero-fill on demand) and the 2.6.5 sys_madvise rules (packages/rmap/src/
// madvise.ts), with m.check() after every step.
import {
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  VM,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, errnoOf, pages, pfnAt, snapshot } from './vm-helpers.js'

describe.each(ARCHES)('madvise on $name', (arch) => {
  it('B4: MADV_DONTNEED frees the frames, leaves the vma, and later reads are zero-fill', () => {
    const N = 8
    const m = new Machine({ arch })
    const p = m.spawn()
    const free0 = m.meminfo().MemFree
    const a = anon(p, N)
    for (let i = 0; i < N; i++) p.write(a + pages(i), 0xa5a5_0000 + i)
    const pfns = Array.from({ length: N }, (_, i) => pfnAt(p, a + pages(i)))
    const free1 = m.meminfo().MemFree
    const maps = p.maps()
    const vma = p.mm.vmas[0]!
    const removes = m.stats().rmap.pageRemoveRmap
    m.check()
    p.madvise(a, pages(N), MADV_DONTNEED)
    m.check()
    expect(m.stats().rmap.pageRemoveRmap - removes).toBe(N)
    for (const pfn of pfns) expect([m.page(pfn).mapcount, m.page(pfn).count]).toEqual([0, 0])
    expect(p.maps()).toEqual(maps)
    expect(p.mm.vmas[0]).toBe(vma)
    expect(vma.anonVma).not.toBeNull() // the anon_vma stays with the vma
    expect(p.mm.rss).toBe(0)
    expect(m.meminfo().Mapped).toBe(0)
    // The N frames are back; the page tables stay.
    expect(m.meminfo().MemFree - free1).toBe(N * 4)
    expect(m.meminfo().MemFree).toBeLessThan(free0)
    for (let i = 0; i < N; i++) {
      expect(p.pagemap(a + pages(i)).present).toBe(false)
      expect(p.read(a + pages(i))).toBe(0)
      expect(p.pagemap(a + pages(i)).pfn).toBe(m.zeroPage)
    }
    m.check()
    // A write faults a fresh zeroed page with the same linear index.
    p.write(a + pages(3), 1)
    expect(m.page(pfnAt(p, a + pages(3))).index).toBe(a / PAGE_SIZE + 3)
    m.check()
  })

  it('B4 extension: DONTNEED on a MAP_PRIVATE file mapping drops the COW copies; reads show the file again', () => {
    const m = new Machine({ arch })
    const as = m.fs.create('/f', { size: pages(2), fill: 0x66 })
    const p = m.spawn()
    const fd = p.open('/f', O_RDWR)
    const a = p.mmap(0, pages(2), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
    p.write(a, 0x99) // early COW: an anonymous copy
    expect(p.read(a + PAGE_SIZE)).toBe(0x66) // the page-cache page itself
    const copy = pfnAt(p, a)
    const cachePage = pfnAt(p, a + PAGE_SIZE)
    expect(m.page(copy).mapping.kind).toBe('anon_vma')
    m.check()
    p.madvise(a, pages(2), MADV_DONTNEED)
    m.check()
    expect(m.page(copy).count).toBe(0)
    expect(m.page(cachePage)).toMatchObject({ mapcount: 0, count: 1 }) // the page cache keeps it
    expect([p.read(a), p.read(a + PAGE_SIZE)]).toEqual([0x66, 0x66])
    expect(pfnAt(p, a + PAGE_SIZE)).toBe(cachePage)
    expect(as.diskWord(0)).toBe(0x66)
    m.check()
  })

  it('MADV_WILLNEED reads the file pages of the range into the page cache without mapping them', () => {
    const m = new Machine({ arch })
    const as = m.fs.create('/f', { size: pages(3) + 100 })
    const p = m.spawn()
    const fd = p.open('/f', O_RDWR)
    const a = p.mmap(0, pages(8), PROT_READ, MAP_SHARED, fd, 0)
    const cached = m.meminfo().Cached
    p.madvise(a + PAGE_SIZE, pages(7), MADV_WILLNEED)
    m.check()
    // Pages 1..3 (page 3 holds the EOF); nothing at or past i_size.
    expect(m.meminfo().Cached - cached).toBe(3 * 4)
    expect([...as.pages.keys()].sort()).toEqual([1, 2, 3])
    expect(p.mm.rss).toBe(0)
    expect(p.pagemap(a + PAGE_SIZE).present).toBe(false)
    p.madvise(a, pages(2), MADV_WILLNEED)
    expect([...as.pages.keys()].sort()).toEqual([0, 1, 2, 3])
    m.check()
  })

  it('DONTNEED of part of a vma zaps just that part, without splitting', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 6)
    for (let i = 0; i < 6; i++) p.write(a + pages(i), i + 1)
    p.madvise(a + pages(2), pages(2), MADV_DONTNEED)
    m.check()
    expect(p.mm.mapCount).toBe(1)
    expect([0, 1, 2, 3, 4, 5].map((i) => p.read(a + pages(i)))).toEqual([1, 2, 0, 0, 5, 6])
    m.check()
  })

  it("DONTNEED after fork drops only this process's mappings", () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 11)
    p.write(a + PAGE_SIZE, 12)
    const c = p.fork()
    const pfn = pfnAt(p, a)
    expect(m.page(pfn).mapcount).toBe(2)
    p.madvise(a, pages(2), MADV_DONTNEED)
    m.check()
    expect(m.page(pfn)).toMatchObject({ mapcount: 1, count: 1 })
    expect([p.read(a), c.read(a), c.read(a + PAGE_SIZE)]).toEqual([0, 11, 12])
    // The child's page is now its alone: its write reuses it (can_share_swap_page, count 1).
    const reuses = m.stats().cow.reuses
    c.write(a, 13)
    expect(m.stats().cow.reuses - reuses).toBe(1)
    expect(pfnAt(c, a)).toBe(pfn)
    m.check()
  })

  it('DONTNEED on a VM_LOCKED vma is EINVAL and changes nothing', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    p.mlock(a, pages(2))
    const before = snapshot(m, p)
    expect(errnoOf(() => p.madvise(a, pages(2), MADV_DONTNEED))).toBe('EINVAL')
    expect(snapshot(m, p)).toEqual(before)
    expect(p.pagemap(a).present).toBe(true)
    m.check()
  })

  it('holes are skipped: the mapped parts are zapped, then ENOMEM', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    const b = anon(p, 2, a + pages(3), PROT_READ | PROT_WRITE)
    for (const x of [a, a + PAGE_SIZE, b, b + PAGE_SIZE]) p.write(x, 9)
    expect(errnoOf(() => p.madvise(a, pages(5), MADV_DONTNEED))).toBe('ENOMEM')
    m.check()
    expect(p.mm.rss).toBe(0)
    for (let i = 0; i < 2; i++) p.write(b + pages(i), 8)
    // A range running past the last vma: the vma is done, then ENOMEM.
    expect(errnoOf(() => p.madvise(b, pages(10), MADV_DONTNEED))).toBe('ENOMEM')
    expect(p.mm.rss).toBe(0)
    m.check()
  })

  it.each([
    ['an unaligned start', 'EINVAL', (a: number) => [a + 1, PAGE_SIZE, MADV_DONTNEED]],
    ['a 1 KB aligned start', 'EINVAL', (a: number) => [a + 1024, PAGE_SIZE, MADV_DONTNEED]],
    ['an unknown advice over a mapped range', 'EINVAL', (a: number) => [a, PAGE_SIZE, 5]],
    [
      'an unknown advice over an unmapped range (the advice is checked per vma)',
      'ENOMEM',
      (a: number) => [a + pages(16), PAGE_SIZE, 99],
    ],
    ['a range that wraps the address space', 'EINVAL', (a: number) => [a, 2 ** 64, MADV_DONTNEED]],
    ['an unmapped range', 'ENOMEM', (a: number) => [a + pages(16), PAGE_SIZE, MADV_DONTNEED]],
    ['MADV_WILLNEED on anonymous memory', 'EBADF', (a: number) => [a, PAGE_SIZE, MADV_WILLNEED]],
  ] as const)('%s fails with %s and changes nothing', (_what, errno, args) => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 3)
    const before = snapshot(m, p)
    const [start, len, advice] = args(a) as [number, number, number]
    expect(errnoOf(() => p.madvise(start, len, advice))).toBe(errno)
    expect(snapshot(m, p)).toEqual(before)
    m.check()
  })

  it('a zero length succeeds whatever the advice', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 1)
    p.madvise(a, 0, 99)
    p.madvise(a + pages(100), 0, MADV_DONTNEED)
    m.check()
  })

  it('MADV_SEQUENTIAL/RANDOM/NORMAL split the vma and set the read-ahead hint; nothing merges back', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 5)
    p.write(a + pages(2), 4)
    const hint = () => p.mm.vmas.map((v) => v.flags & (VM.SEQ_READ | VM.RAND_READ))
    p.madvise(a + pages(1), pages(3), MADV_SEQUENTIAL)
    m.check()
    expect(hint()).toEqual([0, VM.SEQ_READ, 0])
    p.madvise(a + pages(2), PAGE_SIZE, MADV_RANDOM)
    m.check()
    expect(hint()).toEqual([0, VM.SEQ_READ, VM.RAND_READ, VM.SEQ_READ, 0])
    expect(p.maps().map((e) => [e.start - a, e.pgoff - a])).toEqual([
      [0, 0],
      [pages(1), pages(1)],
      [pages(2), pages(2)],
      [pages(3), pages(3)],
      [pages(4), pages(4)],
    ])
    p.madvise(a, pages(5), MADV_NORMAL)
    m.check()
    expect(hint()).toEqual([0, 0, 0, 0, 0])
    expect(p.mm.mapCount).toBe(5)
    expect(p.read(a + pages(2))).toBe(4)
    // Even advice that changes nothing splits (2.6.5 madvise_behavior splits first).
    const q = m.spawn()
    const b = anon(q, 3)
    q.madvise(b + PAGE_SIZE, PAGE_SIZE, MADV_NORMAL)
    expect(q.mm.mapCount).toBe(3)
    m.check()
  })

  it('a split refused at vm.max_map_count is EAGAIN and changes nothing', () => {
    const m = new Machine({ arch, maxMapCount: 2 })
    const p = m.spawn()
    const a = anon(p, 3)
    const before = snapshot(m, p)
    expect(errnoOf(() => p.madvise(a + PAGE_SIZE, PAGE_SIZE, MADV_RANDOM))).toBe('EAGAIN')
    expect(snapshot(m, p)).toEqual(before)
    m.check()
  })
})
