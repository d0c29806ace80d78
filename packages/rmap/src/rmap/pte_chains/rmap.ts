/**
 * Strategy A: mainline 2.6.4's per-pte reverse mapping (mm/rmap.c), on every
 * mapped page — anonymous, file and swap cache alike (2.6.4's rmap.c has no
 * PageAnon).
 *
 * A page mapped by one pte keeps it in `page->pte.direct` with PG_direct set;
 * the second mapping turns it into a chain of `struct pte_chain` objects, each
 * one cache line (L1_CACHE_BYTES): a `next_and_idx` word and NRPTE =
 * (L1_CACHE_BYTES − sizeof(long)) / sizeof(pte_addr_t) pte addresses. The low
 * bits of next_and_idx hold the index of the lowest used slot of the head
 * chain; all free slots are at the start of the head, every later chain is
 * full. page_add_rmap fills the head's last free slot or pushes a new head;
 * page_remove_rmap moves the head's first used entry into the hole and frees
 * an emptied head; only page_referenced collapses a one-pte chain back to
 * direct.
 *
 * Chains are slab objects from lowmem: the model takes real frames of ZONE_NORMAL
 * (GFP_KERNEL, never highmem) for the pte_chain cache, PAGE_SIZE / L1 objects a
 * frame, so a workload with enough shared ptes runs lowmem out while highmem is
 * free. Empty slab frames are kept (the slab allocator keeps them until
 * kmem_cache_reap; the model does not reap).
 *
 * A pte address is the pte location (`PtePtr`); `ptep_to_mm` and
 * `ptep_to_address` come from the pgtable rmap, which 2.6.4 stored in the pte
 * page's struct page (pgtable_add_rmap): the design records the same two facts
 * per pte page when it first tracks a pte there.
 *
 * The model keeps two things 2.6.4 does not have, for the generic VM: the
 * mapcount of each page (the number of ptes on its chain) and PG_anon as a
 * marker of anonymous pages (set by page_add_rmap(..., anon = 1), cleared when
 * the last pte goes), which 2.6.4 told apart by a NULL page->mapping.
 */

import { KM } from '../../arch/highmem.js'
import type { PtePtr } from '../../arch/mmu.js'
import { PS } from '../../arch/percpu.js'
import type { Arch } from '../../arch/types.js'
import type { Cpu } from '../../cpu.js'
import { KernelBugError } from '../../errors.js'
import { setPageDirty } from '../../filemap.js'
import { LOCK, pageTableTrylock, pageTableUnlock } from '../../locks.js'
import type { Machine } from '../../machine.js'
import { PG } from '../../mm/page.js'
import { type Mm, VM, type Vma } from '../../mm/vma.js'
import { lookupPte, NO_PTE, ptePage, pteWordOffset } from '../../pgtable.js'
import { setSwapPte } from '../../swapfile.js'
import type {
  RmapAccounting,
  RmapCheckFacts,
  RmapStrategy,
  RmapView,
  RmapViewEntry,
  SwapResult,
} from '../strategy.js'

const WHERE = 'mm/rmap.c'
const PAGE = 4096

function bug(invariant: string, fn: string, detail?: string): never {
  throw new KernelBugError(invariant, `${WHERE} ${fn}`, detail)
}

/**
 * L1_CACHE_BYTES of each layout in its 2004 default configuration: i386
 * generic/P4 128 (CONFIG_X86_L1_CACHE_SHIFT 7), ppc 32, ppc64 128; 32 for a
 * layout rmaplab does not know.
 */
export function defaultCacheLine(arch: Arch): number {
  switch (arch.name) {
    case 'i386':
    case 'i386-pae':
    case 'ppc64':
      return 128
    default:
      return 32
  }
}

/**
 * sizeof(pte_addr_t): a u32 under HIGHPTE with 32-bit ptes (HIGHMEM4G), a u64
 * under HIGHPTE with 64-bit ptes (PAE, HIGHMEM64G), else a `pte_t *`.
 */
