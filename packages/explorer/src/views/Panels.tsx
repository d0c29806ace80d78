import type { Machine } from '@rmaplab/rmap'
import { useMemo, useState } from 'preact/hooks'
import { frameInfo, frameUse, processes, type RmapView, rmapOf, walkProbes } from '../model/introspect.js'
import { hexAddr } from '../model/pte.js'
import type { Lane, Metrics } from '../model/session.js'
import type { Sel, Select } from './types.js'
import { VirtualList } from './VirtualList.js'

/** Processes and their vmas, as /proc/PID/maps, with the anon_vma / address_space each vma is on. */
export function Processes(props: { lane: Lane; sel: Sel; select: Select; rmap: RmapView | null }) {
  const { lane, sel, select, rmap } = props
  const m = lane.stepper.machine
  const procs = processes(m, (p) => lane.stepper.nameOf(p))
  const onList = new Set(rmap?.entries.map((e) => `${e.pid}:${e.vmaStart}`) ?? [])
  // Many vmas (Morton's rmap-test maps thousands): list those of the selected process only.
  const many = procs.reduce((n, p) => n + p.vmas.length, 0) > 200
  return (
    <section class="panel" data-testid="processes">
      <h2>Processes and vmas</h2>
      <div class="scroll" style={{ maxHeight: 300 }}>
        {procs.length === 0 && <p class="hint">No process yet: step forward.</p>}
        {procs.map((p) => (
          <div key={p.pid} class={`proc ${p.pid === sel.pid ? 'sel' : ''}`}>
            <button
              type="button"
              class="rowbtn"
              data-testid="proc"
              onClick={() => select({ pid: p.pid, addr: -1 })}
            >
              <b>pid {p.pid}</b> {p.name} · mm {p.mmId} · rss {p.rss} · {p.vmas.length} vma
              {p.vmas.length === 1 ? '' : 's'}
              {p.alive ? '' : ' · exited'}
            </button>
            {(many && p.pid !== sel.pid ? [] : p.vmas).map((v) => (
              <button
                type="button"
                key={v.start}
                class={`maps rowbtn ${onList.has(`${p.pid}:${v.start}`) ? 'hl' : ''}`}
                onClick={() => select({ pid: p.pid, addr: v.start })}
              >
                {hexAddr(m.arch, v.start)}-{hexAddr(m.arch, v.end)} {v.perms}{' '}
                {(v.pgoff * 4096).toString(16).padStart(8, '0')} {v.file || '[anon]'}{' '}
                <span class="dim">
                  {v.anonVma >= 0 ? `anon_vma #${v.anonVma}` : ''}
                  {v.addressSpace >= 0 ? ` address_space #${v.addressSpace}` : ''} · {v.pages}p
                  {v.flags.includes('LOCKED') ? ' · LOCKED' : ''}
                  {v.flags.includes('NONLINEAR') ? ' · NONLINEAR' : ''}
                </span>
              </button>
            ))}
          </div>
        ))}
      </div>
    </section>
  )
}

/** Physical frames: a virtual list of every frame, and the selected frame's struct page. */
const FRAME_FILTERS = {
  all: 'all frames',
  used: 'in use (not free)',
  mapped: 'mapped by a pte',
  changed: 'changed by the step',
} as const
type FrameFilter = keyof typeof FRAME_FILTERS

