/**
 * Layer (c), the whole VM, swap-out: the reclaim of one page through
 * `m.pageout` (shrink_list's order: page_referenced, add_to_swap,
 * try_to_unmap, pageout, free) in scenarios F2 and F4, and the swap-out steps
 * of C1, C3 and E1 that vm-scenarios.ts and vm-files.ts leave out, from
 * docs/scenarios.md, run through the public API of a fresh
 * `Machine` with one 1 MB swap area (255 slots, 1020 kB) and `m.check()` after
 * every step.
 */
import {
  MAP_SHARED,
  type Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  type PageoutReport,
  type Process,
} from '@rmaplab/rmap'
import { expect } from 'vitest'
import type { CheckDef } from './define.js'
import { design, L, needVm, PRIVATE, PTE_NONE, pfnOf, RW, type Step, stepper, vmMachine } from './vm-kit.js'

const P = PAGE_SIZE
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED
/** The swap area every check swaps to. */
const SWAP = '1M'
/** SwapTotal (and SwapFree when no slot is used) of {@link SWAP}, in kB: 255 slots, slot 0 is the header. */
const SWAP_KB = 1020
/** "hell" of "hello": the word C writes in E1. */
const HELLO = 0x68656c6c

/** What pagemap says of a swap pte of area 0 at `offset`. */
const swapPte = (offset: number) => ({ present: false, swapped: true, swapType: 0, swapOffset: offset })

/**
 * Reclaim the page `p` maps at `addr` through `m.pageout`, pass after pass as
 * shrink_list would: a page just touched is found referenced on the first pass
 * and activated (F2); a tmpfs page is moved to the swap cache by
 * shmem_writepage and kept (F4); a dirty page is written and stays under
 * write-back (result `'written'`, the -aa shrink_list's `goto keep`) until the
 * write completes (`m.completeWriteback()`), and the next pass frees it.
 * Returns the freeing pass's report with the work of the earlier passes folded
 * in (addedToSwap and wrote if any pass did, the first try_to_unmap answer).
 */
function swapOut(m: Machine, step: Step, p: Process, addr: number, what: string): PageoutReport {
  const pfn = pfnOf(p, addr)
  let r = step(`pageout ${what}: first pass`, () => m.pageout(pfn))
  if (r.result === 'activated') {
    expect(
      { result: r.result, reason: r.reason, addedToSwap: r.addedToSwap },
      `${what}: a page that is not taken at once was only found referenced`,
    ).toEqual({ result: 'activated', reason: 'referenced and in use', addedToSwap: false })
  }
  let { addedToSwap, wrote, unmap } = r
  for (let pass = 2; r.result !== 'freed'; pass++) {
    expect(pass, `${what}: freed within 4 passes`).toBeLessThanOrEqual(4)
    if (r.result === 'written') {
      expect(m.page(pfn).flags, `${what}: PG_writeback while the write is in flight`).toContain('writeback')
      step(`${what}: the write completes`, () => m.completeWriteback())
    } else if (r.result === 'kept') {
      expect(r.reason, `${what}: kept only after shmem_writepage`).toMatch(/^shmem_writepage moved it/)
    }
    r = step(`pageout ${what}: pass ${pass}`, () => m.pageout(pfn))
    addedToSwap ||= r.addedToSwap
    wrote ||= r.wrote
    unmap ??= r.unmap
  }
  return { ...r, addedToSwap, wrote, unmap }
}

