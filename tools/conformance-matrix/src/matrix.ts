/**
 * The arch × check matrix as data: built from one record per test the suite
 * registered, rendered as a text table. Pure functions, so the table can be
 * tested without running vitest.
 */

/** What one test of one arch came to. */
export type CellState = 'pass' | 'fail' | 'xfail' | 'skip' | 'n/a'

/** One conformance test as the reporter saw it. */
export interface TestRecord {
  /** The arch label of its suite (`rmaplab conformance: <label>`). */
  readonly column: string
  /** The check id (text before the first `": "` of the test name). */
  readonly id: string
  readonly state: Exclude<CellState, 'n/a'>
  /** The first line of the error of a failed test. */
  readonly message?: string
}

/** The matrix: rows are check ids (or groups), columns arch labels. */
export interface Matrix {
  readonly columns: readonly string[]
  readonly rows: readonly string[]
  /** `cells[row][column]`; a missing cell is a check the arch did not register: not applicable. */
  readonly cells: Readonly<Record<string, Readonly<Record<string, CellState>>>>
  /** Columns expected but with no test at all (the arch package did not load or has no conformance test). */
  readonly missing: readonly string[]
  /** Failed tests, for the details under the table. */
  readonly failures: readonly TestRecord[]
  /** Tests per column and outcome (ids, not rows: a group row stands for several tests). */
  readonly totals: Readonly<Record<string, Readonly<Record<Exclude<CellState, 'n/a'>, number>>>>
}

/** The layouts rmaplab ships. */
export const SHIPPED_LAYOUTS = ['i386', 'i386-pae', 'ppc', 'ppc64'] as const

/**
 * The rmap designs every arch's conformance test runs (the rmap axis): the
 * default first, whose column is labelled with the arch name alone.
 */
export const DESIGNS = ['objrmap', 'pte_chains', 'anonmm'] as const

/** Short names of the designs in the table's second header row. */
const DESIGN_SHORT: Readonly<Record<string, string>> = { objrmap: 'obj', pte_chains: 'ptc', anonmm: 'amm' }

/** The column of `layout` under `design`: `i386` for objrmap, `i386/pte_chains` otherwise. */
export function columnOf(layout: string, design: string): string {
  return design === 'objrmap' ? layout : `${layout}/${design}`
}

/** The layout × design columns rmaplab ships: always shown, in this order, even when they did not run. */
export const SHIPPED_COLUMNS: readonly string[] = SHIPPED_LAYOUTS.flatMap((l) =>
  DESIGNS.map((d) => columnOf(l, d)),
)

/** A column's layout and design (`i386-pae/anonmm` → `['i386-pae', 'anonmm']`; a bare name is objrmap). */
export function splitColumn(column: string): [layout: string, design: string] {
  const at = column.indexOf('/')
  return at < 0 ? [column, 'objrmap'] : [column.slice(0, at), column.slice(at + 1)]
}

/**
 * Merge the per-column id orders into one row order that keeps each column's
 * own order (a check only one arch has lands after its predecessor there).
 */
function mergeOrder(lists: readonly (readonly string[])[]): string[] {
  const rows: string[] = []
  for (const list of lists) {
    let after = -1
    for (const id of list) {
      const at = rows.indexOf(id)
      if (at >= 0) {
        after = at
        continue
      }
      rows.splice(after + 1, 0, id)
      after++
    }
  }
  return rows
}

/** The group of a check id: its first two segments, without the profile (`pt.count.user[2.6.4]` → `pt.count`). */
export function groupOf(id: string): string {
  return id
    .replace(/\[.*\]$/, '')
    .split('.')
    .slice(0, 2)
    .join('.')
}

const SEVERITY: readonly CellState[] = ['n/a', 'pass', 'skip', 'xfail', 'fail']

