/**
 * mm/swapfile.c of the 2.6 tree: swap areas (`sys_swapon`), the swap map with
 * a use count per slot, `get_swap_page` / `scan_swap_map` slot allocation,
 * `swap_duplicate`, `swap_free`, `exclusive_swap_page`,
 * `can_share_swap_page`, `remove_exclusive_swap_page` and
 * `free_swap_and_cache` (docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (16)).
 *
 * A slot's count is the number of references to it: one per swap pte that
 * holds its entry, plus one while a page for it sits in the swap cache. The
 * count saturates at SWAP_MAP_MAX (0x7fff, include/linux/swap.h): a slot that
 * reached it is never freed again, as the kernel does ("swap entry overflow").
 *
 * The swap map is kept in chunks of {@link SWAP_MAP_CHUNK} slots, allocated on
 * first use, so an area as large as the arch allows (SWAP_MAXPAGES_LIMIT is
 * 2^40 - 2 pages on ppc64) costs memory only for the slots ever used. Each
 * used slot also holds the content word written to it (docs/simplifications.md#page-content: writeback
 * stores the page's word in the swap slot, read-in restores it).
 *
 * The swap entry in page->private. The kernel's `swp_entry_t.val` keeps the
 * type in the top 5 bits of an unsigned long and the offset below (docs/layouts.md#swap-entries). On 32-bit layouts the model stores exactly that value; on ppc64 the
 * type would sit at bit 59, past what a JS number holds exactly, so the model
 * puts the type at bit 40 instead (every ppc64 offset is below 2^40).
 * Either way entry 0 (type 0, offset 0: the header slot) means "no entry".
 */

import type { PtePtr } from './arch/mmu.js'
import { type Arch, MAX_SWAPFILES } from './arch/types.js'
import { BUG } from './bugs.js'
import type { Cpu } from './cpu.js'
import { ArchLimitError, KernelBugError, OutOfMemoryError, RmapError, SyscallError } from './errors.js'
import { lockPage, testSetPageLocked, unlockPage } from './locks.js'
import type { Machine } from './machine.js'
import { makePageExclusive } from './memory.js'
import { PG } from './mm/page.js'
import type { Mm } from './mm/vma.js'
import { waitOnPageWriteback } from './page-writeback.js'
import { lookupPte, NO_PTE, pteWordOffset } from './pgtable.js'
import { shmemUnuse } from './shmem.js'
import { deleteFromSwapCache, deleteFromSwapCacheLocked, readSwapCacheAsync } from './swap_state.js'
import { show } from './validate.js'

/** SWAPFILE_CLUSTER: slots allocated in sequence before scan_swap_map looks for a fresh empty cluster. */
export const SWAPFILE_CLUSTER = 256
/** SWAP_MAP_MAX: the saturating maximum of a slot's count (include/linux/swap.h). */
export const SWAP_MAP_MAX = 0x7fff
/** Slots per lazily allocated chunk of the swap map (a model detail). */
export const SWAP_MAP_CHUNK = 4096

/** A swap entry's parts. */
export interface SwapEntryParts {
  /** The swap area (0..31). */
  type: number
  /** The slot in the area. */
  offset: number
}

/** Options of `m.swapon`. */
export interface SwaponOptions {
  /** Size of the swap area in bytes, or `'512M'`-style; slot 0 (the header page) is never used. */
  size: number | string
  /**
   * Priority (swapon -p). Default: as sys_swapon, -1 for the first area
   * without one, -2 for the next, and so on. Higher priorities are used first;
   * areas of equal priority are used in turn.
   */
  priority?: number
}

/** A bad swapon request: too small, too large, a 33rd area. Nothing was changed. */
export class SwapAreaError extends RmapError {
  override name = 'SwapAreaError'
  constructor(
    /** The kernel limit that was broken, e.g. `'MAX_SWAPFILES (32)'`. */
    readonly limit: string,
    message: string,
  ) {
    super(message)
  }
}

