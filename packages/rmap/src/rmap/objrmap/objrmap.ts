/**
 * Strategy B: the -aa objrmap + anon_vma reverse mapping (docs/designs.md#objrmap-and-anon_vma), as fixed in the "Re: 2.6.5-rc1-aa1" thread.
 *
 * A page carries no list of ptes. A file page is found through its
 * address_space's `i_mmap` (private) and `i_mmap_shared` vmas; an anonymous page
 * through the anon_vma list of the vma that first mapped it. In both cases the
 * pte's address in a vma is computed: vm_start + (page->index - vm_pgoff) *
 * PAGE_SIZE, which is why the anonymous vm_pgoff must survive mremap.
 *
 * PG_anon is set and cleared only under page_map_lock, on the mapcount 0→1 and
 * 1→0 transitions, from the `anon` argument the caller passes: the fix for the
 * race Andrea found after hours of swap stress (docs/designs.md#invariants, "The PG_anon race").
 *
 * Nonlinear vmas (remap_file_pages): the walk looks only at the linear address
 * of page->index in each vma, so a pte a VM_NONLINEAR vma holds elsewhere is
 * never found. What happens then is the machine's `nonlinearReclaim` option:
 *
 * - `'aa-none'` (the -aa tree): page_referenced does not see its young bit and
 *   try_to_unmap leaves it mapped (SWAP_AGAIN while mapcount stays above 0):
 *   such pages are in effect locked (see fremap.ts). The "nonlinear pte
 *   becomes a file pte" branch of try_to_unmap_one cannot fire either.
 * - `'2.6.7-cluster'` (the default, as 2.6.7): nonlinear vmas count as being
 *   on `i_mmap_nonlinear` rather than `i_mmap_shared`, so page_referenced and
 *   the linear walk of try_to_unmap skip them; once the linear walk is done and
 *   the page is still mapped, {@link tryToUnmapNonlinear} ages and unmaps
 *   clusters of ptes in every nonlinear vma of the file (docs/designs.md#what-267-merged).
 */

import type { PtePtr } from '../../arch/mmu.js'
import { PS } from '../../arch/percpu.js'
import { BUG } from '../../bugs.js'
import type { Cpu } from '../../cpu.js'
import { KernelBugError } from '../../errors.js'
import {
  type AddressSpace,
  downISharedSem,
  downTrylockISharedSem,
  setPageDirty,
  upISharedSem,
} from '../../filemap.js'
import { LOCK, pageTableTrylock, pageTableUnlock } from '../../locks.js'
import type { Machine } from '../../machine.js'
import { PG } from '../../mm/page.js'
import { AnonVma, type Mm, VM, type Vma } from '../../mm/vma.js'
import { lookupPte, NO_PTE, pteOffsetMap, pteUnmap, pteWordOffset } from '../../pgtable.js'
import { setSwapPte } from '../../swapfile.js'
import type { RmapStrategy, SwapResult } from '../strategy.js'

const WHERE = 'mm/objrmap.c'

function bug(invariant: string, fn: string, detail?: string): never {
  throw new KernelBugError(invariant, `${WHERE} ${fn}`, detail)
}

/**
 * `page_map_lock`: the PG_maplock bit spinlock. On a sequential machine
 * finding it held is a bug (self-deadlock); under the explorer (`m.smp`) the
 * owner table decides: held by another cpu means wait (locks.ts).
 */
export function pageMapLock(m: Machine, c: Cpu, pfn: number): void {
  if (m.smp !== null) m.smp.locks.acquire(c.id, LOCK.page_map_lock, pfn)
  if (m.frames.testAndSet(pfn, PG.maplock))
    bug('page_map_lock: PG_maplock already held (self-deadlock)', 'page_map_lock', `pfn ${pfn}`)
}

/** `page_map_unlock`. */
export function pageMapUnlock(m: Machine, c: Cpu, pfn: number): void {
  if (!m.frames.test(pfn, PG.maplock))
    bug('page_map_unlock: PG_maplock not held', 'page_map_unlock', `pfn ${pfn}`)
  if (m.smp !== null) m.smp.locks.release(c.id, LOCK.page_map_lock, pfn)
  m.frames.clear(pfn, PG.maplock)
}

/** True for a pfn the rmap ignores: invalid or PageReserved (ZERO_PAGE among them). */
function untracked(m: Machine, pfn: number): boolean {
  return pfn < 0 || pfn >= m.frames.n || m.frames.test(pfn, PG.reserved)
}

/**
 * The user address of linear index `index` in `vma`, or -1 when it falls outside
 * the vma (`find_pte`'s range check).
 */
function vmaAddress(vma: Vma, index: number): number {
  const address = vma.addressOf(index)
  return address >= vma.start && address < vma.end ? address : -1
}

/**
 * `find_pte` + the check that the pte of `mm` at `address` maps `pfn`: the pte
 * location mapped with KM_PTE0 (caller unmaps), or NO_PTE. Counts the probe.
 * anonmm's walk probes the same way.
 */
