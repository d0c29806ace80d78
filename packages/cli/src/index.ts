/**
 * @rmaplab/cli: the `rmaplab` command. The workload format, the experiments
 * and the runner it is built on are @rmaplab/workload's; they are re-exported
 * here for programs that imported them from the cli.
 *
 * @packageDocumentation
 */
export {
  ARCH_NAMES,
  ARCHES,
  BadInputError,
  compileExpr,
  type Experiment,
  ExprError,
  experiment,
  experiments,
  type Failure,
  type Layout,
  type LayoutRun,
  newMachine,
  objectSource,
  parseText,
  type RunHooks,
  resolveLayouts,
  runOnLayout,
  type Source,
  STEP_KINDS,
  STEP_SCHEMAS,
  validateWorkload,
  type Workload,
  WorkloadSchema,
  workloadJsonSchema,
} from '@rmaplab/workload'
export { type ChartSpec, lineChart, type Series } from './chart.js'
export { type Io, loadTarget, main } from './cli.js'
export { EXIT } from './errors.js'
export { failureText, jsonReport, meminfoText, metricsTable } from './report.js'
