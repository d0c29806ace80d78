import { useMemo, useState } from 'preact/hooks'
import { pteWasChanged } from '../model/diff.js'
import { ptePages, pteWords } from '../model/introspect.js'
import { decodePte, fieldText, hexAddr } from '../model/pte.js'
import type { Lane } from '../model/session.js'
import type { Sel, Select } from './types.js'
import { VirtualList } from './VirtualList.js'

/**
 * A process's page tables: its pte pages as the pgd (and pmd) walk finds them,
 * and the entries of one pte page, each decoded in the layout's own bits with
 * its raw value.
 */
export function PageTables(props: { lane: Lane; sel: Sel; select: Select; version: number }) {
  const { lane, sel, select } = props
  const m = lane.stepper.machine
  const proc = m.processes().find((p) => p.pid === sel.pid && p.alive)
  const g = m.arch.geometry
  const rows = useMemo(() => (proc ? ptePages(m, proc.mm.id) : []), [m, proc, props.version])
  const span = g.PTRS_PER_PTE * 4096
  const [only, setOnly] = useState(true)
  if (!proc)
    return (
      <section class="panel" data-testid="pagetables">
        <h2>Page tables</h2>
        <p class="hint">Select a process (or a pte of one) to see its page tables.</p>
      </section>
    )
  const selPage =
    sel.addr >= 0 ? rows.find((r) => sel.addr >= r.base && sel.addr < r.base + span) : (rows[0] ?? undefined)
  const entries: number[] = []
  if (selPage) {
    for (let k = 0; k < g.PTRS_PER_PTE; k++) {
      if (!only) entries.push(k)
      else {
        const { lo, hi } = pteWords(m, selPage.pfn, k)
        if (!m.fast.none(lo, hi)) entries.push(k)
      }
    }
  }
  const widths = {
    '--raw': `${g.PTE_BITS / 4 + 3}ch`,
    '--addr': `${g.BITS_PER_LONG === 64 ? 15 : 11}ch`,
  } as Record<string, string>
  const selIndex = selPage && sel.addr >= 0 ? entries.indexOf((sel.addr - selPage.base) / 4096) : -1
  return (
    <section class="panel" data-testid="pagetables">
      <h2>
        Page tables of {proc.pid}{' '}
        <span class="dim">
          ({m.arch.name}: {g.levels} levels,
        </span>{' '}
        <span class="dim">
          {g.PTRS_PER_PGD} pgd × {g.PTRS_PER_PMD} pmd × {g.PTRS_PER_PTE} pte, {g.PTE_BITS}-bit ptes)
        </span>
      </h2>
      <div class="pt" style={widths}>
        <div class="pt-tree" data-testid="pte-pages">
          <div class="th">pgd{g.levels === 3 ? ' → pmd' : ''} → pte page · maps · used</div>
          {rows.map((r) => (
            <button
              type="button"
              key={r.pfn}
              class={`rowbtn ${selPage === r ? 'sel' : ''}`}
              onClick={() => select({ addr: r.base, pfn: -1 })}
            >
              [{r.pgdIndex}]{g.levels === 3 ? ` → pmd@${r.pmdPfn}[${r.pmdIndex}]` : ''} → pfn {r.pfn} ·{' '}
              {hexAddr(m.arch, r.base)} · {r.used}
            </button>
          ))}
          {rows.length === 0 && <div class="hint">no pte pages</div>}
        </div>
        <div class="pt-ptes">
          <div class="th">
            <label>
              <input type="checkbox" checked={only} onChange={() => setOnly(!only)} /> only used entries
            </label>{' '}
            {selPage ? `pte page pfn ${selPage.pfn}: ${selPage.used} used of ${g.PTRS_PER_PTE}` : ''}
          </div>
          <div class="pte-head">
            <span class="c-i">idx</span>
            <span class="c-a">address</span>
            <span class="c-raw">raw</span>
            <span class="c-k">kind</span>
            <span class="c-d">decoded</span>
          </div>
          {selPage && (
            <VirtualList
              testid="pte-list"
              count={entries.length}
              rowHeight={22}
              height={330}
              scrollTo={selIndex}
              row={(i) => {
                const k = entries[i]!
                const addr = selPage.base + k * 4096
                const { lo, hi } = pteWords(m, selPage.pfn, k)
                const d = decodePte(m.arch, lo, hi)
                const cls = [
                  'pte',
                  d.kind,
                  addr === sel.addr ? 'sel' : '',
                  d.pfn !== undefined && d.pfn === sel.pfn ? 'hl' : '',
                  pteWasChanged(lane.diff, m, proc.mm.id, addr) ? 'changed' : '',
                ].join(' ')
                return (
                  <button
                    type="button"
                    class={cls}
                    data-testid="pte-row"
                    data-addr={addr}
                    onClick={() => select({ addr, pfn: d.pfn ?? -1 })}
                  >
                    <span class="c-i">{k}</span>
                    <span class="c-a">{hexAddr(m.arch, addr)}</span>
                    <span class="c-raw" data-testid="pte-raw">
                      {d.raw}
                    </span>
                    <span class="c-k">{d.kind}</span>
                    <span class="c-d" data-testid="pte-decoded" title={d.fields.map(fieldText).join(' ')}>
                      {d.kind === 'present' && `pfn ${d.pfn} `}
                      {d.kind === 'swap' && `swap type ${d.swapType} offset ${d.swapOffset} `}
                      {d.kind === 'file' && `file pgoff ${d.pgoff} `}
                      {d.fields.map(fieldText).join(' ')}
                    </span>
                  </button>
                )
              }}
            />
          )}
        </div>
      </div>
    </section>
  )
}
