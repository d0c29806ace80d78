/**
 * Reports: the side-by-side table people read, the JSON programs read, and
 * the lines that say what failed where.
 */

import type { Meminfo } from '@rmaplab/rmap'
import { type LayoutRun, MEMINFO_FIELDS, type Workload } from '@rmaplab/workload'
import Table from 'cli-table3'

/** Bytes of one structure of the run's rmap design (`m.stats().rmapMemory.bytes`), 0 when the design has none. */
function designBytes(r: LayoutRun, structure: string): number {
  return r.stats.rmapMemory.bytes[structure] ?? 0
}

/** One row of the comparison: a label, how to get the figure, and whether to show it when it is zero everywhere. */
interface Row {
  label: string
  get: (r: LayoutRun) => number | string
  always?: boolean
  /** Shown only when some layout satisfies this. */
  when?: (r: LayoutRun) => boolean
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0)
const walkCalls = (r: LayoutRun) => r.stats.rmap.pageReferencedCalls + r.stats.rmap.tryToUnmapCalls
const perWalk = (n: number, r: LayoutRun) => {
  const c = walkCalls(r)
  return c ? Math.round((n / c) * 10) / 10 : 0
}

/** The rows of the report, in order; indented rows break down the one above. */
export const ROWS: readonly Row[] = [
  { label: 'steps run', get: (r) => `${r.stepsRun}/${r.steps}`, always: true },
  { label: 'live processes', get: (r) => r.processes, always: true },
  { label: 'forks', get: (r) => r.stats.fork.forks },
  {
    label: '  fork levels reached',
    get: (r) =>
      r.results['fork.levels'] === undefined
        ? '–'
        : `${r.results['fork.levels']}${r.results['fork.ranOut'] ? ' (then ENOMEM)' : ''}`,
    always: true,
    when: (r) => r.results['fork.levels'] !== undefined,
  },
  { label: '  ptes copied', get: (r) => r.stats.fork.ptesCopied },
  { label: 'page faults', get: (r) => sum(r.stats.faults), always: true },
  { label: '  anonymous', get: (r) => r.stats.faults.anonymous },
  { label: '  zero page', get: (r) => r.stats.faults.anonymousZero },
  { label: '  COW copy', get: (r) => r.stats.faults.wpCopy },
  { label: '  COW reuse', get: (r) => r.stats.faults.wpReuse },
  { label: '  file', get: (r) => r.stats.faults.file },
  { label: '  file, early COW', get: (r) => r.stats.faults.fileCow },
  { label: '  nonlinear', get: (r) => r.stats.faults.nonlinear },
  { label: '  minor', get: (r) => r.stats.faults.minor },
  { label: '  swap-in (major)', get: (r) => r.stats.faults.swapMajor },
  { label: '  swap cache hit', get: (r) => r.stats.faults.swapCache },
  { label: 'PageTables kB', get: (r) => r.meminfo.PageTables, always: true },
  // The ptes those page tables hold that map a page through the rmap (page_add_rmap less page_remove_rmap).
  { label: '  ptes mapped', get: (r) => r.stats.rmap.pageAddRmap - r.stats.rmap.pageRemoveRmap },
  { label: 'Mapped kB', get: (r) => r.meminfo.Mapped, always: true },
  { label: 'Cached kB', get: (r) => r.meminfo.Cached },
  { label: 'MemFree kB', get: (r) => r.meminfo.MemFree, always: true },
  { label: 'LowFree kB', get: (r) => r.meminfo.LowFree, always: true, when: (r) => r.meminfo.HighTotal > 0 },
  {
    label: 'SwapFree kB',
    get: (r) => r.meminfo.SwapFree,
    always: true,
    when: (r) => r.meminfo.SwapTotal > 0,
  },
  { label: 'SwapCached kB', get: (r) => r.meminfo.SwapCached },
  { label: 'pageouts', get: (r) => r.stats.swap.pageouts },
  { label: '  freed', get: (r) => r.stats.swap.freed },
  { label: '  activated', get: (r) => r.stats.swap.activated },
  { label: 'swap writes', get: (r) => r.stats.swap.pagesWritten },
  { label: 'swap reads', get: (r) => r.stats.swap.pagesRead },
  // Every reclaim: kswapd's runs (m.reclaim) and the direct reclaims an allocation made
  // (try_to_free_pages, at a fault or a fork), whose scanning the rows below include.
  { label: 'reclaim runs', get: (r) => r.stats.reclaim.runs + r.stats.reclaim.directReclaims },
  { label: '  kswapd (m.reclaim)', get: (r) => r.stats.reclaim.runs },
  { label: '  direct (allocation)', get: (r) => r.stats.reclaim.directReclaims },
  { label: '  pages scanned', get: (r) => r.stats.reclaim.scanned },
  { label: '  pages freed', get: (r) => r.stats.reclaim.freed },
  { label: 'vmas', get: (r) => r.stats.objects.vmas, always: true },
  { label: 'anon_vmas', get: (r) => r.stats.objects.anonVmas, always: true },
  { label: 'rmap bytes', get: (r) => r.stats.rmapBytes.total, always: true },
  { label: '  anon_vma structs', get: (r) => r.stats.rmapBytes.anonVma, always: true },
  { label: '  vma fields', get: (r) => r.stats.rmapBytes.vmaFields, always: true },
  { label: '  page mapcount', get: (r) => r.stats.rmapBytes.mapcount, always: true },
  { label: '  pte_chain objects', get: (r) => designBytes(r, 'pteChain') },
  { label: '  page pte field', get: (r) => designBytes(r, 'pageField') },
  { label: '  anonmm structs', get: (r) => designBytes(r, 'anonmm') },
  { label: '  mm anonmm field', get: (r) => designBytes(r, 'mmField') },
  { label: 'rmap lowmem frames', get: (r) => r.stats.rmapMemory.lowmemFrames },
  { label: 'rmap walks', get: walkCalls },
  { label: '  vmas visited / walk', get: (r) => perWalk(r.stats.rmap.vmasVisited, r) },
  { label: '  ptes probed / walk', get: (r) => perWalk(r.stats.rmap.ptesProbed, r) },
  { label: '  most vmas in a walk', get: (r) => r.walks.maxVmasVisited },
  { label: '  mms visited / walk', get: (r) => perWalk(r.stats.rmap.mmsVisited, r) },
  { label: '  references found', get: (r) => r.stats.rmap.pageReferencedFound },
  { label: '  unmapped (SWAP_SUCCESS)', get: (r) => r.stats.rmap.swapSuccess },
  { label: '  trylock failures', get: (r) => r.stats.rmap.trylockFailures },
  { label: 'time ms', get: (r) => r.timeMs, always: true },
]

