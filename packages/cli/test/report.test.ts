/**
 * The comparison table's grouping: an indented row breaks down the row above
 * it and never shows without it. Direct reclaim (try_to_free_pages when an
 * allocation at a fault or fork finds no free page) scans pages without any
 * kswapd run (m.reclaim): `reclaim runs` counts both, with the two kinds as
 * their own rows.
 */
import { createRun, parseWorkload } from '@rmaplab/workload'
import { describe, expect, it } from 'vitest'
import { metricsTable, ROWS } from '../src/report.js'

/** The rows of a metrics table, label → figures. */
function rowsOf(table: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of table.split('\n').slice(2)) {
    const [label, ...figures] = line.split('│')
    out.set(
      label!.trimEnd(),
      figures.map((f) => f.trim()),
    )
  }
  return out
}

/** The label of the row an indented row breaks down (the nearest unindented row above it). */
function parentOf(label: string): string {
  const i = ROWS.findIndex((r) => r.label === label)
  for (let j = i - 1; j >= 0; j--) if (!ROWS[j]!.label.startsWith('  ')) return ROWS[j]!.label
  throw new Error(`no parent for ${label}`)
}

// Fork until lowmem runs out on a small machine: the page allocator's retries
// reclaim directly, with no m.reclaim step in the workload.
const FORKS = `
name: direct reclaim in fork
machine: { arch: i386, ram: 8M }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: mem, length: 4M, prot: rw }
  - write: { proc: p, region: mem, value: i }
  - fork: { proc: p, levels: 14, until_fails: ENOMEM, as: all }
`

describe('the report table', () => {
  const run = createRun(parseWorkload(FORKS, 'forks.yaml'), { layout: 'i386' }).runToEnd()

  it('fork direct reclaim: pages scanned with no m.reclaim run; the table shows reclaim runs = the direct reclaims above it', () => {
    const { runs, directReclaims, scanned } = run.stats.reclaim
    expect({ runs, direct: directReclaims > 0, scanned: scanned > 0 }).toEqual({
      runs: 0,
      direct: true,
      scanned: true,
    })
    const rows = rowsOf(metricsTable([run]))
    const labels = [...rows.keys()]
    expect(rows.get('reclaim runs')).toEqual([directReclaims.toLocaleString('en-US')])
    expect(rows.get('  direct (allocation)')).toEqual([directReclaims.toLocaleString('en-US')])
    expect(rows.has('  kswapd (m.reclaim)'), 'no kswapd run: its row stays out').toBe(false)
    expect(labels.indexOf('reclaim runs')).toBeLessThan(labels.indexOf('  pages scanned'))
  })

  it('every indented row that shows has its parent row shown above it, whatever is zero', () => {
    // Zero every figure but the children: each child then shows alone unless its parent is forced in.
    const zero = structuredClone(run)
    zero.stats.reclaim.runs = 0
    zero.stats.reclaim.directReclaims = 0
    zero.stats.swap.pageouts = 0
    zero.stats.swap.freed = 3
    const labels = [...rowsOf(metricsTable([zero, run])).keys()]
    for (const [i, label] of labels.entries()) {
      if (!label.startsWith('  ')) continue
      const parent = parentOf(label)
      const at = labels.indexOf(parent)
      expect(at, `${label.trim()} shows with ${parent}`).toBeGreaterThanOrEqual(0)
      expect(at, `${parent} above ${label.trim()}`).toBeLessThan(i)
      for (let k = at + 1; k < i; k++)
        expect(labels[k]!.startsWith('  '), `${label.trim()} right under ${parent}`).toBe(true)
    }
    expect(labels).toContain('pageouts')
  })
})
