/**
 * End to end: the real `rmaplab` command, spawned, as a user runs it.
 */
import { readFileSync } from 'node:fs'
import type { Machine, VmStats } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { experiment, experiments } from '../src/experiments/index.js'
import { ARCH_NAMES, ARCHES, resolveLayouts } from '../src/run/layouts.js'
import { runOnLayout } from '../src/run/runner.js'
import { validateWorkload } from '../src/workload/validate.js'
import { inProcess, PKG, rmaplab, workloadFile } from './helpers.js'

/** Small parameters for the 2004 experiments, so the suite stays fast. */
const SMALL: Record<string, string[]> = {
  andrea: ['-p', 'size=2M', '-p', 'levels=3', '-p', 'walks=8'],
  morton: ['-p', 'tasks=4', '-p', 'windows=8', '-p', 'walks=4'],
  'shared-segment': ['-p', 'procs=4', '-p', 'size=1M', '-p', 'walks=8'],
  rik: ['-p', 'children=8', '-p', 'pages=16', '-p', 'walks=4'],
  bligh: ['-p', 'tasks=4', '-p', 'sga=256K', '-p', 'backing=tmpfs', '-p', 'walks=4'],
  prefork: ['-p', 'workers=12', '-p', 'pages=8', '-p', 'walks=4'],
  'mremap-shared': ['-p', 'children=3', '-p', 'pages=16'],
}

const pairs = (args: string[]) => args.filter((_, i) => i % 2 === 1)