/** One swap area: `struct swap_info_struct`. */
export class SwapArea {
  /** Its type (index in swap_info). */
  readonly type: number
  /** Priority. */
  readonly prio: number
  /** `max`: pages of the area including the header slot 0. */
  readonly max: number
  /** Usable slots (max - 1): what it adds to SwapTotal. */
  readonly pages: number
  /** Slots in use. */
  inusePages = 0
  /** Lowest slot that may be free. */
  lowestBit: number
  /** Highest slot that may be free. */
  highestBit: number
  /** Next slot to try while the current cluster lasts. */
  clusterNext = 1
  /** Slots left in the current cluster. */
  clusterNr = 0
  /** Next area in the priority-sorted swap_list, or -1. */
  next = -1
  /** SWP_WRITEOK: slots may be allocated; cleared when swapoff begins. */
  writeOk = true
  private readonly chunks = new Map<number, Uint16Array>()
  /** The content word stored in each slot written out. */
  readonly words = new Map<number, number>()
  /** The EOF tail word of a slot whose page had one (filemap.ts, "The EOF tail"). */
  readonly tails = new Map<number, number>()

  constructor(type: number, prio: number, max: number) {
    this.type = type
    this.prio = prio
    this.max = max
    this.pages = max - 1
    this.lowestBit = 1
    this.highestBit = max - 1
  }

  /** swap_map[offset]. */
  count(offset: number): number {
    const c = this.chunks.get(Math.floor(offset / SWAP_MAP_CHUNK))
    return c ? c[offset % SWAP_MAP_CHUNK]! : 0
  }

  /** swap_map[offset] = value. */
  setCount(offset: number, value: number): void {
    const k = Math.floor(offset / SWAP_MAP_CHUNK)
    let c = this.chunks.get(k)
    if (!c) {
      if (value === 0) return
      c = new Uint16Array(SWAP_MAP_CHUNK)
      this.chunks.set(k, c)
    }
    c[offset % SWAP_MAP_CHUNK] = value
  }

  /** Every used slot and its count, in slot order (for m.check()). */
  usedSlots(): Array<[number, number]> {
    const out: Array<[number, number]> = []
    for (const k of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const c = this.chunks.get(k)!
      for (let i = 0; i < c.length; i++) if (c[i]) out.push([k * SWAP_MAP_CHUNK + i, c[i]!])
    }
    return out
  }
}

/** Every swap area, the swap_list order, the swap cache and the global counts. */
export class SwapState {
  /** swap_info[type], null where unused. */
  readonly areas: (SwapArea | null)[] = new Array(MAX_SWAPFILES).fill(null)
  /** swap_list.head: the highest-priority area, or -1. */
  head = -1
  /** swap_list.next: where get_swap_page starts. */
  next = -1
  /** nr_swap_pages: free slots in all areas. */
  nrSwapPages = 0
  /** total_swap_pages. */
  totalSwapPages = 0
  /** The priority the next swapon without one gets (least_priority counts down from -1). */
  leastPriority = 0
  /**
   * A test hook, one-shot: called by swapoff after the area left swap_list
   * (SWP_WRITEOK clear) and before try_to_unuse, so a test can play another
   * cpu calling swapoff meanwhile. Cleared before it runs.
   */
  swapoffRacer: ((type: number) => void) | undefined = undefined
  /** swapper_space's radix tree: swap entry → pfn. */
  readonly cache = new Map<number, number>()
  /** The multiplier of the type in an entry value: 2^27 on 32-bit layouts, 2^40 on ppc64. */
  readonly typeUnit: number

  constructor(arch: Arch) {
    this.typeUnit = arch.geometry.BITS_PER_LONG === 32 ? 2 ** 27 : 2 ** 40
  }

  /** `swp_entry(type, offset).val`. */
  entry(type: number, offset: number): number {
    return type * this.typeUnit + offset
  }

  /** `swp_type(entry)`. */
  type(entry: number): number {
    return Math.floor(entry / this.typeUnit)
  }

  /** `swp_offset(entry)`. */
  offset(entry: number): number {
    return entry % this.typeUnit
  }

