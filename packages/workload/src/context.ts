/**
 * What a run knows besides the Machine: the workload's names for processes,
 * regions, file descriptors, marks and swap areas, per process, and the
 * helpers every step kind uses (name resolution, ranges, expressions,
 * comparisons, expected failures).
 */
import { i386 } from '@rmaplab/arch-i386'
import {
  Machine,
  type Meminfo,
  OutOfMemoryError,
  PAGE_SIZE,
  type Process,
  SignalError,
  SyscallError,
  type VmStats,
} from '@rmaplab/rmap'
import type { PlanStep } from './analyze.js'
import type { ConstName, ExprEnv } from './expr.js'

/** A failed assertion inside a step. */
export class AssertionFailure extends Error {
  override name = 'AssertionFailure'
}
/** A workload that refers to something its processes do not have (a region it never mapped, an fd it closed). */
export class WorkloadError extends Error {
  override name = 'WorkloadError'
}

/** A region as one process maps it. */
export interface Region {
  start: number
  length: number
}

/** The rmap walks the workload asked for (page_referenced / try_to_unmap steps). */
export interface WalkTotals {
  calls: number
  vmasVisited: number
  ptesProbed: number
  maxVmasVisited: number
}

/** An address as the kernel prints it. */
export const hex = (n: number) => `0x${n.toString(16)}`

/** The layout constants expressions can name. */
export function layoutConsts(m: Machine): Record<ConstName, number> {
  const g = m.arch.geometry
  return {
    PAGE_SIZE,
    PTE_SPAN: 2 ** g.PMD_SHIFT,
    PGDIR_SPAN: 2 ** g.PGDIR_SHIFT,
    TASK_SIZE: m.taskSize,
    TASK_UNMAPPED_BASE: m.taskUnmappedBase,
  }
}

/** The state of a run and the helpers of its steps. */
export class RunContext {
  readonly consts: Record<ConstName, number>
  /** Processes and groups by workload name. */
  readonly procs = new Map<string, Process[]>()
  /** The workload name of each pid (`p`, `kids[3]`). */
  readonly pname = new Map<number, string>()
  /** Regions by name, per pid. */
  readonly regions = new Map<string, Map<number, Region>>()
  /** File descriptors by name, per pid. */
  readonly fds = new Map<string, Map<number, number>>()
  readonly marks = new Map<string, { meminfo: Meminfo; stats: VmStats }>()
  /** Swap areas by name: their type (the machine's own area, type 0, is `swap`). */
  readonly areas = new Map<string, number>()
  readonly walks: WalkTotals = { calls: 0, vmasVisited: 0, ptesProbed: 0, maxVmasVisited: 0 }
  readonly assertions = { passed: 0, failed: 0 }
  /** Figures steps record for the report (LayoutRun.results). */
  readonly results: Record<string, number> = {}
  /** The process the current step is working in (for failure reports). */
  current: Process | undefined
  /** The step being run. */
  step!: PlanStep
  /** Things the current step wants the reader to know although it succeeded (pages skipped...). */
  notes: string[] = []

  constructor(readonly m: Machine) {
    this.consts = layoutConsts(m)
    if (m.swapAreas().length) this.areas.set('swap', m.swapAreas()[0]!.type)
  }

  /** `c (pid 2)` */
  who(p: Process): string {
    return `${this.pname.get(p.pid) ?? 'process'} (pid ${p.pid})`
  }

  bindOne(n: string, p: Process): void {
    this.procs.set(n, [p])
    this.pname.set(p.pid, n)
  }

  bindGroup(n: string, ps: Process[]): void {
    this.procs.set(n, ps)
    ps.forEach((p, i) => {
      if (!this.pname.has(p.pid)) this.pname.set(p.pid, `${n}[${i}]`)
    })
  }

  /** The processes a `proc` argument names. */
  resolve(ref: string | string[]): Process[] {
    const names = Array.isArray(ref) ? ref : [ref]
    return names.flatMap((n) => {
      const member = /^(.*)\[(\d+)\]$/.exec(n)
      if (!member) return this.procs.get(n)!
      const group = this.procs.get(member[1]!)!
      const p = group[Number(member[2])]
      if (!p)
        throw new WorkloadError(
          `${n}: the group '${member[1]}' has ${group.length} processes (0..${group.length - 1})`,
        )
      return [p]
    })
  }

  /** One process, made the current one. */
  one(ref: string | string[]): Process {
    const p = this.resolve(ref)[0]!
    this.current = p
    return p
  }

  regionOf(n: string, p: Process): Region {
    const r = this.regions.get(n)?.get(p.pid)
    if (!r)
      throw new WorkloadError(
        `region '${n}' is not mapped by ${this.who(p)}: it mapped ${this.regionNames(p).join(', ') || 'none'}`,
      )
    return r
  }

  /** The names of the regions process p has. */
  regionNames(p: Process): string[] {
    return [...this.regions.entries()].filter(([, byPid]) => byPid.has(p.pid)).map(([n]) => n)
  }

  setRegion(n: string, p: Process, r: Region): void {
    if (!this.regions.has(n)) this.regions.set(n, new Map())
    this.regions.get(n)!.set(p.pid, r)
  }

  fdOf(n: string, p: Process): number {
    const fd = this.fds.get(n)?.get(p.pid)
    if (fd === undefined) throw new WorkloadError(`file descriptor '${n}' is not open in ${this.who(p)}`)
    return fd
  }

