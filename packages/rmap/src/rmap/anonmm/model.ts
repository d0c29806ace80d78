/**
 * What the model needs from anonmm beyond the kernel's functions: its
 * invariants for `m.check()`, its memory accounting for `m.stats()` and the
 * introspection behind `m.rmapOf(pfn)`. None of it runs on a hot path.
 */
import type { Machine } from '../../machine.js'
import { PG } from '../../mm/page.js'
import { type Mm, VM } from '../../mm/vma.js'
import { lookupPte, NO_PTE, pteWordOffset } from '../../pgtable.js'
import { describeObjrmap } from '../objrmap/model.js'
import { countRmapPtes } from '../objrmap/objrmap.js'
import type { RmapAccounting, RmapCheckFacts, RmapView, RmapViewEntry } from '../strategy.js'
import { Anonmm, walkOrder } from './anonmm.js'

function anonmms(m: Machine): Anonmm[] {
  const out: Anonmm[] = []
  for (const obj of m.objects.values()) if (obj instanceof Anonmm) out.push(obj)
  return out
}

/** The pte of `mm` at `address` if it is present and maps `pfn`. */
function mapsAt(m: Machine, mm: Mm, address: number, pfn: number): boolean {
  const ptr = lookupPte(m.env, mm.id, address)
  if (ptr === NO_PTE) return false
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  const lo = w[at]!
  const hi = m.fast.words === 2 ? w[at + 1]! : 0
  return m.fast.present(lo, hi) && m.fast.pfn(lo, hi) === pfn
}

/**
 * anonmm's invariants (rmap 10/11's BUG_ONs and what its walks rely on):
 * - every live mm has an anonmm that names it back and is on its head's list;
 *   a head is its own head and first on its list; a member's list is empty;
 *   every anonmm on a list names that head;
 * - each anonmm's count is its mm's reference (while the mm lives), one per
 *   mapped anonymous page naming it, and on a head its own reference plus one
 *   per member; an anonmm whose count would be 0 is freed (and a head is
 *   freed once only its own reference is left);
 * - an anonymous page's mapping is a live anonmm, its index a user
 *   address (in page units), and every pte that maps it sits at that address in an mm of the
 *   same fork group (the early COW of rmap 11 keeps it so after mremap);
 * - the walk of every mapped anonymous page (indicated mm, then the group, at
 *   page->index) finds its mapcount ptes; file pages as objrmap (mapcount less
 *   the nonlinear ptes);
 * - PG_anon is set only on mapped pages.
 */
export function checkAnonmm(m: Machine, facts: RmapCheckFacts, out: string[]): void {
  const fr = m.frames
  const f = m.fast
  const w = m.env.tables.words
  const all = anonmms(m)
  const live = new Set(all)
  const pages = new Map<Anonmm, number>()
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (m.env.tables.has(pfn) || fr.mapcount[pfn] === 0 || !fr.test(pfn, PG.anon)) continue
    const obj = m.objects.get(fr.mapping[pfn]!)
    if (!(obj instanceof Anonmm) || !live.has(obj)) {
      out.push(`an anonymous page's mapping is a live anonmm (page ${pfn}, mapping ${fr.mapping[pfn]})`)
      continue
    }
    pages.set(obj, (pages.get(obj) ?? 0) + 1)
  }
  for (const p of m.processes()) {
    const a = p.mm.anonmm
    if (!a || a.mm !== p.mm || !live.has(a)) {
      out.push(`every live mm has an anonmm that names it (pid ${p.pid})`)
      continue
    }
    if (!a.head.ring.includes(a))
      out.push(`an mm's anonmm is on its head's list (pid ${p.pid}, anonmm ${a.id})`)
  }
  for (const a of all) {
    const isHead = a.head === a
    if (isHead && a.ring[0] !== a) out.push(`a head is first on its own list (anonmm ${a.id})`)
    if (!isHead && a.ring.length !== 0) out.push(`a member anonmm's own list is empty (anonmm ${a.id})`)
    if (!live.has(a.head)) out.push(`an anonmm's head is live (anonmm ${a.id}, head ${a.head.id})`)
    if (isHead) {
      for (const x of a.ring) {
        if (x.head !== a || !live.has(x))
          out.push(`every anonmm on a head's list is live and names that head (head ${a.id}, anonmm ${x.id})`)
      }
      if (new Set(a.ring).size !== a.ring.length)
        out.push(`an anonmm is on its head's list once (head ${a.id})`)
    }
    if (a.mm && a.mm.anonmm !== a) out.push(`an anonmm's mm names it back (anonmm ${a.id})`)
    const expected = (a.mm ? 1 : 0) + (pages.get(a) ?? 0) + (isHead ? a.ring.length : 0)
    if (a.count !== expected)
      out.push(
        `anonmm ${a.id}'s count (${a.count}) is its mm, its mapped pages${isHead ? ', itself and its members' : ''} (${expected})`,
      )
    if (isHead ? a.count <= 1 : a.count <= 0) out.push(`an anonmm nothing holds is freed (anonmm ${a.id})`)
  }
  // Every present pte of an anonymous page is at page->index, in the page's fork group.
  for (const p of m.processes()) {
    const mm = p.mm
    for (const vma of mm.vmas) {
      if (vma.flags & VM.NONLINEAR) continue
      for (let addr = vma.start; addr < vma.end; addr += 4096) {
        const ptr = lookupPte(m.env, mm.id, addr)
        if (ptr === NO_PTE) continue
        const at = pteWordOffset(m.env, ptr)
        const lo = w[at]!
        const hi = f.words === 2 ? w[at + 1]! : 0
        if (!f.present(lo, hi)) continue
        const pfn = f.pfn(lo, hi)
        if (pfn >= fr.n || fr.test(pfn, PG.reserved) || !fr.test(pfn, PG.anon)) continue
        const obj = m.objects.get(fr.mapping[pfn]!)
        if (fr.index[pfn]! * 4096 !== addr || !(obj instanceof Anonmm) || obj.head !== mm.anonmm?.head) {
          out.push(
            `anon page ${pfn} (index 0x${fr.index[pfn]!.toString(16)}, address 0x${(fr.index[pfn]! * 4096).toString(16)}) is mapped at its index in its fork group (pid ${p.pid} maps it at 0x${addr.toString(16)})`,
          )
        }
      }
    }
  }
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (m.env.tables.has(pfn)) continue
    const mc = fr.mapcount[pfn]!
    if (mc === 0) {
      if (fr.test(pfn, PG.anon)) out.push(`PG_anon is set only on mapped pages (page ${pfn})`)
      continue
    }
    if (fr.test(pfn, PG.anon)) {
      const obj = m.objects.get(fr.mapping[pfn]!)
      if (!(obj instanceof Anonmm)) continue
      let found = 0
      for (const a of walkOrder(obj)) if (a.mm && mapsAt(m, a.mm, fr.index[pfn]! * 4096, pfn)) found++
      if (found !== mc)
        out.push(`the anonmm walk of page ${pfn} finds its mapcount (${mc}) ptes, found ${found}`)
    } else if (fr.mapping[pfn] !== -1) {
      const found = countRmapPtes(m, pfn)
      const reachable = mc - facts.nonlinear[pfn]!
      if (found !== reachable)
        out.push(
          `the rmap walk of page ${pfn} finds its mapcount (${mc}) ptes, less the ${facts.nonlinear[pfn]} nonlinear ones, found ${found}`,
        )
    }
  }
}