  /** `vm_swap_full()`: less than half of swap is free. */
  full(): boolean {
    return this.nrSwapPages * 2 < this.totalSwapPages
  }
}

function swapBug(invariant: string, fn: string, detail?: string): never {
  throw new KernelBugError(invariant, `mm/swapfile.c ${fn}`, detail)
}

/**
 * `sys_swapon`: a new swap area of `size` bytes (rounded down to pages, as
 * mkswap's last_page is) with slot 0 as its header. Errors, with nothing
 * changed: a 33rd area (MAX_SWAPFILES), a size below two pages (the header
 * plus one slot; sys_swapon refuses an empty swap file), a size above the
 * arch's SWAP_MAXPAGES_LIMIT pages. Returns the area's type.
 */
export function sysSwapon(m: Machine, opts: SwaponOptions | number | string): number {
  const o: SwaponOptions = typeof opts === 'object' ? opts : { size: opts }
  if (o === null || o.size === undefined) throw new TypeError('swapon: options.size is required')
  const bytes = parseSwapSize(o.size)
  const s = m.swap
  const type = s.areas.indexOf(null)
  if (type < 0) {
    throw new SwapAreaError(
      `MAX_SWAPFILES (${MAX_SWAPFILES})`,
      `swapon: EPERM: all ${MAX_SWAPFILES} swap areas (MAX_SWAPFILES) are in use`,
    )
  }
  const pagesTotal = Math.floor(bytes / 4096)
  if (pagesTotal < 2) {
    throw new SwapAreaError(
      'one header page plus at least one slot',
      `swapon: EINVAL: ${bytes} bytes is below the header page plus one slot (8192 bytes)`,
    )
  }
  const limit = m.arch.geometry.SWAP_MAXPAGES_LIMIT
  if (BigInt(pagesTotal) > limit) {
    throw new ArchLimitError(
      m.arch.name,
      'swapon',
      'size',
      `at most SWAP_MAXPAGES_LIMIT (0x${limit.toString(16)}) pages, the largest offset the swap pte holds`,
      bytes,
    )
  }
  let prio: number
  if (o.priority === undefined) prio = s.leastPriority - 1
  else {
    if (!Number.isInteger(o.priority) || o.priority < -32768 || o.priority > 32767)
      throw new RangeError(`swapon: priority ${show(o.priority)} is not a whole number in -32768..32767`)
    prio = o.priority
  }
  if (o.priority === undefined) s.leastPriority = prio
  const area = new SwapArea(type, prio, pagesTotal)
  s.areas[type] = area
  swapListInsert(s, area)
  return type
}

/**
 * Put `area` on swap_list, sorted by priority, before areas of equal
 * priority, and count its slots in nr_swap_pages and total_swap_pages:
 * sys_swapon, and sys_swapoff when try_to_unuse fails (the same loop in
 * both, 2.6.4–2.6.7 mm/swapfile.c).
 */
function swapListInsert(s: SwapState, area: SwapArea): void {
  s.nrSwapPages += area.pages
  s.totalSwapPages += area.pages
  let prev = -1
  for (let i = s.head; i >= 0; i = s.areas[i]!.next) {
    if (area.prio >= s.areas[i]!.prio) break
    prev = i
  }
  if (prev < 0) {
    area.next = s.head
    s.head = area.type
    s.next = area.type
  } else {
    area.next = s.areas[prev]!.next
    s.areas[prev]!.next = area.type
  }
}

function parseSwapSize(v: number | string): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`swapon: size ${v} is not a whole, non-negative number of bytes`)
    return v
  }
  if (typeof v !== 'string')
    throw new TypeError(`swapon: size must be a number of bytes or a string such as '512M', got ${show(v)}`)
  const match = /^\s*(\d+)\s*([KMGT]?)B?\s*$/i.exec(v)
  if (!match) throw new RangeError(`swapon: size '${v}' is not a size such as '512M'`)
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[match[2]!.toUpperCase()]!
  return Number(match[1]) * unit
}

