import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { readTarball } from './tarball.js'

export interface PackageJson {
  name: string
  version: string
  private?: boolean
  bin?: string | Record<string, string>
  exports?: unknown
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  [key: string]: unknown
}

const DEP_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'] as const

/** Every string target of an `exports` map. */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports]
  if (exports === null || typeof exports !== 'object') return []
  return Object.values(exports).flatMap(exportTargets)
}

export interface TarballReport {
  files: number
  bytes: number
  internalDeps: string[]
  /** Defects that do not break an install: printed, not fatal. */
  warnings: string[]
}

/**
 * What a user gets from the registry, checked: the manifest inside the
 * tarball has no `workspace:` range left and no `@rmaplab/source` condition,
 * depends on its siblings at the rehearsed version, and every file its
 * `exports` and `bin` name is in the tarball, with a README and a licence, and
 * no build info or tests. Source or declaration maps naming files that are
 * not shipped are reported as warnings.
 */
export function checkTarball(tgz: Uint8Array, name: string, version: string): TarballReport {
  const files = readTarball(tgz)
  const problems: string[] = []
  const raw = files.get('package/package.json')
  if (!raw) throw new Error(`${name}: the tarball has no package/package.json`)
  const manifest = JSON.parse(raw.toString('utf8')) as PackageJson
  if (manifest.name !== name || manifest.version !== version) {
    problems.push(`packed manifest is ${manifest.name}@${manifest.version}, expected ${name}@${version}`)
  }
  const internalDeps: string[] = []
  for (const field of DEP_FIELDS) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (range.includes('workspace:')) problems.push(`${field}.${dep} is still "${range}"`)
      else if (dep.startsWith('@rmaplab/') && field !== 'devDependencies') {
        internalDeps.push(`${dep}@${range}`)
        if (!range.includes(version))
          problems.push(`${field}.${dep} is "${range}", not the rehearsed ${version}`)
      }
    }
  }
  if (raw.toString('utf8').includes('workspace:'))
    problems.push('"workspace:" appears in the packed package.json')
  if (JSON.stringify(manifest.exports ?? null).includes('@rmaplab/source')) {
    problems.push('exports still has the @rmaplab/source condition (publishConfig.exports not applied)')
  }
  const targets = exportTargets(manifest.exports)
  if (targets.length === 0) problems.push('no exports')
  const bins = typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {})
  for (const target of [...targets, ...bins]) {
    if (target.includes('*')) continue
    const path = `package/${target.replace(/^\.\//, '')}`
    if (!files.has(path)) problems.push(`${target} (named by exports/bin) is not in the tarball`)
  }
  if (!targets.some((t) => t.endsWith('.d.ts'))) problems.push('exports name no .d.ts types')
  for (const required of ['package/README.md', 'package/LICENSE']) {
    if (!files.has(required)) problems.push(`${required.slice(8)} is not in the tarball`)
  }
  for (const path of files.keys()) {
    if (/\.tsbuildinfo$|^package\/test\/|\.test\.[cm]?[jt]s$/.test(path))
      problems.push(`${path} should not be published`)
  }
  // Source and declaration maps must point at files that are shipped too.
  const dangling = new Set<string>()
  for (const [path, content] of files) {
    if (!path.endsWith('.map')) continue
    let map: { sources?: string[]; sourceRoot?: string }
    try {
      map = JSON.parse(content.toString('utf8')) as typeof map
    } catch {
      problems.push(`${path} is not JSON`)
      continue
    }
    for (const source of map.sources ?? []) {
      const target = posix.normalize(posix.join(posix.dirname(path), map.sourceRoot ?? '', source))
      if (!files.has(target)) dangling.add(target.slice('package/'.length))
    }
  }
  // A warning, not an error: users lose "go to definition" and source-mapped stack
  // traces, nothing breaks. The fix is "src" in `files` (or not shipping maps).
  const warnings: string[] = []
  if (dangling.size > 0) {
    const sample = [...dangling].slice(0, 3).join(', ')
    warnings.push(
      `${dangling.size} files named by its source maps are not in the tarball (${sample}…): add "src" to "files"`,
    )
  }
  if (problems.length > 0) throw new Error(`${name}@${version}:\n  - ${problems.join('\n  - ')}`)
  let bytes = 0
  for (const content of files.values()) bytes += content.length
  return { files: files.size, bytes, internalDeps, warnings }
}

/** Verifies a tarball against the registry's `dist.integrity` (sha512, base64). */
export function checkIntegrity(tgz: Uint8Array, integrity: string | undefined): void {
  if (!integrity?.startsWith('sha512-'))
    throw new Error(`no sha512 integrity in the registry metadata (${integrity})`)
  const actual = `sha512-${createHash('sha512').update(tgz).digest('base64')}`
  if (actual !== integrity) throw new Error(`tarball integrity mismatch: ${actual} != ${integrity}`)
}
