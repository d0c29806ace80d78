/**
 * The meaning of a workload, checked before it runs: every name (process,
 * group, region, fd, mark, swap area) defined by an earlier step, every
 * expression parsed and naming only regions already mapped, the range forms
 * used consistently. Each step kind says what it uses and defines
 * (steps/, `analyze`); this module holds the names seen so far and the checks
 * they share. The result is the plan the runner executes: steps with their
 * expressions compiled.
 */
import { type Compiled, compileExpr, ExprError, RESERVED_NAMES } from './expr.js'
import { fitsWord, sizeBytes, wordMessage } from './format.js'
import type { Step, StepKind } from './schema.js'
import { type PathKey, type Pos, problem, type Source } from './source.js'
import { STEPS } from './steps/index.js'
import { procText, rangeText } from './steps/step.js'

/** A step ready to run. */
export interface PlanStep {
  /** Position in the workload, from 0. */
  index: number
  kind: StepKind
  // biome-ignore lint/suspicious/noExplicitAny: each kind's handler knows its arguments; they were validated by its schema
  args: any
  /** Where it is in the file, when it came from one. */
  pos: Pos | undefined
  /** A short description for traces and reports: `mmap p → a`. */
  label: string
  /** The compiled expression at a dotted argument path (`addr`, `meminfo.PageTables.eq`). */
  exprs: ReadonlyMap<string, Compiled>
}

/** One cpu's program of a race scenario (the `cpus:` section), ready to run. */
export interface CpuPlan {
  name: string
  steps: PlanStep[]
}

export interface Plan {
  steps: PlanStep[]
  /** The `cpus:` section: absent for a plain workload. */
  cpus?: CpuPlan[]
}

export type ProcShape = 'one' | 'group'

/** The names defined so far and the checks of one step, as its handler's `analyze` sees them. */
export class Analysis {
  readonly areas = new Set<string>()
  readonly procs = new Map<string, ProcShape>()
  readonly regions = new Set<string>()
  readonly fds = new Set<string>()
  readonly marks = new Set<string>()
  /** The step being analysed. */
  index = 0
  kind: StepKind = 'check'
  args: Record<string, unknown> = {}
  exprs = new Map<string, Compiled>()

  /** Where the steps are in the workload: `['steps']`, or `['cpus', 1, 'steps']` for a cpu's program. */
  base: PathKey[] = ['steps']

  constructor(
    readonly source: Source,
    readonly problems: string[],
  ) {}

  /** A copy of the names defined so far (a cpu's program starts from the setup's names). */
  fork(base: PathKey[]): Analysis {
    const a = new Analysis(this.source, this.problems)
    for (const x of this.areas) a.areas.add(x)
    for (const [k, v] of this.procs) a.procs.set(k, v)
    for (const x of this.regions) a.regions.add(x)
    for (const x of this.fds) a.fds.add(x)
    for (const x of this.marks) a.marks.add(x)
    a.base = base
    return a
  }

  /** A problem at `path` under the step's arguments. */
  report(path: PathKey[], msg: string, opts?: { key?: string; offset?: number }): void {
    this.problems.push(problem(this.source, [...this.base, this.index, this.kind, ...path], msg, opts))
  }

  /** The argument at `keys`. */
  at(keys: readonly PathKey[]): unknown {
    let v: unknown = this.args
    for (const k of keys) v = (v as Record<PathKey, unknown> | undefined)?.[k]
    return v
  }

  /** Compile the expression at `keys` (if given); `vars`: the variables it may use (i, pid). */
  expr(keys: PathKey[], vars: readonly string[] = []): Compiled | undefined {
    const v = this.at(keys)
    if (v === undefined) return undefined
    if (typeof v !== 'number' && typeof v !== 'string') return undefined
    try {
      const c = compileExpr(v)
      for (const r of c.regions) {
        if (!this.regions.has(r.name)) {
          this.report(
            keys,
            `no region named '${r.name}' is mapped by an earlier step${this.regionsSoFar()}`,
            {
              offset: r.offset,
            },
          )
        }
      }
      for (const name of c.vars) {
        if (!vars.includes(name)) {
          this.report(
            keys,
            `'${name}' can be used only in value, expect and page assertions (it is the page index or the pid)`,
          )
        }
      }
      this.exprs.set(keys.join('.'), c)
      return c
    } catch (e) {
      if (e instanceof ExprError) this.report(keys, `${e.message} in '${v}'`, { offset: e.offset })
      else this.report(keys, (e as Error).message)
      return undefined
    }
  }

  /** An expression that must be a whole number ≥ `min` where its value is known before the run. */
  count(keys: PathKey[], min: number, what: string): void {
    const c = this.expr(keys)
    if (c?.constant !== undefined && (!Number.isInteger(c.constant) || c.constant < min))
      this.report(keys, `${what} must be a whole number ≥ ${min}, got ${c.constant}`)
  }