/** What `m.swapoff` did. */
export interface SwapoffReport {
  /** The area turned off. */
  type: number
  /** Slots that were in use when swapoff began. */
  slots: number
  /** Pages read back from the area (slots whose page was not already in the swap cache). */
  pagesRead: number
  /** Swap ptes replaced by present ptes (unuse_pte). */
  ptes: number
  /** tmpfs swap-vector entries brought back into their file's page cache (shmem_unuse). */
  shmem: number
}

/**
 * `sys_swapoff(type)` → `try_to_unuse` (2.6.5 mm/swapfile.c; unuse_pte as
 * the -aa tree has it, docs/designs.md#objrmap-and-anon_vma).
 *
 * Errors, with nothing changed: a type that is not an area in use, or one
 * already being turned off (its SWP_WRITEOK is clear, so sys_swapoff's search
 * of swap_list does not find it) → SyscallError EINVAL; not enough free
 * memory → SyscallError ENOMEM. The kernel's test is
 * `security_vm_enough_memory(p->pages)`, an overcommit heuristic; the model
 * checks instead that free page frames can hold every used slot whose page is
 * not already in the swap cache.
 *
 * try_to_unuse can still run out of memory half way, as in the kernel: a page
 * frame for read_swap_cache_async (the check counts frames, not the zones'
 * reserves), 2.6.4's `pte_chain_alloc` in unuse_process (pte_chains: a page
 * mapped twice needs a chain from the lowmem slab), rmap 11's private copy
 * (anonmm). Then, as sys_swapoff does on try_to_unuse's -ENOMEM: the page in
 * hand is unlocked and released, the area goes back on swap_list in priority
 * order with its slots counted again and SWP_WRITEOK set, and the call fails
 * with SyscallError ENOMEM. The pages already brought back stay in memory,
 * mapped, their slots freed.
 *
 * Then, as the kernel: the area leaves swap_list and its slots leave
 * nr_swap_pages / total_swap_pages (SWP_WRITEOK cleared, so nothing new is
 * allocated from it); for every used slot, in order: read the page into the
 * swap cache (read_swap_cache_async), lock it, and while the slot has users
 * besides the cache, `shmem_unuse` for a tmpfs swap vector holding it and
 * `unuse_process` for every mm (every vma, every pte equal to the swap pte:
 * `unuse_pte`); a saturated count (SWAP_MAP_MAX) is reset; then the page
 * leaves the swap cache dirty (its only copy is now in memory) and the read
 * reference is dropped. Finally the area is freed.
 */
export function sysSwapoff(m: Machine, c: Cpu, type: number): SwapoffReport {
  const s = m.swap
  if (!Number.isInteger(type) || type < 0 || type >= MAX_SWAPFILES)
    throw new SyscallError(
      'swapoff',
      'EINVAL',
      `${String(type)} is not a swap area type 0..${MAX_SWAPFILES - 1}`,
    )
  const p = s.areas[type]
  if (!p) throw new SyscallError('swapoff', 'EINVAL', `swap area ${type} is not in use`)
  if (!p.writeOk)
    throw new SyscallError(
      'swapoff',
      'EINVAL',
      `swap area ${type} is already being turned off (SWP_WRITEOK clear)`,
    )
  const used = p.usedSlots()
  let need = 0
  for (const [offset] of used) if (!s.cache.has(s.entry(type, offset))) need++
  const free = m.env.freePagesPerZone().reduce((a, b) => a + b, 0)
  if (need > free) {
    throw new SyscallError(
      'swapoff',
      'ENOMEM',
      `swap area ${type} holds ${need} page(s) not in memory and only ${free} page frame(s) are free`,
    )
  }
  // Off swap_list; no longer counted; SWP_WRITEOK cleared.
  let prev = -1
  for (let i = s.head; i >= 0 && i !== type; i = s.areas[i]!.next) prev = i
  if (prev < 0) s.head = p.next
  else s.areas[prev]!.next = p.next
  if (s.next === type) s.next = s.head
  s.nrSwapPages -= p.pages // the in-use slots come back one by one as try_to_unuse frees them
  s.totalSwapPages -= p.pages
  p.writeOk = false
  const report: SwapoffReport = { type, slots: used.length, pagesRead: 0, ptes: 0, shmem: 0 }
  const racer = s.swapoffRacer
  if (racer) {
    s.swapoffRacer = undefined
    racer(type)
  }
  const done = tryToUnuse(m, c, p, used, report)
  if (done < used.length) {
    // sys_swapoff's `if (err)`: re-insert the area into swap_list.
    swapListInsert(s, p)
    p.writeOk = true
    throw new SyscallError(
      'swapoff',
      'ENOMEM',
      `out of memory in try_to_unuse after ${done} of ${used.length} slot(s) of swap area ${type}; the area is back on swap_list`,
    )
  }
  s.areas[type] = null
  return report
}

