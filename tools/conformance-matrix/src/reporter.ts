/**
 * A vitest reporter that keeps the outcome of every conformance test, keyed by
 * arch label and check id, for the matrix.
 */
import { checkIdOf, suiteLabelOf } from '@rmaplab/conformance'
import type { Reporter, SerializedError, TestCase, TestModule } from 'vitest/node'
import type { TestRecord } from './matrix.js'

/** The arch label of the `rmaplab conformance: <label>` suite a test is in, if any. */
function labelOf(test: TestCase): string | undefined {
  let node: TestCase['parent'] = test.parent
  let label: string | undefined
  while (node.type === 'suite') {
    label = suiteLabelOf(node.name) ?? label
    node = node.parent
  }
  return label
}

const firstLine = (s: string | undefined): string | undefined => s?.split('\n').find((l) => l.trim() !== '')

/** Turn one finished test into a record (undefined for tests outside a conformance suite). */
export function recordOf(test: TestCase): TestRecord | undefined {
  const column = labelOf(test)
  if (column === undefined) return undefined
  const id = checkIdOf(test.name)
  const result = test.result()
  const expectedFail = test.options.fails === true
  switch (result.state) {
    case 'passed':
      return { column, id, state: expectedFail ? 'xfail' : 'pass' }
    case 'skipped':
      return { column, id, state: 'skip' }
    case 'failed': {
      const message = expectedFail
        ? 'passes but is recorded as an expected failure: remove the expectation'
        : firstLine(result.errors[0]?.message)
      return { column, id, state: 'fail', ...(message === undefined ? {} : { message }) }
    }
    default:
      return { column, id, state: 'fail', message: 'did not finish' }
  }
}

/** Collects {@link TestRecord}s and the errors that kept a module or the run from finishing. */
export class MatrixReporter implements Reporter {
  readonly records: TestRecord[] = []
  readonly errors: string[] = []

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    for (const mod of testModules) {
      for (const e of mod.errors()) this.errors.push(`${mod.moduleId}: ${firstLine(e.message) ?? 'error'}`)
      for (const test of mod.children.allTests()) {
        const r = recordOf(test)
        if (r) this.records.push(r)
      }
    }
    for (const e of unhandledErrors) this.errors.push(`unhandled: ${firstLine(e.message) ?? 'error'}`)
  }
}
