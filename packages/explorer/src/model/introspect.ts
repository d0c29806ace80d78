/**
 * Read-only views of a Machine for the explorer: processes and vmas, the page
 * tables of an mm (pgd → pmd → pte pages), struct pages, and the reverse map of
 * a page with what each probe of an objrmap walk finds. Nothing here changes
 * the machine: page tables are read straight from the page-table store with
 * the arch's own codec (no `pte_offset_map`, which would take a kmap slot).
 */
import {
  type Machine,
  type Mm,
  NO_MAPPING,
  type PageInfo,
  PG,
  type Process,
  VM,
  type Vma,
} from '@rmaplab/rmap'
import { type DecodedPte, decodePte } from './pte.js'

/** One vma, as /proc/PID/maps shows it, plus its rmap identity. */
export interface VmaRow {
  start: number
  end: number
  perms: string
  /** vm_pgoff in pages. */
  pgoff: number
  file: string
  /** The anon_vma's object id (page->mapping of its anonymous pages), or -1. */
  anonVma: number
  /** The file's address_space id, or -1. */
  addressSpace: number
  flags: string[]
  pages: number
  /** The vma itself, for linking (not for display). */
  vma: Vma
}

/** A process and its vmas. */
export interface ProcRow {
  pid: number
  /** The workload's name for it (`p`, `all[3]`), or `pid N`. */
  name: string
  alive: boolean
  mmId: number
  rss: number
  vmas: VmaRow[]
}

const VM_NAMES = Object.entries(VM) as Array<[string, number]>

/** vm_flags by name (READ, WRITE, MAYSHARE, LOCKED, NONLINEAR...). */
export function vmFlagNames(flags: number): string[] {
  return VM_NAMES.filter(([, b]) => flags & b).map(([n]) => n)
}

function permsOf(v: Vma): string {
  return `${v.flags & VM.READ ? 'r' : '-'}${v.flags & VM.WRITE ? 'w' : '-'}${v.flags & VM.EXEC ? 'x' : '-'}${v.flags & VM.MAYSHARE ? 's' : 'p'}`
}

/** Every process (live ones; exited ones have no mm to show). */
export function processes(m: Machine, nameOf: (p: Process) => string | undefined): ProcRow[] {
  return m.processes().map((p) => ({
    pid: p.pid,
    name: nameOf(p) ?? `pid ${p.pid}`,
    alive: p.alive,
    mmId: p.mm.id,
    rss: p.mm.rss,
    vmas: p.alive ? p.mm.vmas.map(vmaRow) : [],
  }))
}

function vmaRow(v: Vma): VmaRow {
  return {
    start: v.start,
    end: v.end,
    perms: permsOf(v),
    pgoff: v.pgoff,
    file: v.file?.path ?? '',
    anonVma: v.anonVma?.id ?? -1,
    addressSpace: v.file?.id ?? -1,
    flags: vmFlagNames(v.flags),
    pages: v.pages,
    vma: v,
  }
}

/** The process whose mm is `mm`. */
export function procOfMm(m: Machine, mm: Mm): Process | undefined {
  return m.processes().find((p) => p.alive && p.mm === mm)
}

// ---------------------------------------------------------------- page tables

/** One pte page of an mm, found by walking its pgd (and pmd) pages. */
export interface PtePageRow {
  pgdIndex: number
  /** The pmd index (0 when the pmd is folded into the pgd). */
  pmdIndex: number
  /** The pgd entry (3 levels: the pmd page's pfn; 2 levels: the pte page's). */
  pmdPfn: number
  /** The pte page's pfn. */
  pfn: number
  /** The first user address it maps. */
  base: number
  /** Entries that are not pte_none. */
  used: number
}

/** The layout's walk: pgd entries → pmd pages → pte pages, read-only. */
export function ptePages(m: Machine, mmId: number): PtePageRow[] {
  const { arch, env } = m
  const g = arch.geometry
  const t = env.tables
  const w = t.words
  const f = arch.fast
  const pw = g.PGD_ENTRY_BITS >>> 5
  const mw = g.PMD_ENTRY_BITS >>> 5
  const out: PtePageRow[] = []
  const pgdBase = t.base(env.mmPgd(mmId))
  for (let i = 0; i < g.USER_PTRS_PER_PGD; i++) {
    const at = pgdBase + i * pw
    const lo = w[at]!
    const hi = pw === 2 ? w[at + 1]! : 0
    if (lo === 0 && hi === 0) continue
    if (g.levels === 2) {
      const pfn = f.pmdPfn(lo, hi)
      out.push(row(m, i, 0, pfn, pfn))
      continue
    }
    const pmdPfn = f.pgdPfn(lo, hi)
    const pmdBase = t.base(pmdPfn)
    for (let j = 0; j < g.PTRS_PER_PMD; j++) {
      const a = pmdBase + j * mw
      const plo = w[a]!
      const phi = mw === 2 ? w[a + 1]! : 0
      if (plo === 0 && phi === 0) continue
      out.push(row(m, i, j, pmdPfn, f.pmdPfn(plo, phi)))
    }
  }
  return out
}

