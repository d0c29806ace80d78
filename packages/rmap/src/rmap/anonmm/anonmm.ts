/**
 * Strategy C: Hugh Dickins' anonmm reverse mapping, as mainline carried it
 * for a few days in May 2004 — "rmap 10 add anonmm rmap" (commit 06e0ee4abf)
 * and "rmap 11 mremap moves" (0c35710493), mm/rmap.c, before "rmap 38 remove
 * anonmm rmap" put Andrea's anon_vma in its place.
 *
 * One `struct anonmm` per mm: count, lock, mm, head, list. exec (mm_alloc)
 * starts a new fork group whose head has count 2 (the mm's reference and the
 * head's own); fork appends the child's anonmm (count 1) to the head's list
 * and takes a reference on the head. An anonymous page's mapping is the
 * anonmm of the mm that faulted it and its index the user virtual address
 * (the model keeps it in page units, address >> PAGE_SHIFT: the same
 * information in the 32-bit index field, which could not hold a ppc64 user
 * address in bytes);
 * each mapped page holds a reference on that anonmm, so the anonmm of an
 * exited mm (mm NULL) lives on while pages still name it.
 *
 * The head's `lock` guards the group's list: dup_rmap, exit_rmap and
 * free_anonmm take it to change the list and the head's count, and a walk
 * takes it for its whole length (inside page_map_lock, the caller's). Each
 * pte visited is under a spin_trylock of its mm's page_table_lock, as in
 * objrmap (locks.ts has the order).
 *
 * A walk (page_referenced_anon, try_to_unmap_anon) locks the head, tries the
 * indicated mm first at page->index, then every other mm of the group in list
 * order from there (skipping exited mms and mms with no rss), and stops once
 * it has found mapcount ptes. try_to_unmap_one has no vma: it calls find_vma
 * for the VM_LOCKED test. page_referenced moves a page whose indicated mm has
 * exited onto the first mm that still maps it (the anonmm of the dead mm can
 * then be freed).
 *
 * File pages go through objrmap's code unchanged (the file half of rmap 10 is
 * the same object-based walk with a bare mapcount): every page operation here
 * hands a non-anonymous page to objrmap.ts.
 *
 * Kept from the -aa semantics the rest of the model follows, so that a
 * process sees the same outcomes under every design: try_to_unmap_one unmaps
 * a young pte (rmap 10 answered SWAP_FAIL there), and an anonymous page not in
 * the swap cache is SWAP_AGAIN without a walk.
 */

import type { PtePtr } from '../../arch/mmu.js'
import { PS } from '../../arch/percpu.js'
import type { Cpu } from '../../cpu.js'
import { KernelBugError } from '../../errors.js'
import { setPageDirty } from '../../filemap.js'
import { LOCK, pageTableTrylock, pageTableUnlock } from '../../locks.js'
import type { Machine } from '../../machine.js'
import { PG } from '../../mm/page.js'
import { type Mm, VM, type Vma } from '../../mm/vma.js'
import { NO_PTE, pteUnmap } from '../../pgtable.js'
import { setSwapPte } from '../../swapfile.js'
import { findPte, objrmapPageOps } from '../objrmap/objrmap.js'
import type { RmapStrategy, SwapResult } from '../strategy.js'

const WHERE = 'mm/rmap.c'
const PAGE = 4096

function bug(invariant: string, fn: string, detail?: string): never {
  throw new KernelBugError(invariant, `${WHERE} ${fn}`, detail)
}

/** `struct anonmm` (mm/rmap.c of rmap 10). */
export class Anonmm {
  /** Object id, stored in page->mapping of its pages. */
  readonly id: number
  /** `count`: 1 for the mm while it lives, 1 per page naming this anonmm; a head also 1 for itself and 1 per member. */
  count: number
  /** `mm`: the mm, null once it exited. */
  mm: Mm | null
  /** `head`: the group leader (itself for a head). */
  head: Anonmm
  /**
   * On a head: the group's circular `list` in list order, the head first
   * (list_add_tail appends each fork). Empty on a member.
   */
  readonly ring: Anonmm[] = []
  constructor(id: number, mm: Mm, head: Anonmm | null, count: number) {
    this.id = id
    this.mm = mm
    this.head = head ?? this
    this.count = count
    if (!head) this.ring.push(this)
  }
}

