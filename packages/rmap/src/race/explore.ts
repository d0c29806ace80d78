/**
 * The interleaving explorer: runs a scenario (a machine, a setup, and one
 * program of kernel operations per cpu) under many schedules, each from
 * scratch (stateless, as CHESS: Musuvathi & Qadeer, PLDI 2007), and checks
 * after each one the kernel's BUG_ONs, `m.check()` and the scenario's own
 * assertions.
 *
 * ## How several cpus run on one JavaScript thread
 *
 * The kernel paths are plain synchronous code. A cpu that reaches a named
 * preemption point (`m.smp.preempt('do_swap_page:set_pte→page_add_rmap')`)
 * asks the scheduler whether to go on; if another cpu is chosen, that cpu's
 * next operation runs *nested inside the hook*, and the preempted cpu
 * resumes only when control comes back to it: when the nested operation
 * returns and the scheduler picks the suspended cpu, or after further nested
 * cpus return in turn. Suspended cpus form a stack, and the schedules
 * explored are exactly those that respect this stack discipline: a cpu
 * suspended below another can resume only after everything above it is
 * suspended at a point or done.
 *
 * Consequences, stated plainly:
 * - A cpu that would wait for a lock a suspended cpu holds cannot let the
 *   owner run (the owner is below it on the stack): the schedule is dropped as
 *   infeasible and counted (`infeasible`). Interleavings in which one cpu
 *   spins while the owner finishes its critical section are therefore not
 *   explored; they only delay the waiter, but a bug that needs the waiter to
 *   get the lock *right after* the owner drops it and *before* the owner
 *   reaches its next point is missed.
 * - A suspended cpu cannot be resumed while a cpu above it is suspended too
 *   (no "A, B, A, B" with both A and B paused inside kernel paths at once).
 * - Preemption happens only at named points and between operations.
 *
 * ## Schedulers
 * - `bound: k` — iterative context bounding: all schedules with 0
 *   preemptions, then all with 1, ... up to k, depth first; the first
 *   violation found therefore has the fewest preemptions. A preemption is a
 *   switch away from a cpu that could go on (at a point, or between two of its
 *   operations); switching when the running cpu's program is done is free.
 * - `pct: { runs, seed, depth }` — PCT (Burckhardt et al., ASPLOS 2010):
 *   random distinct cpu priorities, `depth − 1` priority-change points drawn
 *   among the scheduling steps of a first run; the highest-priority runnable
 *   cpu runs. Seeded (mulberry32, a 32-bit generator small enough to write
 *   here, so that a seed means the same schedules on every platform). A
 *   failing PCT schedule is then shrunk (unless `shrink: false`): iterative
 *   context bounding below its preemption count looks for a violation of the
 *   same kind, and the one with the fewest preemptions is returned.
 * - `replay: token` — the schedule a token records, exactly.
 */
import { KernelBugError } from '../errors.js'
import { LockBlocked, LockTable, type Smp } from '../locks.js'
import type { Machine } from '../machine.js'
import { PG } from '../mm/page.js'

/** One operation of a cpu's program: a syscall, a fault, a pageout, a swapoff... */
export interface RaceOp<C> {
  /** What it does, e.g. `'B reads x (fault)'`. */
  readonly name: string
  /** Run it; a string it returns is printed in the trace as its outcome. */
  run(m: Machine, ctx: C): unknown
}

/** A cpu's program. */
export interface RaceCpu<C> {
  /** Who runs it, e.g. `'B'` or `'kswapd'`. */
  readonly name: string
  readonly ops: ReadonlyArray<RaceOp<C>>
}

/** A scenario: how to build the machine, set it up, the cpus' programs, and the assertions. */
export interface RaceScenario<C = unknown> {
  readonly name: string
  readonly description: string
  /** A fresh machine (called once per schedule). */
  machine(): Machine
  /** Sequential setup on the fresh machine; returns the context the operations use. */
  setup(m: Machine): C
  readonly cpus: ReadonlyArray<RaceCpu<C>>
  /** The scenario's own assertions after a complete schedule: the violations, or an empty list. */
  check?(m: Machine, ctx: C): string[]
}

