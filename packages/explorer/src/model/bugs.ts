/**
 * The bugs of the "Re: 2.6.5-rc1-aa1" thread that a machine can re-introduce
 * (`bugs: [...]`; @rmaplab/rmap's BUGS) and their demos (@rmaplab/workload's
 * BUG_DEMOS), for the explorer's "Bugs of the thread" panel. The registry and
 * the demos are the libraries'; this module lists them with what the registry
 * text names (kernels, LKML message ids, kernel files), runs a demo, and words
 * its result the way `rmaplab bugs NAME` prints it. Plain TypeScript for any
 * host: the page runs it in a worker (`bugs-worker.ts`), node tests it.
 */
import { BUGS } from '@rmaplab/rmap'
import {
  BUG_DEMOS,
  type BugDemo,
  type BugDemoResult,
  type BugDemoRun,
  bugDemo,
  bugDemoLines,
  bugReplayCommand,
  bugRunFigures,
} from '@rmaplab/workload'

/** One bug of the registry, as the panel lists it. */
export interface BugEntry {
  name: string
  /** `'race'` (explored by the interleaving explorer) or `'sequential'` (one run, checked after each step). */
  kind: 'race' | 'sequential'
  /** One line: what the bug was. */
  title: string
  /** The registry's longer description. */
  what: string
  /** Where the fix is. */
  fix: string
  /** What catches the re-introduced bug. */
  caughtBy: string
  /** The kernel versions and patches the registry's text names, in order (`2.6.5-rc1-aa1`, `2.6.4-2.6.10`). */
  kernels: string[]
  /** The LKML message ids it cites (`<…@…>`). */
  messageIds: string[]
  /** The kernel source files it names (`mm/objrmap.c`). */
  files: string[]
  /** The layouts whose code had the bug; null: every layout. */
  arches: readonly string[] | null
  /** True when the bug lives in the objrmap design's code. */
  objrmapOnly: boolean
  /** The rmap designs whose kernel had the bug; null: every design. */
  designs: readonly string[] | null
}

const KERNEL = /\b2\.6\.\d+(?:-rc\d+)?(?:-aa\d+)?(?:[-–]2\.6\.\d+(?:-rc\d+)?)?/g
const MESSAGE_ID = /<[^<>\s]+@[^<>\s]+>/g
const FILE = /\b(?:mm|fs|kernel|arch|include)\/[\w./-]*\w\.[chS]\b/g

function found(re: RegExp, ...texts: string[]): string[] {
  const out: string[] = []
  for (const t of texts)
    for (const m of t.matchAll(re)) {
      const s = m[0].replace('–', '-')
      if (!out.includes(s)) out.push(s)
    }
  return out
}

function entry(d: BugDemo): BugEntry {
  const info = BUGS.find((b) => b.name === d.name)!
  return {
    name: d.name,
    kind: d.kind,
    title: d.title,
    what: d.what,
    fix: d.fix,
    caughtBy: d.caughtBy,
    kernels: found(KERNEL, d.what, d.fix),
    messageIds: found(MESSAGE_ID, d.fix, d.what),
    files: found(FILE, d.fix, d.what),
    arches: info.arches ?? null,
    objrmapOnly: info.objrmapOnly,
    designs: info.designs ?? null,
  }
}

/** Every bug of the registry, in its order. */
export function bugList(): BugEntry[] {
  return BUG_DEMOS.map(entry)
}

/** The names of the bugs, in the registry's order. */
export function bugNames(): string[] {
  return BUG_DEMOS.map((d) => d.name)
}