/** The anonmm page->mapping of `pfn` names, or a BUG. */
function anonmmOf(m: Machine, pfn: number, fn: string): Anonmm {
  const obj = m.objects.get(m.frames.mapping[pfn]!)
  if (!obj || !('ring' in obj)) bug('an anonymous page names an anonmm', fn, `pfn ${pfn}`)
  return obj
}

// --- per-mm bookkeeping (called from kernel/fork.c in rmap 10) ---------------

/**
 * `spin_lock(&anonhd->lock)`: the group head's lock, modelled (owner, lock
 * order) only under the explorer, like objrmap's anon_vma lock.
 */
function anonmmLock(m: Machine, c: Cpu, head: Anonmm): void {
  if (m.smp !== null) m.smp.locks.acquire(c.id, LOCK.anonmm_lock, head.id)
}

/** `spin_unlock(&anonhd->lock)`. */
function anonmmUnlock(m: Machine, c: Cpu, head: Anonmm): void {
  if (m.smp !== null) m.smp.locks.release(c.id, LOCK.anonmm_lock, head.id)
}

/** `exec_rmap(mm)` (from mm_alloc): a new head, count 2 (the mm and the head itself). */
export function execRmap(m: Machine, _c: Cpu, mm: Mm): void {
  const a = new Anonmm(m.newObjectId(), mm, null, 2)
  m.objects.set(a.id, a)
  mm.anonmm = a
}

/** `dup_rmap(child, parent)` (from copy_mm): the child's anonmm, count 1, appended to the head's list. */
export function dupRmap(m: Machine, c: Cpu, child: Mm, parent: Mm): void {
  const parentAnonmm = parent.anonmm
  if (!parentAnonmm) bug('dup_rmap: the parent mm has an anonmm', 'dup_rmap')
  const head = parentAnonmm.head
  // rss is reset first so the walks skip the child until it has pages.
  child.rss = 0
  const a = new Anonmm(m.newObjectId(), child, head, 1)
  anonmmLock(m, c, head)
  head.count++
  head.ring.push(a)
  anonmmUnlock(m, c, head)
  m.objects.set(a.id, a)
  child.anonmm = a
}

/** `free_anonmm`: the last page reference of an exited member is gone. */
function freeAnonmm(m: Machine, c: Cpu, a: Anonmm): void {
  const head = a.head
  if (a.mm) bug('free_anonmm: the anonmm has no mm', 'free_anonmm', `anonmm ${a.id}`)
  if (a === head) bug('free_anonmm: a head is never freed through the member path', 'free_anonmm')
  anonmmLock(m, c, head)
  try {
    ringDel(head, a)
    if (--head.count === 0) bug('free_anonmm: the head count never hits 0 via a member', 'free_anonmm')
  } finally {
    anonmmUnlock(m, c, head)
  }
  m.objects.delete(a.id)
}

function ringDel(head: Anonmm, a: Anonmm): void {
  const i = head.ring.indexOf(a)
  if (i < 0) bug("an anonmm being freed is on its head's list", 'list_del', `anonmm ${a.id}`)
  head.ring.splice(i, 1)
}

/** `exit_rmap(mm)` (from mmput, after exit_mmap): mm NULL, drop the mm's reference, free what nothing holds. */
export function exitRmap(m: Machine, c: Cpu, mm: Mm): void {
  const a = mm.anonmm
  if (!a) return
  const head = a.head
  mm.anonmm = null
  anonmmLock(m, c, head)
  let headCount: number
  try {
    a.mm = null
    if (--a.count === 0) {
      if (a === head) bug('exit_rmap: a head is never freed through the member path', 'exit_rmap')
      ringDel(head, a)
      m.objects.delete(a.id)
      if (--head.count === 0) bug('exit_rmap: the head count never hits 0 via a member', 'exit_rmap')
    }
    // The head's count read under the lock (Hugh's exit_rmap fix of May 2004).
    headCount = head.count
  } finally {
    anonmmUnlock(m, c, head)
  }
  if (headCount === 1) {
    if (head.mm) bug('exit_rmap: a freed head has no mm', 'exit_rmap', `anonmm ${head.id}`)
    if (head.ring.length !== 1)
      bug('exit_rmap: a freed head has an empty list', 'exit_rmap', `anonmm ${head.id}`)
    head.ring.length = 0
    m.objects.delete(head.id)
  }
}