/** Build the matrix; `byGroup` folds ids into groups (the worst cell wins, n/a < pass < skip < xfail < fail). */
export function buildMatrix(
  records: readonly TestRecord[],
  opts: { expected?: readonly string[]; byGroup?: boolean } = {},
): Matrix {
  const expected = opts.expected ?? SHIPPED_COLUMNS
  const seen = [...new Set(records.map((r) => r.column))]
  const columns = [...expected, ...seen.filter((c) => !expected.includes(c))]
  const key = (id: string) => (opts.byGroup ? groupOf(id) : id)
  const rows = mergeOrder(
    columns.map((c) => [...new Set(records.filter((r) => r.column === c).map((r) => key(r.id)))]),
  )
  const cells: Record<string, Record<string, CellState>> = {}
  for (const r of records) {
    const k = key(r.id)
    const row = cells[k] ?? {}
    cells[k] = row
    const old = row[r.column]
    if (old === undefined || SEVERITY.indexOf(r.state) > SEVERITY.indexOf(old)) row[r.column] = r.state
  }
  const totals: Record<string, Record<Exclude<CellState, 'n/a'>, number>> = {}
  for (const c of columns) totals[c] = { pass: 0, fail: 0, xfail: 0, skip: 0 }
  for (const r of records) totals[r.column]![r.state]++
  return {
    columns,
    rows,
    cells,
    totals,
    missing: columns.filter((c) => !seen.includes(c)),
    failures: records.filter((r) => r.state === 'fail'),
  }
}

/** True when the matrix shows a failure or a shipped arch that did not run. */
export function hasFailures(m: Matrix): boolean {
  return m.failures.length > 0 || m.missing.length > 0
}

const MARK: Record<CellState, string> = { pass: '✓', fail: '✗', xfail: '○', skip: '○', 'n/a': '–' }

/** Legend printed under the table. */
export const LEGEND =
  '✓ passes   ✗ fails   – not applicable (capability, fixture, profile, or a layer the rmap design does not change)   ○ known gap (expected failure or skipped by the arch expectations)'

/** The design legend, printed when the table has design columns. */
export const DESIGN_LEGEND =
  'rmap designs: obj = objrmap + anon_vma (2.6.5-aa), ptc = pte_chains (2.6.4), amm = anonmm (rmap 10/11); only the whole-VM checks depend on the design'

const center = (s: string, width: number): string => {
  const left = Math.floor((width - s.length) / 2)
  return ' '.repeat(left) + s + ' '.repeat(width - s.length - left)
}

/**
 * The matrix as a text table with a per-column summary, the legend and the
 * failures. With design columns (`i386/pte_chains`) the header takes two
 * rows: the layout over its first column, the design under it.
 */
export function renderMatrix(m: Matrix): string {
  const first = Math.max('check'.length, ...m.rows.map((r) => r.length))
  const twoRows = m.columns.some((c) => c.includes('/'))
  const parts = m.columns.map(splitColumn)
  const top = parts.map(([layout], i) => (i > 0 && parts[i - 1]![0] === layout ? '' : layout))
  const bottom = parts.map(([, design]) => DESIGN_SHORT[design] ?? design)
  const widths = m.columns.map((c, i) =>
    twoRows ? Math.max(top[i]!.length, bottom[i]!.length, 3) : Math.max(c.length, 3),
  )
  const line = (cells: string[]) =>
    [cells[0]!.padEnd(first), ...cells.slice(1).map((c, i) => center(c, widths[i]!))].join(' │ ')
  const out = twoRows
    ? [
        [
          'check'.padEnd(first),
          ...top.map((t, i) => (t === '' ? ' '.repeat(widths[i]!) : t.padEnd(widths[i]!))),
        ].join(' │ '),
        line(['', ...bottom]),
      ]
    : [line(['check', ...m.columns])]
  out.push(['─'.repeat(first), ...widths.map((w) => '─'.repeat(w))].join('─┼─'))
  for (const row of m.rows) {
    out.push(
      line([row, ...m.columns.map((c) => (m.missing.includes(c) ? '✗' : MARK[m.cells[row]?.[c] ?? 'n/a']))]),
    )
  }
  out.push('')
  for (const c of m.columns) {
    if (m.missing.includes(c)) {
      out.push(`${c}: did not run (no conformance test registered for it)`)
      continue
    }
    const t = m.totals[c]!
    const na = m.rows.filter((r) => m.cells[r]?.[c] === undefined).length
    out.push(
      `${c}: ${t.pass + t.fail + t.xfail + t.skip} tests: ${t.pass} pass, ${t.fail} fail, ${t.xfail + t.skip} known gap; ${na} rows not applicable`,
    )
  }
  out.push('', LEGEND)
  if (twoRows) out.push(DESIGN_LEGEND)
  if (m.failures.length > 0) {
    out.push('', 'Failures:')
    for (const f of m.failures) out.push(`  ✗ ${f.column} ${f.id}${f.message ? `: ${f.message}` : ''}`)
  }
  return out.join('\n')
}