export function pteAddrBytes(arch: Arch): number {
  if (arch.pgtable.highpte) return arch.fast.words === 2 ? 8 : 4
  return arch.geometry.BITS_PER_LONG / 8
}

/** The pte_chain geometry of `arch` with `cacheLine`-byte lines; RangeError when no chain fits two ptes. */
export function pteChainGeometry(
  arch: Arch,
  cacheLine: number,
): { l1: number; nrpte: number; perSlab: number } {
  if (
    !Number.isInteger(cacheLine) ||
    cacheLine < 16 ||
    cacheLine > PAGE ||
    (cacheLine & (cacheLine - 1)) !== 0
  )
    throw new RangeError(
      `Machine: cacheLine (L1_CACHE_BYTES) must be a power of two from 16 to 4096, got ${String(cacheLine)}`,
    )
  const long = arch.geometry.BITS_PER_LONG / 8
  const nrpte = Math.floor((cacheLine - long) / pteAddrBytes(arch))
  if (nrpte < 2)
    throw new RangeError(
      `Machine: cacheLine ${cacheLine} leaves room for ${nrpte} pte address(es) in a pte_chain on ${arch.name}; a chain needs at least 2`,
    )
  return { l1: cacheLine, nrpte, perSlab: PAGE / cacheLine }
}

/** The pte_chains design of one Machine (its state is per machine). */
export class PteChains implements RmapStrategy {
  readonly name = 'pte_chains' as const
  readonly source = WHERE
  /** L1_CACHE_BYTES: the size of one pte_chain. */
  readonly l1: number
  /** Pte addresses per pte_chain. */
  readonly nrpte: number
  /** pte_chains per slab frame. */
  readonly perSlab: number
  /** page->pte.direct (PG_direct) or -1, per pfn. */
  private readonly direct: Int32Array
  /** page->pte.chain: the head chain or -1, per pfn. */
  private readonly head: Int32Array
  /** The pte_chain pool: next chain (or the next free one), head index, slots. */
  private next = new Int32Array(0)
  private idx = new Int32Array(0)
  private ptes = new Int32Array(0)
  private freeHead = -1
  /** Live pte_chains. */
  private live = 0
  /** The lowmem frames of the pte_chain slab, in allocation order. */
  private readonly slabs: number[] = []
  /** The pgtable rmap: the mm id and base address of each pte page, per pfn. */
  private readonly ptMm: Int32Array
  private readonly ptBase: Float64Array
  /** The mms by id, for ptep_to_mm. */
  private readonly mms: (Mm | undefined)[] = []
  /** rmap_ptep_map kmaps the pte page with KM_PTE2 (i386 HIGHPTE under the 2.6.4 profile). */
  private readonly kmPte2: boolean

  constructor(
    private readonly m: Machine,
    cacheLine: number,
  ) {
    const g = pteChainGeometry(m.arch, cacheLine)
    this.l1 = g.l1
    this.nrpte = g.nrpte
    this.perSlab = g.perSlab
    const n = m.frames.n
    this.direct = new Int32Array(n).fill(-1)
    this.head = new Int32Array(n).fill(-1)
    this.ptMm = new Int32Array(n).fill(-1)
    this.ptBase = new Float64Array(n)
    this.kmPte2 = m.env.rules.kmPte2 && m.arch.pgtable.pteOffsetMapKmaps
  }

  /** rmap_ptep_map: map the pte page of `ptep` (KM_PTE2 where pte pages are kmapped). */
  private ptepMap(ptep: PtePtr, cpu: number): void {
    if (!this.kmPte2) return
    const env = this.m.env
    const pt = ptePage(env, ptep)
    env.kmap.map(cpu, KM.KM_PTE2, pt, env.isHighmem(pt))
  }

  /** rmap_ptep_unmap. */
  private ptepUnmap(ptep: PtePtr, cpu: number): void {
    if (!this.kmPte2) return
    const env = this.m.env
    const pt = ptePage(env, ptep)
    env.kmap.unmap(cpu, KM.KM_PTE2, pt, env.isHighmem(pt))
  }

