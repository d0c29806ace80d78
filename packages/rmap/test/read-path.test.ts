import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PageCache } from '../src/filemap.js'
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const PAGE = 4096
const RW = PROT_READ | PROT_WRITE

describe('the page cache of a file (PageCache)', () => {
  it('answers get, has, size and iteration as a plain Map does, for small and huge indices', () => {
    const index = fc.oneof(
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 2 ** 22 - 2, max: 2 ** 22 + 2 }),
    )
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), i: index, pfn: fc.integer({ min: 0, max: 2 ** 31 - 2 }) }),
      fc.record({ k: fc.constant('delete' as const), i: index }),
      fc.record({ k: fc.constant('clear' as const) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(index, { maxLength: 20 }), (ops, probes) => {
        const pc = new PageCache()
        const ref = new Map<number, number>()
        for (const o of ops) {
          if (o.k === 'set') {
            pc.set(o.i, o.pfn)
            ref.set(o.i, o.pfn)
          } else if (o.k === 'delete') expect(pc.delete(o.i)).toBe(ref.delete(o.i))
          else {
            pc.clear()
            ref.clear()
          }
          for (const i of [...probes, ...ref.keys(), ...('i' in o ? [o.i] : [])]) {
            expect(pc.get(i)).toBe(ref.get(i))
            expect(pc.has(i)).toBe(ref.has(i))
          }
        }
        expect(pc.size).toBe(ref.size)
        expect([...pc]).toEqual([...ref])
      }),
    )
  })
})

describe('the read path: a pte page walked to before is reused only while no page table was freed', () => {
  it('an address unmapped, its pte page freed and reused by another mm, then mapped again reads its own page', () => {
    const m = new Machine({ arch: toy32, ram: '16M', swap: 0 })
    m.fs.create('/f', { size: 8 * PAGE })
    const p = m.spawn()
    const fd = p.open('/f', O_RDWR)
    const a = p.mmap(0, 8 * PAGE, RW, MAP_SHARED, fd, 0)
    for (let i = 0; i < 8; i++) p.write(a + i * PAGE, 100 + i)
    // The last access walked to the pte page of `a`; munmap frees it.
    p.munmap(a, 8 * PAGE)
    // Another mm takes page-table pages (the freed frame among the candidates).
    const q = p.fork()
    const b = q.mmap(0, 64 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    for (let i = 0; i < 64; i++) q.write(b + i * PAGE, 7)
    const again = p.mmap(a, 8 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    expect(again).toBe(a)
    for (let i = 0; i < 8; i++) expect(p.read(a + i * PAGE)).toBe(0)
    p.write(a, 5)
    expect(p.read(a)).toBe(5)
    expect(q.read(b)).toBe(7)
    m.check()
  })

  it('reads through a mapping another process forks and exits around give the same words and faults', () => {
    const m = new Machine({ arch: toy32, ram: '16M', swap: 0 })
    m.fs.create('/g', { size: 16 * PAGE })
    const p = m.spawn()
    const fd = p.open('/g', O_RDWR)
    const a = p.mmap(0, 16 * PAGE, RW, MAP_SHARED, fd, 0)
    for (let i = 0; i < 16; i++) p.write(a + i * PAGE, i + 1)
    for (let round = 0; round < 3; round++) {
      const c = p.fork()
      for (let i = 0; i < 16; i++) expect(c.read(a + i * PAGE)).toBe(i + 1)
      c.exit()
      for (let i = 0; i < 16; i++) expect(p.read(a + i * PAGE)).toBe(i + 1)
    }
    m.check()
  })
})
