/**
 * Runs the independent machines of a command (each layout, each rmap design,
 * each point of a --chart sweep) on `--jobs N` threads, one per core by
 * default: the main thread and N - 1 worker threads (`--jobs 1` runs them one
 * after the other on the main thread, as before, with no workers).
 *
 * A unit is one (workload, layout) pair. Workers load the target again from its
 * spec (the same file text, the same parameters) and run it with the workload
 * runner, so a worker's figures are the serial run's; results come back in unit
 * order, and `--trace` lines are printed in the serial order too (the lowest
 * unfinished unit prints live, the others are held until their turn).
 *
 * Errors keep the serial semantics: the lowest unit that throws decides, the
 * units after it are stopped (a serial run would never have started them), and
 * the error comes back as the serial run would have thrown it — a
 * BadInputError with its positions (exit 2), anything else a bug (exit 3).
 * Worker threads die with the process: Ctrl-C or a kill ends them.
 *
 * Node-only (node:worker_threads): the browser explorer never imports this.
 */
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import {
  BadInputError,
  type Layout,
  type LayoutOverrides,
  type LayoutRun,
  runOnLayout,
  type Workload,
} from '@rmaplab/workload'
import type { TargetSpec } from './target.js'

/** One machine to run: the target (as a worker loads it) and the index of its layout. */
export interface Unit {
  spec: TargetSpec
  over: LayoutOverrides
  /** Index into resolveLayouts() of the target with `over`. */
  layout: number
  /** Name layouts `arch/design` (several designs side by side). */
  multiRmap: boolean
  /** The target as the main thread loaded it, for the serial path. */
  workload: Workload
  resolved: Layout
  /** m.check() after every step (rmaplab check). */
  check: boolean
  /** Print this unit's steps (--trace). */
  trace: boolean
}

/** What every unit of a batch does besides running. */
export interface UnitOptions {
  maps: boolean
  /** `--trace` lines, in the order a serial run prints them. */
  trace?: ((line: string) => void) | undefined
  /** A unit's fraction done (for the progress bar). */
  progress?: ((unit: number, fraction: number) => void) | undefined
  /** Run every unit on a worker, none on the main thread (tests of the workers' error paths). */
  workersOnly?: boolean
}

/** The message a worker gets: a unit without the main thread's objects. */
export interface UnitMessage {
  id: number
  spec: TargetSpec
  over: LayoutOverrides
  layout: number
  multiRmap: boolean
  check: boolean
  maps: boolean
  trace: boolean
}

/** What a worker sends back. */
export type WorkerReply =
  | { type: 'start'; id: number }
  | { type: 'progress'; id: number; fraction: number }
  | { type: 'trace'; id: number; line: string }
  | { type: 'done'; id: number; run: LayoutRun }
  | { type: 'error'; id: number; problems: readonly string[] | undefined; message: string; stack: string }

/** The default `--jobs`: one worker per core the process may use. */
export function defaultJobs(): number {
  return availableParallelism()
}

/** Parse `--jobs N`: a whole number from 1 (N threads: the main one and N - 1 workers). */
export function parseJobs(v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 1024)
    throw new BadInputError([`--jobs: expected a whole number from 1 to 1024, got '${v}'`])
  return n
}

/** Run the units; their results in unit order. */
export async function runUnits(
  units: readonly Unit[],
  jobs: number,
  opts: UnitOptions,
): Promise<LayoutRun[]> {
  if (jobs <= 1 || units.length <= 1) return runSerial(units, opts)
  return runPool(units, Math.min(jobs, units.length), opts)
}

/** One after the other on this thread: the path every run took before --jobs. */
function runSerial(units: readonly Unit[], opts: UnitOptions): LayoutRun[] {
  return units.map((u, i) => {
    opts.progress?.(i, 0)
    return runOnLayout(
      u.workload,
      u.resolved,
      {
        checkEachStep: u.check,
        maps: opts.maps,
        progress: (f) => opts.progress?.(i, f),
        ...(u.trace && opts.trace ? { trace: opts.trace } : {}),
      },
      u.multiRmap,
    )
  })
}