  /** ptep_test_and_clear_young through rmap_ptep_map. */
  private young(c: Cpu, ptep: PtePtr): boolean {
    this.ptepMap(ptep, c.id)
    const young = this.m.env.mmu.ptepTestAndClearYoung(ptep, c.id)
    this.ptepUnmap(ptep, c.id)
    return young
  }

  // --- the pte_chain cache --------------------------------------------------

  /** kmem_cache_grow: one more lowmem frame of pte_chains (OutOfMemoryError when lowmem is empty). */
  private grow(): void {
    const m = this.m
    const pfn = m.env.allocPage({ highmem: false })
    m.frames.set(pfn, PG.slab)
    const first = this.slabs.length * this.perSlab
    this.slabs.push(pfn)
    const cap = first + this.perSlab
    if (cap > this.next.length) {
      const size = Math.max(cap, this.next.length * 2)
      const next = new Int32Array(size)
      next.set(this.next)
      const idx = new Int32Array(size)
      idx.set(this.idx)
      const ptes = new Int32Array(size * this.nrpte).fill(-1)
      ptes.set(this.ptes)
      this.next = next
      this.idx = idx
      this.ptes = ptes
    }
    for (let c = cap - 1; c >= first; c--) {
      this.next[c] = this.freeHead
      this.freeHead = c
    }
  }

  /** pte_chain_alloc: a zeroed chain (the constructor zeroes it). */
  private alloc(): number {
    if (this.freeHead < 0) this.grow()
    const c = this.freeHead
    this.freeHead = this.next[c]!
    this.next[c] = -1
    this.live++
    return c
  }

  /** __pte_chain_free. */
  private free(c: number): void {
    const base = c * this.nrpte
    this.ptes.fill(-1, base, base + this.nrpte)
    this.idx[c] = 0
    this.next[c] = this.freeHead
    this.freeHead = c
    this.live--
  }

  pageRmapReserve(): void {
    if (this.freeHead < 0) this.grow()
  }

  // --- the pgtable rmap -------------------------------------------------------

  private note(vma: Vma, address: number, ptep: PtePtr): void {
    const pt = ptePage(this.m.env, ptep)
    const i = ptep - pt * this.m.arch.geometry.PTRS_PER_PTE
    this.ptMm[pt] = vma.mm.id
    this.ptBase[pt] = address - i * PAGE
    this.mms[vma.mm.id] = vma.mm
  }

  /** ptep_to_address. */
  private addressOf(ptep: PtePtr): number {
    const pt = ptePage(this.m.env, ptep)
    return this.ptBase[pt]! + (ptep - pt * this.m.arch.geometry.PTRS_PER_PTE) * PAGE
  }

  /** ptep_to_mm. */
  private mmOf(ptep: PtePtr): Mm {
    const mm = this.mms[this.ptMm[ptePage(this.m.env, ptep)]!]
    if (!mm) bug('ptep_to_mm: the pte page has an mm (pgtable_add_rmap)', 'ptep_to_mm', `pte ${ptep}`)
    return mm
  }

  // --- chain operations on one page (pte_chain_lock held) ----------------------

  /** The body of page_add_rmap: put `ptep` on `pfn`'s chain. */
  private add(pfn: number, ptep: PtePtr): void {
    const f = this.m.frames
    const N = this.nrpte
    if (this.direct[pfn] === -1 && this.head[pfn] === -1) {
      this.direct[pfn] = ptep
      f.set(pfn, PG.direct)
      return
    }
    if (f.test(pfn, PG.direct)) {
      // Convert the direct pointer into a chain of two.
      const c = this.alloc()
      this.ptes[c * N + N - 1] = this.direct[pfn]!
      this.ptes[c * N + N - 2] = ptep
      this.idx[c] = N - 2
      this.direct[pfn] = -1
      f.clear(pfn, PG.direct)
      this.head[pfn] = c
      return
    }
    const h = this.head[pfn]!
    if (this.idx[h] === 0) {
      // The head is full: a new head.
      const c = this.alloc()
      this.next[c] = h
      this.idx[c] = N - 1
      this.ptes[c * N + N - 1] = ptep
      this.head[pfn] = c
      return
    }
    this.ptes[h * N + --this.idx[h]!] = ptep
  }

