/**
 * What the model needs from objrmap beyond the kernel's functions: its
 * invariants for `m.check()`, its memory accounting for `m.stats()` and the
 * introspection behind `m.rmapOf(pfn)`. None of it runs on a hot path.
 */
import { AddressSpace } from '../../filemap.js'
import type { Machine } from '../../machine.js'
import { PG } from '../../mm/page.js'
import { AnonVma, VM, type Vma } from '../../mm/vma.js'
import { lookupPte, NO_PTE, pteWordOffset } from '../../pgtable.js'
import type { RmapAccounting, RmapCheckFacts, RmapView, RmapViewEntry } from '../strategy.js'
import { countRmapPtes } from './objrmap.js'

/**
 * objrmap's invariants:
 * - every vma with an anon_vma is on that anon_vma's list, once, and every vma
 *   on a list belongs to a live mm and points back at the list's anon_vma;
 *   no anon_vma is empty;
 * - a swap pte lives only in a vma with an anon_vma (do_swap_page BUGs otherwise);
 * - an anonymous page's (mapping, index) agree with every vma that maps it;
 * - PG_anon is set only on mapped pages;
 * - the rmap walk of every mapped page finds its mapcount ptes, less those a
 *   nonlinear vma holds away from the page's linear address (objrmap cannot
 *   see them: see fremap.ts).
 */
export function checkObjrmap(m: Machine, facts: RmapCheckFacts, out: string[]): void {
  const fr = m.frames
  const f = m.fast
  const w = m.env.tables.words
  const live = new Set<Vma>()
  for (const p of m.processes()) {
    for (const vma of p.mm.vmas) {
      live.add(vma)
      const av = vma.anonVma
      if (av && av.vmas.indexOf(vma) !== av.vmas.lastIndexOf(vma))
        out.push(`a vma is on its anon_vma list once (pid ${p.pid}, 0x${vma.start.toString(16)})`)
      if (av && !av.vmas.includes(vma))
        out.push(`a vma with an anon_vma is on its list (pid ${p.pid}, 0x${vma.start.toString(16)})`)
      for (let a = vma.start; a < vma.end; a += 4096) {
        const ptr = lookupPte(m.env, p.mm.id, a)
        if (ptr === NO_PTE) continue
        const at = pteWordOffset(m.env, ptr)
        const lo = w[at]!
        const hi = f.words === 2 ? w[at + 1]! : 0
        if (!f.present(lo, hi)) {
          if (!f.none(lo, hi) && !f.file(lo, hi) && !av)
            out.push(`a swap pte lives only in a vma with an anon_vma (pid ${p.pid}, 0x${a.toString(16)})`)
          continue
        }
        const pfn = f.pfn(lo, hi)
        if (pfn >= fr.n || fr.test(pfn, PG.reserved) || !fr.test(pfn, PG.anon)) continue
        if (!av || fr.mapping[pfn] !== av.id || fr.index[pfn] !== vma.linearIndex(a)) {
          out.push(
            `anon page ${pfn} (mapping ${fr.mapping[pfn]}, index ${fr.index[pfn]}) agrees with the vma mapping it at 0x${a.toString(16)} (anon_vma ${av?.id}, index ${vma.linearIndex(a)})`,
          )
        }
      }
    }
  }
  for (const obj of m.objects.values()) {
    if (!(obj instanceof AnonVma)) continue
    if (obj.vmas.length === 0) out.push(`an anon_vma with an empty list is freed (anon_vma ${obj.id})`)
    for (const vma of obj.vmas) {
      if (vma.anonVma !== obj || !live.has(vma))
        out.push(
          `a vma on anon_vma ${obj.id}'s list belongs to a live mm and points at that anon_vma (vma 0x${vma.start.toString(16)})`,
        )
    }
  }
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (m.env.tables.has(pfn)) continue
    const mc = fr.mapcount[pfn]!
    if (mc > 0) {
      const found = countRmapPtes(m, pfn)
      const reachable = mc - facts.nonlinear[pfn]!
      if (found !== reachable) {
        out.push(
          `the rmap walk of page ${pfn} finds its mapcount (${mc}) ptes, less the ${facts.nonlinear[pfn]} nonlinear ones, found ${found}`,
        )
      }
    } else if (fr.test(pfn, PG.anon)) {
      out.push(`PG_anon is set only on mapped pages (page ${pfn})`)
    }
  }
}