function row(m: Machine, pgdIndex: number, pmdIndex: number, pmdPfn: number, pfn: number): PtePageRow {
  const g = m.arch.geometry
  const base = pgdIndex * 2 ** g.PGDIR_SHIFT + (g.levels === 3 ? pmdIndex * 2 ** g.PMD_SHIFT : 0)
  return { pgdIndex, pmdIndex, pmdPfn, pfn, base, used: usedPtes(m, pfn) }
}

function usedPtes(m: Machine, pfn: number): number {
  const w = m.env.tables.words
  const n = m.arch.geometry.PTRS_PER_PTE
  const words = m.fast.words
  const b = m.env.tables.base(pfn)
  let used = 0
  for (let k = 0; k < n; k++) {
    const lo = w[b + k * words]!
    const hi = words === 2 ? w[b + k * words + 1]! : 0
    if (!m.fast.none(lo, hi)) used++
  }
  return used
}

/** The two words of entry `k` of pte page `pfn`. */
export function pteWords(m: Machine, pfn: number, k: number): { lo: number; hi: number } {
  const w = m.env.tables.words
  const words = m.fast.words
  const at = m.env.tables.base(pfn) + k * words
  return { lo: w[at]!, hi: words === 2 ? w[at + 1]! : 0 }
}

/** The pte of `addr` in `mm`, read-only: its pte page, index and words; null when no pte page. */
export function pteAt(
  m: Machine,
  mmId: number,
  addr: number,
): { ptePfn: number; index: number; lo: number; hi: number } | null {
  const { arch, env } = m
  const g = arch.geometry
  const f = arch.fast
  const t = env.tables
  const w = t.words
  const pw = g.PGD_ENTRY_BITS >>> 5
  const mw = g.PMD_ENTRY_BITS >>> 5
  const at = t.base(env.mmPgd(mmId)) + f.pgdIndex(addr) * pw
  let lo = w[at]!
  let hi = pw === 2 ? w[at + 1]! : 0
  if (lo === 0 && hi === 0) return null
  if (g.levels === 3) {
    const a = t.base(f.pgdPfn(lo, hi)) + f.pmdIndex(addr) * mw
    lo = w[a]!
    hi = mw === 2 ? w[a + 1]! : 0
    if (lo === 0 && hi === 0) return null
  }
  const ptePfn = f.pmdPfn(lo, hi)
  const index = f.pteIndex(addr)
  return { ptePfn, index, ...pteWords(m, ptePfn, index) }
}

// ---------------------------------------------------------------- frames

/** A frame's struct page plus where it sits (LRU list, swap cache). */
export interface FrameInfo extends PageInfo {
  lru: 'active' | 'inactive' | 'none'
  /** The swap entry (type, offset) of a swap-cache page. */
  swapCache?: { type: number; offset: number }
  /** What the frame holds, for people. */
  use: 'free' | 'page table' | 'anon' | 'file' | 'reserved' | 'other'
}

/** m.page(pfn) plus LRU and swap-cache membership. */
export function frameInfo(m: Machine, pfn: number): FrameInfo {
  const p = m.page(pfn)
  const f = m.frames
  const lru = f.test(pfn, PG.lru) ? (f.test(pfn, PG.active) ? 'active' : 'inactive') : 'none'
  const info: FrameInfo = { ...p, lru, use: frameUse(m, pfn) }
  if (f.test(pfn, PG.swapcache)) {
    info.swapCache = { type: m.swap.type(p.private), offset: m.swap.offset(p.private) }
  }
  return info
}

/** A short classification of a frame (cheap: typed-array reads only). */
export function frameUse(m: Machine, pfn: number): FrameInfo['use'] {
  const f = m.frames
  if (f.test(pfn, PG.reserved)) return 'reserved'
  if (m.env.tables.has(pfn)) return 'page table'
  if (f.count[pfn] === 0) return 'free'
  if (f.test(pfn, PG.anon)) return 'anon'
  if (f.mapping[pfn] !== NO_MAPPING) return 'file'
  return 'other'
}

// ---------------------------------------------------------------- reverse map