export function findPte(m: Machine, c: Cpu, mm: Mm, pfn: number, address: number): number {
  m.counters.rmap.ptesProbed++
  const ptr = pteOffsetMap(m.env, mm.id, address, c.id)
  if (ptr === NO_PTE) return NO_PTE
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  const lo = w[at]!
  const hi = m.fast.words === 2 ? w[at + 1]! : 0
  if (!m.fast.present(lo, hi) || m.fast.pfn(lo, hi) !== pfn) {
    pteUnmap(m.env, ptr, c.id)
    return NO_PTE
  }
  return ptr
}

/**
 * The object a mapped page's walk locks: its anon_vma (spin_lock) or its
 * address_space (down_trylock of i_shared_sem).
 */
function rmapObject(m: Machine, pfn: number): AnonVma | AddressSpace {
  const obj = m.objects.get(m.frames.mapping[pfn]!)
  if (!obj) bug('a mapped page has a mapping', 'rmap walk', `pfn ${pfn}`)
  if (obj instanceof AnonVma || 'iMmap' in obj) return obj
  return bug('a mapped page has a mapping', 'rmap walk', `pfn ${pfn}: not an anon_vma or address_space`)
}

/**
 * Lock what a mapped page's walk goes through: the anon_vma lock
 * (page_referenced_anon, try_to_unmap_anon take it blocking, inside
 * page_map_lock), or a down_trylock of i_shared_sem (page_referenced_inode,
 * try_to_unmap_inode). False when the trylock failed; the walk does not run.
 */
function rmapLock(m: Machine, c: Cpu, obj: AnonVma | AddressSpace): boolean {
  if (obj instanceof AnonVma) {
    anonVmaLock(m, c, obj)
    return true
  }
  return downTrylockISharedSem(m, c, obj)
}

/** Release what {@link rmapLock} took. */
function rmapUnlock(m: Machine, c: Cpu, obj: AnonVma | AddressSpace): void {
  if (obj instanceof AnonVma) anonVmaUnlock(m, c, obj)
  else upISharedSem(m, c, obj)
}

/**
 * The walk of page_referenced_inode / page_referenced_anon (the object
 * locked): page_referenced_one on every vma. `skipNonlinear`: 2.6.7's
 * nonlinear vmas are on i_mmap_nonlinear, which page_referenced_file does not
 * walk.
 */
function referencedWalk(m: Machine, c: Cpu, pfn: number, skipNonlinear: boolean): number {
  const ctr = m.counters.rmap
  const index = m.frames.index[pfn]!
  let referenced = 0
  for (const vma of rmapVmas(m, pfn)) {
    if (skipNonlinear && vma.flags & VM.NONLINEAR) continue
    ctr.vmasVisited++
    referenced += pageReferencedOne(m, c, vma, pfn, index)
    // -aa does not stop when mapcount is exhausted (2.6.7 does).
  }
  return referenced
}

/**
 * `page_referenced_one(vma, page)`: spin_trylock(page_table_lock), or count
 * 0; the young bit of the pte find_pte finds, tested and cleared; spin_unlock.
 */
function pageReferencedOne(m: Machine, c: Cpu, vma: Vma, pfn: number, index: number): number {
  const mm = vma.mm
  if (!pageTableTrylock(m, c, mm)) {
    m.counters.rmap.trylockFailures++
    return 0
  }
  try {
    const address = vmaAddress(vma, index)
    if (address < 0) return 0
    const ptr = findPte(m, c, mm, pfn, address)
    if (ptr === NO_PTE) return 0
    const young = m.env.mmu.ptepTestAndClearYoung(ptr, c.id) ? 1 : 0
    pteUnmap(m.env, ptr, c.id)
    return young
  } finally {
    pageTableUnlock(m, c, mm)
  }
}

/**
 * The walk of try_to_unmap_inode / try_to_unmap_anon (the object locked):
 * try_to_unmap_one on every vma until SWAP_FAIL or the page is unmapped;
 * with 2.6.7's `cluster` rule the nonlinear vmas of a file go through
 * try_to_unmap_nonlinear after the linear ones.
 */
function unmapWalk(
  m: Machine,
  c: Cpu,
  pfn: number,
  obj: AnonVma | AddressSpace,
  cluster: boolean,
): SwapResult {
  const ctr = m.counters.rmap
  const f = m.frames
  let ret: SwapResult = 'SWAP_AGAIN'
  let nonlinear = false
  for (const vma of rmapVmas(m, pfn)) {
    // 2.6.7: nonlinear vmas are on i_mmap_nonlinear, not in the linear walk.
    if (cluster && vma.flags & VM.NONLINEAR) {
      nonlinear = true
      continue
    }
    ctr.vmasVisited++
    ret = tryToUnmapOne(m, c, vma, pfn)
    if (ret === 'SWAP_FAIL' || f.mapcount[pfn] === 0) break
  }
  if (nonlinear && ret !== 'SWAP_FAIL' && f.mapcount[pfn]! > 0 && !(obj instanceof AnonVma))
    ret = tryToUnmapNonlinear(m, c, obj, pfn)
  return ret
}