  /** The body of page_remove_rmap: take `ptep` off `pfn`'s chain; false when it is not there. */
  private remove(pfn: number, ptep: PtePtr): boolean {
    const f = this.m.frames
    const N = this.nrpte
    if (f.test(pfn, PG.direct)) {
      if (this.direct[pfn] !== ptep) return false
      this.direct[pfn] = -1
      f.clear(pfn, PG.direct)
      return true
    }
    const start = this.head[pfn]!
    if (start < 0) return false
    const victim = this.idx[start]!
    for (let pc = start; pc >= 0; pc = this.next[pc]!) {
      for (let i = this.idx[pc]!; i < N; i++) {
        if (this.ptes[pc * N + i] !== ptep) continue
        this.ptes[pc * N + i] = this.ptes[start * N + victim]!
        this.ptes[start * N + victim] = -1
        if (victim === N - 1) {
          this.head[pfn] = this.next[start]!
          this.free(start)
        } else this.idx[start]!++
        return true
      }
    }
    return false
  }

  // --- page operations -------------------------------------------------------

  pageAddRmap(m: Machine, c: Cpu, pfn: number, vma: Vma, address: number, ptep: PtePtr, anon: boolean): void {
    const f = m.frames
    if (pfn < 0 || pfn >= f.n || f.test(pfn, PG.reserved)) return
    m.counters.rmap.pageAddRmap++
    this.pageMapLock(m, c, pfn)
    if (anon) f.set(pfn, PG.anon)
    this.note(vma, address, ptep)
    this.add(pfn, ptep)
    if (++f.mapcount[pfn]! === 1) m.env.pageState.inc(c.id, PS.nr_mapped)
    this.pageMapUnlock(m, c, pfn)
  }

  pageDupRmap(m: Machine, c: Cpu, pfn: number, child: Vma, address: number, ptep: PtePtr): void {
    this.pageAddRmap(m, c, pfn, child, address, ptep, m.frames.test(pfn, PG.anon))
  }

  pageRemoveRmap(m: Machine, c: Cpu, pfn: number, ptep: PtePtr): void {
    const f = m.frames
    if (pfn < 0 || pfn >= f.n || f.test(pfn, PG.reserved)) return
    m.counters.rmap.pageRemoveRmap++
    this.pageMapLock(m, c, pfn)
    // 2.6.4 skips an unmapped page quietly ("remap_page_range() from a driver?").
    if (f.mapcount[pfn]! > 0) {
      if (!this.remove(pfn, ptep))
        bug(
          "page_remove_rmap: the pte is on the page's pte_chain",
          'page_remove_rmap',
          `pfn ${pfn}, pte ${ptep}`,
        )
      if (--f.mapcount[pfn]! === 0) {
        m.env.pageState.dec(c.id, PS.nr_mapped)
        f.clear(pfn, PG.anon)
      }
    }
    this.pageMapUnlock(m, c, pfn)
  }

  /**
   * pte_chain_lock (include/linux/rmap-locking.h): the PG_chainlock bit
   * spinlock (bit 15, PG_maplock's bit in -aa). On a sequential machine
   * finding it held is a bug (self-deadlock); under the explorer (`m.smp`)
   * the owner table decides, as for objrmap's page_map_lock: held by another
   * cpu means wait, and the lock order puts it inside page_table_lock.
   */
  pageMapLock(m: Machine, c: Cpu, pfn: number): void {
    if (m.smp !== null) m.smp.locks.acquire(c.id, LOCK.pte_chain_lock, pfn)
    if (m.frames.testAndSet(pfn, PG.maplock))
      bug('pte_chain_lock: PG_chainlock already held (self-deadlock)', 'pte_chain_lock', `pfn ${pfn}`)
  }

