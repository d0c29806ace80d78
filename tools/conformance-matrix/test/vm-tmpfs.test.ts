// tmpfs (issue 4 item 5): /dev/shm files are swap-backed; shmem_writepage,
// move_to_swap_cache / move_from_swap_cache, shmem_getpage, truncate of a
// tmpfs file, swapoff's shmem_unuse (docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (17, 19, 20); docs/scenarios.md#f4), on every layout, with m.check() after
// every step.
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_CREAT,
  O_RDWR,
  PAGE_SIZE,
  type PageoutReport,
  PG,
  PROT_READ,
  PROT_WRITE,
  SignalError,
  writePage,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, errnoOf, pageoutUntilFreed, pages, pfnAt } from './vm-helpers.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE

describe.each(ARCHES)('tmpfs on $name', (arch) => {
  /**
   * Reclaim a page through m.pageout until it leaves: a first pass may only
   * find it referenced; shmem_writepage moves it to the swap cache (dirty),
   * the next pass writes it there, and once the write completed one more frees it.
   */
  function reclaim(m: Machine, pfn: number): PageoutReport {
    return pageoutUntilFreed(m, pfn)
  }

  it('F4: the page moves to swap only after every mapping is removed; faults bring it back', () => {
    const m = new Machine({ arch, swap: '1M' })
    const file = m.fs.create('/dev/shm/f4', { size: 2 * P })
    const p = m.spawn()
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, p.open('/dev/shm/f4', O_RDWR), 0)
    const c = p.fork()
    m.check()
    p.write(a, 0x1111)
    c.write(a + P, 0x2222)
    m.check()
    expect(c.read(a)).toBe(0x1111)
    const pfn = pfnAt(p, a)
    expect(pfnAt(c, a)).toBe(pfn)
    expect(m.page(pfn).mapcount).toBe(2)
    expect(m.page(pfn).mapping).toEqual({ kind: 'address_space', id: file.id })
    // Reclaim page 0: the i_mmap_shared walk unmaps both ptes first, then shmem_writepage.
    const r = reclaim(m, pfn)
    expect(r.result).toBe('freed')
    expect(r.unmap).toBe('SWAP_SUCCESS')
    expect(r.wrote).toBe(true)
    expect(p.pagemap(a)).toEqual({ present: false, swapped: false }) // pte_none, not a swap pte
    expect(c.pagemap(a)).toEqual({ present: false, swapped: false })
    expect(file.shmem!.swapped).toBe(1)
    expect(file.pages.has(0)).toBe(false)
    const entry = file.shmem!.swap.get(0)!
    expect(m.swapCount(m.swap.type(entry), m.swap.offset(entry))).toBe(1) // the vector's reference
    expect(m.meminfo().SwapFree).toBe(1020 - 4)
    // C reads: shmem_getpage finds the swap entry, reads it, moves it back into the page cache.
    expect(c.read(a)).toBe(0x1111)
    m.check()
    const back = pfnAt(c, a)
    expect(m.page(back).mapcount).toBe(1)
    expect(m.page(back).flags).not.toContain('swapcache')
    expect(m.page(back).mapping).toEqual({ kind: 'address_space', id: file.id })
    expect(file.shmem!.swapped).toBe(0)
    expect(m.meminfo()).toMatchObject({ SwapFree: 1020, SwapCached: 0 })
    // P reads: the page cache page; mapcount 2.
    expect(p.read(a)).toBe(0x1111)
    m.check()
    expect(pfnAt(p, a)).toBe(back)
    expect(m.page(back).mapcount).toBe(2)
    expect(p.read(a + P)).toBe(0x2222)
    m.check()
  })

  it('F4, SHM_LOCK through shrink_list: pageout of an unmapped locked tmpfs page activates it (WRITEPAGE_ACTIVATE)', () => {
    const m = new Machine({ arch, swap: '1M' })
    const file = m.fs.create('/dev/shm/pinned', { size: P })
    const p = m.spawn()
    const a = p.mmap(0, P, RW, MAP_SHARED, p.open('/dev/shm/pinned', O_RDWR), 0)
    p.write(a, 0x99)
    const pfn = pfnAt(p, a)
    m.fs.shmLock(file, true)
    p.munmap(a, P)
    m.check()
    m.pageout(pfn) // PG_referenced from the fault: activated, not written
    m.check()
    const r = m.pageout(pfn)
    expect(r.result).toBe('activated')
    expect(r.reason).toBe('writepage refused (WRITEPAGE_ACTIVATE)')
    expect(file.pages.get(0)).toBe(pfn)
    expect(m.page(pfn).flags).toEqual(expect.arrayContaining(['dirty', 'active', 'lru']))
    expect(file.shmem!.swapped).toBe(0)
    m.check()
    m.fs.shmLock(file, false)
    // shmem_writepage moves it to the swap cache (kept, dirty); the next pass
    // writes it there; once the write completed, the one after frees it.
    expect(m.pageout(pfn)).toMatchObject({ result: 'kept', wrote: false })
    expect(file.shmem!.swapped).toBe(1)
    expect(m.page(pfn).flags).toEqual(expect.arrayContaining(['swapcache', 'dirty']))
    m.check()
    expect(m.pageout(pfn)).toMatchObject({ result: 'written', wrote: true })
    m.check()
    expect(m.completeWriteback()).toBe(1)
    expect(m.pageout(pfn).result).toBe('freed')
    expect(file.shmem!.swapped).toBe(1)
    m.check()
    const q = m.spawn()
    const b = q.mmap(0, P, PROT_READ, MAP_SHARED, q.open('/dev/shm/pinned', O_RDWR), 0)
    expect(q.read(b)).toBe(0x99)
    m.check()
  })

  it('F4, SHM_LOCK: a locked inode redirties in shmem_writepage; the page stays in the page cache', () => {
    const m = new Machine({ arch, swap: '1M' })
    const file = m.fs.create('/dev/shm/locked', { size: P })
    const p = m.spawn()
    const a = p.mmap(0, P, RW, MAP_SHARED, p.open('/dev/shm/locked', O_RDWR), 0)
    p.write(a, 0x77)
    m.check()
    const pfn = pfnAt(p, a)
    m.fs.shmLock('/dev/shm/locked', true)
    p.munmap(a, P) // the dirty pte moves to PG_dirty
    m.check()
    // writepage as shrink_list calls it: page locked, unmapped.
    m.frames.set(pfn, PG.locked)
    expect(writePage(m, m.cpus[0]!, pfn)).toBe(false)
    expect(file.pages.get(0)).toBe(pfn)
    expect(m.page(pfn).flags).toContain('dirty')
    expect(file.shmem!.swapped).toBe(0)
    m.frames.clear(pfn, PG.locked)
    m.check()
    // SHM_UNLOCK: the next writepage moves it to the swap cache.
    m.fs.shmLock(file, false)
    m.frames.set(pfn, PG.locked)
    expect(writePage(m, m.cpus[0]!, pfn)).toBe(true)
    m.frames.clear(pfn, PG.locked)
    m.check()
    expect(m.page(pfn).flags).toContain('swapcache')
    expect(file.pages.has(0)).toBe(false)
    expect(file.shmem!.swapped).toBe(1)
    expect(m.meminfo().SwapCached).toBe(4)
    // A new mapping finds it in the swap cache (no read) and moves it back.
    const q = m.spawn()
    const b = q.mmap(0, P, PROT_READ, MAP_SHARED, q.open('/dev/shm/locked', O_RDWR), 0)
    expect(q.read(b)).toBe(0x77)
    expect(pfnAt(q, b)).toBe(pfn)
    expect(m.meminfo().SwapCached).toBe(0)
    m.check()
    expect(errnoOf(() => m.fs.shmLock('/dev/shm/none', true))).toBe('EINVAL')
    m.fs.create('/tmp/disk')
    expect(errnoOf(() => m.fs.shmLock('/tmp/disk', true))).toBe('EINVAL')
  })

  it('F4, mlock of the mapping: try_to_unmap fails (VM_LOCKED) and the page stays in the page cache', () => {
    const m = new Machine({ arch, swap: '1M' })
    const file = m.fs.create('/dev/shm/ml', { size: P })
    const p = m.spawn()
    const a = p.mmap(0, P, RW, MAP_SHARED, p.open('/dev/shm/ml', O_RDWR), 0)
    p.write(a, 0x99)
    p.mlock(a, P)
    m.check()
    const pfn = pfnAt(p, a)
    const r = m.pageout(pfn)
    m.check()
    expect(r.result).toBe('activated')
    const r2 = m.pageout(pfn)
    m.check()
    expect(r2).toMatchObject({ result: 'activated', unmap: 'SWAP_FAIL', wrote: false })
    expect(file.pages.get(0)).toBe(pfn)
    expect(file.shmem!.swapped).toBe(0)
    expect(p.read(a)).toBe(0x99)
  })

  it('a new tmpfs file reads zeros; SIGBUS past i_size; sync does not write it', () => {
    const m = new Machine({ arch, swap: '1M' })
    const p = m.spawn()
    const fd = p.open('/dev/shm/z', O_RDWR | O_CREAT)
    p.ftruncate(fd, P)
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0)
    expect(p.read(a)).toBe(0)
    p.write(a, 3)
    m.check()
    expect(m.fs.sync()).toBe(0)
    m.check()
    let sig: unknown
    try {
      p.read(a + P)
    } catch (e) {
      sig = e
    }
    expect(sig).toBeInstanceOf(SignalError)
    expect(sig).toMatchObject({ signal: 'SIGBUS', address: a + P })
    m.check()
    expect(() => m.fs.create('/dev/shm/f', { fill: 1 })).toThrow(RangeError)
  })

  it('truncate of a tmpfs file frees its swap slots (and its cached pages)', () => {
    const m = new Machine({ arch, swap: '1M' })
    const file = m.fs.create('/dev/shm/t', { size: 4 * P })
    const p = m.spawn()
    const fd = p.open('/dev/shm/t', O_RDWR)
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
    for (let i = 0; i < 4; i++) p.write(a + pages(i), 0x40 + i)
    m.check()
    for (let i = 0; i < 3; i++) expect(reclaim(m, pfnAt(p, a + pages(i))).result).toBe('freed')
    expect(file.shmem!.swapped).toBe(3)
    expect(m.swapAreas()[0]!.used).toBe(3)
    p.ftruncate(fd, P)
    m.check()
    expect(file.shmem!.swapped).toBe(1)
    expect(m.swapAreas()[0]!.used).toBe(1)
    expect(file.pages.size).toBe(0)
    p.ftruncate(fd, 0)
    m.check()
    expect(m.swapAreas()[0]!.used).toBe(0)
    expect(m.meminfo().SwapFree).toBe(1020)
    p.ftruncate(fd, 2 * P) // grown again: zeros
    expect(p.read(a)).toBe(0)
    expect(p.read(a + P)).toBe(0)
    m.check()
  })

  it('swapoff with tmpfs pages in swap: shmem_unuse puts them back in the page cache', () => {
    const m = new Machine({ arch, swap: '1M' })
    const file = m.fs.create('/dev/shm/s', { size: 3 * P })
    const p = m.spawn()
    const a = p.mmap(0, 3 * P, RW, MAP_SHARED, p.open('/dev/shm/s', O_RDWR), 0)
    for (let i = 0; i < 3; i++) p.write(a + pages(i), 0x70 + i)
    // An anonymous page in the same area too.
    const an = p.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(an, 0xabc)
    m.check()
    for (let i = 0; i < 2; i++) expect(reclaim(m, pfnAt(p, a + pages(i))).result).toBe('freed')
    expect(reclaim(m, pfnAt(p, an)).result).toBe('freed')
    expect(file.shmem!.swapped).toBe(2)
    const r = m.swapoff(0)
    m.check()
    expect(r).toEqual({ type: 0, slots: 3, pagesRead: 3, ptes: 1, shmem: 2 })
    expect(file.shmem!.swapped).toBe(0)
    expect(file.pages.size).toBe(3)
    expect(m.meminfo()).toMatchObject({ SwapTotal: 0, SwapCached: 0 })
    expect(p.pagemap(a).present).toBe(false) // shmem_unuse fills the page cache, not the ptes
    for (let i = 0; i < 3; i++) expect(p.read(a + pages(i))).toBe(0x70 + i)
    expect(p.read(an)).toBe(0xabc)
    m.check()
  })

  it('ENOMEM for swapoff counts tmpfs pages in swap too; nothing changed', () => {
    const m = new Machine({ arch, ram: '8M', swap: '1M' })
    const file = m.fs.create('/dev/shm/e', { size: 4 * P })
    const p = m.spawn()
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, p.open('/dev/shm/e', O_RDWR), 0)
    for (let i = 0; i < 4; i++) p.write(a + pages(i), 0x90 + i)
    for (let i = 0; i < 4; i++) expect(reclaim(m, pfnAt(p, a + pages(i))).result).toBe('freed')
    const hog = m.spawn()
    const h = hog.mmap(0, pages(m.meminfo().MemFree / 4), RW, MAP_PRIVATE | MAP_ANONYMOUS)
    let i = 0
    while (m.meminfo().MemFree / 4 >= 4) hog.write(h + pages(i++), 1)
    m.check()
    const before = { areas: m.swapAreas(), meminfo: m.meminfo(), vec: [...file.shmem!.swap] }
    expect(errnoOf(() => m.swapoff(0))).toBe('ENOMEM')
    expect({ areas: m.swapAreas(), meminfo: m.meminfo(), vec: [...file.shmem!.swap] }).toEqual(before)
    m.check()
    hog.exit()
    expect(m.swapoff(0).shmem).toBe(4)
    m.check()
    for (let k = 0; k < 4; k++) expect(p.read(a + pages(k))).toBe(0x90 + k)
    m.check()
  })

  it('a small mixed load: fork, tmpfs and anonymous writes, reclaim, truncate, then swapoff; nothing lost', () => {
    const m = new Machine({ arch, swap: '1M' })
    const N = 6
    m.fs.create('/dev/shm/mix', { size: N * P })
    const root = m.spawn()
    const fd = root.open('/dev/shm/mix', O_RDWR)
    const sh = root.mmap(0, N * P, RW, MAP_SHARED, fd, 0)
    const an = root.mmap(0, N * P, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    const shared = new Array<number>(N).fill(0)
    const procs = [{ p: root, anon: new Map<number, number>() }]
    let x = 12345
    const rnd = (n: number): number => {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      return (x >>> 0) % n
    }
    let ops = 0
    for (let step = 0; step < 240; step++) {
      const who = procs[rnd(procs.length)]!
      const i = rnd(N)
      switch (rnd(6)) {
        case 0: {
          const v = (step << 8) | i
          who.p.write(sh + pages(i), v)
          shared[i] = v
          break
        }
        case 1: {
          const v = (step << 8) | 0x80 | i
          who.p.write(an + pages(i), v)
          who.anon.set(i, v)
          break
        }
        case 2:
          expect(who.p.read(sh + pages(i))).toBe(shared[i])
          expect(who.p.read(an + pages(i))).toBe(who.anon.get(i) ?? 0)
          break
        case 3:
          if (procs.length < 4) procs.push({ p: who.p.fork(), anon: new Map(who.anon) })
          break
        case 4: {
          for (const addr of [sh + pages(i), an + pages(i)]) {
            const e = who.p.pagemap(addr)
            if (!e.present) continue
            for (let t = 0; t < 3 && m.page(e.pfn!).flags.includes('lru'); t++)
              if (m.pageout(e.pfn!).result === 'freed') break
          }
          break
        }
        case 5:
          if (rnd(4) === 0) {
            // Shrink and regrow: pages past the cut read zeros again, their slots are freed.
            root.ftruncate(fd, i * P)
            m.check()
            root.ftruncate(fd, N * P)
            for (let k = i; k < N; k++) shared[k] = 0
          }
          break
      }
      ops++
      m.check()
    }
    expect(m.stats().swap.pagesWritten).toBeGreaterThan(0)
    const r = m.swapoff(0)
    expect(r.ptes + r.shmem).toBeGreaterThan(0)
    m.check()
    expect(m.meminfo()).toMatchObject({ SwapTotal: 0, SwapCached: 0 })
    for (const { p, anon } of procs) {
      for (let i = 0; i < N; i++) {
        expect(p.read(sh + pages(i))).toBe(shared[i])
        expect(p.read(an + pages(i))).toBe(anon.get(i) ?? 0)
      }
    }
    m.check()
    expect(ops).toBe(240)
  })
})