/** The vmas objrmap walks for a mapped page: the anon_vma list, or i_mmap then i_mmap_shared. */
function rmapVmas(m: Machine, pfn: number): readonly Vma[] {
  const obj = m.objects.get(m.frames.mapping[pfn]!)
  if (!obj) bug('a mapped page has a mapping', 'rmap walk', `pfn ${pfn}`)
  if (m.frames.test(pfn, PG.anon)) {
    if (!('vmas' in obj)) bug('PageAnon page whose mapping is not an anon_vma', 'rmap walk', `pfn ${pfn}`)
    if (obj.vmas.length === 0)
      bug('anon_vma list of a mapped anon page is empty', 'page_referenced_anon', `pfn ${pfn}`)
    return obj.vmas
  }
  if (!('iMmap' in obj)) bug('file page whose mapping is not an address_space', 'rmap walk', `pfn ${pfn}`)
  return obj.iMmap.length === 0
    ? obj.iMmapShared
    : obj.iMmapShared.length === 0
      ? obj.iMmap
      : [...obj.iMmap, ...obj.iMmapShared]
}

/**
 * The page operations of mm/objrmap.c. The pte location the interface passes
 * is not needed: objrmap finds ptes from the vmas.
 */
export const objrmapPageOps = {
  pageAddRmap(
    m: Machine,
    c: Cpu,
    pfn: number,
    vma: Vma,
    address: number,
    _ptep: PtePtr,
    anon: boolean,
  ): void {
    const f = m.frames
    if (untracked(m, pfn)) return
    if (vma.flags & VM.RESERVED) bug('page_add_rmap on a VM_RESERVED vma', 'page_add_rmap')
    m.counters.rmap.pageAddRmap++
    pageMapLock(m, c, pfn)
    // The 2.6.5-rc1-aa1 page_add_rmap had no `anon` argument: its callers set
    // PG_anon before calling, outside the lock, and it read the flag.
    if (m.bugs & BUG.pgAnonRace) anon = f.test(pfn, PG.anon)
    if (anon && !f.test(pfn, PG.anon)) f.set(pfn, PG.anon)
    if (!anon && f.test(pfn, PG.anon))
      bug('a PageAnon page added as a file mapping', 'page_add_rmap', `pfn ${pfn}`)
    if (++f.mapcount[pfn]! === 1) m.env.pageState.inc(c.id, PS.nr_mapped)
    if (f.test(pfn, PG.anon)) {
      // anon_vma_page_link
      const index = vma.linearIndex(address)
      if (!vma.anonVma) bug('anon_vma_page_link: the vma has an anon_vma', 'anon_vma_page_link', `pfn ${pfn}`)
      if (f.mapcount[pfn] === 1) {
        if (f.mapping[pfn] !== -1)
          bug('first anon mapping of a page that already has a mapping', 'anon_vma_page_link')
        f.index[pfn] = index
        f.mapping[pfn] = vma.anonVma.id
      } else if (f.mapping[pfn] !== vma.anonVma.id || f.index[pfn] !== index) {
        bug(
          'a later anon mapping agrees with page->mapping and page->index',
          'anon_vma_page_link',
          `pfn ${pfn}: page (${f.mapping[pfn]}, ${f.index[pfn]}) vs vma (${vma.anonVma.id}, ${index})`,
        )
      }
    } else {
      // 2.6.5-rc1-aa1 tested the mapping first (the BUG_ON at mm/objrmap.c:271); the fix swapped the two.
      if (m.bugs & BUG.pgAnonRace && f.mapping[pfn] === -1)
        bug('file page_add_rmap of a page without mapping', 'page_add_rmap', `pfn ${pfn} (mm/objrmap.c:271)`)
      if (f.test(pfn, PG.swapcache)) bug('file page_add_rmap of a swapcache page', 'page_add_rmap')
      if (f.mapping[pfn] === -1) bug('file page_add_rmap of a page without mapping', 'page_add_rmap')
    }
    pageMapUnlock(m, c, pfn)
  },

  /**
   * `page_remove_rmap(page)` of the -aa tree: an unmapped page (mapcount 0) is
   * left alone under page_map_lock, with no BUG — mm/objrmap.c keeps 2.6.4's
   * `if (!page_mapped(page)) goto out_unlock`. Mainline's BUG_ON(!page->mapcount)
   * came with "rmap 10 add anonmm rmap" (06e0ee4abf); the anonmm design has it.
   */
  pageRemoveRmap(m: Machine, c: Cpu, pfn: number, _ptep: PtePtr): void {
    const f = m.frames
    if (untracked(m, pfn)) return
    m.counters.rmap.pageRemoveRmap++
    // A page that stays mapped, on a sequential machine: nobody can see
    // page_map_lock between its lock and unlock, so when the checks hold the
    // call comes down to mapcount-- (zap's hot path: exit of a fork child).
    if (m.smp === null && f.mapcount[pfn]! > 1 && !f.test(pfn, PG.maplock)) {
      const anon = f.test(pfn, PG.anon)
      if (anon ? f.mapping[pfn] !== -1 : f.mapping[pfn] !== -1 && !f.test(pfn, PG.swapcache)) {
        f.mapcount[pfn]!--
        return
      }
    }
    pageMapLock(m, c, pfn)
    if (f.mapcount[pfn]! > 0) {
      if (--f.mapcount[pfn]! === 0) m.env.pageState.dec(c.id, PS.nr_mapped)
      if (f.test(pfn, PG.anon)) {
        if (f.mapping[pfn] === -1)
          bug('anon_vma_page_unlink: the page still has its mapping', 'anon_vma_page_unlink')
        if (f.mapcount[pfn] === 0) {
          f.mapping[pfn] = -1
          if (m.bugs & BUG.pgAnonClearRace) {
            // The mirror race: PG_anon cleared after page_map_lock is dropped.
            pageMapUnlock(m, c, pfn)
            if (m.smp !== null) m.smp.preempt('page_remove_rmap:page_map_unlock→ClearPageAnon')
            f.clear(pfn, PG.anon)
            return
          }
          f.clear(pfn, PG.anon)
        }
      } else if (f.mapping[pfn] === -1 || f.test(pfn, PG.swapcache)) {
        bug('an unmapped file page has a mapping and is not swapcache', 'page_remove_rmap', `pfn ${pfn}`)
      }
    }
    pageMapUnlock(m, c, pfn)
  },

  pageReferenced(m: Machine, c: Cpu, pfn: number): number {
    const f = m.frames
    const ctr = m.counters.rmap
    ctr.pageReferencedCalls++
    // -aa: an unmapped page answers 0 before PG_referenced is looked at (and
    // keeps the bit); mainline 2.6.5's mm/rmap.c tests and clears it first.
    if (f.mapcount[pfn] === 0) return 0
    if (f.mapping[pfn] === -1) bug('a mapped page has a mapping', 'page_referenced', `pfn ${pfn}`)
    let referenced = 0
    if (f.test(pfn, PG.referenced)) {
      f.clear(pfn, PG.referenced)
      referenced++
    }
    const anon = f.test(pfn, PG.anon)
    if (!anon && f.test(pfn, PG.swapcache))
      bug('page_referenced_inode of a swapcache page', 'page_referenced_inode')
    const obj = rmapObject(m, pfn)
    // down_trylock(i_shared_sem): a failure counts as "not referenced" [TRYLOCK].
    if (!rmapLock(m, c, obj)) {
      ctr.trylockFailures++
      return referenced
    }
    try {
      referenced += referencedWalk(m, c, pfn, !anon && m.nonlinearReclaim === '2.6.7-cluster')
    } finally {
      rmapUnlock(m, c, obj)
    }
    ctr.pageReferencedFound += referenced
    return referenced
  },

  tryToUnmap(m: Machine, c: Cpu, pfn: number): SwapResult {
    const f = m.frames
    const ctr = m.counters.rmap
    ctr.tryToUnmapCalls++
    if (f.test(pfn, PG.reserved)) bug('try_to_unmap of a reserved page', 'try_to_unmap')
    if (!f.test(pfn, PG.locked)) bug('try_to_unmap of an unlocked page', 'try_to_unmap')
    if (f.mapping[pfn] === -1) bug('try_to_unmap of a page without mapping', 'try_to_unmap')
    const anon = f.test(pfn, PG.anon)
    if (anon) {
      // An anon page must be in the swap cache first: there is nowhere else to put it.
      if (!f.test(pfn, PG.swapcache)) return countResult(m, 'SWAP_AGAIN')
    } else if (f.test(pfn, PG.swapcache)) bug('try_to_unmap_inode of a swapcache page', 'try_to_unmap_inode')
    const obj = rmapObject(m, pfn)
    // try_to_unmap_anon: spin_lock(anon_vma); try_to_unmap_inode: down_trylock(i_shared_sem) or SWAP_AGAIN.
    if (!rmapLock(m, c, obj)) {
      ctr.trylockFailures++
      return countResult(m, 'SWAP_AGAIN')
    }
    let ret: SwapResult
    try {
      ret = unmapWalk(m, c, pfn, obj, !anon && m.nonlinearReclaim === '2.6.7-cluster')
    } finally {
      rmapUnlock(m, c, obj)
    }
    if (f.mapcount[pfn] === 0) {
      // -aa and 2.6.7 count nr_mapped down here, once, whoever unmapped the
      // last pte. With the linear walk alone that was try_to_unmap_one under
      // this page's page_map_lock; but 2.6.7's nonlinear half drops that lock
      // and its page_remove_rmap has already counted the page's 1→0 (so has a
      // racing zap's): 2.6.7 and 2.6.8 count it twice. The model counts the
      // transition where it happens (try_to_unmap_one, page_remove_rmap), as
      // 2.6.9 does since "rmaplock: kill page_map_lock" (f7f5e03df0);
      // `bugs: ['nonlinear-nr-mapped']` brings 2.6.7's count back.
      if (m.bugs & BUG.nonlinearNrMapped) m.env.pageState.dec(c.id, PS.nr_mapped)
      ret = 'SWAP_SUCCESS'
    }
    return countResult(m, ret)
  },

  /**
   * copy_page_range's step for a present page of a vma that is not
   * VM_RESERVED: the BUG_ON that -aa mm/memory.c has there (the page is
   * mapped and has a mapping: objrmap needs page->mapping to find the new
   * pte), then `page_add_rmap(page, vma, address, PageAnon(page))`, reading
   * PG_anon outside page_map_lock (safe: the parent's pte keeps it mapped).
   */
  pageDupRmap(m: Machine, c: Cpu, pfn: number, child: Vma, address: number, ptep: PtePtr): void {
    const fr = m.frames
    // The parent's pte was read; page_map_lock is not held for what follows.
    if (m.smp !== null) m.smp.preempt('copy_page_range:pte read→PageAnon')
    if (fr.mapcount[pfn] === 0 || fr.mapping[pfn] === -1) {
      throw new KernelBugError(
        'copy_page_range: a present page in a non-VM_RESERVED vma is mapped and has a mapping',
        'mm/memory.c copy_page_range',
        `pfn ${pfn}`,
      )
    }
    const anon = fr.test(pfn, PG.anon)
    // page_add_rmap of a page already mapped, on a sequential machine: no
    // 0→1 transition (no nr_mapped, no page->mapping to set), and nobody can
    // see page_map_lock between its lock and unlock, so when every check
    // holds the call comes down to the count and mapcount++ (fork's hot
    // path). Anything else, or the explorer, takes the whole page_add_rmap.
    if (
      m.smp === null &&
      !(child.flags & VM.RESERVED) &&
      !fr.test(pfn, PG.maplock) &&
      !fr.test(pfn, PG.reserved) &&
      (anon
        ? child.anonVma !== null &&
          fr.mapping[pfn] === child.anonVma.id &&
          fr.index[pfn] === child.linearIndex(address)
        : !fr.test(pfn, PG.swapcache))
    ) {
      m.counters.rmap.pageAddRmap++
      fr.mapcount[pfn]!++
      return
    }
    objrmapPageOps.pageAddRmap(m, c, pfn, child, address, ptep, anon)
  },

  pageMapLock,
  pageMapUnlock,
} satisfies Partial<RmapStrategy>

