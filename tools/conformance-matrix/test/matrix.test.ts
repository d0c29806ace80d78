import { describe, expect, it } from 'vitest'
import {
  buildMatrix,
  groupOf,
  hasFailures,
  renderMatrix,
  SHIPPED_COLUMNS,
  type TestRecord,
} from '../src/index.js'

const rec = (column: string, id: string, state: TestRecord['state'], message?: string): TestRecord => ({
  column,
  id,
  state,
  ...(message === undefined ? {} : { message }),
})

describe('matrix', () => {
  const records = [
    rec('i386', 'geo.constants', 'pass'),
    rec('i386', 'pt.kmap.none', 'pass'),
    rec('i386', 'mmu.access', 'pass'),
    rec('ppc', 'geo.constants', 'pass'),
    rec('ppc', 'pt.kmap.nesting', 'xfail'),
    rec('ppc', 'mmu.access', 'fail', 'expected true to be false'),
    rec('i386-pae', 'geo.constants', 'pass'),
    rec('i386-pae', 'pt.kmap.nesting', 'skip'),
    rec('i386-pae', 'mmu.access', 'pass'),
  ]

  it('keeps every column order, shows a missing shipped arch, and merges row orders', () => {
    const m = buildMatrix(records, { expected: ['i386', 'i386-pae', 'ppc', 'ppc64'] })
    expect(m.columns).toEqual(['i386', 'i386-pae', 'ppc', 'ppc64'])
    expect(m.missing).toEqual(['ppc64'])
    expect(m.rows).toEqual(['geo.constants', 'pt.kmap.nesting', 'pt.kmap.none', 'mmu.access'])
    expect(m.cells['pt.kmap.none']).toEqual({ i386: 'pass' })
    expect(m.failures).toEqual([rec('ppc', 'mmu.access', 'fail', 'expected true to be false')])
    expect(hasFailures(m)).toBe(true)
  })

  it('renders ✓ ✗ – ○ cells, a summary per arch and the failures', () => {
    const text = renderMatrix(buildMatrix(records, { expected: ['i386', 'i386-pae', 'ppc'] }))
    const lines = text.split('\n')
    expect(lines[0]).toBe('check           │ i386 │ i386-pae │ ppc')
    expect(lines[2]).toBe('geo.constants   │  ✓   │    ✓     │  ✓ ')
    expect(lines[3]).toBe('pt.kmap.nesting │  –   │    ○     │  ○ ')
    expect(lines[4]).toBe('pt.kmap.none    │  ✓   │    –     │  – ')
    expect(lines[5]).toBe('mmu.access      │  ✓   │    ✓     │  ✗ ')
    expect(text).toContain('ppc: 3 tests: 1 pass, 1 fail, 1 known gap; 1 rows not applicable')
    expect(text).toContain('  ✗ ppc mmu.access: expected true to be false')
  })

  it('folds ids into groups, the worst cell winning', () => {
    expect(groupOf('pt.count.user[2.6.4]')).toBe('pt.count')
    expect(groupOf('mmu.flush.clear.page')).toBe('mmu.flush')
    const m = buildMatrix(
      [
        rec('i386', 'pt.count.user[2.6.4]', 'pass'),
        rec('i386', 'pt.count.kernel[2.6.4]', 'fail'),
        rec('ppc', 'pt.count.user[2.6.4]', 'xfail'),
        rec('ppc', 'pt.count.user[2.6.7]', 'pass'),
      ],
      { byGroup: true, expected: ['i386', 'ppc'] },
    )
    expect(m.rows).toEqual(['pt.count'])
    expect(m.cells['pt.count']).toEqual({ i386: 'fail', ppc: 'xfail' })
  })

  it('expects every shipped layout under every rmap design, and heads design columns with two rows', () => {
    expect(SHIPPED_COLUMNS).toEqual(
      ['i386', 'i386-pae', 'ppc', 'ppc64'].flatMap((l) => [l, `${l}/pte_chains`, `${l}/anonmm`]),
    )
    expect(buildMatrix([]).missing).toEqual(SHIPPED_COLUMNS)
    const text = renderMatrix(
      buildMatrix(
        [
          rec('i386', 'vm.a1', 'pass'),
          rec('i386', 'pt.alloc', 'pass'),
          rec('i386/pte_chains', 'vm.a1', 'fail', 'expected 1 to be 0'),
          rec('i386/anonmm', 'vm.a1', 'pass'),
        ],
        { expected: ['i386', 'i386/pte_chains', 'i386/anonmm'] },
      ),
    )
    const lines = text.split('\n')
    expect(lines[0]).toBe('check    │ i386 │     │    ')
    expect(lines[1]).toBe('         │ obj  │ ptc │ amm')
    expect(lines[3]).toBe('vm.a1    │  ✓   │  ✗  │  ✓ ')
    expect(lines[4]).toBe('pt.alloc │  ✓   │  –  │  – ')
    expect(text).toContain('obj = objrmap + anon_vma')
    expect(text).toContain('  ✗ i386/pte_chains vm.a1: expected 1 to be 0')
  })

  it('passes when nothing fails and every expected arch ran', () => {
    const m = buildMatrix([rec('a', 'x.y', 'pass'), rec('b', 'x.y', 'xfail')], { expected: ['a', 'b'] })
    expect(hasFailures(m)).toBe(false)
  })
})
