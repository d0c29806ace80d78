// Issue 12, points 1, 2, 3, 5 and 7: reclaim as the -aa tree (ROCm/ROCK-Kernel-Driver
// at 0a71295f, mm/objrmap.c and mm/vmscan.c) ran it, on every layout, with m.check()
// after every step. Each test fails on the model as it was before (noted per test).
import {
  DEF_PRIORITY,
  type InvariantError,
  MAP_SHARED,
  Machine,
  nrFreePagecachePages,
  O_RDWR,
  PAGE_SIZE,
  PG,
  PROT_READ,
  PROT_WRITE,
  swapTendency,
  totalMemory,
  VM_SWAPPINESS,
  zoneWatermarks,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
// get_user_pages with force has no public entry point (no ptrace / access_process_vm in the model).
import { getUserPages } from '../../../packages/rmap/src/mlock.js'
import { ARCHES, anon, pageoutUntilFreed, pages, pfnAt } from './vm-helpers.js'

const P = PAGE_SIZE

describe.each(ARCHES)('-aa reclaim on $name', (arch) => {
  it('1. page_referenced answers 0 for an unmapped page and keeps PG_referenced; the page is freed, not activated', () => {
    // Before: page_referenced tested and cleared PG_referenced first (mainline 2.6.5
    // mm/rmap.c), so m.pageReferenced said 1 and pageout activated the page because
    // the file is still mapped elsewhere (page_mapping_inuse).
    const m = new Machine({ arch, ram: '8M' })
    m.fs.create('/f', { size: pages(2) })
    const p = m.spawn()
    const q = m.spawn()
    const a = p.mmap(0, pages(2), PROT_READ, MAP_SHARED, p.open('/f', O_RDWR), 0)
    q.mmap(0, pages(1), PROT_READ, MAP_SHARED, q.open('/f', O_RDWR), pages(1))
    p.read(a)
    const pfn = pfnAt(p, a)
    p.munmap(a, P) // the file stays mapped: p's page 1 and q's vma
    m.frames.set(pfn, PG.referenced) // mark_page_accessed, as a read() of it would
    m.check()
    expect(m.page(pfn)).toMatchObject({ mapcount: 0, mapping: { kind: 'address_space' } })
    expect(m.pageReferenced(pfn)).toBe(0)
    expect(m.page(pfn).flags, 'PG_referenced is not even looked at').toContain('referenced')
    m.check()
    expect(m.pageout(pfn)).toMatchObject({ result: 'freed', referenced: 0, unmap: null, wrote: false })
    expect(m.frames.count[pfn]).toBe(0)
    m.check()
    expect(p.read(a + P)).toBeGreaterThanOrEqual(0) // the rest of the file is still there
  })

  it('2. kswapd leaves a short inactive list alone: nr_scan_inactive never reaches SWAP_CLUSTER_MAX', () => {
    // Before: max_scan had a floor of SWAP_CLUSTER_MAX and 2·to_reclaim, and
    // refill_counter replaced nr_scan_active: m.reclaim({ pages: 1 }) freed a page.
    const m = new Machine({ arch, ram: '8M', swap: '8M' })
    const p = m.spawn()
    const a = anon(p, 4)
    for (let i = 0; i < 4; i++) p.write(a + pages(i), i + 1)
    for (let i = 0; i < 4; i++) {
      const pfn = pfnAt(p, a + pages(i))
      m.lruDel(pfn)
      m.lruAddInactive(pfn)
      m.pageReferenced(pfn)
    }
    m.check()
    // 4 >> priority is 0 down to priority 3, then 1 + 2 = 3 per balance_pgdat run:
    // nr_scan_inactive reaches SWAP_CLUSTER_MAX only in the 11th run, which scans
    // and writes the 4 pages; the run after the writes completed frees them.
    const r = m.reclaim({ pages: 1 })
    m.check()
    expect(r).toMatchObject({ freed: 4, writes: 4, writebacksCompleted: 4, progress: true })
    expect(r.passes).toBeGreaterThanOrEqual(12)
    for (let i = 0; i < 4; i++) expect(p.read(a + pages(i))).toBe(i + 1)
  })

  it('2. shrink_zone refills the active list by SWAP_CLUSTER_MAX·nr_active/((nr_inactive|1)·2) + 1, all of it', () => {
    // 40 mapped pages, nothing inactive: ratio = 32·40/2 = 640, so the first
    // shrink_zone call refills 641 — every page of the list, with no
    // 4·SWAP_CLUSTER_MAX cap (the 2.6.4 refill_counter capped it at 128).
    const m = new Machine({ arch, ram: '4M', swap: '8M' })
    const p = m.spawn()
    const a = anon(p, 40)
    for (let i = 0; i < 40; i++) p.write(a + pages(i), i)
    m.check()
    const r = m.reclaim({ pages: 1 })
    m.check()
    expect(r.scannedActive).toBeGreaterThanOrEqual(40)
    expect(r.zones.reduce((t, z) => t + z.scanned, 0)).toBe(r.scanned + r.scannedActive)
    for (let i = 0; i < 40; i++) expect(p.read(a + pages(i))).toBe(i)
    m.check()
  })

  it('3. a written page stays under write-back (PG_writeback, Writeback, SwapCached), rotates to the inactive tail, then is freed', () => {
    // Before: pageout wrote the page and freed it in the same pass.
    const m = new Machine({ arch, ram: '8M', swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 3)
    for (let i = 0; i < 3; i++) p.write(a + pages(i), 0x300 + i)
    const pfn = pfnAt(p, a)
    m.pageReferenced(pfn)
    expect(m.pageout(pfn)).toMatchObject({
      result: 'written',
      addedToSwap: true,
      unmap: 'SWAP_SUCCESS',
      wrote: true,
      swap: { type: 0, offset: 1 },
    })
    expect(m.page(pfn).flags).toEqual(expect.arrayContaining(['writeback', 'reclaim', 'swapcache', 'lru']))
    expect(m.page(pfn).flags).not.toContain('dirty')
    expect(m.page(pfn).flags).not.toContain('active')
    expect(m.meminfo()).toMatchObject({ Writeback: 4, SwapCached: 4, SwapFree: 1016 })
    expect(m.stats().swap).toMatchObject({ pagesWritten: 1, freed: 0 })
    m.check()
    // Kept while the write runs; the frame is not freed.
    expect(m.pageout(pfn)).toMatchObject({ result: 'kept', reason: 'under write-back (PG_writeback)' })
    m.check()
    // Put another page behind it on the inactive list: the completion moves ours to the tail.
    const other = pfnAt(p, a + P)
    m.lruDel(other)
    m.lruAddInactive(other)
    m.check()
    expect(m.completeWriteback()).toBe(1)
    expect(m.completeWriteback()).toBe(0)
    expect(m.page(pfn).flags).not.toContain('writeback')
    expect(m.page(pfn).flags).not.toContain('reclaim')
    expect(m.meminfo()).toMatchObject({ Writeback: 0, SwapCached: 4 })
    expect(m.stats().reclaim).toMatchObject({ rotated: 1, writebacksCompleted: 1 })
    let tail = m.lruHead[m.frames.zone(pfn) * 2]!
    while (m.frames.lruNext[tail]! >= 0) tail = m.frames.lruNext[tail]!
    expect(tail, 'rotate_reclaimable_page: at the inactive tail').toBe(pfn)
    m.check()
    expect(m.pageout(pfn)).toMatchObject({ result: 'freed', wrote: false })
    expect(m.meminfo()).toMatchObject({ SwapCached: 0, SwapFree: 1016 })
    expect(m.stats().swap).toMatchObject({ pagesWritten: 1, freed: 1 })
    m.check()
    expect(p.read(a)).toBe(0x300)
    m.check()
  })

  it('3. swap_writepage skips the write when nothing else uses the slot (remove_exclusive_swap_page)', () => {
    // Before: swap_writepage always wrote (pswpout) and the page was freed with its slot.
    const m = new Machine({ arch, ram: '8M', swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 1)
    const pfn = pfnAt(p, a)
    m.pageReferenced(pfn)
    expect(m.pageout(pfn).result).toBe('written')
    // Fault it back from the swap cache while the write runs, dirty it, and unmap it:
    // free_swap_and_cache leaves a page under write-back in the swap cache.
    expect(p.read(a)).toBe(1)
    p.write(a, 2)
    expect(pfnAt(p, a)).toBe(pfn)
    p.munmap(a, P)
    m.check()
    expect(m.page(pfn).flags).toEqual(expect.arrayContaining(['swapcache', 'dirty', 'writeback']))
    expect(m.swapCount(0, 1)).toBe(1)
    m.completeWriteback()
    m.check()
    const written = m.stats().swap.pagesWritten
    const r = m.pageout(pfn)
    expect(r).toMatchObject({ result: 'kept', wrote: false })
    expect(r.reason).toMatch(/^swap_writepage: remove_exclusive_swap_page/)
    expect(m.stats().swap.pagesWritten).toBe(written)
    expect(m.frames.count[pfn], 'the last reference went with the pagevec').toBe(0)
    expect(m.meminfo()).toMatchObject({ SwapCached: 0, SwapFree: 1020 })
    m.check()
  })

  it('3. a dirty page-cache page is written by writepage and freed on a later pass', () => {
    const m = new Machine({ arch, ram: '8M' })
    const f = m.fs.create('/d', { size: pages(1) })
    const p = m.spawn()
    const a = p.mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED, p.open('/d', O_RDWR), 0)
    p.write(a, 0xd1)
    const pfn = pfnAt(p, a)
    m.pageReferenced(pfn)
    expect(m.pageout(pfn)).toMatchObject({ result: 'written', unmap: 'SWAP_SUCCESS', wrote: true })
    expect(m.meminfo()).toMatchObject({ Writeback: 4, Dirty: 0 })
    expect(f.blocks.get(0)).toBe(0xd1)
    m.check()
    m.completeWriteback()
    expect(pageoutUntilFreed(m, pfn).result).toBe('freed')
    expect(p.read(a)).toBe(0xd1)
    m.check()
  })

  it('3. m.check() names write-back inconsistencies', () => {
    const m = new Machine({ arch, ram: '8M', swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 2)
    for (let i = 0; i < 2; i++) p.write(a + pages(i), i)
    const violations = (): string[] => {
      try {
        m.check()
        return []
      } catch (e) {
        return [...(e as InvariantError).violations]
      }
    }
    const x = pfnAt(p, a)
    m.frames.set(x, PG.writeback) // no write in flight, not in a cache, not counted
    expect(violations()).toEqual([
      `a page with PG_writeback has a write in flight (page ${x})`,
      `a page under write-back is in the swap cache or a page cache (page ${x})`,
      'nr_writeback (0) counts the pages under write-back (1)',
    ])
    m.frames.clear(x, PG.writeback)
    m.frames.set(x, PG.reclaim)
    expect(violations()).toEqual([`PG_reclaim only on a page under write-back (page ${x})`])
    m.frames.clear(x, PG.reclaim)
    m.check()
    // A real write in flight: consistent; its page locked is not.
    const y = pfnAt(p, a + P)
    m.pageReferenced(y)
    expect(m.pageout(y).result).toBe('written')
    m.check()
    m.frames.set(y, PG.locked)
    expect(violations()).toEqual([`a page under write-back is unlocked (page ${y})`])
    m.frames.clear(y, PG.locked)
    m.completeWriteback()
    m.check()
  })

  it('5. with no swap, refill_inactive_zone keeps a mapped anonymous page active (page_mapping is NULL)', () => {
    // Before: the no-swap test looked at page->mapping (the anon_vma), so mapped
    // anonymous pages were deactivated, only to be activated again by add_to_swap.
    const m = new Machine({ arch, ram: '4M' })
    const p = m.spawn()
    const n = Math.ceil((m.meminfo().MemTotal / 4) * 0.85)
    const a = anon(p, n)
    for (let i = 0; i < n; i++) p.write(a + pages(i), i)
    for (let i = 0; i < n; i++) m.pageReferenced(pfnAt(p, a + pages(i)))
    m.check()
    const r = m.reclaim({ pages: 1 })
    m.check()
    expect(r.reclaimMapped).toBe(true)
    expect(r.scannedActive).toBeGreaterThan(0)
    expect(r).toMatchObject({ deactivated: 0, freed: 0, addedToSwap: 0 })
    for (let i = 0; i < n; i++) expect(m.page(pfnAt(p, a + pages(i))).flags).toContain('active')
  })

  it('7. total_memory is nr_free_pagecache_pages(): Σ present − pages_high', () => {
    // Before: total_memory was the usable frames (MemTotal in pages).
    const m = new Machine({ arch, ram: '8M' })
    const wm = zoneWatermarks(m.env)
    // min_free_kbytes = int_sqrt(8192) = 90 → 128; pages_min 32 split by size; pages_high = 3·pages_min.
    expect(wm.map((z) => z.pagesHigh).reduce((s, h) => s + h, 0)).toBe(96)
    const expected = wm.reduce((s, z) => s + Math.max(0, z.present - z.pagesHigh), 0)
    expect(totalMemory(m)).toBe(expected)
    expect(nrFreePagecachePages(m.env)).toBe(2048 - 96)
    expect(totalMemory(m)).not.toBe(m.meminfo().MemTotal / 4)
    expect(swapTendency(0, totalMemory(m), DEF_PRIORITY).swapTendency).toBe(VM_SWAPPINESS)
  })

  it('7. exclusive_swap_page discounts buffers (PagePrivate): a write fault reuses the page', () => {
    // Before: page_count == 2 without the PagePrivate discount, so a swap-cache
    // page with buffers (count 3) was copied.
    const m = new Machine({ arch, ram: '8M', swap: '1M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 5)
    const pfn = pfnAt(p, a)
    m.pageReferenced(pfn)
    expect(pageoutUntilFreed(m, pfn).result).toBe('freed')
    expect(p.read(a)).toBe(5) // swapped in: swap cache, read-only pte, slot count 1
    const page = pfnAt(p, a)
    // Buffers on it: PG_private and their reference.
    m.frames.set(page, PG.private)
    m.getPage(page)
    p.write(a, 6)
    expect(pfnAt(p, a), 'reused, not copied').toBe(page)
    m.frames.clear(page, PG.private)
    m.putPage(page)
    m.check()
    expect(p.read(a)).toBe(6)
  })

  it('7. a forced get_user_pages write COWs a read-only private page; break_cow leaves it read-only', () => {
    // Before: break_cow made the copy writable whatever the vma, and the retry
    // looked for a writable pte again (write, not write && !force).
    const m = new Machine({ arch, ram: '8M' })
    m.fs.create('/r', { size: pages(1) })
    const p = m.spawn()
    const a = p.mmap(0, P, PROT_READ, 0x02 /* MAP_PRIVATE */, p.open('/r', O_RDWR), 0)
    p.read(a) // the file page, mapped read-only: the forced write goes through do_wp_page
    const file = pfnAt(p, a)
    expect(getUserPages(m, m.cpus[0]!, p.mm, p.pid, a, 1, true, true)).toBe(1)
    expect(pfnAt(p, a), 'a private copy').not.toBe(file)
    m.check()
    const e = p.pagemap(a)
    expect(e).toMatchObject({ present: true, write: false, dirty: true })
    expect(m.page(e.pfn!).flags).toContain('anon')
    // Without force the read-only vma refuses the write.
    expect(getUserPages(m, m.cpus[0]!, p.mm, p.pid, a, 1, true, false)).toBe('EFAULT')
    m.check()
  })
})
