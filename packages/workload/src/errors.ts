/** Bad input: reported with its position(s), before anything runs (the cli exits with 2). */
export class BadInputError extends Error {
  override name = 'BadInputError'
  constructor(
    /** One line per problem, e.g. `w.yaml:3:7: steps[0].mmap.prot: expected ...`. */
    readonly problems: readonly string[],
  ) {
    super(problems.join('\n'))
  }
}