/** One run (with the bug, or without it) of a case, in the cli's words. */
export interface RunReport {
  bugs: string[]
  caught: boolean
  /** What flagged the run: `'BUG_ON'`, `'m.check()'`, `'assertion'`, `'error'`; '' when clean. */
  by: string
  message: string
  /** Where: the step of a sequential demo, or the preemptions of the failing schedule. */
  at: string[]
  /** `5 schedule(s), 6 run(s) of which 0 infeasible, 48 ms` or `2 step(s), 6 ms`. */
  figures: string
  /**
   * Races: the exploration and the failing schedule, as the registry gives
   * them, and the cli command that replays it ('' when none failed).
   */
  race?: NonNullable<BugDemoRun['race']> & { replay: string }
  steps?: number
  ms: number
}

/** One case of a demo: the same thing on one layout or code path, with the bug and without it. */
export interface CaseReport {
  label: string
  arch: string
  buggy: RunReport
  fixed: RunReport
  /** The buggy run was caught and the fixed run is clean. */
  ok: boolean
}

/** A demo's result. */
export interface DemoReport {
  name: string
  title: string
  fix: string
  cases: CaseReport[]
  /** Every case behaves. */
  ok: boolean
  /** The result as `rmaplab bugs NAME` prints it, line by line. */
  lines: string[]
  /** Wall time of the demo (both runs of every case), in ms. */
  ms: number
}

function runReport(r: BugDemoRun, arch: string): RunReport {
  return {
    bugs: [...r.bugs],
    caught: r.caught,
    by: r.by,
    message: r.message,
    at: [...r.at],
    figures: bugRunFigures(r),
    ...(r.race
      ? {
          race: {
            ...r.race,
            trace: [...r.race.trace],
            replay: bugReplayCommand(r, arch),
          },
        }
      : {}),
    ...(r.steps !== undefined ? { steps: r.steps } : {}),
    ms: r.ms,
  }
}

/** The report of a demo's result (exported for tests: a result made by hand must be worded right). */
export function demoReport(d: Pick<BugDemo, 'title' | 'fix'>, res: BugDemoResult, ms: number): DemoReport {
  const cases = res.cases.map((c) => ({
    label: c.label,
    arch: c.arch,
    buggy: runReport(c.buggy, c.arch),
    fixed: runReport(c.fixed, c.arch),
    ok: c.ok,
  }))
  return { name: res.name, title: d.title, fix: d.fix, cases, ok: res.ok, lines: bugDemoLines(d, res), ms }
}

const clock: () => number =
  typeof globalThis.performance?.now === 'function' ? () => performance.now() : () => Date.now()

/**
 * Run the demo of one bug (with and without it), synchronously; a RangeError
 * naming the valid bugs for an unknown name.
 */
export function runBugDemo(name: string): DemoReport {
  const d = bugDemo(name)
  const t0 = clock()
  const res = d.run()
  return demoReport(d, res, clock() - t0)
}

/** What a queue of demo runs reports, one event at a time. */
export type DemoEvent =
  | { name: string; state: 'running' }
  | { name: string; state: 'done'; report: DemoReport }
  | { name: string; state: 'error'; message: string }

/** Yield to the event loop (a timer, so that the page can paint between demos). */
export const yieldToPage = (): Promise<void> => new Promise((ok) => setTimeout(ok, 0))

/**
 * Run demos one at a time, in order, reporting each as it starts and ends,
 * and yielding to the event loop before each one. `run` is where a demo runs
 * (a worker, or {@link runBugDemo} in this thread); a demo that throws is an
 * `'error'` event and the queue goes on. `cancelled` stops before the next demo.
 */
export async function runQueue(
  names: readonly string[],
  run: (name: string) => DemoReport | Promise<DemoReport>,
  on: (e: DemoEvent) => void,
  cancelled: () => boolean = () => false,
  pause: () => Promise<void> = yieldToPage,
): Promise<void> {
  for (const name of names) {
    if (cancelled()) return
    on({ name, state: 'running' })
    await pause()
    if (cancelled()) return
    try {
      on({ name, state: 'done', report: await run(name) })
    } catch (e) {
      on({ name, state: 'error', message: e instanceof Error ? e.message : String(e) })
    }
  }
}
