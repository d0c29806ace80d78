// Hugh's anonmm (rmap 10/11) as the `rmap: 'anonmm'` design: fork groups,
// page->index as the user address, the indicated-mm-first walk, pages moved
// off exited mms, rmap 11's mremap rule (index update or an early COW), and
// its own m.check() invariants catching a corrupted state.
import { describe, expect, it } from 'vitest'
import {
  Anonmm,
  anonmm,
  InvariantError,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  type Mm,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

function machine(rmap: 'anonmm' | 'objrmap' = 'anonmm', swap: string | 0 = '4M'): Machine {
  return new Machine({ arch: toy32, ram: '16M', swap, rmap })
}

function anonmmsOf(m: Machine): Anonmm[] {
  return [...m.objects.values()].filter((o): o is Anonmm => o instanceof Anonmm)
}

function am(mm: Mm): Anonmm {
  const a = mm.anonmm
  if (!a) throw new Error('no anonmm')
  return a
}

/** shrink_list on one page after its young bits were cleared (as a first pass of reclaim would). */
function evict(m: Machine, pfn: number): string {
  m.pageReferenced(pfn)
  return m.pageout(pfn).result
}

/** A process with `n` written pages at a fixed address, and that address. */
function withPages(m: Machine, n: number, base = 0x4000_0000): { p: Process; x: number } {
  const p = m.spawn()
  const x = p.mmap(base, n * P, RW, ANON | MAP_FIXED)
  for (let i = 0; i < n; i++) p.write(x + i * P, 100 + i)
  return { p, x }
}

describe('anonmm', () => {
  it('is registered as rmap: "anonmm", reporting from mm/rmap.c', () => {
    const m = machine()
    expect(m.rmap).toBe(anonmm)
    expect(m.rmap.source).toBe('mm/rmap.c')
  })

  it('fork groups: exec (and spawn) start a head with count 2, fork appends the child, exit frees what nothing holds', () => {
    const m = machine()
    const p = m.spawn()
    const head = am(p.mm)
    expect({ count: head.count, isHead: head.head === head, ring: head.ring }).toEqual({
      count: 2,
      isHead: true,
      ring: [head],
    })
    const c = p.fork()
    const ca = am(c.mm)
    expect(ca.head).toBe(head)
    expect(head.ring).toEqual([head, ca])
    expect([head.count, ca.count]).toEqual([3, 1])
    const g = c.fork()
    expect(head.ring).toEqual([head, ca, am(g.mm)])
    m.check()
    // exec: a new group; the old anonmm had no pages, so it is freed at once.
    g.exec([7])
    expect(am(g.mm).head).toBe(am(g.mm))
    expect(head.ring).toEqual([head, ca])
    expect(am(g.mm).count).toBe(2 + 1) // the mm, the head itself, the argument page
    m.check()
    // The head's mm exits first: the head stays for its member.
    p.exit()
    expect(head.mm).toBeNull()
    expect(anonmmsOf(m)).toContain(head)
    c.exit()
    expect(anonmmsOf(m)).not.toContain(head)
    expect(anonmmsOf(m)).not.toContain(ca)
    g.exit()
    expect(anonmmsOf(m)).toEqual([])
    m.check()
  })

  it("page->mapping is the faulting mm's anonmm and page->index its user address (in page units)", () => {
    const m = machine()
    const { p, x } = withPages(m, 3)
    for (let i = 0; i < 3; i++) {
      const pfn = p.pagemap(x + i * P).pfn!
      const page = m.page(pfn)
      expect(page.mapping).toEqual({ kind: 'anonmm', id: am(p.mm).id })
      expect(page.index * P).toBe(x + i * P)
    }
    // A child's COW copy belongs to the child's anonmm, at the same address.
    const c = p.fork()
    c.write(x + P, 5)
    const copy = m.page(c.pagemap(x + P).pfn!)
    expect(copy.mapping.id).toBe(am(c.mm).id)
    expect(copy.index * P).toBe(x + P)
    expect(am(p.mm).count).toBe(2 + 1 + 3) // mm, itself, one member, three pages
    m.check()
  })

  it('walks the indicated mm first, then the group in list order from there, and stops at mapcount', () => {
    const m = machine()
    const { p } = withPages(m, 1)
    const [c1, c2, c3] = [p.fork(), p.fork(), p.fork()]
    // c2 faults a page of its own, then forks g: the page is shared by c2 and g.
    const y = c2!.mmap(0x5000_0000, P, RW, ANON | MAP_FIXED)
    c2!.write(y, 9)
    const g = c2!.fork()
    const pfn = c2!.pagemap(y).pfn!
    const view = m.rmapOf(pfn)
    expect(view.object.kind).toBe('anonmm')
    // List order p, c1, c2, c3, g; from c2: c2, c3, g, p, c1 — find_vma finds y only in c2 and g.
    expect(view.entries.map((e) => [e.via, e.pid, e.mapsPage])).toEqual([
      ['anonmm', c2!.pid, true],
      ['group', g.pid, true],
    ])
    const before = m.stats().rmap
    expect(m.pageReferenced(pfn)).toBeGreaterThan(0)
    const after = m.stats().rmap
    // c2 (found), c3 (rss > 0, nothing there), g (found): mapcount 2 exhausted, p and c1 never tried.
    expect(after.mmsVisited - before.mmsVisited).toBe(3)
    expect(after.ptesProbed - before.ptesProbed).toBe(3)
    expect([c1!.mm.rss, c3!.mm.rss]).toEqual([1, 1]) // tried only when the walk gets that far
    m.check()
  })

  it('walk cost on a pre-forking server: one mm for a page only its faulting mm maps, the whole group for a late-shared one', () => {
    const cost = (design: 'anonmm' | 'objrmap') => {
      const m = machine(design)
      const { p, x } = withPages(m, 2)
      const kids = Array.from({ length: 20 }, () => p.fork())
      p.write(x + P, 7) // the parent's own copy after the forks
      const y = kids[0]!.mmap(0x5000_0000, P, RW, ANON | MAP_FIXED)
      kids[0]!.write(y, 5)
      const g = kids[0]!.fork() // shares y with kids[0]; last on the group's list
      const walk = (pfn: number) => {
        const a = m.stats().rmap
        m.pageReferenced(pfn)
        const b = m.stats().rmap
        return { mms: b.mmsVisited - a.mmsVisited, vmas: b.vmasVisited - a.vmasVisited }
      }
      return {
        shared: walk(p.pagemap(x).pfn!),
        own: walk(p.pagemap(x + P).pfn!),
        late: walk(g.pagemap(y).pfn!),
      }
    }
    // 22 mms: the parent, 20 children and the grandchild.
    expect(cost('anonmm')).toEqual({
      shared: { mms: 22, vmas: 0 },
      own: { mms: 1, vmas: 0 },
      late: { mms: 21, vmas: 0 },
    })
    expect(cost('objrmap')).toEqual({
      shared: { mms: 0, vmas: 22 },
      own: { mms: 0, vmas: 22 },
      late: { mms: 0, vmas: 2 },
    })
  })

  it('try_to_unmap reaches every mm of the group at page->index, with a find_vma per pte it finds', () => {
    const m = machine()
    const { p, x } = withPages(m, 1)
    const kids = [p.fork(), p.fork(), p.fork()]
    const pfn = p.pagemap(x).pfn!
    m.pageReferenced(pfn)
    const before = m.stats().rmap
    expect(m.pageout(pfn).result).toMatch(/^(freed|written)$/)
    const after = m.stats().rmap
    // page_referenced then try_to_unmap: 4 mms each; find_vma only in try_to_unmap_one.
    expect(after.mmsVisited - before.mmsVisited).toBe(8)
    expect(after.findVmaCalls - before.findVmaCalls).toBe(4)
    for (const k of kids) expect(k.read(x)).toBe(100)
    expect(p.read(x)).toBe(100)
    m.check()
  })

  it('a VM_LOCKED vma in any mm of the group makes try_to_unmap SWAP_FAIL, after the ptes met before it (walk order differs from objrmap)', () => {
    const present: Record<string, boolean> = {}
    for (const design of ['anonmm', 'objrmap'] as const) {
      const m = machine(design)
      const { p, x } = withPages(m, 1)
      p.mprotect(x, P, PROT_READ) // so that mlock's make_pages_present does not COW
      const c = p.fork()
      c.mlock(x, P)
      const pfn = p.pagemap(x).pfn!
      expect(c.pagemap(x).pfn).toBe(pfn)
      expect(evict(m, pfn)).toBe('activated')
      present[design] = p.pagemap(x).present
      expect([p.read(x), c.read(x)]).toEqual([100, 100])
      m.check()
    }
    // anonmm tries the indicated mm (the parent) first and unmaps its pte before
    // meeting the child's locked vma; anon_vma's list has the child first.
    expect(present).toEqual({ anonmm: false, objrmap: true })
  })

  it('page_referenced moves a page off the anonmm of an exited mm onto the first mm still mapping it', () => {
    const m = machine()
    const { p, x } = withPages(m, 1)
    const c = p.fork()
    const pfn = p.pagemap(x).pfn!
    const head = am(p.mm)
    p.exit()
    expect(m.page(pfn).mapping.id).toBe(head.id)
    expect(head.count).toBe(3) // itself, member c, the page
    m.check()
    m.pageReferenced(pfn)
    expect(m.page(pfn).mapping.id).toBe(am(c.mm).id)
    expect(head.count).toBe(2)
    expect(m.stats().rmap.anonmmMigrations).toBe(1)
    m.check()
    c.exit()
    expect(anonmmsOf(m)).toEqual([])
    m.check()
  })

  it('mremap of an exclusive page updates page->index; of a page shared with a fork relative, copies it first (counted)', () => {
    const m = machine()
    const { p, x } = withPages(m, 2)
    const pfn0 = p.pagemap(x).pfn!
    const y = p.mremap(x, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x6000_0000)
    expect(p.pagemap(y).pfn).toBe(pfn0)
    expect(m.page(pfn0).index * P).toBe(y)
    expect(m.stats().rmap.mremapCows).toBe(0)
    m.check()
    const c = p.fork()
    const copies = m.stats().cow.copies
    const z = p.mremap(y, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x7000_0000)
    expect(m.stats().rmap.mremapCows).toBe(2)
    expect(m.stats().cow.copies - copies).toBe(2)
    expect(p.pagemap(z).pfn).not.toBe(c.pagemap(y).pfn)
    expect([p.read(z), p.read(z + P), c.read(y), c.read(y + P)]).toEqual([100, 101, 100, 101])
    expect(m.page(p.pagemap(z).pfn!).index * P).toBe(z)
    m.check()
  })

  it('objrmap moves the same shared pages without a copy (the difference is by construction)', () => {
    const m = machine('objrmap')
    const { p, x } = withPages(m, 2)
    const c = p.fork()
    const z = p.mremap(x, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x7000_0000)
    expect(m.stats().rmap.mremapCows).toBe(0)
    expect(p.pagemap(z).pfn).toBe(c.pagemap(x).pfn)
    expect([p.read(z), c.read(x)]).toEqual([100, 100])
    m.check()
  })

  it('a swapped-out shared page whose swap pte mremap moved is copied when it comes back in at the clashing address', () => {
    for (const order of ['child first', 'parent first'] as const) {
      const m = machine()
      const { p, x } = withPages(m, 1)
      const c = p.fork()
      expect(evict(m, p.pagemap(x).pfn!)).toMatch(/^(freed|written)$/)
      const z = p.mremap(x, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x7000_0000)
      expect(m.stats().rmap.mremapCows).toBe(0) // swap ptes move freely
      const reads = order === 'child first' ? [c.read(x), p.read(z)] : [p.read(z), c.read(x)]
      expect(reads).toEqual([100, 100])
      expect(m.stats().rmap.swapInCows).toBe(1)
      expect(p.pagemap(z).pfn).not.toBe(c.pagemap(x).pfn)
      m.check()
    }
  })

  it('scenario C4 (rmap 11): a shared page on swap, moved by the child, read back by the child then the parent: two frames, mapcount 1 each', () => {
    const frames = (design: 'anonmm' | 'objrmap') => {
      const m = machine(design)
      const { p, x } = withPages(m, 1)
      const c = p.fork()
      expect(evict(m, p.pagemap(x).pfn!)).toMatch(/^(freed|written)$/)
      const y = c.mremap(x, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x7000_0000)
      expect([c.read(y), p.read(x)]).toEqual([100, 100])
      m.check()
      const [cp, pp] = [c.pagemap(y).pfn!, p.pagemap(x).pfn!]
      return { same: cp === pp, mapcount: [m.page(cp).mapcount, m.page(pp).mapcount] }
    }
    expect(frames('anonmm')).toEqual({ same: false, mapcount: [1, 1] })
    expect(frames('objrmap')).toEqual({ same: true, mapcount: [2, 2] })
  })

  it('swapoff copies such a page too (unuse_process → make_page_exclusive)', () => {
    const m = machine('anonmm', 0)
    const type = m.swapon('2M')
    const { p, x } = withPages(m, 1)
    const c = p.fork()
    expect(evict(m, p.pagemap(x).pfn!)).toMatch(/^(freed|written)$/)
    const z = p.mremap(x, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x7000_0000)
    m.swapoff(type)
    expect(m.stats().rmap.swapInCows).toBe(1)
    expect([p.read(z), c.read(x)]).toEqual([100, 100])
    m.check()
  })

  it('accounting: a 24-byte anonmm per mm (and per dead one pages still name), a pointer per mm, an int mapcount per page', () => {
    const m = machine()
    const { p } = withPages(m, 2)
    p.fork()
    p.fork()
    const acc = m.stats().rmapMemory
    expect(acc.design).toBe('anonmm')
    expect(acc.objects).toEqual({ anonmm: 3, heads: 1, exited: 0 })
    expect(acc.bytes).toEqual({ anonmm: 3 * 24, mmField: 3 * 4, mapcount: m.frames.n * 4 })
    expect(acc.total).toBe(3 * 24 + 3 * 4 + m.frames.n * 4)
    expect(m.stats().objects.anonVmas).toBe(0)
  })

  describe('m.check() catches a corrupted state', () => {
    const corruptions: [string, (m: Machine, p: Process, c: Process, x: number) => void, RegExp][] = [
      ['a count one too high', (_m, p) => am(p.mm).count++, /count/],
      ['a page->index off by a page', (m, p, _c, x) => m.frames.index[p.pagemap(x).pfn!]!++, /at its index/],
      [
        "a member dropped from its head's list",
        (_m, p, c) => am(p.mm).ring.splice(am(p.mm).ring.indexOf(am(c.mm)), 1),
        /head's list/,
      ],
      [
        'a page naming another group',
        (m, p, c, x) => {
          c.exec([1])
          m.frames.mapping[p.pagemap(x).pfn!] = am(c.mm).id
        },
        /fork group|count/,
      ],
    ]
    for (const [what, corrupt, message] of corruptions) {
      it(what, () => {
        const m = machine()
        const { p, x } = withPages(m, 2)
        const c = p.fork()
        m.check()
        corrupt(m, p, c, x)
        expect(() => m.check()).toThrow(InvariantError)
        expect(() => m.check()).toThrow(message)
      })
    }
  })
})