/** One vma on a page's rmap list and what its pte says. */
export interface RmapEntry {
  pid: number
  procName: string
  vmaStart: number
  vmaEnd: number
  vmaFlags: string[]
  /** Which list it is on: the anon_vma list, i_mmap or i_mmap_shared. */
  /** Which list or structure it was found through: `anon_vma`, `i_mmap`, `i_mmap_shared`, `pte_chain`, `pte.direct`. */
  list: string
  /** vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT), or -1 outside the vma. */
  address: number
  /** The pte found at that address, or null (no pte page, or outside the vma). */
  pte: DecodedPte | null
  /** The pte maps this page (present and pte_pfn == pfn). */
  maps: boolean
  /** The walk skips it: nonlinear (2.6.7), or its page_table_lock is held. */
  skipped?: string
  /**
   * A pte of a VM_NONLINEAR vma found away from the linear address by scanning
   * the vma (as try_to_unmap's cluster scan does): the linear walk misses it.
   */
  nonlinear?: boolean
}

/** The reverse map of a page: its object and every vma the rmap walk visits. */
export interface RmapView {
  pfn: number
  /** The rmap design of the machine (`objrmap`). */
  design: string
  /** What the page's reverse map hangs off: objrmap's object, or 2.6.4's per-page pte chain. */
  kind: 'anon_vma' | 'address_space' | 'pte_chain' | 'none' | 'page table'
  objectId: number
  /** `anon_vma #3` / `address_space #2 (/data)`. */
  objectLabel: string
  index: number
  mapcount: number
  entries: RmapEntry[]
  /** Entries whose pte maps the page: equals mapcount when rmap is consistent. */
  found: number
}

/**
 * The reverse map of `pfn`: page → anon_vma (its vmas) or address_space
 * (i_mmap, then i_mmap_shared) → each vma → the address its vm_pgoff gives →
 * the pte there, as the core's `m.rmapOf(pfn)` reports the design's walk; plus,
 * for people, the process names, vm_flags, each pte decoded, what the walk
 * skips, and the ptes of nonlinear vmas the linear walk cannot find.
 */
export function rmapOf(m: Machine, pfn: number, nameOf: (p: Process) => string | undefined): RmapView {
  const p = m.page(pfn)
  const base = { pfn, objectId: p.mapping.id, index: p.index, mapcount: p.mapcount, design: m.rmap.name }
  if (m.env.tables.has(pfn))
    return { ...base, kind: 'page table', objectLabel: 'a page-table page', entries: [], found: 0 }
  // The core's own account of the walk: the object, and every vma in walk order.
  const core = m.rmapOf(pfn)
  // pte_chains: no object, the page itself lists its ptes (pte.direct for one, a chain for more).
  const chain = core.object.kind === 'none' && core.entries.length > 0
  if (core.object.kind === 'none' && !chain)
    return { ...base, kind: 'none', objectLabel: 'no mapping', entries: [], found: 0 }
  const procs = new Map<number, Process>()
  for (const pr of m.processes()) if (pr.alive) procs.set(pr.pid, pr)
  const anon = core.object.kind === 'anon_vma'
  const entries: RmapEntry[] = []
  for (const c of core.entries) {
    const pr = procs.get(c.pid)
    const v = pr?.mm.vmas.find((x) => x.start === c.start)
    const e: RmapEntry = {
      pid: c.pid,
      procName: pr ? (nameOf(pr) ?? `pid ${pr.pid}`) : '(no process)',
      vmaStart: c.start,
      vmaEnd: c.end,
      vmaFlags: v ? vmFlagNames(v.flags) : c.nonlinear ? ['NONLINEAR'] : [],
      list: c.via,
      address: c.address,
      pte: c.pte ? decodePte(m.arch, c.pte.lo, c.pte.hi) : null,
      maps: c.mapsPage,
    }
    if (!anon && c.nonlinear && m.nonlinearReclaim === '2.6.7-cluster')
      e.skipped = 'nonlinear: not on the linear walk (2.6.7 i_mmap_nonlinear)'
    else if (m.heldPageTableLocks.has(c.mm)) e.skipped = 'page_table_lock held: trylock fails'
    entries.push(e)
    if (c.nonlinear && !chain) {
      // remap_file_pages put file pages anywhere in the vma: scan it for ptes of this page
      // (objrmap's linear walk cannot find them; a pte chain lists them itself).
      for (let at = c.start; at < c.end; at += 4096) {
        if (at === e.address) continue
        const w = pteAt(m, c.mm, at)
        if (!w || !m.fast.present(w.lo, w.hi) || m.fast.pfn(w.lo, w.hi) !== pfn) continue
        entries.push({
          ...e,
          address: at,
          pte: decodePte(m.arch, w.lo, w.hi),
          maps: true,
          nonlinear: true,
          skipped: 'nonlinear pte away from the linear address: only a scan of the vma finds it',
        })
      }
    }
  }
  const o = core.object
  const found = entries.filter((e) => e.maps).length
  if (chain) {
    const via = core.entries[0]!.via
    return {
      ...base,
      objectId: -1,
      kind: 'pte_chain',
      objectLabel:
        via === 'pte.direct' ? 'pte.direct (one pte, no chain)' : `pte_chain of ${entries.length} ptes`,
      entries,
      found,
    }
  }
  return {
    ...base,
    objectId: o.id,
    kind: o.kind as 'anon_vma' | 'address_space',
    objectLabel: anon ? `anon_vma #${o.id}` : `address_space #${o.id} (${o.path ?? '?'})`,
    entries,
    found,
  }
}

