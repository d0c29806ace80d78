/**
 * The worker the page runs bug demos in, so that a race demo's exploration
 * (hundreds of ms) never blocks the page: `{ id, name }` in, `{ id, report }`
 * or `{ id, error }` out.
 */
import { runBugDemo } from './bugs.js'

interface Port {
  addEventListener(type: 'message', fn: (e: MessageEvent<{ id: number; name: string }>) => void): void
  postMessage(m: unknown): void
}

const port = globalThis as unknown as Port
port.addEventListener('message', (e) => {
  const { id, name } = e.data
  try {
    port.postMessage({ id, report: runBugDemo(name) })
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) })
  }
})