  /** pte_chain_unlock. */
  pageMapUnlock(m: Machine, c: Cpu, pfn: number): void {
    if (!m.frames.test(pfn, PG.maplock))
      bug('pte_chain_unlock: PG_chainlock not held', 'pte_chain_unlock', `pfn ${pfn}`)
    if (m.smp !== null) m.smp.locks.release(c.id, LOCK.pte_chain_lock, pfn)
    m.frames.clear(pfn, PG.maplock)
  }

  /**
   * page_referenced (2.6.4 order): PG_referenced, then every pte on the chain
   * (no page_table_lock: the chain lock is enough), and a chain left with one
   * pte collapses back to direct.
   */
  pageReferenced(m: Machine, c: Cpu, pfn: number): number {
    const f = m.frames
    const ctr = m.counters.rmap
    const N = this.nrpte
    ctr.pageReferencedCalls++
    let referenced = 0
    if (f.test(pfn, PG.referenced)) {
      f.clear(pfn, PG.referenced)
      referenced++
    }
    if (f.test(pfn, PG.direct)) {
      ctr.ptesProbed++
      if (this.young(c, this.direct[pfn]!)) referenced++
    } else if (this.head[pfn]! >= 0) {
      let n = 0
      for (let pc = this.head[pfn]!; pc >= 0; pc = this.next[pc]!) {
        for (let i = this.idx[pc]!; i < N; i++) {
          ctr.ptesProbed++
          if (this.young(c, this.ptes[pc * N + i]!)) referenced++
          n++
        }
      }
      if (n === 1) {
        const pc = this.head[pfn]!
        this.direct[pfn] = this.ptes[pc * N + N - 1]!
        f.set(pfn, PG.direct)
        this.head[pfn] = -1
        this.free(pc)
      }
    }
    ctr.pageReferencedFound += referenced
    return referenced
  }

  /**
   * try_to_unmap (2.6.4): try_to_unmap_one on the direct pte, or on every pte
   * of the chain in order, each unmapped pte's slot refilled from the head;
   * SWAP_FAIL stops the walk, SWAP_AGAIN is remembered. An anonymous page not
   * yet in the swap cache is SWAP_AGAIN without a walk: 2.6.4's shrink_list
   * never asks (add_to_swap comes first), and unmapping it would lose it.
   */
  tryToUnmap(m: Machine, c: Cpu, pfn: number): SwapResult {
    const f = m.frames
    const ctr = m.counters.rmap
    const N = this.nrpte
    ctr.tryToUnmapCalls++
    if (f.test(pfn, PG.reserved)) bug('try_to_unmap of a reserved page', 'try_to_unmap')
    if (!f.test(pfn, PG.locked)) bug('try_to_unmap of an unlocked page', 'try_to_unmap')
    if (f.test(pfn, PG.anon) && !f.test(pfn, PG.swapcache)) return this.count(m, 'SWAP_AGAIN')
    let ret: SwapResult = 'SWAP_SUCCESS'
    if (f.test(pfn, PG.direct)) {
      ret = this.unmapOne(m, c, pfn, this.direct[pfn]!)
      if (ret === 'SWAP_SUCCESS') {
        this.direct[pfn] = -1
        f.clear(pfn, PG.direct)
      }
    } else {
      let start = this.head[pfn]!
      let victim = start >= 0 ? this.idx[start]! : 0
      walk: for (let pc = start; pc >= 0; ) {
        const nextPc = this.next[pc]!
        for (let i = this.idx[pc]!; i < N; i++) {
          const r = this.unmapOne(m, c, pfn, this.ptes[pc * N + i]!)
          if (r === 'SWAP_FAIL') {
            ret = r
            break walk
          }
          if (r === 'SWAP_AGAIN') {
            ret = r
            continue
          }
          this.ptes[pc * N + i] = this.ptes[start * N + victim]!
          this.ptes[start * N + victim] = -1
          victim++
          if (victim === N) {
            this.head[pfn] = this.next[start]!
            this.free(start)
            start = this.head[pfn]!
            victim = 0
          } else this.idx[start]!++
        }
        pc = nextPc
      }
    }
    if (f.mapcount[pfn] === 0) m.env.pageState.dec(c.id, PS.nr_mapped)
    return this.count(m, ret)
  }

