import { describe, expect, it } from 'vitest'
import { KernelBugError, PageTableStore } from '../src/index.js'

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