/**
 * try_to_unuse's loop over the slots used when swapoff began (see
 * {@link sysSwapoff}). Returns how many of them it went through: all of
 * them, or fewer when an allocation failed (the kernel's -ENOMEM).
 */
function tryToUnuse(
  m: Machine,
  c: Cpu,
  p: SwapArea,
  used: Array<[number, number]>,
  report: SwapoffReport,
): number {
  const s = m.swap
  const fr = m.frames
  let done = 0
  for (const [offset] of used) {
    if (!p.count(offset)) {
      done++ // freed meanwhile
      continue
    }
    const entry = s.entry(p.type, offset)
    const cached = s.cache.has(entry)
    let pfn: number
    try {
      pfn = readSwapCacheAsync(m, c, entry)
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e
      // No page frame: nothing was changed for this slot.
      return done
    }
    if (!cached) report.pagesRead++
    lockPage(m, c, pfn, 'mm/swapfile.c try_to_unuse')
    waitOnPageWriteback(m, c, pfn) // a write reclaim started must end before the page leaves the swap cache
    // init_mm first (the reminder to search shmem), then every mm, while the
    // slot has users besides the cache; again while a pass made progress (the
    // kernel's find_next_to_unuse comes round to a slot that still has users).
    try {
      for (let progress = 1; progress && p.count(offset) > 1; ) {
        progress = shmemUnuse(m, c, entry, pfn)
        report.shmem += progress
        for (const proc of m.processes()) {
          if (p.count(offset) <= 1) break
          const n = unuseProcess(m, c, proc.mm, entry, pfn)
          report.ptes += n
          progress += n
        }
      }
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e
      // unuse_process's -ENOMEM: unlock_page, page_cache_release, break.
      unlockPage(m, c, pfn)
      m.putPage(pfn)
      return done
    }
    // reset_overflow: a saturated count is not a real count; drop to the cache's reference.
    if (p.count(offset) === SWAP_MAP_MAX) p.setCount(offset, 1)
    if (fr.test(pfn, PG.swapcache)) deleteFromSwapCache(m, pfn)
    // SetPageDirty: the swap copy is gone, the page must be written again if it leaves.
    fr.set(pfn, PG.dirty)
    unlockPage(m, c, pfn)
    m.putPage(pfn)
    if (p.count(offset))
      swapBug(
        'try_to_unuse: every user of a slot is gone once its page left the swap cache',
        'try_to_unuse',
        `${p.type}:${offset} count ${p.count(offset)}`,
      )
    done++
  }
  return done
}

/**
 * `unuse_process(mm, entry, page)` → `unuse_vma` → `unuse_pmd` → `unuse_pte`
 * for the first pte equal to the swap pte (the kernel stops at the first one
 * in an mm: an mm never holds an entry twice): rss++, get_page, an old pte with the vma's
 * vm_page_prot (not writable for a private mapping: do_wp_page decides
 * later), BUG if the vma has no anon_vma, `page_add_rmap(page, vma, addr, 1)`,
 * swap_free. Returns the ptes replaced.
 */
