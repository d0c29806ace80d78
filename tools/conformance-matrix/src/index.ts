/**
 * @rmaplab/conformance-matrix (private): runs every arch package's conformance
 * test and prints the arch × check matrix. `pnpm conformance` at the root.
 *
 * @packageDocumentation
 */
export * from './matrix.js'
export { MatrixReporter, recordOf } from './reporter.js'
