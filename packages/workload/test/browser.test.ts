/**
 * The package runs in a browser: esbuild bundles it for the browser platform
 * (a Node built-in anywhere in its import graph fails the build), and the
 * bundle, evaluated without Node's globals in scope, steps a demo.
 */
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

describe('a browser bundle', () => {
  it('bundles for platform browser and steps a demo', async () => {
    const entry = new URL('../src/index.ts', import.meta.url).pathname
    const r = await build({
      stdin: {
        contents: `import { createRun, loadExperiment } from ${JSON.stringify(entry)}
const run = createRun(loadExperiment('a1').workload, { layout: 'ppc' })
const labels = []
while (!run.done) labels.push(run.step().label)
globalThis.__result = { labels, ok: run.result().ok, ptes: run.machine.meminfo().PageTables }`,
        resolveDir: new URL('..', import.meta.url).pathname,
        loader: 'ts',
      },
      bundle: true,
      platform: 'browser',
      format: 'iife',
      conditions: ['@rmaplab/source'],
      write: false,
      logLevel: 'silent',
    })
    const code = r.outputFiles[0]!.text
    expect(code).not.toMatch(/require\("(node:)?(fs|path|url|os|child_process)"\)/)
    // No process, Buffer or require in scope, as in a page.
    const g: Record<string, unknown> = {}
    new Function('globalThis', 'process', 'Buffer', 'require', code)(g, undefined, undefined, undefined)
    const result = g['__result'] as { labels: string[]; ok: boolean }
    expect(result.ok).toBe(true)
    expect(result.labels[0]).toBe('spawn → p')
  })
})