/** One probe of a page_referenced / try_to_unmap walk. */
export interface Probe {
  step: number
  entry: RmapEntry
  /** What the probe finds, in words. */
  finding: string
  /** It would count a reference (page_referenced) or unmap the pte (try_to_unmap). */
  hit: boolean
}

/**
 * The walk `page_referenced` or `try_to_unmap` would make on `pfn`, probe by
 * probe, without making it: which vma it visits, the address, what the pte
 * there holds and what the walk does with it.
 */
export function walkProbes(m: Machine, view: RmapView, kind: 'page_referenced' | 'try_to_unmap'): Probe[] {
  const out: Probe[] = []
  const f = m.frames
  // The probe rules below are objrmap's (-aa); other designs are shown by calling the function on a copy.
  if (kind === 'try_to_unmap' && view.design !== 'objrmap') return out
  if (kind === 'try_to_unmap' && view.kind === 'anon_vma' && !f.test(view.pfn, PG.swapcache)) return out
  let left = view.mapcount
  const swap = f.test(view.pfn, PG.swapcache)
  for (const e of view.entries) {
    if (e.nonlinear) continue // not a probe of the linear walk
    if (kind === 'try_to_unmap' && left <= 0) break
    const step = out.length + 1
    if (e.skipped) {
      out.push({ step, entry: e, finding: `skipped: ${e.skipped}`, hit: false })
      continue
    }
    let finding: string
    let hit = false
    if (e.address < 0) finding = 'page->index falls outside this vma: nothing to probe'
    else if (!e.pte) finding = 'no pte page at that address'
    else if (!e.maps)
      finding =
        e.pte.kind === 'present'
          ? `the pte maps another frame (pfn ${e.pte.pfn})`
          : `the pte is ${e.pte.kind}`
    else if (kind === 'page_referenced') {
      hit = e.pte.young === true
      finding = hit ? 'young: test-and-clear, counts 1' : 'present, not young: counts 0'
    } else if (e.vmaFlags.includes('LOCKED')) {
      out.push({ step, entry: e, finding: 'VM_LOCKED vma: SWAP_FAIL, the walk stops', hit })
      break
    } else {
      hit = true
      left--
      finding = swap
        ? 'unmapped: the pte becomes the swap entry, mapcount drops'
        : 'unmapped: the pte is cleared, mapcount drops'
    }
    out.push({ step, entry: e, finding, hit })
  }
  return out
}

/**
 * The same virtual page on another machine running the same workload: the
 * process with the same pid, the vma at the same position in its maps, the
 * same offset in it (layouts place mappings at different addresses; ppc64's
 * TASK_UNMAPPED_BASE is not i386's). -1 when there is no such page.
 */
export function samePageOn(from: Machine, pid: number, addr: number, to: Machine): number {
  if (from === to) return addr
  const a = from.processes().find((p) => p.pid === pid && p.alive)
  const b = to.processes().find((p) => p.pid === pid && p.alive)
  if (!a || !b || addr < 0) return -1
  const i = a.mm.vmas.findIndex((v) => addr >= v.start && addr < v.end)
  const v = i >= 0 ? b.mm.vmas[i] : undefined
  if (!v) return -1
  const at = v.start + (addr - a.mm.vmas[i]!.start)
  return at < v.end ? at : -1
}

/** The frame the pte of `addr` maps in `pid`'s address space, or -1. */
export function pfnAt(m: Machine, pid: number, addr: number): number {
  const p = m.processes().find((x) => x.pid === pid && x.alive)
  if (!p || addr < 0) return -1
  const at = pteAt(m, p.mm.id, addr)
  if (!at) return -1
  return m.fast.present(at.lo, at.hi) ? m.fast.pfn(at.lo, at.hi) : -1
}
