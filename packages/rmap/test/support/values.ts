/**
 * One workload over every path that reaches the reverse-mapping design:
 * anonymous and file faults, COW after fork, mprotect split and merge, mremap
 * of present ptes, munmap, page_referenced, pageout and reclaim with swap,
 * swap-in, swapoff, exec and exit. The designs must agree on everything it
 * returns. Shared by the core's seam and pte_chains tests (toy32) and the
 * conformance-matrix's side-by-side test (every shipped layout).
 */
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  type Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/index.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

/** Every value a process reads, step by step, with m.check() after each step. */
export function values(m: Machine): unknown[] {
  const seen: unknown[] = []
  const step = (what: string, fn: () => unknown) => {
    const r = fn()
    m.check()
    seen.push([what, r])
  }
  const type = m.swapon('4M')
  m.fs.create('/f', { size: 4 * P, fill: 5 })
  const p = m.spawn()
  const x = m.taskUnmappedBase + 64 * P
  step('mmap', () => p.mmap(x, 8 * P, RW, ANON | MAP_FIXED))
  step('write', () => {
    for (let i = 0; i < 8; i++) p.write(x + i * P, 100 + i)
  })
  const fd = p.open('/f', O_RDWR)
  const f = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
  const fp = p.mmap(0, 4 * P, RW, MAP_PRIVATE, fd, 0)
  step('file faults', () => [p.read(f), p.read(fp + P), p.write(f + 2 * P, 9), p.write(fp + 3 * P, 11)])
  const kids = [p.fork(), p.fork(), p.fork()]
  const c = kids[0]!
  step('cow', () => {
    c.write(x, 1)
    return [p.read(x), c.read(x), c.read(fp + 3 * P), kids[2]!.read(x + 5 * P)]
  })
  step('mprotect split', () => p.mprotect(x + 2 * P, 2 * P, PROT_READ))
  step('mprotect merge', () => p.mprotect(x + 2 * P, 2 * P, RW))
  step('mremap', () => p.mremap(x + 4 * P, 4 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, x + 256 * P))
  step('munmap', () => p.munmap(x + P, P))
  step('referenced', () => [x, x + 2 * P, f + 2 * P].map((a) => m.pageReferenced(c.pagemap(a).pfn!)))
  step('pageout', () =>
    [x + 2 * P, x + 5 * P, f + 2 * P, fp + 3 * P, f].map((a) => {
      const e = c.pagemap(a)
      if (!e.present) return 'absent'
      const r = m.pageout(e.pfn!)
      return [r.result, r.unmap, r.addedToSwap, r.wrote]
    }),
  )
  step('reclaim', () => m.reclaim({ pages: 64 }).progress)
  step('read back', () => [
    c.read(x + 2 * P),
    p.read(x + 2 * P),
    c.read(fp + 3 * P),
    p.read(x + 256 * P),
    kids[1]!.read(x + 7 * P),
    p.read(f + 2 * P),
  ])
  step('swapoff', () => m.swapoff(type).type)
  step('exec', () => c.exec([1, 2]))
  step('exit', () => {
    for (const k of kids) k.exit()
    p.exit()
  })
  seen.push({ rss: 0, mapped: m.meminfo().Mapped, swap: m.meminfo().SwapFree === m.meminfo().SwapTotal })
  return seen
}
