import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { demosModule } from '../scripts/write-demos.js'
import {
  BadInputError,
  createRun,
  experiments,
  layoutFor,
  loadExperiment,
  parseWorkload,
  runOnLayout,
  STEP_KINDS,
  STEPS,
} from '../src/index.js'

describe('the step-by-step runner', () => {
  it('steps a built-in experiment one step at a time, the machine open between steps', () => {
    const { workload } = loadExperiment('a1')
    const run = createRun(workload, { layout: 'i386' })
    expect(run.index).toBe(0)
    expect(run.done).toBe(false)
    const labels: string[] = []
    let processesSeen = 0
    while (!run.done) {
      const before = run.index
      const s = run.step()
      expect(s.failure).toBeUndefined()
      expect(run.index).toBe(before + 1)
      expect(s.index).toBe(before)
      expect(s.pos?.line).toBeGreaterThan(0)
      labels.push(s.label)
      processesSeen = Math.max(processesSeen, run.machine.processes().length)
      run.machine.check()
    }
    expect(labels).toEqual(run.steps.map((s) => s.label))
    expect(processesSeen).toBe(2)
    expect([...run.processes.keys()].sort()).toEqual(['c', 'p'])
    expect(() => run.step()).toThrow(/over/)
    // The report equals a run to the end in one go.
    const whole = runOnLayout(workload, layoutFor(workload, 'i386'))
    const r = run.result()
    expect({ ...r, timeMs: 0 }).toEqual({ ...whole, timeMs: 0 })
  })

  it('a failing step ends the run with the failure; the state stays inspectable', () => {
    const w = parseWorkload(
      'machine: { arch: i386 }\nsteps:\n  - spawn: { as: p }\n  - mmap: { proc: p, as: a, length: 2p, prot: r }\n  - write: { proc: p, region: a, value: 1 }\n  - check:\n',
      'w.yaml',
    )
    const run = createRun(w)
    run.step()
    run.step()
    const s = run.step()
    expect(s.failure?.kind).toBe('error')
    expect(s.failure?.step).toBe(3)
    expect(s.failure?.pos).toEqual({ line: 5, col: 5 })
    expect(run.done).toBe(true)
    expect(run.result().stepsRun).toBe(2)
    expect(run.processes.get('p')?.alive).toBe(false)
    expect(run.machine.processes()).toHaveLength(0)
  })

  it('every kind has one handler, in the documented order', () => {
    expect(STEP_KINDS).toEqual(Object.keys(STEPS))
    for (const k of STEP_KINDS) expect(typeof STEPS[k].run).toBe('function')
  })

  it('parseWorkload reports positioned problems', () => {
    const e = (() => {
      try {
        parseWorkload('steps:\n  - spawn: { as: p }\n  - mmap: { proc: q, length: 1p, prot: rw }\n', 'x.yaml')
      } catch (err) {
        return err
      }
    })()
    expect(e).toBeInstanceOf(BadInputError)
    expect((e as BadInputError).problems[0]).toMatch(
      /^x\.yaml:3:\d+: steps\[1\]\.mmap\.proc: no process or group named 'q'/,
    )
  })
})

describe('the experiments registry', () => {
  it('src/experiments/demos.ts is up to date with workloads/ (pnpm --filter @rmaplab/workload run demos)', () => {
    const file = new URL('../src/experiments/demos.ts', import.meta.url)
    expect(readFileSync(file, 'utf8')).toBe(demosModule())
  })

  it('every experiment loads and validates', () => {
    for (const e of experiments()) expect(loadExperiment(e.name).workload.steps.length).toBeGreaterThan(0)
  })
})