function countResult(m: Machine, r: SwapResult): SwapResult {
  const ctr = m.counters.rmap
  if (r === 'SWAP_SUCCESS') ctr.swapSuccess++
  else if (r === 'SWAP_AGAIN') ctr.swapAgain++
  else ctr.swapFail++
  return r
}

/**
 * `try_to_unmap_one(vma, page)`, page_map_lock held: on the last mapping it
 * also counts nr_mapped down (2.6.9's place for the count; with
 * `bugs: ['nonlinear-nr-mapped']` it is left to try_to_unmap, as -aa and
 * 2.6.7 do: see {@link objrmapPageOps}.tryToUnmap).
 */
function tryToUnmapOne(m: Machine, c: Cpu, vma: Vma, pfn: number): SwapResult {
  if (m.smp !== null) m.smp.preempt('try_to_unmap_one:entry')
  const mm = vma.mm
  if (!pageTableTrylock(m, c, mm)) {
    m.counters.rmap.trylockFailures++
    return 'SWAP_AGAIN'
  }
  try {
    return tryToUnmapOneLocked(m, c, vma, pfn)
  } finally {
    pageTableUnlock(m, c, mm)
  }
}

/** The body of {@link tryToUnmapOne}, with `vma`'s page_table_lock held. */
function tryToUnmapOneLocked(m: Machine, c: Cpu, vma: Vma, pfn: number): SwapResult {
  const f = m.frames
  const address = vmaAddress(vma, f.index[pfn]!)
  if (address < 0) return 'SWAP_AGAIN'
  const ptr = findPte(m, c, vma.mm, pfn, address)
  if (ptr === NO_PTE) return 'SWAP_AGAIN'
  try {
    if (vma.flags & VM.RESERVED) bug('try_to_unmap_one on a VM_RESERVED vma', 'try_to_unmap_one')
    if (vma.flags & VM.LOCKED) return 'SWAP_FAIL'
    const mmu = m.env.mmu
    const lo = mmu.ptepGetAndClear(ptr, c.id)
    mmu.flushTlbPage(vma.mm.id, address, c.id)
    if (f.test(pfn, PG.swapcache)) {
      // The pte now holds the page's swap entry, one more reference to its slot.
      setSwapPte(m, c, ptr, pfn, WHERE)
    }
    if (lo & m.fast.DIRTY) setPageDirty(m, c, pfn)
    if (f.mapcount[pfn] === 0) bug('try_to_unmap_one: mapcount > 0 before the decrement', 'try_to_unmap_one')
    vma.mm.rss--
    if (--f.mapcount[pfn]! === 0) {
      if (f.test(pfn, PG.anon)) {
        f.mapping[pfn] = -1
        f.clear(pfn, PG.anon)
      }
      // The 1→0 transition is counted by whoever makes it (see tryToUnmap).
      if (!(m.bugs & BUG.nonlinearNrMapped)) m.env.pageState.dec(c.id, PS.nr_mapped)
    }
    m.putPage(pfn)
    return 'SWAP_AGAIN'
  } finally {
    pteUnmap(m.env, ptr, c.id)
  }
}