const NO_BORDER = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: ' │ ',
}

/** An aligned table, a rule under the header: `a │ b` / `──┼──`. */
export function table(
  head: string[],
  rows: Array<Array<string | number>>,
  align: Array<'left' | 'right' | 'center'>,
): string {
  const t = new Table({
    head,
    chars: NO_BORDER,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: align,
  })
  for (const r of rows) t.push(r.map((c) => (typeof c === 'number' ? c.toLocaleString('en-US') : c)))
  const lines = t.toString().split('\n')
  const rule = [...lines[0]!].map((c) => (c === '│' ? '┼' : '─')).join('')
  return [lines[0], rule, ...lines.slice(1)].map((l) => l!.trimEnd()).join('\n')
}

/**
 * The side-by-side figures of every layout: the rows that are always shown,
 * and those with a figure other than 0 in some layout. A breakdown row never
 * stands alone: when an indented row shows, so does the row it breaks down.
 */
export function metricsTable(runs: readonly LayoutRun[]): string {
  const shown = ROWS.map(
    (row) => (row.always || runs.some((r) => row.get(r) !== 0)) && (!row.when || runs.some(row.when)),
  )
  let parent = -1
  for (let i = 0; i < ROWS.length; i++) {
    if (!ROWS[i]!.label.startsWith('  ')) parent = i
    else if (shown[i] && parent >= 0) shown[parent] = true
  }
  const rows = ROWS.filter((_, i) => shown[i]).map((row) => [row.label, ...runs.map((r) => row.get(r))])
  return table(['', ...runs.map((r) => r.layout)], rows, ['left', ...runs.map(() => 'right' as const)])
}

