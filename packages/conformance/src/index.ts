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
  conformanceLabel,
  conformanceManifest,
  DEFAULT_NUM_RUNS,
  DESIGN_INDEPENDENT,
  fixtureFor,
  META_EXPECTATIONS_ID,
  runConformance,
  selectedProfiles,
  testName,
} from './manifest.js'
export { describeArchConformance, expectationSuffix, SUITE_PREFIX, suiteLabelOf } from './suite.js'

/**
 * The ids of the whole-VM checks that express the published acceptance
 * scenarios needing no swap-out (docs/scenarios.md A1 … H2), in scenario order;
 * `vm.h2` runs once per kernel profile.
 */
export const VM_SCENARIO_CHECKS: readonly string[] = [
  'vm.a1',
  'vm.a3',
  'vm.a6',
  'vm.b1',
  'vm.b2',
  'vm.b3',
  'vm.b4',
  'vm.c1',
  'vm.c1.swap',
  'vm.c3',
  'vm.c3.swap',
  'vm.c7',
  'vm.c8',
  'vm.d1',
  'vm.d2',
  'vm.d4',
  'vm.d4.file',
  'vm.e1',
  'vm.e1.swap',
  'vm.e2',
  'vm.e3',
  'vm.f2',
  'vm.f4',
  'vm.g2',
  'vm.h2[2.6.5-aa]',
  'vm.h2[2.6.7]',
  'vm.h2[2.6.4]',
]
export type * from './types.js'