function unuseProcess(m: Machine, c: Cpu, mm: Mm, entry: number, pfn: number): number {
  const s = m.swap
  const f = m.fast
  const w = m.env.tables.words
  const type = s.type(entry)
  const offset = s.offset(entry)
  for (const vma of mm.vmas) {
    for (let a = vma.start; a < vma.end; a += 4096) {
      const ptr = lookupPte(m.env, mm.id, a)
      if (ptr === NO_PTE) continue
      const at = pteWordOffset(m.env, ptr)
      const lo = w[at]!
      const hi = f.words === 2 ? w[at + 1]! : 0
      if (f.present(lo, hi) || f.none(lo, hi) || f.file(lo, hi)) continue
      if (f.swpType(lo, hi) !== type || f.swpOffset(lo, hi) !== offset) continue
      m.rmap.vmaCheckSwapIn(m, vma, a, 'mm/swapfile.c unuse_pte')
      m.rmap.pageRmapReserve(m, c)
      mm.rss++
      m.getPage(pfn)
      const pte = (f.mkPteLo(pfn, vma.pageProt) & ~f.YOUNG) >>> 0
      m.env.mmu.setPte(ptr, pte, f.mkPteHi(pfn, vma.pageProt), c.id)
      if (m.bugs & BUG.pgAnonRace) m.frames.set(pfn, PG.anon) // 2.6.5-rc1-aa1: SetPageAnon(page)
      m.rmap.pageAddRmap(m, c, pfn, vma, a, ptr, true)
      swapFree(m, entry)
      // rmap 11: a page the design cannot find at this address (anonmm after an
      // mremap moved the swap pte) is made exclusive: a copy at once.
      if (m.rmap.swapInMustCopy(m, pfn, a)) {
        m.counters.rmap.swapInCows++
        makePageExclusive(m, c, vma, a)
      }
      return 1
    }
  }
  return 0
}

/**
 * `scan_swap_map(si)`: the 2.6 cluster rule. While the current cluster lasts
 * (cluster_nr), take the next free slot from cluster_next on. Then look from
 * lowest_bit for SWAPFILE_CLUSTER consecutive free slots (not aligned) and
 * start a new cluster there; failing that, take the lowest free slot. Returns
 * 0 when the area is full.
 */
function scanSwapMap(si: SwapArea): number {
  let offset = 0
  let found = false
  if (si.clusterNr) {
    while (si.clusterNext <= si.highestBit) {
      offset = si.clusterNext++
      if (si.count(offset)) continue
      si.clusterNr--
      found = true
      break
    }
  }
  if (!found) {
    si.clusterNr = SWAPFILE_CLUSTER
    offset = si.lowestBit
    while (offset + SWAPFILE_CLUSTER - 1 <= si.highestBit) {
      let busy = -1
      for (let nr = offset; nr < offset + SWAPFILE_CLUSTER; nr++) {
        if (si.count(nr)) {
          busy = nr
          break
        }
      }
      if (busy < 0) {
        found = true
        break
      }
      offset = busy + 1
    }
  }
  if (!found) {
    // No empty cluster: first free slot from lowest_bit.
    for (offset = si.lowestBit; offset <= si.highestBit; offset++) {
      if (si.count(offset)) continue
      si.lowestBit = offset + 1
      found = true
      break
    }
  }
  if (!found) {
    si.lowestBit = si.max
    si.highestBit = 0
    return 0
  }
  if (offset === si.lowestBit) si.lowestBit++
  if (offset === si.highestBit) si.highestBit--
  if (si.lowestBit > si.highestBit) {
    si.lowestBit = si.max
    si.highestBit = 0
  }
  si.setCount(offset, 1)
  si.inusePages++
  si.clusterNext = offset + 1
  return offset
}

/**
 * `get_swap_page()`: a slot with count 1, from the highest-priority area that
 * has one; areas of equal priority take turns (swap_list.next moves on after
 * each allocation). Returns the entry, or 0 when swap is full or absent.
 */
