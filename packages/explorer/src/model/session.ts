/**
 * A session: one workload on one or two layouts (lanes), a position in its
 * steps, the diff of the last step, and the metrics of every step reached.
 * Going forward runs the next step; going back re-runs the workload from the
 * start up to the step (the model is deterministic, so the machine is the
 * same one), so no snapshot of a whole machine is ever kept.
 */
import type { Machine } from '@rmaplab/rmap'
import { diff, type StepDiff, snapshot } from './diff.js'
import type { LoadedWorkload, Stepper, StepResult } from './workload.js'

/** The small charts' series, one value per step. */
export interface Metrics {
  PageTables: number
  Mapped: number
  rmapBytes: number
  /** ptes probed by rmap walks during the step. */
  walkPtes: number
  /** vmas visited by rmap walks during the step. */
  walkVmas: number
}

export interface Lane {
  layout: string
  stepper: Stepper
  /** Changes of the step that led to the current position (null at 0). */
  diff: StepDiff | null
  /** The failure of a step, if one failed; stepping stops there. */
  failure: { step: number; message: string } | null
  /** metrics[i]: after i steps. */
  metrics: Metrics[]
  /** The runner's summary and notices of the step that led here. */
  said: { summary: string; notices: readonly string[] }
  /** Time of the last forward step in ms: model and diff separately. */
  lastStepMs: { model: number; diff: number }
  /** The next step already run on a second machine (see {@link Session.prefetch}), or null. */
  ahead: Lane | null
  /** A machine no longer shown, reused for the next prefetch. */
  spare: Stepper | null
}

function metrics(m: Machine, prevProbes: { v: number; p: number }): Metrics {
  const mi = m.meminfo()
  const st = m.stats()
  return {
    PageTables: mi.PageTables,
    Mapped: mi.Mapped,
    rmapBytes: st.rmapBytes.total,
    walkPtes: st.rmap.ptesProbed - prevProbes.p,
    walkVmas: st.rmap.vmasVisited - prevProbes.v,
  }
}

function probes(m: Machine): { v: number; p: number } {
  const c = m.counters.rmap
  return { v: c.vmasVisited, p: c.ptesProbed }
}

export class Session {
  readonly workload: LoadedWorkload
  readonly rmap: string
  lanes: Lane[]
  /** Metrics per layout, kept across re-runs (the model is deterministic). */
  private readonly known = new Map<string, Metrics[]>()

  constructor(workload: LoadedWorkload, layouts: readonly string[], rmap?: string) {
    this.workload = workload
    this.rmap = rmap ?? workload.rmaps[0] ?? 'objrmap'
    this.lanes = layouts.map((l) => this.freshLane(l))
  }

  private freshLane(layout: string): Lane {
    const stepper = this.workload.start(layout, this.rmap)
    let known = this.known.get(layout)
    if (!known) {
      known = [metrics(stepper.machine, { v: 0, p: 0 })]
      this.known.set(layout, known)
    }
    return {
      layout,
      stepper,
      diff: null,
      failure: null,
      metrics: known,
      said: { summary: '', notices: [] },
      lastStepMs: { model: 0, diff: 0 },
      ahead: null,
      spare: null,
    }
  }

  get position(): number {
    return this.lanes[0]?.stepper.position ?? 0
  }

  get length(): number {
    return this.workload.steps.length
  }

  /** Run every lane to step `n` (0..length): forward by stepping, back by re-running. */
  goTo(n: number): void {
    const target = Math.max(0, Math.min(this.length, Math.floor(n)))
    this.lanes = this.lanes.map((lane) => {
      let l = lane
      const a = l.ahead
      if (a && !l.failure && target === l.stepper.position + 1 && a.stepper.position === target) {
        // The next step was run ahead: show that machine, keep this one for the next prefetch.
        return { ...a, ahead: null, spare: l.stepper }
      }
      if (target < l.stepper.position || (l.failure && target <= l.failure.step)) {
        l = this.freshLane(l.layout)
      }
      while (l.stepper.position < target && !l.failure) this.forward(l, l.stepper.position === target - 1)
      if (l.failure && !l.diff && l.failure.step < target - 1) {
        // A step failed in the middle of a jump: run again to it, with its diff this time.
        const f = l.failure.step
        l = this.freshLane(l.layout)
        while (l.stepper.position <= f && !l.failure) this.forward(l, l.stepper.position === f)
      }
      return l
    })
  }

  /**
   * Run the next step of every lane ahead of time on a second machine (the
   * workload is deterministic, so it is the machine the next step would
   * make), so that stepping forward is only a swap. The caller runs it when
   * the page is idle. Returns whether there was anything to do.
   */
  prefetch(): boolean {
    let worked = false
    for (const l of this.lanes) {
      const next = l.stepper.position + 1
      if (l.failure || next > this.length || l.ahead?.stepper.position === next) continue
      let st = l.spare ?? (l.ahead && l.ahead.stepper.position < next ? l.ahead.stepper : null)
      if (!st || st.position >= next) st = this.workload.start(l.layout, this.rmap)
      const shadow: Lane = {
        ...l,
        stepper: st,
        diff: null,
        failure: null,
        said: { summary: '', notices: [] },
        ahead: null,
        spare: null,
      }
      while (shadow.stepper.position < next && !shadow.failure)
        this.forward(shadow, shadow.stepper.position === next - 1)
      l.ahead = shadow
      l.spare = null
      worked = true
    }
    return worked
  }

  /** One step on a lane; the diff is taken only for the last step of a jump. */
  private forward(l: Lane, withDiff: boolean): void {
    const m = l.stepper.machine
    const before = withDiff ? snapshot(m) : null
    const p0 = probes(m)
    const t0 = performance.now()
    const step = l.stepper.position
    let r: StepResult
    try {
      r = l.stepper.step()
    } catch (e) {
      r = { ok: false, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
    }
    const t1 = performance.now()
    if (!r.ok) l.failure = { step, message: r.message }
    l.said = { summary: r.summary ?? '', notices: r.notices ?? [] }
    l.metrics[l.stepper.position] = metrics(m, p0)
    l.diff = before ? diff(m, before) : null
    l.lastStepMs = { model: t1 - t0, diff: performance.now() - t1 }
  }

  /**
   * Call the kernel function itself on `pfn`, on a copy: the lane's workload
   * re-run to the same step on a fresh machine, so the machine on screen is
   * not changed (page_referenced clears young bits, try_to_unmap unmaps). The
   * answer and the walk's cost, as `m.stats().lastWalk` reports them.
   */
  callOnCopy(
    lane: number,
    pfn: number,
    kind: 'page_referenced' | 'try_to_unmap',
  ): { result: string; vmasVisited: number; ptesProbed: number } {
    const l = this.lanes[lane]!
    const copy = this.workload.start(l.layout, this.rmap)
    while (copy.position < l.stepper.position) if (!copy.step().ok) break
    const m = copy.machine
    let result: string
    try {
      result = kind === 'page_referenced' ? `${m.pageReferenced(pfn)} reference(s)` : m.tryToUnmap(pfn)
    } catch (e) {
      result = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    }
    const w = m.stats().lastWalk
    return { result, vmasVisited: w.vmasVisited, ptesProbed: w.ptesProbed }
  }
}