/** Options of {@link explore}: exactly one scheduler. */
export interface ExploreOptions {
  /** Iterative context bounding up to this many preemptions (default 2 when no other scheduler is given). */
  bound?: number
  /** PCT: `runs` random schedules from `seed`, for bugs of depth `depth` (default 3). */
  pct?: { runs: number; seed: number; depth?: number }
  /** Replay the schedule of a token. */
  replay?: string
  /** Stop after this many schedules (default 1,000,000); the result says whether the bound was covered. */
  maxSchedules?: number
  /** Called after each schedule with the number run so far (and, in bound mode, the bound being explored). */
  onProgress?: (schedules: number, bound?: number) => void
  /**
   * PCT: shrink a failing schedule to the fewest preemptions (iterative
   * context bounding below its count, at most 20,000 runs) before returning
   * it (default true).
   */
  shrink?: boolean
}

/** One context switch of a schedule. */
export interface RaceStep {
  /** The cpu that stops running (or -1 at the start). */
  from: number
  /** The cpu that runs next. */
  to: number
  /** The kernel function where `from` stopped (`'(between operations)'` at an operation boundary). */
  fn: string
  /** The preemption point, or `'op done'`. */
  point: string
  /** True when `from` could have gone on (a preemption). */
  preemption: boolean
}

/** What went wrong in a schedule. */
export interface RaceViolation {
  /** `'bug'`: a KernelBugError (BUG_ON); `'check'`: m.check(); `'assertion'`: the scenario's; `'error'`: anything else. */
  kind: 'bug' | 'check' | 'assertion' | 'error'
  message: string
  /** The cpu and operation running when it was raised (-1 / '' for checks after the run). */
  cpu: number
  op: string
  error?: unknown
}

/** A schedule that failed. */
export interface RaceFailure {
  violation: RaceViolation
  preemptions: number
  steps: RaceStep[]
  /** The interleaving, one line per event. */
  trace: string[]
  /** Replays this schedule exactly (`explore(s, { replay })`). */
  token: string
}

/** What {@link explore} did. */
export interface ExploreResult {
  scenario: string
  mode: 'bound' | 'pct' | 'replay'
  /** Preemption bound fully explored without a violation (bound mode; -1 if not even 0). */
  boundReached: number
  /** Distinct schedules explored (bound mode: each counted once across the iterations), or runs (pct, replay). */
  schedules: number
  /** Executions, including the repeats of iterative bounding. */
  runs: number
  /** Executions dropped because a cpu would wait for a lock a suspended cpu holds. */
  infeasible: number
  /** False when maxSchedules stopped the exploration early. */
  complete: boolean
  ms: number
  failure: RaceFailure | null
  /** PCT: the failure was shrunk from `from` preemptions, in `runs` extra runs (absent when not tried). */
  shrink?: { from: number; runs: number }
}

/** Runs the shrinking of a PCT failure may take. */
const SHRINK_MAX_RUNS = 20_000

/** A replay token that does not fit the scenario's schedule. */
export class ReplayMismatchError extends RangeError {
  override name = 'ReplayMismatchError'
}

/** Unwinds a discarded schedule through the kernel paths. Never escapes {@link explore}. */
class Unwind {
  readonly unwind = true
}
const UNWIND = new Unwind()

interface Decision {
  options: number[]
  costs: number[]
  chosen: number
  before: number
}

type Choose = (d: Decision, point: string, current: number, step: number) => number

interface Event {
  cpu: number
  what: 'runs' | 'done' | 'preempted' | 'resumes'
  text: string
}

interface Outcome {
  decisions: Decision[]
  preemptions: number
  violation: RaceViolation | null
  infeasible: boolean
  events: Event[]
  steps: RaceStep[]
}

/** One execution of a scenario under a chooser. */
class Run<C> {
  readonly m: Machine
  readonly ctx: C
  readonly next: Int32Array
  readonly suspended: number[] = []
  current = -1
  readonly decisions: Decision[] = []
  preemptions = 0
  violation: RaceViolation | null = null
  infeasible = false
  readonly events: Event[] = []
  readonly steps: RaceStep[] = []
  readonly smp: Smp

