/**
 * `describeArchConformance(arch, options)`: register the conformance suite for
 * one arch with vitest, one `it` per applicable check of the manifest.
 */
import type { Arch } from '@rmaplab/rmap'
import { describe, it } from 'vitest'
import { conformanceLabel, runnableChecks } from './manifest.js'
import type { ConformanceOptions, Layer } from './types.js'

/** Prefix of the top-level describe block: `rmaplab conformance: <arch or label>`. */
export const SUITE_PREFIX = 'rmaplab conformance: '

/** The arch label of a top-level suite name, or undefined for other suites. */
export function suiteLabelOf(suiteName: string): string | undefined {
  return suiteName.startsWith(SUITE_PREFIX) ? suiteName.slice(SUITE_PREFIX.length) : undefined
}

const LAYERS: readonly Layer[] = [
  'geometry and encodings',
  'page-table pages',
  'MMU cache',
  'whole VM',
  'meta',
]

/** Text appended to the name of a test with a recorded known gap. */
export function expectationSuffix(mode: 'fail' | 'skip', reason: string): string {
  return mode === 'fail' ? ` [expected failure: ${reason}]` : ` [skipped: ${reason}]`
}

/**
 * Register the suite for `arch` inside a `describe` block named
 * `rmaplab conformance: <arch.name>` (`<arch.name>/<design>` with a design
 * other than objrmap in `options.rmap`, or `options.label`). Call it at the
 * top level of a vitest test file, once per design to run the rmap axis:
 *
 * ```ts
 * for (const rmap of RMAP_STRATEGIES) describeArchConformance(i386, { rmap })
 * ```
 */
export function describeArchConformance(arch: Arch, options: ConformanceOptions = {}): void {
  const checks = runnableChecks(arch, options)
  describe(`${SUITE_PREFIX}${conformanceLabel(arch, options)}`, () => {
    for (const layer of LAYERS) {
      const here = checks.filter((c) => c.layer === layer && c.applicable)
      if (here.length === 0) continue
      describe(layer, () => {
        for (const c of here) {
          const e = c.expectation
          const name = e ? `${c.name}${expectationSuffix(e.mode, e.reason)}` : c.name
          it(name, { fails: e?.mode === 'fail', skip: e?.mode === 'skip' }, () => c.run())
        }
      })
    }
  })
}
