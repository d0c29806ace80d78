/**
 * The 2004 experiments that compare the rmap designs: each design's outcome
 * asserted inside the workload (`assert: { rmap }`) and the claim across
 * designs checked by the experiment (`verify`).
 */
import { describe, expect, it } from 'vitest'
import { verifyLevels } from '../src/experiments/classic.js'
import {
  type LayoutRun,
  layoutFor,
  loadExperiment,
  objectSource,
  runOnLayout,
  validateWorkload,
  verifyExperimentRuns,
} from '../src/index.js'

/** Every layout of an experiment's workload (its own machine: arch and rmap list). */
function runAll(
  name: string,
  params: string[],
): { runs: LayoutRun[]; w: ReturnType<typeof loadExperiment>['workload'] } {
  const { workload } = loadExperiment(name, params)
  const archs = [workload.machine?.arch ?? 'i386'].flat() as string[]
  const designs = [workload.machine?.rmap ?? 'objrmap'].flat() as string[]
  const runs = archs.flatMap((arch) =>
    designs.map((rmap) => runOnLayout(workload, layoutFor(workload, arch as 'i386', rmap), {}, true)),
  )
  return { runs, w: workload }
}

describe("Andrea's fork test", () => {
  it('pte_chains run lowmem out at a lower fork level than objrmap and anonmm; their chains took lowmem', () => {
    const { runs, w } = runAll('andrea', ['size=4M', 'ram=16M', 'walks=4'])
    expect(runs.map((r) => [r.layout, r.ok, r.failure?.message])).toEqual([
      ['i386/objrmap', true, undefined],
      ['i386/pte_chains', true, undefined],
      ['i386/anonmm', true, undefined],
    ])
    const [obj, ptc, amm] = runs.map((r) => r.results)
    expect([obj!['fork.ranOut'], ptc!['fork.ranOut'], amm!['fork.ranOut']]).toEqual([1, 1, 1])
    expect(ptc!['fork.levels']).toBeLessThan(obj!['fork.levels']!)
    expect(amm!['fork.levels']).toBe(obj!['fork.levels'])
    expect(runs[1]!.stats.rmapMemory.lowmemFrames).toBeGreaterThan(0)
    expect(runs[0]!.stats.rmapMemory.lowmemFrames).toBe(0)
    // The processes forked before the failure stay and read every page.
    expect(runs[1]!.processes).toBeGreaterThan(2 ** ptc!['fork.levels']!)
    const verdict = verifyExperimentRuns(w, runs)
    expect(verdict?.ok).toBe(true)
    expect(verdict?.lines[0]).toMatch(
      /^✓ i386: pte_chains ran lowmem out at a lower fork level than objrmap and anonmm/,
    )
  })

  it('the verdict fails when pte_chains reach the level of the others, and says so when nobody ran out', () => {
    const run = (rmap: string, levels: number, ranOut: number) =>
      ({
        arch: 'i386',
        rmap,
        ok: true,
        results: { 'fork.levels': levels, 'fork.ranOut': ranOut },
      }) as unknown as LayoutRun
    expect(verifyLevels([run('objrmap', 9, 1), run('pte_chains', 8, 1), run('anonmm', 9, 1)]).ok).toBe(true)
    const same = verifyLevels([run('objrmap', 9, 1), run('pte_chains', 9, 1), run('anonmm', 9, 1)])
    expect(same.ok).toBe(false)
    expect(same.lines[0]).toMatch(/^✗ i386: pte_chains did not run out at a lower fork level/)
    const none = verifyLevels([run('objrmap', 3, 0), run('pte_chains', 3, 0)])
    expect(none).toEqual({
      ok: true,
      lines: [
        '– i386: no design ran out of memory (levels completed: objrmap 3, pte_chains 3); raise levels or lower ram',
      ],
    })
    expect(verifyLevels([run('objrmap', 9, 1)])).toEqual({ ok: true, lines: [] })
  })
})

describe('workload format: per-design assertions and fork trees that stop at ENOMEM', () => {
  const w = (rmap: unknown) =>
    validateWorkload(
      {
        machine: { arch: 'i386', ram: '8M', rmap: ['objrmap', 'pte_chains', 'anonmm'] },
        steps: [
          { spawn: { as: 'p' } },
          { mmap: { proc: 'p', as: 'a', length: '2M', prot: 'rw' } },
          { write: { proc: 'p', region: 'a', value: 'i' } },
          { fork: { proc: 'p', levels: 12, until_fails: 'ENOMEM', as: 'all' } },
          { assert: { rmap, stats: { 'rmapMemory.lowmemFrames': 0 } } },
        ],
      },
      objectSource('test'),
      'test',
    )

  it('an assertion with rmap holds only under the designs it names', () => {
    const only = w(['objrmap', 'anonmm'])
    for (const rmap of ['objrmap', 'pte_chains', 'anonmm'] as const) {
      const r = runOnLayout(only, layoutFor(only, 'i386', rmap))
      expect(r.ok, `${rmap}: ${r.failure?.message}`).toBe(true)
      expect(r.results['fork.ranOut']).toBe(1)
    }
    // Without the filter the pte_chains run fails: its chains sit in lowmem.
    const all = w(undefined)
    const r = runOnLayout(all, layoutFor(all, 'i386', 'pte_chains'))
    expect(r.ok).toBe(false)
    expect(r.failure?.message).toMatch(/rmapMemory\.lowmemFrames/)
  })

  it("'until_fails' needs 'levels' and excludes 'fails'", () => {
    const bad = (fork: Record<string, unknown>) => () =>
      validateWorkload(
        { steps: [{ spawn: { as: 'p' } }, { fork: { proc: 'p', as: 'c', ...fork } }] },
        objectSource('t'),
        't',
      )
    expect(bad({ until_fails: 'ENOMEM' })).toThrow(/'until_fails' needs 'levels'/)
    expect(bad({ levels: 2, until_fails: 'ENOMEM', fails: 'ENOMEM' })).toThrow(
      /either 'fails' or 'until_fails'/,
    )
  })
})