  /** A page's content word (value, expect): a 32-bit word, checked now when it is constant. */
  word(keys: PathKey[], vars: readonly string[]): void {
    const c = this.expr(keys, vars)
    if (c?.constant !== undefined && !fitsWord(c.constant)) this.report(keys, wordMessage(c.constant))
  }

  /** A swap area's size (swapon): a size in bytes, two pages at least. */
  swapSize(keys: PathKey[], v: number | string): void {
    const p = sizeProblem(v, 'swapon')
    if (p) this.report(keys, p.message, p.offset !== undefined ? { offset: p.offset } : undefined)
  }

  /** A value or a comparison { eq, min, max, since }. */
  cmp(keys: PathKey[], vars: readonly string[] = []): void {
    const v = this.at(keys)
    if (v === undefined) return
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>
      for (const k of ['eq', 'min', 'max']) this.expr([...keys, k], vars)
      if (o['eq'] === undefined && o['min'] === undefined && o['max'] === undefined)
        this.report(keys, 'a comparison needs eq, min or max')
      if (typeof o['since'] === 'string' && !this.marks.has(o['since'])) {
        this.report(
          [...keys, 'since'],
          `no mark named '${o['since']}' before this step (define it with - mark: { as: ${o['since']} })`,
        )
      }
    } else this.expr(keys, vars)
  }

  /** A process reference: defined before, and one process when `one`. */
  proc(keys: PathKey[], one: boolean): void {
    const v = this.at(keys)
    if (v === undefined) return
    const names = Array.isArray(v) ? (v as string[]) : [v as string]
    names.forEach((full, j) => {
      const at = Array.isArray(v) ? [...keys, j] : keys
      const member = /^(.*)\[(\d+)\]$/.exec(full)
      const n = member ? member[1]! : full
      const shape = this.procs.get(n)
      if (member && shape === 'one') {
        this.report(at, `'${n}' is one process, not a group: write '${n}'`)
      } else if (member) {
        if (one && names.length > 1) this.report(at, 'this needs one process')
      } else if (!shape) {
        this.report(
          at,
          `no process or group named '${n}' before this step${this.procs.size ? ` (so far: ${[...this.procs.keys()].join(', ')})` : ' (create one with - spawn: { as: p })'}`,
        )
      } else if (one && (shape === 'group' || names.length > 1)) {
        this.report(at, `'${n}' is a group: this needs one process`)
      }
    })
  }

  private regionsSoFar(): string {
    return this.regions.size ? ` (regions so far: ${[...this.regions].join(', ')})` : ''
  }

  /** A region reference. */
  region(keys: PathKey[]): void {
    const v = this.at(keys)
    if (typeof v === 'string' && !this.regions.has(v))
      this.report(keys, `no region named '${v}' is mapped by an earlier step${this.regionsSoFar()}`)
  }

  /** The range fields of `o` (at `at`): region or addr, page/pages/length consistent. */
  range(o: Record<string, unknown>, at: PathKey[], required: boolean): void {
    const has = (k: string) => o[k] !== undefined
    if (has('region') && has('addr'))
      this.report([...at], "give either 'region' or 'addr', not both", { key: 'addr' })
    else if (!has('region') && !has('addr')) {
      if (required)
        this.report(at, "missing the range: give 'region' (a mapped region) or 'addr' (an address)")
    }
    if (has('region') && has('length'))
      this.report(at, "'length' goes with 'addr'; with 'region' use 'pages'", { key: 'length' })
    if (has('addr') && has('page'))
      this.report(at, "'page' goes with 'region'; with 'addr' write the address", { key: 'page' })
    if (has('pages') && has('length'))
      this.report(at, "give either 'pages' or 'length', not both", { key: 'length' })
    this.region([...at, 'region'])
    this.count([...at, 'page'], 0, 'page')
    this.count([...at, 'pages'], 0, 'pages')
    for (const k of ['addr', 'length']) this.expr([...at, k])
  }

  /** A name this step defines: a region, an fd, a mark. */
  define(kind: 'region' | 'fd' | 'mark', name: unknown, key: PathKey[], opts?: { rebind?: boolean }): void {
    if (typeof name !== 'string') return
    if (kind === 'region' && RESERVED_NAMES.has(name)) {
      this.report(
        key,
        `'${name}' is reserved in expressions (a unit, variable, constant or function); choose another region name`,
      )
    }
    if (kind === 'region' && this.regions.has(name) && !opts?.rebind)
      this.report(
        key,
        `a region named '${name}' is already defined by an earlier step: choose another name (mremap's 'as' may re-bind a name)`,
      )
    ;(kind === 'region' ? this.regions : kind === 'fd' ? this.fds : this.marks).add(name)
  }

  /** A process or group name this step defines. */
  defineProc(name: string, shape: ProcShape, key: PathKey[]): void {
    if (this.procs.has(name))
      this.report(key, `a process or group named '${name}' is already defined: choose another name`)
    this.procs.set(name, shape)
  }

  /** A file descriptor reference. */
  fd(key: string): void {
    const v = this.args[key]
    if (typeof v === 'string' && !this.fds.has(v))
      this.report(
        [key],
        `no file descriptor named '${v}' before this step (open one with - open: { ..., as: ${v} })`,
      )
  }
}