  private count(m: Machine, r: SwapResult): SwapResult {
    const ctr = m.counters.rmap
    if (r === 'SWAP_SUCCESS') ctr.swapSuccess++
    else if (r === 'SWAP_AGAIN') ctr.swapAgain++
    else ctr.swapFail++
    return r
  }

  /** try_to_unmap_one(page, ptep) of 2.6.4. nr_mapped is left to try_to_unmap. */
  private unmapOne(m: Machine, c: Cpu, pfn: number, ptep: PtePtr): SwapResult {
    m.counters.rmap.ptesProbed++
    const mm = this.mmOf(ptep)
    const address = this.addressOf(ptep)
    this.ptepMap(ptep, c.id)
    try {
      return this.unmapOneMapped(m, c, pfn, ptep, mm, address)
    } finally {
      this.ptepUnmap(ptep, c.id)
    }
  }

  private unmapOneMapped(m: Machine, c: Cpu, pfn: number, ptep: PtePtr, mm: Mm, address: number): SwapResult {
    // spin_trylock(&mm->page_table_lock), or SWAP_AGAIN; held to the end.
    if (!pageTableTrylock(m, c, mm)) {
      m.counters.rmap.trylockFailures++
      return 'SWAP_AGAIN'
    }
    try {
      return this.unmapOneLocked(m, c, pfn, ptep, mm, address)
    } finally {
      pageTableUnlock(m, c, mm)
    }
  }

  /** The body of try_to_unmap_one, with `mm`'s page_table_lock held. */
  private unmapOneLocked(m: Machine, c: Cpu, pfn: number, ptep: PtePtr, mm: Mm, address: number): SwapResult {
    const f = m.frames
    const fast = m.fast
    // During mremap a page may be in no vma: SWAP_FAIL. A locked vma: SWAP_FAIL.
    const vma = mm.findVma(address)
    if (!vma || vma.start > address) return 'SWAP_FAIL'
    m.counters.rmap.vmasVisited++
    if (vma.flags & VM.LOCKED) return 'SWAP_FAIL'
    const mmu = m.env.mmu
    const lo = mmu.ptepGetAndClear(ptep, c.id)
    mmu.flushTlbPage(mm.id, address, c.id)
    if (f.test(pfn, PG.swapcache)) {
      setSwapPte(m, c, ptep, pfn, WHERE)
    } else {
      // A nonlinear file page: its pte keeps the file offset.
      const index = f.index[pfn]!
      if (index !== vma.linearIndex(address)) {
        const plo = fast.pgoffLo(index)
        const phi = fast.pgoffHi(index)
        mmu.setPte(ptep, plo, phi, c.id)
        if (!fast.file(plo, phi))
          bug('try_to_unmap_one: a nonlinear pte becomes a file pte', 'try_to_unmap_one')
      }
    }
    if (lo & fast.DIRTY) setPageDirty(m, c, pfn)
    mm.rss--
    if (--f.mapcount[pfn]! === 0) f.clear(pfn, PG.anon)
    m.putPage(pfn)
    return 'SWAP_SUCCESS'
  }

  // --- life cycle: 2.6.4 needs none of it but mremap and exit -----------------

  vmaPrepare(): void {}
  vmaCheckSwapIn(): void {}
  vmaLink(): void {}
  vmaUnlink(): void {}
  vmaSplit(): void {}
  /** Every pte moves as it is: a chain entry follows its pte (pteMoved). */
  canMoveOnePte(): boolean {
    return true
  }

  /**
   * 2.6.4 mm/mmap.c: do_mmap_pgoff gives an anonymous vma the caller's pgoff,
   * do_brk (and fs/exec.c setup_arg_pages) 0; nothing reads it.
   */
  readonly anonPgoffFromAddress = false
  /** 2.6.4 mm/mremap.c move_vma: the new vma keeps the old linear origin. */
  anonMovePgoff(_vma: Vma, origin: number): number {
    return origin
  }
  /** 2.6.4 can_vma_merge_before/after return 1 for a vma without a file: no pgoff test. */
  readonly anonMergeContiguous = false
  /** 2.6.4 mm/mprotect.c mprotect_attempt_merge and sys_mprotect: private anonymous vmas only. */
  readonly mprotectVmaMerge = false
  /** 2.6.4 mm/mremap.c move_vma merges the moved range itself (no copy_vma yet). */
  readonly mremapCopyVma = false

