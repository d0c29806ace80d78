// Machine construction: options, zones, meminfo and seeded cpus.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  parseSize,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

describe('Machine options', () => {
  it.each([
    [{ ram: '64Q' }, /ram: '64Q' is not a size/],
    [{ ram: '1M' }, /ram must be between 4M and/],
    [{ ram: 4097 * 1024 }, /ram 4195328 is not a whole number of 4 KB pages/],
    [{ cpus: 0 }, /cpus must be a whole number in 1\.\.32/],
    [{ cpus: 1.5 }, /cpus must be a whole number/],
    [{ rmap: 'pte_chain' }, /unknown rmap design 'pte_chain'; valid: objrmap, pte_chains, anonmm/],
    [{ rmap: 'pte_chains', cacheLine: 48 }, /cacheLine/],
    [{ profile: '2.6.9' }, /unknown profile '2\.6\.9'; valid: 2\.6\.5-aa, 2\.6\.7, 2\.6\.4/],
    [{ seed: 0.5 }, /seed must be an integer/],
    [{ swap: '-1M' }, /swap: '-1M' is not a size/],
  ])('rejects %o naming the option', (opts, message) => {
    expect(() => new Machine({ arch: i386, ...(opts as object) })).toThrow(message)
  })

  it('rejects a missing or foreign arch', () => {
    expect(() => new Machine({ arch: {} as Arch })).toThrow(/options\.arch must be an Arch/)
  })

  it('knows each layout’s RAM limit', () => {
    expect(() => new Machine({ arch: ppc, ram: '1G' })).toThrow(/between 4M and 768M on ppc/)
    expect(() => new Machine({ arch: i386, ram: '8G' })).toThrow(/between 4M and 4096M on i386/)
  })

  it('parseSize reads binary units', () => {
    expect(parseSize('64M', 'ram')).toBe(64 * 2 ** 20)
    expect(parseSize('1g', 'ram')).toBe(2 ** 30)
    expect(parseSize('512K', 'ram')).toBe(512 * 1024)
    expect(parseSize(8192, 'ram')).toBe(8192)
  })
})

describe('zones and meminfo', () => {
  it('i386: DMA 16 MB, Normal up to 896 MB, HighMem above', () => {
    const m = new Machine({ arch: i386Pae, ram: '1G' })
    expect(m.env.zones.map((z) => [z.name, (z.end - z.start) * 4])).toEqual([
      ['DMA', 16384],
      ['Normal', 896 * 1024 - 16384],
      ['HighMem', 128 * 1024],
    ])
    const mi = m.meminfo()
    expect(mi.HighTotal).toBe(128 * 1024)
    expect(mi.LowTotal + mi.HighTotal).toBe(mi.MemTotal)
    expect(mi.PageTables).toBe(0)
    m.check()
  })

  it.each([ppc, ppc64])('$name: all low memory', (arch) => {
    const m = new Machine({ arch, ram: '256M' })
    expect(m.env.zones.map((z) => z.name)).toEqual(['Normal'])
    expect(m.meminfo().HighTotal).toBe(0)
  })

  it('user pages come from highmem first on i386 (GFP_HIGHUSER); HIGHPTE pte pages too on PAE', () => {
    const m = new Machine({ arch: i386Pae, ram: '1G' })
    const p = m.spawn()
    const a = p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 1)
    expect(m.page(p.pagemap(a).pfn!).zone).toBe('HighMem')
    expect(m.meminfo().HighFree).toBe(128 * 1024 - 8) // the data page and its pte page
    m.check()
  })
})

describe('seeded cpus', () => {
  const cpusOf = (seed: number) => {
    const m = new Machine({ arch: i386, cpus: 4, seed })
    return Array.from({ length: 12 }, () => m.spawn().cpu)
  }

  it('the same seed places processes on the same cpus; another seed does not', () => {
    expect(cpusOf(7)).toEqual(cpusOf(7))
    expect(cpusOf(7)).not.toEqual(cpusOf(8))
    expect(new Set(cpusOf(7)).size).toBeGreaterThan(1)
  })

  it('per-cpu page_state copies really differ between cpus, and meminfo sums them', () => {
    const m = new Machine({ arch: i386, cpus: 2, seed: 2004 })
    const procs = Array.from({ length: 6 }, () => m.spawn())
    for (const p of procs)
      p.write(p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 1)
    const perCpu = [0, 1].map((c) => m.env.pageState.get(c, 'nr_mapped'))
    expect(perCpu[0]! + perCpu[1]!).toBe(6n)
    expect(perCpu[0]).not.toBe(6n)
    expect(m.meminfo().Mapped).toBe(24)
    m.check()
  })
})
