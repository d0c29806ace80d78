import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KernelBugError, PageTableStore } from '../src/index.js'
import { Mm, Vma } from '../src/mm/vma.js'

describe('page-table page store', () => {
  it('zero-fills attached pages, grows, and reuses detached slots', () => {
    const s = new PageTableStore(100)
    for (let pfn = 0; pfn < 40; pfn++) s.attach(pfn)
    expect(s.size).toBe(40)
    const b = s.base(39)
    s.words[b + 5] = 0xdeadbeef
    s.detach(39)
    expect(s.has(39)).toBe(false)
    s.attach(60)
    expect(s.base(60)).toBe(b)
    expect(s.words[b + 5]).toBe(0)
  })

  it('a store past its reservation grows, keeping every table word', () => {
    const s = new PageTableStore(100, 4096, 16)
    for (let pfn = 0; pfn < 16; pfn++) {
      s.attach(pfn)
      s.words[s.base(pfn) + 7] = pfn + 1
    }
    const before = s.words
    s.attach(50)
    expect(s.words).not.toBe(before)
    expect(s.words.length).toBeGreaterThanOrEqual(17 * 1024)
    for (let pfn = 0; pfn < 16; pfn++) expect(s.words[s.base(pfn) + 7]).toBe(pfn + 1)
    expect(s.words.subarray(s.base(50), s.base(50) + 1024).every((w) => w === 0)).toBe(true)
  })

  it('a store that fills its first array moves once to its reservation', () => {
    const s = new PageTableStore(2000, 4096, 1000)
    for (let pfn = 0; pfn < 257; pfn++) {
      s.attach(pfn)
      s.words[s.base(pfn)] = pfn + 1
    }
    expect(s.words.length).toBe(1000 * 1024)
    const reserved = s.words
    for (let pfn = 257; pfn < 1000; pfn++) s.attach(pfn)
    expect(s.words).toBe(reserved)
    for (let pfn = 0; pfn < 257; pfn++) expect(s.words[s.base(pfn)]).toBe(pfn + 1)
  })

  it('refuses double attach and access to a non-table page', () => {
    const s = new PageTableStore(4)
    s.attach(1)
    expect(() => s.attach(1)).toThrow(KernelBugError)
    expect(() => s.base(2)).toThrow(KernelBugError)
    expect(() => s.detach(2)).toThrow(KernelBugError)
  })
})

describe('pte locations by shift and mask', () => {
  it('finds the same page and word as the division, for one- and two-word ptes', () => {
    for (const [ptrs, words] of [
      [1024, 1],
      [512, 2],
    ] as const) {
      const s = new PageTableStore(64)
      s.setPteGeometry(ptrs, words)
      for (const pfn of [0, 5, 63]) s.attach(pfn)
      for (const pfn of [0, 5, 63]) {
        for (const i of [0, 1, ptrs - 1]) {
          const ptr = pfn * ptrs + i
          expect(s.ptePfn(ptr)).toBe(Math.floor(ptr / ptrs))
          expect(s.pteWord(ptr)).toBe(s.base(pfn) + i * words)
        }
      }
      // A location in a page that is not a page table is the store's kernel BUG, as base() is.
      expect(() => s.pteWord(6 * ptrs)).toThrow(KernelBugError)
      expect(() => s.pteWord(-1)).toThrow(KernelBugError)
    }
  })

  it('refuses a geometry the shift cannot serve', () => {
    const s = new PageTableStore(64)
    expect(() => s.setPteGeometry(1000, 1)).toThrow(/power of two/)
    expect(() => s.setPteGeometry(1024, 2)).toThrow(/do not fit/)
    expect(() => new PageTableStore(2 ** 23).setPteGeometry(1024, 1)).toThrow(/past 2\^32/)
  })
})

describe("find_vma's mmap_cache", () => {
  it('answers as the binary search does while vmas come, go, grow and shrink (fast-check)', () => {
    const ops = fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant('insert' as const),
          at: fc.nat(63),
          len: fc.integer({ min: 1, max: 8 }),
        }),
        fc.record({ kind: fc.constant('remove' as const), i: fc.nat(20) }),
        fc.record({
          kind: fc.constant('resize' as const),
          i: fc.nat(20),
          by: fc.integer({ min: -2, max: 2 }),
        }),
        fc.record({ kind: fc.constant('find' as const), page: fc.nat(80) }),
      ),
      { maxLength: 120 },
    )
    fc.assert(
      fc.property(ops, (list) => {
        const mm = new Mm(1, 0)
        const P = 4096
        const reference = (addr: number) => mm.vmas.findIndex((v) => v.end > addr)
        for (const op of list) {
          if (op.kind === 'insert') {
            const start = op.at * P
            const end = start + op.len * P
            if (mm.vmas.some((v) => v.start < end && start < v.end)) continue
            const at = mm.vmas.filter((v) => v.start < start).length
            mm.vmas.splice(at, 0, new Vma(mm, start, end, 0, 0, op.at, null, null))
          } else if (op.kind === 'remove') {
            if (op.i < mm.vmas.length) mm.vmas.splice(op.i, 1)
          } else if (op.kind === 'resize') {
            const v = mm.vmas[op.i]
            if (!v) continue
            const end = v.end + op.by * P
            const next = mm.vmas[op.i + 1]
            if (end > v.start && (!next || end <= next.start)) v.end = end
          } else {
            const addr = op.page * P + 17
            const want = reference(addr)
            const got = mm.findIndex(addr)
            if ((want < 0 ? mm.vmas.length : want) !== got) return false
            const v = mm.vmaAt(addr)
            if (v !== (mm.vmas.find((x) => x.start <= addr && addr < x.end) ?? null)) return false
          }
        }
        return true
      }),
      { numRuns: 300 },
    )
  })
})