  constructor(
    readonly s: RaceScenario<C>,
    readonly choose: Choose,
  ) {
    this.m = s.machine()
    const n = s.cpus.length
    // Each program runs on its own cpu context (m.cpus[i]: its kmap slots and scratch).
    if (n > this.m.cpus.length)
      throw new RangeError(
        `race scenario ${s.name}: ${n} cpu programs on a machine with ${this.m.cpus.length} cpus`,
      )
    this.ctx = s.setup(this.m)
    this.next = new Int32Array(n)
    const frames = this.m.frames
    const run = this
    this.smp = {
      cpu: 0,
      locks: new LockTable(n, (_cls, id) => frames.test(id, PG.locked)),
      preempt(point: string) {
        run.point(point)
      },
    }
  }

  private has(cpu: number): boolean {
    return this.next[cpu]! < this.s.cpus[cpu]!.ops.length
  }

  private runnable(except: number, beneath: number): number[] {
    const out: number[] = []
    for (let c = 0; c < this.s.cpus.length; c++)
      if (c !== except && c !== beneath && this.has(c) && !this.suspended.includes(c)) out.push(c)
    return out
  }

  private decide(options: number[], costs: number[], point: string): number {
    const d: Decision = { options, costs, chosen: 0, before: this.preemptions }
    const i = this.choose(d, point, this.current, this.decisions.length)
    d.chosen = i
    this.decisions.push(d)
    this.preemptions += costs[i]!
    return options[i]!
  }

  /** The preemption hook. */
  point(point: string): void {
    const x = this.current
    const others = this.runnable(x, -1)
    if (others.length === 0) return
    const options = [x, ...others]
    const costs = options.map((c) => (c === x ? 0 : 1))
    const y = this.decide(options, costs, point)
    if (y === x) return
    const fn = point.slice(0, point.indexOf(':'))
    const at = point.slice(point.indexOf(':') + 1)
    this.events.push({ cpu: x, what: 'preempted', text: `preempted in ${fn} at ${at}` })
    this.steps.push({ from: x, to: y, fn, point: at, preemption: true })
    this.suspended.push(x)
    this.loop(y, x)
    this.suspended.pop()
    this.current = x
    this.smp.cpu = x
    this.events.push({ cpu: x, what: 'resumes', text: `resumes in ${fn} at ${at}` })
  }

  /** Run operations from `first` on until the scheduler returns to `beneath` (-1: until all are done). */
  loop(first: number, beneath: number): void {
    let y = first
    for (;;) {
      this.op(y)
      const more = this.has(y)
      const others = this.runnable(y, beneath)
      const options: number[] = []
      const costs: number[] = []
      if (more) {
        options.push(y)
        costs.push(0)
      } else if (beneath >= 0) {
        options.push(beneath)
        costs.push(0)
      }
      for (const c of others) {
        options.push(c)
        costs.push(more ? 1 : 0)
      }
      if (more && beneath >= 0) {
        options.push(beneath)
        costs.push(1)
      }
      if (options.length === 0) return
      const z = options.length === 1 ? options[0]! : this.decide(options, costs, 'op done')
      if (z !== y)
        this.steps.push({ from: y, to: z, fn: '(between operations)', point: 'op done', preemption: more })
      if (z === beneath) return
      y = z
    }
  }

