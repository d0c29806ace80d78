/** Exit codes of the rmaplab command. */
export const EXIT = {
  /** Everything ran and every assertion held. */
  ok: 0,
  /** An assertion of the workload failed, an invariant broke, or a step failed unexpectedly. */
  failed: 1,
  /** Bad input: a malformed workload, an unknown name, a parameter out of range. */
  badInput: 2,
  /** A bug in rmaplab itself. */
  internal: 3,
} as const

/** Bad input: the workload package's error, reported with its position(s) and exit code 2. */
export { BadInputError } from '@rmaplab/workload'
