// rmap: 'pte_chains' — mainline 2.6.4's per-pte reverse mapping.
import { describe, expect, it } from 'vitest'
import {
  lookupPte,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  OutOfMemoryError,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  SyscallError,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'
import { values } from './support/values.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

describe("rmap: 'pte_chains'", () => {
  it('NRPTE per layout: (L1_CACHE_BYTES − sizeof(long)) / sizeof(pte_addr_t)', () => {
    const chains = (cacheLine?: number) =>
      new Machine({ arch: toy32, ram: '8M', rmap: 'pte_chains', ...(cacheLine ? { cacheLine } : {}) }).stats()
        .rmapMemory.parameters
    expect(chains()).toMatchObject({ nrpte: 7, cacheLine: 32 }) // toy32: 32-byte lines, 4-byte pte_t *
    expect(chains(64)).toMatchObject({ nrpte: 15 })
    expect(chains(128)).toMatchObject({ nrpte: 31 })
    expect(() => chains(48)).toThrow(/cacheLine \(L1_CACHE_BYTES\) must be a power of two/)
    expect(() => chains(8)).toThrow(RangeError)
  })

  it('bad input: a typo of the design, a cache line that is not a power of two (under any design) name the option and the valid values', () => {
    const opts = (o: object) => () => new Machine({ arch: toy32, ram: '8M', ...o })
    expect(opts({ rmap: 'pte_chain' })).toThrow(
      expect.objectContaining({
        name: 'UnknownRmapDesignError',
        option: 'rmap',
        message: "Machine: unknown rmap design 'pte_chain'; valid: objrmap, pte_chains, anonmm",
      }),
    )
    for (const rmap of ['objrmap', 'pte_chains', 'anonmm'])
      for (const cacheLine of [48, 0, 8192, 64.5, '64'])
        expect(opts({ rmap, cacheLine }), `${rmap} ${cacheLine}`).toThrow(
          expect.objectContaining({
            name: 'MachineOptionError',
            option: 'cacheLine',
            message: expect.stringMatching(
              /^Machine: cacheLine \(L1_CACHE_BYTES\) must be a power of two from 16 to 4096, got /,
            ),
          }),
        )
    expect(opts({ rmap: 'objrmap', cacheLine: 64 })).not.toThrow()
  })

  it('what a process observes is what it observes under objrmap', () => {
    const aa = values(new Machine({ arch: toy32, ram: '16M' }))
    const pc = values(new Machine({ arch: toy32, ram: '16M', rmap: 'pte_chains' }))
    expect(pc).toEqual(aa)
  })

  it('direct, then a chain at the second pte; removal refills from the head; page_referenced collapses one pte to direct', () => {
    const m = new Machine({ arch: toy32, ram: '16M', rmap: 'pte_chains' })
    const p = m.spawn()
    const x = p.mmap(0, P, RW, ANON)
    p.write(x, 1)
    const pfn = p.pagemap(x).pfn!
    expect(m.page(pfn).flags).toContain('direct')
    expect(m.rmapOf(pfn).entries.map((e) => e.via)).toEqual(['pte.direct'])
    const kids = Array.from({ length: 8 }, () => p.fork())
    // 9 ptes, NRPTE 7: a full chain behind a head with 2 used slots.
    expect(m.page(pfn).flags).not.toContain('direct')
    expect(m.stats().rmapMemory.objects).toEqual({ pteChain: 2 })
    const view = m.rmapOf(pfn)
    expect(view.entries.map((e) => e.via)).toEqual(Array(9).fill('pte_chain'))
    expect(view.entries.every((e) => e.mapsPage)).toBe(true)
    // The chain is ordered newest first: the last fork's pte heads it.
    expect(view.entries[0]!.pid).toBe(kids[7]!.pid)
    expect(view.entries.at(-1)!.pid).toBe(p.pid)
    for (const e of view.entries) expect(lookupPte(m.env, e.mm, e.address)).toBeGreaterThanOrEqual(0)
    m.check()
    // Removing ptes: the head empties first and is freed.
    for (const k of kids.slice(0, 2)) k.exit()
    expect(m.stats().rmapMemory.objects).toEqual({ pteChain: 1 })
    m.check()
    for (const k of kids.slice(2)) k.exit()
    // One pte left, still on a chain: only page_referenced collapses it.
    expect(m.page(pfn).flags).not.toContain('direct')
    expect(m.stats().rmapMemory.objects).toEqual({ pteChain: 1 })
    m.pageReferenced(pfn)
    expect(m.page(pfn).flags).toContain('direct')
    expect(m.stats().rmapMemory.objects).toEqual({ pteChain: 0 })
    m.check()
  })

  it('mlock + fork + pageout: the chain meets the child first; its pte goes to swap, the locked parent stops the walk', () => {
    const m = new Machine({ arch: toy32, ram: '16M', rmap: 'pte_chains' })
    const type = m.swapon('4M')
    const p = m.spawn()
    const a = p.mmap(0, P, RW, ANON)
    p.write(a, 77)
    p.mlock(a, P)
    const c = p.fork()
    const pfn = p.pagemap(a).pfn!
    // An anonymous page has no page->mapping here; not yet in swap: SWAP_AGAIN, no walk.
    expect(m.page(pfn).mapping.kind).toBe('none')
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    m.pageReferenced(pfn)
    const r = m.pageout(pfn)
    expect([r.unmap, r.result]).toEqual(['SWAP_FAIL', 'activated'])
    expect(c.pagemap(a)).toMatchObject({ present: false, swapped: true, swapType: type })
    expect(m.page(pfn).mapcount).toBe(1)
    m.check()
    expect([c.read(a), p.read(a)]).toEqual([77, 77])
    m.check()
  })

  it('try_to_unmap refills each unmapped slot from the head, so a pte skipped on a failed trylock stays on the chain', () => {
    const m = new Machine({ arch: toy32, ram: '16M', rmap: 'pte_chains' })
    m.fs.create('/s', { size: P, fill: 4 })
    const p = m.spawn()
    const a = p.mmap(0, P, RW, MAP_SHARED, p.open('/s', O_RDWR), 0)
    expect(p.read(a)).toBe(4)
    const c1 = p.fork()
    const c2 = p.fork()
    expect([c1.read(a), c2.read(a)]).toEqual([4, 4])
    const pfn = p.pagemap(a).pfn!
    // Chain order, newest first: c2, c1, p. c2's page_table_lock is held.
    expect(m.rmapOf(pfn).entries.map((e) => e.pid)).toEqual([c2.pid, c1.pid, p.pid])
    m.heldPageTableLocks.add(c2.mm.id)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_AGAIN')
    expect(m.rmapOf(pfn).entries.map((e) => [e.pid, e.mapsPage])).toEqual([[c2.pid, true]])
    expect([p.pagemap(a).present, c1.pagemap(a).present, c2.pagemap(a).present]).toEqual([false, false, true])
    m.check()
    m.heldPageTableLocks.delete(c2.mm.id)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    m.check()
    expect([p.read(a), c1.read(a), c2.read(a)]).toEqual([4, 4, 4])
  })

  it('a nonlinear page is found at its nonlinear pte and swapped out (objrmap cannot)', () => {
    const m = new Machine({ arch: toy32, ram: '16M', rmap: 'pte_chains', nonlinearReclaim: 'aa-none' })
    m.fs.create('/n', { size: 4 * P, fill: 0 })
    const p = m.spawn()
    const fd = p.open('/n', O_RDWR)
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
    p.write(a + 3 * P, 33)
    p.remapFilePages(a, P, 0, 3) // file page 3 at a
    const pfn = p.pagemap(a).pfn!
    expect(p.read(a)).toBe(33)
    expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    expect(p.pagemap(a)).toMatchObject({ present: false, file: 3 })
    m.check()
    expect(p.read(a)).toBe(33)
    m.check()
  })

  it('pte_chains come from lowmem frames: when lowmem runs out, fork fails with ENOMEM and nothing is half done', () => {
    const m = new Machine({ arch: toy32, ram: '8M', rmap: 'pte_chains' })
    const p = m.spawn()
    const x = p.mmap(0, 512 * P, RW, ANON)
    for (let i = 0; i < 512; i++) p.write(x + i * P, i)
    const c1 = p.fork() // 512 pages turn from direct to chains: 512 / 128 a frame = 4 slab frames
    const mem = m.stats().rmapMemory
    expect(mem.objects).toEqual({ pteChain: 512 })
    expect(mem.lowmemFrames).toBe(4)
    expect(mem.bytes.pteChain).toBe(512 * 32)
    m.check()
    // Leave lowmem three frames: the next fork needs a pte page and chains.
    const held: number[] = []
    for (
      let pfn = m.env.tryAllocPage({ highmem: false });
      pfn >= 0;
      pfn = m.env.tryAllocPage({ highmem: false })
    )
      held.push(pfn)
    for (const pfn of held.splice(0, 3)) m.env.freePage(pfn)
    const before = p.maps()
    let failed: unknown = null
    try {
      p.fork()
    } catch (e) {
      failed = e
    }
    expect(failed).toBeInstanceOf(SyscallError)
    expect((failed as SyscallError).errno).toBe('ENOMEM')
    expect(m.processes().map((q) => q.pid)).toEqual([p.pid, c1.pid])
    expect(p.maps()).toEqual(before)
    m.check()
    expect([p.read(x + 511 * P), c1.read(x + 7 * P)]).toEqual([511, 7])
    for (const pfn of held) m.env.freePage(pfn)
    const c2 = p.fork()
    expect(c2.read(x + 3 * P)).toBe(3)
    m.check()
    void OutOfMemoryError
  })
})