/** `clear_page_anon(page)`: the page leaves its anonmm (mapcount reached 0). */
function clearPageAnon(m: Machine, c: Cpu, pfn: number): void {
  const a = anonmmOf(m, pfn, 'clear_page_anon')
  m.frames.mapping[pfn] = -1
  m.frames.clear(pfn, PG.anon)
  if (--a.count === 0) freeAnonmm(m, c, a)
}

// --- walks ------------------------------------------------------------------

function untracked(m: Machine, pfn: number): boolean {
  return pfn < 0 || pfn >= m.frames.n || m.frames.test(pfn, PG.reserved)
}

/**
 * The mms a walk of a page tries, in order: the indicated anonmm, then the
 * rest of its group's circular list from there (list_for_each_entry from the
 * indicated anonmm's node, which passes through the head).
 */
export function walkOrder(a: Anonmm): Anonmm[] {
  const ring = a.head.ring
  const i = ring.indexOf(a)
  if (i < 0) return [a]
  const out = [a]
  for (let k = 1; k < ring.length; k++) out.push(ring[(i + k) % ring.length]!)
  return out
}

/** `page_referenced_one(page, mm, address, &mapcount, &failed)`. */
function pageReferencedOne(m: Machine, c: Cpu, pfn: number, mm: Mm, address: number, left: AnonWalk): number {
  const ctr = m.counters.rmap
  ctr.mmsVisited++
  if (!pageTableTrylock(m, c, mm)) {
    ctr.trylockFailures++
    return 0
  }
  try {
    const ptr = findPte(m, c, mm, pfn, address)
    if (ptr === NO_PTE) return 0
    const young = m.env.mmu.ptepTestAndClearYoung(ptr, c.id) ? 1 : 0
    left.n--
    pteUnmap(m.env, ptr, c.id)
    return young
  } finally {
    pageTableUnlock(m, c, mm)
  }
}

/**
 * `page_referenced_anon(page)`: the indicated mm, then the group, until
 * mapcount ptes were found; a page whose indicated mm exited moves to the
 * first mm found mapping it (the "migrate" step of rmap 10).
 */
function pageReferencedAnon(m: Machine, c: Cpu, pfn: number): number {
  const fr = m.frames
  const a = anonmmOf(m, pfn, 'page_referenced_anon')
  const head = a.head
  const walk: AnonWalk = { n: fr.mapcount[pfn]!, moveTo: null }
  anonmmLock(m, c, head)
  let referenced: number
  try {
    referenced = referencedAnonLocked(m, c, pfn, a, walk)
  } finally {
    anonmmUnlock(m, c, head)
  }
  // rmap 10 drops the head's lock before migrating (free_anonmm retakes it).
  if (walk.moveTo !== null) migrate(m, c, pfn, a, walk.moveTo)
  return referenced
}

/** What a walk of the group tracks: ptes still to find, and where to migrate the page. */
interface AnonWalk {
  n: number
  moveTo: Anonmm | null
}

/** The walk of {@link pageReferencedAnon}, the head's lock held. */
function referencedAnonLocked(m: Machine, c: Cpu, pfn: number, a: Anonmm, left: AnonWalk): number {
  const fr = m.frames
  const address = fr.index[pfn]! * PAGE
  let referenced = 0
  let target: Anonmm | null = a
  if (!a.mm) target = null
  else if (a.mm.rss > 0) {
    referenced += pageReferencedOne(m, c, pfn, a.mm, address, left)
    if (left.n === 0) return referenced
  }
  // walkOrder(a) without building it: no array of the group per walk.
  const ring = a.head.ring
  const len = ring.length
  const at = ring.indexOf(a)
  for (let k = 1, j = at + 1; at >= 0 && k < len; k++, j++) {
    if (j === len) j = 0
    const other = ring[j]!
    if (!other.mm || other.mm.rss === 0) continue
    referenced += pageReferencedOne(m, c, pfn, other.mm, address, left)
    if (!target && left.n < fr.mapcount[pfn]!) target = other
    if (left.n === 0) {
      if (target !== a && target) left.moveTo = target
      return referenced
    }
  }
  return referenced
}

