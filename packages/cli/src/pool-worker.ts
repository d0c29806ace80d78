/**
 * A worker thread of the pool (src/pool.ts): claims units in order from the
 * shared counter, loads each unit's target from its spec, runs the one layout
 * with the workload runner, and posts the result.
 * Nothing here prints: trace lines and progress go to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { BadInputError, type Layout, resolveLayouts, runOnLayout, type Workload } from '@rmaplab/workload'
import { claimUnit, type PoolData, stopAfter, type UnitMessage, type WorkerReply } from './pool.js'
import { loadSpec } from './target.js'

const port = parentPort
if (!port) throw new Error('pool-worker.ts runs as a worker thread of the rmaplab command')

/** Targets loaded so far, by spec and overrides: a worker runs several layouts of one target. */
const loaded = new Map<string, { workload: Workload; layouts: Layout[] }>()

function layoutsOf(u: UnitMessage): { workload: Workload; layouts: Layout[] } {
  const key = JSON.stringify([u.spec, u.over])
  let t = loaded.get(key)
  if (!t) {
    const { workload } = loadSpec(u.spec)
    t = { workload, layouts: resolveLayouts(workload.machine, workload.source, u.over, workload.steps) }
    loaded.set(key, t)
  }
  return t
}

const post = (m: WorkerReply) => port.postMessage(m)

/** Run one unit and post its result (or its error, to be thrown as the serial run would). */
function runUnit(u: UnitMessage, claim: Int32Array): void {
  post({ type: 'start', id: u.id })
  try {
    const { workload, layouts } = layoutsOf(u)
    const layout = layouts[u.layout]
    if (!layout)
      throw new Error(`unit ${u.id}: no layout ${u.layout} (the target resolved to ${layouts.length})`)
    const run = runOnLayout(
      workload,
      layout,
      {
        checkEachStep: u.check,
        maps: u.maps,
        progress: (fraction) => post({ type: 'progress', id: u.id, fraction }),
        ...(u.trace ? { trace: (line: string) => post({ type: 'trace', id: u.id, line }) } : {}),
      },
      u.multiRmap,
    )
    post({ type: 'done', id: u.id, run })
  } catch (e) {
    stopAfter(claim, u.id)
    const err = e instanceof Error ? e : new Error(String(e))
    post({
      type: 'error',
      id: u.id,
      problems: e instanceof BadInputError ? [...e.problems] : undefined,
      message: err.message,
      stack: err.stack ?? String(err),
    })
  }
}

// Claim units in order until none is left (or one threw), then wait to be ended.
const { units, claim } = workerData as PoolData
for (let id = claimUnit(claim, units.length); id >= 0; id = claimUnit(claim, units.length))
  runUnit(units[id]!, claim)
