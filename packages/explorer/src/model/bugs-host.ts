/**
 * Where the page runs a bug demo: in a module worker (`bugs-worker.ts`) when
 * the browser can start one, else in the page itself (the queue still yields
 * between demos). Browser-only; the e2e tests cover it.
 */
import { type DemoReport, runBugDemo, yieldToPage } from './bugs.js'

export interface DemoHost {
  /** `'worker'` or `'page'`. */
  readonly where: string
  run(name: string): Promise<DemoReport>
  close(): void
}

type Reply = { id: number; report?: DemoReport; error?: string }

/** A host for demo runs: a worker if possible. */
export function demoHost(): DemoHost {
  let worker: Worker | null = null
  try {
    worker = new Worker(new URL('./bugs-worker.ts', import.meta.url), { type: 'module' })
  } catch {
    worker = null
  }
  if (!worker)
    return {
      where: 'page',
      run: async (name) => {
        await yieldToPage()
        return runBugDemo(name)
      },
      close: () => {},
    }
  const w = worker
  const pending = new Map<number, { ok: (r: DemoReport) => void; fail: (e: Error) => void }>()
  let next = 1
  w.addEventListener('message', (e: MessageEvent<Reply>) => {
    const p = pending.get(e.data.id)
    if (!p) return
    pending.delete(e.data.id)
    if (e.data.report) p.ok(e.data.report)
    else p.fail(new Error(e.data.error ?? 'the demo worker failed'))
  })
  w.addEventListener('error', (e) => {
    for (const p of pending.values()) p.fail(new Error(`the demo worker failed: ${e.message}`))
    pending.clear()
  })
  return {
    where: 'worker',
    run: (name) =>
      new Promise<DemoReport>((ok, fail) => {
        const id = next++
        pending.set(id, { ok, fail })
        w.postMessage({ id, name })
      }),
    close: () => w.terminate(),
  }
}
