/**
 * @rmaplab/cli: the `rmaplab` command, and the pieces it is built from for
 * programs that want to load, validate and run workloads themselves.
 *
 * @packageDocumentation
 */
export { type ChartSpec, lineChart, type Series } from './chart.js'
export { type Io, loadTarget, main } from './cli.js'
export { BadInputError, EXIT } from './errors.js'
export { type Experiment, experiment, experiments } from './experiments/index.js'
export { failureText, jsonReport, meminfoText, metricsTable } from './report.js'
export { ARCHES, type Layout, newMachine, resolveLayouts } from './run/layouts.js'
export { type Failure, type LayoutRun, type RunHooks, runOnLayout } from './run/runner.js'
export { compileExpr, ExprError } from './workload/expr.js'
export {
  ARCH_NAMES,
  STEP_KINDS,
  STEP_SCHEMAS,
  WorkloadSchema,
  workloadJsonSchema,
} from './workload/schema.js'
export { objectSource, parseText, type Source } from './workload/source.js'
export { validateWorkload, type Workload } from './workload/validate.js'
