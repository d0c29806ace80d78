/**
 * The one module that knows where workloads come from: the built-in
 * experiments, parsing a workload file with positioned errors, and running a
 * workload step by step on one layout. Everything else in the explorer sees
 * only {@link LoadedWorkload} and {@link Stepper}.
 */
import { type Machine, type Process, RMAP_STRATEGIES } from '@rmaplab/rmap'
import {
  type ArchName,
  BadInputError,
  createRun,
  experiments,
  layoutFor,
  loadExperiment as load,
  ARCH_NAMES as NAMES,
  parseWorkload,
  showParam,
  type Workload,
} from '@rmaplab/workload'

/** The layouts rmaplab ships, by name. */
export const ARCH_NAMES: readonly string[] = NAMES

/** One step of a workload, for the step list. */
export interface StepInfo {
  kind: string
  /** One line: `fork p levels=5 as all`. */
  label: string
  note?: string
}

/** A workload bound to one layout, run one step at a time. */
export interface Stepper {
  readonly machine: Machine
  /** Steps run so far. */
  readonly position: number
  /**
   * Run the next step; a failure (an expectation not met, a signal) is
   * returned, not thrown. `summary` and `notices` are the runner's words on it.
   */
  step(): StepResult
  /** The workload's name for a process (`p`, `all[3]`). */
  nameOf(p: Process): string | undefined
}

/** What one step did. */
export type StepResult = ({ ok: true } | { ok: false; message: string }) & {
  summary?: string
  notices?: readonly string[]
}

/** A parsed, validated workload. */
export interface LoadedWorkload {
  name: string
  description: string
  steps: readonly StepInfo[]
  /** Layouts its machine section allows. */
  layouts: readonly string[]
  /** RMAP designs the core offers (one until the strategies land). */
  rmaps: readonly string[]
  start(layout: string, rmap?: string): Stepper
}

/** A positioned problem in a workload file. */
export interface Problem {
  line?: number
  col?: number
  message: string
}

/** Bad input: every problem with its position. */
export class WorkloadError extends Error {
  readonly problems: Problem[]
  constructor(problems: Problem[]) {
    super(problems.map((p) => p.message).join('\n'))
    this.name = 'WorkloadError'
    this.problems = problems
  }
}

export interface ExperimentInfo {
  name: string
  title: string
  group: string
  params: Record<string, { default: number | string; description: string }>
}

/** Every built-in experiment. */
export function experimentList(): ExperimentInfo[] {
  return experiments().map((e) => ({
    name: e.name,
    title: e.title,
    group: e.group,
    params: Object.fromEntries(
      Object.entries(e.params).map(([k, d]) => [
        k,
        { default: showParam(d, d.default), description: d.description },
      ]),
    ),
  }))
}

/** A built-in experiment with `key=value` parameters. */
export function loadExperiment(name: string, params: Record<string, string>): LoadedWorkload {
  return guarded(() =>
    wrap(
      load(
        name,
        Object.entries(params).map(([k, v]) => `${k}=${v}`),
      ).workload,
    ),
  )
}

/** A workload file's text (YAML or JSON); throws {@link WorkloadError} with positions. */
export function loadText(text: string, file: string): LoadedWorkload {
  return guarded(() => wrap(parseWorkload(text, file)))
}

/** `file:line:col: path: message` → its position. */
export function problemOf(message: string): Problem {
  const m = /^(.*?):(\d+):(\d+): /.exec(message)
  return m ? { line: Number(m[2]), col: Number(m[3]), message } : { message }
}

function guarded<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (e instanceof BadInputError) throw new WorkloadError(e.problems.map(problemOf))
    throw e
  }
}

function wrap(w: Workload): LoadedWorkload {
  const layouts = NAMES.filter((a) => {
    try {
      layoutFor(w, a)
      return true
    } catch {
      return false
    }
  })
  return {
    name: w.name,
    description: w.description ?? '',
    steps: w.steps.map((s) => ({ kind: s.kind, label: s.label })),
    layouts,
    rmaps: RMAP_STRATEGIES,
    start(layout, rmap) {
      const run = guarded(() =>
        createRun(
          w,
          rmap === undefined ? { layout: layout as ArchName } : { layout: layout as ArchName, rmap },
        ),
      )
      return {
        machine: run.machine,
        get position() {
          return run.index
        },
        nameOf: (p: Process) => run.nameOf(p.pid),
        step() {
          const o = run.step()
          const said = { summary: o.summary, notices: o.notices }
          if (!o.failure) return { ok: true, ...said }
          const f = o.failure
          return {
            ok: false,
            message: `${f.kind}${f.process ? ` in ${f.process}` : ''}: ${f.message}`,
            ...said,
          }
        },
      }
    },
  }
}
