/**
 * Layer (c), the whole VM, anonymous-memory scenarios beyond fork and COW:
 * the A6 walk-length metric, MADV_DONTNEED (B4), mremap (C1, C3, C7, C8) and
 * the map-count limit (D2), from docs/scenarios.md, run through
 * the public API of a fresh `Machine` with `m.check()` after every step.
 *
 * The swap-out steps of C1 and C3 are separate checks in vm-swap.ts
 * (`vm.c1.swap`, `vm.c3.swap`), on a machine with a swap area. Here what
 * swap-out relies on — the rmap walk computing each moved pte's address from
 * the vma's vm_pgoff and the page's index — is asserted through
 * `m.pageReferenced`, which walks the same anon_vma list with the same address
 * computation (`m.stats().lastWalk`).
 */
import {
  MADV_DONTNEED,
  MAP_FIXED,
  MAP_PRIVATE,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  type Process,
} from '@rmaplab/rmap'
import { expect } from 'vitest'
import { thrown } from '../util.js'
import type { CheckDef } from './define.js'
import {
  anonFrames,
  design,
  type ErrnoCase,
  expectErrnoCases,
  expectFaults,
  expectSegv,
  L,
  needVm,
  PAGE_KB,
  PRIVATE,
  PTE_NONE,
  pfnOf,
  pte,
  RW,
  snapshot,
  spanOfPtePage,
  stepper,
  vmMachine,
} from './vm-kit.js'

const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED

/** A6 at a size that keeps the suite fast: pages mapped by P, and children forked. */
export const A6_PAGES = 50
export const A6_CHILDREN = 50
/** Children forked (and writing) per step of A6. */
const A6_BATCH = 10

