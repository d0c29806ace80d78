/**
 * The runner against the VM's own API: an experiment run through the workload
 * interpreter leaves the machine exactly as the same syscalls made by hand.
 */
import {
  InvariantError,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from '@rmaplab/rmap'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { experiment } from '../src/experiments/index.js'
import { ARCHES, resolveLayouts } from '../src/run/layouts.js'
import { runOnLayout } from '../src/run/runner.js'
import { objectSource } from '../src/workload/source.js'
import { validateWorkload } from '../src/workload/validate.js'

function load(name: string, params: string[]) {
  const { data, source } = experiment(name).load(params)
  return validateWorkload(data, source, name)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('runner', () => {
  it("Andrea's fork test through the runner equals the same syscalls by hand, under each rmap design", () => {
    const w = load('andrea', ['size=1M', 'levels=3', 'walks=4'])
    const layouts = resolveLayouts(w.machine, w.source, {})
    expect(layouts.map((l) => `${l.arch.name}/${l.rmap}`)).toEqual([
      'i386/objrmap',
      'i386/pte_chains',
      'i386/anonmm',
    ])
    for (const layout of layouts) {
      let viaRunner: Machine | undefined
      const run = runOnLayout(w, layout, { onMachine: (m) => (viaRunner = m) })
      expect(run.ok).toBe(true)
      expect(run.results).toEqual({ 'fork.levels': 3, 'fork.ranOut': 0 })
      const m = new Machine({ arch: ARCHES.i386, rmap: layout.rmap, ram: layout.ram, cpus: 2 })
      const p = m.spawn()
      const pages = 256
      const a = p.mmap(0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
      for (let k = 0; k < pages; k++) p.write(a + k * PAGE_SIZE, k)
      let all: Process[] = [p]
      for (let l = 0; l < 3; l++) all = all.concat(all.map((q) => q.fork()))
      for (const q of all) for (let k = 0; k < pages; k++) expect(q.read(a + k * PAGE_SIZE)).toBe(k)
      for (let k = 0; k < pages; k += 64) expect(m.pageReferenced(p.pagemap(a + k * PAGE_SIZE).pfn!)).toBe(9)
      expect(viaRunner!.stats()).toEqual(m.stats())
      expect(viaRunner!.meminfo()).toEqual(m.meminfo())
      // objrmap visits the 8 vmas on the anon_vma; pte_chains the chain, anonmm the mms: no vma.
      const vmas = layout.rmap === 'objrmap' ? 8 : 0
      expect(run.stats.rmap.vmasVisited).toBe(4 * vmas)
      expect(run.walks).toEqual({ calls: 4, vmasVisited: 4 * vmas, ptesProbed: 32, maxVmasVisited: vmas })
      expect(run.stats.rmap.mmsVisited).toBe(layout.rmap === 'anonmm' ? 32 : 0)
    }
  })

  it("Rik's case: a walk of one child's page visits every vma of the family", () => {
    const w = load('rik', ['children=20', 'pages=10', 'walks=2'])
    const [layout] = resolveLayouts(w.machine, w.source, { arch: ['i386-pae'] })
    const run = runOnLayout(w, layout!)
    expect(run.ok).toBe(true)
    expect(run.walks.maxVmasVisited).toBe(21)
    expect(run.stats.cow.copies).toBe(200)
    expect(run.stats.objects.anonVmas).toBe(1)
  })

  it('check mode: the first violated invariant is reported with the step that broke it', () => {
    const w = load('a1', [])
    const [layout] = resolveLayouts(w.machine, w.source, { arch: ['i386'] })
    let calls = 0
    vi.spyOn(Machine.prototype, 'check').mockImplementation(() => {
      if (++calls === 4) throw new InvariantError(['page 7: mapcount 2 but 1 pte maps it'])
    })
    const run = runOnLayout(w, layout!, { checkEachStep: true })
    expect(run.ok).toBe(false)
    expect(run.stepsRun).toBe(4)
    expect(run.failure).toMatchObject({
      kind: 'invariant',
      step: 4,
      label: 'fork p → c',
      pos: { line: 11, col: 5 },
      cause: { name: 'InvariantError', violations: ['page 7: mapcount 2 but 1 pte maps it'] },
    })
  })

  it('a region a process never mapped is a failure of the step, not a crash', () => {
    const w = validateWorkload(
      {
        steps: [
          { spawn: { as: 'p' } },
          { spawn: { as: 'q' } },
          { mmap: { proc: 'p', as: 'a', length: '1p', prot: 'rw' } },
          { write: { proc: 'q', region: 'a', value: 1 } },
        ],
      },
      objectSource('inline'),
      'inline',
    )
    const [layout] = resolveLayouts(w.machine, w.source, { arch: ['ppc'] })
    const run = runOnLayout(w, layout!)
    expect(run.failure).toMatchObject({
      kind: 'error',
      step: 4,
      process: 'q (pid 2)',
      message: "region 'a' is not mapped by q (pid 2): it mapped none",
    })
  })
})