  /** What expressions are evaluated against in process p (or in none). */
  envFor(p: Process | undefined): ExprEnv {
    return {
      region: (n) => {
        if (!p) throw new WorkloadError(`region '${n}' in an assertion that names no process`)
        return this.regionOf(n, p)
      },
      i: 0,
      pid: p?.pid ?? 0,
      consts: this.consts,
    }
  }

  /** Regions and fds are inherited at fork. */
  inherit(parent: Process, child: Process): void {
    for (const byPid of this.regions.values()) {
      const r = byPid.get(parent.pid)
      if (r) byPid.set(child.pid, { ...r })
    }
    for (const byPid of this.fds.values()) {
      const fd = byPid.get(parent.pid)
      if (fd !== undefined) byPid.set(child.pid, fd)
    }
  }

  /** exec forgets the regions, exit everything. */
  forget(p: Process, what: 'regions' | 'all'): void {
    for (const byPid of this.regions.values()) byPid.delete(p.pid)
    if (what === 'all') for (const byPid of this.fds.values()) byPid.delete(p.pid)
  }

  /** The compiled expression of the current step at `key`, evaluated. */
  ev(key: string, env: ExprEnv): number {
    return this.step.exprs.get(key)!.eval(env)
  }

  has(key: string): boolean {
    return this.step.exprs.has(key)
  }

  /** The range of the current step (or of its argument `prefix`) in process p. */
  range(p: Process, prefix = ''): { start: number; length: number; pages: number } {
    const a = this.step.args as Record<string, unknown>
    const o = (prefix ? a[prefix] : a) as { region?: string }
    const key = (k: string) => (prefix ? `${prefix}.${k}` : k)
    const env = this.envFor(p)
    let start: number
    let pages: number
    let length: number
    if (o.region !== undefined) {
      const r = this.regionOf(o.region, p)
      const first = this.has(key('page')) ? this.ev(key('page'), env) : 0
      start = r.start + first * PAGE_SIZE
      pages = this.has(key('pages')) ? this.ev(key('pages'), env) : Math.ceil(r.length / PAGE_SIZE) - first
      length = pages * PAGE_SIZE
    } else {
      start = this.ev(key('addr'), env)
      if (this.has(key('length'))) {
        length = this.ev(key('length'), env)
        pages = Math.ceil(length / PAGE_SIZE)
      } else {
        pages = this.has(key('pages')) ? this.ev(key('pages'), env) : 1
        length = pages * PAGE_SIZE
      }
    }
    if (pages < 0) throw new WorkloadError(`the range has ${pages} pages`)
    return { start, length, pages }
  }

  /** Compare `actual` with the comparison at `key`; `baseOf` gives a mark's value for `since`. */
  compare(
    what: string,
    key: string,
    raw: unknown,
    actual: number,
    env: ExprEnv,
    baseOf?: (mark: string) => number,
  ): void {
    let value = actual
    let suffix = ''
    if (typeof raw === 'object' && raw !== null) {
      const o = raw as { eq?: unknown; min?: unknown; max?: unknown; since?: string }
      if (o.since) {
        value = actual - baseOf!(o.since)
        suffix = ` since mark '${o.since}' (now ${actual})`
      }
      const fail = (want: string) => {
        throw new AssertionFailure(`${what}: expected ${want}${suffix}, got ${value}`)
      }
      if (o.eq !== undefined && value !== this.ev(`${key}.eq`, env)) fail(String(this.ev(`${key}.eq`, env)))
      if (o.min !== undefined && value < this.ev(`${key}.min`, env))
        fail(`at least ${this.ev(`${key}.min`, env)}`)
      if (o.max !== undefined && value > this.ev(`${key}.max`, env))
        fail(`at most ${this.ev(`${key}.max`, env)}`)
    } else if (value !== this.ev(key, env)) {
      throw new AssertionFailure(`${what}: expected ${this.ev(key, env)}, got ${value}`)
    }
  }

  markOf(n: string): { meminfo: Meminfo; stats: VmStats } {
    const mk = this.marks.get(n)
    if (!mk) throw new WorkloadError(`mark '${n}' was not taken`)
    return mk
  }
}

/** Run `fn`; when the step expects `fails`, the error must be that one (then undefined). */
export function expectOutcome<T>(fn: () => T, fails: string | undefined, what: string): T | undefined {
  if (!fails) return fn()
  let r: T
  try {
    r = fn()
  } catch (e) {
    const got =
      e instanceof SyscallError || e instanceof OutOfMemoryError
        ? e.errno
        : e instanceof SignalError
          ? e.signal
          : undefined
    if (got === fails) return undefined
    if (got)
      throw new AssertionFailure(
        `expected ${what} to fail with ${fails}, got ${got}: ${(e as Error).message}`,
      )
    throw e
  }
  const shown = typeof r === 'number' ? ` and returned ${hex(r)}` : ''
  throw new AssertionFailure(`expected ${what} to fail with ${fails}, but it succeeded${shown}`)
}

/** A dotted path into m.stats(). */
export function statAt(st: VmStats, path: string): number {
  let v: unknown = st
  for (const k of path.split('.')) v = (v as Record<string, unknown>)[k]
  return v as number
}

let statPaths: Set<string> | undefined
/** Every numeric leaf of `m.stats()`, by dotted path. */
export function statsPaths(): Set<string> {
  if (!statPaths) {
    statPaths = new Set()
    const walk = (o: Record<string, unknown>, prefix: string) => {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'number') statPaths!.add(prefix + k)
        else if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${prefix}${k}.`)
      }
    }
    walk(new Machine({ arch: i386, ram: '4M' }).stats() as unknown as Record<string, unknown>, '')
  }
  return statPaths
}
