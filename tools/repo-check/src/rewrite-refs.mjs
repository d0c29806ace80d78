#!/usr/bin/env node
/**
 * The codemod: rewrite every old reference of the repository (paths into the
 * project's private inputs: `kernel-facts/...`, `../shared/...`,
 * `acceptance/scenarios.md`, `design.md`, bare `rmap.md §2.2`) to the
 * concepts guide in `docs/`, using the map in `refmap.mjs`.
 *
 *   node tools/repo-check/src/rewrite-refs.mjs          rewrite in place
 *   node tools/repo-check/src/rewrite-refs.mjs --check  list what would change, exit 1 if anything
 *
 * Rewritten files are then formatted with biome (a longer string may need
 * its call broken differently, a Markdown table its columns realigned), so
 * `pnpm lint` stays green.
 *
 * Idempotent: run it again after merging other branches; a second run
 * changes nothing. References it cannot resolve are listed and left alone
 * (the reference check in this package then fails on them).
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXEMPT } from './check-refs.mjs'
import { ROOT, workingTree } from './files.mjs'
import { rewriteRefs } from './refmap.mjs'

const TEXT = /\.(?:[cm]?[jt]sx?|json|jsonc|md|ya?ml|txt|svg|html)$/
const dryRun = process.argv.includes('--check')
const tree = workingTree()
const changed = []
const unresolved = []
for (const file of tree.files) {
  if (!TEXT.test(file) || file.endsWith('pnpm-lock.yaml')) continue
  if (file.startsWith('docs/') || EXEMPT.some((re) => re.test(file))) continue
  const before = tree.read(file)
  const after = rewriteRefs(file, before)
  unresolved.push(...after.unresolved)
  if (after.text === before) continue
  changed.push(file)
  if (!dryRun) writeFileSync(join(ROOT, file), after.text)
}
if (!dryRun && changed.length) {
  const code = changed.filter((f) => /\.(?:[cm]?[jt]sx?|json|md)$/.test(f))
  if (code.length)
    execFileSync('pnpm', ['exec', 'biome', 'format', '--write', ...code], { cwd: ROOT, stdio: 'inherit' })
}
for (const f of changed) console.log(`${dryRun ? 'would rewrite' : 'rewrote'} ${f}`)
for (const u of unresolved) console.error(`unresolved: ${u}`)
console.log(
  `${changed.length} file(s) ${dryRun ? 'to rewrite' : 'rewritten'}; ${unresolved.length} unresolved`,
)
if (dryRun && changed.length) process.exitCode = 1
