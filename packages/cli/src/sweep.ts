/**
 * `compare --chart`: a 2004 experiment swept over the parameter that sets its
 * process count, and the figures against process count drawn as SVG, one
 * line per layout.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LayoutRun, ParamDef } from '@rmaplab/workload'
import { lineChart, type Series } from './chart.js'
import { prepareOutputDir } from './output.js'

/** The values a sweep runs: every whole step up to `top` when there are few, else six evenly spaced ones. */
export function sweepValues(def: ParamDef, top: number): number[] {
  const lo = Math.min(top, Math.max(def.min, def.kind === 'int' && def.min === 0 ? 0 : 1))
  if (top - lo <= 8) return Array.from({ length: top - lo + 1 }, (_, i) => lo + i)
  const n = 6
  return [...new Set(Array.from({ length: n }, (_, i) => Math.round(lo + ((top - lo) * i) / (n - 1))))]
}

/** One point of the sweep: the parameter's value and each layout's run. */
export interface SweepPoint {
  value: number
  runs: readonly LayoutRun[]
}

/** What a chart plots: a label, the file's suffix, the figure. */
export const CHART_FIGURES = [
  {
    key: 'pagetables',
    title: 'PageTables',
    yLabel: 'PageTables (kB)',
    get: (r: LayoutRun) => r.meminfo.PageTables,
  },
  {
    key: 'rmap-bytes',
    title: 'rmap bytes',
    yLabel: 'rmap bytes (anon_vma structs + vma fields + mapcount)',
    get: (r: LayoutRun) => r.stats.rmapBytes.total,
  },
] as const

export interface Chart {
  file: string
  title: string
  yLabel: string
  /** What each line plots: per layout, [live processes, figure]. */
  series: Series[]
}

/** The charts of a sweep (not yet written). */
export function sweepCharts(
  experiment: string,
  param: string,
  points: readonly SweepPoint[],
  dir: string,
): Chart[] {
  const layouts = points[0]?.runs.map((r) => r.layout) ?? []
  return CHART_FIGURES.map((fig) => ({
    file: join(dir, `${experiment}-${fig.key}.svg`),
    title: `${experiment}: ${fig.title} against process count (sweeping ${param})`,
    yLabel: fig.yLabel,
    series: layouts.map((layout, i) => ({
      name: layout,
      points: points.map((p) => [p.runs[i]!.processes, fig.get(p.runs[i]!)] as const),
    })),
  }))
}

/** Write the charts as SVG files; returns their paths. */
export function writeCharts(charts: readonly Chart[]): string[] {
  return charts.map((c) => {
    prepareOutputDir(join(c.file, '..'), '--chart')
    writeFileSync(
      c.file,
      lineChart({ title: c.title, xLabel: 'live processes', yLabel: c.yLabel, series: c.series }),
    )
    return c.file
  })
}
