import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, readFileSync } from 'node:fs'
import { copyFile, cp, mkdir, readlink, symlink } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root: three levels above this file (tools/release-rehearsal/src/lib). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '')

export interface WorkspacePackage {
  name: string
  version: string
  /** Absolute path. */
  path: string
  /** Relative to the repository root, e.g. `arch/ppc64`. */
  dir: string
  private: boolean
}

/** The workspace's packages, as pnpm sees them (`pnpm ls -r`), without the root. */
export function listWorkspacePackages(root: string, env: NodeJS.ProcessEnv): WorkspacePackage[] {
  const out = execFileSync('pnpm', ['ls', '-r', '--depth', '-1', '--json'], {
    cwd: root,
    env,
    encoding: 'utf8',
  })
  const rows = JSON.parse(out) as { name: string; version: string; path: string; private?: boolean }[]
  return rows
    .filter((row) => row.path !== root)
    .map((row) => ({
      name: row.name,
      version: row.version,
      path: row.path,
      dir: relative(root, row.path),
      private: row.private === true,
    }))
    .sort((a, b) => a.dir.localeCompare(b.dir))
}

/** The packages that get published: not private. */
export function publishedPackages(root: string, env: NodeJS.ProcessEnv): WorkspacePackage[] {
  return listWorkspacePackages(root, env).filter((p) => !p.private)
}

function git(root: string, args: string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
}

/** What `git status` shows, made exact: the porcelain status and a hash of each modified or untracked file. */
export interface GitFingerprint {
  status: string
  contents: Map<string, string>
}

export function gitFingerprint(root: string): GitFingerprint {
  const status = git(root, ['status', '--porcelain=v1', '--untracked-files=all'])
  const contents = new Map<string, string>()
  const paths = git(root, ['ls-files', '-z', '--modified', '--others', '--exclude-standard'])
    .split('\0')
    .filter(Boolean)
  for (const path of paths) {
    let digest: string
    try {
      digest = createHash('sha256')
        .update(readFileSync(join(root, path)))
        .digest('hex')
    } catch {
      digest = '(unreadable)'
    }
    contents.set(path, digest)
  }
  return { status, contents }
}

/** How the working tree differs between two fingerprints, one line per difference; empty if it does not. */
export function fingerprintChanges(before: GitFingerprint, after: GitFingerprint): string[] {
  const changes: string[] = []
  const lines = (status: string) => new Set(status.split('\n').filter(Boolean))
  const was = lines(before.status)
  const is = lines(after.status)
  for (const line of is) if (!was.has(line)) changes.push(`git status now shows: ${line}`)
  for (const line of was) if (!is.has(line)) changes.push(`git status no longer shows: ${line}`)
  for (const [path, digest] of after.contents) {
    const old = before.contents.get(path)
    if (old !== undefined && old !== digest) changes.push(`content changed: ${path}`)
  }
  return changes
}

/**
 * Copies the working tree as git sees it (tracked files as they are on disk,
 * plus untracked files that are not ignored; no node_modules, dist or other
 * ignored output) into `dest`. Returns how many files were copied.
 */
export async function copyWorkingTree(root: string, dest: string): Promise<number> {
  const paths = git(root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard'])
    .split('\0')
    .filter(Boolean)
  let copied = 0
  const made = new Set<string>()
  for (const path of new Set(paths)) {
    const from = join(root, path)
    let stat: ReturnType<typeof lstatSync>
    try {
      stat = lstatSync(from)
    } catch {
      continue // deleted in the working tree
    }
    const to = join(dest, path)
    const parent = dirname(to)
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true })
      made.add(parent)
    }
    if (stat.isSymbolicLink()) await symlink(await readlink(from), to)
    else if (stat.isFile()) await copyFile(from, to)
    else continue
    copied++
  }
  return copied
}

/** Copies a build output folder (ignored by git, so not in the working-tree copy). */
export async function copyBuildOutput(root: string, dest: string, dir: string): Promise<void> {
  const from = join(root, dir)
  if (!existsSync(from)) throw new Error(`${dir} does not exist: was the build skipped?`)
  await cp(from, join(dest, dir), { recursive: true })
}
