/**
 * Every demo workload (the acceptance scenarios in workloads/*.yaml) under
 * every rmap design: what differs between the designs by construction (where
 * page->mapping points, page->index, anon_vma counts, the moved vm_pgoff, walk
 * costs, mremap copies) is asserted per design (`assert: { rmap }`); what a
 * program sees (values read, errnos, signals) is the same under all three. A
 * new assertion that only holds under objrmap fails here.
 */
import { describe, expect, it } from 'vitest'
import {
  ARCH_NAMES,
  experiments,
  layoutFor,
  loadExperiment,
  parseText,
  RMAP_STRATEGIES,
  runOnLayout,
  validateWorkload,
} from '../src/index.js'

const DEMOS = experiments().filter((e) => e.group === 'demo')

describe('the demos under every rmap design, on every layout', () => {
  it('there are demos, and three designs', () => {
    expect(DEMOS.length).toBeGreaterThanOrEqual(15)
    expect([...RMAP_STRATEGIES]).toEqual(['objrmap', 'pte_chains', 'anonmm'])
  })

  for (const e of DEMOS) {
    it(`${e.name} passes under ${RMAP_STRATEGIES.join(', ')} on ${ARCH_NAMES.join(', ')}`, () => {
      const { workload } = loadExperiment(e.name)
      const layouts = ARCH_NAMES.flatMap((arch) => RMAP_STRATEGIES.map((rmap) => [arch, rmap] as const))
      const runs = layouts.map(([arch, rmap]) =>
        runOnLayout(workload, layoutFor(workload, arch, rmap), {}, true),
      )
      expect(runs.map((r) => [r.layout, r.ok, r.failure?.message])).toEqual(
        layouts.map(([arch, rmap]) => [`${arch}/${rmap}`, true, undefined]),
      )
      for (const r of runs) expect(r.assertions.passed, `${r.layout}: assertions held`).toBeGreaterThan(0)
    })
  }

  it('catches an assertion that holds only under objrmap: A1 with its design filters dropped', () => {
    const text = DEMOS.find((e) => e.name === 'a1')!.text!
    expect(text).toMatch(/^ {6}rmap: objrmap$/m)
    // Every per-design assertion now applies to every design.
    const stripped = text.replace(/^ {6}rmap: .*\n/gm, '')
    const { data, source } = parseText(stripped, 'workloads/a1.yaml')
    const w = validateWorkload(data, source, 'a1')
    const runs = RMAP_STRATEGIES.map((rmap) => runOnLayout(w, layoutFor(w, 'i386', rmap), {}, true))
    expect(runs.map((r) => r.ok)).toEqual([false, false, false])
    // objrmap fails on pte_chains' expectation (no anon_vma), the others on objrmap's (one).
    expect(runs.map((r) => r.failure?.message)).toEqual([
      'stats objects.anonVmas: expected 0, got 1',
      'stats objects.anonVmas: expected 1, got 0',
      'stats objects.anonVmas: expected 1, got 0',
    ])
  })
})
