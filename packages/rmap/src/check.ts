/**
 * `m.check()`: the whole-machine consistency check, run by the tests after
 * every step. Each violation names the invariant it breaks:
 *
 * - every present user pte maps a page whose mapcount counts it (and nothing else does);
 * - the rmap design's own invariants (`m.rmap.check`; for objrmap: the rmap
 *   walk of every mapped page finds exactly mapcount ptes, less the nonlinear
 *   ones, anon pages' (mapping, index) agree with every vma that maps them,
 *   anon_vma lists, see rmap/objrmap/model.ts);
 * - page count covers the mappings (count == mapcount for anonymous pages);
 * - nr_mapped and nr_page_table_pages equal what they count;
 * - rss per mm equals its present ptes of non-reserved pages;
 * - total_vm and locked_vm per mm equal the pages of its vmas and of its VM_LOCKED vmas;
 * - vmas are sorted and do not overlap;
 * - files: a page-cache page has mapping = its address_space, index = its
 *   offset, count = mapcount + 1 (the cache's reference), is on the LRU and lies
 *   below i_size rounded up to a page (nothing cached past EOF after a
 *   truncate); a mapped file page is mapped only by vmas of its file, at its
 *   linear address unless the vma is VM_NONLINEAR, and a file pte lives only in
 *   a VM_NONLINEAR vma; every file vma of a live mm is on exactly one list of
 *   its file (i_mmap_shared if VM_SHARED, else i_mmap) and nothing else is;
 *   Cached and nr_dirty count the cached and the dirty cached pages;
 * - a page on the LRU is mapped, in a page cache or in the swap cache (no leak);
 * - the file ptes the 2.6.7 cluster scan leaves are not mappings and count
 *   as neither ptes nor nonlinear ptes;
 * - swap: every swap pte names a used slot; every used slot's count equals the
 *   swap ptes holding its entry, plus 1 per tmpfs swap-vector entry holding
 *   it, plus 1 when a swap-cache page holds it (a
 *   saturated SWAP_MAP_MAX slot at least that); a slot no cached page holds
 *   keeps the word written to it; a swap-cache page has PG_swapcache,
 *   private = its entry, is on the LRU and has count = mapcount + 1; slot 0 is
 *   never used; SwapFree and each area's in-use count agree with the map;
 * - LRU: each zone's active and inactive lists are well linked, hold only
 *   in-use pages of that zone with PG_lru (PG_active exactly on the active
 *   list) and as many as their counts say; every in-use, non-reserved user
 *   or cache page (mapped, page cache or swap cache; not a page-table page)
 *   is on exactly one of them, and no page outside them has PG_lru;
 * - write-back: PG_writeback exactly on the pages with a write in flight, each
 *   in use, in the swap cache or a page cache, on an LRU list and unlocked;
 *   PG_reclaim only with PG_writeback; nr_writeback counts them;
 * - tmpfs: every tmpfs page is in its page cache (dirty) or in swap, never
 *   both, never lost (shmem.ts checkShmem);
 * - page frames are conserved (free + in use = total);
 * - no kmap slot is left held, and the TLB or hash table holds no stale entry.
 */

import { INIT_MM } from './arch/env.js'
import { PS } from './arch/percpu.js'
import { InvariantError } from './errors.js'
import { AddressSpace } from './filemap.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { VM, type Vma } from './mm/vma.js'
import { pagesUnderWriteback } from './page-writeback.js'
import { lookupPte, NO_PTE, pteWordOffset, userPtePages } from './pgtable.js'
import { checkShmem, shmemSwapRefs } from './shmem.js'
import { SWAP_MAP_MAX } from './swapfile.js'