  /** The chain finds the page at any address: no copy on swap-in. */
  swapInMustCopy(): boolean {
    return false
  }

  vmaCanMerge(): boolean {
    return true
  }
  vmaMerge(): void {}
  vmaFork(): void {}
  mmFork(): void {}
  mmExec(): void {}
  mmExit(_m: Machine, _c: Cpu, mm: Mm): void {
    this.mms[mm.id] = undefined
  }

  /** mremap's move_one_page: the page's chain entry follows the pte (2.6.4 copy_one_pte: remove, then add). */
  pteMoved(
    m: Machine,
    c: Cpu,
    pfn: number,
    mm: Mm,
    _oldAddr: number,
    oldPtep: PtePtr,
    newAddr: number,
    newPtep: PtePtr,
  ): void {
    this.pageMapLock(m, c, pfn)
    if (!this.remove(pfn, oldPtep))
      bug(
        "page_remove_rmap: the pte is on the page's pte_chain",
        'page_remove_rmap',
        `pfn ${pfn}, pte ${oldPtep}`,
      )
    const pt = ptePage(m.env, newPtep)
    this.ptMm[pt] = mm.id
    this.ptBase[pt] = newAddr - (newPtep - pt * m.arch.geometry.PTRS_PER_PTE) * PAGE
    this.mms[mm.id] = mm
    this.add(pfn, newPtep)
    this.pageMapUnlock(m, c, pfn)
  }

  // --- the model ---------------------------------------------------------------

  /** Every pte on `pfn`'s chain (or its direct pte), in walk order. */
  private entriesOf(pfn: number): PtePtr[] {
    const N = this.nrpte
    if (this.m.frames.test(pfn, PG.direct)) return [this.direct[pfn]!]
    const out: PtePtr[] = []
    for (let pc = this.head[pfn]!; pc >= 0; pc = this.next[pc]!)
      for (let i = this.idx[pc]!; i < N; i++) out.push(this.ptes[pc * N + i]!)
    return out
  }

