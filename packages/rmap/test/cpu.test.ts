// The per-cpu contexts (cpu.ts): every kernel path runs on an explicit Cpu with
// its own scratch. Two kernel paths paused on two cpus at once (the race
// explorer) must not share a buffer: a mutant that shares one mmu_gather
// between the cpus, as the module-level buffer of earlier versions did, must
// be caught.
import { describe, expect, it } from 'vitest'
import {
  Cpu,
  explore,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type RaceScenario,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const arch = toy32
const PAGE = 4096

interface ZapContext {
  A: Process
  B: Process
  a: number
  b: number
  /** The frames of the three data pages. */
  pfns: number[]
}

/**
 * Two munmaps on two cpus. The pre-fix PG_anon clearing (`pg-anon-clear-race`)
 * gives page_remove_rmap a preemption point inside zap_pte_range, after
 * page_map_unlock: cpu 0 can stop there with a page already in its
 * mmu_gather while cpu 1 zaps a page of its own. Nothing is shared between
 * the two address spaces, so every schedule must come out clean; `shareGather`
 * re-creates the shared scratch.
 */
function zapScenario(shareGather: boolean): RaceScenario<ZapContext> {
  return {
    name: shareGather ? 'two zaps, one shared mmu_gather' : 'two zaps, per-cpu mmu_gathers',
    description: 'A unmaps two pages on cpu 0 while B unmaps one on cpu 1',
    machine: () => {
      const m = new Machine({ arch, ram: '4M', cpus: 2, bugs: ['pg-anon-clear-race'] })
      if (shareGather) m.cpus[1]!.gather = m.cpus[0]!.gather
      return m
    },
    setup: (m) => {
      const A = m.spawn()
      const B = m.spawn()
      const a = A.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
      const b = B.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
      A.write(a, 1)
      A.write(a + PAGE, 2)
      B.write(b, 3)
      const pfns = [A.pagemap(a).pfn!, A.pagemap(a + PAGE).pfn!, B.pagemap(b).pfn!]
      return { A, B, a, b, pfns }
    },
    cpus: [
      { name: 'A', ops: [{ name: 'A munmaps two pages', run: (_m, c) => c.A.munmap(c.a, 2 * PAGE) }] },
      { name: 'B', ops: [{ name: 'B munmaps its page', run: (_m, c) => c.B.munmap(c.b, PAGE) }] },
    ],
    // The three data pages are free again.
    check: (m, c) =>
      c.pfns.filter((pfn) => m.frames.count[pfn] !== 0).map((pfn) => `pfn ${pfn} is still in use`),
  }
}

describe('per-cpu contexts', () => {
  it('a machine has one Cpu per cpu, created once, with its id', () => {
    const m = new Machine({ arch, ram: '4M', cpus: 3 })
    expect(m.cpus.map((c) => c.id)).toEqual([0, 1, 2])
    expect(m.cpus.every((c) => c instanceof Cpu)).toBe(true)
    const before = m.cpus
    const p = m.spawn()
    p.write(p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 1)
    expect(m.cpus).toBe(before)
  })

  it('two cpus paused inside zap each keep their own mmu_gather: every schedule is clean', () => {
    const r = explore(zapScenario(false), { bound: 2 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(2)
    expect(r.schedules).toBeGreaterThan(2)
  })

  it('the same schedules with one mmu_gather shared by both cpus free a page twice', () => {
    const r = explore(zapScenario(true), { bound: 2 })
    const f = r.failure!
    expect(f).not.toBeNull()
    // cpu 1's zap overwrote cpu 0's first gathered page with its own, which it
    // freed; cpu 0 frees it again when its zap finishes.
    expect(f.preemptions).toBe(1)
    expect(f.violation.kind).toBe('bug')
    expect(f.violation.message).toMatch(/put_page_testzero: page count already 0/)
    expect(f.trace).toEqual([
      "cpu0 (A) runs 'A munmaps two pages'",
      'cpu0 (A) preempted in page_remove_rmap at page_map_unlock→ClearPageAnon',
      "cpu1 (B) runs 'B munmaps its page'",
      "cpu1 (B) finishes 'B munmaps its page'",
      'cpu0 (A) resumes in page_remove_rmap at page_map_unlock→ClearPageAnon',
      expect.stringMatching(/^cpu0 \(A\) raises kernel BUG .*page count already 0/),
    ])
  })
})