/** Run every check; throw an InvariantError listing the violations. */
export function runCheck(m: Machine): void {
  const v: string[] = []
  const fr = m.frames
  const f = m.fast
  const ptes = new Int32Array(fr.n)
  // ptes of file pages that a VM_NONLINEAR vma holds away from the page's linear address.
  const nonlinear = new Int32Array(fr.n)
  const liveVmas = new Set<Vma>()
  // Swap ptes per swap entry.
  const swapPtes = new Map<number, number>()
  let ptePages = 0
  for (const p of m.processes()) {
    const mm = p.mm
    let rss = 0
    let prevEnd = 0
    for (const vma of mm.vmas) {
      if (vma.start < prevEnd || vma.start >= vma.end)
        v.push(`vmas of pid ${p.pid} are sorted and do not overlap (0x${vma.start.toString(16)})`)
      prevEnd = vma.end
      liveVmas.add(vma)
      for (let a = vma.start; a < vma.end; a += 4096) {
        const ptr = lookupPte(m.env, mm.id, a)
        if (ptr === NO_PTE) continue
        const w = m.env.tables.words
        const at = pteWordOffset(m.env, ptr)
        const lo = w[at]!
        const hi = f.words === 2 ? w[at + 1]! : 0
        if (!f.present(lo, hi)) {
          if (!f.none(lo, hi) && f.file(lo, hi) && !(vma.flags & VM.NONLINEAR))
            v.push(`a file pte lives only in a VM_NONLINEAR vma (pid ${p.pid}, 0x${a.toString(16)})`)
          if (!f.none(lo, hi) && !f.file(lo, hi)) {
            const e = m.swap.entry(f.swpType(lo, hi), f.swpOffset(lo, hi))
            swapPtes.set(e, (swapPtes.get(e) ?? 0) + 1)
          }
          continue
        }
        const pfn = f.pfn(lo, hi)
        if (pfn >= fr.n) {
          v.push(`a present pte maps a valid pfn (pid ${p.pid}, 0x${a.toString(16)} → ${pfn})`)
          continue
        }
        if (fr.test(pfn, PG.reserved)) continue
        rss++
        ptes[pfn]!++
        if (fr.test(pfn, PG.anon)) {
          if (vma.flags & VM.SHARED)
            v.push(`a VM_SHARED vma maps no anonymous page (pid ${p.pid}, 0x${a.toString(16)} → ${pfn})`)
        } else if (!vma.file || fr.mapping[pfn] !== vma.file.id) {
          v.push(
            `file page ${pfn} (mapping ${fr.mapping[pfn]}) is mapped only by vmas of its file (pid ${p.pid}, 0x${a.toString(16)}, vma file ${vma.file?.id ?? 'none'})`,
          )
        } else if (fr.index[pfn] !== vma.linearIndex(a)) {
          if (vma.flags & VM.NONLINEAR) nonlinear[pfn]!++
          else {
            v.push(
              `file page ${pfn} (index ${fr.index[pfn]}) sits at its linear address in a linear vma (pid ${p.pid}, 0x${a.toString(16)} is index ${vma.linearIndex(a)})`,
            )
          }
        }
      }
    }
    if (rss !== mm.rss) v.push(`rss of pid ${p.pid} (${mm.rss}) equals its present ptes (${rss})`)
    // total_vm and locked_vm: pages of all vmas, and of the VM_LOCKED ones.
    let total = 0
    let locked = 0
    for (const vma of mm.vmas) {
      total += vma.pages
      if (vma.flags & VM.LOCKED) locked += vma.pages
    }
    if (total !== mm.totalVm)
      v.push(`total_vm of pid ${p.pid} (${mm.totalVm}) equals the pages of its vmas (${total})`)
    if (locked !== mm.lockedVm)
      v.push(`locked_vm of pid ${p.pid} (${mm.lockedVm}) equals the pages of its VM_LOCKED vmas (${locked})`)
    void prevEnd
  }
  let mapped = 0
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (m.env.tables.has(pfn)) continue
    const mc = fr.mapcount[pfn]!
    if (mc !== ptes[pfn]) v.push(`mapcount of page ${pfn} (${mc}) counts its ptes (${ptes[pfn]})`)
    if (mc > 0) {
      mapped++
      if (fr.test(pfn, PG.anon) && fr.count[pfn] !== mc + (fr.test(pfn, PG.swapcache) ? 1 : 0)) {
        v.push(`count of anon page ${pfn} (${fr.count[pfn]}) equals its mappings (${mc}) plus the swap cache`)
      }
    }
    if (fr.count[pfn] === 0) continue
    let cache: AddressSpace | null = null
    if (fr.mapping[pfn] !== -1 && !fr.test(pfn, PG.anon)) {
      const obj = m.objects.get(fr.mapping[pfn]!)
      if (obj instanceof AddressSpace) {
        cache = obj
        if (obj.pages.get(fr.index[pfn]!) !== pfn)
          v.push(`page ${pfn} with mapping ${obj.path} is in its page cache at index ${fr.index[pfn]}`)
      }
    }
    if (fr.test(pfn, PG.lru) && mc === 0 && !cache && !fr.test(pfn, PG.swapcache))
      v.push(
        `a page on the LRU is mapped, in a page cache or in the swap cache (page ${pfn} is none: leaked)`,
      )
  }
  let cached = 0
  let dirtyCached = 0
  const listed = new Set<Vma>()
  for (const as of m.fs.files()) {
    for (const [index, pfn] of as.pages) {
      cached++
      if (fr.mapping[pfn] !== as.id || fr.index[pfn] !== index || fr.test(pfn, PG.anon)) {
        v.push(
          `page-cache page ${pfn} of ${as.path} has mapping = its address_space and index = ${index} (mapping ${fr.mapping[pfn]}, index ${fr.index[pfn]})`,
        )
      }
      if (fr.count[pfn] !== fr.mapcount[pfn]! + 1) {
        v.push(
          `count of page-cache page ${pfn} (${fr.count[pfn]}) equals its mappings (${fr.mapcount[pfn]}) plus the cache's reference`,
        )
      }
      if (!fr.test(pfn, PG.lru)) v.push(`page-cache page ${pfn} of ${as.path} is on the LRU`)
      if (index >= as.sizePages)
        v.push(
          `no page is cached past EOF: ${as.path} (i_size ${as.size}) caches index ${index} (page ${pfn})`,
        )
      if (fr.test(pfn, PG.dirty)) dirtyCached++
    }
    for (const [list, shared] of [
      [as.iMmap, false],
      [as.iMmapShared, true],
    ] as const) {
      for (const vma of list) {
        const where = `${as.path} ${shared ? 'i_mmap_shared' : 'i_mmap'}: vma 0x${vma.start.toString(16)}`
        if (listed.has(vma)) v.push(`a file vma is on one list of its file, once (${where})`)
        listed.add(vma)
        if (vma.file !== as) v.push(`a vma on a file's list maps that file (${where})`)
        if (((vma.flags & VM.SHARED) !== 0) !== shared)
          v.push(`a file vma is on i_mmap_shared if VM_SHARED, else on i_mmap (${where})`)
        if (!liveVmas.has(vma)) v.push(`a vma on a file's list belongs to a live mm (${where})`)
      }
    }
  }
  for (const vma of liveVmas) {
    if (vma.file && !listed.has(vma))
      v.push(`a file vma is on its file's list (${vma.file.path}, vma 0x${vma.start.toString(16)})`)
  }
  if (m.fs.nrPages !== cached)
    v.push(`Cached (${m.fs.nrPages} pages) counts the page-cache pages (${cached})`)
  if (m.env.pageState.count(PS.nr_dirty) !== dirtyCached)
    v.push(
      `nr_dirty (${m.env.pageState.count(PS.nr_dirty)}) counts the dirty page-cache pages (${dirtyCached})`,
    )
  for (const pfn of m.fs.tails.keys())
    if (fr.count[pfn] === 0) v.push(`an EOF tail word belongs to a page in use (page ${pfn} is free)`)
  // The rmap design's own invariants (its structures, what its walk finds).
  m.rmap.check(m, { ptes, nonlinear }, v)
  const ps = m.env.pageState
  if (ps.count(PS.nr_mapped) !== mapped)
    v.push(`nr_mapped (${ps.count(PS.nr_mapped)}) equals the mapped pages (${mapped})`)
  for (const p of m.processes()) ptePages += userPtePages(m.env, p.mm.id).length
  // The 2.6.4 profile also counts kernel pte pages (pgtable_add_rmap tags and
  // counts them, except those built before mem_init_done).
  if (m.env.rules.countsKernelPteTables) {
    const g = m.arch.geometry
    for (const pfn of userPtePages(m.env, INIT_MM, g.PTRS_PER_PGD))
      if (fr.mapping[pfn] === INIT_MM) ptePages++
  }
  if (ps.count(PS.nr_page_table_pages) !== ptePages) {
    v.push(
      `nr_page_table_pages (${ps.count(PS.nr_page_table_pages)}) equals the counted pte pages (${ptePages})`,
    )
  }
  const env = m.env
  const free = env.freePagesPerZone().reduce((a, b) => a + b, 0)
  let used = 0
  for (let pfn = 0; pfn < fr.n; pfn++) if (fr.count[pfn]! > 0) used++
  if (free + used + (env.bootmemPages - env.bootmemUsed) !== env.totalPages) {
    v.push(
      `page frames are conserved: free ${free} + in use ${used} + spare bootmem = total ${env.totalPages}`,
    )
  }
  checkSwap(m, swapPtes, v)
  checkShmem(m, v)
  checkLru(m, v)
  checkWriteback(m, v)
  for (const k of env.kmap.outstanding())
    v.push(`kmap slot ${k.slot} on cpu ${k.cpu} is released (holds pfn ${k.pfn})`)
  for (const s of env.mmu.stale()) {
    v.push(
      `the MMU cache holds no stale entry: ${s.cpu >= 0 ? `cpu ${s.cpu}` : 'hash table'} maps 0x${s.address.toString(16)} of mm ${s.mm} to pfn ${s.cachedPfn} (${s.reason})`,
    )
  }
  if (v.length) throw new InvariantError(v)
}