/**
 * anonmm's memory at the arch's sizes (rmap 10's struct anonmm: an atomic_t
 * count and a spinlock, 4 bytes each, then the mm and head pointers and a
 * list_head; 24 bytes on a 32-bit SMP kernel, 40 on ppc64), the `anonmm`
 * pointer it adds to every mm_struct, and the int mapcount of every struct
 * page. Nothing per vma, nothing per pte. The anonmm cache is a slab of
 * lowmem the model does not draw from its frames.
 */
export function anonmmAccounting(m: Machine): RmapAccounting {
  const ptr = m.arch.geometry.BITS_PER_LONG / 8
  const all = anonmms(m)
  const size = Math.ceil((8 + 4 * ptr) / ptr) * ptr
  const heads = all.filter((a) => a.head === a).length
  const exited = all.filter((a) => !a.mm).length
  const anonmm = all.length * size
  const mmField = m.processes().length * ptr
  const mapcount = m.frames.n * 4
  return {
    design: 'anonmm',
    bytes: { anonmm, mmField, mapcount },
    total: anonmm + mmField + mapcount,
    objects: { anonmm: all.length, heads, exited },
    lowmemFrames: 0,
    parameters: {},
  }
}

/**
 * `m.rmapOf(pfn)` under anonmm: for an anonymous page, the anonmm
 * page->mapping names and, in walk order, every mm of its group still alive,
 * with the vma find_vma gives at page->index and the pte there (`via`
 * `'anonmm'` for the indicated mm, `'group'` for the rest); a file page as
 * objrmap describes it.
 */
export function describeAnonmm(m: Machine, pfn: number): RmapView {
  const fr = m.frames
  const obj = m.env.tables.has(pfn) || !fr.test(pfn, PG.anon) ? undefined : m.objects.get(fr.mapping[pfn]!)
  if (!(obj instanceof Anonmm)) return { ...describeObjrmap(m, pfn), design: 'anonmm' }
  const view: RmapView = {
    design: 'anonmm',
    pfn,
    mapcount: fr.mapcount[pfn]!,
    object: { kind: 'anonmm', id: obj.id },
    index: fr.index[pfn]!,
    entries: [],
  }
  const pids = new Map<Mm, number>()
  for (const p of m.processes()) pids.set(p.mm, p.pid)
  const address = fr.index[pfn]! * 4096
  for (const a of walkOrder(obj)) {
    const mm = a.mm
    if (!mm) continue
    const vma = mm.findVma(address)
    if (!vma || vma.start > address) continue
    const e: RmapViewEntry = {
      via: a === obj ? 'anonmm' : 'group',
      mm: mm.id,
      pid: pids.get(mm) ?? -1,
      start: vma.start,
      end: vma.end,
      pgoff: vma.pgoff,
      nonlinear: (vma.flags & VM.NONLINEAR) !== 0,
      address,
      pte: null,
      mapsPage: false,
    }
    const ptr = lookupPte(m.env, mm.id, address)
    if (ptr !== NO_PTE) {
      const w = m.env.tables.words
      const at = pteWordOffset(m.env, ptr)
      const lo = w[at]!
      const hi = m.fast.words === 2 ? w[at + 1]! : 0
      e.pte = { lo, hi }
      e.mapsPage = m.fast.present(lo, hi) && m.fast.pfn(lo, hi) === pfn
    }
    view.entries.push(e)
  }
  return view
}
