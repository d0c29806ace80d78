/**
 * `--jobs N`: the layouts, designs and sweep points of a command run on worker
 * threads, with the serial run's output (timings aside), its exit codes and
 * its errors; a kill ends the workers with the process.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BadInputError, type LayoutRun, resolveLayouts } from '@rmaplab/workload'
import { afterAll, describe, expect, it } from 'vitest'
import { parseJobs, runUnits, type Unit, withoutLoaders } from '../src/pool.js'
import { loadTarget } from '../src/target.js'
import { inProcess, rmaplab, workloadFile } from './helpers.js'

const tmp = mkdtempSync(join(tmpdir(), 'rmaplab-jobs-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** The output with wall times masked: `12.3 ms`, the `time ms` row, `"timeMs": 12.3`, `"time ms": 12.3`. */
function masked(s: string): string {
  return s
    .replace(/\d[\d,.]* ms\b/g, 'T ms')
    .replace(/^time ms .*$/gm, 'time ms')
    .replace(/"time ?[mM]s": [\d.]+/g, '"timeMs": T')
}

const SMALL = ['-p', 'tasks=3', '-p', 'sga=64K', '-p', 'walks=2']

describe('--jobs: the serial run’s output, in the serial order', () => {
  it('compare --rmap all (12 machines): --jobs 2 prints what --jobs 1 prints', async () => {
    const args = ['compare', 'bligh', ...SMALL, '--rmap', 'all']
    const [one, two] = [await inProcess([...args, '--jobs', '1']), await inProcess([...args, '--jobs', '2'])]
    expect(one.code, one.stderr).toBe(0)
    expect(two.code, two.stderr).toBe(0)
    expect(masked(two.stdout)).toBe(masked(one.stdout))
    // The columns stay in layout order, designs within a layout.
    expect(one.stdout).toMatch(/i386\/objrmap .*i386\/pte_chains .*i386\/anonmm .*i386-pae\/objrmap/)
    // tasks x pages ptes mapped through the rmap, in every column.
    expect(one.stdout).toMatch(/^ {2}ptes mapped +(│ +48 *){12}$/m)
  })

  it('--json: every figure equal, run by run', async () => {
    const args = ['compare', 'a1', 'c3', '--rmap', 'objrmap,pte_chains', '--json']
    const [one, two] = [await inProcess([...args, '--jobs', '1']), await inProcess([...args, '--jobs', '3'])]
    expect(two.code).toBe(one.code)
    expect(masked(two.stdout)).toBe(masked(one.stdout))
    expect(JSON.parse(one.stdout).reports).toHaveLength(2)
  })

  it('--chart: the sweep points run as workers too, and the SVG files are the same bytes', async () => {
    const dirs = [join(tmp, 'serial'), join(tmp, 'jobs')]
    const args = (dir: string, jobs: string) => [
      'compare',
      'bligh',
      '-p',
      'tasks=6',
      '-p',
      'sga=64K',
      '-p',
      'walks=1',
      '--arch',
      'i386,ppc64',
      '--chart',
      dir,
      '--jobs',
      jobs,
    ]
    const one = await inProcess(args(dirs[0]!, '1'))
    const two = await inProcess(args(dirs[1]!, '2'))
    expect(one.code, one.stdout).toBe(0)
    expect(two.code, two.stdout).toBe(0)
    expect(masked(two.stdout).replaceAll(dirs[1]!, 'DIR')).toBe(
      masked(one.stdout).replaceAll(dirs[0]!, 'DIR'),
    )
    const files = readdirSync(dirs[0]!).sort()
    expect(files).toEqual(['bligh-pagetables.svg', 'bligh-rmap-bytes.svg'])
    expect(readdirSync(dirs[1]!).sort()).toEqual(files)
    for (const f of files)
      expect(readFileSync(join(dirs[1]!, f), 'utf8')).toBe(readFileSync(join(dirs[0]!, f), 'utf8'))
  })

  it('--trace: the lines of each layout together, layouts in order, as a serial run prints them', async () => {
    const args = ['check', 'a1', '--arch', 'all', '--trace']
    const [one, two] = [await inProcess([...args, '--jobs', '1']), await inProcess([...args, '--jobs', '4'])]
    expect(one.code).toBe(0)
    expect(two.stderr).toBe(one.stderr)
    expect(masked(two.stdout)).toBe(masked(one.stdout))
    const order = [...one.stderr.matchAll(/^\[([\w-]+)\]/gm)].map((m) => m[1])
    expect([...new Set(order)]).toEqual(['i386', 'i386-pae', 'ppc', 'ppc64'])
  })

  it('a failing assertion in one layout: the same report and exit 1', async () => {
    const file = workloadFile(`
name: fails on 8-byte ptes
machine: { arch: all, ram: 16M }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: m, length: 1p, prot: rw }
  - write: { proc: p, region: m, value: 1 }
  - assert: { meminfo: { PageTables: 4 } }
  - assert: { stats: { rmapBytes.vmaFields: 12 } }
`)
    const [one, two] = [
      await inProcess(['compare', file, '--jobs', '1']),
      await inProcess(['compare', file, '--jobs', '2']),
    ]
    expect(one.code).toBe(1)
    expect(two.code).toBe(1)
    expect(masked(two.stdout)).toBe(masked(one.stdout))
    expect(one.stdout).toContain('✗ ppc64: step 5')
  })

  it('--jobs 0, -1, 1.5, x: bad input (exit 2) before anything runs', async () => {
    for (const v of ['0', '-1', '1.5', 'x', '']) {
      const r = await inProcess(['compare', 'a1', '--jobs', v])
      expect(r.code, v).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toContain('--jobs: expected a whole number from 1 to 1024')
    }
    expect(parseJobs('2')).toBe(2)
    expect(
      withoutLoaders([
        '--conditions',
        'node',
        '--conditions=@rmaplab/source',
        '--import',
        'tsx',
        '-r',
        'x.cjs',
        '--max-old-space-size=8192',
        '--loader=y',
      ]),
    ).toEqual(['--max-old-space-size=8192'])
    expect(() => parseJobs('0')).toThrow(BadInputError)
  })
})