/** CLUSTER_SIZE of 2.6.7 in pages: 32 ptes a cluster (capped at PMD_SIZE). */
export const NONLINEAR_CLUSTER_PAGES = 32

/**
 * The nonlinear half of 2.6.7's `try_to_unmap_file` (the `'2.6.7-cluster'`
 * nonlinearReclaim), for file page `pfn` that the linear walk left mapped;
 * `vmas` is the file's i_mmap_shared, whose VM_NONLINEAR vmas stand for
 * i_mmap_nonlinear. The page's own ptes are not searched for: every nonlinear
 * vma is aged and unmapped a cluster at a time from its cursor
 * (`vm_private_data`), the clusters of all vmas advancing together up to the
 * largest vma, and the scan stops once it has unmapped as many ptes (of any
 * page) as the page's mapcount. VM_LOCKED vmas are skipped; when every
 * nonlinear vma is locked nothing is scanned (SWAP_AGAIN). A full pass without
 * reaching the count resets every cursor to 0, so a call never loops.
 * Answers SWAP_AGAIN (the caller makes it SWAP_SUCCESS if the page ended
 * unmapped).
 *
 * Locks, as 2.6.7 mm/rmap.c: try_to_unmap's caller holds the page's
 * page_map_lock and the walk holds the address_space lock (i_mmap_lock in
 * 2.6.7, i_shared_sem here). Before the scan the mapcount is read and the
 * page_map_lock dropped, then {@link condReschedLock} (again after each
 * pass); every pte the scan clears goes through page_remove_rmap, which takes
 * that page's own page_map_lock (the target's too), inside the
 * page_table_lock the cluster trylocks. The page_map_lock is taken again on
 * the way out ("relock"). So no page_map_lock is ever taken under another,
 * and while it is dropped other cpus may map or unmap the page.
 */
