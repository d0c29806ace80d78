/** Step by step equals all at once, on every demo and layout; the machine holds its invariants between steps. */
import { describe, expect, it } from 'vitest'
import { ARCH_NAMES, createRun, experiments, layoutFor, loadExperiment, runOnLayout } from '../src/index.js'

const demos = experiments().filter((e) => e.group === 'demo')

describe('createRun', () => {
  it.each(demos.map((e) => e.name))(
    '%s: stepping with m.check() between steps gives the report of one run',
    (name) => {
      const { workload } = loadExperiment(name)
      for (const arch of ARCH_NAMES) {
        let layout: ReturnType<typeof layoutFor>
        try {
          layout = layoutFor(workload, arch)
        } catch {
          continue // the demo names its layouts
        }
        const run = createRun(workload, { layout })
        let steps = 0
        while (!run.done) {
          const s = run.step()
          expect(s.failure, `${name} on ${arch}: ${s.failure?.message}`).toBeUndefined()
          run.machine.check()
          steps++
        }
        expect(steps).toBe(workload.steps.length)
        const whole = runOnLayout(workload, layout)
        expect({ ...run.result(), timeMs: 0 }).toEqual({ ...whole, timeMs: 0 })
      }
    },
  )

  it('processes and regions by workload name', () => {
    const { workload } = loadExperiment('c3')
    const run = createRun(workload, { layout: 'i386-pae' })
    run.runToEnd()
    const p = run.processes.get('p')!
    const c = run.processes.get('c')!
    expect(run.nameOf(c.pid)).toBe('c')
    expect([...run.regionsOf(p).keys()]).toEqual(['x'])
    // c moved x to y: its y is where mremap put it, and its x is still named (the old address).
    const y = run.regionsOf(c).get('y')!
    expect(c.maps().some((m) => m.start === y.start)).toBe(true)
  })

  it('a layout by name takes the rmap design from the registry', () => {
    const { workload } = loadExperiment('a1')
    expect(createRun(workload, { layout: 'ppc', rmap: 'objrmap' }).layout.rmap).toBe('objrmap')
    expect(() => createRun(workload, { layout: 'ppc', rmap: 'nonsense' })).toThrow(
      /unknown rmap (strategy|design) 'nonsense'/,
    )
  })
})
