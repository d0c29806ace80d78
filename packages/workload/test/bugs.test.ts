/**
 * Bug archaeology: every bug of the registry is caught by its demo when
 * re-introduced, and the same demo is clean on the fixed kernel. A demo whose
 * buggy run escapes, or whose fixed run is flagged, fails here.
 */
import { BUG_NAMES } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { BUG_DEMO_NAMES, BUG_DEMOS, bugDemo } from '../src/index.js'

describe('the bug registry', () => {
  it('has a demo for every re-introducible bug of the core, in the same order', () => {
    expect(BUG_DEMO_NAMES).toEqual(BUG_NAMES)
    for (const d of BUG_DEMOS) {
      expect(d.fix).toMatch(/<[^>]+>|\.c|\.h/)
      expect(d.caughtBy.length).toBeGreaterThan(10)
    }
  })

  it('an unknown name is a RangeError listing the valid ones', () => {
    expect(() => bugDemo('nope')).toThrow(new RegExp(`unknown bug 'nope'; valid: ${BUG_NAMES.join(', ')}`))
  })
})

describe.each(BUG_DEMOS.map((d) => [d.name, d] as const))('demo %s', (_name, d) => {
  it('catches the re-introduced bug and passes without it', () => {
    const r = d.run()
    for (const c of r.cases) {
      expect(c.buggy.caught, `${c.label}: the buggy run is caught`).toBe(true)
      expect(c.buggy.at.length, `${c.label}: where it was caught`).toBeGreaterThan(0)
      expect(c.fixed.caught, `${c.label}: the fixed run is clean (${c.fixed.message})`).toBe(false)
      if (d.kind === 'race') {
        expect(c.buggy.race!.token).toMatch(/^v1:/)
        expect(c.fixed.race!.boundReached).toBe(2)
      }
    }
    expect(r.ok).toBe(true)
  })
})

describe('what catches each bug', () => {
  const by = (name: string) =>
    bugDemo(name)
      .run()
      .cases.map((c) => [c.buggy.by, c.buggy.message])
  it('pg-anon-race: the BUG_ON in page_add_rmap', () => {
    expect(by('pg-anon-race')[0]![1]).toMatch(/page_add_rmap/)
  })
  it('pagetables-0kb: the nr_page_table_pages check, at the step that faults the pages in', () => {
    const c = bugDemo('pagetables-0kb').run().cases[0]!
    expect(c.buggy.by).toBe('m.check()')
    expect(c.buggy.message).toMatch(/nr_page_table_pages \(0\)/)
    expect(c.buggy.at[0]).toMatch(/^step 2: write every page/)
  })
  it('ppc-young-no-flush and ppc-flush-hash-shift: the MMU-cache check', () => {
    for (const n of ['ppc-young-no-flush', 'ppc-flush-hash-shift'])
      expect(by(n)[0]).toEqual(['m.check()', expect.stringMatching(/accessed bit cleared without a flush/)])
  })
  it('ppc-no-pgtable-rmap: a NULL mm in the hash flush, on ppc64 and ppc', () => {
    const r = by('ppc-no-pgtable-rmap')
    expect(r[0]![1]).toMatch(/hpte_update.*NULL mm/)
    expect(r[1]![1]).toMatch(/flush_hash_one_pte.*NULL mm/)
  })
  it('ppc-early-pte-count: the per-cpu page_state before setup_per_cpu_areas, at MMU_init', () => {
    const c = bugDemo('ppc-early-pte-count').run().cases[0]!
    expect(c.buggy.message).toMatch(/per-cpu page_state touched before/)
    expect(c.buggy.at[0]).toMatch(/^step 1: MMU_init/)
  })
  it('nonlinear-nr-mapped: the nr_mapped check, at the try_to_unmap whose cluster scan unmaps the page', () => {
    const c = bugDemo('nonlinear-nr-mapped').run().cases[0]!
    expect(c.buggy.by).toBe('m.check()')
    expect(c.buggy.message).toMatch(/nr_mapped \(-1\) equals the mapped pages \(0\)/)
    expect(c.buggy.at[0]).toMatch(/^step 4: try_to_unmap of file page 0 again/)
  })
  it('move-vma-merge-first: the total_vm check, at the mremap that fails with ENOMEM; the fixed run reads its pages back', () => {
    const c = bugDemo('move-vma-merge-first').run().cases[0]!
    expect(c.buggy.by).toBe('m.check()')
    expect(c.buggy.message).toMatch(/total_vm of pid \d+ \(3\) equals the pages of its vmas \(5\)/)
    expect(c.buggy.at[0]).toMatch(/^step 3: mremap/)
    expect(c.fixed).toMatchObject({ caught: false, steps: 4 })
  })
})