export function getSwapPage(m: Machine): number {
  const s = m.swap
  let type = s.next
  if (type < 0 || s.nrSwapPages <= 0) return 0
  let wrapped = false
  for (;;) {
    const p = s.areas[type]!
    const offset = scanSwapMap(p)
    if (offset) {
      s.nrSwapPages--
      const nxt = p.next
      s.next = nxt < 0 || p.prio !== s.areas[nxt]!.prio ? s.head : nxt
      return s.entry(type, offset)
    }
    type = p.next
    if (!wrapped) {
      if (type < 0 || p.prio !== s.areas[type]!.prio) {
        type = s.head
        wrapped = true
      }
    } else if (type < 0) return 0
  }
}

/** `swap_info_get(entry)`: the area of a used entry. A bad or unused entry is refused. */
function swapInfoGet(m: Machine, entry: number, fn: string): SwapArea {
  const s = m.swap
  const type = s.type(entry)
  const offset = s.offset(entry)
  const p = type < MAX_SWAPFILES ? s.areas[type] : null
  if (!entry || !p) swapBug('a swap entry names a swap area in use ("Bad swap file entry")', fn, `${entry}`)
  if (offset >= p.max) swapBug('a swap offset lies inside its area ("Bad swap offset entry")', fn, `${entry}`)
  if (!p.count(offset))
    swapBug('a swap entry being used is allocated ("Unused swap offset entry")', fn, `${type}:${offset}`)
  // A freed entry of a higher-priority area makes it the next one to allocate from.
  // An area being turned off is off swap_list (the kernel's get_swap_page would
  // skip it for its clear SWP_WRITEOK; the model never points swap_list.next at it).
  if (s.next >= 0 && p.writeOk && p.prio > s.areas[s.next]!.prio) s.next = type
  return p
}

/**
 * `swap_entry_free`: drop one reference; at 0 the slot is free again and its
 * stored word is dropped. Returns the new count. A saturated slot stays.
 */
function swapEntryFree(m: Machine, p: SwapArea, offset: number): number {
  let count = p.count(offset)
  if (count < SWAP_MAP_MAX) {
    count--
    p.setCount(offset, count)
    if (!count) {
      if (offset < p.lowestBit) p.lowestBit = offset
      if (offset > p.highestBit) p.highestBit = offset
      m.swap.nrSwapPages++
      p.inusePages--
      p.words.delete(offset)
      p.tails.delete(offset)
    }
  }
  return count
}

/** `swap_free(entry)`: drop one reference to a slot. */
export function swapFree(m: Machine, entry: number): void {
  const p = swapInfoGet(m, entry, 'swap_free')
  swapEntryFree(m, p, m.swap.offset(entry))
}

/**
 * `swap_duplicate(entry)`: one more reference to a used slot (a swap pte
 * copied by fork or written by try_to_unmap_one, or the swap cache's own).
 * Saturates at SWAP_MAP_MAX. The kernel answers 0 for a bad entry; every
 * caller in the model holds a valid one, so a bad entry is a model bug and is
 * refused.
 */
export function swapDuplicate(m: Machine, entry: number): void {
  const p = swapInfoGet(m, entry, 'swap_duplicate')
  const offset = m.swap.offset(entry)
  const c = p.count(offset)
  if (c < SWAP_MAP_MAX - 1) p.setCount(offset, c + 1)
  else if (c === SWAP_MAP_MAX - 1) p.setCount(offset, SWAP_MAP_MAX) // "swap_dup: swap entry overflow"
}

/**
 * The swap pte try_to_unmap_one writes when it unmaps a swap-cache page: the
 * page's entry (page->private) gets one more reference (swap_duplicate) and
 * the pte takes it (set_pte of swp_entry_to_pte). Every rmap design does the
 * same; `where` names the design's file for the kernel BUG of an entry whose
 * encoding reads back as a file or present pte.
 */
