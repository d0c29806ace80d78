/**
 * `pnpm conformance`: run the conformance test of every arch package
 * (`arch/<name>/test/conformance.test.ts`, through the root vitest projects, so
 * each runs with its own expectations) and print the arch × check matrix.
 *
 * Rows are check groups (`enc.swp`, `pt.count`, `mmu.flush`...; the worst cell
 * of the group wins); `--ids` shows one row per check id instead. `--verbose`
 * also prints vitest's own report. Exit code 1 when a check fails, a shipped arch did not
 * run, or a test module could not load.
 */
import { fileURLToPath } from 'node:url'
import { startVitest } from 'vitest/node'
import { buildMatrix, hasFailures, renderMatrix } from './matrix.js'
import { MatrixReporter } from './reporter.js'

const args = new Set(process.argv.slice(2))
const root = fileURLToPath(new URL('../../../', import.meta.url))
const reporter = new MatrixReporter()

const vitest = await startVitest('test', ['test/conformance.test.ts'], {
  root,
  watch: false,
  reporters: args.has('--verbose') ? ['default', reporter] : [reporter],
})
await vitest.close()

const matrix = buildMatrix(reporter.records, { byGroup: !args.has('--ids') })
console.log(renderMatrix(matrix))
for (const e of reporter.errors) console.log(`! ${e}`)
process.exit(hasFailures(matrix) || reporter.errors.length > 0 ? 1 : 0)