/** What went wrong in one layout, with the step, process and cause; `undefined` when it passed. */
export function failureText(r: LayoutRun, w: Workload): string | undefined {
  const f = r.failure
  if (!f) return undefined
  const where = f.pos ? `${w.source.file}:${f.pos.line}:${f.pos.col}` : w.source.file
  const kind =
    f.kind === 'assertion'
      ? 'assertion failed'
      : f.kind === 'invariant'
        ? 'kernel invariant violated'
        : 'step failed'
  const lines = [`✗ ${r.layout}: step ${f.step} (${where}) ${f.label}: ${kind}`, `    ${f.message}`]
  if (f.process) lines.push(`    process: ${f.process}`)
  if (f.cause && f.kind !== 'assertion') {
    const { name, violations, ...rest } = f.cause as { name: string; violations?: string[] }
    const detail = Object.entries(rest)
      .filter(([k]) => k !== 'reason')
      .map(([k, v]) => `${k} ${typeof v === 'number' && k === 'address' ? `0x${v.toString(16)}` : String(v)}`)
      .join(', ')
    lines.push(`    cause: ${name}${detail ? ` (${detail})` : ''}`)
    for (const v of violations ?? []) lines.push(`      - ${v}`)
  }
  return lines.join('\n')
}

/** The one-line verdict of a layout that passed. */
export function passText(r: LayoutRun): string {
  const a = r.assertions.passed
  return `✓ ${r.layout}: ${r.stepsRun} steps${a ? `, ${a} assertion(s) held` : ''}, ${r.timeMs} ms`
}

/** What steps reported although they succeeded (pages a walk skipped), one line each under the verdict. */
export function noticeLines(r: LayoutRun, w: Workload): string[] {
  return r.notices.map((n) => {
    const where = n.pos ? `${w.source.file}:${n.pos.line}:${n.pos.col}` : w.source.file
    return `    note: step ${n.step} (${where}) ${n.label}: ${n.message}`
  })
}

/** The JSON report: everything `m.stats()` and `m.meminfo()` said, per layout. */
export function jsonReport(w: Workload, runs: readonly LayoutRun[], extra: Record<string, unknown> = {}) {
  return {
    workload: {
      name: w.name,
      description: w.description,
      source: w.source.file,
      steps: w.steps.length,
      ...extra,
    },
    ok: runs.every((r) => r.ok),
    runs: runs.map((r) => ({
      ...r,
      failure: r.failure ?? null,
      summary: Object.fromEntries(
        ROWS.filter((row) => !row.label.startsWith('  ')).map((row) => [row.label, row.get(r)]),
      ),
    })),
  }
}

/**
 * The /proc/meminfo fields the model keeps, in the order 2.6.5's
 * meminfo_read_proc (fs/proc/proc_misc.c) prints them. The kernel also prints
 * Buffers (after MemFree), Committed_AS (after Slab) and the Vmalloc lines
 * (after PageTables); the model has no buffer heads, overcommit accounting or
 * vmalloc arena, so those lines are left out rather than shown as 0.
 */
export const MEMINFO_ORDER: ReadonlyArray<keyof Meminfo> = MEMINFO_FIELDS

/**
 * /proc/meminfo as 2.6 formats it: `"MemTotal:     %8lu kB\n"` — the label
 * and its colon padded to 14 columns, the value right-aligned in 8.
 */
export function meminfoText(mi: Meminfo): string {
  return MEMINFO_ORDER.map((f) => `${`${f}:`.padEnd(14)}${String(mi[f]).padStart(8)} kB`).join('\n')
}

/** /proc/meminfo of each layout at the end of its run, one block per layout. */
export function meminfoBlocks(runs: readonly LayoutRun[]): string {
  return runs.map((r) => `${r.layout}: /proc/meminfo\n${meminfoText(r.meminfo)}`).join('\n\n')
}

/** /proc/PID/maps of the live processes of a run. */
export function mapsText(r: LayoutRun, limit = 16): string {
  const out: string[] = []
  const procs = r.maps ?? []
  for (const p of procs.slice(0, limit)) {
    out.push(`${r.layout}: ${p.name || 'process'} (pid ${p.pid})`)
    for (const e of p.maps) {
      const h = (n: number) => n.toString(16).padStart(8, '0')
      out.push(`  ${h(e.start)}-${h(e.end)} ${e.perms} ${h(e.pgoff)} ${e.file}`.trimEnd())
    }
  }
  if (procs.length > limit) out.push(`... and ${procs.length - limit} more processes`)
  return out.join('\n')
}