export function setSwapPte(m: Machine, c: Cpu, ptr: PtePtr, pfn: number, where: string): void {
  const entry = m.frames.getPrivate(pfn)
  swapDuplicate(m, entry)
  const type = m.swap.type(entry)
  const offset = m.swap.offset(entry)
  const f = m.fast
  const slo = f.swpLo(type, offset)
  const shi = f.swpHi(type, offset)
  m.env.mmu.setPte(ptr, slo, shi, c.id)
  if (f.file(slo, shi) || f.present(slo, shi))
    throw new KernelBugError(
      'try_to_unmap_one: a written swap pte is not a file pte',
      `${where} try_to_unmap_one`,
      `${type}:${offset}`,
    )
}

/** swap_map[offset] of an entry (0 for an unused one). */
export function swapCount(m: Machine, entry: number): number {
  const s = m.swap
  const p = s.areas[s.type(entry)]
  return p ? p.count(s.offset(entry)) : 0
}

/**
 * `exclusive_swap_page(page)`: is the swap cache the slot's only other user?
 * The slot's count is 1 (the cache's reference) and the page's count, less
 * one for buffers (PagePrivate), is 2 (the cache's and the caller's).
 */
export function exclusiveSwapPage(m: Machine, pfn: number): boolean {
  const fr = m.frames
  const entry = fr.getPrivate(pfn)
  const p = swapInfoGet(m, entry, 'exclusive_swap_page')
  return p.count(m.swap.offset(entry)) === 1 && fr.count[pfn]! - (fr.test(pfn, PG.private) ? 1 : 0) === 2
}

/**
 * `remove_exclusive_swap_page(page)` (page locked): if the page is in the swap
 * cache, not under writeback, and nobody but the caller and the cache holds it
 * (count 2, slot count 1), take it out of the swap cache, free the slot, and
 * mark the page dirty (its only copy is in memory now). Returns whether it did.
 */
export function removeExclusiveSwapPage(m: Machine, pfn: number): boolean {
  const fr = m.frames
  if (fr.test(pfn, PG.private))
    swapBug('remove_exclusive_swap_page: the page has no private data', 'remove_exclusive_swap_page')
  if (!fr.test(pfn, PG.locked))
    swapBug('remove_exclusive_swap_page: the page is locked', 'remove_exclusive_swap_page', `pfn ${pfn}`)
  if (!fr.test(pfn, PG.swapcache) || fr.test(pfn, PG.writeback)) return false
  if (fr.count[pfn] !== 2) return false
  const entry = fr.getPrivate(pfn)
  const p = swapInfoGet(m, entry, 'remove_exclusive_swap_page')
  if (p.count(m.swap.offset(entry)) !== 1) return false
  deleteFromSwapCacheLocked(m, pfn)
  fr.set(pfn, PG.dirty)
  swapFree(m, entry)
  m.putPage(pfn)
  return true
}

/**
 * `free_swap_and_cache(entry)`: a swap pte goes away (zap). Drop its reference
 * to the slot; if only the swap cache still holds the slot, and the cached
 * page can be trylocked and has no other user (or swap is more than half
 * full, vm_swap_full), drop the page from the swap cache too, dirty, so
 * slot and page are both freed.
 */
export function freeSwapAndCache(m: Machine, c: Cpu, entry: number): void {
  const p = swapInfoGet(m, entry, 'free_swap_and_cache')
  if (swapEntryFree(m, p, m.swap.offset(entry)) !== 1) return
  const pfn = m.swap.cache.get(entry)
  if (pfn === undefined) return
  const fr = m.frames
  if (testSetPageLocked(m, c, pfn)) return // TestSetPageLocked failed: leave it to reclaim
  if (fr.test(pfn, PG.private))
    swapBug('free_swap_and_cache: the page has no private data', 'free_swap_and_cache')
  m.getPage(pfn)
  const oneUser = fr.count[pfn] === 2
  if (!fr.test(pfn, PG.writeback) && (oneUser || m.swap.full())) {
    deleteFromSwapCache(m, pfn)
    fr.set(pfn, PG.dirty)
  }
  unlockPage(m, c, pfn)
  m.putPage(pfn)
}
