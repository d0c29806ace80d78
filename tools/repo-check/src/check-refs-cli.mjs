#!/usr/bin/env node
/**
 * `pnpm --filter @rmaplab/repo-check check-refs`: print every reference to a
 * path that is not in the repository; exit 1 if there is any.
 */
import { checkRefs, formatProblems } from './check-refs.mjs'
import { workingTree } from './files.mjs'

const problems = checkRefs(workingTree())
if (problems.length) {
  console.error(formatProblems(problems))
  console.error(`\n${problems.length} reference(s) to paths that are not in the repository`)
  process.exitCode = 1
} else {
  console.log('every reference resolves')
}
