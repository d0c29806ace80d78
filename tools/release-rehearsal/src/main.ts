/**
 * `pnpm release:rehearse`: a snapshot release of every published package to a
 * throwaway verdaccio on 127.0.0.1, then installs from it into fresh projects
 * the way users will. See RELEASING.md. Leaves no process, no temporary folder
 * and no change to the working tree behind, whatever happens.
 */
import type { ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { checkIntegrity, checkTarball, type PackageJson } from './lib/checks.js'
import {
  CommandError,
  cleanEnv,
  killAllCommandsNow,
  run,
  stopAllCommands,
  stopGroup,
  tail,
} from './lib/proc.js'
import { exampleBlocks, exampleScript } from './lib/readme-example.js'
import { ensureVerdaccio, type Registry, RegistryError, startRegistry } from './lib/registry.js'
import {
  copyBuildOutput,
  copyWorkingTree,
  fingerprintChanges,
  gitFingerprint,
  listWorkspacePackages,
  REPO_ROOT,
  type WorkspacePackage,
} from './lib/workspace.js'

const TAG = 'rehearsal'
const ARCH_ALONE = '@rmaplab/arch-ppc64'

// ---------------------------------------------------------------------------
// Cleanup, whatever happens: try/finally for errors, handlers for signals, and
// a synchronous last resort on exit. The registry process also watches its
// stdin and cleans up by itself if we are killed outright (registry-child.js).

const tempPaths = new Set<string>()
let registryChild: ChildProcess | undefined
let registry: Registry | undefined
let currentStep = 'start'
let cleanupDone: Promise<void> | undefined

function cleanup(): Promise<void> {
  cleanupDone ??= (async () => {
    await stopAllCommands()
    if (registryChild) await stopGroup(registryChild, 5_000)
    for (const path of tempPaths)
      await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
  })()
  return cleanupDone
}

process.on('exit', () => {
  killAllCommandsNow()
  const pid = registryChild?.pid
  if (pid !== undefined && registryChild?.exitCode === null && registryChild.signalCode === null) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  for (const path of tempPaths) rmSync(path, { recursive: true, force: true })
})

let interrupted = false
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
] as const) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    console.error(`\n✖ release rehearsal interrupted by ${signal} during "${currentStep}"`)
    console.error('  stopping the registry and removing the temporary folders…')
    cleanup().finally(() => {
      console.error('  cleaned up')
      process.exit(128 + number)
    })
  })
}

// ---------------------------------------------------------------------------

const timings: [string, number][] = []

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  if (interrupted) throw new Error('interrupted')
  currentStep = name
  console.log(`\n▶ ${name}`)
  const start = performance.now()
  const result = await fn()
  const ms = performance.now() - start
  timings.push([name, ms])
  console.log(`✔ ${name} (${seconds(ms)})`)
  return result
}

