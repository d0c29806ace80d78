/**
 * The views of a finished run (--meminfo), the charts of compare --chart, and
 * swap in workloads (machine.swap, swapon, swapoff, pageout, reclaim, F2).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { lineChart, niceTicks } from '../src/chart.js'
import { MEMINFO_ORDER, meminfoText } from '../src/report.js'
import { sweepValues } from '../src/sweep.js'
import { inProcess, rmaplab, workloadFile } from './helpers.js'

const out = mkdtempSync(join(tmpdir(), 'rmaplab-charts-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

/**
 * A tiny XML well-formedness check: one prolog, tags balanced and properly
 * nested, attributes name="value" with no raw < or &, text with entities only.
 * Returns the elements in document order with their attributes.
 */
function parseXml(text: string): Array<{ name: string; attrs: Record<string, string> }> {
  let s = text.replace(/^<\?xml [^?]*\?>\s*/, '')
  const stack: string[] = []
  const elements: Array<{ name: string; attrs: Record<string, string> }> = []
  let roots = 0
  while (s.length) {
    const lt = s.indexOf('<')
    const txt = lt < 0 ? s : s.slice(0, lt)
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(txt)) throw new Error(`bare & in text: ${txt}`)
    if (lt < 0) {
      if (txt.trim()) throw new Error(`text after the root: ${txt}`)
      break
    }
    if (!stack.length && txt.trim()) throw new Error(`text outside the root: ${txt}`)
    s = s.slice(lt)
    const m =
      /^<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>/.exec(
        s,
      )
    if (!m) throw new Error(`malformed tag at: ${s.slice(0, 60)}`)
    const [all, close, name, attrText, selfClose] = m
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`)
    } else {
      if (!stack.length) roots++
      const attrs: Record<string, string> = {}
      for (const a of attrText!.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`)
        attrs[a[1]!] = a[2]!
      }
      elements.push({ name: name!, attrs })
      if (!selfClose) stack.push(name!)
    }
    s = s.slice(all!.length)
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(', ')}`)
  if (roots !== 1) throw new Error(`${roots} root elements`)
  return elements
}

/** Per series (layout), the [x, y] values the SVG's markers carry. */
function plotted(svg: string): Map<string, Array<[number, number]>> {
  const els = parseXml(svg)
  const series = new Map<string, Array<[number, number]>>()
  let current = ''
  for (const e of els) {
    if (e.name === 'g' && e.attrs['class'] === 'series') {
      current = e.attrs['data-name']!
      series.set(current, [])
    }
    if (e.name === 'circle') series.get(current)!.push([Number(e.attrs['data-x']), Number(e.attrs['data-y'])])
  }
  return series
}

describe('--meminfo: /proc/meminfo as 2.6 prints it', () => {
  it('label padded to 14 columns, the value right-aligned in 8, kB; the kernel order', () => {
    const mi = Object.fromEntries(MEMINFO_ORDER.map((f, i) => [f, i * 1000])) as never
    const lines = meminfoText({ ...(mi as object), MemTotal: 262144 } as never).split('\n')
    expect(lines[0]).toBe('MemTotal:       262144 kB')
    expect(lines[1]).toBe('MemFree:          1000 kB')
    expect(lines.map((l) => l.split(':')[0])).toEqual([...MEMINFO_ORDER])
    for (const l of lines) expect(l).toMatch(/^[A-Za-z_]+: +\d+ kB$/)
    for (const l of lines) expect(l.length).toBe(25)
    expect(MEMINFO_ORDER.indexOf('SwapTotal')).toBe(MEMINFO_ORDER.indexOf('LowFree') + 1)
  })

  it('rmaplab run --meminfo (spawned) prints each layout’s meminfo, equal to the --json figures', async () => {
    const [text, json] = await Promise.all([
      rmaplab(['run', 'a1', '--arch', 'i386,ppc64', '--meminfo']),
      inProcess(['run', 'a1', '--arch', 'i386,ppc64', '--json']),
    ])
    expect(text.code).toBe(0)
    const runs = JSON.parse(json.stdout).runs as Array<{ layout: string; meminfo: Record<string, number> }>
    for (const r of runs) {
      const block = text.stdout.split(`${r.layout}: /proc/meminfo\n`)[1]!.split('\n\n')[0]!.trimEnd()
      expect(block).toBe(meminfoText(r.meminfo as never))
      expect(block).toMatch(new RegExp(`^MemTotal: +${r.meminfo['MemTotal']} kB$`, 'm'))
    }
  })
})

describe('charts', () => {
  it('niceTicks covers the range with round steps; sweepValues', () => {
    expect(niceTicks(0, 32)).toEqual([0, 10, 20, 30, 40])
    expect(niceTicks(0, 1000)).toEqual([0, 200, 400, 600, 800, 1000])
    const t = niceTicks(0, 123_456)
    expect(t[0]).toBe(0)
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(123_456)
    const levels = { kind: 'int' as const, default: 5, min: 0, max: 12, description: '' }
    expect(sweepValues(levels, 5)).toEqual([0, 1, 2, 3, 4, 5])
    const children = { kind: 'int' as const, default: 100, min: 1, max: 10_000, description: '' }
    expect(sweepValues(children, 100)).toEqual([1, 21, 41, 60, 80, 100])
    expect(sweepValues(children, 1)).toEqual([1])
  })

  it('lineChart: well-formed SVG with axes, ticks, labels, a legend, one polyline per series', () => {
    const svg = lineChart({
      title: 'a <b> & "c"',
      xLabel: 'processes',
      yLabel: 'kB',
      series: [
        {
          name: 'i386',
          points: [
            [1, 4],
            [2, 8],
            [4, 16],
          ],
        },
        {
          name: 'ppc64',
          points: [
            [1, 8],
            [2, 16],
            [4, 32],
          ],
        },
      ],
    })
    const els = parseXml(svg)
    expect(els[0]!.name).toBe('svg')
    expect(els[0]!.attrs['xmlns']).toBe('http://www.w3.org/2000/svg')
    expect(els.filter((e) => e.name === 'polyline')).toHaveLength(2)
    expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;')
    expect(svg).toMatch(/class="x-label"[^>]*>processes</)
    expect(svg).toMatch(/class="legend"/)
    expect([...plotted(svg)]).toEqual([
      [
        'i386',
        [
          [1, 4],
          [2, 8],
          [4, 16],
        ],
      ],
      [
        'ppc64',
        [
          [1, 8],
          [2, 16],
          [4, 32],
        ],
      ],
    ])
    // Higher values sit higher (smaller y) on the page.
    const pl = els
      .find((e) => e.name === 'polyline')!
      .attrs['points']!.split(' ')
      .map((p) => Number(p.split(',')[1]))
    expect(pl[0]).toBeGreaterThan(pl[2]!)
    expect(() => parseXml('<svg><g></svg></g>')).toThrow()
    expect(() => parseXml('<svg a="1 & 2"/>')).toThrow()
  })

  it('compare andrea --chart: PageTables and rmap bytes against process count, the numbers of each sweep run', async () => {
    const dir = join(out, 'andrea')
    const small = ['-p', 'size=1M', '-p', 'walks=0']
    const r = await inProcess(['compare', 'andrea', ...small, '-p', 'levels=3', '--chart', dir, '--json'])
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.workload.charts).toEqual([
      join(dir, 'andrea-pagetables.svg'),
      join(dir, 'andrea-rmap-bytes.svg'),
    ])
    const pt = plotted(readFileSync(join(dir, 'andrea-pagetables.svg'), 'utf8'))
    const rb = plotted(readFileSync(join(dir, 'andrea-rmap-bytes.svg'), 'utf8'))
    // One line per (layout, design): andrea runs the i386 box under the three designs.
    expect([...pt.keys()]).toEqual(['i386/objrmap', 'i386/pte_chains', 'i386/anonmm'])
    for (let levels = 0; levels <= 3; levels++) {
      const one = JSON.parse(
        (await inProcess(['compare', 'andrea', ...small, '-p', `levels=${levels}`, '--json'])).stdout,
      )
      for (const run of one.runs as Array<{
        layout: string
        processes: number
        meminfo: { PageTables: number }
        stats: { rmapBytes: { total: number } }
      }>) {
        expect(run.processes).toBe(2 ** levels)
        expect(pt.get(run.layout)![levels]).toEqual([run.processes, run.meminfo.PageTables])
        expect(rb.get(run.layout)![levels]).toEqual([run.processes, run.stats.rmapBytes.total])
      }
    }
  })

  it('compare rik --chart (spawned) names the files; a demo has no sweep: exit 2', async () => {
    const dir = join(out, 'rik')
    const [rik, demo] = await Promise.all([
      rmaplab(['compare', 'rik', '-p', 'children=10', '-p', 'pages=8', '-p', 'walks=1', '--chart', dir]),
      rmaplab(['compare', 'a1', '--chart', dir]),
    ])
    expect(rik.code).toBe(0)
    expect(rik.stdout).toContain(`chart: ${join(dir, 'rik-pagetables.svg')}`)
    const rb = plotted(readFileSync(join(dir, 'rik-rmap-bytes.svg'), 'utf8'))
    // One line per (layout, design): rik runs under the three designs.
    expect(rb.size).toBe(12)
    expect(rb.get('ppc64/objrmap')!.map(([x]) => x)).toEqual([2, 4, 6, 7, 9, 11])
    expect(demo.code).toBe(2)
    expect(demo.stderr).toMatch(
      /--chart sweeps a 2004 experiment's process count; a1 has none\. Charts: andrea \(levels\)/,
    )
  })
})

describe('swap in workloads', () => {
  const SWAP = `name: swap areas