/** Move page `pfn` from the anonmm of an exited mm onto `to`. */
function migrate(m: Machine, c: Cpu, pfn: number, from: Anonmm, to: Anonmm): void {
  m.frames.mapping[pfn] = to.id
  to.count++
  m.counters.rmap.anonmmMigrations++
  if (--from.count === 0) freeAnonmm(m, c, from)
}

/**
 * `try_to_unmap_one(page, mm, address, &mapcount, NULL)` for an anonymous
 * page: the pte at page->index in `mm`, then find_vma for its vma (VM_LOCKED
 * is SWAP_FAIL); the pte becomes the page's swap entry. page->mapping is left
 * to try_to_unmap (clear_page_anon), nr_mapped too.
 */
function tryToUnmapOne(
  m: Machine,
  c: Cpu,
  pfn: number,
  mm: Mm,
  address: number,
  left: { n: number },
): SwapResult {
  const ctr = m.counters.rmap
  ctr.mmsVisited++
  if (!pageTableTrylock(m, c, mm)) {
    ctr.trylockFailures++
    return 'SWAP_AGAIN'
  }
  try {
    return tryToUnmapOneLocked(m, c, pfn, mm, address, left)
  } finally {
    pageTableUnlock(m, c, mm)
  }
}

/** The body of {@link tryToUnmapOne}, with `mm`'s page_table_lock held. */
function tryToUnmapOneLocked(
  m: Machine,
  c: Cpu,
  pfn: number,
  mm: Mm,
  address: number,
  left: { n: number },
): SwapResult {
  const ctr = m.counters.rmap
  const f = m.frames
  const ptr = findPte(m, c, mm, pfn, address)
  if (ptr === NO_PTE) return 'SWAP_AGAIN'
  try {
    left.n--
    ctr.findVmaCalls++
    const vma = mm.findVma(address)
    if (!vma || vma.start > address) return 'SWAP_AGAIN'
    ctr.vmasVisited++
    if (vma.flags & VM.RESERVED) bug('try_to_unmap_one on a VM_RESERVED vma', 'try_to_unmap_one')
    if (vma.flags & VM.LOCKED) return 'SWAP_FAIL'
    const mmu = m.env.mmu
    const lo = mmu.ptepGetAndClear(ptr, c.id)
    mmu.flushTlbPage(mm.id, address, c.id)
    if (!f.test(pfn, PG.swapcache))
      bug('try_to_unmap_one: an anon page being unmapped is swapcache', 'try_to_unmap_one')
    setSwapPte(m, c, ptr, pfn, WHERE)
    if (lo & m.fast.DIRTY) setPageDirty(m, c, pfn)
    mm.rss--
    if (f.mapcount[pfn] === 0) bug('try_to_unmap_one: mapcount > 0 before the decrement', 'try_to_unmap_one')
    f.mapcount[pfn]!--
    m.putPage(pfn)
    return 'SWAP_AGAIN'
  } finally {
    pteUnmap(m.env, ptr, c.id)
  }
}

function countResult(m: Machine, r: SwapResult): SwapResult {
  const ctr = m.counters.rmap
  if (r === 'SWAP_SUCCESS') ctr.swapSuccess++
  else if (r === 'SWAP_AGAIN') ctr.swapAgain++
  else ctr.swapFail++
  return r
}

/** `try_to_unmap_anon(page)`: the indicated mm, then the group, until SWAP_FAIL or mapcount ptes unmapped. */
function tryToUnmapAnon(m: Machine, c: Cpu, pfn: number): SwapResult {
  const a = anonmmOf(m, pfn, 'try_to_unmap_anon')
  const head = a.head
  anonmmLock(m, c, head)
  try {
    return unmapAnonLocked(m, c, pfn, a)
  } finally {
    anonmmUnlock(m, c, head)
  }
}

