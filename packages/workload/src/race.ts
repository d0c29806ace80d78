/**
 * A workload with a `cpus:` section as a race scenario for @rmaplab/rmap's
 * interleaving explorer (`rmaplab race FILE`): the workload's steps are the
 * setup, run once on each fresh machine; each cpu's steps are its program,
 * one explorer operation per step. The explorer checks BUG_ONs and m.check()
 * after every schedule; a step's assertion inside a cpu's program (`expect`,
 * `assert`) that fails is the scenario's assertion, reported after the
 * schedule like m.check().
 */
import type { BugName, RaceCpu, RaceScenario } from '@rmaplab/rmap'
import type { PlanStep } from './analyze.js'
import { AssertionFailure, RunContext } from './context.js'
import { BadInputError } from './errors.js'
import { type Layout, newMachine } from './layouts.js'
import { STEPS } from './steps/index.js'
import type { Workload } from './validate.js'

function runStep(step: PlanStep, cx: RunContext): string {
  cx.current = undefined
  cx.step = step
  cx.notes = []
  // biome-ignore lint/suspicious/noExplicitAny: the args were validated by this kind's schema
  return STEPS[step.kind].run(step.args as any, cx)
}

/**
 * The race scenario of a workload on one layout (its machine section's
 * `bugs` included); `bugs` are added to those. A workload without a `cpus:`
 * section is bad input.
 */
export function raceScenarioOf(
  workload: Workload,
  layout: Layout,
  bugs: readonly BugName[] = [],
): RaceScenario<RunContext> {
  const cpus = workload.cpus
  const failed = new WeakMap<RunContext, string[]>()
  if (!cpus)
    throw new BadInputError([
      `${workload.source.file}: no cpus: section; a race scenario lists the programs of several cpus (cpus: - { name: a, steps: [...] })`,
    ])
  return {
    name: workload.name,
    description: workload.description ?? `${workload.name} (${cpus.length} cpus)`,
    machine: () => newMachine({ ...layout, cpus: Math.max(layout.cpus, cpus.length) }, bugs),
    setup: (m) => {
      const cx = new RunContext(m)
      for (const s of workload.steps) runStep(s, cx)
      return cx
    },
    cpus: cpus.map(
      (c): RaceCpu<RunContext> => ({
        name: c.name,
        ops: c.steps.map((s) => {
          const name = `${s.label}${s.pos ? ` (line ${s.pos.line})` : ''}`
          return {
            name,
            run: (_m, cx) => {
              try {
                return runStep(s, cx)
              } catch (e) {
                // A failed assertion of a step (an `expect`, an `assert`) is
                // the scenario's: recorded, and reported after the schedule.
                if (!(e instanceof AssertionFailure)) throw e
                const list = failed.get(cx) ?? []
                list.push(`${c.name}: ${name}: ${e.message}`)
                failed.set(cx, list)
                return `assertion failed: ${e.message}`
              }
            },
          }
        }),
      }),
    ),
    check: (_m, cx) => failed.get(cx) ?? [],
  }
}