/** Swap conservation (see the module comment). */
function checkSwap(m: Machine, swapPtes: Map<number, number>, v: string[]): void {
  const s = m.swap
  const fr = m.frames
  let free = 0
  let total = 0
  const seen = new Set<number>()
  const vectors = shmemSwapRefs(m)
  for (const area of s.areas) {
    if (!area) continue
    total += area.pages
    const used = area.usedSlots()
    if (used.length !== area.inusePages)
      v.push(
        `swap area ${area.type}: inuse_pages (${area.inusePages}) counts its used slots (${used.length})`,
      )
    free += area.pages - used.length
    for (const [offset, count] of used) {
      const e = s.entry(area.type, offset)
      seen.add(e)
      const where = `swap slot ${area.type}:${offset}`
      if (offset === 0) v.push(`slot 0 of a swap area (its header) is never used (${where})`)
      const ptes = swapPtes.get(e) ?? 0
      const vec = vectors.size === 0 ? 0 : (vectors.get(e) ?? 0)
      const cached = s.cache.has(e) ? 1 : 0
      const expected = ptes + vec + cached
      if (count === SWAP_MAP_MAX ? count < expected : count !== expected)
        v.push(
          `${where}: count ${count} equals its swap ptes (${ptes}) plus tmpfs swap vectors (${vec}) plus the swap cache (${cached})`,
        )
      if (!cached && ptes + vec > 0 && !area.words.has(offset))
        v.push(`${where}: a slot no cached page holds keeps the word written to it`)
    }
    for (const offset of area.words.keys())
      if (!area.count(offset)) v.push(`a free swap slot holds no word (${area.type}:${offset})`)
  }
  for (const [e, n] of swapPtes) {
    if (!seen.has(e))
      v.push(`a swap pte names a used slot (${n} pte(s) hold ${s.type(e)}:${s.offset(e)}, which is free)`)
  }
  if (free !== s.nrSwapPages) v.push(`nr_swap_pages (${s.nrSwapPages}) counts the free slots (${free})`)
  if (total !== s.totalSwapPages)
    v.push(`total_swap_pages (${s.totalSwapPages}) counts the slots of every area (${total})`)
  for (const [e, pfn] of s.cache) {
    const where = `swap-cache page ${pfn} (entry ${s.type(e)}:${s.offset(e)})`
    if (!fr.test(pfn, PG.swapcache)) v.push(`${where} has PG_swapcache`)
    if (fr.getPrivate(pfn) !== e) v.push(`${where} has private = its entry (${fr.getPrivate(pfn)})`)
    if (!fr.test(pfn, PG.lru)) v.push(`${where} is on the LRU`)
    if (fr.count[pfn] !== fr.mapcount[pfn]! + 1)
      v.push(`${where}: count (${fr.count[pfn]}) equals its mappings (${fr.mapcount[pfn]}) plus the cache`)
    if (fr.mapcount[pfn] === 0 && (fr.mapping[pfn] !== -1 || fr.test(pfn, PG.anon)))
      v.push(`${where}: an unmapped swap-cache page has no mapping and PG_anon clear`)
  }
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (fr.test(pfn, PG.swapcache) && s.cache.get(fr.getPrivate(pfn)) !== pfn)
      v.push(`a PG_swapcache page is in the swap cache under its private entry (page ${pfn})`)
  }
}