/**
 * objrmap's memory at the arch's sizes (docs/designs.md#data-structures-and-sizes;
 * -aa include/linux/objrmap.h and mm.h): each anon_vma is a spinlock
 * (4 bytes) and a list_head, padded to pointer alignment; each vma gains a
 * list_head and a pointer (anon_vma_node, anon_vma); each struct page an
 * unsigned long mapcount. anon_vmas come from a slab of lowmem that the model
 * does not draw from its frames.
 */
export function objrmapAccounting(m: Machine): RmapAccounting {
  const ptr = m.arch.geometry.BITS_PER_LONG / 8
  const ctr = m.counters.objects
  const anonVmaSize = Math.ceil((4 + 2 * ptr) / ptr) * ptr
  const anonVma = ctr.anonVmas * anonVmaSize
  const vmaFields = ctr.vmas * 3 * ptr
  const mapcount = m.frames.n * ptr
  return {
    design: 'objrmap',
    bytes: { anonVma, vmaFields, mapcount },
    total: anonVma + vmaFields + mapcount,
    objects: { anonVma: ctr.anonVmas },
    lowmemFrames: 0,
    parameters: {},
  }
}

/** `m.rmapOf(pfn)` for objrmap: the object page->mapping names and every vma its walk visits. */
export function describeObjrmap(m: Machine, pfn: number): RmapView {
  const fr = m.frames
  const view: RmapView = {
    design: 'objrmap',
    pfn,
    mapcount: fr.mapcount[pfn]!,
    object: { kind: 'none', id: -1 },
    index: fr.index[pfn]!,
    entries: [],
  }
  const obj = m.env.tables.has(pfn) ? undefined : m.objects.get(fr.mapping[pfn]!)
  if (!obj) return view
  const pids = new Map<number, number>()
  for (const p of m.processes()) pids.set(p.mm.id, p.pid)
  const add = (via: string, vmas: readonly Vma[]) => {
    for (const vma of vmas) view.entries.push(entry(m, pfn, via, vma, pids))
  }
  if (obj instanceof AnonVma) {
    view.object = { kind: 'anon_vma', id: obj.id }
    add('anon_vma', obj.vmas)
  } else if (obj instanceof AddressSpace) {
    view.object = { kind: 'address_space', id: obj.id, path: obj.path }
    add('i_mmap', obj.iMmap)
    add('i_mmap_shared', obj.iMmapShared)
  }
  return view
}

function entry(m: Machine, pfn: number, via: string, vma: Vma, pids: Map<number, number>): RmapViewEntry {
  const f = m.fast
  const computed = vma.addressOf(m.frames.index[pfn]!)
  const address = computed >= vma.start && computed < vma.end ? computed : -1
  let pte: RmapViewEntry['pte'] = null
  let mapsPage = false
  if (address >= 0) {
    const ptr = lookupPte(m.env, vma.mm.id, address)
    if (ptr !== NO_PTE) {
      const w = m.env.tables.words
      const at = pteWordOffset(m.env, ptr)
      const lo = w[at]!
      const hi = f.words === 2 ? w[at + 1]! : 0
      pte = { lo, hi }
      mapsPage = f.present(lo, hi) && f.pfn(lo, hi) === pfn
    }
  }
  return {
    via,
    mm: vma.mm.id,
    pid: pids.get(vma.mm.id) ?? -1,
    start: vma.start,
    end: vma.end,
    pgoff: vma.pgoff,
    nonlinear: (vma.flags & VM.NONLINEAR) !== 0,
    address,
    pte,
    mapsPage,
  }
}