function info(line: string): void {
  console.log(`  ${line}`)
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

/** The npm registry this machine uses (npm's default unless configured): the registry's uplink. */
function upstreamRegistry(): string {
  const configured = execFileSync('npm', ['config', 'get', 'registry'], {
    cwd: REPO_ROOT,
    env: cleanEnv(),
    encoding: 'utf8',
  }).trim()
  return configured.endsWith('/') ? configured : `${configured}/`
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`)
  return res
}

interface Packument {
  'dist-tags'?: Record<string, string>
  versions?: Record<string, PackageJson & { dist?: { tarball?: string; integrity?: string } }>
}

/** A fresh project folder whose .npmrc sends @rmaplab/* to the local registry (everything else: the user's registry). */
async function freshProject(root: string, name: string, reg: Registry): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name, version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
  )
  await writeFile(join(dir, '.npmrc'), `@rmaplab:registry=${reg.url}\n`)
  return dir
}

/** Names and versions under node_modules in an npm package-lock.json. */
function npmInstalled(dir: string): Map<string, string> {
  const lock = readJson<{ packages: Record<string, { version?: string }> }>(join(dir, 'package-lock.json'))
  const installed = new Map<string, string>()
  for (const [path, meta] of Object.entries(lock.packages)) {
    const at = path.lastIndexOf('node_modules/')
    if (at < 0) continue
    installed.set(path.slice(at + 'node_modules/'.length), meta.version ?? '?')
  }
  return installed
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i])
}

async function main(): Promise<void> {
  const wallStart = performance.now()
  const before = gitFingerprint(REPO_ROOT)
  const root = mkdtempSync(join(tmpdir(), 'rmaplab-rehearsal-'))
  tempPaths.add(root)
  console.log(`release rehearsal: snapshot "${TAG}" of ${REPO_ROOT}`)
  console.log(`temporary root: ${root}`)

  let privates: WorkspacePackage[] = []
  const packages = await step('find the published packages', () => {
    const all = listWorkspacePackages(REPO_ROOT, cleanEnv())
    privates = all.filter((p) => p.private)
    const found = all.filter((p) => !p.private)
    for (const p of found) info(`${p.name} (${p.dir})`)
    if (!found.some((p) => p.name === ARCH_ALONE) || !found.some((p) => p.name === '@rmaplab/conformance')) {
      throw new Error(`expected ${ARCH_ALONE} and @rmaplab/conformance among the published packages`)
    }
    return found
  })
  const cli = packages.find((p) => p.name === '@rmaplab/cli')
  if (!cli) {
    info(
      existsSync(join(REPO_ROOT, 'packages/cli/package.json'))
        ? '@rmaplab/cli is private: step (c) will be skipped'
        : 'packages/cli/package.json does not exist yet: step (c) will be skipped',
    )
  }

  const verdaccio = await step('verdaccio 5.33.0, from the cache or installed into it', async () => {
    const install = await ensureVerdaccio((path) => tempPaths.add(path))
    info(`${install.cached ? 'cached' : 'installed'}: ${install.dir}`)
    return install
  })

  await step('build the published packages (turbo)', async () => {
    const filters = packages.map((p) => `--filter=${p.name}`)
    const out = await run(
      join(REPO_ROOT, 'node_modules/.bin/turbo'),
      ['run', 'build', ...filters, '--output-logs=errors-only'],
      {
        cwd: REPO_ROOT,
        env: cleanEnv({ TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' }),
        timeoutMs: 600_000,
      },
    )
    const summary = out.split('\n').filter((l) => /Tasks:|Cached:/.test(l))
    for (const line of summary) info(line.trim())
  })

  const work = join(root, 'workspace')
  await step(
    'copy the working tree (tracked + untracked, not ignored) and the builds to a scratch workspace',
    async () => {
      const copied = await copyWorkingTree(REPO_ROOT, work)
      for (const p of packages) await copyBuildOutput(REPO_ROOT, work, join(p.dir, 'dist'))
      // Every published package gets a snapshot version, including one without a changeset yet.
      const lines = packages.map((p) => `"${p.name}": patch`).join('\n')
      await writeFile(
        join(work, '.changeset', 'release-rehearsal-snapshot.md'),
        `---\n${lines}\n---\n\nRelease rehearsal snapshot.\n`,
      )
      info(`${copied} files, plus dist/ of ${packages.length} packages, into ${work}`)
    },
  )

  await step('pnpm install in the scratch workspace (frozen lockfile, from the store)', async () => {
    // changesets needs its changelog generator, and pnpm publish reads the version
    // of each workspace: dependency from node_modules: a real install, hard-linked
    // from the pnpm store (under a second when the store is warm).
    await run(
      'pnpm',
      ['install', '--frozen-lockfile', '--prefer-offline', '--ignore-scripts', '--reporter=append-only'],
      {
        cwd: work,
        env: cleanEnv(),
        timeoutMs: 600_000,
      },
    )
  })

  const changeset = join(work, 'node_modules/@changesets/cli/bin.js')
  const version = await step(`changeset version --snapshot ${TAG}`, async () => {
    await run(process.execPath, [changeset, 'version', '--snapshot', TAG], { cwd: work, env: cleanEnv() })
    const versions = new Set<string>()
    for (const p of packages) {
      const manifest = readJson<PackageJson>(join(work, p.dir, 'package.json'))
      versions.add(manifest.version)
      if (!manifest.version.includes(`-${TAG}-`)) throw new Error(`${p.name} got version ${manifest.version}`)
      const changelog = join(work, p.dir, 'CHANGELOG.md')
      if (!existsSync(changelog) || !readFileSync(changelog, 'utf8').includes(`## ${manifest.version}`)) {
        throw new Error(`${p.dir}/CHANGELOG.md has no "## ${manifest.version}" section`)
      }
    }
    if (versions.size !== 1)
      throw new Error(`the fixed group did not get one version: ${[...versions].join(', ')}`)
    const left = readdirSync(join(work, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')
    if (left.length > 0) throw new Error(`changesets not consumed: ${left.join(', ')}`)
    for (const p of privates) {
      const manifest = readJson<PackageJson>(join(work, p.dir, 'package.json'))
      if (manifest.version !== p.version || existsSync(join(work, p.dir, 'CHANGELOG.md'))) {
        throw new Error(`private package ${p.name} was versioned (${p.version} -> ${manifest.version})`)
      }
    }
    const [only] = versions
    info(`every published package is now ${only}, with a CHANGELOG.md entry`)
    info(`private packages left alone: ${privates.map((p) => p.name).join(', ')}`)
    return only ?? ''
  })

  const reg = await step('start the local registry (verdaccio, 127.0.0.1)', async () => {
    registry = await startRegistry({
      bin: verdaccio.bin,
      dir: join(root, 'registry'),
      rehearsalRoot: root,
      upstream: upstreamRegistry(),
      onSpawn: (child) => {
        registryChild = child
      },
    })
    return registry
  })
  // A line the kill test waits for.
  console.log(`registry up: ${reg.url} (pid ${reg.pid}, temporary root ${root})`)

  // Publishing reads this config only (not ~/.npmrc): no real token is ever in reach.
  const publishNpmrc = join(root, 'publish.npmrc')
  await writeFile(
    publishNpmrc,
    [
      `registry=${reg.url}`,
      `@rmaplab:registry=${reg.url}`,
      `//127.0.0.1:${reg.port}/:_authToken=${reg.token}`,
      '',
    ].join('\n'),
  )

  await step(`changeset publish --tag ${TAG} --no-git-tag`, async () => {
    const out = await run(process.execPath, [changeset, 'publish', '--tag', TAG, '--no-git-tag'], {
      cwd: work,
      env: cleanEnv({
        npm_config_userconfig: publishNpmrc,
        npm_config_cache: join(root, 'npm-cache'),
        npm_config_registry: reg.url,
        'npm_config_@rmaplab:registry': reg.url,
      }),
      timeoutMs: 300_000,
    })
    const published = out.split('\n').filter((l) => l.includes(`@${version}`) && /published|New tag/i.test(l))
    for (const line of published) info(line.replace(/^🦋\s+(info|success)?\s*/, '').trim())
  })

  await step('check what the registry serves: dist-tag, integrity, packed manifest and files', async () => {
    for (const p of packages) {
      const res = await fetchOk(`${reg.url}${p.name.replace('/', '%2f')}`)
      const packument = (await res.json()) as Packument
      const tagged = packument['dist-tags']?.[TAG]
      if (tagged !== version) throw new Error(`${p.name}: dist-tag ${TAG} is ${tagged}, expected ${version}`)
      const meta = packument.versions?.[version]
      if (!meta?.dist?.tarball) throw new Error(`${p.name}@${version}: no tarball in the registry metadata`)
      if (JSON.stringify(meta).includes('workspace:'))
        throw new Error(`${p.name}@${version}: registry metadata has workspace:`)
      const tgz = new Uint8Array(await (await fetchOk(meta.dist.tarball)).arrayBuffer())
      checkIntegrity(tgz, meta.dist.integrity)
      const report = checkTarball(tgz, p.name, version)
      const deps = report.internalDeps.length > 0 ? `; ${report.internalDeps.join(', ')}` : ''
      info(`${p.name}: ${report.files} files, ${(tgz.length / 1024).toFixed(0)} kB packed${deps}`)
      for (const warning of report.warnings) console.log(`  ⚠ ${p.name}: ${warning}`)
    }
    info('no workspace: ranges, no @rmaplab/source condition, every export and bin present')
    // What the registry holds of ours is exactly the published set: no private package got out.
    const stored = readdirSync(join(reg.storage, '@rmaplab')).map((n) => `@rmaplab/${n}`)
    const scoped = packages.map((p) => p.name).filter((n) => n.startsWith('@rmaplab/'))
    if (!same(stored, scoped))
      throw new Error(`the registry holds ${stored.join(', ')}; expected ${scoped.join(', ')}`)
    const leaked = privates.filter((p) => stored.includes(p.name))
    if (leaked.length > 0)
      throw new Error(`private packages were published: ${leaked.map((p) => p.name).join(', ')}`)
    info(`the registry holds exactly the ${stored.length} published packages, none of the private ones`)
  })

  // Consumers use the machine's npm config for everything but @rmaplab/*, and a
  // throwaway npm cache (pnpm: store and cache) so nothing lingers in the user's.
  const consumerEnv = cleanEnv({ npm_config_cache: join(root, 'npm-cache') })
  const npmInstall = ['install', '--no-audit', '--no-fund', '--loglevel=error']

  await step(`(a) npm: ${ARCH_ALONE} alone into an empty project, then its README example`, async () => {
    const dir = await freshProject(root, 'consumer-npm', reg)
    await run('npm', [...npmInstall, `${ARCH_ALONE}@${TAG}`], {
      cwd: dir,
      env: consumerEnv,
      timeoutMs: 300_000,
    })
    const installed = npmInstalled(dir)
    const ours = [...installed.keys()].filter((n) => n.startsWith('@rmaplab/'))
    const expected = [ARCH_ALONE, '@rmaplab/rmap']
    if (!same(ours, expected)) {
      throw new Error(`installed ${ours.join(', ')}; expected exactly ${expected.join(', ')}`)
    }
    for (const name of ours) {
      if (installed.get(name) !== version)
        throw new Error(`${name} installed at ${installed.get(name)}, not ${version}`)
    }
    const others = [...installed.keys()].filter((n) => !n.startsWith('@rmaplab/'))
    info(
      `installed: ${ours.map((n) => `${n}@${version}`).join(', ')}` +
        (others.length > 0 ? `; third-party: ${others.join(', ')}` : '; nothing else'),
    )
    const readme = readFileSync(join(work, 'arch/ppc64/README.md'), 'utf8')
    const blocks = exampleBlocks(readme)
    if (blocks.length === 0) throw new Error('arch/ppc64/README.md has no ```ts example importing @rmaplab/*')
    for (const [i, block] of blocks.entries()) {
      const file = join(dir, `readme-example-${i + 1}.mjs`)
      await writeFile(file, exampleScript(block).js)
      const out = await run(process.execPath, [file], { cwd: dir, env: consumerEnv })
      info(`README block ${i + 1}: ${out.trim().split('\n').at(-1)}`)
    }
  })

  await step(
    '(b) pnpm: @rmaplab/arch-i386 + @rmaplab/conformance + vitest, then the conformance suite',
    async () => {
      const vitest = readJson<PackageJson>(join(REPO_ROOT, 'node_modules/vitest/package.json')).version
      const dir = await freshProject(root, 'consumer-pnpm', reg)
      await mkdir(join(dir, 'test'))
      await writeFile(
        join(dir, 'test', 'i386.test.ts'),
        [
          "import { i386 } from '@rmaplab/arch-i386'",
          "import { describeArchConformance } from '@rmaplab/conformance'",
          '',
          'describeArchConformance(i386)',
          '',
        ].join('\n'),
      )
      await run(
        'pnpm',
        [
          'add',
          `@rmaplab/arch-i386@${TAG}`,
          `@rmaplab/conformance@${TAG}`,
          `vitest@${vitest}`,
          '--reporter=append-only',
          // Its own store and metadata cache: nothing of the rehearsal lingers in the user's.
          `--config.store-dir=${join(root, 'pnpm-store')}`,
          `--config.cache-dir=${join(root, 'pnpm-cache')}`,
        ],
        { cwd: dir, env: consumerEnv, timeoutMs: 300_000 },
      )
      const ours = readdirSync(join(dir, 'node_modules/.pnpm'))
        .filter((n) => n.startsWith('@rmaplab+'))
        .map((n) => n.replace(/^@rmaplab\+/, '@rmaplab/').replace(/_.*$/, '')) // drop the peer suffix
      const expected = ['arch-i386', 'conformance', 'rmap'].map((n) => `@rmaplab/${n}@${version}`)
      if (!same(ours, expected))
        throw new Error(`installed ${ours.join(', ')}; expected ${expected.join(', ')}`)
      info(`installed: ${ours.join(', ')}, vitest@${vitest}`)
      const results = join(dir, 'vitest.json')
      await run(
        join(dir, 'node_modules/.bin/vitest'),
        ['run', '--reporter=dot', '--reporter=json', `--outputFile.json=${results}`],
        { cwd: dir, env: consumerEnv, timeoutMs: 300_000 },
      )
      const r = readJson<{
        numTotalTests: number
        numPassedTests: number
        numFailedTests: number
        success: boolean
      }>(results)
      if (!r.success || r.numFailedTests > 0 || r.numTotalTests === 0) {
        throw new Error(
          `conformance suite: ${r.numPassedTests} passed, ${r.numFailedTests} failed of ${r.numTotalTests}`,
        )
      }
      info(
        `describeArchConformance(i386) from the installed packages: ${r.numPassedTests} of ${r.numTotalTests} tests passed`,
      )
    },
  )

  if (cli) {
    await step('(c) npm: @rmaplab/cli, then rmaplab --help and compare --jobs', async () => {
      const dir = await freshProject(root, 'consumer-cli', reg)
      await run('npm', [...npmInstall, `@rmaplab/cli@${TAG}`], {
        cwd: dir,
        env: consumerEnv,
        timeoutMs: 300_000,
      })
      const out = await run(join(dir, 'node_modules/.bin/rmaplab'), ['--help'], {
        cwd: dir,
        env: consumerEnv,
      })
      if (!/rmaplab/i.test(out)) throw new Error(`rmaplab --help printed no usage:\n${tail(out, 20)}`)
      const first = out.trim().split('\n')[0] ?? ''
      info(`rmaplab --help: ${out.trim().split('\n').length} lines, starting "${first}"`)
      // --jobs: the published worker entry (dist/pool-worker.js) loads (a worker that cannot is exit 3),
      // takes machines (twelve of a few hundred ms each: the main thread cannot run them all first),
      // and the command prints what the serial run prints.
      const compare = (jobs: string) =>
        run(join(dir, 'node_modules/.bin/rmaplab'), ['compare', 'bligh', '--rmap', 'all', '--jobs', jobs], {
          cwd: dir,
          env: consumerEnv,
        }).then((o) => o.replace(/\d[\d,.]* ms\b/g, 'T ms').replace(/^time ms .*$/gm, 'time ms'))
      const [serial, workers] = [await compare('1'), await compare('2')]
      if (workers !== serial)
        throw new Error(`rmaplab compare --jobs 2 printed otherwise than --jobs 1:\n${tail(workers, 20)}`)
      info(
        `rmaplab compare bligh --rmap all --jobs 2: ${serial.trim().split('\n').length} lines, as --jobs 1`,
      )
    })
  } else {
    console.log('\n– (c) @rmaplab/cli: skipped (packages/cli is not a published package yet)')
  }

  const workload = packages.find((p) => p.name === '@rmaplab/workload')
  if (workload) {
    await step('(d) npm: @rmaplab/workload, its README examples, and a browser bundle of it', async () => {
      const dir = await freshProject(root, 'consumer-workload', reg)
      await run('npm', [...npmInstall, `@rmaplab/workload@${TAG}`], {
        cwd: dir,
        env: consumerEnv,
        timeoutMs: 300_000,
      })
      const installed = npmInstalled(dir)
      const ours = [...installed.keys()].filter((n) => n.startsWith('@rmaplab/'))
      const expected = ['workload', 'rmap', 'arch-i386', 'arch-ppc', 'arch-ppc64'].map((n) => `@rmaplab/${n}`)
      if (!same(ours, expected))
        throw new Error(`installed ${ours.join(', ')}; expected exactly ${expected.join(', ')}`)
      info(`installed: ${ours.map((n) => `${n}@${installed.get(n)}`).join(', ')}`)
      const readme = readFileSync(join(work, 'packages/workload/README.md'), 'utf8')
      const blocks = exampleBlocks(readme)
      if (blocks.length === 0)
        throw new Error('packages/workload/README.md has no ```ts example importing @rmaplab/*')
      for (const [i, block] of blocks.entries()) {
        const file = join(dir, `readme-example-${i + 1}.mjs`)
        await writeFile(file, exampleScript(block).js)
        const out = await run(process.execPath, [file], { cwd: dir, env: consumerEnv })
        info(`README block ${i + 1}: ${out.trim().split('\n').at(-1)}`)
      }
      // The package is host-agnostic: esbuild bundles it for the browser (a node: import would fail here).
      const entry = join(dir, 'browser-entry.mjs')
      await writeFile(
        entry,
        "import { createRun, loadExperiment } from '@rmaplab/workload'\nconst run = createRun(loadExperiment('a1').workload, { layout: 'ppc64' })\nrun.runToEnd()\n",
      )
      const bundle = await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
      })
      info(
        `browser bundle (esbuild, platform browser): ${Math.round(bundle.outputFiles[0]!.contents.length / 1024)} kB`,
      )
    })
  }

  await step('stop the registry and remove the temporary folders', async () => {
    await cleanup()
    if (existsSync(root)) throw new Error(`${root} is still there`)
  })

  const changes = fingerprintChanges(before, gitFingerprint(REPO_ROOT))
  if (changes.length > 0) {
    const message = `the working tree changed during the rehearsal:\n  ${changes.join('\n  ')}`
    // In CI nothing else touches the clone, so a change is ours. Locally someone
    // may be editing while it runs: say so loudly, but do not fail.
    if (process.env['CI']) throw new Error(message)
    console.warn(
      `\n⚠ ${message}\n(not an error outside CI: files may have been edited while the rehearsal ran)`,
    )
  } else {
    console.log('\ngit status: unchanged (and so is every modified or untracked file)')
  }

  console.log(`\nrelease rehearsal passed in ${seconds(performance.now() - wallStart)}:`)
  for (const [name, ms] of timings) console.log(`  ${seconds(ms).padStart(7)}  ${name}`)
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    if (interrupted) return // the signal handler reports and exits
    const failedStep = currentStep
    console.error(`\n✖ release rehearsal failed at step: ${failedStep}`)
    console.error(`  ${err instanceof Error ? err.message : String(err)}`.replaceAll('\n', '\n  '))
    if (err instanceof CommandError && err.output.trim()) {
      console.error('\n--- output of the failed command (last 60 lines) ---')
      console.error(tail(err.output, 60))
    }
    const logTail = err instanceof RegistryError ? err.logTail : registry?.logTail(40)
    if (logTail) {
      console.error('\n--- registry log (last lines) ---')
      console.error(logTail)
    } else {
      console.error('\n(the registry had not been started: no registry log)')
    }
    await cleanup().catch((e: unknown) => console.error('cleanup failed:', e))
    process.exit(1)
  },
)
