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

  it('refuses double attach and access to a non-table page', () => {
    const s = new PageTableStore(4)
    s.attach(1)
    expect(() => s.attach(1)).toThrow(KernelBugError)
    expect(() => s.base(2)).toThrow(KernelBugError)
    expect(() => s.detach(2)).toThrow(KernelBugError)
  })
})