/**
 * Write-back (page-writeback.ts): PG_writeback exactly on the pages whose
 * write is in flight; each is in use, in the swap cache or a page cache (a
 * page cannot leave its cache while its write runs) and on an LRU list, and
 * not locked (writepage unlocked it); PG_reclaim only on a page under
 * write-back; nr_writeback (meminfo Writeback) counts them.
 */
function checkWriteback(m: Machine, v: string[]): void {
  const fr = m.frames
  const queued = pagesUnderWriteback(m)
  const inflight = new Set(queued)
  const mask = (1 << PG.writeback) | (1 << PG.reclaim)
  const flags = fr.flags
  let n = 0
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if ((flags[pfn]! & mask) === 0) continue // one read per frame: m.check() runs after every step
    const wb = fr.test(pfn, PG.writeback)
    if (!wb) {
      v.push(`PG_reclaim only on a page under write-back (page ${pfn})`)
      continue
    }
    n++
    if (!inflight.has(pfn)) v.push(`a page with PG_writeback has a write in flight (page ${pfn})`)
    if (fr.count[pfn] === 0) v.push(`a page under write-back is in use (page ${pfn} is free)`)
    const cached =
      fr.test(pfn, PG.swapcache) ||
      (!fr.test(pfn, PG.anon) &&
        fr.mapping[pfn] !== -1 &&
        m.objects.get(fr.mapping[pfn]!) instanceof AddressSpace)
    if (!cached) v.push(`a page under write-back is in the swap cache or a page cache (page ${pfn})`)
    if (!fr.test(pfn, PG.lru)) v.push(`a page under write-back is on an LRU list (page ${pfn})`)
    if (fr.test(pfn, PG.locked)) v.push(`a page under write-back is unlocked (page ${pfn})`)
  }
  for (const pfn of queued)
    if (!fr.test(pfn, PG.writeback)) v.push(`a write in flight is of a page with PG_writeback (page ${pfn})`)
  const nr = m.env.pageState.count(PS.nr_writeback)
  if (nr !== n) v.push(`nr_writeback (${nr}) counts the pages under write-back (${n})`)
}

