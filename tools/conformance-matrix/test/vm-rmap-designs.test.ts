// The reverse-mapping designs side by side on every layout: a process sees
// the same values under pte_chains (mainline 2.6.4) as under objrmap (2.6.5-aa),
// with m.check() — each design's own invariants included — after every step.
import { MAP_ANONYMOUS, MAP_PRIVATE, Machine, PAGE_SIZE, PROT_READ, PROT_WRITE } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
// The workload lives with the core's tests, which run it on toy32.
import { values } from '../../../packages/rmap/test/support/values.js'
import { ARCHES } from './vm-helpers.js'

const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

describe.each(ARCHES)('rmap designs on $name', (arch) => {
  it('pte_chains: the same values as objrmap through faults, fork, COW, mprotect, mremap, munmap, reclaim, swapoff, exec and exit', () => {
    const aa = values(new Machine({ arch, ram: '32M' }))
    const pc = values(new Machine({ arch, ram: '32M', rmap: 'pte_chains' }))
    expect(pc).toEqual(aa)
  })

  it("pte_chains sizes its chains by the layout's 2004 cache line and pte_addr_t", () => {
    const m = new Machine({ arch, ram: '32M', rmap: 'pte_chains' })
    const expected = { i386: [128, 31, 4], 'i386-pae': [128, 15, 8], ppc: [32, 7, 4], ppc64: [128, 15, 8] }[
      arch.name as 'i386'
    ]
    const { cacheLine, nrpte, pteAddrBytes } = m.stats().rmapMemory.parameters
    expect([cacheLine, nrpte, pteAddrBytes]).toEqual(expected)
  })

  it('pte_chains run under the 2.6.4 profile unless told otherwise; rmap_ptep_map kmaps a highmem pte page with KM_PTE2', () => {
    // Highmem (and with HIGHPTE, highmem pte pages) from 896M on i386.
    const m = new Machine({ arch, ram: arch.pgtable.highpte ? '1G' : '32M', rmap: 'pte_chains' })
    expect(m.env.rules.kmPte2).toBe(true)
    const p = m.spawn()
    const a = p.mmap(0, PAGE_SIZE, RW, ANON)
    p.write(a, 1)
    const pfn = p.pagemap(a).pfn!
    const before = m.env.kmap.highmemMaps
    m.pageReferenced(pfn)
    // One kmap of the (highmem, HIGHPTE) pte page for the one pte; none where pte pages are not kmapped.
    expect(m.env.kmap.highmemMaps - before).toBe(
      arch.pgtable.pteOffsetMapKmaps && arch.pgtable.highpte ? 1 : 0,
    )
    expect(m.env.kmap.outstanding()).toEqual([])
    m.check()
  })
  it('pte_chains running lowmem out in fork: ENOMEM with nothing left mapped (the chain allocation fails with both pte pages kmapped)', () => {
    // 2.6.4 copy_page_range drops both pte maps before the GFP_KERNEL retry of
    // pte_chain_alloc; the model once threw with KM_PTE0/KM_PTE1 still held (ppc).
    // Two sizes: where the failing allocation is a chain (not a pte page) differs by layout.
    for (const mb of [5, 8]) {
      const m = new Machine({ arch, ram: '16M', rmap: 'pte_chains' })
      const p = m.spawn()
      const len = mb * 1024 * 1024
      const a = p.mmap(0, len, RW, ANON)
      for (let o = 0; o < len; o += PAGE_SIZE) p.write(a + o, o)
      let all = [p]
      let failure: unknown
      for (let level = 0; level < 12 && failure === undefined; level++) {
        const next = []
        for (const q of all) {
          try {
            next.push(q.fork())
          } catch (e) {
            failure = e
            break
          }
        }
        all = all.concat(next)
      }
      expect(failure, `${mb}M`).toMatchObject({ name: 'SyscallError', errno: 'ENOMEM' })
      expect(m.env.kmap.outstanding()).toEqual([])
      m.check()
      expect(all.every((q) => q.read(a + 5 * PAGE_SIZE) === 5 * PAGE_SIZE)).toBe(true)
      for (const q of all) q.exit()
      expect(m.meminfo().PageTables).toBe(0)
      expect(m.stats().rmapMemory.objects['pteChain']).toBe(0)
      m.check()
    }
  })
})