  private op(cpu: number): void {
    const op = this.s.cpus[cpu]!.ops[this.next[cpu]!]!
    this.current = cpu
    this.smp.cpu = cpu
    this.events.push({ cpu, what: 'runs', text: `runs '${op.name}'` })
    let outcome: unknown
    try {
      outcome = op.run(this.m, this.ctx)
    } catch (e) {
      if (e instanceof Unwind) throw e
      // A wait, even one a clean-up path raised something else over.
      const waited = e instanceof LockBlocked ? e : this.smp.locks.waited
      if (waited !== null) {
        if (!this.violation && !this.infeasible) {
          this.infeasible = true
          this.events.push({ cpu, what: 'done', text: `would wait: ${waited.message}` })
        }
        throw UNWIND
      }
      if (!this.violation && !this.infeasible) {
        this.violation = {
          kind: e instanceof KernelBugError ? 'bug' : 'error',
          message: e instanceof Error ? e.message : String(e),
          cpu,
          op: op.name,
          error: e,
        }
        this.events.push({ cpu, what: 'done', text: `raises ${this.violation.message}` })
      }
      throw UNWIND
    }
    this.next[cpu]!++
    this.current = -1
    this.events.push({
      cpu,
      what: 'done',
      text: `finishes '${op.name}'${typeof outcome === 'string' && outcome ? `: ${outcome}` : ''}`,
    })
  }

  execute(): Outcome {
    const m = this.m
    m.smp = this.smp
    const hook = m.env.onPageTableLockDropped
    // pte_alloc_map's unlocked window (pgtable.ts runRacer) is a preemption point too.
    if (!hook) m.env.onPageTableLockDropped = () => this.point('pte_alloc_map:pte_alloc_one→pmd_populate')
    try {
      const first = this.runnable(-1, -1)
      if (first.length > 0) {
        const y =
          first.length === 1
            ? first[0]!
            : this.decide(
                first,
                first.map(() => 0),
                'start',
              )
        this.steps.push({ from: -1, to: y, fn: '(start)', point: 'start', preemption: false })
        this.loop(y, -1)
      }
    } catch (e) {
      if (!(e instanceof Unwind) && !this.violation && !this.infeasible)
        this.violation = { kind: 'error', message: String(e), cpu: this.current, op: '', error: e }
    } finally {
      m.smp = null
      if (!hook) m.env.onPageTableLockDropped = undefined
    }
    if (!this.violation && !this.infeasible) {
      try {
        m.check()
      } catch (e) {
        this.violation = {
          kind: 'check',
          message: e instanceof Error ? e.message : String(e),
          cpu: -1,
          op: '',
          error: e,
        }
      }
    }
    if (!this.violation && !this.infeasible && this.s.check) {
      let v: string[]
      try {
        v = this.s.check(m, this.ctx)
      } catch (e) {
        v = [`the scenario's assertions raised ${e instanceof Error ? e.message : String(e)}`]
      }
      if (v.length > 0) this.violation = { kind: 'assertion', message: v.join('; '), cpu: -1, op: '' }
    }
    return {
      decisions: this.decisions,
      preemptions: this.preemptions,
      violation: this.violation,
      infeasible: this.infeasible,
      events: this.events,
      steps: this.steps,
    }
  }
}

/** The replay token of a run: the cpu chosen at each scheduling decision, run-length coded (`0*3,1,0*2`). */
export function encodeSchedule(cpus: readonly number[]): string {
  const parts: string[] = []
  for (let i = 0; i < cpus.length; ) {
    let j = i
    while (j < cpus.length && cpus[j] === cpus[i]) j++
    parts.push(j - i > 1 ? `${cpus[i]}*${j - i}` : `${cpus[i]}`)
    i = j
  }
  return `v1:${parts.join(',')}`
}

/** The cpus of a replay token; ReplayMismatchError for a malformed one. */
export function decodeSchedule(token: string): number[] {
  const m = /^v1:((?:\d+(?:\*\d+)?)(?:,\d+(?:\*\d+)?)*)?$/.exec(token)
  if (!m) throw new ReplayMismatchError(`replay token '${token}' is not of the form v1:CPU[*COUNT],...`)
  const out: number[] = []
  if (!m[1]) return out
  for (const p of m[1].split(',')) {
    const [c, n] = p.split('*')
    const count = n === undefined ? 1 : Number(n)
    if (count < 1 || count > 1_000_000) throw new ReplayMismatchError(`replay token: bad count in '${p}'`)
    for (let k = 0; k < count; k++) out.push(Number(c))
  }
  return out
}

