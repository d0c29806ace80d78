/**
 * Every code block of every README in the repository runs here, and what the
 * README states about it must hold: the values in `// …` comments of
 * TypeScript examples, the output shown after a `$ rmaplab …` line or under
 * `<!-- output-of: command -->`, the exit status 0 of shell commands and
 * workload files. A block that cannot run carries `<!-- not-run: reason -->`;
 * a new block that is neither runnable nor marked fails this test.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { main } from '@rmaplab/cli'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Block, blocksOf, kindOf, where } from '../src/blocks.js'
import { claimModule } from '../src/claims.js'
import { commandsOf } from '../src/commands.js'
import { compareOutput } from '../src/output.js'
import { recorder } from '../src/runtime.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const BLOCKS_DIR = fileURLToPath(new URL('../.blocks/', import.meta.url))
const OWN = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>
}
/** The workspace packages README examples may use: this package's dependencies. */
const PACKAGES = Object.keys(OWN.dependencies)

const readmes = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*README.md'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .stdout.split('\n')
  .filter((f) => f !== '' && !f.includes('node_modules/'))
const blocks: Block[] = readmes.flatMap((f) => blocksOf(readFileSync(join(ROOT, f), 'utf8'), f))

// Commands run in a scratch directory (`--chart charts` writes there), the workspace's cwd restored after.
const home = process.cwd()
const scratch = mkdtempSync(join(tmpdir(), 'readme-check-'))
beforeAll(() => {
  process.chdir(scratch)
  mkdirSync(BLOCKS_DIR, { recursive: true })
})
afterAll(() => {
  process.chdir(home)
  rmSync(scratch, { recursive: true, force: true })
  rmSync(BLOCKS_DIR, { recursive: true, force: true })
})

/** `main(args)` in this process; the same command line twice runs once. */
const runs = new Map<string, Promise<{ code: number; output: string }>>()
function rmaplab(args: readonly string[]) {
  const key = JSON.stringify(args)
  let r = runs.get(key)
  if (!r) {
    const out: string[] = []
    r = main(args, { out: (s) => out.push(s), err: (s) => out.push(s), isTTY: false }).then((code) => ({
      code,
      output: out.join('\n'),
    }))
    runs.set(key, r)
  }
  return r
}

/** A shell command line as the README shows it, run or checked; throws what does not hold. */
async function runLine(line: string): Promise<{ code: number; output: string }> {
  let last = { code: 0, output: '' }
  for (const c of commandsOf(line, ROOT)) {
    if (c.kind === 'unknown') throw new Error(c.why)
    if (c.kind === 'setup') {
      const problem = c.check?.()
      if (problem) throw new Error(problem)
      continue
    }
    last = await rmaplab(c.args)
  }
  return last
}

let exportsMap: Map<string, string> | undefined
async function workspaceExports(): Promise<Map<string, string>> {
  if (exportsMap) return exportsMap
  exportsMap = new Map()
  for (const pkg of PACKAGES)
    for (const name of Object.keys(await import(pkg))) if (!exportsMap.has(name)) exportsMap.set(name, pkg)
  return exportsMap
}

const slug = (b: Block) => `${b.file.replace(/[^\w]+/g, '_')}_${b.line}`

async function runTs(b: Block) {
  // A README example imports a workspace package: this package must depend on it to resolve it.
  for (const m of b.code.matchAll(/from '((?:@rmaplab\/|rmaplab-)[^'/]+)/g))
    if (!(m[1]! in OWN.dependencies))
      throw new Error(`${where(b)} imports ${m[1]}: add it to tools/readme-check/package.json dependencies`)
  const { source, claims } = claimModule(b.code, await workspaceExports())
  const file = join(BLOCKS_DIR, `${slug(b)}.ts`)
  writeFileSync(file, source)
  const mod = (await import(file)) as { default: (claim: unknown) => void }
  const { claim, results } = recorder()
  mod.default(claim)
  const failures = results.filter((r) => !r.ok).map((r) => `${r.line}\n    ${r.detail}`)
  expect(failures, `values ${where(b)} states`).toEqual([])
  expect(results.length).toBe(claims)
}

