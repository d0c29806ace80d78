// The order of the rmap lists, on every layout. try_to_unmap walks a list in
// order and stops at the first SWAP_FAIL, so the order decides which ptes a
// failed pageout leaves behind:
// - -aa mm/objrmap.c links a vma at the head of its anon_vma list (list_add in
//   anon_vma_prepare, __anon_vma_link, anon_vma_link); anon_vma_merge puts the
//   survivor in the dying vma's place;
// - 2.6.5 kernel/fork.c dup_mmap inserts the child's file vma with
//   list_add_tail(&tmp->shared, &mpnt->shared): just before its parent.
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, Machine, O_RDWR, PROT_READ, PROT_WRITE } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, pages, pfnAt } from './vm-helpers.js'

const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

describe.each(ARCHES)('rmap list order on $name', (arch) => {
  it('mlock + fork + pageout: the walk meets the child first, unmaps its pte (swap count +1), then fails on the locked parent', () => {
    const m = new Machine({ arch, ram: '16M' })
    const type = m.swapon('4M')
    const p = m.spawn()
    const a = p.mmap(0, pages(1), RW, ANON)
    p.write(a, 77)
    p.mlock(a, pages(1))
    const c = p.fork() // the child's copy has VM_LOCKED cleared
    const pfn = pfnAt(p, a)
    expect(m.rmapOf(pfn).entries.map((e) => e.pid)).toEqual([c.pid, p.pid])
    m.pageReferenced(pfn) // age it: the pageout below must reach try_to_unmap
    const r = m.pageout(pfn)
    expect({ added: r.addedToSwap, unmap: r.unmap, result: r.result }).toEqual({
      added: true,
      unmap: 'SWAP_FAIL',
      result: 'activated',
    })
    const slot = c.pagemap(a)
    expect(slot).toMatchObject({ present: false, swapped: true, swapType: type })
    expect(p.pagemap(a)).toMatchObject({ present: true, pfn })
    // The swap cache's reference and the child's swap pte.
    expect(m.swapCount(type, slot.swapOffset!)).toBe(2)
    expect(m.page(pfn)).toMatchObject({ mapcount: 1, count: 2 })
    expect(m.page(pfn).flags).toContain('swapcache')
    m.check()
    // Both still read their value: the child through the swap cache.
    expect([c.read(a), p.read(a)]).toEqual([77, 77])
    expect(m.page(pfn).mapcount).toBe(2)
    m.check()
  })

  it('a split links the new piece at the head of the anon_vma list', () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    const a = p.mmap(0, pages(3), RW, ANON)
    p.write(a + pages(1), 5)
    // mprotect_fixup: split_vma(start, new_below = 1) makes the lower piece
    // the new vma, then split_vma(end, 0) the upper one; the old vma keeps the
    // range, and so the tail of the list.
    p.mprotect(a + pages(1), pages(1), PROT_READ)
    const pfn = pfnAt(p, a + pages(1))
    expect(m.rmapOf(pfn).entries.map((e) => [e.start, e.end, e.address, e.mapsPage])).toEqual([
      [a + pages(2), a + pages(3), -1, false],
      [a, a + pages(1), -1, false],
      [a + pages(1), a + pages(2), a + pages(1), true],
    ])
    m.check()
  })

  it("anon_vma_merge puts the survivor in the dying vma's place on the list", () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    const x = m.taskUnmappedBase + pages(64)
    p.mmap(x + pages(1), pages(1), RW, ANON | MAP_FIXED)
    p.write(x + pages(1), 9)
    const c1 = p.fork()
    const c2 = p.fork()
    const pfn = pfnAt(p, x + pages(1))
    // Newest first: c2, c1, then the parent.
    expect(m.rmapOf(pfn).entries.map((e) => e.pid)).toEqual([c2.pid, c1.pid, p.pid])
    // In the middle child, a new vma below its copy merges in front of it:
    // vma_merge keeps the copy (grown down), in its place.
    c1.mmap(x, pages(1), RW, ANON | MAP_FIXED)
    expect(c1.maps()).toHaveLength(1)
    const copy = c1.mm.vmas[0]!
    expect(m.rmapOf(pfn).entries.map((e) => [e.pid, e.start])).toEqual([
      [c2.pid, x + pages(1)],
      [c1.pid, x],
      [p.pid, x + pages(1)],
    ])
    // A vma with no anon_vma below a hole, then a mapping that fills the hole:
    // the vma below grows over both and, the copy dying, takes its place on the
    // list (not the head, not the tail).
    c1.munmap(x, pages(1))
    expect(c1.mm.vmas).toHaveLength(1)
    expect(c1.mm.vmas[0]).toBe(copy)
    c1.mmap(x - pages(1), pages(1), RW, ANON | MAP_FIXED)
    c1.mmap(x, pages(1), RW, ANON | MAP_FIXED)
    expect(c1.maps()).toHaveLength(1)
    expect(c1.mm.vmas[0]).not.toBe(copy)
    expect(m.rmapOf(pfn).entries.map((e) => [e.pid, e.start])).toEqual([
      [c2.pid, x + pages(1)],
      [c1.pid, x - pages(1)],
      [p.pid, x + pages(1)],
    ])
    expect(c1.mm.vmas[0]!.anonVma!.vmas[1]).toBe(c1.mm.vmas[0])
    m.check()
  })

  it("fork puts the child's private file vma just before its parent on i_mmap", () => {
    const m = new Machine({ arch, ram: '16M' })
    const file = m.fs.create('/f', { size: pages(2), fill: 3 })
    const p = m.spawn()
    const fd = p.open('/f', O_RDWR)
    const a = p.mmap(0, pages(2), PROT_READ, MAP_PRIVATE, fd, 0)
    const other = p.mmap(0, pages(2), PROT_READ, MAP_PRIVATE, fd, 0)
    expect(p.read(a)).toBe(3)
    const c = p.fork()
    const pfn = pfnAt(p, a)
    const order = file.iMmap.map((v) => [v.mm === c.mm ? 'C' : 'P', v.start])
    expect(order).toEqual([
      ['C', a],
      ['P', a],
      ['C', other],
      ['P', other],
    ])
    expect(m.rmapOf(pfn).entries.map((e) => [e.via, e.pid, e.mapsPage])).toEqual([
      ['i_mmap', c.pid, true],
      ['i_mmap', p.pid, true],
      ['i_mmap', c.pid, false],
      ['i_mmap', p.pid, false],
    ])
    m.check()
  })
})
