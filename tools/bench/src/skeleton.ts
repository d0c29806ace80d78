/**
 * Typed-array skeletons of the anonymous write fault, the ceiling this language
 * puts on the model's fault path, timed like the model's anonymous write fault
 * (per page, FAULT_PAGES pages of a fresh mapping, the munmap outside):
 *
 * - {@link skeletonOps}, the bare one: a two-level page table, a free-frame
 *   stack, the frame's words, one LRU list, rss. What any page-fault
 *   simulator must do at the least.
 * - {@link fullSkeletonOps}: every word the model's i386-pae objrmap fault
 *   writes or tests, in the same layout's encoding, written flat for that one
 *   layout (no seams, no validation, no kernel-bug checks, no strings): the
 *   model's own bookkeeping without the model's structure. The model's time
 *   over this one is what its structure costs; this one over the bare one is
 *   what the kernel's state costs.
 */
import { PAGE_SIZE } from '@rmaplab/rmap'
import { FAULT_PAGES, median, timeRounds, type VmResult } from './vm.js'

function skeletonResult(op: 'skeleton' | 'fullSkeleton', name: string, ns: number[]): VmResult {
  const medianNs = median(ns)
  return {
    arch: '-',
    design: '-',
    op,
    name,
    opsPerRound: FAULT_PAGES,
    pages: FAULT_PAGES,
    medianNs,
    nsPerOp: medianNs / FAULT_PAGES,
    opsPerSec: (1e9 * FAULT_PAGES) / medianNs,
    rounds: ns.length,
  }
}

/**
 * The language's ceiling for the anonymous write fault: the same bookkeeping
 * as the model's do_anonymous_page and its munmap, on bare typed arrays and
 * nothing else — a two-level page table (a pgd of pte-page slots, pte pages of
 * 1024 words allocated on first use), a free-frame stack, the frame's flags,
 * count, mapcount, mapping, index and content words, the active LRU list
 * links, rss; then the write of the content word, as `p.write` does. No
 * validation, no locks, no counters, no layouts. Timed like the model's
 * anonymous write fault (per page, FAULT_PAGES pages, munmap outside).
 */
export function skeletonOps(budgetMs: number): VmResult {
  const frames = 196608 // 768M
  const flags = new Uint32Array(frames)
  const count = new Int32Array(frames)
  const mapcount = new Int32Array(frames)
  const mapping = new Int32Array(frames).fill(-1)
  const index = new Uint32Array(frames)
  const content = new Uint32Array(frames)
  const lruPrev = new Int32Array(frames).fill(-1)
  const lruNext = new Int32Array(frames).fill(-1)
  const free = new Int32Array(frames)
  let nfree = 0
  for (let pfn = frames - 1; pfn >= 1; pfn--) free[nfree++] = pfn
  const pgd = new Int32Array(1024).fill(-1)
  let ptes = new Uint32Array(1024 * 64)
  let slots = 0
  let lruHead = -1
  let rss = 0
  const PRESENT = 1
  const WRITE = 2
  const ANON = 1 << 12
  const fault = (addr: number, value: number): void => {
    const vpn = addr >>> 12
    let slot = pgd[vpn >>> 10]!
    if (slot < 0) {
      slot = slots++
      if (slots * 1024 > ptes.length) {
        const grown = new Uint32Array(ptes.length * 2)
        grown.set(ptes)
        ptes = grown
      }
      pgd[vpn >>> 10] = slot
    }
    const at = slot * 1024 + (vpn & 1023)
    let pte = ptes[at]!
    if ((pte & PRESENT) === 0) {
      const pfn = free[--nfree]!
      count[pfn] = 1
      content[pfn] = 0
      flags[pfn] = flags[pfn]! | ANON
      mapcount[pfn] = 1
      mapping[pfn] = 7
      index[pfn] = vpn
      lruNext[pfn] = lruHead
      if (lruHead >= 0) lruPrev[lruHead] = pfn
      lruHead = pfn
      rss++
      pte = ((pfn << 12) | PRESENT | WRITE) >>> 0
      ptes[at] = pte
    }
    content[pte >>> 12] = value
  }
  const zap = (start: number, pages: number): void => {
    for (let i = 0; i < pages; i++) {
      const vpn = (start >>> 12) + i
      const at = pgd[vpn >>> 10]! * 1024 + (vpn & 1023)
      const pfn = ptes[at]! >>> 12
      ptes[at] = 0
      mapcount[pfn] = 0
      mapping[pfn] = -1
      flags[pfn] = flags[pfn]! & ~ANON
      const prev = lruPrev[pfn]!
      const next = lruNext[pfn]!
      if (prev >= 0) lruNext[prev] = next
      else lruHead = next
      if (next >= 0) lruPrev[next] = prev
      lruPrev[pfn] = -1
      lruNext[pfn] = -1
      count[pfn] = 0
      free[nfree++] = pfn
      rss--
    }
  }
  const base = 0x10000000
  const ns = timeRounds(
    budgetMs,
    3,
    50,
    () => base,
    (a) => {
      for (let i = 0; i < FAULT_PAGES; i++) fault(a + i * PAGE_SIZE, i)
    },
    (a) => zap(a, FAULT_PAGES),
  )
  if (rss !== 0) throw new Error('skeleton: rss did not come back to 0')
  return skeletonResult(
    'skeleton',
    'typed-array skeleton, bare: pte, frame, one LRU list, rss (per page)',
    ns,
  )
}