  check(m: Machine, facts: RmapCheckFacts, out: string[]): void {
    const f = m.frames
    const fast = m.fast
    const w = m.env.tables.words
    const N = this.nrpte
    let chains = 0
    for (let pfn = 0; pfn < f.n; pfn++) {
      const direct = f.test(pfn, PG.direct)
      if (direct !== (this.direct[pfn] !== -1))
        out.push(`PG_direct is set exactly when page->pte.direct holds a pte (page ${pfn})`)
      if (direct && this.head[pfn] !== -1) out.push(`a PG_direct page has no pte_chain (page ${pfn})`)
      for (let pc = this.head[pfn]!, first = true; pc >= 0; pc = this.next[pc]!, first = false) {
        chains++
        if (!first && this.idx[pc] !== 0) out.push(`every pte_chain after the head is full (page ${pfn})`)
        if (this.idx[pc]! >= N) out.push(`no pte_chain is empty (page ${pfn})`)
      }
      const mc = f.mapcount[pfn]!
      if (mc === 0) {
        if (direct || this.head[pfn] !== -1)
          out.push(`an unmapped page has no pte.direct or pte_chain (page ${pfn})`)
        if (f.test(pfn, PG.anon)) out.push(`PG_anon is set only on mapped pages (page ${pfn})`)
        continue
      }
      if (m.env.tables.has(pfn)) continue
      const entries = this.entriesOf(pfn)
      if (entries.length !== mc || entries.length !== facts.ptes[pfn])
        out.push(
          `the pte_chain of page ${pfn} holds its mapcount (${mc}) ptes, one per present pte (${facts.ptes[pfn]}), found ${entries.length}`,
        )
      if (new Set(entries).size !== entries.length) out.push(`a pte is on page ${pfn}'s pte_chain once`)
      for (const ptep of entries) {
        const mm = this.mms[this.ptMm[ptePage(m.env, ptep)]!]
        const address = this.addressOf(ptep)
        if (!mm || lookupPte(m.env, mm.id, address) !== ptep) {
          out.push(
            `ptep_to_mm and ptep_to_address of a chained pte name its mm and address (page ${pfn}, pte ${ptep})`,
          )
          continue
        }
        const at = pteWordOffset(m.env, ptep)
        const lo = w[at]!
        const hi = fast.words === 2 ? w[at + 1]! : 0
        if (!fast.present(lo, hi) || fast.pfn(lo, hi) !== pfn)
          out.push(`every pte on page ${pfn}'s pte_chain maps it (pte ${ptep})`)
      }
    }
    if (chains !== this.live) out.push(`the live pte_chains (${this.live}) are those on pages (${chains})`)
    let free = 0
    for (let c = this.freeHead; c >= 0 && free <= this.next.length; c = this.next[c]!) free++
    if (free + this.live !== this.slabs.length * this.perSlab)
      out.push(
        `the pte_chain slab holds ${this.slabs.length * this.perSlab} objects: live ${this.live} + free ${free}`,
      )
    for (const pfn of this.slabs)
      if (!f.test(pfn, PG.slab) || f.count[pfn] !== 1 || m.env.isHighmem(pfn))
        out.push(`a pte_chain slab frame is a lowmem PG_slab page in use (page ${pfn})`)
  }

  /**
   * 2.6.4's memory: each live pte_chain is one cache line; each struct page
   * carries the `pte` union (one pte_addr_t or pointer, whichever is larger);
   * the slab takes whole lowmem frames.
   */
  accounting(m: Machine): RmapAccounting {
    const ptr = m.arch.geometry.BITS_PER_LONG / 8
    const pteChain = this.live * this.l1
    const pageField = m.frames.n * Math.max(ptr, pteAddrBytes(m.arch))
    return {
      design: 'pte_chains',
      bytes: { pteChain, pageField },
      total: pteChain + pageField,
      objects: { pteChain: this.live },
      lowmemFrames: this.slabs.length,
      parameters: { cacheLine: this.l1, nrpte: this.nrpte, pteAddrBytes: pteAddrBytes(m.arch) },
    }
  }

  describe(m: Machine, pfn: number): RmapView {
    const f = m.frames
    const view: RmapView = {
      design: 'pte_chains',
      pfn,
      mapcount: f.mapcount[pfn]!,
      object: { kind: 'none', id: -1 },
      index: f.index[pfn]!,
      entries: [],
    }
    if (m.env.tables.has(pfn) || f.mapcount[pfn] === 0) return view
    const pids = new Map<number, number>()
    for (const p of m.processes()) pids.set(p.mm.id, p.pid)
    const via = f.test(pfn, PG.direct) ? 'pte.direct' : 'pte_chain'
    for (const ptep of this.entriesOf(pfn)) {
      const mm = this.mmOf(ptep)
      const address = this.addressOf(ptep)
      const vma = mm.findVma(address)
      const at = pteWordOffset(m.env, ptep)
      const lo = m.env.tables.words[at]!
      const hi = m.fast.words === 2 ? m.env.tables.words[at + 1]! : 0
      const e: RmapViewEntry = {
        via,
        mm: mm.id,
        pid: pids.get(mm.id) ?? -1,
        start: vma?.start ?? -1,
        end: vma?.end ?? -1,
        pgoff: vma?.pgoff ?? -1,
        nonlinear: vma ? (vma.flags & VM.NONLINEAR) !== 0 : false,
        address,
        pte: { lo, hi },
        mapsPage: m.fast.present(lo, hi) && m.fast.pfn(lo, hi) === pfn,
      }
      view.entries.push(e)
    }
    return view
  }
}

void NO_PTE
