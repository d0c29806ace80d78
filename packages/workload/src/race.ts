/**
 * A workload with a `cpus:` section as a race scenario for @rmaplab/rmap's
 * interleaving explorer (`rmaplab race FILE`): the workload's steps are the
 * setup, run once on each fresh machine; each cpu's steps are its program,
 * one explorer operation per step. The explorer checks BUG_ONs and m.check()
 * after every schedule; an assertion step inside a cpu's program that fails
 * is a violation of the schedule too.
 */
import type { BugName, RaceCpu, RaceScenario } from '@rmaplab/rmap'
import type { PlanStep } from './analyze.js'
import { RunContext } from './context.js'
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
        ops: c.steps.map((s) => ({
          name: `${s.label}${s.pos ? ` (line ${s.pos.line})` : ''}`,
          run: (_m, cx) => runStep(s, cx),
        })),
      }),
    ),
  }
}