describe.concurrent('rmaplab, spawned: exit codes, output, positions, names', () => {
  it('--help names every command and the exit codes; each command has its own help', async () => {
    const r = await rmaplab(['--help'])
    expect(r.code).toBe(0)
    for (const c of ['run', 'compare', 'check', 'list', 'show', 'schema'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'))
    expect(r.stdout).toMatch(
      /Exit codes: 0 ok; 1 an assertion, a kernel invariant or a step failed; 2 bad input/,
    )
    const run = await inProcess(['run', '--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/Usage: rmaplab run \[options\] <targets\.\.\.>/)
    expect(run.stdout).toMatch(/--arch <names>/)
    expect(run.stdout).toMatch(/--json/)
    const [none, unknown] = await Promise.all([inProcess([]), inProcess(['runn', 'a1'])])
    expect(none.code).toBe(2)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command 'runn'\n\(Did you mean run\?\)/)
  })

  it('list shows every built-in experiment with its parameters', async () => {
    const r = await inProcess(['list'])
    expect(r.code).toBe(0)
    for (const e of experiments()) expect(r.stdout).toContain(e.name)
    expect(r.stdout).toMatch(/andrea\s+│ Andrea's fork test.*│ size=32M ram=64M levels=12 walks=64/)
  })

  it('run: a passing workload exits 0 and prints the table', async () => {
    const r = await inProcess(['run', 'a1', '--arch', 'i386,ppc64'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/✓ i386: 14 steps, \d+ assertion\(s\) held/)
    expect(r.stdout).toMatch(/^ +│ +i386 │ +ppc64$/m)
    expect(r.stdout).toMatch(/^PageTables kB +│/m)
    expect(r.stderr).toBe('')
  })

  it('compare: every layout side by side, with how to read it', async () => {
    const small = ['-p', 'size=4M', '-p', 'levels=3', '-p', 'walks=8']
    const [r, designs] = await Promise.all([
      inProcess(['compare', 'andrea', ...small, '--arch', 'all', '--rmap', 'objrmap']),
      inProcess(['compare', 'andrea', ...small]),
    ])
    // andrea's own machine: the i386 box under the three designs.
    expect(designs.code).toBe(0)
    expect(designs.stdout).toMatch(/^ +│ i386\/objrmap │ i386\/pte_chains │ i386\/anonmm$/m)
    expect(designs.stdout).toMatch(/^ {2}fork levels reached +│ +3 │ +3 │ +3$/m)
    expect(designs.stdout).toMatch(/^ {2}vmas visited \/ walk +│ +8 │ +0 │ +0$/m)
    expect(designs.stdout).toMatch(/^ {2}mms visited \/ walk +│ +0 │ +0 │ +8$/m)
    expect(designs.stdout).toMatch(
      /^– i386: no design ran out of memory \(levels completed: objrmap 3, pte_chains 3, anonmm 3\)/m,
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^ +│ +i386 │ i386-pae │ +ppc │ +ppc64$/m)
    expect(r.stdout).toMatch(/^PageTables kB +│ +32 │ +64 │ +32 │ +64$/m)
    expect(r.stdout).toMatch(/^ {2}vmas visited \/ walk +│ +8 │ +8 │ +8 │ +8$/m)
    expect(r.stdout).toMatch(/How to read it/)
  })

  it('a failed assertion exits 1, names the step, its line and the process, and still prints the state', async () => {
    const file = workloadFile(`machine: { arch: i386 }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 2p, prot: rw }
  - write: { proc: p, region: a, value: 7 }
  - fork: { proc: p, as: c }
  - read: { proc: c, region: a, expect: 8 }
`)
    const r = await rmaplab(['run', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`✗ i386: step 5 (${file}:7:5) read c a: assertion failed`)
    expect(r.stdout).toMatch(
      /read at 0x40000000 \(page 0 of the range\) in c \(pid 2\): expected 0x8, got 0x7/,
    )
    expect(r.stdout).toMatch(/State when the run stopped:/)
    expect(r.stdout).toMatch(/^steps run +│ +4\/5$/m)
  })

  it('an unexpected syscall error exits 1 with the step, the process and the errno', async () => {
    const file = workloadFile(`machine: { arch: ppc }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 4p, prot: rw }
  - munmap: { proc: p, addr: a + 1, length: 1p }
`)
    const r = await inProcess(['run', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`✗ ppc: step 3 (${file}:5:5) munmap p a + 1 len 1p: step failed`)
    expect(r.stdout).toMatch(/munmap failed with EINVAL/)
    expect(r.stdout).toMatch(/process: p \(pid 1\)/)
    expect(r.stdout).toMatch(/cause: SyscallError \(syscall munmap, errno EINVAL\)/)
  })

  it('a signal the workload did not expect is reported with its address', async () => {
    const file = workloadFile(`machine: { arch: i386-pae }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 1p, prot: r }
  - write: { proc: p, region: a, value: 1 }
`)
    const r = await inProcess(['run', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/killed by SIGSEGV at 0x40000000: write to a vma without VM_WRITE/)
    expect(r.stdout).toMatch(/cause: SignalError \(signal SIGSEGV, address 0x40000000, pid 1\)/)
  })

  it('expected errors and signals pass', async () => {
    const file = workloadFile(`machine: { arch: i386 }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 1p, prot: r }
  - munmap: { proc: p, addr: a + 1, length: 1p, fails: EINVAL }
  - fork: { proc: p, as: c }
  - write: { proc: c, region: a, value: 1, fails: SIGSEGV }
  - assert: { process: { proc: c, alive: false, killed_by: SIGSEGV } }
  - munmap: { proc: p, region: a, fails: ENOMEM }
`)
    const r = await inProcess(['run', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /step 7 .*: assertion failed\n {4}expected munmap to fail with ENOMEM, but it succeeded/,
    )
    expect(r.stdout).toMatch(/^steps run +│ +6\/7$/m)
  })

  it('a malformed workload exits 2 before anything runs, with file, line and column', async () => {
    const file = workloadFile(`steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 4p, prot: rw, flags: private }
  - write: { proc: q, region: a, value: 1 }
`)
    const r = await rmaplab(['run', file])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual([
      `${file}:3:51: steps[1].mmap.flags: unknown key 'flags'; valid keys: note, proc, as, length, prot, shared, fd, offset, addr, fixed, fails`,
    ])
    const json = workloadFile('{\n  "steps": [ { "spawn": { "as": 3 } } ]\n}\n', 'json')
    const j = await inProcess(['run', json])
    expect(j.code).toBe(2)
    expect(j.stderr.trim()).toBe(`${json}:2:33: steps[0].spawn.as: expected a string, got 3`)
  })

  it('--rmap all: the three designs side by side, each with its own memory rows', async () => {
    const r = await inProcess([
      'compare',
      'andrea',
      '-p',
      'size=1M',
      '-p',
      'levels=2',
      '--arch',
      'i386',
      '--rmap',
      'all',
    ])
    expect(r.code).toBe(0)
    const head = r.stdout.split('\n').find((l) => l.includes('│') && l.includes('i386/objrmap'))!
    expect(head).toMatch(/i386\/objrmap\s+│\s+i386\/pte_chains\s+│\s+i386\/anonmm/)
    const row = (label: string) =>
      r.stdout
        .split('\n')
        .find((l) => l.startsWith(label))
        ?.split('│')
        .slice(1)
        .map((c) => Number(c.trim().replace(/,/g, '')))
    // 256 pages, 4 processes: objrmap has one anon_vma, pte_chains one chain per shared page, anonmm one struct per mm.
    expect(row('anon_vmas')).toEqual([1, 0, 0])
    expect(row('  pte_chain objects')![1]).toBeGreaterThan(0)
    expect(row('  pte_chain objects')![0]).toBe(0)
    expect(row('  anonmm structs')).toEqual([0, 0, 4 * 24])
    expect(row('rmap lowmem frames')![1]).toBeGreaterThan(0)
  })

  it('unknown experiment, arch, strategy, parameter: one line listing the valid names, exit 2', async () => {
    const [e, a, s, p] = await Promise.all([
      rmaplab(['run', 'andrae']),
      inProcess(['run', 'a1', '--arch', 'sparc']),
      inProcess(['run', 'a1', '--rmap', 'pte_chain']),
      inProcess(['run', 'andrea', '-p', 'depth=3']),
    ])
    const names = experiments()
      .map((x) => x.name)
      .join(', ')
    expect([e.code, a.code, s.code, p.code]).toEqual([2, 2, 2, 2])
    expect(e.stderr).toBe(
      `unknown experiment 'andrae' (and no such file); did you mean 'andrea'?; experiments: ${names}\n`,
    )
    expect(a.stderr).toBe(`unknown arch 'sparc'; valid: i386, i386-pae, ppc, ppc64, all\n`)
    expect(s.stderr).toBe(`unknown rmap design 'pte_chain'; valid: objrmap, pte_chains, anonmm, all\n`)
    expect(p.stderr).toBe(`unknown parameter 'depth' of andrea; parameters: size, ram, levels, walks\n`)
  })

  it('parameters out of range and machines the model cannot build are refused with the limit', async () => {
    const [lv, neg, big] = await Promise.all([
      rmaplab(['run', 'andrea', '-p', 'levels=17']),
      rmaplab(['run', 'rik', '-p', 'children=-1']),
      rmaplab(['run', 'rik', '-p', 'children=1000', '-p', 'pages=1000', '--arch', 'ppc']),
    ])
    expect(lv.code).toBe(2)
    expect(lv.stderr).toBe('parameter levels: 17 is out of range; andrea takes 0..16\n')
    expect(neg.code).toBe(2)
    expect(neg.stderr).toBe('parameter children: -1 is out of range; rik takes 1..10000\n')
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(
      /^experiment:rik: machine\.ram: ppc: ram must be between 4M and 768M on ppc, got \d+ bytes\n$/,
    )
    const file = workloadFile('machine: { arch: ppc, ram: 1G }\nsteps: [ { spawn: { as: p } } ]\n')
    const r = await inProcess(['run', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `${file}:1:28: machine.ram: ppc: ram must be between 4M and 768M on ppc, got 1073741824 bytes\n`,
    )
  })

  it('check: m.check() after every step', async () => {
    const r = await inProcess(['check', 'e3', '--arch', 'i386'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/✓ i386: m\.check\(\) held after each of 19 steps/)
  })

  it('--trace prints every step with its result', async () => {
    const r = await inProcess(['run', 'c3', '--arch', 'ppc', '--trace'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(
      /^\[ppc\] #8 line \d+ mremap c x → 4p at y \(MREMAP_MAYMOVE\|MREMAP_FIXED\): 0x[0-9a-f]+$/m,
    )
    expect(r.stderr).toMatch(
      /page_referenced p x .*: 4 call\(s\) \(2\.0 vmas, 2\.0 ptes per call\); references 4× 3/,
    )
  })

  it('show prints an experiment as a workload that runs the same', async () => {
    const shown = await inProcess(['show', 'rik', ...SMALL['rik']!])
    expect(shown.code).toBe(0)
    const file = workloadFile(shown.stdout)
    const [a, b] = await Promise.all([
      inProcess(['run', file, '--arch', 'i386', '--json']),
      inProcess(['run', 'rik', ...SMALL['rik']!, '--arch', 'i386', '--json']),
    ])
    expect(a.code).toBe(0)
    expect(JSON.parse(a.stdout).runs[0].stats).toEqual(JSON.parse(b.stdout).runs[0].stats)
  })

  it('schema prints the published JSON Schema', async () => {
    const r = await inProcess(['schema'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual(
      JSON.parse(readFileSync(`${PKG}schema/workload.schema.json`, 'utf8')),
    )
  })

  it('--maps prints /proc/PID/maps of the live processes', async () => {
    const r = await inProcess(['run', 'd1', '--arch', 'i386', '--maps'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      /^i386: p \(pid 1\)\n {2}40000000-40001000 rw-p 40000000\n {2}40002000-40003000 rw-p 40002000$/m,
    )
  })

  /** The report of `name` must say what m.stats() and m.meminfo() say when the same workload runs here. */
  function agrees(name: string, args: string[], report: JsonReport) {
    expect(report.ok, name).toBe(true)
    const { data, source } = experiment(name).load(pairs(args))
    const w = validateWorkload(data, source, name)
    // --arch all: every layout, under each design the workload lists.
    const layouts = resolveLayouts(w.machine, w.source, { arch: [...ARCH_NAMES] })
    expect(report.runs.map((x) => x.arch)).toEqual(layouts.map((l) => l.arch.name))
    expect(new Set(report.runs.map((x) => x.arch))).toEqual(new Set(Object.keys(ARCHES)))
    for (const [i, layout] of layouts.entries()) {
      let m: Machine | undefined
      runOnLayout(w, layout, { onMachine: (x) => (m = x) })
      const got = report.runs[i]!
      expect(got.stats, `${name} on ${got.arch}`).toEqual(m!.stats())
      expect(got.meminfo).toEqual(m!.meminfo())
      const s = m!.stats()
      expect(got.summary['PageTables kB']).toBe(m!.meminfo().PageTables)
      expect(got.summary['rmap bytes']).toBe(s.rmapBytes.total)
      expect(got.summary['page faults']).toBe(Object.values(s.faults).reduce((x, y) => x + y, 0))
      expect(got.summary['rmap walks']).toBe(s.rmap.pageReferencedCalls + s.rmap.tryToUnmapCalls)
      expect(got.summary['forks']).toBe(s.fork.forks)
    }
  }

  it('--json: every demo in one run; each report agrees with m.stats() on every layout', async () => {
    const demos = experiments().filter((e) => e.group === 'demo')
    const r = await rmaplab(['run', ...demos.map((e) => e.name), '--arch', 'all', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { ok: boolean; reports: JsonReport[] }
    expect(out.ok).toBe(true)
    expect(out.reports.map((x) => x.workload.source.replace(/.*\//, ''))).toEqual(
      demos.map((e) => `${e.name}.yaml`),
    )
    for (const [i, e] of demos.entries()) agrees(e.name, [], out.reports[i]!)
  })

  for (const e of experiments().filter((x) => x.group === '2004')) {
    it(`--json: ${e.name} agrees with m.stats() on every layout`, async () => {
      const args = SMALL[e.name]!
      const r = await rmaplab(['run', e.name, ...args, '--arch', 'all', '--json'])
      expect(r.code, r.stderr || r.stdout.slice(0, 2000)).toBe(0)
      agrees(e.name, args, JSON.parse(r.stdout) as JsonReport)
    })
  }
})

interface JsonReport {
  ok: boolean
  workload: { source: string }
  runs: Array<{
    arch: string
    ok: boolean
    stats: VmStats
    meminfo: Record<string, number>
    summary: Record<string, number | string>
  }>
}
