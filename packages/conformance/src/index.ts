/**
 * @rmaplab/conformance: the cross-arch conformance suite of rmaplab. One call,
 * `describeArchConformance(arch)`, registers vitest tests that check an
 * {@link Arch} against the kernel facts (geometry, pte encodings, limits),
 * page-table page handling and per-cpu accounting, MMU-cache coherence, and
 * the whole VM running the acceptance scenarios on the arch.
 *
 * @packageDocumentation
 */
export { FIXTURES } from './fixtures/index.js'
export {
  type CheckOutcome,
  checkIdOf,
  conformanceManifest,
  DEFAULT_NUM_RUNS,
  fixtureFor,
  META_EXPECTATIONS_ID,
  runConformance,
  selectedProfiles,
  testName,
} from './manifest.js'
export { describeArchConformance, expectationSuffix, SUITE_PREFIX, suiteLabelOf } from './suite.js'
export type * from './types.js'