/** LRU consistency: the lists against the page flags and the counts (see the module comment). */
function checkLru(m: Machine, v: string[]): void {
  const fr = m.frames
  const seen = new Uint8Array(fr.n)
  const zones = m.env.zones
  for (let list = 0; list < m.lruHead.length; list++) {
    const zone = list >> 1
    const active = (list & 1) === 1
    const name = `${zones[zone]!.name} ${active ? 'active' : 'inactive'} list`
    let n = 0
    let prev = -1
    for (let pfn = m.lruHead[list]!; pfn >= 0; pfn = fr.lruNext[pfn]!) {
      if (pfn >= fr.n || seen[pfn]) {
        v.push(`the ${name} is well linked: page ${pfn} is reached twice or is no frame`)
        break
      }
      seen[pfn] = 1
      n++
      if (fr.lruPrev[pfn] !== prev) v.push(`the ${name} is well linked: lru.prev of page ${pfn} is ${prev}`)
      prev = pfn
      if (fr.count[pfn] === 0) v.push(`no free page is on an LRU list (page ${pfn} on the ${name})`)
      if (!fr.test(pfn, PG.lru)) v.push(`a page on an LRU list has PG_lru (page ${pfn} on the ${name})`)
      if (fr.test(pfn, PG.active) !== active)
        v.push(`a page is on the active list iff PG_active (page ${pfn} on the ${name})`)
      if (fr.zone(pfn) !== zone) v.push(`a page is on its own zone's list (page ${pfn} on the ${name})`)
    }
    if (n !== m.lruCount[list])
      v.push(
        `nr_${active ? 'active' : 'inactive'} of ${zones[zone]!.name} (${m.lruCount[list]}) counts its list (${n})`,
      )
  }
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (seen[pfn]) continue
    if (fr.count[pfn] === 0 || fr.test(pfn, PG.reserved) || m.env.tables.has(pfn)) {
      if (fr.test(pfn, PG.lru)) v.push(`a page with PG_lru is on an LRU list (page ${pfn} is on none)`)
      continue
    }
    const user =
      fr.mapcount[pfn]! > 0 ||
      fr.test(pfn, PG.swapcache) ||
      (fr.mapping[pfn] !== -1 && m.objects.get(fr.mapping[pfn]!) instanceof AddressSpace)
    // (A PG_lru page that is no user page is the leak the check above reports.)
    if (user) v.push(`every in-use user or cache page is on an LRU list (page ${pfn} is on none)`)
  }
}
