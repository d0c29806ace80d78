/**
 * Runs a validated workload on one layout, step by step: a fresh Machine, one
 * step at a time (`run.step()`), the machine open to inspection between steps
 * (`run.machine`), and at the end (or at the step that failed) the report of
 * what the VM did: meminfo, m.stats(), the walks, the failure with the
 * process and the kernel-level cause. `runToEnd` / `runOnLayout` run it all.
 */
import {
  InvariantError,
  KernelBugError,
  type Machine,
  type MapsEntry,
  type Meminfo,
  type Process,
  RmapError,
  SignalError,
  SyscallError,
  type VmStats,
} from '@rmaplab/rmap'
import type { PlanStep } from './analyze.js'
import { AssertionFailure, hex, type Region, RunContext, type WalkTotals, WorkloadError } from './context.js'
import type { ArchName } from './format.js'
import { type Layout, layoutName, newMachine, resolveLayouts } from './layouts.js'
import type { Pos } from './source.js'
import { STEPS } from './steps/index.js'
import type { Workload } from './validate.js'

export type { WalkTotals } from './context.js'

/** `performance.now()` where there is one (browsers, Node), else Date.now(). */
export const now: () => number =
  typeof (globalThis as { performance?: { now(): number } }).performance?.now === 'function'
    ? () => (globalThis as unknown as { performance: { now(): number } }).performance.now()
    : () => Date.now()

/** Why a run stopped early. */
export interface Failure {
  /** `assertion`: the workload's own check failed; `error`: a step failed unexpectedly; `invariant`: a kernel invariant broke. */
  kind: 'assertion' | 'error' | 'invariant'
  /** The step, from 1, as reports count them. */
  step: number
  pos: Pos | undefined
  label: string
  /** The process the step was running in, when there was one: `c (pid 2)`. */
  process: string | undefined
  message: string
  /** The kernel-level cause: the error the VM raised. */
  cause: Record<string, unknown> | undefined
}

/** Something a step wants the reader to know although it succeeded (pages it skipped). */
export interface Notice {
  /** The step, from 1. */
  step: number
  pos: Pos | undefined
  label: string
  message: string
}

/** What one layout did. */
export interface LayoutRun {
  layout: string
  arch: string
  rmap: string
  profile: string
  ram: number | string
  cpus: number
  seed: number
  ok: boolean
  failure: Failure | undefined
  /** Steps completed. */
  stepsRun: number
  steps: number
  assertions: { passed: number; failed: number }
  /** Wall time of the steps in milliseconds (checks after every step excluded). */
  timeMs: number
  /** Live processes at the end. */
  processes: number
  /**
   * Figures steps recorded about what happened (not in m.stats()): `fork.levels`,
   * the fork levels a `fork: { levels, until_fails }` tree completed, and
   * `fork.ranOut`, 1 when one of its forks failed.
   */
  results: Record<string, number>
  meminfo: Meminfo
  stats: VmStats
  walks: WalkTotals
  /** What steps reported although they succeeded (pages not present, skipped). */
  notices: Notice[]
  /** /proc/PID/maps of every live process, when asked for. */
  maps?: Array<{ pid: number; name: string; maps: MapsEntry[] }>
}

/** What one step did. */
export interface StepOutcome {
  /** Position in the workload, from 0. */
  index: number
  kind: PlanStep['kind']
  label: string
  pos: Pos | undefined
  /** A short summary (`pid 2`, `16 page(s)`, `3 call(s) …`); '' when there is nothing to say. */
  summary: string
  /** Notices of this step (pages skipped...). */
  notices: string[]
  /** Set when the step failed: the run is then over. */
  failure: Failure | undefined
  /** Wall time of the step in milliseconds. */
  timeMs: number
}

export interface RunOptions {
  /** The layout: one of resolveLayouts(), or an arch name (with `rmap`) applied to the workload's machine. */
  layout?: Layout | ArchName
  /** With an arch name: the rmap design (default: the workload's first, or objrmap). */
  rmap?: string
  /** m.check() after every step (rmaplab check). */
  checkEachStep?: boolean
  /** One line per step, as `--trace` prints it. */
  trace?: (line: string) => void
  /** Name layouts `arch/rmap` (several rmap designs side by side). */
  withRmapName?: boolean
  /** Collect /proc/PID/maps of the live processes in result(). */
  maps?: boolean
  /** After every step (however it is run: step(), runToEnd()), with what it did: for progress on long runs. */
  onStep?: (outcome: StepOutcome, run: Run) => void
}