/**
 * The model's anonymous write fault on i386-pae under objrmap, every word it
 * writes or tests, flat: the user access (find_vma through the mmap_cache, the
 * permission check, the walk memo or the three-level PAE walk, the hardware
 * walker's try), the watermark check, handle_mm_fault (the pte page's
 * KM_PTE0 kmap, the pte read), do_anonymous_page (alloc_page from the zone
 * free lists, the content word, rss, the active LRU list of the page's zone,
 * PG_referenced, set_pte high word first), page_add_rmap (PG_maplock taken and
 * dropped, PG_anon, mapcount, the per-cpu nr_mapped, page->index and
 * page->mapping, its counter), the kunmap, the fault counter, the retried
 * access (ACCESSED and DIRTY set, the 4-way TLB filled), the write of the
 * content word. The page tables and the frames are the model's sizes and
 * encodings (2-word ptes, 512 per page, 32 bytes per frame).
 */
export function fullSkeletonOps(budgetMs: number): VmResult {
  const FRAMES = 196608 // 768M, as the model's fault bench
  const DMA_END = 4096
  // Page flag bits (any distinct bits do; these are the model's).
  const PG_REFERENCED = 1 << 2
  const PG_LRU = 1 << 5
  const PG_ACTIVE = 1 << 6
  const PG_RESERVED = 1 << 11
  const PG_ANON = 1 << 20
  const PG_MAPLOCK = 1 << 21
  const PG_PAGETABLE = 1 << 22
  // The PAE pte's low-word bits.
  const PRESENT = 0x1
  const RW = 0x2
  const USER = 0x4
  const ACCESSED = 0x20
  const DIRTY = 0x40
  const PAGE_COPY = PRESENT | USER | ACCESSED
  const VM_WRITE = 0x2
  const flags = new Uint32Array(FRAMES)
  const count = new Int32Array(FRAMES)
  const mapcount = new Int32Array(FRAMES)
  const mapping = new Int32Array(FRAMES).fill(-1)
  const index = new Uint32Array(FRAMES)
  const content = new Uint32Array(FRAMES)
  const lruPrev = new Int32Array(FRAMES).fill(-1)
  const lruNext = new Int32Array(FRAMES).fill(-1)
  // Two zones (DMA, Normal), each a free list through lruNext, lowest pfn first.
  const freeHead = new Int32Array(2).fill(-1)
  const freeCount = new Int32Array(2)
  const zoneOf = (pfn: number) => (pfn < DMA_END ? 0 : 1)
  const pushFree = (pfn: number) => {
    const z = zoneOf(pfn)
    lruNext[pfn] = freeHead[z]!
    freeHead[z] = pfn
    freeCount[z]!++
  }
  for (let pfn = FRAMES - 1; pfn >= 1; pfn--) pushFree(pfn)
  const alloc = (): number => {
    for (let z = 1; z >= 0; z--) {
      const pfn = freeHead[z]!
      if (pfn >= 0) {
        freeHead[z] = lruNext[pfn]!
        freeCount[z]!--
        lruNext[pfn] = -1
        count[pfn] = 1
        return pfn
      }
    }
    throw new Error('full skeleton: out of frames')
  }
  const lruHead = new Int32Array(4).fill(-1)
  const lruCount = new Int32Array(4)
  // Page tables: 1024 words a page, a table's slot in its frame's content word.
  const words = new Uint32Array(1024 * 160)
  let slots = 0
  const attach = (pfn: number) => {
    flags[pfn] = flags[pfn]! | PG_PAGETABLE
    content[pfn] = slots++
  }
  const base = (pfn: number) => {
    if ((flags[pfn]! & PG_PAGETABLE) === 0) throw new Error('full skeleton: not a page table')
    return content[pfn]! * 1024
  }
  // pgd_alloc on PAE: the pgd and its four pmd pages.
  const pgd = alloc()
  attach(pgd)
  for (let i = 0; i < 4; i++) {
    const pmd = alloc()
    attach(pmd)
    words[base(pgd) + i * 2] = ((pmd << 12) | PRESENT) >>> 0
    words[base(pgd) + i * 2 + 1] = pmd >>> 20
  }
  const CPUS = 2
  const cpu = 0
  const mmId = 1
  const NR_MAPPED = 3
  const pageState = new Int32Array(CPUS * 8)
  const counters = { faultsAnonymous: 0, pageAddRmap: 0, pageTablePages: 0 }
  const kmapHeld = new Int32Array(CPUS * 5).fill(-1)
  const kmapFixmap = new Uint8Array(CPUS * 5)
  const KM_PTE0 = 2
  const tlbKeys = new Float64Array(CPUS * 64).fill(-1)
  const tlbVals = new Float64Array(CPUS * 64)
  const tlbVictim = new Uint8Array(CPUS * 16)
  // One vma (the mapping), with its anon_vma.
  const vmStart = new Float64Array(4)
  const vmEnd = new Float64Array(4)
  const vmFlags = new Uint32Array(4)
  const vmPgoff = new Float64Array(4)
  const vmAnonVma = new Int32Array(4)
  let nvmas = 0
  let mmapCache = 0
  let rss = 0
  let walkLo = 0
  let walkHi = -1
  let walkBase = 0
  const WATERMARK = 64

  const findVma = (addr: number): number => {
    const c = mmapCache
    if (c < nvmas && vmStart[c]! <= addr && addr < vmEnd[c]!) return c
    for (let i = 0; i < nvmas; i++) {
      if (vmEnd[i]! > addr) {
        mmapCache = i
        return vmStart[i]! <= addr ? i : -1
      }
    }
    return -1
  }
  /** pte location (pte page pfn * 512 + index) of `page`, or -1 without a pte page. */
  const lookup = (page: number): number => {
    if (page >= walkLo && page < walkHi) return walkBase + ((page >>> 12) & 511)
    const pgdAt = base(pgd) + (page >>> 30) * 2
    const pmd = words[pgdAt]! >>> 12
    const pmdAt = base(pmd) + ((page >>> 21) & 511) * 2
    const pmdLo = words[pmdAt]!
    if ((pmdLo & PRESENT) === 0) return -1
    const pte = (pmdLo >>> 12) | (words[pmdAt + 1]! << 20)
    walkLo = page - (page % (512 * 4096))
    walkHi = walkLo + 512 * 4096
    walkBase = pte * 512
    return walkBase + ((page >>> 12) & 511)
  }
  const pteAt = (ptr: number) => base(ptr >>> 9) + (ptr & 511) * 2
  /** The hardware walker: false to fault; else ACCESSED/DIRTY set and the TLB filled. */
  const hwAccess = (ptr: number, page: number): boolean => {
    if (ptr < 0) return false
    const at = pteAt(ptr)
    const lo = words[at]!
    if ((lo & PRESENT) === 0 || (lo & USER) === 0 || (lo & RW) === 0) return false
    words[at] = (lo | ACCESSED | DIRTY) >>> 0
    const pfn = (lo >>> 12) | (words[at + 1]! << 20)
    const vpn = page / 4096
    const key = mmId * 2 ** 30 + vpn
    const set = vpn & 15
    const b = cpu * 64 + set * 4
    let slot = -1
    for (let i = 0; i < 4; i++) {
      if (tlbKeys[b + i] === key) {
        slot = b + i
        break
      }
      if (slot < 0 && tlbKeys[b + i] === -1) slot = b + i
    }
    if (slot < 0) {
      const s = cpu * 16 + set
      slot = b + tlbVictim[s]!
      tlbVictim[s] = (tlbVictim[s]! + 1) & 3
    }
    tlbKeys[slot] = key
    tlbVals[slot] = pfn * 2 + 1
    return true
  }
  const fault = (addr: number, value: number): void => {
    const v = findVma(addr)
    if (v < 0 || (vmFlags[v]! & VM_WRITE) === 0) throw new Error('full skeleton: SIGSEGV')
    const page = addr - (addr % 4096)
    let ptr = lookup(page)
    if (!hwAccess(ptr, page)) {
      if (freeCount[0]! + freeCount[1]! < WATERMARK) throw new Error('full skeleton: reclaim')
      // pte_alloc_map: a pte page on first use, counted in nr_page_table_pages.
      if (ptr < 0) {
        const pt = alloc()
        attach(pt)
        counters.pageTablePages++
        const pmdAt = base(words[base(pgd) + (page >>> 30) * 2]! >>> 12) + ((page >>> 21) & 511) * 2
        words[pmdAt + 1] = pt >>> 20
        words[pmdAt] = ((pt << 12) | PRESENT | RW | USER | ACCESSED | DIRTY) >>> 0
        ptr = lookup(page)
      }
      const pt = ptr >>> 9
      const k = cpu * 5 + KM_PTE0
      if (kmapHeld[k] !== -1) throw new Error('full skeleton: KM_PTE0 taken')
      kmapHeld[k] = pt
      kmapFixmap[k] = 0
      const at = pteAt(ptr)
      if (words[at] === 0 && words[at + 1] === 0) {
        // do_anonymous_page
        if (vmAnonVma[v]! < 0) throw new Error('full skeleton: no anon_vma')
        const pfn = alloc()
        content[pfn] = 0
        rss++
        const lo = ((pfn << 12) | PAGE_COPY | RW | DIRTY) >>> 0
        const list = zoneOf(pfn) * 2 + 1
        const head = lruHead[list]!
        lruPrev[pfn] = -1
        lruNext[pfn] = head
        if (head >= 0) lruPrev[head] = pfn
        lruHead[list] = pfn
        lruCount[list]!++
        flags[pfn] = flags[pfn]! | PG_LRU | PG_ACTIVE | PG_REFERENCED
        words[at + 1] = pfn >>> 20
        words[at] = lo
        // page_add_rmap
        if ((flags[pfn]! & PG_RESERVED) === 0) {
          counters.pageAddRmap++
          if ((flags[pfn]! & PG_MAPLOCK) !== 0) throw new Error('full skeleton: page_map_lock held')
          flags[pfn] = flags[pfn]! | PG_MAPLOCK | PG_ANON
          if (++mapcount[pfn]! === 1) {
            pageState[cpu * 8 + NR_MAPPED]!++
            index[pfn] = (page - vmStart[v]!) / 4096 + vmPgoff[v]!
            mapping[pfn] = vmAnonVma[v]!
          }
          flags[pfn] = flags[pfn]! & ~PG_MAPLOCK
        }
      }
      if (kmapHeld[k] !== pt) throw new Error('full skeleton: KM_PTE0 not held')
      kmapHeld[k] = -1
      counters.faultsAnonymous++
      ptr = lookup(page)
      if (!hwAccess(ptr, page)) throw new Error('full skeleton: the retried access faulted')
    }
    const at = pteAt(ptr)
    content[(words[at]! >>> 12) | (words[at + 1]! << 20)] = value >>> 0
  }
  /** munmap of the range (not timed): every page back to its zone, every word as before. */
  const zap = (start: number, pages: number): void => {
    for (let i = 0; i < pages; i++) {
      const ptr = lookup(start + i * 4096)
      const at = pteAt(ptr)
      const pfn = (words[at]! >>> 12) | (words[at + 1]! << 20)
      words[at] = 0
      words[at + 1] = 0
      if (--mapcount[pfn]! === 0) pageState[cpu * 8 + NR_MAPPED]!--
      mapping[pfn] = -1
      const list = zoneOf(pfn) * 2 + 1
      const prev = lruPrev[pfn]!
      const next = lruNext[pfn]!
      if (prev >= 0) lruNext[prev] = next
      else lruHead[list] = next
      if (next >= 0) lruPrev[next] = prev
      lruPrev[pfn] = -1
      lruNext[pfn] = -1
      lruCount[list]!--
      flags[pfn] = 0
      count[pfn] = 0
      pushFree(pfn)
      rss--
    }
    tlbKeys.fill(-1)
  }
  const start = 0x10000000
  vmStart[0] = start
  vmEnd[0] = start + FAULT_PAGES * PAGE_SIZE
  vmFlags[0] = 0x73 // VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
  vmPgoff[0] = start / 4096
  vmAnonVma[0] = 7
  nvmas = 1
  const ns = timeRounds(
    budgetMs,
    3,
    50,
    () => start,
    (a) => {
      for (let i = 0; i < FAULT_PAGES; i++) fault(a + i * PAGE_SIZE, i)
    },
    (a) => zap(a, FAULT_PAGES),
  )
  if (rss !== 0 || pageState[cpu * 8 + NR_MAPPED] !== 0 || kmapHeld.some((h) => h !== -1))
    throw new Error('full skeleton: the munmap did not undo the faults')
  return skeletonResult(
    'fullSkeleton',
    'typed-array skeleton, every word the model writes (i386-pae objrmap, flat; per page)',
    ns,
  )
}
