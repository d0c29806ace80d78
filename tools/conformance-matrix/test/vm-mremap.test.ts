// mremap on every layout: acceptance scenarios C1, C3, C7, C8, D1 (anonymous)
// and D2, with m.check() after every step. The anon_vma design moves
// anonymous memory without touching a page: the moved vma keeps the old
// linear origin (vm_pgoff), pages keep page->index, and the rmap walk still
// reaches every pte (docs/designs.md#objrmap-and-anon_vma).
import {
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  OutOfMemoryError,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SyscallError,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, errnoOf, expectSegvInChild, pages, pfnAt, snapshot } from './vm-helpers.js'

const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED
/** 16 MB: a destination in another pte page on every layout (pte pages span 2 or 4 MB). */
const FAR = 16 * 1024 * 1024

describe.each(ARCHES)('mremap on $name', (arch) => {
  describe('C1: moving anonymous memory keeps the data, the linear origin and the rmap', () => {
    it.each([
      ['in the same pte page', pages(64)],
      ['into another pte page', FAR],
    ])('%s', (_where, distance) => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 2)
      p.write(a, 0x1111_1111)
      p.write(a + PAGE_SIZE, 0x2222_2222)
      m.check()
      const pfn0 = pfnAt(p, a)
      const pfn1 = pfnAt(p, a + PAGE_SIZE)
      const anonVma = m.page(pfn0).mapping.id
      // Clear PG_referenced and the young bits, so that what the walk finds later is the moved ptes.
      expect(m.pageReferenced(pfn0)).toBe(2) // PG_referenced (mark_page_accessed at the fault) + the young pte
      expect(m.pageReferenced(pfn1)).toBe(2)
      const free0 = m.meminfo().MemFree
      const tables0 = m.meminfo().PageTables
      const lru0 = m.lruPages()
      const rss0 = p.mm.rss

      const d = a + distance
      expect(p.mremap(a, pages(2), pages(2), MOVE, d)).toBe(d)
      m.check()

      // The destination holds the pattern, in the same frames; the old range is gone.
      expect(pfnAt(p, d)).toBe(pfn0)
      expect(pfnAt(p, d + PAGE_SIZE)).toBe(pfn1)
      expect(p.read(d)).toBe(0x1111_1111)
      expect(p.read(d + PAGE_SIZE)).toBe(0x2222_2222)
      expect(p.pagemap(a).present).toBe(false)
      // The new vma keeps the original vm_pgoff (maps reports it in bytes: the old address).
      expect(p.maps()).toEqual([{ start: d, end: d + pages(2), perms: 'rw-p', pgoff: a, file: '' }])
      // Pages keep page->index and page->mapping; nothing was copied or counted again.
      for (const [pfn, k] of [
        [pfn0, 0],
        [pfn1, 1],
      ] as const) {
        const pg = m.page(pfn)
        expect(pg.index).toBe(a / PAGE_SIZE + k)
        expect(pg.mapping).toEqual({ kind: 'anon_vma', id: anonVma })
        expect(pg.mapcount).toBe(1)
        expect(pg.count).toBe(1)
      }
      expect(p.mm.rss).toBe(rss0)
      expect(m.lruPages()).toEqual(lru0)
      expect(m.meminfo().Mapped).toBe(2 * 4)
      // No data page was allocated; only a destination pte page when it lies in another one.
      if (distance < 1024 * 1024) {
        expect(m.meminfo().MemFree).toBe(free0)
        expect(m.meminfo().PageTables).toBe(tables0)
      } else {
        // A new pte page at the destination; on the 2-level layouts the old range's
        // pgd entry is left empty, so free_pgtables frees the source pte page.
        expect(m.meminfo().PageTables).toBe(tables0 + (arch.geometry.levels === 2 ? 0 : 4))
      }
      // The walk reaches the moved ptes: the reads above made them young again.
      expect(m.pageReferenced(pfn0)).toBe(1)
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 1, ptesProbed: 1 })
      expect(m.pageReferenced(pfn1)).toBe(1)
      // ... and cleared them: a second walk finds nothing.
      expect(m.pageReferenced(pfn0)).toBe(0)
      // Without a swap slot, -aa's try_to_unmap leaves an anonymous page alone.
      expect(m.tryToUnmap(pfn0)).toBe('SWAP_AGAIN')
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 0, ptesProbed: 0 })
      m.check()
      expectSegvInChild(p, a)
      m.check()
    })

    it('moving with MREMAP_MAYMOVE to a free range found by get_unmapped_area', () => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 2)
      anon(p, 1, a + pages(2), PROT_READ) // blocks growth in place
      p.write(a, 7)
      p.write(a + PAGE_SIZE, 8)
      const pfn = pfnAt(p, a)
      const b = p.mremap(a, pages(2), pages(4), MREMAP_MAYMOVE)
      m.check()
      // The first gap from TASK_UNMAPPED_BASE that fits 4 pages: above the blocker.
      expect(b).toBe(a + pages(3))
      expect(p.maps()).toEqual([
        { start: a + pages(2), end: a + pages(3), perms: 'r--p', pgoff: a + pages(2), file: '' },
        { start: b, end: b + pages(4), perms: 'rw-p', pgoff: a, file: '' },
      ])
      expect(pfnAt(p, b)).toBe(pfn)
      expect([p.read(b), p.read(b + PAGE_SIZE), p.read(b + pages(2)), p.read(b + pages(3))]).toEqual([
        7, 8, 0, 0,
      ])
      m.check()
      // The grown part faults like the rest: its linear index continues the origin.
      p.write(b + pages(3), 9)
      expect(m.page(pfnAt(p, b + pages(3))).index).toBe(a / PAGE_SIZE + 3)
      m.check()
    })

    it('a vma without an anon_vma is re-based to its new address and merges (2.6.7 copy_vma)', () => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 2) // never written: no anon_vma
      const d = a + FAR
      anon(p, 2, d - pages(2)) // a neighbour whose pgoff follows its address
      p.mremap(a, pages(2), pages(2), MOVE, d)
      m.check()
      expect(p.maps()).toEqual([
        { start: d - pages(2), end: d + pages(2), perms: 'rw-p', pgoff: d - pages(2), file: '' },
      ])
    })

    it('a moved vma with pages keeps its origin and does not merge with a neighbour whose pgoff does not line up', () => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 2)
      p.write(a, 1)
      const d = a + FAR
      anon(p, 2, d - pages(2)) // no anon_vma: only the pgoffs keep them apart
      p.mremap(a, pages(2), pages(2), MOVE, d)
      m.check()
      expect(p.maps()).toEqual([
        { start: d - pages(2), end: d, perms: 'rw-p', pgoff: d - pages(2), file: '' },
        { start: d, end: d + pages(2), perms: 'rw-p', pgoff: a, file: '' },
      ])
      // Moving it back to its origin: pgoffs line up again with nothing to merge there, and the data is back.
      expect(p.mremap(d, pages(2), pages(2), MOVE, a)).toBe(a)
      m.check()
      expect(p.read(a)).toBe(1)
      expect(p.maps()[0]).toEqual({ start: a, end: a + pages(2), perms: 'rw-p', pgoff: a, file: '' })
    })

    it('moving part of a vma splits it: the moved piece keeps its own linear origin', () => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 4)
      for (let i = 0; i < 4; i++) p.write(a + pages(i), 10 + i)
      const d = a + FAR
      p.mremap(a + pages(1), pages(2), pages(2), MOVE, d)
      m.check()
      expect(p.maps()).toEqual([
        { start: a, end: a + pages(1), perms: 'rw-p', pgoff: a, file: '' },
        { start: a + pages(3), end: a + pages(4), perms: 'rw-p', pgoff: a + pages(3), file: '' },
        { start: d, end: d + pages(2), perms: 'rw-p', pgoff: a + pages(1), file: '' },
      ])
      expect([p.read(a), p.read(d), p.read(d + PAGE_SIZE), p.read(a + pages(3))]).toEqual([10, 11, 12, 13])
      const pfn = pfnAt(p, d)
      expect(m.page(pfn).index).toBe(a / PAGE_SIZE + 1)
      m.pageReferenced(pfn)
      // All three vmas share the anon_vma; the walk visits each, but only the moved one's range holds index a+1.
      p.read(d)
      expect(m.pageReferenced(pfn)).toBe(1)
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 3, ptesProbed: 1 })
      m.check()
    })
  })

  it('C3: fork, then the child moves the mapping: no copies, each frame mapped at X in P and Y in C', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const x = anon(p, 4)
    for (let i = 0; i < 4; i++) p.write(x + pages(i), 0x100 + i)
    const c = p.fork()
    m.check()
    const pfns = [0, 1, 2, 3].map((i) => pfnAt(p, x + pages(i)))
    for (const pfn of pfns) m.pageReferenced(pfn) // start from clear young bits
    const active = m.lruPages().active
    const y = x + FAR
    expect(c.mremap(x, pages(4), pages(4), MOVE, y)).toBe(y)
    m.check()
    expect(m.lruPages().active).toBe(active) // still 4 anonymous frames: nothing was copied
    expect(c.maps()).toEqual([{ start: y, end: y + pages(4), perms: 'rw-p', pgoff: x, file: '' }])
    expect(p.maps()).toEqual([{ start: x, end: x + pages(4), perms: 'rw-p', pgoff: x, file: '' }])
    for (let i = 0; i < 4; i++) {
      expect(pfnAt(c, y + pages(i))).toBe(pfns[i])
      expect(c.pagemap(y + pages(i)).write).toBe(false) // still COW-protected
      const pg = m.page(pfns[i]!)
      expect([pg.mapcount, pg.count, pg.index]).toEqual([2, 2, x / PAGE_SIZE + i])
      expect(c.read(y + pages(i))).toBe(0x100 + i)
      expect(p.read(x + pages(i))).toBe(0x100 + i)
      // One anon_vma lists both vmas; the walk finds both ptes (each young from the reads).
      expect(m.pageReferenced(pfns[i]!)).toBe(2)
      expect(m.stats().lastWalk).toEqual({ vmasVisited: 2, ptesProbed: 2 })
    }
    m.check()
    // A write by C still breaks COW into a page with C's linear index (the original origin).
    c.write(y, 0xc0)
    m.check()
    const copy = pfnAt(c, y)
    expect(copy).not.toBe(pfns[0])
    expect(m.page(copy).index).toBe(x / PAGE_SIZE)
    expect(m.page(copy).mapping).toEqual(m.page(pfns[1]!).mapping)
    expect(m.page(pfns[0]!).mapcount).toBe(1)
    expect(p.read(x)).toBe(0x100)
    expect(m.lruPages().active).toBe(active + 1)
    c.exit()
    m.check()
    p.exit()
    m.check()
    expect(m.lruPages().active).toBe(0)
  })

  it('no memory for a destination page table: the ptes already moved go back, ENOMEM', () => {
    const m = new Machine({ arch, ram: '8M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 1)
    p.write(a + PAGE_SIZE, 2)
    const pfns = [pfnAt(p, a), pfnAt(p, a + PAGE_SIZE)]
    // The destination straddles two pte pages: the last page moves first, into a
    // new pte page; the first page then needs another one.
    const span = arch.geometry.PTRS_PER_PTE * PAGE_SIZE
    const d = Math.ceil((a + FAR) / span) * span - PAGE_SIZE
    const before = snapshot(m, p)
    const hog: number[] = []
    expect(() => {
      for (;;) hog.push(m.env.allocPage({ highmem: true }))
    }).toThrow(OutOfMemoryError)
    m.env.freePage(hog.pop()!) // one free frame: one page table
    expect(errnoOf(() => p.mremap(a, pages(2), pages(2), MOVE, d))).toBe('ENOMEM')
    m.check()
    expect(snapshot(m, p).maps).toEqual(before.maps)
    expect([pfnAt(p, a), pfnAt(p, a + PAGE_SIZE)]).toEqual(pfns)
    expect([p.pagemap(d).present, p.pagemap(d + PAGE_SIZE).present]).toEqual([false, false])
    expect(p.mm.rss).toBe(2)
    for (const pfn of hog) m.env.freePage(pfn)
    expect([p.read(a), p.read(a + PAGE_SIZE)]).toEqual([1, 2])
    // With memory back, the same move works.
    expect(p.mremap(a, pages(2), pages(2), MOVE, d)).toBe(d)
    expect([p.read(d), p.read(d + PAGE_SIZE)]).toEqual([1, 2])
    m.check()
  })

  it('C7: shrinking unmaps the tail and returns the same address', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 8)
    for (let i = 0; i < 8; i++) p.write(a + pages(i), i + 1)
    const tail = [3, 4, 5, 6, 7].map((i) => pfnAt(p, a + pages(i)))
    const free0 = m.meminfo().MemFree
    expect(p.mremap(a, pages(8), pages(3), 0)).toBe(a)
    m.check()
    expect(p.maps()).toEqual([{ start: a, end: a + pages(3), perms: 'rw-p', pgoff: a, file: '' }])
    for (const pfn of tail) expect([m.page(pfn).mapcount, m.page(pfn).count]).toEqual([0, 0])
    // Five frames back; the pte page stays (free_pgtables frees whole pgd entries only).
    expect(m.meminfo().MemFree - free0).toBe(5 * 4)
    expect(p.mm.rss).toBe(3)
    expect(p.mm.totalVm).toBe(3)
    expect([p.read(a), p.read(a + pages(2))]).toEqual([1, 3])
    expectSegvInChild(p, a + pages(5))
    m.check()
  })

  it('grows in place when the next range is free; a locked vma has the new part faulted in', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 5)
    expect(p.mremap(a, pages(2), pages(6), 0)).toBe(a)
    m.check()
    expect(p.maps()).toEqual([{ start: a, end: a + pages(6), perms: 'rw-p', pgoff: a, file: '' }])
    expect(p.mm.totalVm).toBe(6)
    expect(p.pagemap(a + pages(5)).present).toBe(false)
    p.mlock(a, pages(6))
    expect(p.mm.lockedVm).toBe(6)
    expect(p.mremap(a, pages(6), pages(8), 0)).toBe(a)
    m.check()
    expect(p.mm.lockedVm).toBe(8)
    expect(p.pagemap(a + pages(7))).toMatchObject({ present: true, write: true, dirty: true })
    // A locked vma moved and grown keeps VM_LOCKED and faults the new part in.
    anon(p, 1, a + pages(8), PROT_READ)
    const b = p.mremap(a, pages(8), pages(10), MREMAP_MAYMOVE)
    m.check()
    expect(b).not.toBe(a)
    expect(p.mm.lockedVm).toBe(10)
    expect(p.pagemap(b + pages(9)).present).toBe(true)
    expect(p.read(b)).toBe(5)
    m.check()
  })

  describe('C8: the errors of do_mremap, each changing nothing', () => {
    const cases: [string, string, (a: number) => [number, number, number, number, number?]][] = [
      ['old address not page aligned', 'EINVAL', (a) => [a + 1, pages(2), pages(4), 0]],
      ['old address only 1 KB aligned', 'EINVAL', (a) => [a + 1024, pages(2), pages(4), MREMAP_MAYMOVE]],
      ['old range not mapped', 'EFAULT', (a) => [a + FAR, pages(2), pages(4), MREMAP_MAYMOVE]],
      ['old range crosses the end of its vma', 'EFAULT', (a) => [a, pages(5), pages(6), MREMAP_MAYMOVE]],
      ['growing in place blocked, no MREMAP_MAYMOVE', 'ENOMEM', (a) => [a, pages(4), pages(6), 0]],
      [
        'MREMAP_FIXED without MREMAP_MAYMOVE',
        'EINVAL',
        (a) => [a, pages(4), pages(4), MREMAP_FIXED, a + FAR],
      ],
      ['MREMAP_FIXED target not aligned', 'EINVAL', (a) => [a, pages(4), pages(4), MOVE, a + FAR + 1]],
      [
        'MREMAP_FIXED target only 1 KB aligned',
        'EINVAL',
        (a) => [a, pages(4), pages(4), MOVE, a + FAR + 1024],
      ],
      ['target overlaps the source from below', 'EINVAL', (a) => [a, pages(4), pages(4), MOVE, a - pages(2)]],
      ['target overlaps the source from above', 'EINVAL', (a) => [a, pages(4), pages(4), MOVE, a + pages(2)]],
      ['target past TASK_SIZE', 'EINVAL', (a) => [a, pages(4), pages(4), MOVE, -1]],
      ['unknown flag bits', 'EINVAL', (a) => [a, pages(4), pages(8), 4]],
      ['new length 0', 'EINVAL', (a) => [a, pages(4), 0, MREMAP_MAYMOVE]],
    ]
    it.each(cases)('%s → %s', (_name, errno, args) => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 4)
      anon(p, 1, a + pages(4), PROT_READ) // the next mapping, in the way of growth
      for (let i = 0; i < 4; i++) p.write(a + pages(i), i)
      const before = snapshot(m, p)
      let [addr, oldLen, newLen, flags, newAddr] = args(a)
      if (newAddr === -1) newAddr = m.taskSize - pages(2)
      expect(errnoOf(() => p.mremap(addr, oldLen, newLen, flags, newAddr))).toBe(errno)
      expect(snapshot(m, p)).toEqual(before)
      m.check()
    })

    it('the errors name the syscall', () => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 1)
      const e = (() => {
        try {
          p.mremap(a, PAGE_SIZE, pages(2), MREMAP_FIXED, a + FAR)
        } catch (err) {
          return err
        }
      })()
      expect(e).toBeInstanceOf(SyscallError)
      expect((e as SyscallError).syscall).toBe('mremap')
    })

    it('a shrink does not look at the old range; MREMAP_FIXED unmaps the target before the EFAULT (2.6.5 order)', () => {
      const m = new Machine({ arch })
      const p = m.spawn()
      const a = anon(p, 2)
      expect(p.mremap(a + FAR, pages(4), pages(2), 0)).toBe(a + FAR)
      m.check()
      const t = anon(p, 2, a + pages(64))
      expect(errnoOf(() => p.mremap(a + FAR, pages(1), pages(2), MOVE, t))).toBe('EFAULT')
      m.check()
      expect(p.maps()).toEqual([{ start: a, end: a + pages(2), perms: 'rw-p', pgoff: a, file: '' }])
    })
  })

  it('D1 (anonymous): munmap of the middle page leaves pgoffs p and p+2 on one anon_vma', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = anon(p, 3)
    for (let i = 0; i < 3; i++) p.write(a + pages(i), 0xd0 + i)
    const mid = pfnAt(p, a + PAGE_SIZE)
    expect(p.mm.mapCount).toBe(1)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    m.check()
    expect(p.mm.mapCount).toBe(2)
    expect(p.maps()).toEqual([
      { start: a, end: a + PAGE_SIZE, perms: 'rw-p', pgoff: a, file: '' },
      { start: a + pages(2), end: a + pages(3), perms: 'rw-p', pgoff: a + pages(2), file: '' },
    ])
    expect(p.mm.vmas[0]!.anonVma).not.toBeNull()
    expect(p.mm.vmas[0]!.anonVma).toBe(p.mm.vmas[1]!.anonVma)
    expect(m.page(mid).count).toBe(0)
    expect([p.read(a), p.read(a + pages(2))]).toEqual([0xd0, 0xd2])
    expectSegvInChild(p, a + PAGE_SIZE)
    m.check()
  })

  describe('D2: at a small vm.max_map_count', () => {
    /** Separate 3-page PROT_NONE vmas (1-page gaps stop merging) until mmap refuses. */
    function fill(max: number) {
      const m = new Machine({ arch, maxMapCount: max })
      const p = m.spawn()
      const base = m.taskUnmappedBase
      let n = 0
      for (;;) {
        try {
          anon(p, 3, base + pages(4 * n), PROT_NONE)
        } catch (e) {
          expect(e).toBeInstanceOf(SyscallError)
          expect((e as SyscallError).errno).toBe('ENOMEM')
          break
        }
        n++
      }
      return { m, p, base, n }
    }

    it('munmap of a middle page fails with ENOMEM and changes nothing', () => {
      const { m, p, base, n } = fill(16)
      // do_mmap_pgoff refuses only when map_count > max_map_count, so it stops at max + 1.
      expect(n).toBe(17)
      expect(p.mm.mapCount).toBe(17)
      m.check()
      const before = snapshot(m, p)
      expect(errnoOf(() => p.munmap(base + pages(4 * 5 + 1), PAGE_SIZE))).toBe('ENOMEM')
      expect(snapshot(m, p)).toEqual(before)
      m.check()
      // Unmapping a whole vma needs no split and works.
      p.munmap(base, pages(3))
      expect(p.mm.mapCount).toBe(16)
      m.check()
    })

    it('a munmap needing two splits is refused whole when only the first would fit', () => {
      const m = new Machine({ arch, maxMapCount: 4 })
      const p = m.spawn()
      const a = anon(p, 3)
      anon(p, 1, a + pages(4), PROT_READ)
      anon(p, 1, a + pages(6), PROT_READ)
      expect(p.mm.mapCount).toBe(3)
      const before = snapshot(m, p)
      expect(errnoOf(() => p.munmap(a + PAGE_SIZE, PAGE_SIZE))).toBe('ENOMEM')
      expect(snapshot(m, p)).toEqual(before)
      m.check()
    })

    it('mremap refuses to move with ENOMEM near the limit and changes nothing', () => {
      const { m, p, base } = fill(16)
      const before = snapshot(m, p)
      expect(errnoOf(() => p.mremap(base, pages(3), pages(3), MOVE, base + FAR))).toBe('ENOMEM')
      expect(snapshot(m, p)).toEqual(before)
      m.check()
    })
  })

  it('a MAP_SHARED file mapping moves with its page-cache pages, stays on i_mmap_shared and keeps its file offset', () => {
    const m = new Machine({ arch })
    const as = m.fs.create('/f', { size: pages(4), fill: 0x41 })
    const p = m.spawn()
    const fd = p.open('/f', O_RDWR)
    const a = p.mmap(0, pages(4), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    p.write(a + pages(1), 0xf1)
    p.read(a + pages(2))
    const pfn = pfnAt(p, a + pages(1))
    const cached = m.meminfo().Cached
    const d = a + FAR
    expect(p.mremap(a + pages(1), pages(2), pages(2), MOVE, d)).toBe(d)
    m.check()
    expect(p.maps()).toEqual([
      { start: a, end: a + pages(1), perms: 'rw-s', pgoff: 0, file: '/f' },
      { start: a + pages(3), end: a + pages(4), perms: 'rw-s', pgoff: pages(3), file: '/f' },
      { start: d, end: d + pages(2), perms: 'rw-s', pgoff: pages(1), file: '/f' },
    ])
    expect(as.iMmapShared.length).toBe(3)
    expect(as.iMmapShared).toContain(p.mm.vmas[2])
    expect(as.iMmap.length).toBe(0)
    expect(pfnAt(p, d)).toBe(pfn)
    expect(m.page(pfn)).toMatchObject({
      index: 1,
      mapcount: 1,
      mapping: { kind: 'address_space', id: as.id },
    })
    expect(m.meminfo().Cached).toBe(cached)
    expect([p.read(d), p.read(d + PAGE_SIZE)]).toEqual([0xf1, 0x41])
    m.pageReferenced(pfn)
    p.read(d)
    // The walk goes over i_mmap_shared: three vmas, one of which holds index 1.
    expect(m.pageReferenced(pfn)).toBe(1)
    expect(m.stats().lastWalk).toEqual({ vmasVisited: 3, ptesProbed: 1 })
    p.exit()
    m.check()
    expect(as.iMmapShared.length).toBe(0)
  })

  it('maxMapCount is validated', () => {
    expect(() => new Machine({ arch, maxMapCount: 0 })).toThrow(RangeError)
    expect(() => new Machine({ arch, maxMapCount: 1.5 })).toThrow(/max_map_count/)
    expect(() => new Machine({ arch, maxMapCount: 2 ** 31 })).toThrow(RangeError)
    expect(new Machine({ arch }).maxMapCount).toBe(65536)
  })

  it('a fork tree with moves in both generations: every page stays reachable and frames are conserved', () => {
    const m = new Machine({ arch })
    const free0 = m.meminfo().MemFree
    const p = m.spawn()
    const x = anon(p, 8)
    for (let i = 0; i < 8; i++) p.write(x + pages(i), i * 3)
    const c = p.fork()
    const y = c.mremap(x, pages(8), pages(12), MREMAP_MAYMOVE | MREMAP_FIXED, x + FAR)
    const g = c.fork()
    const z = g.mremap(y + pages(2), pages(4), pages(4), MOVE, y + 2 * FAR)
    p.mremap(x, pages(8), pages(4), 0)
    m.check()
    expect(g.read(z)).toBe(6)
    expect(c.read(y + pages(2))).toBe(6)
    const pfn = pfnAt(g, z)
    expect(pfnAt(c, y + pages(2))).toBe(pfn)
    expect(pfnAt(p, x + pages(2))).toBe(pfn)
    expect(m.page(pfn).mapcount).toBe(3)
    m.pageReferenced(pfn)
    g.read(z)
    c.read(y + pages(2))
    p.read(x + pages(2))
    expect(m.pageReferenced(pfn)).toBe(3)
    g.write(z + PAGE_SIZE, 99)
    c.write(y + pages(10), 98)
    m.check()
    for (const q of [g, c, p]) q.exit()
    m.check()
    expect(m.meminfo().MemFree).toBe(free0)
    expect(m.meminfo().PageTables).toBe(0)
  })
})