export function Frames(props: { lane: Lane; sel: Sel; select: Select; version: number }) {
  const { lane, sel, select, version } = props
  const m = lane.stepper.machine
  const f = m.frames
  const changed = lane.diff?.frameChanged
  const info = sel.pfn >= 0 && sel.pfn < f.n ? frameInfo(m, sel.pfn) : null
  const [filter, setFilter] = useState<FrameFilter>('used')
  // The pfns the list shows: an index array built once per step and filter.
  const pfns = useMemo(() => {
    const out: number[] = []
    for (let pfn = 0; pfn < f.n; pfn++) {
      if (filter === 'used' && f.count[pfn] === 0) continue
      if (filter === 'mapped' && f.mapcount[pfn] === 0) continue
      if (filter === 'changed' && !changed?.[pfn]) continue
      out.push(pfn)
    }
    return out
  }, [m, filter, version, changed])
  return (
    <section class="panel" data-testid="frames">
      <h2>
        Physical frames{' '}
        <span class="dim">
          ({f.n} frames; zones {m.env.zones.map((z) => z.name).join(', ')})
        </span>
      </h2>
      <div class="frames">
        <div>
          <div class="th">
            <select
              data-testid="frame-filter"
              value={filter}
              onChange={(e) => setFilter((e.currentTarget as HTMLSelectElement).value as FrameFilter)}
            >
              {Object.entries(FRAME_FILTERS).map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>{' '}
            {pfns.length} shown · pfn{' '}
            <input
              class="param"
              data-testid="goto-pfn"
              placeholder="go to"
              onChange={(e) => {
                const v = Number((e.currentTarget as HTMLInputElement).value)
                if (Number.isInteger(v) && v >= 0 && v < f.n) select({ pfn: v })
              }}
            />
          </div>
          <div class="pte-head">
            <span class="c-i">pfn</span>
            <span class="c-k">use</span>
            <span class="c-i">count</span>
            <span class="c-i">mapc</span>
          </div>
          <VirtualList
            testid="frame-list"
            count={pfns.length}
            rowHeight={20}
            height={260}
            scrollTo={pfnIndex(pfns, sel.pfn)}
            row={(i) => {
              const pfn = pfns[i]!
              return (
                <button
                  type="button"
                  class={`frame rowbtn ${pfn === sel.pfn ? 'sel' : ''} ${changed?.[pfn] ? 'changed' : ''} use-${frameUse(m, pfn).replace(' ', '-')}`}
                  onClick={() => select({ pfn })}
                >
                  <span class="c-i">{pfn}</span>
                  <span class="c-k">{frameUse(m, pfn)}</span>
                  <span class="c-i">{f.count[pfn]}</span>
                  <span class="c-i">{f.mapcount[pfn]}</span>
                </button>
              )
            }}
          />
        </div>
        <div data-testid="struct-page">
          {info ? (
            <table class="kv">
              <tbody>
                <tr>
                  <th>pfn</th>
                  <td>{info.pfn}</td>
                </tr>
                <tr>
                  <th>use</th>
                  <td>{info.use}</td>
                </tr>
                <tr>
                  <th>count</th>
                  <td data-testid="page-count">{info.count}</td>
                </tr>
                <tr>
                  <th>mapcount</th>
                  <td data-testid="page-mapcount">{info.mapcount}</td>
                </tr>
                <tr>
                  <th>flags</th>
                  <td>{info.flags.map((x) => `PG_${x}`).join(' ') || '—'}</td>
                </tr>
                <tr>
                  <th>mapping</th>
                  <td>
                    {info.mapping.kind === 'none' ? 'NULL' : `${info.mapping.kind} #${info.mapping.id}`}
                  </td>
                </tr>
                <tr>
                  <th>index</th>
                  <td>{info.index}</td>
                </tr>
                <tr>
                  <th>zone</th>
                  <td>{info.zone}</td>
                </tr>
                <tr>
                  <th>LRU</th>
                  <td>{info.lru}</td>
                </tr>
                <tr>
                  <th>swap cache</th>
                  <td>
                    {info.swapCache ? `type ${info.swapCache.type} offset ${info.swapCache.offset}` : 'no'}
                  </td>
                </tr>
                <tr>
                  <th>content</th>
                  <td>0x{info.content.toString(16)}</td>
                </tr>
              </tbody>
            </table>
          ) : (
            <p class="hint">Click a frame, or a present pte, to see its struct page.</p>
          )}
        </div>
      </div>
    </section>
  )
}

const RMAP_ROWS = 256

/** Where `pfn` sits in the sorted `pfns` (binary search), or -1. */
function pfnIndex(pfns: readonly number[], pfn: number): number {
  let lo = 0
  let hi = pfns.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (pfns[mid]! < pfn) lo = mid + 1
    else hi = mid
  }
  return pfns[lo] === pfn ? lo : -1
}

