/**
 * Output directories (`compare --chart <dir>`): made and checked before
 * anything runs, so a path that cannot hold files is bad input (exit 2) rather
 * than an error after a long run.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { BadInputError } from './errors.js'

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code

/**
 * Make `dir` and its missing parents one level at a time, and check that files
 * can be created in it. Node's `mkdirSync(p, { recursive: true })` is not used:
 * under a directory that refuses every mkdir with ENOENT (`/proc`) it retries
 * forever. Throws a {@link BadInputError} that names `option` and the part of
 * the path that is wrong.
 */
export function prepareOutputDir(dir: string, option: string): void {
  const bad = (why: string) => new BadInputError([`${option} ${dir}: ${why}`])
  const abs = resolve(dir)
  // The missing components, deepest first, up to the nearest one that exists.
  const missing: string[] = []
  let at = abs
  for (;;) {
    let isDir: boolean
    try {
      isDir = statSync(at).isDirectory()
    } catch (e) {
      const code = codeOf(e)
      if (code === 'ENOENT' && dirname(at) !== at) {
        missing.push(at)
        at = dirname(at)
        continue
      }
      if (code === 'ENOTDIR') {
        // A file somewhere above: find and name it.
        let up = dirname(at)
        while (dirname(up) !== up && !isFile(up)) up = dirname(up)
        throw bad(`${up} is a file, not a directory`)
      }
      throw bad(`cannot be used (${code ?? String(e)})`)
    }
    if (!isDir) throw bad(`${at} is a file, not a directory`)
    break
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d)
    } catch (e) {
      if (codeOf(e) === 'EEXIST' && statSync(d).isDirectory()) continue
      throw bad(`cannot create ${d} (${codeOf(e) ?? String(e)})`)
    }
  }
  try {
    accessSync(abs, constants.W_OK | constants.X_OK)
  } catch (e) {
    throw bad(`cannot write there (${codeOf(e) ?? String(e)})`)
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile()
  } catch {
    return false
  }
}