machine: { arch: all, ram: 8M, swap: 4M }
steps:
  - swapon: { size: 2M, priority: 5, as: fast }
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 64p, prot: rw }
  - write: { proc: p, region: a, value: i }
  - pageout: { proc: p, region: a, pages: 4, expect: activated, reason: referenced }
  - pageout: { proc: p, region: a, pages: 4, reason: written to swap }
  - assert: { page: { proc: p, region: a, pages: 4, swapped: true }, meminfo: { SwapTotal: 6136, SwapFree: 6120, Writeback: 16 } }
  - swapoff: fast
  - assert: { page: { proc: p, region: a, pages: 4, present: true }, meminfo: { SwapTotal: 4092 } }
  - reclaim: { pages: 16, freed: { min: 0 } }
  - read: { proc: p, region: a, expect: i }
`
  it('machine.swap, swapon with priority, pageout, swapoff by name, reclaim: all layouts pass', async () => {
    const r = await inProcess(['run', workloadFile(SWAP), '--json'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const rep = JSON.parse(r.stdout)
    for (const run of rep.runs) {
      expect(run.stats.swap.pageouts).toBeGreaterThanOrEqual(8)
      expect(run.stats.reclaim.runs).toBeGreaterThanOrEqual(1)
      expect(run.meminfo.SwapTotal).toBe(4092)
    }
  })

  it('trace lines say what each swap step did', async () => {
    const r = await inProcess(['run', workloadFile(SWAP), '--arch', 'i386', '--trace'])
    expect(r.stderr).toMatch(/swapon 2M -p 5 → fast: type 1, 511 slots, priority 5/)
    expect(r.stderr).toMatch(/pageout p a ×4p: 4× activated \(referenced and in use\)/)
    // The pages were still in the swap cache (written, under write-back): nothing to read back.
    expect(r.stderr).toMatch(/swapoff fast: 4 slot\(s\) in use, 0 page\(s\) read back, 4 pte\(s\)/)
    expect(r.stderr).toMatch(/reclaim 16 pages: freed \d+\/16/)
  })

  it('names are checked before anything runs; a pageout that does otherwise fails the run (spawned)', async () => {
    const bad = workloadFile(`steps:
  - swapon: { size: 1M, as: s }
  - swapoff: s
  - swapoff: s
  - swapon: { size: 1M, priority: high }
