/**
 * Line charts as SVG, written by hand: axes, ticks, labels, a legend and one
 * polyline per series. No library: the output is a few dozen elements, needs
 * no browser or canvas, and stays byte-for-byte stable for tests and diffs.
 */

export interface Series {
  name: string
  /** [x, y] pairs, in x order. */
  points: ReadonlyArray<readonly [number, number]>
}

export interface ChartSpec {
  title: string
  xLabel: string
  yLabel: string
  series: readonly Series[]
  width?: number
  height?: number
}

/** Colours that stay apart for the four layouts (and in greyscale, with the markers). */
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

/** Escape text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** About `count` round tick values (1, 2, 5 × 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1
  const raw = (hi - lo) / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag
  const first = Math.floor(lo / step) * step
  const out: number[] = []
  for (let v = first; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step)
  if (out[out.length - 1]! < hi) out.push(out[out.length - 1]! + step)
  return out
}

/** A tick label: 1,024 / 1.5M style, short enough for the axis. */
export function tickLabel(v: number): string {
  const a = Math.abs(v)
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`
  return String(+v.toFixed(2))
}

const f = (n: number) => String(Math.round(n * 10) / 10)

/** The chart as a standalone SVG document. Every point carries its values as `data-x` / `data-y`. */
export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 640
  const H = spec.height ?? 400
  const m = { left: 72, right: 130, top: 40, bottom: 52 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]))
  const xt = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs))
  const yt = niceTicks(Math.min(0, ...ys), Math.max(1, ...ys))
  const [x0, x1] = [xt[0]!, xt[xt.length - 1]!]
  const [y0, y1] = [yt[0]!, yt[yt.length - 1]!]
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xmlEscape(spec.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${xmlEscape(spec.title)}</text>`,
    `<g class="grid" stroke="#e5e5e5">`,
  ]
  for (const v of yt) out.push(`<line x1="${m.left}" y1="${f(sy(v))}" x2="${m.left + pw}" y2="${f(sy(v))}"/>`)
  out.push('</g>')
  out.push(
    `<g class="axes" stroke="#000000">`,
    `<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/>`,
    '</g>',
    `<g class="x-ticks" text-anchor="middle">`,
  )
  for (const v of xt)
    out.push(
      `<line x1="${f(sx(v))}" y1="${m.top + ph}" x2="${f(sx(v))}" y2="${m.top + ph + 5}" stroke="#000000"/>`,
      `<text x="${f(sx(v))}" y="${m.top + ph + 18}">${tickLabel(v)}</text>`,
    )
  out.push('</g>', `<g class="y-ticks" text-anchor="end">`)
  for (const v of yt)
    out.push(
      `<line x1="${m.left - 5}" y1="${f(sy(v))}" x2="${m.left}" y2="${f(sy(v))}" stroke="#000000"/>`,
      `<text x="${m.left - 8}" y="${f(sy(v) + 4)}">${tickLabel(v)}</text>`,
    )
  out.push(
    '</g>',
    `<text class="x-label" x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">${xmlEscape(spec.xLabel)}</text>`,
    `<text class="y-label" transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(spec.yLabel)}</text>`,
  )
  spec.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length]!
    const pts = s.points.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')
    // Layouts often coincide (i386 and ppc have the same PageTables): later
    // series are dashed and thinner so the ones beneath stay visible.
    out.push(
      `<g class="series" data-name="${xmlEscape(s.name)}">`,
      `<polyline fill="none" stroke="${c}" stroke-width="${f(4 - i * 0.75)}"${dash(i)} points="${pts}"/>`,
    )
    for (const [x, y] of s.points)
      out.push(
        `<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3" fill="${c}" data-x="${x}" data-y="${y}"><title>${xmlEscape(`${s.name}: ${x}, ${y}`)}</title></circle>`,
      )
    out.push('</g>')
  })
  out.push(`<g class="legend">`)
  spec.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length]!
    const y = m.top + 10 + i * 20
    out.push(
      `<line x1="${m.left + pw + 14}" y1="${y}" x2="${m.left + pw + 38}" y2="${y}" stroke="${c}" stroke-width="${f(4 - i * 0.75)}"${dash(i)}/>`,
      `<text x="${m.left + pw + 44}" y="${y + 4}">${xmlEscape(s.name)}</text>`,
    )
  })
  out.push('</g>', '</svg>', '')
  return out.join('\n')
}

/** The dash pattern of series `i`: solid, then dashed, dotted, dash-dot. */
function dash(i: number): string {
  const patterns = ['', '8 4', '2 3', '8 3 2 3']
  const p = patterns[i % patterns.length]!
  return p ? ` stroke-dasharray="${p}"` : ''
}