/** A run in progress. */
export interface Run {
  /** The machine the steps run on: inspect it between steps (do not change it). */
  readonly machine: Machine
  readonly layout: Layout
  /** The plan: every step with its label and source position. */
  readonly steps: readonly PlanStep[]
  /** The next step to run (= steps run so far). */
  readonly index: number
  /** All steps ran, or one failed. */
  readonly done: boolean
  /** The failure that ended the run, if one did. */
  readonly failure: Failure | undefined
  /** Processes by workload name (`p`, and each member of a group: `kids[0]`); exited ones stay, with alive false. */
  readonly processes: ReadonlyMap<string, Process>
  /** Groups and processes by the name `as` gave them: the processes each stands for. */
  readonly groups: ReadonlyMap<string, readonly Process[]>
  /** The workload name of a pid (`p`, `kids[3]`). */
  nameOf(pid: number): string | undefined
  /** The regions a process has, by name (start and length as mmap/mremap returned them). */
  regionsOf(p: Process | number): ReadonlyMap<string, Readonly<Region>>
  /** Notices so far (pages skipped by walks...). */
  readonly notices: readonly Notice[]
  /** Run the next step; after the end (or a failure) it throws. */
  step(): StepOutcome
  /** Run the remaining steps; `progress(fraction)` after each. */
  runToEnd(progress?: (fraction: number) => void): LayoutRun
  /** The per-layout report (what `rmaplab run` prints), as of now. */
  result(): LayoutRun
}

/** The layout of `workload` on one arch (its machine section applied). */
export function layoutFor(workload: Workload, arch: ArchName, rmap?: string): Layout {
  const over = rmap === undefined ? { arch: [arch] } : { arch: [arch], rmap: [rmap as Layout['rmap']] }
  return resolveLayouts(workload.machine, workload.source, over, workload.steps)[0]!
}

/** Start a run of `workload` on one layout: a fresh Machine, no step run yet. */
export function createRun(workload: Workload, options: RunOptions = {}): Run {
  const layout =
    options.layout === undefined
      ? resolveLayouts(workload.machine, workload.source, {}, workload.steps)[0]!
      : typeof options.layout === 'string'
        ? layoutFor(workload, options.layout, options.rmap)
        : options.layout
  return new WorkloadRun(workload, layout, options)
}

class WorkloadRun implements Run {
  readonly machine: Machine
  readonly steps: readonly PlanStep[]
  index = 0
  failure: Failure | undefined
  readonly notices: Notice[] = []
  private readonly cx: RunContext
  private readonly name: string
  private timeMs = 0

  constructor(
    readonly workload: Workload,
    readonly layout: Layout,
    private readonly options: RunOptions,
  ) {
    this.machine = newMachine(layout)
    this.cx = new RunContext(this.machine)
    this.steps = workload.steps
    this.name = layoutName(layout, Boolean(options.withRmapName))
  }

  get done(): boolean {
    return this.failure !== undefined || this.index >= this.steps.length
  }

  get processes(): ReadonlyMap<string, Process> {
    const out = new Map<string, Process>()
    for (const p of this.machine.processes()) out.set(this.cx.pname.get(p.pid) ?? `pid ${p.pid}`, p)
    for (const ps of this.cx.procs.values())
      for (const p of ps) {
        const n = this.cx.pname.get(p.pid)
        if (n !== undefined && !out.has(n)) out.set(n, p)
      }
    return out
  }

  get groups(): ReadonlyMap<string, readonly Process[]> {
    return this.cx.procs
  }

  nameOf(pid: number): string | undefined {
    return this.cx.pname.get(pid)
  }

  regionsOf(p: Process | number): ReadonlyMap<string, Readonly<Region>> {
    const pid = typeof p === 'number' ? p : p.pid
    const out = new Map<string, Region>()
    for (const [n, byPid] of this.cx.regions) {
      const r = byPid.get(pid)
      if (r) out.set(n, r)
    }
    return out
  }