`)
    const wrong = workloadFile(`machine: { arch: i386, swap: 1M }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 1p, prot: rw }
  - write: { proc: p, region: a, value: 1 }
  - pageout: { proc: p, region: a, expect: freed }
`)
    const [b, w] = await Promise.all([rmaplab(['run', bad]), rmaplab(['run', wrong])])
    expect(b.code).toBe(2)
    expect(b.stderr).toMatch(/:5:\d+: steps\[3\]\.swapon\.priority: expected/)
    expect(w.code).toBe(1)
    expect(w.stdout).toMatch(
      /pageout of the page at 0x[0-9a-f]+ in p \(pid 1\): activated \(referenced and in use\), expected freed/,
    )
    const names = await rmaplab([
      'run',
      workloadFile(`steps:
  - swapon: { size: 1M, as: s }
  - swapoff: s
  - swapoff: s
`),
    ])
    expect(names.code).toBe(2)
    expect(names.stderr).toMatch(/:4:\d+: steps\[2\]\.swapoff: no swap area named 's' is on before this step/)
  })

  it('F2: activated on the first pageout, swapped out on the second, back in on a read (rmaplab check f2)', async () => {
    const r = await rmaplab(['check', 'f2'])
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/✓ ppc64: m\.check\(\) held after each of 13 steps/)
    const list = await inProcess(['list'])
    expect(list.stdout).toMatch(/^f2 +│ F2 a referenced page survives one pageout, not two/m)
  })
})