function failureOf<C>(s: RaceScenario<C>, o: Outcome): RaceFailure {
  const name = (c: number) => (c < 0 ? 'checks' : `cpu${c} (${s.cpus[c]!.name})`)
  const trace = o.events.map((e) => `${name(e.cpu)} ${e.text}`)
  const v = o.violation!
  if (v.cpu < 0)
    trace.push(`after the schedule: ${v.kind === 'check' ? 'm.check()' : 'assertion'}: ${v.message}`)
  return {
    violation: v,
    preemptions: o.preemptions,
    steps: o.steps,
    trace,
    token: encodeSchedule(o.decisions.map((d) => d.options[d.chosen]!)),
  }
}

/** mulberry32: a small seeded 32-bit generator. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function checkOptions(o: ExploreOptions): void {
  const n = (o.bound !== undefined ? 1 : 0) + (o.pct !== undefined ? 1 : 0) + (o.replay !== undefined ? 1 : 0)
  if (n > 1) throw new RangeError('explore: give one of bound, pct, replay')
  if (o.bound !== undefined && (!Number.isInteger(o.bound) || o.bound < 0 || o.bound > 20))
    throw new RangeError(`explore: bound must be a whole number in 0..20, got ${o.bound}`)
  if (o.pct !== undefined) {
    const { runs, seed, depth = 3 } = o.pct
    if (!Number.isInteger(runs) || runs < 1 || runs > 10_000_000)
      throw new RangeError(`explore: pct.runs must be a whole number in 1..10000000, got ${runs}`)
    if (!Number.isInteger(seed)) throw new RangeError(`explore: pct.seed must be an integer, got ${seed}`)
    if (!Number.isInteger(depth) || depth < 1 || depth > 10)
      throw new RangeError(`explore: pct.depth must be a whole number in 1..10, got ${depth}`)
  }
  if (o.replay !== undefined && typeof o.replay !== 'string')
    throw new RangeError('explore: replay must be a token string')
  if (o.shrink !== undefined && typeof o.shrink !== 'boolean')
    throw new RangeError(`explore: shrink must be true or false, got ${String(o.shrink)}`)
  if (o.maxSchedules !== undefined && (!Number.isInteger(o.maxSchedules) || o.maxSchedules < 1))
    throw new RangeError(`explore: maxSchedules must be a whole number >= 1, got ${o.maxSchedules}`)
}

/**
 * Explore the interleavings of a scenario (see the module comment). Returns
 * the first failing schedule found (fewest preemptions first in bound mode),
 * with its trace and replay token, or `failure: null`.
 */