async function runWorkload(b: Block) {
  const ext = b.lang === 'json' ? 'json' : 'yaml'
  const file = join(scratch, `${slug(b)}.${ext}`)
  writeFileSync(file, b.code)
  const r = await rmaplab(['run', file])
  expect(r.code, r.output).toBe(0)
}

async function runShell(b: Block) {
  for (const line of b.code.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue
    const r = await runLine(line)
    expect(r.code, `${line}\n${r.output}`).toBe(0)
  }
}

/** `$ command` lines, each followed by its output. */
async function runSession(b: Block) {
  const parts = b.code.split(/^\$ /m).slice(1)
  for (const part of parts) {
    const [line = '', ...out] = part.split('\n')
    const r = await runLine(line)
    const diff = compareOutput(out.join('\n'), r.output)
    expect(diff, `$ ${line}`).toBeUndefined()
  }
}

async function runOutputOf(b: Block) {
  const r = await runLine(b.outputOf!)
  const diff = compareOutput(b.code, r.output)
  expect(diff, b.outputOf).toBeUndefined()
}

const RUNNERS = {
  'output-of': runOutputOf,
  ts: runTs,
  shell: runShell,
  workload: runWorkload,
  session: runSession,
} as const

describe('README code blocks', () => {
  const marked = blocks.filter((b) => b.notRun !== undefined)
  const toRun = blocks.filter((b) => b.notRun === undefined)

  it('finds the READMEs and their blocks', () => {
    expect(readmes).toContain('README.md')
    expect(readmes).toContain('packages/cli/README.md')
    expect(toRun.length).toBeGreaterThan(15)
  })

  it('every <!-- not-run --> marker gives a reason', () => {
    expect(marked.filter((b) => b.notRun!.length < 10).map(where)).toEqual([])
  })

  it.each(toRun.map((b) => [where(b), b] as const))('%s', async (_name, b) => {
    const kind = kindOf(b)
    if (typeof kind === 'object') throw new Error(`${where(b)}: ${kind.unrunnable}`)
    if (kind === 'not-run') throw new Error('unreachable: marked blocks are not in the list')
    await RUNNERS[kind](b)
  })
})

describe('samples that are too slow to run here, checked against their source', () => {
  it('README.md: the pnpm conformance summary lines count the checks each arch runs', async () => {
    const { conformanceManifest } = await import('@rmaplab/conformance')
    const { i386, i386Pae } = await import('@rmaplab/arch-i386')
    const { ppc } = await import('@rmaplab/arch-ppc')
    const { ppc64 } = await import('@rmaplab/arch-ppc64')
    const { toy32 } = await import('rmaplab-arch-toy32')
    // The example arch runs the suite with its hand-written vectors (examples/arch-toy32/test/conformance.test.ts).
    const { toy32Vectors } = await import('../../../examples/arch-toy32/test/fixtures.js')
    const options = new Map<string, object>([['toy32', { fixtures: toy32Vectors }]])
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const stated = [...readme.matchAll(/^([\w/-]+): (\d+) tests: (\d+) pass, 0 fail/gm)]
    // Every layout under each rmap design: `i386` (objrmap), `i386/pte_chains`, `i386/anonmm`.
    expect(stated.map((m) => m[1])).toEqual(
      ['i386', 'i386-pae', 'ppc', 'ppc64', 'toy32'].flatMap((a) => [a, `${a}/pte_chains`, `${a}/anonmm`]),
    )
    const byName = new Map([i386, i386Pae, ppc, ppc64, toy32].map((a) => [a.name, a]))
    for (const [line, label, tests] of stated) {
      const [name, rmap] = label!.split('/') as [string, 'pte_chains' | 'anonmm' | undefined]
      const arch = byName.get(name)!
      const applicable = conformanceManifest(arch, {
        ...(options.get(name) ?? {}),
        ...(rmap ? { rmap } : {}),
      }).filter((c) => c.applicable).length
      expect(Number(tests), line).toBe(applicable)
    }
  })
})
