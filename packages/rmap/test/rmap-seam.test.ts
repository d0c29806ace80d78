// The reverse-mapping seam: the generic VM reaches the design only through
// RmapStrategy. A spy design wraps objrmap and records every call: the VM must
// behave identically through it, and the hooks must be called where the
// kernel calls them.
import { describe, expect, it } from 'vitest'
import {
  KernelBugError,
  lookupPte,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_MAYMOVE,
  NO_PTE,
  O_RDWR,
  objrmap,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  RMAP_DESIGNS,
  RMAP_STRATEGIES,
  RmapDesignNotImplementedError,
  UnknownRmapDesignError,
} from '../src/index.js'
import { type SpyVma, spyMachine } from './support/spy.js'
import { toy32 } from './support/toy32.js'
import { values } from './support/values.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS
const OPTS = { arch: toy32, ram: '16M', swap: 0 } as const

describe('the rmap seam', () => {
  it('the registry: objrmap by default; a typo and an unimplemented design are RangeErrors naming the valid names', () => {
    expect(new Machine(OPTS).rmap).toBe(objrmap)
    expect(RMAP_DESIGNS).toEqual(['objrmap', 'pte_chains', 'anonmm'])
    expect(RMAP_STRATEGIES).toContain('objrmap')
    const typo = () => new Machine({ ...OPTS, rmap: 'pte_chain' as 'objrmap' })
    expect(typo).toThrow(UnknownRmapDesignError)
    expect(typo).toThrow(RangeError)
    expect(typo).toThrow("unknown rmap design 'pte_chain'; valid: objrmap, pte_chains, anonmm")
    expect(() => new Machine({ ...OPTS, rmap: 42 as unknown as 'objrmap' })).toThrow(UnknownRmapDesignError)
    expect(new Machine({ ...OPTS, rmap: 'anonmm' }).rmap.name).toBe('anonmm')
    // A design named but not modelled (none once every design has landed).
    for (const name of RMAP_DESIGNS.filter((d) => !(RMAP_STRATEGIES as readonly string[]).includes(d))) {
      const later = () => new Machine({ ...OPTS, rmap: name })
      expect(later).toThrow(RmapDesignNotImplementedError)
      expect(later).toThrow(new RegExp(`rmap design '${name}' is not implemented yet`))
    }
  })

  it('the VM behaves identically through the spy, and the spy saw every hook', () => {
    const plain = values(new Machine(OPTS))
    const { m, spy } = spyMachine(OPTS)
    expect(values(m)).toEqual(plain)
    const n = spy.counts()
    for (const fn of [
      'pageRmapReserve',
      'pageAddRmap',
      'pageDupRmap',
      'pageRemoveRmap',
      'pageMapLock',
      'pageMapUnlock',
      'pageReferenced',
      'tryToUnmap',
      'vmaPrepare',
      'vmaCheckSwapIn',
      'vmaLink',
      'vmaUnlink',
      'vmaSplit',
      'vmaCanMerge',
      'vmaMerge',
      'vmaFork',
      'mmFork',
      'mmExec',
      'mmExit',
      'pteMoved',
      'check',
      'accounting',
    ] as const)
      expect(n[fn] ?? 0, fn).toBeGreaterThan(0)
    // The page's rmap lock is always released.
    expect(n.pageMapLock).toBe(n.pageMapUnlock)
  })

  it('pte_chains behaves identically through the spy too (a design that is a class)', () => {
    const opts = { ...OPTS, rmap: 'pte_chains' } as const
    const plain = values(new Machine(opts))
    const { m, spy } = spyMachine(opts)
    expect(values(m)).toEqual(plain)
    expect(spy.counts().pteMoved ?? 0).toBeGreaterThan(0)
    expect(spy.counts().pageMapLock).toBe(spy.counts().pageMapUnlock)
  })

  it('fork: mmFork once, then per vma vmaFork and vmaLink of the copy; pageDupRmap per present page with the child pte', () => {
    const { m, spy } = spyMachine(OPTS)
    const p = m.spawn()
    const x = p.mmap(0, 3 * P, RW, ANON)
    const y = p.mmap(0, 2 * P, RW, ANON)
    p.write(x, 1)
    p.write(x + 2 * P, 2)
    p.write(y, 3)
    spy.reset()
    const c = p.fork()
    expect(spy.of('mmFork')).toEqual([[{ mm: p.mm.id }, { mm: c.mm.id }]])
    const forks = spy.of('vmaFork') as [SpyVma, SpyVma][]
    expect(forks.map(([pv, cv]) => [pv.mm, cv.mm, cv.start, cv.end])).toEqual(
      p.mm.vmas.map((v) => [p.mm.id, c.mm.id, v.start, v.end]),
    )
    const links = spy.of('vmaLink') as [SpyVma][]
    expect(links.map(([v]) => v.vma)).toEqual(c.mm.vmas)
    const dups = spy.of('pageDupRmap') as [number, SpyVma, number, number][]
    expect(dups.map(([pfn, v, a]) => [pfn, v.mm, a])).toEqual(
      [x, x + 2 * P, y].sort((a, b) => a - b).map((a) => [p.pagemap(a).pfn, c.mm.id, a]),
    )
    // The pte location handed to the design is the child's pte for that address.
    for (const [, v, a, ptep] of dups) expect(ptep).toBe(lookupPte(m.env, v.mm, a))
    m.check()
  })

  it('a fault gives the design the pte it set: pageAddRmap(pfn, vma, address, ptep, anon), after vmaPrepare', () => {
    const { m, spy } = spyMachine(OPTS)
    const p = m.spawn()
    const x = p.mmap(0, 2 * P, RW, ANON)
    spy.reset()
    p.write(x + P, 7)
    expect(spy.calls.map((c) => c.fn)).toEqual(['pageRmapReserve', 'vmaPrepare', 'pageAddRmap'])
    const [pfn, v, a, ptep, anon] = spy.of('pageAddRmap')[0] as [number, SpyVma, number, number, boolean]
    expect([pfn, v.start, a, anon]).toEqual([p.pagemap(x + P).pfn, x, x + P, true])
    expect(ptep).toBe(lookupPte(m.env, p.mm.id, x + P))
    spy.reset()
    p.munmap(x, 2 * P)
    expect(spy.of('pageRemoveRmap')).toEqual([[pfn, ptep]])
    expect((spy.of('vmaUnlink') as [SpyVma][]).map(([u]) => u.start)).toEqual([x])
  })

  it('mprotect of the middle splits twice (vmaSplit with the new piece) and mprotect back merges twice', () => {
    const { m, spy } = spyMachine(OPTS)
    const p = m.spawn()
    const x = p.mmap(0, 6 * P, RW, ANON)
    p.write(x + 3 * P, 1)
    spy.reset()
    p.mprotect(x + 2 * P, 2 * P, PROT_READ)
    const splits = spy.of('vmaSplit') as [SpyVma, SpyVma][]
    // mprotect_fixup: split_vma(start, new_below = 1) cuts off the piece below,
    // then split_vma(end, 0) the piece above; the old vma keeps the middle.
    expect(splits.map(([v, piece]) => [v.start, piece.start, piece.end])).toEqual([
      [x + 2 * P, x, x + 2 * P],
      [x + 2 * P, x + 4 * P, x + 6 * P],
    ])
    // Each new piece was linked (it shares the anon_vma) before the split hook ran.
    expect((spy.of('vmaLink') as [SpyVma][]).map(([v]) => v.start)).toEqual([x, x + 4 * P])
    expect(p.maps()).toHaveLength(3)
    spy.reset()
    p.mprotect(x + 2 * P, 2 * P, RW)
    expect(p.maps()).toHaveLength(1)
    const merges = spy.of('vmaMerge') as [SpyVma, SpyVma][]
    expect(merges).toHaveLength(2)
    expect(spy.of('vmaUnlink')).toHaveLength(2)
    expect(spy.counts().vmaCanMerge).toBeGreaterThanOrEqual(2)
    expect(p.read(x + 3 * P)).toBe(1)
    m.check()
  })

  it('mremap that moves present ptes calls pteMoved for each, with both pte locations', () => {
    const { m, spy } = spyMachine(OPTS)
    const p = m.spawn()
    const x = p.mmap(0, 4 * P, RW, ANON)
    p.mmap(x + 4 * P, P, PROT_READ, ANON | MAP_FIXED) // a neighbour, so growing must move
    p.write(x, 1)
    p.write(x + 3 * P, 4)
    const pfns = [p.pagemap(x).pfn, p.pagemap(x + 3 * P).pfn]
    spy.reset()
    const y = p.mremap(x, 4 * P, 8 * P, MREMAP_MAYMOVE)
    expect(y).not.toBe(x)
    const moves = spy.of('pteMoved') as [number, { mm: number }, number, number, number, number][]
    // move_page_tables goes last page first.
    expect(moves.map(([pfn, mm, oldA, , newA]) => [pfn, mm.mm, oldA, newA])).toEqual([
      [pfns[1], p.mm.id, x + 3 * P, y + 3 * P],
      [pfns[0], p.mm.id, x, y],
    ])
    for (const [, , , , newA, newPtep] of moves) expect(newPtep).toBe(lookupPte(m.env, p.mm.id, newA))
    expect([p.read(y), p.read(y + 3 * P)]).toEqual([1, 4])
    m.check()
  })

  it('exit: every vma unlinked, then mmExit; exec: mmExec and vmaPrepare for the stack', () => {
    const { m, spy } = spyMachine(OPTS)
    const p = m.spawn()
    p.mmap(0, 2 * P, RW, ANON)
    p.write(m.taskUnmappedBase, 1)
    spy.reset()
    p.exec([4, 5])
    const fns = spy.calls.map((c) => c.fn)
    expect(fns.indexOf('mmExec')).toBeGreaterThanOrEqual(0)
    expect(fns.indexOf('mmExec')).toBeLessThan(fns.indexOf('vmaPrepare'))
    expect(fns.filter((f) => f === 'pageAddRmap')).toHaveLength(2)
    expect(fns.at(-1)).toBe('mmExit') // the old image's mm goes last
    spy.reset()
    const mm = p.mm
    p.exit()
    expect(spy.calls.map((c) => c.fn).slice(-2)).toEqual(['vmaUnlink', 'mmExit'])
    expect(spy.of('mmExit')).toEqual([[{ mm: mm.id }]])
  })

  it('swap-out and back: try_to_unmap under the page lock and rmap lock, vmaCheckSwapIn before the swap pte is mapped again', () => {
    const { m, spy } = spyMachine({ ...OPTS, swap: '4M' })
    const p = m.spawn()
    const x = p.mmap(0, P, RW, ANON)
    p.write(x, 42)
    const pfn = p.pagemap(x).pfn!
    m.pageReferenced(pfn)
    spy.reset()
    // -aa shrink_list writes the page and keeps it until write-back completes.
    expect(m.pageout(pfn).result).toBe('written')
    expect(spy.calls.map((c) => c.fn)).toEqual([
      'pageMapLock',
      'pageReferenced',
      'pageMapUnlock',
      'pageMapLock',
      'tryToUnmap',
      'pageMapUnlock',
    ])
    m.completeWriteback()
    expect(m.pageout(pfn).result).toBe('freed')
    spy.reset()
    expect(p.read(x)).toBe(42)
    expect(spy.calls.map((c) => c.fn)).toEqual([
      'pageRmapReserve',
      'vmaCheckSwapIn',
      'pageAddRmap',
      'swapInMustCopy',
    ])
  })

  it('m.rmapOf(pfn): the anon_vma, each vma on it in walk order with the computed address and the pte found there', () => {
    const m = new Machine(OPTS)
    const p = m.spawn()
    const x = p.mmap(0, 2 * P, RW, ANON)
    p.write(x + P, 3)
    const c = p.fork()
    const pfn = p.pagemap(x + P).pfn!
    const view = m.rmapOf(pfn)
    const av = p.mm.vmaAt(x)!.anonVma!
    expect(view).toMatchObject({
      design: 'objrmap',
      pfn,
      mapcount: 2,
      object: { kind: 'anon_vma', id: av.id },
      index: x / P + 1,
    })
    // -aa links the fork copy at the head of the anon_vma list: the child first.
    expect(view.entries.map((e) => [e.via, e.pid, e.start, e.end, e.pgoff, e.address, e.mapsPage])).toEqual([
      ['anon_vma', c.pid, x, x + 2 * P, x / P, x + P, true],
      ['anon_vma', p.pid, x, x + 2 * P, x / P, x + P, true],
    ])
    expect(view.entries[0]!.pte).not.toBeNull()
    // An unmapped page names nothing.
    c.exit()
    p.exit()
    expect(m.rmapOf(pfn)).toMatchObject({ mapcount: 0, object: { kind: 'none' }, entries: [] })
    expect(() => m.rmapOf(-1)).toThrow(RangeError)
    expect(() => m.rmapOf(m.frames.n)).toThrow(RangeError)
  })

  it('stats(): rmapBytes and rmapMemory come from the design', () => {
    const m = new Machine(OPTS)
    const p = m.spawn()
    p.write(p.mmap(0, P, RW, ANON), 1)
    const s = m.stats()
    expect(s.rmapMemory).toEqual(objrmap.accounting(m))
    expect(s.rmapMemory.objects).toEqual({ anonVma: 1 })
    expect(s.rmapBytes.total).toBe(s.rmapMemory.total)
    expect(s.rmapBytes.anonVma).toBe(12) // toy32: a 4-byte spinlock and a list_head of two 4-byte pointers
  })
  it("page_remove_rmap of an unmapped page: a BUG under anonmm (rmap 10's BUG_ON(!page->mapcount), file pages too); objrmap (-aa) and pte_chains (2.6.4) skip it", () => {
    for (const rmap of ['anonmm', 'objrmap', 'pte_chains'] as const) {
      const m = new Machine({ ...OPTS, rmap })
      m.fs.create('/f', { size: P, fill: 7 })
      const p = m.spawn()
      const a = p.mmap(0, P, RW, MAP_SHARED, p.open('/f', O_RDWR), 0)
      expect(p.read(a)).toBe(7)
      const pfn = p.pagemap(a).pfn!
      p.munmap(a, P) // the page stays in the page cache, mapcount 0
      expect(m.page(pfn).mapcount).toBe(0)
      const mapped = m.meminfo().Mapped
      const call = () => m.rmap.pageRemoveRmap(m, m.cpus[0]!, pfn, NO_PTE)
      if (rmap === 'anonmm') {
        expect(call).toThrow(KernelBugError)
        expect(call).toThrow(/page_remove_rmap: the page is mapped/)
      } else {
        call()
      }
      expect(m.page(pfn).mapcount).toBe(0)
      expect(m.meminfo().Mapped).toBe(mapped)
      m.check()
    }
  })
})