describe('errors in a worker keep their exit codes', () => {
  /** The units of `target` on every layout, as the command builds them. */
  function units(target: string, over = {}): Unit[] {
    const { workload, spec } = loadTarget(target, [])
    const layouts = resolveLayouts(workload.machine, workload.source, over, workload.steps)
    return layouts.map((resolved, layout) => ({
      spec,
      over,
      layout,
      multiRmap: false,
      workload,
      resolved,
      check: false,
      trace: true,
    }))
  }

  it('every unit on the workers: the same LayoutRun objects as the serial run, the trace in serial order', async () => {
    const { workload, spec } = loadTarget('bligh', ['tasks=3', 'sga=64K', 'walks=2'])
    const over = { rmap: ['objrmap', 'pte_chains', 'anonmm'] as const }
    const layouts = resolveLayouts(workload.machine, workload.source, over, workload.steps)
    const us: Unit[] = layouts.map((resolved, layout) => ({
      spec,
      over,
      layout,
      multiRmap: true,
      workload,
      resolved,
      check: layout % 2 === 0,
      trace: true,
    }))
    const serialTrace: string[] = []
    const poolTrace: string[] = []
    const serial = await runUnits(us, 1, { maps: true, trace: (l) => serialTrace.push(l) })
    const pool = await runUnits(us, 3, { maps: true, workersOnly: true, trace: (l) => poolTrace.push(l) })
    const untimed = (rs: LayoutRun[]) => rs.map((r) => ({ ...r, timeMs: 0 }))
    expect(pool).toHaveLength(12)
    expect(untimed(pool)).toEqual(untimed(serial))
    expect(poolTrace).toEqual(serialTrace)
    expect(serialTrace.length).toBeGreaterThan(12 * 5)
  })

  it('bad input met in a worker comes back as BadInputError with its position (exit 2)', async () => {
    const us = units('a1', { arch: ['i386', 'ppc'] })
    // The worker loads the target from its spec: a file text that is not a workload.
    us[1] = { ...us[1]!, spec: { target: 'broken.yaml', pairs: [], text: 'name: x\nsteps: 3\n' } }
    const err = await runUnits(us, 2, { maps: false, workersOnly: true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BadInputError)
    expect((err as BadInputError).problems.join('\n')).toMatch(/^broken\.yaml:\d+:\d+: /)
  })

  it('anything else is a bug (exit 3); the lowest failing unit decides and later ones print nothing', async () => {
    const us = units('a1', { arch: ['i386', 'i386-pae', 'ppc', 'ppc64'] })
    us[1] = { ...us[1]!, layout: 99 }
    const lines: string[] = []
    const err = await runUnits(us, 2, { maps: false, workersOnly: true, trace: (l) => lines.push(l) }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(Error)
    expect(err).not.toBeInstanceOf(BadInputError)
    expect((err as Error).message).toContain('no layout 99')
    // Unit 0 (i386) traced all its steps; units 2 and 3 never print, as a serial run never reached them.
    expect(lines.some((l) => l.startsWith('[i386]'))).toBe(true)
    expect(lines.some((l) => /^\[(ppc|ppc64|i386-pae)\]/.test(l))).toBe(false)

    const r = await inProcess(['compare', 'a1', '--jobs', '2'])
    expect(r.code).toBe(0)
  })
})

describe('a kill ends the workers with the command', () => {
  const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} during compare --jobs 2: the process ends by the signal, no report`, async () => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=@rmaplab/source',
          '--import',
          'tsx',
          MAIN,
          'compare',
          'bligh',
          '-p',
          'tasks=512',
          '-p',
          'sga=256M',
          '--jobs',
          '2',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let stdout = ''
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
      })
      // Long enough for the workers to start on their machines (the run takes minutes).
      await new Promise((r) => setTimeout(r, 2500))
      child.kill(signal)
      const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        child.on('close', (c, s) => r([c, s])),
      )
      expect({ code, sig }).toEqual({ code: null, sig: signal })
      expect(stdout).toBe('')
    })
  }

  it('the spawned command (from source) runs its workers through tsx', async () => {
    const r = await rmaplab(['compare', 'a1', '--jobs', '2'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('✓ ppc64: 14 steps')
  })
})