  step(): StepOutcome {
    if (this.done) throw new Error(`the run is over (${this.failure ? 'a step failed' : 'every step ran'})`)
    const step = this.steps[this.index]!
    const cx = this.cx
    cx.current = undefined
    cx.step = step
    cx.notes = []
    const trace = this.options.trace ? (s: string) => this.options.trace!(`[${this.name}] ${s}`) : undefined
    const t0 = now()
    let summary = ''
    let failure: Failure | undefined
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the args were validated by this kind's schema
      summary = STEPS[step.kind].run(step.args as any, cx)
      this.timeMs += now() - t0
      this.index++
      trace?.(
        `#${step.index + 1}${step.pos ? ` line ${step.pos.line}` : ''} ${step.label}${summary ? `: ${summary}` : ''}`,
      )
      if (this.options.checkEachStep) this.machine.check()
    } catch (e) {
      if (this.index === step.index) this.timeMs += now() - t0
      failure = toFailure(e, step, cx.current ? cx.who(cx.current) : undefined)
      if (failure.kind === 'assertion') cx.assertions.failed++
      this.failure = failure
      trace?.(`#${step.index + 1} ${step.label}: FAILED: ${failure.message}`)
    }
    for (const message of cx.notes)
      this.notices.push({ step: step.index + 1, pos: step.pos, label: step.label, message })
    const outcome: StepOutcome = {
      index: step.index,
      kind: step.kind,
      label: step.label,
      pos: step.pos,
      summary,
      notices: [...cx.notes],
      failure,
      timeMs: now() - t0,
    }
    this.options.onStep?.(outcome, this)
    return outcome
  }

  runToEnd(progress?: (fraction: number) => void): LayoutRun {
    while (!this.done) {
      this.step()
      if (!this.failure) progress?.(this.index / this.steps.length)
    }
    return this.result()
  }

  result(): LayoutRun {
    const l = this.layout
    const m = this.machine
    const cx = this.cx
    const result: LayoutRun = {
      layout: this.name,
      arch: l.arch.name,
      rmap: l.rmap,
      profile: l.profile,
      ram: l.ram,
      cpus: l.cpus,
      seed: l.seed,
      ok: this.failure === undefined,
      failure: this.failure,
      stepsRun: this.index,
      steps: this.steps.length,
      assertions: { ...cx.assertions },
      timeMs: Math.round(this.timeMs * 10) / 10,
      processes: m.processes().length,
      results: { ...cx.results },
      meminfo: m.meminfo(),
      stats: m.stats(),
      walks: { ...cx.walks },
      notices: [...this.notices],
    }
    if (this.options.maps) {
      result.maps = m
        .processes()
        .map((p) => ({ pid: p.pid, name: cx.pname.get(p.pid) ?? '', maps: p.maps() }))
    }
    return result
  }
}

/** Hooks of runOnLayout (the cli's interface before createRun). */
export interface RunHooks {
  /** One line per step. */
  trace?: (line: string) => void
  /** m.check() after every step (rmaplab check). */
  checkEachStep?: boolean
  /** Called as steps complete: the layout's fraction done. */
  progress?: (fraction: number) => void
  /** The machine, once the run is over (tests compare its m.stats() with the report). */
  onMachine?: (m: Machine) => void
  /** Collect maps of the live processes at the end. */
  maps?: boolean
}

/** Run `w` on one layout to the end. Never throws for the workload's own failures: they are in the result. */
export function runOnLayout(w: Workload, layout: Layout, hooks: RunHooks = {}, multiRmap = false): LayoutRun {
  const opts: RunOptions = { layout, withRmapName: multiRmap }
  if (hooks.trace) opts.trace = hooks.trace
  if (hooks.checkEachStep) opts.checkEachStep = true
  if (hooks.maps) opts.maps = true
  const run = createRun(w, opts)
  const result = run.runToEnd(hooks.progress)
  hooks.onMachine?.(run.machine)
  return result
}

/** The failure of a step, classified, with the VM's error as the cause; anything else is a bug (rethrown). */
function toFailure(e: unknown, step: PlanStep, process: string | undefined): Failure {
  const base = { step: step.index + 1, pos: step.pos, label: step.label, process }
  if (e instanceof AssertionFailure)
    return { ...base, kind: 'assertion', message: e.message, cause: undefined }
  if (e instanceof InvariantError)
    return {
      ...base,
      kind: 'invariant',
      message: e.message,
      cause: { name: e.name, violations: [...e.violations] },
    }
  if (e instanceof KernelBugError)
    return {
      ...base,
      kind: 'invariant',
      message: e.message,
      cause: { name: e.name, invariant: e.invariant, where: e.where },
    }
  if (e instanceof SyscallError)
    return {
      ...base,
      kind: 'error',
      message: `${e.syscall} failed with ${e.errno}: ${e.reason}`,
      cause: { name: e.name, syscall: e.syscall, errno: e.errno, reason: e.reason },
    }
  if (e instanceof SignalError)
    return {
      ...base,
      kind: 'error',
      message: `killed by ${e.signal} at ${hex(e.address)}: ${e.reason}`,
      cause: { name: e.name, signal: e.signal, address: e.address, pid: e.pid, reason: e.reason },
    }
  if (e instanceof RmapError || e instanceof WorkloadError || e instanceof RangeError) {
    const err = e as Error
    return { ...base, kind: 'error', message: err.message, cause: { name: err.name } }
  }
  throw e
}

/** Run `workload` on one layout (options as createRun) to the end: its report. */
export function runToEnd(
  workload: Workload,
  options: RunOptions & { progress?: (fraction: number) => void } = {},
): LayoutRun {
  return createRun(workload, options).runToEnd(options.progress)
}
