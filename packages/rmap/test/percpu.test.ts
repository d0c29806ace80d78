import { describe, expect, it } from 'vitest'
import { KernelBugError, PageState, PS } from '../src/index.js'

describe('per-cpu page_state (include/linux/page-flags.h)', () => {
  it('inc on one cpu and dec on another wraps the second copy and sums to zero (32-bit)', () => {
    const ps = new PageState(2, 32)
    ps.inc(0, PS.nr_page_table_pages)
    ps.dec(1, PS.nr_page_table_pages)
    expect(ps.get(0, 'nr_page_table_pages')).toBe(1n)
    expect(ps.get(1, 'nr_page_table_pages')).toBe(0xffffffffn)
    expect(ps.sum('nr_page_table_pages')).toBe(0n)
    expect(ps.count('nr_page_table_pages')).toBe(0)
  })

  it('wraps at 2^64 with a carry between the words (64-bit longs)', () => {
    const ps = new PageState(3, 64)
    ps.dec(2, PS.nr_mapped)
    expect(ps.get(2, 'nr_mapped')).toBe(0xffffffffffffffffn)
    ps.inc(2, PS.nr_mapped)
    expect(ps.get(2, 'nr_mapped')).toBe(0n)
    for (let i = 0; i < 3; i++) ps.inc(0, PS.nr_mapped)
    ps.dec(1, PS.nr_mapped)
    expect(ps.sum('nr_mapped')).toBe(2n)
    expect(ps.count('nr_mapped')).toBe(2)
  })

  it('carries from the low word into the high word', () => {
    const ps = new PageState(1, 64)
    ps.add(0, PS.nr_dirty, 0x7fffffff)
    ps.add(0, PS.nr_dirty, 0x7fffffff)
    ps.add(0, PS.nr_dirty, 0x7fffffff)
    expect(ps.get(0, 'nr_dirty')).toBe(3n * 0x7fffffffn)
  })

  it('keeps fields apart', () => {
    const ps = new PageState(1, 32)
    ps.inc(0, PS.nr_slab)
    expect(ps.get(0, 'nr_page_table_pages')).toBe(0n)
    expect(ps.get(0, 'nr_slab')).toBe(1n)
  })

  it('refuses to be touched before the per-cpu areas exist', () => {
    const ps = new PageState(2, 32, false)
    expect(() => ps.inc(0, PS.nr_page_table_pages)).toThrow(KernelBugError)
    expect(ps.sum('nr_page_table_pages')).toBe(0n)
  })

  it('rejects a cpu count outside 1..64', () => {
    expect(() => new PageState(0, 32)).toThrow(RangeError)
    expect(() => new PageState(65, 32)).toThrow(RangeError)
  })
})
