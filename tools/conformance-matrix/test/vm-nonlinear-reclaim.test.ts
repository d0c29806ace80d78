// Nonlinear vmas under pressure, issue 4 item 6 (docs/designs.md#objrmap-and-anon_vma, docs/designs.md#what-267-merged [RMAP8]): with the default `nonlinearReclaim: '2.6.7-cluster'`,
// try_to_unmap of a file page in a file with VM_NONLINEAR vmas ages and
// unmaps clusters of 32 ptes from each vma's cursor, leaving file ptes that
// hold each page's pgoff; page_referenced skips nonlinear vmas. With 'aa-none'
// (the 2.6.5-aa tree) nonlinear ptes are never found: the pages stay mapped.
// Every layout, m.check() after every step.
import {
  explore,
  type Machine as M,
  MAP_FIXED,
  MAP_SHARED,
  Machine,
  type NonlinearReclaim,
  nonlinearReclaimScenario,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  VM,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES } from './vm-helpers.js'

const P = PAGE_SIZE
const BASE = 0x20000000
/** CLUSTER_SIZE in bytes: 32 pages. */
const CLUSTER = 32 * P

/**
 * A 64-page file mapped MAP_SHARED at BASE (128 KB aligned), made nonlinear:
 * the first 32 pages show file pages 32..63, the last 32 show 0..31. Page k
 * of the window is written with k + 1.
 */
function setup(arch: (typeof ARCHES)[number], nonlinearReclaim?: NonlinearReclaim) {
  const m = new Machine({ arch, ram: '64M', seed: 2004, ...(nonlinearReclaim ? { nonlinearReclaim } : {}) })
  const inode = m.fs.create('/tmp/nl', { size: 64 * P, fill: 0 })
  const p = m.spawn()
  const fd = p.open('/tmp/nl', O_RDWR)
  const a = p.mmap(BASE, 64 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0)
  expect(a).toBe(BASE)
  m.check()
  p.remapFilePages(a, 32 * P, 0, 32)
  m.check()
  p.remapFilePages(a + 32 * P, 32 * P, 0, 0)
  m.check()
  for (let k = 0; k < 64; k++) p.write(a + k * P, k + 1)
  m.check()
  const vma = p.mm.vmaAt(a)!
  expect(vma.flags & VM.NONLINEAR).toBe(VM.NONLINEAR)
  expect(p.mm.rss).toBe(64)
  return { m, p, a, inode, vma }
}

/** The file page offset shown at window page k. */
const pgoffAt = (k: number): number => (k < 32 ? k + 32 : k - 32)

function pfn(p: Process, addr: number): number {
  const e = p.pagemap(addr)
  expect(e.present).toBe(true)
  return e.pfn!
}

function walk(m: M) {
  return m.stats().lastWalk
}