/**
 * The worker's entry and the options it starts with. From the published
 * package, the compiled dist/pool-worker.js beside this file. From source
 * (`pnpm rmaplab`, tests), src/pool-worker.ts through tsx with the source
 * condition: a worker's entry module does not go through loaders the parent
 * registered (Node 20), so a small bootstrap registers tsx in the worker first
 * and then imports the entry — both by absolute URL, since the command may
 * have changed directory since it started.
 */
function workerEntry(): { entry: URL | string; eval: boolean; execArgv: string[] } {
  const here = import.meta.url
  if (!here.endsWith('.ts'))
    return { entry: new URL('./pool-worker.js', here), eval: false, execArgv: process.execArgv }
  // tsx's ESM API (`--import tsx` registers its hooks on the main thread only).
  const tsx = tsxApi(here)
  const entry = new URL('./pool-worker.ts', here).href
  const execArgv = withoutLoaders(process.execArgv)
  execArgv.push('--conditions=@rmaplab/source')
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}) })`
  return { entry: boot, eval: true, execArgv }
}

/** Options that load code or pick export conditions: the worker sets its own. */
const LOADER_OPTIONS = new Set([
  '--conditions',
  '-C',
  '--import',
  '--require',
  '-r',
  '--loader',
  '--experimental-loader',
])

/** The parent's node options without loaders and conditions (`--conditions x` and `--conditions=x` alike); the rest (heap sizes...) pass on. */
export function withoutLoaders(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    const name = eq < 0 ? a : a.slice(0, eq)
    if (!LOADER_OPTIONS.has(name)) out.push(a)
    else if (eq < 0) i++ // its value is the next argument
  }
  return out
}

/** The URL of tsx's ESM API (its `import` export; require.resolve would give the CommonJS one). */
function tsxApi(here: string): string {
  const resolve = (import.meta as { resolve?: (s: string) => string }).resolve
  if (typeof resolve === 'function') return resolve('tsx/esm/api')
  return pathToFileURL(
    createRequire(here)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href
}

/** The shared claim counters: [0] the next unit to claim, [1] the lowest unit that threw (N: none). */
export const NEXT = 0
export const STOP = 1

/** Record that unit `id` threw: units after it are no longer started (by any thread). */
export function stopAfter(claim: Int32Array, id: number): void {
  for (;;) {
    const cur = Atomics.load(claim, STOP)
    if (id >= cur || Atomics.compareExchange(claim, STOP, cur, id) === cur) return
  }
}

/** The next unit this thread should run, or -1: claimed in order, none after a unit that threw. */
export function claimUnit(claim: Int32Array, n: number): number {
  const id = Atomics.add(claim, NEXT, 1)
  return id < n && id <= Atomics.load(claim, STOP) ? id : -1
}

/** What the workers start with: every unit, and the shared claim counters. */
export interface PoolData {
  units: UnitMessage[]
  claim: Int32Array
}

/**
 * The main thread and `n - 1` workers claim the units in order from a shared
 * counter, so a worker never waits for the main thread to hand it work; the
 * main thread runs units too, and a worker still loading when the main thread
 * has claimed everything (a small workload) is simply ended.
 */
function runPool(units: readonly Unit[], n: number, opts: UnitOptions): Promise<LayoutRun[]> {
  const N = units.length
  const results: Array<LayoutRun | undefined> = new Array(N)
  const errors: Array<Error | undefined> = new Array(N)
  const finished: boolean[] = new Array(N).fill(false)
  const held: string[][] = Array.from({ length: N }, () => [])
  const claim = new Int32Array(new SharedArrayBuffer(8))
  claim[STOP] = N
  /** The lowest unfinished unit: its trace prints live. */
  let head = 0
  const { entry, eval: isEval, execArgv } = workerEntry()
  const data: PoolData = {
    claim,
    units: units.map((u, id) => ({
      id,
      spec: u.spec,
      over: u.over,
      layout: u.layout,
      multiRmap: u.multiRmap,
      check: u.check,
      maps: opts.maps,
      trace: u.trace && Boolean(opts.trace),
    })),
  }

  return new Promise<LayoutRun[]>((resolve, reject) => {
    const workers: Worker[] = []
    const running = new Map<Worker, number>()
    let settled = false
    const stopAt = () => Atomics.load(claim, STOP)

    const trace = (id: number, line: string) => {
      if (id === head) opts.trace?.(line)
      else if (id <= stopAt()) held[id]!.push(line)
    }
    // Print the held trace of units as their turn comes; never past a unit that threw.
    const advance = () => {
      while (head < N) {
        for (const line of held[head]!) opts.trace?.(line)
        held[head] = []
        if (!finished[head] || errors[head]) break
        head++
      }
    }
    const settle = () => {
      if (settled) return
      const last = Math.min(stopAt(), N - 1)
      for (let i = 0; i <= last; i++) if (!finished[i]) return
      settled = true
      void Promise.all(workers.map((w) => w.terminate())).then(() => {
        if (stopAt() < N) reject(errors[stopAt()])
        else resolve(results as LayoutRun[])
      })
    }
    const finish = (id: number, err?: Error) => {
      if (finished[id]) return
      finished[id] = true
      if (err) {
        errors[id] = err
        stopAfter(claim, id)
        // Units after it would never have run serially: stop the workers running them.
        for (const [w, u] of running) if (u > id) void w.terminate()
      } else opts.progress?.(id, 1)
      advance()
      settle()
    }

    for (let k = 0; k < (opts.workersOnly ? n : n - 1); k++) {
      const w = new Worker(entry, { eval: isEval, execArgv, workerData: data, stdout: false, stderr: false })
      workers.push(w)
      w.on('message', (m: WorkerReply) => {
        if (m.type === 'start') {
          running.set(w, m.id)
          opts.progress?.(m.id, 0)
        } else if (m.type === 'progress') {
          if (!finished[m.id]) opts.progress?.(m.id, m.fraction)
        } else if (m.type === 'trace') trace(m.id, m.line)
        else {
          running.delete(w)
          if (m.type === 'done') {
            results[m.id] = m.run
            finish(m.id)
          } else finish(m.id, toError(m))
        }
      })
      // A worker that dies while running a unit (out of memory, a crash) fails that unit; one
      // that cannot start (its entry missing from the package) fails the command: bugs, both.
      const died = (e: Error) => {
        const id = running.get(w)
        running.delete(w)
        if (settled) return
        if (id === undefined) {
          settled = true
          void Promise.all(workers.map((x) => x.terminate())).then(() =>
            reject(Object.assign(new Error(`a worker thread failed: ${e.message}`), { stack: e.stack })),
          )
        } else if (!finished[id])
          finish(
            id,
            Object.assign(new Error(`worker thread for unit ${id + 1} died: ${e.message}`), {
              stack: e.stack,
            }),
          )
      }
      w.on('error', died)
      w.on('exit', (code) => {
        if (running.has(w)) died(new Error(`worker exited with code ${code}`))
      })
    }

    // The main thread takes units too, yielding between them so the workers' messages come in.
    void (async () => {
      if (opts.workersOnly) return
      for (let id = claimUnit(claim, N); id >= 0; id = claimUnit(claim, N)) {
        const u = units[id]!
        opts.progress?.(id, 0)
        try {
          results[id] = runOnLayout(
            u.workload,
            u.resolved,
            {
              checkEachStep: u.check,
              maps: opts.maps,
              progress: (f) => opts.progress?.(id, f),
              ...(u.trace && opts.trace ? { trace: (line: string) => trace(id, line) } : {}),
            },
            u.multiRmap,
          )
          finish(id)
        } catch (e) {
          finish(id, e instanceof Error ? e : new Error(String(e)))
        }
        await new Promise((r) => setImmediate(r))
      }
      settle()
    })()
  })
}

/** A worker's error as the serial run would have thrown it. */
function toError(m: Extract<WorkerReply, { type: 'error' }>): Error {
  if (m.problems) return new BadInputError(m.problems)
  const e = new Error(m.message)
  e.stack = m.stack
  return e
}
