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

/** Bad input: reported with its position(s) and exit code 2, before anything runs. */
export class BadInputError extends Error {
  override name = 'BadInputError'
  constructor(
    /** One line per problem, e.g. `w.yaml:3:7: steps[0].mmap.prot: expected ...`. */
    readonly problems: readonly string[],
  ) {
    super(problems.join('\n'))
  }
}
