/**
 * @rmaplab/workload: the rmaplab workload format and its runner, for any host
 * (Node, a browser, a worker): parse YAML or JSON with positioned errors,
 * validate before anything runs, pick a built-in experiment, and run it step
 * by step on a layout, with the Machine open to inspection between steps.
 *
 * ```ts
 * import { createRun, loadExperiment } from '@rmaplab/workload'
 *
 * const { workload } = loadExperiment('a1')
 * const run = createRun(workload, { layout: 'i386' })
 * while (!run.done) {
 *   const s = run.step()
 *   console.log(s.label, s.summary, run.machine.meminfo().AnonPages)
 * }
 * ```
 *
 * @packageDocumentation
 */

/** The rmap designs the core models (a list: new designs appear here without changes to the runner). */
export { RMAP_STRATEGIES } from '@rmaplab/rmap'
export { type CpuPlan, type Plan, type PlanStep, SWAP_MIN_BYTES, sizeProblem } from './analyze.js'
export {
  BUG_DEMO_NAMES,
  BUG_DEMOS,
  type BugDemo,
  type BugDemoCase,
  type BugDemoResult,
  type BugDemoRun,
  bugDemo,
  bugDemoLines,
  bugReplayCommand,
  bugRunFigures,
} from './bugs.js'
export { hex, type Region } from './context.js'
export { BadInputError } from './errors.js'
export {
  type Experiment,
  experiment,
  experiments,
  loadExperiment,
  type VerifyResult,
  verifyExperimentRuns,
} from './experiments/index.js'
export { type ParamDef, type ParamDefs, parseParams, showParam } from './experiments/params.js'
export { CONSTS, type Compiled, compileExpr, type ExprEnv, ExprError } from './expr.js'
export { sizeBytes, WORD_MAX, WORD_MIN } from './format.js'
export {
  ARCHES,
  type Layout,
  type LayoutOverrides,
  layoutName,
  newMachine,
  parseArchList,
  parseRmapList,
  resolveLayouts,
} from './layouts.js'
export { raceScenarioOf } from './race.js'
export {
  createRun,
  type Failure,
  type LayoutRun,
  layoutFor,
  type Notice,
  type Run,
  type RunHooks,
  type RunOptions,
  runOnLayout,
  runToEnd,
  type StepOutcome,
  type WalkTotals,
} from './run.js'
export {
  ARCH_NAMES,
  type ArchName,
  FAILURES,
  MachineSchema,
  type MachineSpec,
  MEMINFO_FIELDS,
  STEP_KINDS,
  STEP_SCHEMAS,
  type Step,
  type StepKind,
  WorkloadSchema,
  workloadJsonSchema,
} from './schema.js'
export {
  MAX_ALIAS_NODES,
  MAX_DEPTH,
  objectSource,
  type PathKey,
  type Pos,
  parseText,
  type Source,
} from './source.js'
export { STEPS, type StepHandler } from './steps/index.js'
export { closest, parseWorkload, validateWorkload, type Workload } from './validate.js'