/** The selected page's reverse map and the walks page_referenced / try_to_unmap would make. */
export function Rmap(props: {
  lane: Lane
  view: RmapView | null
  sel: Sel
  select: Select
  call?: (kind: 'page_referenced' | 'try_to_unmap') => string
}) {
  const { lane, view, sel, select, call } = props
  const m = lane.stepper.machine
  if (!view)
    return (
      <section class="panel" data-testid="rmap">
        <h2>Reverse map</h2>
        <p class="hint">
          Select a page (a present pte or a frame) to see which ptes map it, through which vmas.
        </p>
      </section>
    )
  return (
    <section class="panel" data-testid="rmap">
      <h2>
        Reverse map of pfn {view.pfn}: <span data-testid="rmap-object">{view.objectLabel}</span>{' '}
        <span class="dim">({view.design})</span>
      </h2>
      <p>
        {view.kind === 'pte_chain'
          ? `page → ${view.objectLabel} → each pte's vma;`
          : `page → ${view.objectLabel} → ${view.entries.length} vma${view.entries.length === 1 ? '' : 's'} → ptes;`}
        page-&gt;index {view.index}, mapcount <b>{view.mapcount}</b>, ptes found{' '}
        <b data-testid="rmap-found">{view.found}</b>
        {view.kind !== 'none' && view.kind !== 'page table' && view.found !== view.mapcount ? (
          <span class="bad"> (differs from mapcount)</span>
        ) : null}
      </p>
      <ChainPicture view={view} m={m} sel={sel} />
      <table class="list" data-testid="rmap-list">
        <thead>
          <tr>
            <th>#</th>
            <th>list</th>
            <th>process</th>
            <th>vma</th>
            <th>address (from vm_pgoff)</th>
            <th>pte there</th>
          </tr>
        </thead>
        <tbody>
          {view.entries.slice(0, RMAP_ROWS).map((e, i) => (
            <tr
              key={`${e.pid}:${e.vmaStart}:${i}`}
              data-testid="rmap-entry"
              class={`${e.maps ? 'maps' : 'nomap'} ${e.pid === sel.pid && e.address === sel.addr ? 'sel' : ''}`}
              onClick={() => e.address >= 0 && select({ pid: e.pid, addr: e.address })}
            >
              <td>{i + 1}</td>
              <td>{e.list}</td>
              <td>
                pid {e.pid} {e.procName}
              </td>
              <td>
                {hexAddr(m.arch, e.vmaStart)}-{hexAddr(m.arch, e.vmaEnd)}
              </td>
              <td>
                {e.address >= 0 ? hexAddr(m.arch, e.address) : 'outside the vma'}
                {e.nonlinear ? ' (nonlinear)' : ''}
              </td>
              <td>
                {e.pte ? (
                  <>
                    <code>{e.pte.raw}</code> {e.pte.kind}
                    {e.pte.pfn !== undefined ? ` pfn ${e.pte.pfn}` : ''}
                    {e.pte.young ? ' young' : ''}
                    {e.pte.dirty ? ' dirty' : ''}
                    {e.pte.write ? ' rw' : ''}
                  </>
                ) : (
                  'no pte page'
                )}
                {e.skipped ? <span class="dim"> ({e.skipped})</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.entries.length > RMAP_ROWS && (
        <p class="dim">
          … and {view.entries.length - RMAP_ROWS} more vmas on the list (the first {RMAP_ROWS} shown)
        </p>
      )}
      {/* keyed: a new page or a new step starts without the answers of earlier calls */}
      <Walk key={`${view.pfn}:${lane.layout}:${lane.stepper.position}`} m={m} view={view} call={call} />
    </section>
  )
}

const PIC_ROWS = 12

/**
 * The reverse map as it is drawn on whiteboards: the page, the object its
 * mapping names, each vma on that object's list, and the pte at the address
 * vm_pgoff gives (green when it maps the page).
 */
function ChainPicture(props: { view: RmapView; m: Machine; sel: Sel }) {
  const { view, m, sel } = props
  const rows = view.entries.slice(0, PIC_ROWS)
  if (rows.length === 0) return null
  const RH = 26
  const H = rows.length * RH + (view.entries.length > PIC_ROWS ? RH : 0) + 10
  const mid = H / 2
  const x = { page: 4, obj: 120, vma: 290, pte: 520 }
  return (
    <svg
      class="chain"
      width="100%"
      viewBox={`0 0 760 ${H}`}
      height={H}
      preserveAspectRatio="xMinYMin meet"
      role="img"
      aria-label="reverse map"
    >
      <g class="node page">
        <rect x={x.page} y={mid - 14} width={96} height={28} rx={4} />
        <text x={x.page + 48} y={mid + 4}>
          page {view.pfn}
        </text>
      </g>
      <line class="edge" x1={x.page + 96} y1={mid} x2={x.obj} y2={mid} />
      <g class="node obj">
        <rect x={x.obj} y={mid - 14} width={150} height={28} rx={4} />
        <text x={x.obj + 75} y={mid + 4}>
          {view.kind === 'anon_vma'
            ? `anon_vma #${view.objectId}`
            : view.kind === 'pte_chain'
              ? view.objectLabel.split(' ')[0]
              : `address_space #${view.objectId}`}
        </text>
      </g>
      {rows.map((e, i) => {
        const y = 4 + i * RH + RH / 2
        const on = e.pid === sel.pid && e.address === sel.addr
        return (
          <g key={i} class={`link ${e.maps ? 'maps' : 'nomap'} ${on ? 'on' : ''}`}>
            <line class="edge" x1={x.obj + 150} y1={mid} x2={x.vma} y2={y} />
            <rect class="pic-vma" x={x.vma} y={y - 11} width={200} height={22} rx={3} />
            <text x={x.vma + 100} y={y + 4}>
              pid {e.pid} vma {hexAddr(m.arch, e.vmaStart)}
            </text>
            <line class="edge" x1={x.vma + 200} y1={y} x2={x.pte} y2={y} />
            <rect class="pic-pte" x={x.pte} y={y - 11} width={230} height={22} rx={3} />
            <text x={x.pte + 115} y={y + 4}>
              {e.address < 0
                ? 'outside the vma'
                : `${hexAddr(m.arch, e.address)}: ${e.pte ? e.pte.raw : 'no pte'}`}
            </text>
          </g>
        )
      })}
      {view.entries.length > PIC_ROWS && (
        <text x={x.vma + 100} y={H - 8}>
          … {view.entries.length - PIC_ROWS} more
        </text>
      )}
    </svg>
  )
}

function Walk(props: {
  m: Machine
  view: RmapView
  call: ((kind: 'page_referenced' | 'try_to_unmap') => string) | undefined
}) {
  const { m, view, call } = props
  const [called, setCalled] = useState<Record<string, string>>({})
  if (view.kind !== 'anon_vma' && view.kind !== 'address_space' && view.kind !== 'pte_chain') return null
  return (
    <div class="walks">
      {(['page_referenced', 'try_to_unmap'] as const).map((k) => {
        const probes = walkProbes(m, view, k)
        return (
          <details key={k} data-testid={`walk-${k}`}>
            <summary>
              {k}: {probes.length} probe{probes.length === 1 ? '' : 's'}, {probes.filter((p) => p.hit).length}{' '}
              {k === 'page_referenced' ? 'references' : 'ptes unmapped'}
              {k === 'try_to_unmap' && view.design !== 'objrmap'
                ? ` (not listed for ${view.design}: call it on a copy)`
                : k === 'try_to_unmap' && view.kind === 'anon_vma' && probes.length === 0
                  ? ' (anonymous page not in the swap cache: SWAP_AGAIN before any walk)'
                  : ''}
            </summary>
            {call && (
              <p>
                <button
                  type="button"
                  data-testid={`call-${k}`}
                  onClick={() => setCalled((c) => ({ ...c, [k]: call(k) }))}
                >
                  call {k}() on a copy
                </button>{' '}
                <span data-testid={`called-${k}`}>{called[k] ?? ''}</span>
              </p>
            )}
            <ol>
              {probes.map((p) => (
                <li key={p.step} class={p.hit ? 'hit' : ''}>
                  pid {p.entry.pid} vma {hexAddr(m.arch, p.entry.vmaStart)} →{' '}
                  {p.entry.address >= 0 ? hexAddr(m.arch, p.entry.address) : '—'}: {p.finding}
                </li>
              ))}
            </ol>
          </details>
        )
      })}
      <p class="dim">
        Listed without running: the walk the kernel function would make on this page now. “Call on a copy”
        re-runs the workload to this step on a fresh machine and calls the function there.
      </p>
    </div>
  )
}

/** The reverse map of the selection, memoised on the machine's version. */
export function useRmap(lane: Lane | undefined, pfn: number, version: number): RmapView | null {
  return useMemo(() => {
    if (!lane) return null
    const m = lane.stepper.machine
    if (pfn < 0 || pfn >= m.frames.n) return null
    return rmapOf(m, pfn, (p) => lane.stepper.nameOf(p))
  }, [lane, pfn, version])
}

const SERIES: Array<[keyof Metrics, string]> = [
  ['PageTables', 'PageTables kB'],
  ['Mapped', 'Mapped kB'],
  ['rmapBytes', 'rmap bytes'],
  ['walkPtes', 'walk: ptes probed'],
  ['walkVmas', 'walk: vmas visited'],
]

/** Small charts of meminfo and stats over the steps reached, per lane. */
export function Charts(props: { lanes: Lane[]; position: number }) {
  const { lanes, position } = props
  const W = 180
  const H = 48
  return (
    <section class="panel" data-testid="charts">
      <h2>Over the steps</h2>
      <div class="charts">
        {SERIES.map(([k, label]) => {
          let max = 1
          let n = 1
          for (const l of lanes) for (const x of l.metrics) if (x) max = Math.max(max, x[k])
          for (const l of lanes) n = Math.max(n, l.metrics.length)
          const x = (i: number) => (n <= 1 ? 0 : (i / (n - 1)) * W)
          const y = (v: number) => H - (v / max) * (H - 4) - 2
          return (
            <figure key={k}>
              <svg width={W} height={H} role="img" aria-label={label}>
                <line x1={x(position)} x2={x(position)} y1={0} y2={H} class="cursor" />
                {lanes.map((l, li) => (
                  <polyline
                    key={l.layout}
                    class={`series s${li}`}
                    points={l.metrics
                      .map((mm, i) => (mm ? `${x(i).toFixed(1)},${y(mm[k]).toFixed(1)}` : ''))
                      .join(' ')}
                  />
                ))}
              </svg>
              <figcaption>
                {label}: {lanes.map((l) => `${l.layout} ${l.metrics[position]?.[k] ?? '?'}`).join(' · ')}
              </figcaption>
            </figure>
          )
        })}
      </div>
    </section>
  )
}

/** What the last step changed. */
export function Changes(props: { lane: Lane; select: Select }) {
  const { lane, select } = props
  const d = lane.diff
  const m = lane.stepper.machine
  return (
    <section class="panel" data-testid="changes">
      <h2>
        What the step changed{' '}
        <span class="dim">
          ({lane.layout}: model {lane.lastStepMs.model.toFixed(1)} ms, diff {lane.lastStepMs.diff.toFixed(1)}{' '}
          ms)
        </span>
      </h2>
      {lane.failure && (
        <p class="bad" data-testid="step-failure">
          step {lane.failure.step + 1} failed: {lane.failure.message}
        </p>
      )}
      {lane.said.summary && <p data-testid="step-summary">{lane.said.summary}</p>}
      {lane.said.notices.map((n) => (
        <p key={n} class="dim" data-testid="step-notice">
          note: {n}
        </p>
      ))}
      {!d ? (
        <p class="hint">Nothing yet: step forward.</p>
      ) : (
        <div class="changes">
          <div>
            <b>counters</b>
            {d.counters.length === 0 && <div class="dim">none changed</div>}
            <table class="list">
              <tbody>
                {d.counters.map((c) => (
                  <tr key={c.name}>
                    <td>{c.name}</td>
                    <td class="num">{c.before}</td>
                    <td class="num">→ {c.after}</td>
                    <td class="num">
                      {c.after - c.before > 0 ? '+' : ''}
                      {c.after - c.before}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div>
            <b data-testid="ptes-changed">{d.ptesChanged} ptes changed</b>
            <div class="scroll" style={{ maxHeight: 180 }}>
              {d.ptes.slice(0, 100).map((p) => (
                <button
                  type="button"
                  class="rowbtn"
                  key={`${p.mmId}:${p.addr}`}
                  onClick={() => select({ pid: p.pid, addr: p.addr })}
                >
                  pid {p.pid} {hexAddr(m.arch, p.addr)}: {hex(p.before)} → {hex(p.after)}
                </button>
              ))}
            </div>
            <b>{d.framesChanged} struct pages changed</b>
            <div class="scroll" style={{ maxHeight: 120 }}>
              {d.frames.slice(0, 100).map((f) => (
                <button type="button" class="rowbtn" key={f.pfn} onClick={() => select({ pfn: f.pfn })}>
                  pfn {f.pfn}: {f.fields.join(', ')}
                </button>
              ))}
            </div>
          </div>
        </div>
      )}
    </section>
  )
}

function hex(w: { lo: number; hi: number }): string {
  return `0x${w.hi ? w.hi.toString(16) + w.lo.toString(16).padStart(8, '0') : w.lo.toString(16)}`
}
