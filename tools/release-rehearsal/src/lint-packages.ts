/**
 * `pnpm lint:packages`: builds the published packages, packs each one with pnpm
 * exactly as `changeset publish` will (publishConfig.exports applied,
 * `workspace:` ranges replaced), and runs publint and are-the-types-wrong on
 * the tarballs. ESM-only packages: attw runs with `--profile esm-only`, which
 * ignores the CommonJS and node10 resolutions they do not support.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CommandError, cleanEnv, run, stopAllCommands } from './lib/proc.js'
import { publishedPackages, REPO_ROOT } from './lib/workspace.js'

const bin = (name: string) => join(REPO_ROOT, 'node_modules', '.bin', name)
const packs = mkdtempSync(join(tmpdir(), 'rmaplab-lint-packages-'))

process.on('exit', () => rmSync(packs, { recursive: true, force: true }))
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    void stopAllCommands().finally(() => process.exit(1))
  })
}

async function main(): Promise<number> {
  const env = cleanEnv({ TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' })
  const packages = publishedPackages(REPO_ROOT, env)
  console.log(`lint:packages: ${packages.map((p) => p.name).join(', ')}`)
  await run(
    bin('turbo'),
    ['run', 'build', ...packages.map((p) => `--filter=${p.name}`), '--output-logs=errors-only'],
    {
      cwd: REPO_ROOT,
      env,
      timeoutMs: 600_000,
    },
  )
  const failed: string[] = []
  for (const p of packages) {
    const dest = join(packs, p.dir.replaceAll('/', '-'))
    await run('pnpm', ['pack', '--pack-destination', dest], { cwd: p.path, env })
    const [tarball] = readdirSync(dest).filter((f) => f.endsWith('.tgz'))
    if (!tarball) throw new Error(`pnpm pack wrote no tarball for ${p.name}`)
    const tgz = join(dest, tarball)
    for (const [tool, args] of [
      ['publint', [bin('publint'), 'run', tgz, '--strict']],
      ['attw', [bin('attw'), tgz, '--profile', 'esm-only', '--format', 'table-flipped', '--no-emoji']],
    ] as const) {
      const [cmd, ...rest] = args
      try {
        const out = await run(cmd, rest, { cwd: REPO_ROOT, env: cleanEnv({ NO_COLOR: '1' }) })
        console.log(`✔ ${p.name}: ${tool}`)
        if (tool === 'publint' && /suggestion/i.test(out)) console.log(out.trim())
      } catch (err) {
        if (!(err instanceof CommandError)) throw err
        failed.push(`${p.name}: ${tool}`)
        console.log(`✖ ${p.name}: ${tool}\n${err.output.trim()}\n`)
      }
    }
  }
  if (failed.length > 0) {
    console.log(`\nlint:packages failed: ${failed.join('; ')}`)
    return 1
  }
  console.log(`\nlint:packages: publint and attw (esm-only) pass on ${packages.length} packages`)
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`lint:packages failed: ${err instanceof Error ? err.message : String(err)}`)
    if (err instanceof CommandError) console.error(err.output.trim())
    process.exit(1)
  },
)
