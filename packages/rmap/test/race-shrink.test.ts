/**
 * Shrinking of PCT failures: a toy with three cpus of three unlocked
 * increments each, where PCT's priority changes preempt more often than the
 * lost update needs. The shrunk schedule has one preemption (the minimum: with
 * none, the cpus run one after the other and no update is lost) and replays.
 */
import { describe, expect, it } from 'vitest'
import { explore, LOCK, Machine, type RaceScenario } from '../src/index.js'
import { toy32 } from './support/toy32.js'

function counters(locked: boolean): RaceScenario<{ counter: number }> {
  const inc = {
    name: 'counter++',
    run(m: Machine, c: { counter: number }) {
      const smp = m.smp
      if (locked && smp) smp.locks.acquire(smp.cpu, LOCK.anon_vma_lock, 0)
      const v = c.counter
      smp?.preempt('toy_inc:read→write')
      c.counter = v + 1
      if (locked && smp) smp.locks.release(smp.cpu, LOCK.anon_vma_lock, 0)
    },
  }
  const cpu = (name: string) => ({ name, ops: [inc, inc, inc] })
  return {
    name: 'toy-3x3',
    description: 'three cpus, three increments each',
    machine: () => new Machine({ arch: toy32, ram: '4M', cpus: 3 }),
    setup: () => ({ counter: 0 }),
    cpus: [cpu('a'), cpu('b'), cpu('c')],
    check: (_m, c) => (c.counter === 9 ? [] : [`counter is 9 after nine increments, got ${c.counter}`]),
  }
}

describe('PCT failures are shrunk to the fewest preemptions', () => {
  it('finds a schedule with more preemptions than needed, and shrinks it to one that replays', () => {
    let shown = false
    for (let seed = 1; seed <= 40 && !shown; seed++) {
      const raw = explore(counters(false), { pct: { runs: 50, seed, depth: 5 }, shrink: false })
      if (!raw.failure || raw.failure.preemptions < 2) continue
      shown = true
      const r = explore(counters(false), { pct: { runs: 50, seed, depth: 5 } })
      expect(r.shrink?.from).toBe(raw.failure.preemptions)
      expect(r.failure!.preemptions).toBe(1)
      expect(r.failure!.violation.kind).toBe('assertion')
      const again = explore(counters(false), { replay: r.failure!.token })
      expect(again.failure?.violation.message).toBe(r.failure!.violation.message)
    }
    expect(shown).toBe(true)
  })

  it('the same programs under a lock are never flagged', () => {
    const r = explore(counters(true), { pct: { runs: 200, seed: 7, depth: 5 } })
    expect(r.failure).toBeNull()
  })
})
