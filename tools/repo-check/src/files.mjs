/**
 * The repository as the checks see it: its root, its tracked files (plus new
 * files not yet committed, so a check run before `git add` sees them), and
 * readers over the working tree.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (two levels above this package). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** Folders a walk of a checkout without git skips (what .gitignore leaves out). */
const IGNORED = new Set(['.git', 'node_modules', 'dist', '.turbo', 'coverage', '.rmaplab'])

/**
 * Every file under `root` but the ignored folders, for a copy of the
 * repository that is not a git checkout.
 *
 * @param {string} root
 * @param {string} [dir]
 * @returns {string[]}
 */
function walk(root, dir = '') {
  const out = []
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (IGNORED.has(e.name) || e.name.endsWith('.tsbuildinfo')) continue
    const rel = dir ? `${dir}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...walk(root, rel))
    else if (e.isFile()) out.push(rel)
  }
  return out
}

/**
 * Tracked and untracked-but-not-ignored files, repository-relative, that still
 * exist in the working tree (a plain walk when `root` is not a git checkout).
 *
 * @param {string} [root]
 * @returns {string[]}
 */
export function repoFiles(root = ROOT) {
  let out
  try {
    out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
  } catch {
    return walk(root).sort()
  }
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => existsSync(join(root, f))).sort()
}

/**
 * A repository view for {@link import('./check-refs.mjs').checkRefs}.
 *
 * @param {string} [root]
 */
export function workingTree(root = ROOT) {
  return {
    files: repoFiles(root),
    read: (path) => readFileSync(join(root, path), 'utf8'),
    exists: (path) => existsSync(join(root, path)),
  }
}