/** Check names and expressions; push problems; return the plan (meaningful only without problems). */
export function analyze(
  steps: readonly Step[],
  source: Source,
  problems: string[],
  opts: {
    machineSwap?: boolean
    cpus?: ReadonlyArray<{ name?: string | undefined; steps: readonly Step[] }>
  } = {},
): Plan {
  const an = new Analysis(source, problems)
  if (opts.machineSwap) an.areas.add('swap')
  const plan: Plan = { steps: analyzeSteps(steps, an) }
  // Each cpu's program sees the names the setup defined and its own, never
  // another cpu's: whether that one has run yet depends on the schedule.
  if (opts.cpus)
    plan.cpus = opts.cpus.map((c, i) => ({
      name: c.name ?? `cpu${i}`,
      steps: analyzeSteps(c.steps, an.fork(['cpus', i, 'steps'])),
    }))
  return plan
}

/**
 * Check one list of steps with the names `an` holds (extended as the steps
 * define more); the steps ready to run.
 */
export function analyzeSteps(steps: readonly Step[], an: Analysis): PlanStep[] {
  const source = an.source
  const out: PlanStep[] = []
  steps.forEach((step, index) => {
    const h = STEPS[step.kind]
    an.index = index
    an.kind = step.kind
    an.args = (step.args ?? {}) as Record<string, unknown>
    an.exprs = new Map()
    // References first (they must exist before this step), then definitions.
    if (h.proc && 'proc' in an.args) an.proc(['proc'], h.proc === 'one')
    if (h.range) an.range(an.args, [], true)
    // biome-ignore lint/suspicious/noExplicitAny: the step's args were validated by this kind's schema
    h.analyze?.(step.args as any, an)
    out.push({
      index,
      kind: step.kind,
      args: step.args,
      pos: source.locate([...an.base, index]),
      label: label(step),
      exprs: an.exprs,
    })
  })
  return out
}

/** A one-line description of a step. */
export function label(step: Step): string {
  const a = step.args as Record<string, unknown> & { note?: string }
  const note = a?.note ? ` (${a.note})` : ''
  const h = STEPS[step.kind]
  // biome-ignore lint/suspicious/noExplicitAny: validated by the kind's schema
  if (h.label) return `${h.label(step.args as any)}${note}`
  return `${step.kind} ${procText((a as { proc: string | string[] }).proc)} ${rangeText(a as Parameters<typeof rangeText>[0])}${note}`
}

/** The smallest swap area sys_swapon takes: the header page plus one slot. */
export const SWAP_MIN_BYTES = 2 * 4096

/**
 * What is wrong with a size (`ram`, `swap`, a swapon `size`), before any
 * Machine exists: the unit grammar of expressions, and the bounds that do not
 * depend on the layout (those that do are checked per layout).
 */
export function sizeProblem(
  v: number | string,
  what: 'ram' | 'swap' | 'swapon',
): { message: string; offset?: number } | undefined {
  const expected = `expected a size: a byte count, or a number with K, M or G such as '64M', got ${JSON.stringify(v)}`
  let bytes: number
  try {
    bytes = sizeBytes(v)
  } catch (e) {
    if (e instanceof ExprError) {
      return e.offset === 0
        ? { message: expected }
        : { message: `${expected}: ${e.message}`, offset: e.offset }
    }
    return { message: (e as Error).message }
  }
  const bare = typeof v === 'number' || /^\d+$/.test(String(v).trim())
  const hint =
    bare && bytes > 0 && bytes < 4096 ? `; a size without a unit is bytes: did you mean '${bytes}M'?` : ''
  if (what !== 'ram') {
    if ((bytes !== 0 || what === 'swapon') && bytes < SWAP_MIN_BYTES)
      return {
        message: `${bytes} bytes is below the header page plus one slot (${SWAP_MIN_BYTES} bytes), the smallest swap area${hint}`,
      }
    return undefined
  }
  if (bytes < 4 * 1024 ** 2) return { message: `ram must be at least 4M, got ${bytes} bytes${hint}` }
  if (bytes % 4096 !== 0) return { message: `ram must be a whole number of 4K pages, got ${bytes} bytes` }
  return undefined
}