function tryToUnmapNonlinear(m: Machine, c: Cpu, as: AddressSpace, pfn: number): SwapResult {
  const vmas = as.iMmapShared
  const CLUSTER = Math.min(NONLINEAR_CLUSTER_PAGES * 4096, 2 ** m.arch.geometry.PMD_SHIFT)
  let maxCursor = 0
  let maxSize = 0
  for (const vma of vmas) {
    if (!(vma.flags & VM.NONLINEAR) || vma.flags & (VM.LOCKED | VM.RESERVED)) continue
    if (vma.nonlinearCursor > maxCursor) maxCursor = vma.nonlinearCursor
    if (vma.end - vma.start > maxSize) maxSize = vma.end - vma.start
  }
  // Every nonlinear vma is locked (or reserved): nothing can be unmapped. 2.6.7
  // answers SWAP_AGAIN here (the page stays on the inactive list); SWAP_FAIL,
  // which activates it, came with Hugh's "rmaplock 4/6" (July 2004, 2.6.8).
  if (maxSize === 0) return 'SWAP_AGAIN'
  // The mapcount is only a guide to how hard to try: ptes of any page count.
  const budget = { left: m.frames.mapcount[pfn]! }
  pageMapUnlock(m, c, pfn)
  try {
    condReschedLock(m, c, as, 'try_to_unmap_file:page_map_unlock→cond_resched_lock')
    return scanNonlinear(m, c, as, CLUSTER, maxCursor, maxSize, budget)
  } finally {
    // relock: try_to_unmap's caller unlocks it.
    pageMapLock(m, c, pfn)
  }
}

/**
 * 2.6.7's `cond_resched_lock(&mapping->i_mmap_lock)` (include/linux/sched.h):
 * when a reschedule is pending, drop the lock, schedule, take it again
 * (spin_lock: waiting). A sequential machine never reschedules here. Under
 * the explorer a switch to another cpu at this point is that reschedule: the
 * lock (i_shared_sem standing for i_mmap_lock) is dropped around the
 * preemption point, so the other cpus may take it meanwhile (munmap's
 * vma unlink, truncate's unmap_mapping_range); when none switches in, the
 * drop and retake change nothing.
 */
function condReschedLock(m: Machine, c: Cpu, as: AddressSpace, point: string): void {
  const smp = m.smp
  if (smp === null) return
  upISharedSem(m, c, as)
  smp.preempt(point)
  downISharedSem(m, c, as, 'mm/rmap.c try_to_unmap_file (cond_resched_lock)')
}

