// Per-cpu kmap slots under the race explorer: on i386 PAE with HIGHPTE the pte
// pages come from highmem and every pte walk holds KM_PTE0 of the cpu it runs
// on (cpu.ts, arch/highmem.ts). Two munmaps, one paused inside its zap (the
// pre-fix PG_anon clearing gives page_remove_rmap a preemption point there),
// must each use their own cpu's slot; running both programs on one cpu
// context, as a shared "current cpu" could, takes KM_PTE0 twice (or, first,
// makes the lock table see one cpu take a second mmap_sem out of order).
import { i386Pae } from '@rmaplab/arch-i386'
import {
  type Cpu,
  explore,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type RaceScenario,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

const PAGE = 4096

function scenario(oneCpu: boolean): RaceScenario<{ A: Process; B: Process; a: number; b: number }> {
  return {
    name: oneCpu ? 'two zaps on one cpu context' : 'two zaps on two cpus',
    description: 'A unmaps two pages on cpu 0 while B unmaps one on cpu 1 (highmem pte pages)',
    machine: () => {
      const m = new Machine({ arch: i386Pae, ram: '1G', cpus: 2, bugs: ['pg-anon-clear-race'] })
      if (oneCpu) (m.cpus as Cpu[])[1] = m.cpus[0]!
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
      if (m.meminfo().HighTotal === 0) throw new Error('the machine has no highmem')
      return { A, B, a, b }
    },
    cpus: [
      { name: 'A', ops: [{ name: 'A munmaps two pages', run: (_m, c) => c.A.munmap(c.a, 2 * PAGE) }] },
      { name: 'B', ops: [{ name: 'B munmaps its page', run: (_m, c) => c.B.munmap(c.b, PAGE) }] },
    ],
  }
}

describe('kmap slots per explored cpu (i386-pae, HIGHPTE)', () => {
  it('two zaps interleaved on two cpus hold KM_PTE0 each on their own cpu: clean', () => {
    const r = explore(scenario(false), { bound: 1 })
    expect(r.failure).toBeNull()
    expect(r.boundReached).toBe(1)
  })

  it("the same schedules on one cpu context break: KM_PTE0 taken twice, or one cpu holding two paths' locks", () => {
    const r = explore(scenario(true), { bound: 1 })
    expect(r.failure).not.toBeNull()
    expect(r.failure!.violation.kind).toBe('bug')
    expect(r.failure!.violation.message).toMatch(
      /kmap_atomic: KM_PTE0 already in use on cpu 0|lock order: mmap_sem/,
    )
    expect(r.failure!.trace.join('\n')).toMatch(/preempted in page_remove_rmap/)
  })
})