export const vmSwapChecks: CheckDef[] = [
  {
    id: 'vm.c1.swap',
    layer: L,
    cite: () =>
      'docs/scenarios.md#c1 (swap-out); docs/designs.md#objrmap-and-anon_vma mremap and vm_pgoff, try_to_unmap',
    title:
      'after mremap(MAYMOVE|FIXED) of 2 written pages the vma keeps the original vm_pgoff; both pages swap out at their new address (SWAP_SUCCESS, slots 1 and 2, swap ptes at the destination, the old range pte_none) and read back with their data; exit frees every slot',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx, undefined, { swap: SWAP })
      const step = stepper(m)
      const p = m.spawn()
      const x = step('map 2 pages RW', () => p.mmap(0, 2 * P, RW, PRIVATE))
      step('write the pattern', () => {
        p.write(x, 0xa1)
        p.write(x + P, 0xa2)
      })
      const y = step('mremap to a non-overlapping destination', () =>
        p.mremap(x, 2 * P, 2 * P, MOVE, x + 32 * P),
      )
      expect([p.read(y), p.read(y + P)], 'the destination holds the pattern').toEqual([0xa1, 0xa2])
      m.check()
      expect(p.mm.vmaAt(y)?.pgoff, 'the moved vma keeps the original vm_pgoff').toBe(
        design(ctx).movedPgoff(design(ctx).anonPgoff(x) / P, y / P),
      )
      const r = [swapOut(m, step, p, y, 'page 0'), swapOut(m, step, p, y + P, 'page 1')]
      expect(
        r.map((o) => [o.addedToSwap, o.swap, o.unmap, o.wrote]),
        'each page gets a slot, is unmapped through the walk at its new address, and is written',
      ).toEqual([
        [true, { type: 0, offset: 1 }, 'SWAP_SUCCESS', true],
        [true, { type: 0, offset: 2 }, 'SWAP_SUCCESS', true],
      ])
      expect([p.pagemap(y), p.pagemap(y + P), p.pagemap(x), p.pagemap(x + P)]).toEqual([
        swapPte(1),
        swapPte(2),
        PTE_NONE,
        PTE_NONE,
      ])
      expect(m.meminfo()).toMatchObject({ SwapTotal: SWAP_KB, SwapFree: SWAP_KB - 8, SwapCached: 0 })
      expect(p.mm.rss).toBe(0)
      expect(
        step('read both pages back', () => [p.read(y), p.read(y + P)]),
        'swapped back in with their data',
      ).toEqual([0xa1, 0xa2])
      expect(m.stats().swap).toMatchObject({ addToSwap: 2, pagesWritten: 2, pagesRead: 2, majorFaults: 2 })
      step('P exits', () => p.exit())
      expect(m.meminfo(), 'every slot and swap-cache page freed').toMatchObject({
        SwapFree: SWAP_KB,
        SwapCached: 0,
      })
    },
  },
  {
    id: 'vm.c3.swap',
    layer: L,
    cite: () =>
      'docs/scenarios.md#c3 (anon_vma, swap-out); docs/designs.md#objrmap-and-anon_vma try_to_unmap_anon, do_swap_page',
    title:
      'fork, the child moves 4 shared pages: swap-out of each page removes both ptes (P at X, C at Y) through the one anon_vma, the slot counts 2, 4 frames freed and no copies; reads bring each page back shared (mapcount 2, count 3, slot count 1); both exit: SwapFree back',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx, undefined, { swap: SWAP })
      const step = stepper(m)
      const p = m.spawn()
      const x = step('P maps 4 pages RW', () => p.mmap(0, 4 * P, RW, PRIVATE))
      step('P writes them', () => {
        for (let i = 0; i < 4; i++) p.write(x + i * P, 0x100 + i)
      })
      const c = step('fork', () => p.fork())
      const y = step('C moves all 4 pages to Y', () => c.mremap(x, 4 * P, 4 * P, MOVE, x + 64 * P))
      const d = design(ctx)
      expect(c.mm.vmaAt(y)?.pgoff, "C's moved vma keeps vm_pgoff = X >> PAGE_SHIFT").toBe(
        d.movedPgoff(d.anonPgoff(x) / P, y / P),
      )
      if (d.mremapCopiesShared) {
        // anonmm: the move copied every shared page first ("mremap moved 4
        // cows"), so each swap-out takes P's page alone and C keeps its copy.
        expect(m.stats().cow.copies, 'mremap copied the 4 shared pages').toBe(4)
        for (let i = 0; i < 4; i++) {
          const pfn = pfnOf(p, x + i * P)
          expect(
            { other: pfnOf(c, y + i * P) !== pfn, mapcount: m.page(pfn).mapcount },
            `page ${i}: two frames`,
          ).toEqual({ other: true, mapcount: 1 })
          const r = swapOut(m, step, p, x + i * P, `page ${i}`)
          expect(r, `page ${i}: P's pte unmapped, written`).toMatchObject({
            addedToSwap: true,
            swap: { type: 0, offset: i + 1 },
            unmap: 'SWAP_SUCCESS',
            wrote: true,
          })
          expect(m.swapCount(0, i + 1), `page ${i}: one swap pte`).toBe(1)
          expect(c.pagemap(y + i * P).present, "C's copy stays").toBe(true)
        }
        for (let i = 0; i < 4; i++) {
          expect(
            step(`page ${i}: P and C read`, () => [p.read(x + i * P), c.read(y + i * P)]),
            `page ${i}: data intact`,
          ).toEqual([0x100 + i, 0x100 + i])
        }
        step('P exits', () => p.exit())
        step('C exits', () => c.exit())
        expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
        return
      }
      const free = m.meminfo().MemFree
      for (let i = 0; i < 4; i++) {
        const pfn = pfnOf(p, x + i * P)
        expect(
          { c: pfnOf(c, y + i * P), mapcount: m.page(pfn).mapcount },
          `page ${i}: one frame, two ptes`,
        ).toEqual({
          c: pfn,
          mapcount: 2,
        })
        const r = swapOut(m, step, p, x + i * P, `page ${i}`)
        expect(r, `page ${i}: both ptes unmapped, written`).toMatchObject({
          addedToSwap: true,
          swap: { type: 0, offset: i + 1 },
          unmap: 'SWAP_SUCCESS',
          wrote: true,
        })
        expect([p.pagemap(x + i * P), c.pagemap(y + i * P)], `page ${i}: a swap pte at X and at Y`).toEqual([
          swapPte(i + 1),
          swapPte(i + 1),
        ])
        expect(m.swapCount(0, i + 1), `page ${i}: the slot holds both swap ptes`).toBe(2)
      }
      expect(m.meminfo().MemFree - free, '4 frames freed').toBe(16)
      expect(m.stats().cow.copies, 'no copies').toBe(0)
      for (let i = 0; i < 4; i++) {
        expect(
          step(`page ${i}: P and C read`, () => [p.read(x + i * P), c.read(y + i * P)]),
          `page ${i}: data intact`,
        ).toEqual([0x100 + i, 0x100 + i])
        const pfn = pfnOf(p, x + i * P)
        expect(pfnOf(c, y + i * P), `page ${i}: one frame again`).toBe(pfn)
        expect(
          { mapcount: m.page(pfn).mapcount, count: m.page(pfn).count, slot: m.swapCount(0, i + 1) },
          `page ${i}: two ptes and the swap cache; the slot keeps the swap cache's reference`,
        ).toEqual({ mapcount: 2, count: 3, slot: 1 })
      }
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB - 16, SwapCached: 16 })
      expect(m.stats().cow.copies, 'still no copies').toBe(0)
      step('P exits', () => p.exit())
      step('C exits', () => c.exit())
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
    },
  },
  {
    id: 'vm.e1.swap',
    layer: L,
    cite: () =>
      'docs/scenarios.md#e1 (swap-out); docs/designs.md#objrmap-and-anon_vma page_referenced_inode, try_to_unmap_inode',
    title:
      'a shared file page written by the child and read by the parent: reclaim unmaps both ptes through the file lists (pte_none, not swap entries), writes the word to the file and frees the page without a swap slot; the parent reads it back from the file',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx, undefined, { swap: SWAP })
      const step = stepper(m)
      const file = step('create a 4-page file', () => m.fs.create('/e1s', { size: 4 * P, fill: 0 }))
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/e1s', O_RDWR))
      const a = step('mmap 4 pages MAP_SHARED RW', () => p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0))
      const c = step('fork', () => p.fork())
      step('C writes "hell" to page 2', () => c.write(a + 2 * P, HELLO))
      expect(step('P reads page 2', () => p.read(a + 2 * P))).toBe(HELLO)
      const pfn = pfnOf(p, a + 2 * P)
      expect({ c: pfnOf(c, a + 2 * P), mapcount: m.page(pfn).mapcount }).toEqual({ c: pfn, mapcount: 2 })
      expect(file.diskWord(2), 'not on disk yet').toBe(0)
      const r = swapOut(m, step, p, a + 2 * P, 'page 2')
      expect(r, 'no swap slot: unmapped and written back to the file').toMatchObject({
        addedToSwap: false,
        swap: null,
        unmap: 'SWAP_SUCCESS',
        wrote: true,
      })
      expect([p.pagemap(a + 2 * P), c.pagemap(a + 2 * P)], 'both ptes pte_none').toEqual([PTE_NONE, PTE_NONE])
      expect(
        { disk: file.diskWord(2), cached: file.pages.has(2), count: m.page(pfn).count },
        'the word on disk, the page out of the page cache and freed',
      ).toEqual({ disk: HELLO, cached: false, count: 0 })
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
      expect(
        step('P reads page 2 again', () => p.read(a + 2 * P)),
        'read back from the file',
      ).toBe(HELLO)
      expect(m.page(pfnOf(p, a + 2 * P)).mapcount).toBe(1)
    },
  },
  {
    id: 'vm.f2',
    layer: L,
    cite: () =>
      'docs/scenarios.md#f2; docs/designs.md#locking-and-the-reclaim-order shrink_list order, docs/designs.md#objrmap-and-anon_vma page_referenced, try_to_unmap',
    title:
      'a written anon page: the first pageout finds it referenced (PG_referenced and the young pte) and activates it, the pte intact with its young bit now clear; the second finds it unreferenced, adds it to swap, unmaps it (the pte holds the swap entry) and writes it, leaving it under write-back (kept by a pass meanwhile); once the write completes the next pass frees it; a read swaps it back in with its data',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx, undefined, { swap: SWAP })
      const step = stepper(m)
      const p = m.spawn()
      const a = step('map 1 page RW', () => p.mmap(0, P, RW, PRIVATE))
      step('write it', () => p.write(a, 0xdeadbeef))
      const pfn = pfnOf(p, a)
      expect(p.pagemap(a).young, 'the young bit is set').toBe(true)
      expect(
        step('first pageout', () => m.pageout(pfn)),
        'found referenced: activated',
      ).toEqual({
        pfn,
        result: 'activated',
        reason: 'referenced and in use',
        referenced: 2,
        addedToSwap: false,
        swap: null,
        unmap: null,
        wrote: false,
      })
      expect(p.pagemap(a), 'the pte intact, its young bit clear').toMatchObject({
        present: true,
        pfn,
        young: false,
      })
      expect(m.page(pfn).flags).toContain('active')
      expect(m.page(pfn).flags).not.toContain('swapcache')
      expect(
        step('second pageout', () => m.pageout(pfn)),
        'unreferenced: added to swap, unmapped, written and left under write-back',
      ).toEqual({
        pfn,
        result: 'written',
        reason: 'written to swap, under write-back (PG_writeback)',
        referenced: 0,
        addedToSwap: true,
        swap: { type: 0, offset: 1 },
        unmap: 'SWAP_SUCCESS',
        wrote: true,
      })
      expect(m.page(pfn).flags, 'PG_writeback while the write is in flight').toContain('writeback')
      expect(m.meminfo(), 'Writeback and SwapCached count it').toMatchObject({ Writeback: 4, SwapCached: 4 })
      expect(
        step('a pageout during the write', () => m.pageout(pfn)),
        'under write-back: kept',
      ).toMatchObject({ result: 'kept', reason: 'under write-back (PG_writeback)', wrote: false })
      expect(step('the write completes', () => m.completeWriteback())).toBe(1)
      expect(
        step('third pageout', () => m.pageout(pfn)),
        'written and clean: freed from the swap cache',
      ).toEqual({
        pfn,
        result: 'freed',
        reason: 'freed',
        referenced: 0,
        addedToSwap: false,
        swap: { type: 0, offset: 1 },
        unmap: null,
        wrote: false,
      })
      expect(p.pagemap(a), 'the pte holds the swap entry').toEqual(swapPte(1))
      expect({ count: m.page(pfn).count, slot: m.swapCount(0, 1), rss: p.mm.rss }).toEqual({
        count: 0,
        slot: 1,
        rss: 0,
      })
      expect(m.meminfo()).toMatchObject({
        SwapTotal: SWAP_KB,
        SwapFree: SWAP_KB - 4,
        SwapCached: 0,
        Mapped: 0,
      })
      expect(
        step('read it', () => p.read(a)),
        'swapped back in with its data',
      ).toBe(0xdeadbeef)
      expect(m.stats().faults.swapMajor, 'one major swap fault').toBe(1)
      const back = pfnOf(p, a)
      expect(p.pagemap(a).write, 'mapped read-only by the read fault').toBe(false)
      expect(m.page(back)).toMatchObject({ count: 2, mapcount: 1, private: m.swap.entry(0, 1) })
      expect(m.page(back).flags).toEqual(expect.arrayContaining(['anon', 'swapcache', 'lru']))
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB - 4, SwapCached: 4 })
      step('P exits', () => p.exit())
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
      expect(m.swapCount(0, 1)).toBe(0)
    },
  },
  {
    id: 'vm.f4',
    layer: L,
    cite: () =>
      'docs/scenarios.md#f4; docs/designs.md#objrmap-and-anon_vma shmem_writepage, docs/designs.md#invariants (19) shmem_writepage unmapped',
    title:
      'a 2-page tmpfs file mapped MAP_SHARED by P and C: reclaim of page 0 unmaps both ptes (pte_none) before shmem_writepage moves it to the swap cache (swapped 1, out of the page cache), a later pass writes it there and, once written, frees it; C reads it back through the swap entry into the page cache (mapcount 1, not swapcache, slot freed), P finds it there (mapcount 2); when SHM_LOCKed writepage refuses and the page stays in the page cache',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx, undefined, { swap: SWAP })
      const step = stepper(m)
      const file = step('create a 2-page tmpfs file', () => m.fs.create('/dev/shm/f4', { size: 2 * P }))
      const shmem = file.shmem
      if (!shmem) throw new Error('a file under /dev/shm must be a tmpfs file (file.shmem)')
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/dev/shm/f4', O_RDWR))
      const a = step('P maps it MAP_SHARED RW', () => p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0))
      const c = step('fork', () => p.fork())
      step('P writes page 0, C writes page 1', () => {
        p.write(a, 0x1111)
        c.write(a + P, 0x2222)
      })
      expect(step('C reads page 0', () => c.read(a))).toBe(0x1111)
      expect(step('P reads page 1', () => p.read(a + P))).toBe(0x2222)
      const pfn = pfnOf(p, a)
      expect({ c: pfnOf(c, a), mapcount: m.page(pfn).mapcount, mapping: m.page(pfn).mapping }).toEqual({
        c: pfn,
        mapcount: 2,
        mapping: { kind: 'address_space', id: file.id },
      })
      const r = swapOut(m, step, p, a, 'page 0')
      expect(r, 'unmapped through the i_mmap walk, then written by shmem_writepage').toMatchObject({
        result: 'freed',
        addedToSwap: false,
        unmap: 'SWAP_SUCCESS',
        wrote: true,
      })
      expect([p.pagemap(a), c.pagemap(a)], 'both ptes pte_none, not swap ptes').toEqual([PTE_NONE, PTE_NONE])
      const entry = shmem.swap.get(0)
      expect(
        { swapped: shmem.swapped, cached: file.pages.has(0), recorded: entry !== undefined },
        'the swap entry recorded in the shmem index, the page out of the page cache',
      ).toEqual({ swapped: 1, cached: false, recorded: true })
      expect(m.swapCount(m.swap.type(entry!), m.swap.offset(entry!)), "the index's reference").toBe(1)
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB - 4, SwapCached: 0 })
      expect(
        step('C reads page 0', () => c.read(a)),
        'data intact',
      ).toBe(0x1111)
      const back = pfnOf(c, a)
      expect(
        {
          mapcount: m.page(back).mapcount,
          swapcache: m.page(back).flags.includes('swapcache'),
          mapping: m.page(back).mapping,
          cached: file.pages.get(0),
          swapped: shmem.swapped,
        },
        'back in the tmpfs page cache, mapped once',
      ).toEqual({
        mapcount: 1,
        swapcache: false,
        mapping: { kind: 'address_space', id: file.id },
        cached: back,
        swapped: 0,
      })
      expect(m.meminfo(), 'the slot freed').toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
      expect(
        step('P reads page 0', () => p.read(a)),
        'data intact',
      ).toBe(0x1111)
      expect({ pfn: pfnOf(p, a), mapcount: m.page(back).mapcount }, 'found in the page cache').toEqual({
        pfn: back,
        mapcount: 2,
      })
      expect(p.read(a + P)).toBe(0x2222)

      // SHM_LOCK: shmem_writepage refuses and redirties; the page stays in the page cache.
      step('SHM_LOCK the file', () => m.fs.shmLock(file, true))
      const one = pfnOf(p, a + P)
      expect(
        step('pageout page 1 (locked): first pass', () => m.pageout(one)),
        'referenced: activated',
      ).toMatchObject({
        result: 'activated',
        reason: 'referenced and in use',
      })
      expect(
        step('pageout page 1 (locked): second pass', () => m.pageout(one)),
        'unmapped, then writepage refused: redirtied and activated',
      ).toMatchObject({
        result: 'activated',
        reason: 'writepage refused (WRITEPAGE_ACTIVATE)',
        addedToSwap: false,
        unmap: 'SWAP_SUCCESS',
        wrote: false,
      })
      expect(
        {
          cached: file.pages.get(1),
          swapped: shmem.swapped,
          dirty: m.page(one).flags.includes('dirty'),
          active: m.page(one).flags.includes('active'),
        },
        'the page stays in the page cache, dirty and active; nothing on swap',
      ).toEqual({ cached: one, swapped: 0, dirty: true, active: true })
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
      expect(
        step('C reads page 1', () => c.read(a + P)),
        'from the page cache',
      ).toBe(0x2222)
      expect(pfnOf(c, a + P)).toBe(one)
      step('P exits', () => p.exit())
      step('C exits', () => c.exit())
      expect(m.meminfo()).toMatchObject({ SwapFree: SWAP_KB, SwapCached: 0 })
    },
  },
]