/** The walk of {@link tryToUnmapAnon}, the head's lock held. */
function unmapAnonLocked(m: Machine, c: Cpu, pfn: number, a: Anonmm): SwapResult {
  const fr = m.frames
  const address = fr.index[pfn]! * PAGE
  const left = { n: fr.mapcount[pfn]! }
  let ret: SwapResult = 'SWAP_AGAIN'
  // walkOrder(a) without building it: no array of the group per walk.
  const ring = a.head.ring
  const len = ring.length
  const at = ring.indexOf(a)
  const n = at < 0 ? 1 : len
  for (let k = 0, j = at; k < n; k++, j++) {
    if (j === len) j = 0
    const mm = (at < 0 ? a : ring[j]!).mm
    if (!mm || mm.rss === 0) continue
    ret = tryToUnmapOne(m, c, pfn, mm, address, left)
    if (ret === 'SWAP_FAIL' || left.n === 0) break
  }
  return ret
}

// --- the page operations ----------------------------------------------------

/** The page operations of rmap 10/11's mm/rmap.c; file pages go to objrmap's. */
export const anonmmPageOps = {
  /** `page_add_anon_rmap(page, mm, address)`, or objrmap's page_add_rmap for a file page. */
  pageAddRmap(m: Machine, c: Cpu, pfn: number, vma: Vma, address: number, ptep: PtePtr, anon: boolean): void {
    if (!anon) {
      objrmapPageOps.pageAddRmap(m, c, pfn, vma, address, ptep, false)
      return
    }
    const f = m.frames
    if (untracked(m, pfn)) bug('page_add_anon_rmap of a reserved page', 'page_add_anon_rmap', `pfn ${pfn}`)
    if (vma.flags & VM.RESERVED) bug('page_add_rmap on a VM_RESERVED vma', 'page_add_anon_rmap')
    const anonmm = vma.mm.anonmm
    if (!anonmm) bug('page_add_anon_rmap: the mm has an anonmm', 'page_add_anon_rmap', `pfn ${pfn}`)
    m.counters.rmap.pageAddRmap++
    pageMapLock(m, c, pfn)
    if (f.mapcount[pfn] === 0) {
      if (f.mapping[pfn] !== -1)
        bug('page_add_anon_rmap: a first anon mapping finds no mapping', 'page_add_anon_rmap', `pfn ${pfn}`)
      f.set(pfn, PG.anon)
      f.index[pfn] = Math.floor(address / PAGE)
      f.mapping[pfn] = anonmm.id
      anonmm.count++
      m.env.pageState.inc(c.id, PS.nr_mapped)
    } else if (!f.test(pfn, PG.anon)) {
      bug('a file page added as an anonymous mapping', 'page_add_anon_rmap', `pfn ${pfn}`)
    }
    f.mapcount[pfn]!++
    pageMapUnlock(m, c, pfn)
  },

  /** `page_dup_rmap` for copy_page_range: mapcount++ of an anonymous page (objrmap's step for a file page). */
  pageDupRmap(m: Machine, c: Cpu, pfn: number, child: Vma, address: number, ptep: PtePtr): void {
    const f = m.frames
    if (!f.test(pfn, PG.anon)) {
      objrmapPageOps.pageDupRmap(m, c, pfn, child, address, ptep)
      return
    }
    if (f.mapcount[pfn] === 0)
      throw new KernelBugError(
        'copy_page_range: a present page in a non-VM_RESERVED vma is mapped and has a mapping',
        'mm/memory.c copy_page_range',
        `pfn ${pfn}`,
      )
    m.counters.rmap.pageAddRmap++
    pageMapLock(m, c, pfn)
    f.mapcount[pfn]!++
    pageMapUnlock(m, c, pfn)
  },

  /**
   * `page_remove_rmap(page)`: mapcount--; at 0, clear_page_anon and nr_mapped--.
   * rmap 10's BUG_ON(!page->mapcount) comes first, for a file page as for an
   * anonymous one: the -aa objrmap code the file half is handed to returns
   * quietly on an unmapped page instead.
   */
  pageRemoveRmap(m: Machine, c: Cpu, pfn: number, ptep: PtePtr): void {
    const f = m.frames
    if (untracked(m, pfn)) return
    if (f.mapcount[pfn] === 0) bug('page_remove_rmap: the page is mapped', 'page_remove_rmap', `pfn ${pfn}`)
    if (!f.test(pfn, PG.anon)) {
      objrmapPageOps.pageRemoveRmap(m, c, pfn, ptep)
      return
    }
    m.counters.rmap.pageRemoveRmap++
    pageMapLock(m, c, pfn)
    if (--f.mapcount[pfn]! === 0) {
      clearPageAnon(m, c, pfn)
      m.env.pageState.dec(c.id, PS.nr_mapped)
    }
    pageMapUnlock(m, c, pfn)
  },

  pageMapLock,
  pageMapUnlock,

  /** `page_referenced(page)`: PG_referenced, then page_referenced_anon or objrmap's file walk. */
  pageReferenced(m: Machine, c: Cpu, pfn: number): number {
    const f = m.frames
    if (!f.test(pfn, PG.anon)) return objrmapPageOps.pageReferenced(m, c, pfn)
    const ctr = m.counters.rmap
    ctr.pageReferencedCalls++
    let referenced = 0
    if (f.test(pfn, PG.referenced)) {
      f.clear(pfn, PG.referenced)
      referenced++
    }
    if (f.mapcount[pfn] === 0) return referenced
    referenced += pageReferencedAnon(m, c, pfn)
    ctr.pageReferencedFound += referenced
    return referenced
  },

  /** `try_to_unmap(page)`: try_to_unmap_anon or objrmap's file walk; at mapcount 0, clear_page_anon. */
  tryToUnmap(m: Machine, c: Cpu, pfn: number): SwapResult {
    const f = m.frames
    if (!f.test(pfn, PG.anon)) return objrmapPageOps.tryToUnmap(m, c, pfn)
    m.counters.rmap.tryToUnmapCalls++
    if (f.test(pfn, PG.reserved)) bug('try_to_unmap of a reserved page', 'try_to_unmap')
    if (!f.test(pfn, PG.locked)) bug('try_to_unmap of an unlocked page', 'try_to_unmap')
    if (f.mapcount[pfn] === 0) bug('try_to_unmap: mapcount > 0', 'try_to_unmap', `pfn ${pfn}`)
    // An anon page must be in the swap cache first: there is nowhere else to put it.
    if (!f.test(pfn, PG.swapcache)) return countResult(m, 'SWAP_AGAIN')
    let ret = tryToUnmapAnon(m, c, pfn)
    if (f.mapcount[pfn] === 0) {
      clearPageAnon(m, c, pfn)
      m.env.pageState.dec(c.id, PS.nr_mapped)
      ret = 'SWAP_SUCCESS'
    }
    return countResult(m, ret)
  },

  /**
   * rmap 11's `mremap_move_anon_rmap(page, address)` for can_move_one_pte: an
   * anonymous page only this pte maps takes the new address as page->index;
   * one shared with another mm cannot move (its copy must be taken first).
   * File pages move freely.
   */
  canMoveOnePte(m: Machine, c: Cpu, pfn: number, _mm: Mm, newAddr: number): boolean {
    const f = m.frames
    if (!f.test(pfn, PG.anon)) return true
    if (f.mapcount[pfn] !== 1) return false
    pageMapLock(m, c, pfn)
    f.index[pfn] = Math.floor(newAddr / PAGE)
    pageMapUnlock(m, c, pfn)
    return true
  },

  /** rmap 11's `mremap_moved_anon_rmap(page, address)`: page->index names another address. */
  swapInMustCopy(m: Machine, pfn: number, address: number): boolean {
    return m.frames.test(pfn, PG.anon) && m.frames.index[pfn] !== Math.floor(address / PAGE)
  },
} satisfies Partial<RmapStrategy>

/** `page_map_lock` (rmap 10 renamed pte_chain_lock to rmap_lock, PG_maplock): objrmap's bit spinlock. */
function pageMapLock(m: Machine, c: Cpu, pfn: number): void {
  objrmapPageOps.pageMapLock(m, c, pfn)
}

function pageMapUnlock(m: Machine, c: Cpu, pfn: number): void {
  objrmapPageOps.pageMapUnlock(m, c, pfn)
}