export function explore<C>(s: RaceScenario<C>, opts: ExploreOptions = {}): ExploreResult {
  checkOptions(opts)
  if (s.cpus.length < 1 || s.cpus.length > 31) throw new RangeError('explore: a scenario has 1..31 cpus')
  const t0 = performance.now()
  const max = opts.maxSchedules ?? 1_000_000
  const result: ExploreResult = {
    scenario: s.name,
    mode: opts.replay !== undefined ? 'replay' : opts.pct ? 'pct' : 'bound',
    boundReached: -1,
    schedules: 0,
    runs: 0,
    infeasible: 0,
    complete: true,
    ms: 0,
    failure: null,
  }
  const done = () => {
    result.ms = performance.now() - t0
    return result
  }
  const tally = (o: Outcome) => {
    result.runs++
    if (o.infeasible) result.infeasible++
    opts.onProgress?.(result.runs, result.mode === 'bound' ? result.boundReached + 1 : undefined)
  }

  if (opts.replay !== undefined) {
    const want = decodeSchedule(opts.replay)
    const o = new Run(s, (d, point, _cur, step) => {
      if (step >= want.length)
        throw new ReplayMismatchError(
          `replay token ends at decision ${step} (${point}); the schedule goes on`,
        )
      const i = d.options.indexOf(want[step]!)
      if (i < 0)
        throw new ReplayMismatchError(
          `replay token: at decision ${step} (${point}) cpu ${want[step]} cannot run (choices ${d.options.join(', ')})`,
        )
      return i
    }).execute()
    if (o.violation?.error instanceof ReplayMismatchError) throw o.violation.error
    if (o.decisions.length !== want.length)
      throw new ReplayMismatchError(
        `replay token has ${want.length} decisions, the schedule made ${o.decisions.length}`,
      )
    tally(o)
    result.schedules = 1
    if (o.violation) result.failure = failureOf(s, o)
    return done()
  }

  if (opts.pct) {
    const { runs, seed, depth = 3 } = opts.pct
    const n = s.cpus.length
    // k, the number of scheduling steps, from a run of the default schedule.
    let k = Math.max(1, new Run(s, () => 0).execute().decisions.length)
    for (let r = 0; r < runs; r++) {
      const rnd = mulberry32((seed ^ Math.imul(r + 1, 0x9e3779b9)) >>> 0)
      const prio = Array.from({ length: n }, (_, i) => depth + i)
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1))
        ;[prio[i], prio[j]] = [prio[j]!, prio[i]!]
      }
      const change = Array.from({ length: depth - 1 }, () => 1 + Math.floor(rnd() * k))
      const o = new Run(s, (d, _point, current, step) => {
        const ci = change.indexOf(step + 1)
        if (ci >= 0 && current >= 0) prio[current] = depth - 1 - ci
        let best = 0
        for (let i = 1; i < d.options.length; i++)
          if (prio[d.options[i]!]! > prio[d.options[best]!]!) best = i
        return best
      }).execute()
      k = Math.max(k, o.decisions.length)
      tally(o)
      result.schedules++
      if (o.violation) {
        result.failure = failureOf(s, o)
        if (opts.shrink !== false && o.preemptions > 0) {
          // Shrink: the fewest-preemption schedule with a violation of the
          // same kind, by iterative context bounding below the PCT one.
          const probe: ExploreResult = { ...result, schedules: 0, runs: 0, infeasible: 0, boundReached: -1 }
          const kind = o.violation.kind
          const min = boundSearch(
            s,
            o.preemptions - 1,
            SHRINK_MAX_RUNS,
            probe,
            () => probe.runs++,
            (x) => x.violation!.kind === kind,
          )
          result.shrink = { from: o.preemptions, runs: probe.runs }
          if (min) result.failure = failureOf(s, min)
        }
        return done()
      }
      if (result.runs >= max) {
        result.complete = r + 1 === runs
        break
      }
    }
    return done()
  }

  const found = boundSearch(s, opts.bound ?? 2, max, result, tally, null)
  if (found) result.failure = failureOf(s, found)
  return done()
}

/**
 * Iterative context bounding (see the module comment): every schedule with at
 * most 0, then 1, ... `bound` preemptions, depth first. Returns the first
 * failing outcome (that `accept` accepts, when given; others are passed over),
 * or null; sets `boundReached`, `schedules` and `complete` of `result`.
 */
function boundSearch<C>(
  s: RaceScenario<C>,
  bound: number,
  max: number,
  result: ExploreResult,
  tally: (o: Outcome) => void,
  accept: ((o: Outcome) => boolean) | null,
): Outcome | null {
  for (let b = 0; b <= bound; b++) {
    let prefix: number[] = []
    for (;;) {
      const o = new Run(s, (_d, _point, _cur, step) => {
        if (step < prefix.length) return prefix[step]!
        return 0
      }).execute()
      tally(o)
      if (o.preemptions === b) result.schedules++
      if (o.violation && (!accept || accept(o))) return o
      if (result.runs >= max) {
        result.complete = false
        return null
      }
      // The next schedule: the deepest decision with an untried choice within the bound.
      let nextPrefix: number[] | null = null
      for (let i = o.decisions.length - 1; i >= 0 && !nextPrefix; i--) {
        const d = o.decisions[i]!
        for (let j = d.chosen + 1; j < d.options.length; j++) {
          if (d.before + d.costs[j]! <= b) {
            nextPrefix = o.decisions.slice(0, i).map((x) => x.chosen)
            nextPrefix.push(j)
            break
          }
        }
      }
      if (!nextPrefix) break
      prefix = nextPrefix
    }
    result.boundReached = b
  }
  return null
}