/** The cluster passes of {@link tryToUnmapNonlinear}, the page's page_map_lock dropped. */
function scanNonlinear(
  m: Machine,
  c: Cpu,
  as: AddressSpace,
  CLUSTER: number,
  maxCursor: number,
  maxSize: number,
  budget: { left: number },
): SwapResult {
  const ctr = m.counters.rmap
  // The list is read afresh after each cond_resched_lock: vmas may have come and gone.
  const vmas = as.iMmapShared
  maxSize = Math.ceil(maxSize / CLUSTER) * CLUSTER
  if (maxCursor === 0) maxCursor = CLUSTER
  let ret: SwapResult = 'SWAP_AGAIN'
  do {
    for (const vma of vmas) {
      if (!(vma.flags & VM.NONLINEAR) || vma.flags & (VM.LOCKED | VM.RESERVED)) continue
      ctr.vmasVisited++
      let cursor = vma.nonlinearCursor
      while (vma.mm.rss > 0 && cursor < maxCursor && cursor < vma.end - vma.start) {
        ret = tryToUnmapCluster(m, c, vma, cursor, CLUSTER, budget)
        if (ret === 'SWAP_FAIL') break
        cursor += CLUSTER
        vma.nonlinearCursor = cursor
        if (budget.left <= 0) return 'SWAP_AGAIN'
      }
      if (ret !== 'SWAP_FAIL') vma.nonlinearCursor = maxCursor
      ret = 'SWAP_AGAIN'
    }
    condReschedLock(m, c, as, 'try_to_unmap_file:cond_resched_lock')
    maxCursor += CLUSTER
  } while (maxCursor <= maxSize)
  // A whole pass without unmapping enough (locked vmas, young ptes): start over next time.
  for (const vma of vmas) if (vma.flags & VM.NONLINEAR && !(vma.flags & VM.RESERVED)) vma.nonlinearCursor = 0
  return ret
}

/**
 * `try_to_unmap_cluster(cursor, &mapcount, vma)` of 2.6.7: the CLUSTER-aligned
 * cluster holding vm_start + cursor, clipped to the vma. Each present pte of a
 * file page is aged (a young one is cleared and left) or cleared: a file pte
 * holding page->index where that is not the linear index (none where it is),
 * the dirty bit to PG_dirty, page_remove_rmap (under the page_table_lock: the
 * page's own page_map_lock, never nested in another), the pte's reference
 * dropped, rss and `budget.left` down by one. SWAP_FAIL when the
 * page_table_lock trylock fails.
 */
function tryToUnmapCluster(
  m: Machine,
  c: Cpu,
  vma: Vma,
  cursor: number,
  CLUSTER: number,
  budget: { left: number },
): SwapResult {
  const mm = vma.mm
  if (!pageTableTrylock(m, c, mm)) {
    m.counters.rmap.trylockFailures++
    return 'SWAP_FAIL'
  }
  try {
    tryToUnmapClusterLocked(m, c, vma, cursor, CLUSTER, budget)
  } finally {
    pageTableUnlock(m, c, mm)
  }
  return 'SWAP_AGAIN'
}

/** The pte loop of {@link tryToUnmapCluster}, with `vma`'s page_table_lock held. */
function tryToUnmapClusterLocked(
  m: Machine,
  c: Cpu,
  vma: Vma,
  cursor: number,
  CLUSTER: number,
  budget: { left: number },
): void {
  const ctr = m.counters.rmap
  const f = m.fast
  const fr = m.frames
  const mm = vma.mm
  let address = vma.start + cursor
  address -= address % CLUSTER
  let end = address + CLUSTER
  if (address < vma.start) address = vma.start
  if (end > vma.end) end = vma.end
  const mmu = m.env.mmu
  const w = m.env.tables.words
  for (; address < end; address += 4096) {
    ctr.ptesProbed++
    const ptr = pteOffsetMap(m.env, mm.id, address, c.id)
    // No page table: the cluster lies inside one pmd, so nothing is mapped in it.
    if (ptr === NO_PTE) break
    try {
      const at = pteWordOffset(m.env, ptr)
      const lo = w[at]!
      const hi = f.words === 2 ? w[at + 1]! : 0
      if (!f.present(lo, hi)) continue
      const pfn = f.pfn(lo, hi)
      if (pfn >= fr.n || fr.test(pfn, PG.reserved)) continue
      if (fr.test(pfn, PG.anon))
        bug(
          'try_to_unmap_cluster: no anonymous page in a nonlinear vma',
          'try_to_unmap_cluster',
          `pfn ${pfn}`,
        )
      if (mmu.ptepTestAndClearYoung(ptr, c.id)) continue
      const old = mmu.ptepGetAndClear(ptr, c.id)
      mmu.flushTlbPage(mm.id, address, c.id)
      const index = fr.index[pfn]!
      if (index !== vma.linearIndex(address)) {
        const plo = f.pgoffLo(index)
        const phi = f.pgoffHi(index)
        mmu.setPte(ptr, plo, phi, c.id)
        if (!f.file(plo, phi) || f.present(plo, phi))
          bug(
            'try_to_unmap_cluster: a written nonlinear pte is a file pte',
            'try_to_unmap_cluster',
            `pgoff ${index}`,
          )
      }
      if (old & f.DIRTY) setPageDirty(m, c, pfn)
      // 2.6.7's page_remove_rmap BUG_ONs a page with no mapcount left.
      if (fr.mapcount[pfn] === 0)
        bug('page_remove_rmap: mapcount > 0 before the decrement', 'try_to_unmap_cluster', `pfn ${pfn}`)
      m.rmap.pageRemoveRmap(m, c, pfn, ptr)
      m.putPage(pfn)
      mm.rss--
      budget.left--
    } finally {
      pteUnmap(m.env, ptr, c.id)
    }
  }
}