describe.each(ARCHES)('nonlinear reclaim on $name', (arch) => {
  it('is 2.6.7-cluster by default and rejects an unknown value', () => {
    expect(new Machine({ arch }).nonlinearReclaim).toBe('2.6.7-cluster')
    expect(new Machine({ arch, nonlinearReclaim: 'aa-none' }).nonlinearReclaim).toBe('aa-none')
    expect(() => new Machine({ arch, nonlinearReclaim: 'none' as NonlinearReclaim })).toThrow(
      "Machine: unknown nonlinearReclaim 'none'; valid: 2.6.7-cluster, aa-none",
    )
  })

  it('page_referenced skips nonlinear vmas (2.6.7); the -aa walk probes their linear address', () => {
    const { m, p, a } = setup(arch)
    const page = pfn(p, a)
    expect(m.pageReferenced(page)).toBe(0)
    expect(walk(m)).toEqual({ vmasVisited: 0, ptesProbed: 0 })
    m.check()
    // The pte stays young: page_referenced did not reach it.
    expect(p.pagemap(a).young).toBe(true)
    const aa = setup(arch, 'aa-none')
    expect(aa.m.pageReferenced(pfn(aa.p, aa.a))).toBe(0)
    expect(walk(aa.m)).toEqual({ vmasVisited: 1, ptesProbed: 1 })
    expect(aa.p.pagemap(aa.a).young).toBe(true)
    aa.m.check()
  })

  it('try_to_unmap ages, then unmaps a cluster at a time; the cursor advances across calls', () => {
    const { m, p, a, vma } = setup(arch)
    const first = pfn(p, a)
    expect(m.page(first)).toMatchObject({ index: 32, mapcount: 1 })
    // Every pte is young: the whole vma is aged (2 clusters), nothing unmapped, cursors reset.
    expect(m.tryToUnmap(first)).toBe('SWAP_AGAIN')
    expect(walk(m)).toEqual({ vmasVisited: 2, ptesProbed: 64 })
    expect(p.mm.rss).toBe(64)
    expect(vma.nonlinearCursor).toBe(0)
    for (let k = 0; k < 64; k++) expect(p.pagemap(a + k * P)).toMatchObject({ present: true, young: false })
    m.check()
    // Now the first cluster goes: 32 ptes, as many as the mapcount asks for and more.
    expect(m.tryToUnmap(first)).toBe('SWAP_SUCCESS')
    expect(walk(m)).toEqual({ vmasVisited: 1, ptesProbed: 32 })
    expect(p.mm.rss).toBe(32)
    expect(vma.nonlinearCursor).toBe(CLUSTER)
    for (let k = 0; k < 32; k++)
      expect(p.pagemap(a + k * P)).toEqual({ present: false, swapped: false, file: pgoffAt(k) })
    for (let k = 32; k < 64; k++) expect(p.pagemap(a + k * P).present).toBe(true)
    // Only the page cache's reference is left.
    expect(m.page(first)).toMatchObject({ mapcount: 0, count: 1 })
    expect(m.page(first).flags).toContain('dirty')
    m.check()
    // A page of the second cluster: the scan resumes at the cursor.
    const second = pfn(p, a + 40 * P)
    expect(m.page(second).index).toBe(8)
    expect(m.tryToUnmap(second)).toBe('SWAP_SUCCESS')
    expect(walk(m)).toEqual({ vmasVisited: 2, ptesProbed: 32 })
    expect(p.mm.rss).toBe(0)
    expect(vma.nonlinearCursor).toBe(2 * CLUSTER)
    for (let k = 0; k < 64; k++)
      expect(p.pagemap(a + k * P)).toEqual({ present: false, swapped: false, file: pgoffAt(k) })
    m.check()
  })

  it('pageout writes the data back; do_file_page reads it back through the file ptes', () => {
    const { m, p, a, inode } = setup(arch)
    const first = pfn(p, a)
    expect(m.pageout(first)).toMatchObject({ result: 'kept', reason: 'SWAP_AGAIN', unmap: 'SWAP_AGAIN' })
    m.check()
    expect(m.pageout(first)).toMatchObject({ result: 'written', unmap: 'SWAP_SUCCESS', wrote: true })
    m.check()
    expect(m.completeWriteback()).toBe(1)
    expect(m.pageout(first)).toMatchObject({ result: 'freed', unmap: null, wrote: false })
    m.check()
    expect(inode.pages.has(32)).toBe(false)
    expect(p.pagemap(a)).toEqual({ present: false, swapped: false, file: 32 })
    const before = m.stats().faults.nonlinear
    expect(p.read(a)).toBe(1)
    expect(m.stats().faults.nonlinear).toBe(before + 1)
    m.check()
    expect(m.page(pfn(p, a)).index).toBe(32)
    // The other pages of the cluster were unmapped but not freed: they fault back from the cache.
    for (let k = 1; k < 32; k++) expect(p.read(a + k * P)).toBe(k + 1)
    expect(m.stats().faults.nonlinear).toBe(before + 32)
    for (let k = 32; k < 64; k++) expect(p.read(a + k * P)).toBe(k + 1)
    expect(m.stats().faults.nonlinear).toBe(before + 32)
    expect(p.mm.rss).toBe(64)
    m.check()
  })

  it('m.reclaim unmaps the nonlinear pages and frees them; every page reads back', () => {
    const { m, p, a, inode } = setup(arch)
    const r = m.reclaim({ pages: 64 })
    m.check()
    // Every page is written; the writes complete while kswapd sleeps between
    // runs and the next run frees the pages. The last one is left: with one
    // page on the inactive list, max_scan = nr_inactive >> priority is 0 at
    // every priority balance_pgdat runs (12..1), so nr_scan_inactive never
    // reaches SWAP_CLUSTER_MAX.
    expect(r).toMatchObject({ freed: 63, writes: 64, progress: false })
    expect(inode.pages.size).toBe(1)
    const last = [...inode.pages.values()][0]!
    m.completeWriteback()
    expect(m.pageout(last).result).toBe('freed')
    m.check()
    expect(p.mm.rss).toBe(0)
    for (let k = 0; k < 64; k++)
      expect(p.pagemap(a + k * P)).toEqual({ present: false, swapped: false, file: pgoffAt(k) })
    expect(inode.pages.size).toBe(0)
    for (let k = 0; k < 64; k++) expect(p.read(a + k * P)).toBe(k + 1)
    expect(p.mm.rss).toBe(64)
    m.check()
  })

  it('VM_LOCKED nonlinear vmas are refused and stay mapped (SWAP_AGAIN, as 2.6.7)', () => {
    const { m, p, a, vma } = setup(arch)
    p.mlock(a, 64 * P)
    m.check()
    expect(vma.flags & VM.LOCKED).toBe(VM.LOCKED)
    const first = pfn(p, a)
    // 2.6.7 skips locked nonlinear vmas; with none left it answers SWAP_AGAIN (2.6.8: SWAP_FAIL).
    expect(m.tryToUnmap(first)).toBe('SWAP_AGAIN')
    expect(walk(m)).toEqual({ vmasVisited: 0, ptesProbed: 0 })
    // mlock's faults left PG_referenced: the first pass activates it, the second keeps it.
    expect(m.pageout(first)).toMatchObject({
      result: 'activated',
      reason: 'referenced and in use',
      unmap: null,
    })
    m.check()
    expect(m.pageout(first)).toMatchObject({ result: 'kept', reason: 'SWAP_AGAIN', unmap: 'SWAP_AGAIN' })
    expect(p.mm.rss).toBe(64)
    for (let k = 0; k < 64; k++) expect(p.pagemap(a + k * P).present).toBe(true)
    m.check()
  })

  it('on 2 cpus (the explorer, bound 2): no lock-order error, nr_mapped and mapcounts right after every schedule', () => {
    // 2.6.7 try_to_unmap_file drops the page's page_map_lock for the cluster
    // scan; page_remove_rmap takes each page's own. explore() runs m.check()
    // (nr_mapped, mapcount against the ptes) after every schedule.
    const r = explore(nonlinearReclaimScenario({ arch }), { bound: 2 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(2)
    expect(r.complete).toBe(true)
    // 2.6.7's double count is caught on every layout.
    const bad = explore(nonlinearReclaimScenario({ arch, bugs: ['nonlinear-nr-mapped'] }), { bound: 0 })
    expect(bad.failure?.violation.message).toMatch(/nr_mapped \(-1\) equals the mapped pages \(0\)/)
  })

  it("with nonlinearReclaim 'aa-none' the pages are never unmapped (effectively locked)", () => {
    const { m, p, a, vma } = setup(arch, 'aa-none')
    const first = pfn(p, a)
    for (let i = 0; i < 3; i++) {
      expect(m.tryToUnmap(first)).toBe('SWAP_AGAIN')
      expect(walk(m)).toEqual({ vmasVisited: 1, ptesProbed: 1 })
      m.check()
    }
    expect(m.pageout(first)).toMatchObject({ result: 'kept', reason: 'SWAP_AGAIN', unmap: 'SWAP_AGAIN' })
    m.check()
    m.reclaim({ pages: 64 })
    m.check()
    expect(p.mm.rss).toBe(64)
    expect(vma.nonlinearCursor).toBe(0)
    for (let k = 0; k < 64; k++) expect(p.pagemap(a + k * P)).toMatchObject({ present: true, young: true })
    expect(m.page(first).mapcount).toBe(1)
  })
})
