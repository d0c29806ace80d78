/**
 * The bligh experiment: the figures of the 2004 argument. Every design pays
 * the page tables (tasks x pages ptes); pte_chains also pays chain objects per
 * few ptes of every shared page, from lowmem, while objrmap and anonmm pay
 * nothing per pte (objrmap: 12 bytes of vma fields per task on 32-bit).
 */
import { describe, expect, it } from 'vitest'
import { BadInputError, createRun, type LayoutRun, loadExperiment } from '../src/index.js'

function run(params: string[], rmap: string, arch: 'i386' | 'i386-pae' | 'ppc64' = 'i386-pae'): LayoutRun {
  const { workload } = loadExperiment('bligh', params)
  const r = createRun(workload, { layout: arch, rmap }).runToEnd()
  expect(r.failure, r.failure?.message).toBeUndefined()
  return r
}

const PAGES = 64
const at = (tasks: number, backing = 'file') => [
  `tasks=${tasks}`,
  `sga=${PAGES * 4}K`,
  `backing=${backing}`,
  'walks=4',
]

describe('bligh: the thousand-task database', () => {
  for (const backing of ['file', 'tmpfs']) {
    it(`${backing}: tasks x pages ptes on every design; objrmap's rmap memory has no per-pte part, pte_chains' grows per pte`, () => {
      for (const tasks of [3, 40]) {
        const ptes = tasks * PAGES
        const o = run(at(tasks, backing), 'objrmap')
        const c = run(at(tasks, backing), 'pte_chains')
        const h = run(at(tasks, backing), 'anonmm')
        for (const r of [o, c, h]) {
          expect(r.stats.rmap.pageAddRmap).toBe(ptes)
          // 8-byte ptes, 512 a page: one pte page per task for 64 pages.
          expect(r.meminfo.PageTables).toBe(tasks * 4)
        }
        // objrmap: the vma fields (12 bytes a task) and one mapcount word per frame of RAM, nothing per pte.
        expect(o.stats.rmapMemory.bytes).toEqual({
          anonVma: 0,
          vmaFields: 12 * tasks,
          mapcount: o.stats.rmapBytes.mapcount,
        })
        expect(o.stats.rmapMemory.lowmemFrames).toBe(0)
        // anonmm: a struct and a field per mm, nothing per pte.
        expect(
          h.stats.rmapMemory.bytes['anonmm']! + h.stats.rmapMemory.bytes['mmField']!,
        ).toBeLessThanOrEqual((24 + 4) * tasks)
        // pte_chains: every page mapped more than once has ceil(tasks / NRPTE) chains of a cache line.
        const { cacheLine, nrpte } = c.stats.rmapMemory.parameters as { cacheLine: number; nrpte: number }
        expect(nrpte).toBe((cacheLine - 8) / 8)
        const chains = tasks > 1 ? PAGES * Math.ceil(tasks / nrpte) : 0
        expect(c.stats.rmapMemory.bytes['pteChain']).toBe(chains * cacheLine)
        expect(c.stats.rmapMemory.lowmemFrames).toBeGreaterThanOrEqual(Math.ceil((chains * cacheLine) / 4096))
      }
    })
  }

  it('pte_chains at 40 tasks costs more than a byte per pte on i386-pae; objrmap less than the page tables alone', () => {
    const tasks = 40
    const ptes = tasks * PAGES
    const c = run(at(tasks), 'pte_chains')
    const o = run(at(tasks), 'objrmap')
    expect(c.stats.rmapMemory.bytes['pteChain']! / ptes).toBeGreaterThan(8)
    expect(o.stats.rmapBytes.vmaFields + o.stats.rmapBytes.anonVma).toBeLessThan(ptes)
  })

  it('the walks find every task’s pte: objrmap visits the tasks’ vmas, pte_chains the ptes', () => {
    const o = run(at(5), 'objrmap', 'i386')
    const c = run(at(5), 'pte_chains', 'i386')
    expect(o.walks.maxVmasVisited).toBe(5)
    expect(o.stats.rmap.pageReferencedFound).toBe(4 * 6)
    expect(c.stats.rmap.pageReferencedFound).toBe(4 * 6)
    expect(c.stats.rmap.ptesProbed).toBe(4 * 5)
  })

  it('backing takes file or tmpfs by name; the SGA is a /dev/shm file with tmpfs', () => {
    expect(loadExperiment('bligh', ['backing=tmpfs']).params['backing']).toBe(1)
    const text = JSON.stringify(loadExperiment('bligh', ['backing=tmpfs']).workload.steps.map((s) => s.args))
    expect(text).toContain('/dev/shm/sga')
    expect(() => loadExperiment('bligh', ['backing=shm'])).toThrow(BadInputError)
    expect(() => loadExperiment('bligh', ['backing=shm'])).toThrow("'shm' is not one of file, tmpfs")
    expect(() => loadExperiment('bligh', ['tasks=0'])).toThrow(/out of range/)
  })

  it('2 tasks: the second fault activates the page and clears PG_referenced, so a walk finds 2', () => {
    const r = run(['tasks=2', 'sga=64K', 'walks=1'], 'objrmap', 'i386')
    expect(r.stats.rmap.pageReferencedFound).toBe(2)
  })
})
