/**
 * A worker thread of the pool (src/pool.ts): loads each unit's target from its
 * spec, runs the one layout with the workload runner, and posts the result.
 * Nothing here prints: trace lines and progress go to the main thread.
 */
import { parentPort } from 'node:worker_threads'
import { BadInputError, type Layout, resolveLayouts, runOnLayout, type Workload } from '@rmaplab/workload'
import type { UnitMessage, WorkerReply } from './pool.js'
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

port.on('message', (u: UnitMessage) => {
  const post = (m: WorkerReply) => port.postMessage(m)
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
    const err = e instanceof Error ? e : new Error(String(e))
    post({
      type: 'error',
      id: u.id,
      problems: e instanceof BadInputError ? [...e.problems] : undefined,
      message: err.message,
      stack: err.stack ?? String(err),
    })
  }
})