export const vmScenarioChecks: CheckDef[] = [
  {
    id: 'vm.a6',
    layer: L,
    cite: () =>
      `docs/scenarios.md#a6 (metric, ${A6_PAGES} × ${A6_CHILDREN}); docs/designs.md#costs search cost (anon_vma), docs/designs.md#objrmap-and-anon_vma try_to_unmap`,
    title: `${A6_PAGES} pages × ${A6_CHILDREN} children, every child writes every page: each child page has mapcount 1, all on one anon_vma listing ${A6_CHILDREN + 1} vmas; -aa's try_to_unmap returns SWAP_AGAIN for an anon page not in swap cache (no walk), so page_referenced's walk is measured: it visits all ${A6_CHILDREN + 1} vmas and probes ${A6_CHILDREN + 1} ptes to find 1`,
    needs: needVm,
    run(ctx) {
      const N = A6_PAGES
      const K = A6_CHILDREN
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const a = step(`P maps ${N} pages RW`, () => p.mmap(0, N * PAGE_SIZE, RW, PRIVATE))
      const at = (k: number) => a + k * PAGE_SIZE
      step(`P writes ${N} pages`, () => {
        for (let k = 0; k < N; k++) p.write(at(k), k)
      })
      const originals = Array.from({ length: N }, (_, k) => pfnOf(p, at(k)))
      // A step is a batch of children, each forked and then writing every page
      // (a COW copy each). m.check() walks every frame and pte, so one check
      // per child would cost more than the scenario itself; the per-fork and
      // per-COW invariants are checked step by step in vm.a1 and vm.a3.
      const children: Process[] = []
      for (let first = 0; first < K; first += A6_BATCH) {
        const last = Math.min(first + A6_BATCH, K) - 1
        step(`fork children ${first}–${last}, each writing every page`, () => {
          for (let i = first; i <= last; i++) {
            const c = p.fork()
            for (let k = 0; k < N; k++) c.write(at(k), 0x10000 * (i + 1) + k)
            children.push(c)
          }
        })
      }
      const d = design(ctx)
      const anonVma = d.anonKind === 'anon_vma'
      expect(m.stats().objects, `one anon_vma lists P's vma and the ${K} children's`).toEqual({
        anonVmas: d.anonVmas(1),
        vmas: K + 1,
      })
      expect(anonFrames(m).length, `P's ${N} originals + ${K} × ${N} copies`).toBe(N + K * N)
      expectFaults(m, { anonymous: N, wpCopy: K * N }, { copies: K * N, reuses: 0 })
      const mapping = m.page(originals[0]!).mapping
      expect(mapping.kind).toBe(d.anonKind)
      for (const [i, c] of children.entries()) {
        for (const k of [0, 7, N - 1]) {
          const pg = m.page(pfnOf(c, at(k)))
          expect(
            { mapcount: pg.mapcount, count: pg.count, index: pg.index, mapping: pg.mapping },
            `child ${i} page ${k}: mapcount 1, on the one anon_vma, at its linear index`,
          ).toEqual({
            mapcount: 1,
            count: 1,
            index: d.anonIndex(a / PAGE_SIZE + k),
            // anonmm: a child's copy points at the child's own anonmm.
            mapping: d.anonKind === 'anonmm' ? expect.objectContaining({ kind: 'anonmm' }) : mapping,
          })
        }
      }
      for (const k of [0, N - 1]) {
        expect(m.page(originals[k]!).mapcount, `P's original page ${k}: mapped by P alone`).toBe(1)
      }
      const c = children[K - 1]!
      const pfn = pfnOf(c, at(7))
      const before = m.stats().rmap
      expect(
        step('try_to_unmap a child page', () => m.tryToUnmap(pfn)),
        'no swap slot: SWAP_AGAIN',
      ).toBe('SWAP_AGAIN')
      expect(m.stats().lastWalk, 'SWAP_AGAIN before any walk').toEqual({ vmasVisited: 0, ptesProbed: 0 })
      expect({ pfn: c.pagemap(at(7)).pfn, mapcount: m.page(pfn).mapcount }, 'still mapped').toEqual({
        pfn,
        mapcount: 1,
      })
      expect(
        step('page_referenced of the child page', () => m.pageReferenced(pfn)),
        "the child's young pte (a COW copy has no PG_referenced)",
      ).toBe(1)
      const walk = m.stats().lastWalk
      // Rik's case is anon_vma's worst: the walk visits every vma of the family.
      // pte_chains go straight to the one pte (PG_direct); anonmm tries the
      // indicated mm (the child) first and stops at mapcount 0.
      const cost = anonVma ? { vmasVisited: K + 1, ptesProbed: K + 1 } : { vmasVisited: 0, ptesProbed: 1 }
      expect(
        walk,
        'every vma on the anon_vma is visited, and at the same address each one is walked',
      ).toEqual(cost)
      if (anonVma)
        expect(walk.vmasVisited, 'the walk cost is the length of the anon_vma list: every vma there is').toBe(
          m.stats().objects.vmas,
        )
      const after = m.stats().rmap
      expect(
        {
          tryToUnmapCalls: after.tryToUnmapCalls - before.tryToUnmapCalls,
          swapAgain: after.swapAgain - before.swapAgain,
          pageReferencedCalls: after.pageReferencedCalls - before.pageReferencedCalls,
          vmasVisited: after.vmasVisited - before.vmasVisited,
          ptesProbed: after.ptesProbed - before.ptesProbed,
        },
        'cumulative counters',
      ).toEqual({
        tryToUnmapCalls: 1,
        swapAgain: 1,
        pageReferencedCalls: 1,
        ...cost,
      })
      expect(
        step('page_referenced again', () => m.pageReferenced(pfn)),
        'the young bit was cleared',
      ).toBe(0)
      expect(m.stats().lastWalk, 'the same walk: no early stop in -aa').toEqual(cost)
    },
  },
  {
    id: 'vm.b4',
    layer: L,
    cite: () =>
      'docs/scenarios.md#b4 and its extension; madvise_dontneed → zap_page_range, docs/designs.md#objrmap-and-anon_vma page_remove_rmap',
    title:
      'MADV_DONTNEED over 8 written pages: 8 page_remove_rmap, every frame freed (mapcount 0, count 0), the vma and its anon_vma unchanged, reads give the zero page; on a MAP_PRIVATE file mapping the COW copy goes and the file shows again',
    needs: needVm,
    run(ctx) {
      const N = 8
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const a = step(`map ${N} pages RW`, () => p.mmap(0, N * PAGE_SIZE, RW, PRIVATE))
      const at = (k: number) => a + k * PAGE_SIZE
      for (let k = 0; k < N; k++) step(`write page ${k}`, () => p.write(at(k), 0xa5a50000 + k))
      const pfns = Array.from({ length: N }, (_, k) => pfnOf(p, at(k)))
      const maps = p.maps()
      const info0 = m.meminfo()
      const removes0 = m.stats().rmap.pageRemoveRmap
      step('madvise(MADV_DONTNEED) the whole range', () => p.madvise(a, N * PAGE_SIZE, MADV_DONTNEED))
      expect(m.stats().rmap.pageRemoveRmap - removes0, 'one page_remove_rmap per page').toBe(N)
      for (const [k, pfn] of pfns.entries()) {
        const pg = m.page(pfn)
        expect(
          { mapcount: pg.mapcount, count: pg.count, kind: pg.mapping.kind },
          `frame of page ${k} freed`,
        ).toEqual({ mapcount: 0, count: 0, kind: 'none' })
        expect(p.pagemap(at(k)), `page ${k}: pte_none`).toEqual(PTE_NONE)
      }
      expect({ maps: p.maps(), mapCount: p.mm.mapCount }, 'the vma is unchanged').toEqual({
        maps,
        mapCount: 1,
      })
      expect(m.stats().objects, 'the anon_vma stays with the vma').toEqual({
        anonVmas: design(ctx).anonVmas(1),
        vmas: 1,
      })
      const info1 = m.meminfo()
      expect(
        {
          free: info1.MemFree - info0.MemFree,
          mapped: info1.Mapped,
          tables: info1.PageTables,
          rss: p.mm.rss,
        },
        'the frames are back; the page table stays',
      ).toEqual({ free: N * PAGE_KB, mapped: 0, tables: info0.PageTables, rss: 0 })
      for (let k = 0; k < N; k++) {
        expect(
          step(`read page ${k}`, () => p.read(at(k))),
          `page ${k} reads zero`,
        ).toBe(0)
        expect(pfnOf(p, at(k)), `page ${k}: the zero page`).toBe(m.zeroPage)
      }
      step('write page 3 (do_wp_page on the zero page)', () => p.write(at(3), 1))
      const fresh = m.page(pfnOf(p, at(3)))
      expect(
        {
          content: fresh.content,
          index: fresh.index,
          mapcount: fresh.mapcount,
          anon: fresh.flags.includes('anon'),
        },
        'a new frame (the zero page is copied by clearing) at the same linear index',
      ).toEqual({ content: 1, index: design(ctx).anonIndex(a / PAGE_SIZE + 3), mapcount: 1, anon: true })
      expectFaults(m, { anonymous: N, anonymousZero: N, wpCopy: 1 }, { copies: 1, reuses: 0 })

      // Extension: a MAP_PRIVATE file mapping.
      const file = step('create a 2-page file', () => m.fs.create('/b4', { size: 2 * PAGE_SIZE, fill: 0x66 }))
      const fd = step('open the file', () => p.open('/b4', O_RDWR))
      const f = step('map it MAP_PRIVATE RW', () => p.mmap(0, 2 * PAGE_SIZE, RW, MAP_PRIVATE, fd, 0))
      step('write page 0 (early COW)', () => p.write(f, 0x99))
      expect(step('read page 1', () => p.read(f + PAGE_SIZE))).toBe(0x66)
      const copy = pfnOf(p, f)
      const cached = pfnOf(p, f + PAGE_SIZE)
      expect(m.page(copy).mapping.kind, 'page 0 is an anonymous copy').toBe(design(ctx).anonKind)
      expect(cached, 'page 1 is the page-cache page').toBe(file.pages.get(1))
      step('madvise(MADV_DONTNEED) the file mapping', () => p.madvise(f, 2 * PAGE_SIZE, MADV_DONTNEED))
      expect(m.page(copy).count, 'the COW copy is freed').toBe(0)
      expect(
        { mapcount: m.page(cached).mapcount, count: m.page(cached).count },
        'the page cache keeps its page',
      ).toEqual({ mapcount: 0, count: 1 })
      expect(
        step('read both pages', () => [p.read(f), p.read(f + PAGE_SIZE)]),
        'the file contents show again',
      ).toEqual([0x66, 0x66])
      expect([pfnOf(p, f), pfnOf(p, f + PAGE_SIZE)], 'both ptes map page-cache pages now').toEqual([
        file.pages.get(0),
        cached,
      ])
      expect(file.diskWord(0), 'the file never saw the private write').toBe(0x66)
    },
  },
  {
    id: 'vm.c1',
    layer: L,
    cite: () => 'docs/scenarios.md#c1; docs/designs.md#mremap-and-the-anonymous-vm_pgoff',
    title:
      'mremap(MAYMOVE|FIXED) of 2 written pages into another pte page: the destination holds the pattern in the same frames, the old range is unmapped, the vma keeps the original vm_pgoff and the pages their index and anon_vma; the rmap walk finds each pte at its new address',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const span = spanOfPtePage(ctx.arch)
      const p = m.spawn()
      const a = step('map 2 pages RW', () => p.mmap(0, 2 * PAGE_SIZE, RW, PRIVATE))
      const pattern = [0x11111111, 0x22222222]
      for (const [k, v] of pattern.entries()) step(`write page ${k}`, () => p.write(a + k * PAGE_SIZE, v))
      const pfns = [pfnOf(p, a), pfnOf(p, a + PAGE_SIZE)]
      const mapping = m.page(pfns[0]!).mapping
      // Clear PG_referenced and the young bits, so that what a walk finds later is the moved ptes.
      for (const pfn of pfns) expect(step('page_referenced', () => m.pageReferenced(pfn))).toBe(2)
      const info0 = m.meminfo()
      const rss0 = p.mm.rss
      // A page-aligned destination, 4 pte pages away: never in the source's pte page.
      const d = a + 4 * span
      expect(step('mremap(MAYMOVE|FIXED)', () => p.mremap(a, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MOVE, d))).toBe(d)
      const de = design(ctx)
      expect(p.maps(), 'the new vma keeps the original vm_pgoff (bytes: the old address)').toEqual([
        {
          start: d,
          end: d + 2 * PAGE_SIZE,
          perms: 'rw-p',
          pgoff: de.movedPgoff(de.anonPgoff(a), d),
          file: '',
        },
      ])
      expect([pfnOf(p, d), pfnOf(p, d + PAGE_SIZE)], 'the same frames, moved').toEqual(pfns)
      expect([p.pagemap(a), p.pagemap(a + PAGE_SIZE)], 'the old range is unmapped').toEqual([
        PTE_NONE,
        PTE_NONE,
      ])
      for (const [k, pfn] of pfns.entries()) {
        const pg = m.page(pfn)
        expect(
          { index: pg.index, mapping: pg.mapping, mapcount: pg.mapcount, count: pg.count },
          `page ${k}: index and anon_vma unchanged`,
        ).toEqual({
          // anonmm notes the new address of an exclusive page (rmap 11's mremap_move_anon_rmap).
          index: de.anonIndex(a / PAGE_SIZE + k, d / PAGE_SIZE + k),
          mapping,
          mapcount: 1,
          count: 1,
        })
      }
      expect([pte(p, d), pte(p, d + PAGE_SIZE)], 'the ptes moved as they were: writable and dirty').toEqual([
        { present: true, write: true, dirty: true },
        { present: true, write: true, dirty: true },
      ])
      expect(
        step('read the destination', () => [p.read(d), p.read(d + PAGE_SIZE)]),
        'the destination holds the pattern',
      ).toEqual(pattern)
      const info1 = m.meminfo()
      expect(
        { rss: p.mm.rss, Mapped: info1.Mapped, Active: info1.Active, anon: anonFrames(m).length },
        'no page copied, allocated or counted again',
      ).toEqual({ rss: rss0, Mapped: info0.Mapped, Active: info0.Active, anon: 2 })
      for (const [k, pfn] of pfns.entries()) {
        expect(
          step(`page_referenced page ${k}`, () => m.pageReferenced(pfn)),
          `page ${k}: the walk finds the young pte at vm_start + (index − vm_pgoff) pages = the new address`,
        ).toBe(1)
        expect(m.stats().lastWalk).toEqual({ vmasVisited: de.vmasVisited(1, true), ptesProbed: 1 })
      }
      expect(
        step('try_to_unmap page 0', () => m.tryToUnmap(pfns[0]!)),
        'no swap slot in -aa',
      ).toBe('SWAP_AGAIN')
      expect(pfnOf(p, d), 'still mapped').toBe(pfns[0])
      const c = step('fork', () => p.fork())
      step('the child touches the old address', () => expectSegv(c, a, false, 'read of the moved-from range'))
      expectFaults(m, { anonymous: 2 }, { copies: 0, reuses: 0 })
    },
  },
  {
    id: 'vm.c3',
    layer: L,
    cite: () => 'docs/scenarios.md#c3 (anon_vma); docs/designs.md#objrmap-and-anon_vma move_vma, fork',
    title:
      'fork, then C mremap-moves 4 shared pages from X to Y: no copies; each frame is mapped at X in P and Y in C with mapcount 2; C keeps vm_pgoff = X; one walk over the single anon_vma finds both ptes; a later write by C copies at index X',
    needs: needVm,
    run(ctx) {
      const N = 4
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const span = spanOfPtePage(ctx.arch)
      const p = m.spawn()
      const x = step('P maps 4 pages RW at X', () => p.mmap(0, N * PAGE_SIZE, RW, PRIVATE))
      for (let k = 0; k < N; k++) step(`P writes page ${k}`, () => p.write(x + k * PAGE_SIZE, 0x100 + k))
      const c = step('fork', () => p.fork())
      const pfns = Array.from({ length: N }, (_, k) => pfnOf(p, x + k * PAGE_SIZE))
      for (const pfn of pfns) step('page_referenced (clear young bits)', () => m.pageReferenced(pfn))
      const y = x + 4 * span
      const d = design(ctx)
      const cows0 = m.stats().rmap.mremapCows
      expect(
        step('C mremap(MAYMOVE|FIXED) X → Y', () => c.mremap(x, N * PAGE_SIZE, N * PAGE_SIZE, MOVE, y)),
      ).toBe(y)
      expect({ p: p.maps(), c: c.maps() }, "C's moved vma keeps vm_pgoff = X").toEqual({
        p: [{ start: x, end: x + N * PAGE_SIZE, perms: 'rw-p', pgoff: d.anonPgoff(x), file: '' }],
        c: [
          {
            start: y,
            end: y + N * PAGE_SIZE,
            perms: 'rw-p',
            pgoff: d.movedPgoff(d.anonPgoff(x), y),
            file: '',
          },
        ],
      })
      if (d.mremapCopiesShared) {
        // anonmm (rmap 11): page->index is one virtual address, so a page
        // shared with P cannot also sit at Y: mremap write-faults each one in C
        // first (make_page_exclusive, "mremap moved 4 cows") and moves the copy.
        expect(m.stats().rmap.mremapCows - cows0, 'mremap moved 4 cows').toBe(N)
        expect(anonFrames(m).length, "P's 4 frames and C's 4 copies").toBe(2 * N)
        for (let k = 0; k < N; k++) {
          const pf = pfnOf(p, x + k * PAGE_SIZE)
          const cf = pfnOf(c, y + k * PAGE_SIZE)
          expect(
            { p: pf, mapcounts: [m.page(pf).mapcount, m.page(cf).mapcount], index: m.page(cf).index },
            `page ${k}: P keeps its frame, C has its own copy at Y`,
          ).toEqual({ p: pfns[k], mapcounts: [1, 1], index: y / PAGE_SIZE + k })
          expect(
            step(`both read page ${k}`, () => [c.read(y + k * PAGE_SIZE), p.read(x + k * PAGE_SIZE)]),
          ).toEqual([0x100 + k, 0x100 + k])
        }
        expect(m.stats().cow.copies, 'the copies are COWs').toBe(N)
        return
      }
      expect(m.stats().rmap.mremapCows - cows0, 'no copies').toBe(0)
      expect(anonFrames(m).length, 'no copies: still 4 frames').toBe(N)
      expect(m.stats().objects, 'one anon_vma lists both vmas').toEqual({ anonVmas: d.anonVmas(1), vmas: 2 })
      const mapping = m.page(pfns[0]!).mapping
      for (let k = 0; k < N; k++) {
        const pg = m.page(pfns[k]!)
        expect(
          {
            p: pfnOf(p, x + k * PAGE_SIZE),
            c: pfnOf(c, y + k * PAGE_SIZE),
            pWrite: pte(p, x + k * PAGE_SIZE).write,
            cWrite: pte(c, y + k * PAGE_SIZE).write,
            mapcount: pg.mapcount,
            count: pg.count,
            index: pg.index,
            mapping: pg.mapping,
          },
          `page ${k}: one frame at X in P and Y in C, write-protected in both`,
        ).toEqual({
          p: pfns[k],
          c: pfns[k],
          pWrite: false,
          cWrite: false,
          mapcount: 2,
          count: 2,
          index: d.anonIndex(x / PAGE_SIZE + k),
          mapping,
        })
        expect(
          step(`both read page ${k}`, () => [c.read(y + k * PAGE_SIZE), p.read(x + k * PAGE_SIZE)]),
        ).toEqual([0x100 + k, 0x100 + k])
        expect(
          step(`page_referenced page ${k}`, () => m.pageReferenced(pfns[k]!)),
          `page ${k}: the walk finds both young ptes`,
        ).toBe(2)
        expect(m.stats().lastWalk, 'two vmas visited, both ptes probed').toEqual({
          vmasVisited: d.vmasVisited(2, true),
          ptesProbed: 2,
        })
      }
      step('C writes page 0 at Y', () => c.write(y, 0xc0))
      const copy = pfnOf(c, y)
      expect(copy, 'a COW copy').not.toBe(pfns[0])
      const pg = m.page(copy)
      expect(
        { index: pg.index, mapping: pg.mapping, mapcount: pg.mapcount },
        'the copy sits at the original linear index on the same anon_vma',
      ).toEqual({ index: d.anonIndex(x / PAGE_SIZE), mapping, mapcount: 1 })
      expect({ orig: m.page(pfns[0]!).mapcount, p: p.read(x), c: c.read(y) }).toEqual({
        orig: 1,
        p: 0x100,
        c: 0xc0,
      })
      expect(step('page_referenced the copy', () => m.pageReferenced(copy))).toBe(1)
      // pte_chains: the copy's one pte is direct, nothing else is probed.
      expect(m.stats().lastWalk, "the walk probes P's pte (another page) and finds C's").toEqual(
        d.anonKind === 'anon_vma' ? { vmasVisited: 2, ptesProbed: 2 } : { vmasVisited: 0, ptesProbed: 1 },
      )
      expectFaults(m, { anonymous: N, wpCopy: 1 }, { copies: 1, reuses: 0 })
    },
  },
  {
    id: 'vm.c7',
    layer: L,
    cite: () =>
      'docs/scenarios.md#c7; docs/designs.md#objrmap-and-anon_vma page_remove_rmap (the tail zapped); mm/mremap.c do_mremap shrink',
    title:
      'mremap(addr, 8 pages, 3 pages, 0) returns addr with a 3-page vma; pages 3–7 are unmapped and their frames freed; the pte page stays (PageTables unchanged); touching page 5 SIGSEGVs a child',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const a = step('map 8 pages RW', () => p.mmap(0, 8 * PAGE_SIZE, RW, PRIVATE))
      const at = (k: number) => a + k * PAGE_SIZE
      for (let k = 0; k < 8; k++) step(`write page ${k}`, () => p.write(at(k), k + 1))
      const pfns = Array.from({ length: 8 }, (_, k) => pfnOf(p, at(k)))
      const info0 = m.meminfo()
      expect(step('mremap shrink to 3 pages', () => p.mremap(a, 8 * PAGE_SIZE, 3 * PAGE_SIZE, 0))).toBe(a)
      expect(p.maps()).toEqual([
        { start: a, end: a + 3 * PAGE_SIZE, perms: 'rw-p', pgoff: design(ctx).anonPgoff(a), file: '' },
      ])
      for (let k = 3; k < 8; k++) {
        expect(p.pagemap(at(k)), `page ${k}: pte_none`).toEqual(PTE_NONE)
        const pg = m.page(pfns[k]!)
        expect({ mapcount: pg.mapcount, count: pg.count }, `frame of page ${k} freed`).toEqual({
          mapcount: 0,
          count: 0,
        })
      }
      const info1 = m.meminfo()
      expect(
        {
          free: info1.MemFree - info0.MemFree,
          mapped: info0.Mapped - info1.Mapped,
          tables: info1.PageTables - info0.PageTables,
          rss: p.mm.rss,
          totalVm: p.mm.totalVm,
        },
        'five frames back; the pte page still maps pages 0–2',
      ).toEqual({ free: 5 * PAGE_KB, mapped: 5 * PAGE_KB, tables: 0, rss: 3, totalVm: 3 })
      expect(
        step('read pages 0–2', () => [0, 1, 2].map((k) => p.read(at(k)))),
        'the kept pages keep their data',
      ).toEqual([1, 2, 3])
      expect([0, 1, 2].map((k) => pfnOf(p, at(k)))).toEqual(pfns.slice(0, 3))
      const c = step('fork', () => p.fork())
      step('the child touches page 5', () => expectSegv(c, at(5), false, 'read of a page the shrink removed'))
    },
  },
  {
    id: 'vm.c8',
    layer: L,
    cite: () =>
      'docs/scenarios.md#c8; mm/mremap.c do_mremap error order; docs/designs.md#objrmap-and-anon_vma move_vma (the moves that succeed)',
    title:
      'EINVAL for an unaligned or 1 KB-aligned old address, FIXED without MAYMOVE, an unaligned or 1 KB-aligned FIXED target, overlapping ranges (both ways), a target past TASK_SIZE, unknown flags, a new length 0; EFAULT for an unmapped old range; ENOMEM for growth blocked by the next mapping without MAYMOVE; nothing changes',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const span = spanOfPtePage(ctx.arch)
      const p = m.spawn()
      const P = PAGE_SIZE
      const a = p.mmap(0, 4 * P, RW, PRIVATE)
      p.mmap(a + 4 * P, P, PROT_READ, PRIVATE | MAP_FIXED) // the next mapping, in the way of growth
      for (let k = 0; k < 4; k++) p.write(a + k * P, k)
      m.check()
      const far = a + 4 * span
      const mr = (old: number, oldLen: number, newLen: number, flags: number, to?: number) => () =>
        p.mremap(old, oldLen, newLen, flags, to)
      const cases: ErrnoCase[] = [
        ['old address not page aligned', mr(a + 1, 2 * P, 4 * P, 0), 'EINVAL'],
        ['old address only 1 KB aligned', mr(a + 1024, 2 * P, 4 * P, MREMAP_MAYMOVE), 'EINVAL'],
        ['old range not mapped', mr(far, 2 * P, 4 * P, MREMAP_MAYMOVE), 'EFAULT'],
        ['growth in place blocked by the next mapping, no MAYMOVE', mr(a, 4 * P, 6 * P, 0), 'ENOMEM'],
        ['MREMAP_FIXED without MREMAP_MAYMOVE', mr(a, 4 * P, 4 * P, MREMAP_FIXED, far), 'EINVAL'],
        ['FIXED target not page aligned', mr(a, 4 * P, 4 * P, MOVE, far + 1), 'EINVAL'],
        ['FIXED target only 1 KB aligned', mr(a, 4 * P, 4 * P, MOVE, far + 1024), 'EINVAL'],
        ['target overlapping the source from below', mr(a, 4 * P, 4 * P, MOVE, a - 2 * P), 'EINVAL'],
        ['target overlapping the source from above', mr(a, 4 * P, 4 * P, MOVE, a + 2 * P), 'EINVAL'],
        ['target past TASK_SIZE', mr(a, 4 * P, 4 * P, MOVE, m.taskSize - 2 * P), 'EINVAL'],
        ['unknown flag bits', mr(a, 4 * P, 8 * P, 4), 'EINVAL'],
        ['new length 0', mr(a, 4 * P, 0, MREMAP_MAYMOVE), 'EINVAL'],
      ]
      expectErrnoCases(m, p, 'mremap', cases)
      expect(
        [0, 1, 2, 3].map((k) => p.read(a + k * P)),
        'the data is where it was',
      ).toEqual([0, 1, 2, 3])
      // The same shapes with the rule met succeed: the errors above are the rules, not the shapes.
      const b = p.mremap(a, 4 * P, 6 * P, MREMAP_MAYMOVE)
      m.check()
      expect(b, 'with MAYMOVE the blocked growth moves').not.toBe(a)
      expect(p.mremap(b, 6 * P, 6 * P, MOVE, far)).toBe(far)
      m.check()
      expect([0, 1, 2, 3].map((k) => p.read(far + k * P))).toEqual([0, 1, 2, 3])
    },
  },
  {
    id: 'vm.d2',
    layer: L,
    cite: () =>
      'docs/scenarios.md#d2 (LTP munmap04); docs/designs.md#data-structures-and-sizes split_vma; mm/mmap.c do_mmap_pgoff, split_vma: sysctl max_map_count',
    title:
      'at vm.max_map_count 32, separate 3-page PROT_NONE vmas fill to 33 (mmap refuses at map_count > max); munmap of a middle page is ENOMEM and changes nothing; unmapping whole vmas needs no split; below the limit the same munmap splits',
    needs: needVm,
    run(ctx) {
      const MAX = 32
      const m = vmMachine(ctx.arch, ctx, undefined, { maxMapCount: MAX })
      const step = stepper(m)
      const p = m.spawn()
      const base = m.taskUnmappedBase
      // 3 pages each, a 1-page gap between, so that nothing merges.
      const vmaAt = (i: number) => base + 4 * i * PAGE_SIZE
      let n = 0
      for (;;) {
        const err = thrown(() => p.mmap(vmaAt(n), 3 * PAGE_SIZE, PROT_NONE, PRIVATE | MAP_FIXED))
        m.check()
        if (err !== undefined) {
          expect(err, `mmap number ${n + 1}`).toMatchObject({
            name: 'SyscallError',
            syscall: 'mmap',
            errno: 'ENOMEM',
          })
          break
        }
        n++
        if (n > MAX + 1) break
      }
      expect({ mapped: n, mapCount: p.mm.mapCount }, 'do_mmap_pgoff refuses once map_count > max').toEqual({
        mapped: MAX + 1,
        mapCount: MAX + 1,
      })
      const before = snapshot(m, p)
      const mid = vmaAt(5) + PAGE_SIZE
      step('munmap the middle page of one vma', () => {
        const err = thrown(() => p.munmap(mid, PAGE_SIZE))
        expect(err, 'the split would need one more vma').toMatchObject({
          name: 'SyscallError',
          syscall: 'munmap',
          errno: 'ENOMEM',
        })
      })
      expect(snapshot(m, p), 'nothing changes').toEqual(before)
      expect(p.mm.mapCount).toBe(MAX + 1)
      for (const i of [0, 1, 2]) step(`munmap whole vma ${i}`, () => p.munmap(vmaAt(i), 3 * PAGE_SIZE))
      expect(p.mm.mapCount, 'no split needed').toBe(MAX - 2)
      step('munmap the middle page again', () => p.munmap(mid, PAGE_SIZE))
      expect(p.mm.mapCount, 'split in two, the middle gone').toBe(MAX - 1)
      expect(
        p.maps().filter((v) => v.start >= vmaAt(5) && v.end <= vmaAt(6)),
        'the two halves, the upper pgoff moved by its offset',
      ).toEqual([
        { start: vmaAt(5), end: mid, perms: '---p', pgoff: design(ctx).anonPgoff(vmaAt(5)), file: '' },
        {
          start: mid + PAGE_SIZE,
          end: vmaAt(5) + 3 * PAGE_SIZE,
          perms: '---p',
          pgoff: design(ctx).anonPgoff(vmaAt(5)) + (mid + PAGE_SIZE - vmaAt(5)),
          file: '',
        },
      ])
    },
  },
]