/**
 * Count, without side effects, the ptes the rmap walk of `pfn` reaches: used by
 * `m.check()` to compare with page->mapcount. Returns -1 when the page's
 * mapping is not a walkable object.
 */
export function countRmapPtes(m: Machine, pfn: number): number {
  const f = m.frames
  const obj = m.objects.get(f.mapping[pfn]!)
  if (!obj) return -1
  const vmas = f.test(pfn, PG.anon)
    ? 'vmas' in obj
      ? obj.vmas
      : null
    : 'iMmap' in obj
      ? [...obj.iMmap, ...obj.iMmapShared]
      : null
  if (!vmas) return -1
  let n = 0
  for (const vma of vmas) {
    const address = vmaAddress(vma, f.index[pfn]!)
    if (address < 0) continue
    const ptr = lookupPte(m.env, vma.mm.id, address)
    if (ptr === NO_PTE) continue
    const w = m.env.tables.words
    const at = pteWordOffset(m.env, ptr)
    const lo = w[at]!
    const hi = m.fast.words === 2 ? w[at + 1]! : 0
    if (m.fast.present(lo, hi) && m.fast.pfn(lo, hi) === pfn) n++
  }
  return n
}

// The anon_vma helpers, at the end of -aa mm/objrmap.c as there. -aa links a
// vma at the head of its anon_vma's list (list_add in anon_vma_prepare,
// __anon_vma_link and anon_vma_link), so the walks of page_referenced and
// try_to_unmap visit the newest vma first: after a fork, the child's.

/** `anon_vma_prepare(vma)`: give the vma an anon_vma (a fresh one, as -aa does) and link it. */
export function anonVmaPrepare(m: Machine, c: Cpu, vma: Vma): AnonVma {
  if (vma.anonVma) return vma.anonVma
  const av = new AnonVma(m.newObjectId())
  m.objects.set(av.id, av)
  vma.anonVma = av
  anonVmaLock(m, c, av)
  av.vmas.unshift(vma)
  anonVmaUnlock(m, c, av)
  m.counters.objects.anonVmas++
  return av
}

/** `spin_lock(&anon_vma->lock)`: modelled (owner, lock order) only under the explorer. */
function anonVmaLock(m: Machine, c: Cpu, av: AnonVma): void {
  if (m.smp !== null) m.smp.locks.acquire(c.id, LOCK.anon_vma_lock, av.id)
}

/** `spin_unlock(&anon_vma->lock)`. */
function anonVmaUnlock(m: Machine, c: Cpu, av: AnonVma): void {
  if (m.smp !== null) m.smp.locks.release(c.id, LOCK.anon_vma_lock, av.id)
}

/**
 * `anon_vma_merge(vma, dying)` (vma_merge, before `dying` is unlinked): a
 * survivor without an anon_vma takes the dying vma's, in the dying vma's
 * place on the list; otherwise both must have the same one and the dying vma
 * leaves the list. Either way `dying` no longer holds the anon_vma, so its
 * unlink that follows does not touch the list (nor free an anon_vma that
 * `keep` and the pages still name).
 */
export function anonVmaMerge(m: Machine, c: Cpu, keep: Vma, dying: Vma): void {
  const av = dying.anonVma
  if (!av) return
  const i = av.vmas.indexOf(dying)
  if (i < 0) bug('a vma being merged away is on its anon_vma list', 'anon_vma_merge')
  if (keep.anonVma && keep.anonVma !== av)
    bug('anon_vma_merge: two anon_vmas being merged are the same object', 'anon_vma_merge')
  anonVmaLock(m, c, av)
  if (!keep.anonVma) {
    keep.anonVma = av
    av.vmas[i] = keep
  } else av.vmas.splice(i, 1)
  anonVmaUnlock(m, c, av)
  dying.anonVma = null
}

/**
 * `anon_vma_link(vma)` (vma_link's `anon_vma_lock` + `__anon_vma_link`): put a
 * copied, split or moved vma at the head of its anon_vma's list, under the
 * anon_vma lock.
 */
export function anonVmaLink(m: Machine, c: Cpu, vma: Vma): void {
  const av = vma.anonVma
  if (!av) return
  anonVmaLock(m, c, av)
  av.vmas.unshift(vma)
  anonVmaUnlock(m, c, av)
}

/** `anon_vma_unlink(vma)`: take it off; free the anon_vma when the list empties. */
export function anonVmaUnlink(m: Machine, c: Cpu, vma: Vma): void {
  const av = vma.anonVma
  if (!av) return
  const i = av.vmas.indexOf(vma)
  if (i < 0) bug('a vma being unlinked is on its anon_vma list', 'anon_vma_unlink')
  anonVmaLock(m, c, av)
  av.vmas.splice(i, 1)
  anonVmaUnlock(m, c, av)
  if (av.vmas.length === 0) {
    m.objects.delete(av.id)
    m.counters.objects.anonVmas--
  }
}

/** The anon_vma part of can_vma_merge_before/after: at most one anon_vma, or both the same. */
export function anonVmaCanMerge(a: Vma, b: Vma): boolean {
  return !a.anonVma || !b.anonVma || a.anonVma === b.anonVma
}
