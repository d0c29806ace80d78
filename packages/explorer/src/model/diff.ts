/**
 * What one step changed: counters, ptes and struct pages. A snapshot copies
 * the typed arrays the model keeps (struct page fields, the page-table words)
 * — a memcpy per array — and the diff compares them, so the cost is linear in
 * memory and independent of how the step got there.
 */
import type { Machine } from '@rmaplab/rmap'
import { ptePages } from './introspect.js'

/** Flat numeric counters: `faults.anonymous`, `rmap.ptesProbed`, `meminfo.PageTables`... */
export type Flat = Record<string, number>

export function flatten(o: unknown, prefix = '', out: Flat = {}): Flat {
  if (typeof o === 'number') out[prefix] = o
  else if (o && typeof o === 'object' && !Array.isArray(o))
    for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out)
  return out
}

/** The counters a step is judged by: m.stats() and /proc/meminfo. */
export function counters(m: Machine): Flat {
  const s = m.stats()
  return flatten({ ...s, lastWalk: undefined, meminfo: m.meminfo() })
}

interface PtePageSnap {
  pfn: number
  words: Uint32Array
}

export interface Snapshot {
  counters: Flat
  count: Int32Array
  mapcount: Int32Array
  flags: Uint32Array
  mapping: Int32Array
  index: Uint32Array
  /** `mm:base` → the pte page's words at snapshot time. */
  ptes: Map<string, PtePageSnap>
}

export function snapshot(m: Machine): Snapshot {
  const f = m.frames
  const ptes = new Map<string, PtePageSnap>()
  const t = m.env.tables
  const len = m.arch.geometry.PTRS_PER_PTE * m.fast.words
  for (const p of m.processes()) {
    if (!p.alive) continue
    for (const r of ptePages(m, p.mm.id)) {
      const b = t.base(r.pfn)
      ptes.set(`${p.mm.id}:${r.base}`, { pfn: r.pfn, words: t.words.slice(b, b + len) })
    }
  }
  return {
    counters: counters(m),
    count: f.count.slice(),
    mapcount: f.mapcount.slice(),
    flags: f.flags.slice(),
    mapping: f.mapping.slice(),
    index: f.index.slice(),
    ptes,
  }
}

export interface PteChange {
  pid: number
  mmId: number
  addr: number
  before: { lo: number; hi: number }
  after: { lo: number; hi: number }
}

export interface FrameChange {
  pfn: number
  fields: string[]
}

export interface StepDiff {
  counters: Array<{ name: string; before: number; after: number }>
  ptesChanged: number
  ptes: PteChange[]
  framesChanged: number
  frames: FrameChange[]
  /** frameChanged[pfn] is 1 when the step changed that struct page. */
  frameChanged: Uint8Array
  /** `mm:base of a pte page` → 1 per entry the step changed. */
  pteChanged: Map<string, Uint8Array>
}

/** Did the step change the pte of `addr` in mm `mmId`? */
export function pteWasChanged(d: StepDiff | null, m: Machine, mmId: number, addr: number): boolean {
  if (!d) return false
  const span = m.arch.geometry.PTRS_PER_PTE * 4096
  const base = addr - (addr % span)
  return d.pteChanged.get(`${mmId}:${base}`)?.[(addr - base) / 4096] === 1
}

const LIST_MAX = 500

export function diff(m: Machine, before: Snapshot): StepDiff {
  const after = counters(m)
  const names = new Set([...Object.keys(before.counters), ...Object.keys(after)])
  const cs: StepDiff['counters'] = []
  for (const n of names) {
    const a = before.counters[n] ?? 0
    const b = after[n] ?? 0
    if (a !== b) cs.push({ name: n, before: a, after: b })
  }
  // ptes
  const ptes: PteChange[] = []
  const pteChanged = new Map<string, Uint8Array>()
  let ptesChanged = 0
  const t = m.env.tables
  const w = t.words
  const words = m.fast.words
  const n = m.arch.geometry.PTRS_PER_PTE
  const zero = new Uint32Array(n * words)
  for (const p of m.processes()) {
    if (!p.alive) continue
    for (const r of ptePages(m, p.mm.id)) {
      const old = before.ptes.get(`${p.mm.id}:${r.base}`)
      const ow = old && old.pfn === r.pfn ? old.words : zero
      const b = t.base(r.pfn)
      let marks: Uint8Array | undefined
      for (let k = 0; k < n; k++) {
        const i = k * words
        const lo = w[b + i]!
        const hi = words === 2 ? w[b + i + 1]! : 0
        const olo = ow[i]!
        const ohi = words === 2 ? ow[i + 1]! : 0
        if (lo === olo && hi === ohi) continue
        ptesChanged++
        const addr = r.base + k * 4096
        if (!marks) {
          marks = new Uint8Array(n)
          pteChanged.set(`${p.mm.id}:${r.base}`, marks)
        }
        marks[k] = 1
        if (ptes.length < LIST_MAX)
          ptes.push({ pid: p.pid, mmId: p.mm.id, addr, before: { lo: olo, hi: ohi }, after: { lo, hi } })
      }
    }
  }
  // struct pages
  const f = m.frames
  const frames: FrameChange[] = []
  const frameChanged = new Uint8Array(f.n)
  let framesChanged = 0
  const fields = [
    ['count', before.count, f.count],
    ['mapcount', before.mapcount, f.mapcount],
    ['flags', before.flags, f.flags],
    ['mapping', before.mapping, f.mapping],
    ['index', before.index, f.index],
  ] as const
  for (let pfn = 0; pfn < f.n; pfn++) {
    if (
      before.count[pfn] === f.count[pfn] &&
      before.mapcount[pfn] === f.mapcount[pfn] &&
      before.flags[pfn] === f.flags[pfn] &&
      before.mapping[pfn] === f.mapping[pfn] &&
      before.index[pfn] === f.index[pfn]
    )
      continue
    framesChanged++
    frameChanged[pfn] = 1
    if (frames.length < LIST_MAX)
      frames.push({ pfn, fields: fields.filter(([, a, b]) => a[pfn] !== b[pfn]).map(([k]) => k) })
  }
  return { counters: cs, ptesChanged, ptes, framesChanged, frames, frameChanged, pteChanged }
}
