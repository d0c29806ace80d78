// The objrmap + anon_vma walk's locking rules and outcomes (docs/designs.md#locking-and-the-reclaim-order, docs/designs.md#objrmap-and-anon_vma), on every layout, with m.check() after every step.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  KernelBugError,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  pageMapLock,
  pageMapUnlock,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

const RW = PROT_READ | PROT_WRITE

describe.each([i386, i386Pae, ppc, ppc64])('objrmap on $name', (arch) => {
  function sharedFilePage(children: number) {
    const m = new Machine({ arch, ram: '64M' })
    m.fs.create('/data', { size: PAGE_SIZE })
    const p = m.spawn()
    const fd = p.open('/data', O_RDWR)
    const a = p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0)
    p.write(a, 42)
    const kids = Array.from({ length: children }, () => p.fork())
    for (const k of kids) expect(k.read(a)).toBe(42)
    return { m, p, a, kids, pfn: p.pagemap(a).pfn! }
  }

  it('page_referenced counts every young pte once, and a second call finds none', () => {
    const { m, pfn } = sharedFilePage(3)
    expect(m.page(pfn).mapcount).toBe(4)
    // The parent's pte was young from the write, the children's from their reads;
    // PG_referenced (mark_page_accessed at fault time) counts one more.
    const referenced = m.page(pfn).flags.includes('referenced') ? 1 : 0
    expect(m.pageReferenced(pfn)).toBe(4 + referenced)
    expect(m.stats().lastWalk.vmasVisited).toBe(4)
    expect(m.pageReferenced(pfn)).toBe(0)
    m.check()
  })

  it('a failed page_table_lock trylock counts as not referenced [TRYLOCK]', () => {
    const { m, a, kids, pfn } = sharedFilePage(2)
    m.pageReferenced(pfn)
    // Both children touch the page again: their ptes are young again (the model
    // sets the accessed bit on every access; see MmuCache.access).
    for (const k of kids) k.read(a)
    const failures = m.stats().rmap.trylockFailures
    m.heldPageTableLocks.add(kids[0]!.mm.id)
    const seen = m.pageReferenced(pfn)
    m.heldPageTableLocks.clear()
    expect(m.stats().rmap.trylockFailures - failures).toBe(1)
    // Only the other child's young pte was found.
    expect(seen).toBe(1)
    m.check()
  })

  it('a held i_shared_sem makes page_referenced return 0 and try_to_unmap SWAP_AGAIN', () => {
    const { m, pfn } = sharedFilePage(1)
    const inode = m.fs.lookup('/data')!
    inode.sharedSemHeld = true
    const referenced = m.page(pfn).flags.includes('referenced') ? 1 : 0
    expect(m.pageReferenced(pfn)).toBe(referenced) // PG_referenced only: no walk
    expect(m.stats().lastWalk.vmasVisited).toBe(0)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    expect(m.page(pfn).mapcount).toBe(2)
    inode.sharedSemHeld = false
    m.check()
  })

  it('try_to_unmap of a shared file page clears every pte, drops nr_mapped once, and the data survives', () => {
    const { m, p, a, kids, pfn } = sharedFilePage(3)
    const mapped = m.meminfo().Mapped
    expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    expect(m.page(pfn).mapcount).toBe(0)
    expect(m.meminfo().Mapped).toBe(mapped - 4)
    for (const proc of [p, ...kids]) expect(proc.pagemap(a).present).toBe(false)
    m.check()
    expect(kids[1]!.read(a)).toBe(42)
    m.check()
  })

  it('-aa try_to_unmap of an anon page not in the swap cache is SWAP_AGAIN without a walk', () => {
    const m = new Machine({ arch, ram: '64M' })
    const p = m.spawn()
    const a = p.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 1)
    p.fork()
    const pfn = p.pagemap(a).pfn!
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    expect(m.stats().lastWalk.vmasVisited).toBe(0)
    expect(m.page(pfn).mapcount).toBe(2)
    m.check()
  })

  it('VM_LOCKED makes try_to_unmap fail (SWAP_FAIL) and leaves the page mapped', () => {
    const { m, p, a, pfn } = sharedFilePage(0)
    p.mlock(a, PAGE_SIZE)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_FAIL')
    expect(m.page(pfn).mapcount).toBe(1)
    m.check()
  })

  it('page_map_lock is a bit lock: taking it twice is the self-deadlock BUG', () => {
    const { m, pfn } = sharedFilePage(0)
    pageMapLock(m, m.cpus[0]!, pfn)
    expect(() => pageMapLock(m, m.cpus[0]!, pfn)).toThrow(KernelBugError)
    pageMapUnlock(m, m.cpus[0]!, pfn)
    expect(() => pageMapUnlock(m, m.cpus[0]!, pfn)).toThrow(/PG_maplock not held/)
    m.check()
  })

  it('an anon page keeps (anon_vma, index) across fork; PG_anon is set and cleared only with the mapcount', () => {
    const m = new Machine({ arch, ram: '64M' })
    const p = m.spawn()
    const a = p.mmap(0, 2 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a + PAGE_SIZE, 5)
    const pfn = p.pagemap(a + PAGE_SIZE).pfn!
    const before = m.page(pfn)
    expect(before.flags).toContain('anon')
    expect(before.mapping.kind).toBe('anon_vma')
    expect(before.index).toBe(a / PAGE_SIZE + 1)
    const c = p.fork()
    expect(m.page(pfn).mapping).toEqual(before.mapping)
    c.exit()
    p.munmap(a, 2 * PAGE_SIZE)
    const after = m.page(pfn)
    expect(after.count).toBe(0)
    expect(after.flags).not.toContain('anon')
    expect(after.mapping.kind).toBe('none')
    m.check()
  })
})
