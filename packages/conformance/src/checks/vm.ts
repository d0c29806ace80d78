/**
 * Layer (c), the whole VM: the published acceptance scenarios
 * (docs/scenarios.md) run through the public API of a fresh
 * `Machine` on the arch under test, with `m.check()` after every step, and
 * their outcomes asserted exactly. What they assert is arch-independent (data,
 * vmas, mapcounts, anon_vma identity, fault counts); where the arch enters
 * (the span of a pte page, pmd pages, the top of user space) the expectation
 * is derived from the arch's geometry, never written for one layout.
 *
 * This file: private anonymous memory, fork and COW, mprotect, munmap, exec
 * and exit (A1, A3, B1, D1, D4, H2, and the fork-tree, exec, errno and edge
 * checks). The other published scenarios are in vm-scenarios.ts (A6, B4,
 * mremap C1/C3/C7/C8, D2), vm-files.ts (files: B2, B3, D4's file part, E1–E3,
 * G2) and vm-swap.ts (swap-out: F2, F4 and the swap-out steps of C1, C3, E1);
 * the helpers they share in vm-kit.ts.
 */
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_SHARED,
  type Machine,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  type Process,
  PS,
  userPtePages,
} from '@rmaplab/rmap'
import { expect } from 'vitest'
import { thrown } from '../util.js'
import type { CheckDef, Ctx } from './define.js'
import {
  alignUp,
  anonFrames,
  design,
  type ErrnoCase,
  expectErrnoCases,
  expectFaults,
  expectSegv,
  L,
  needVm,
  onDemandPmds,
  PAGE_KB,
  PRIVATE,
  pfnOf,
  pte,
  RW,
  snapshot,
  spanOfPtePage,
  stepper,
  vmMachine,
} from './vm-kit.js'

/**
 * A seed under which a parent and its first child run on different cpus of a
 * 2-cpu machine (cpus 1 and 0 with today's picker), so that per-cpu counts
 * cross cpus. Expectations are computed from `p.cpu` and `c.cpu`, so they hold
 * under any picker.
 */
const SPLIT_SEED = 2004

export const vmChecks: CheckDef[] = [
  {
    id: 'vm.a1',
    layer: L,
    cite: () => 'docs/scenarios.md#a1; docs/designs.md#objrmap-and-anon_vma do_wp_page, fork',
    title:
      'after fork the parent writes: C keeps 0x01 in the original frame (mapcount 2 → 1); P gets a new writable dirty anon frame on the same anon_vma, index = its linear page',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const a = step('P maps 1 page RW', () => p.mmap(0, PAGE_SIZE, RW, PRIVATE))
      step('P writes 0x01', () => p.write(a, 0x01))
      const orig = pfnOf(p, a)
      const c = step('fork', () => p.fork())
      expect({ p: p.pagemap(a).pfn, c: c.pagemap(a).pfn }, 'one frame after fork').toEqual({
        p: orig,
        c: orig,
      })
      expect([pte(p, a), pte(c, a)], 'both ptes write-protected').toEqual([
        { present: true, write: false, dirty: true },
        { present: true, write: false, dirty: true },
      ])
      expect({ mapcount: m.page(orig).mapcount, count: m.page(orig).count }).toEqual({
        mapcount: 2,
        count: 2,
      })
      const saved = step('C saves a copy', () => c.read(a))
      expect(saved).toBe(0x01)
      step('P writes 0xff', () => p.write(a, 0xff))
      const fresh = pfnOf(p, a)
      expect(fresh, 'P has a new frame').not.toBe(orig)
      expect(c.pagemap(a).pfn, "C's pte still maps the original").toBe(orig)
      expect(pte(p, a), "P's pte: writable and dirty").toEqual({ present: true, write: true, dirty: true })
      expect(pte(c, a), "C's pte: still read-only").toMatchObject({ present: true, write: false })
      expect({ c: c.read(a), p: p.read(a), saved }).toEqual({ c: 0x01, p: 0xff, saved: 0x01 })
      const old = m.page(orig)
      const neu = m.page(fresh)
      expect({ mapcount: old.mapcount, count: old.count }, 'original frame').toEqual({
        mapcount: 1,
        count: 1,
      })
      const d = design(ctx)
      expect(old.mapping.kind).toBe(d.anonKind)
      expect(
        {
          anon: neu.flags.includes('anon'),
          mapcount: neu.mapcount,
          count: neu.count,
          mapping: neu.mapping,
          index: neu.index,
        },
        'new frame: anon, on the anon_vma C is linked on, at P linear index',
      ).toEqual({
        anon: true,
        mapcount: 1,
        count: 1,
        mapping: old.mapping,
        index: d.anonIndex(a / PAGE_SIZE),
      })
      const vma = { start: a, end: a + PAGE_SIZE, perms: 'rw-p', pgoff: d.anonPgoff(a), file: '' }
      expect({ p: p.maps(), c: c.maps() }).toEqual({ p: [vma], c: [vma] })
      expect(m.stats().objects.anonVmas, 'one anon_vma for both vmas').toBe(d.anonVmas(1))
      expect(
        anonFrames(m).sort((x, y) => x - y),
        '2 distinct frames',
      ).toEqual([orig, fresh].sort((x, y) => x - y))
      expect(m.meminfo().Mapped).toBe(2 * PAGE_KB)
      expectFaults(m, { anonymous: 1, wpCopy: 1 }, { copies: 1, reuses: 0 })
    },
  },
  {
    id: 'vm.a3',
    layer: L,
    cite: () => 'docs/scenarios.md#a3; docs/designs.md#objrmap-and-anon_vma anon_vma_page_link, do_wp_page',
    title:
      '16 pages, C writes page 3: 17 anon frames; page 3 split 1 + 1, the other 15 shared read-only with mapcount 2; one anon_vma; index = linear index',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const N = 16
      const p = m.spawn()
      const a = step('P maps 16 pages RW', () => p.mmap(0, N * PAGE_SIZE, RW, PRIVATE))
      const at = (k: number) => a + k * PAGE_SIZE
      const pattern = (k: number) => 0x100 + k
      for (let k = 0; k < N; k++) step(`P writes page ${k}`, () => p.write(at(k), pattern(k)))
      const before = Array.from({ length: N }, (_, k) => pfnOf(p, at(k)))
      const c = step('fork', () => p.fork())
      step('C writes page 3', () => c.write(at(3), 0xc3))
      expect(
        step('P reads page 3', () => p.read(at(3))),
        'P still reads its old value',
      ).toBe(pattern(3))
      const mine = pfnOf(c, at(3))
      expect(mine, "C's page 3 is a new frame").not.toBe(before[3])
      expect(pfnOf(p, at(3)), "P's page 3 is the original").toBe(before[3])
      expect(
        { c: m.page(mine).mapcount, p: m.page(before[3]!).mapcount },
        'page 3: mapcount 1 each (the original went 2 → 1)',
      ).toEqual({ c: 1, p: 1 })
      expect(pte(c, at(3))).toEqual({ present: true, write: true, dirty: true })
      for (let k = 0; k < N; k++) {
        if (k === 3) continue
        const shared = {
          p: pfnOf(p, at(k)),
          c: pfnOf(c, at(k)),
          mapcount: m.page(before[k]!).mapcount,
          pw: pte(p, at(k)).write,
          cw: pte(c, at(k)).write,
        }
        expect(shared, `page ${k}: one frame, shared, mapcount 2, read-only in both`).toEqual({
          p: before[k],
          c: before[k],
          mapcount: 2,
          pw: false,
          cw: false,
        })
      }
      const frames = anonFrames(m)
      expect(frames.length, 'total anonymous frames').toBe(17)
      expect(new Set([...before, mine]).size).toBe(17)
      expect(frames.sort((x, y) => x - y)).toEqual([...before, mine].sort((x, y) => x - y))
      const mapping = m.page(before[0]!).mapping
      const d = design(ctx)
      expect(mapping.kind).toBe(d.anonKind)
      // anonmm: C's copy points at C's anonmm (the mm that faulted it), the rest at P's.
      for (const pfn of frames.filter((f) => d.anonKind !== 'anonmm' || f !== mine))
        expect(m.page(pfn).mapping, `pfn ${pfn} on the one anon_vma`).toEqual(mapping)
      expect(m.stats().objects.anonVmas, 'both vmas on a single anon_vma').toBe(d.anonVmas(1))
      expect(m.page(mine).index, "the new frame's index is P's linear index of page 3").toBe(
        d.anonIndex(a / PAGE_SIZE + 3),
      )
      for (let k = 0; k < N; k++) {
        expect(m.page(before[k]!).index, `index of page ${k}`).toBe(d.anonIndex(a / PAGE_SIZE + k))
        expect({ p: p.read(at(k)), c: c.read(at(k)) }, `page ${k}`).toEqual({
          p: pattern(k),
          c: k === 3 ? 0xc3 : pattern(k),
        })
      }
      m.check()
      expect(m.meminfo().Mapped).toBe(17 * PAGE_KB)
      expectFaults(m, { anonymous: 16, wpCopy: 1 }, { copies: 1, reuses: 0 })
    },
  },
  {
    id: 'vm.b1',
    layer: L,
    cite: () =>
      'docs/scenarios.md#b1; docs/designs.md#objrmap-and-anon_vma do_anonymous_page, docs/designs.md#the-three-states-of-an-anonymous-page ZERO_PAGE',
    title:
      'read faults map the reserved zero page read-only in both vmas, with no rss, no mapcount, no anon_vma; the write to A gets a private frame and the anon_vma, B keeps the zero page',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const A = step('map A: 1 page RW', () => p.mmap(0, PAGE_SIZE, RW, PRIVATE))
      const B = step('map B: 1 page RO', () => p.mmap(0, PAGE_SIZE, PROT_READ, PRIVATE))
      const byStart = [
        { start: A, perms: 'rw-p' },
        { start: B, perms: 'r--p' },
      ].sort((x, y) => x.start - y.start)
      expect(p.maps().map((v) => ({ start: v.start, perms: v.perms }))).toEqual(byStart)
      expect(step('read A', () => p.read(A))).toBe(0)
      expect(step('read B', () => p.read(B))).toBe(0)
      const zero = pfnOf(p, A)
      expect({ A: zero, B: pfnOf(p, B) }, 'both ptes map the zero page').toEqual({
        A: m.zeroPage,
        B: m.zeroPage,
      })
      expect([pte(p, A).write, pte(p, B).write], 'read-only').toEqual([false, false])
      const zp = m.page(zero)
      expect({
        reserved: zp.flags.includes('reserved'),
        anon: zp.flags.includes('anon'),
        mapcount: zp.mapcount,
      }).toEqual({
        reserved: true,
        anon: false,
        mapcount: 0,
      })
      expect(zp.mapping.kind, 'never entered into rmap').toBe('none')
      expect(
        {
          rss: p.mm.rss,
          anonVmas: m.stats().objects.anonVmas,
          mapped: m.meminfo().Mapped,
          anon: anonFrames(m),
        },
        'no rss, no anon_vma, nothing mapped',
      ).toEqual({ rss: 0, anonVmas: 0, mapped: 0, anon: [] })
      step('write 0xff to A', () => p.write(A, 0xff))
      const a2 = pfnOf(p, A)
      expect(a2, 'A gets a private frame').not.toBe(zero)
      expect(pte(p, A)).toEqual({ present: true, write: true, dirty: true })
      const page = m.page(a2)
      expect({ anon: page.flags.includes('anon'), mapcount: page.mapcount, kind: page.mapping.kind }).toEqual(
        {
          anon: true,
          mapcount: 1,
          kind: design(ctx).anonKind,
        },
      )
      expect(m.stats().objects.anonVmas, "A's vma got its anon_vma").toBe(design(ctx).anonVmas(1))
      expect({ B: p.read(B), pfn: pfnOf(p, B), write: pte(p, B).write }, 'B unchanged').toEqual({
        B: 0,
        pfn: zero,
        write: false,
      })
      expect(p.read(A)).toBe(0xff)
      expect({ rss: p.mm.rss, mapped: m.meminfo().Mapped, zeroMapcount: m.page(zero).mapcount }).toEqual({
        rss: 1,
        mapped: PAGE_KB,
        zeroMapcount: 0,
      })
      m.check()
      expectFaults(m, { anonymousZero: 2, wpCopy: 1 }, { copies: 1, reuses: 0 })
    },
  },
  {
    id: 'vm.d1',
    layer: L,
    cite: () => 'docs/scenarios.md#d1 (anonymous); docs/designs.md#data-structures-and-sizes split_vma pgoff',
    title:
      'munmap of the middle page: two vmas with pgoff p and p+2 on one anon_vma, map_count 1 → 2, the hole SIGSEGVs a child, outer data kept, the middle frame freed',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const a = step('map 3 pages RW', () => p.mmap(0, 3 * PAGE_SIZE, RW, PRIVATE))
      for (let k = 0; k < 3; k++) step(`write page ${k}`, () => p.write(a + k * PAGE_SIZE, 0xd0 + k))
      const pfns = [0, 1, 2].map((k) => pfnOf(p, a + k * PAGE_SIZE))
      const mid = pfns[1]!
      expect(p.mm.mapCount).toBe(1)
      const info0 = m.meminfo()
      step('munmap the middle page', () => p.munmap(a + PAGE_SIZE, PAGE_SIZE))
      const p0 = design(ctx).anonPgoff(a)
      expect(p.maps(), 'left keeps pgoff p, right has p + 2 (bytes = pgoff * 4096)').toEqual([
        { start: a, end: a + PAGE_SIZE, perms: 'rw-p', pgoff: p0, file: '' },
        {
          start: a + 2 * PAGE_SIZE,
          end: a + 3 * PAGE_SIZE,
          perms: 'rw-p',
          pgoff: p0 + 2 * PAGE_SIZE,
          file: '',
        },
      ])
      expect(p.mm.mapCount, 'map_count 1 → 2').toBe(2)
      expect(m.page(pfns[0]!).mapping, 'both halves keep the same anon_vma').toEqual(m.page(pfns[2]!).mapping)
      expect(m.stats().objects.anonVmas).toBe(design(ctx).anonVmas(1))
      const freed = m.page(mid)
      expect(
        { count: freed.count, mapcount: freed.mapcount, kind: freed.mapping.kind },
        'middle frame freed',
      ).toEqual({
        count: 0,
        mapcount: 0,
        kind: 'none',
      })
      const info1 = m.meminfo()
      expect({ free: info1.MemFree - info0.MemFree, mapped: info1.Mapped - info0.Mapped }).toEqual({
        free: PAGE_KB,
        mapped: -PAGE_KB,
      })
      expect(p.pagemap(a + PAGE_SIZE)).toEqual({ present: false, swapped: false })
      const reader = step('fork a reader', () => p.fork())
      step('the reader touches the hole', () =>
        expectSegv(reader, a + PAGE_SIZE, false, 'child read of the hole'),
      )
      const writer = step('fork a writer', () => p.fork())
      step('the writer touches the hole', () =>
        expectSegv(writer, a + PAGE_SIZE, true, 'child write to the hole'),
      )
      expect({ left: p.read(a), right: p.read(a + 2 * PAGE_SIZE) }, 'outer pages keep their data').toEqual({
        left: 0xd0,
        right: 0xd2,
      })
      expect([pfnOf(p, a), pfnOf(p, a + 2 * PAGE_SIZE)]).toEqual([pfns[0], pfns[2]])
      expect(m.meminfo(), 'the dead children left nothing behind').toEqual(info1)
      m.check()
    },
  },
  {
    id: 'vm.d4',
    layer: L,
    cite: () => 'docs/scenarios.md#d4 (anonymous); mm/mprotect.c mprotect_fixup (2.6.7 merge)',
    title:
      'a write to PROT_READ and any access to PROT_NONE SIGSEGV a child; after mprotect RW the write works; a partial mprotect splits and a whole one merges back; the frames survive PROT_NONE',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const p = m.spawn()
      const r = step('map 2 pages PROT_READ', () => p.mmap(0, 2 * PAGE_SIZE, PROT_READ, PRIVATE))
      const r1 = r + PAGE_SIZE
      const p0 = design(ctx).anonPgoff(r)
      const one = (perms: string) => [{ start: r, end: r + 2 * PAGE_SIZE, perms, pgoff: p0, file: '' }]
      expect(p.maps()).toEqual(one('r--p'))
      const c1 = step('fork', () => p.fork())
      step('child writes the PROT_READ page', () => expectSegv(c1, r, true, 'write to PROT_READ'))
      expect(
        step('P reads it', () => p.read(r)),
        'reading is allowed',
      ).toBe(0)
      step('mprotect RW', () => p.mprotect(r, 2 * PAGE_SIZE, RW))
      expect(p.maps()).toEqual(one('rw-p'))
      step('P writes page 0', () => p.write(r, 0x44))
      step('P writes page 1', () => p.write(r1, 0x45))
      expect({ a: p.read(r), b: p.read(r1), w: pte(p, r).write }).toEqual({ a: 0x44, b: 0x45, w: true })
      const pfns = [pfnOf(p, r), pfnOf(p, r1)]
      step('mprotect page 1 PROT_READ', () => p.mprotect(r1, PAGE_SIZE, PROT_READ))
      expect(p.maps(), 'split: pgoff of the upper piece moves by one page').toEqual([
        { start: r, end: r1, perms: 'rw-p', pgoff: p0, file: '' },
        { start: r1, end: r1 + PAGE_SIZE, perms: 'r--p', pgoff: p0 + PAGE_SIZE, file: '' },
      ])
      const c2 = step('fork', () => p.fork())
      step('child writes page 0 (RW)', () => c2.write(r, 0x55))
      expect({ c: c2.read(r), p: p.read(r) }, 'the child wrote its own copy').toEqual({ c: 0x55, p: 0x44 })
      step('child writes page 1 (PROT_READ)', () => expectSegv(c2, r1, true, 'write to the PROT_READ piece'))
      step('mprotect all PROT_NONE', () => p.mprotect(r, 2 * PAGE_SIZE, PROT_NONE))
      expect(p.maps(), 'the pieces merge again (2.6.7 vma_merge)').toEqual(one('---p'))
      expect(p.mm.mapCount).toBe(1)
      const c3 = step('fork', () => p.fork())
      step('child reads PROT_NONE', () => expectSegv(c3, r, false, 'read of PROT_NONE'))
      const c4 = step('fork', () => p.fork())
      step('child writes PROT_NONE', () => expectSegv(c4, r1, true, 'write to PROT_NONE'))
      expect([p.pagemap(r).pfn, p.pagemap(r1).pfn], 'PROT_NONE keeps the frames').toEqual(pfns)
      expect(pfns.map((pfn) => m.page(pfn).mapcount)).toEqual([1, 1])
      step('mprotect PROT_READ', () => p.mprotect(r, 2 * PAGE_SIZE, PROT_READ))
      expect({ a: p.read(r), b: p.read(r1) }, 'the data survived').toEqual({ a: 0x44, b: 0x45 })
      expectFaults(m, { anonymousZero: 1, anonymous: 1, wpCopy: 2 }, { copies: 2, reuses: 0 })
    },
  },
  {
    id: 'vm.h2',
    layer: L,
    perProfile: true,
    cite: () => 'docs/scenarios.md#h2; docs/designs.md#objrmap-and-anon_vma Counters nr_page_table_pages',
    title:
      'three pte pages touched: PageTables +3 pages, the child copies them (+6), C exits (+3), P exits (0), each count on the cpu that ran it; MemFree back to baseline',
    needs: needVm,
    run(ctx) {
      const { arch } = ctx
      const m = vmMachine(arch, ctx, SPLIT_SEED)
      const step = stepper(m)
      const bits = arch.geometry.BITS_PER_LONG
      const span = spanOfPtePage(arch)
      const perCpu = () =>
        Array.from({ length: m.env.cpus }, (_, c) =>
          Number(BigInt.asIntN(bits, m.env.pageState.get(c, PS.nr_page_table_pages))),
        )
      const free0 = m.meminfo().MemFree
      expect(m.meminfo().PageTables, 'baseline').toBe(0)
      const p = step('spawn P', () => m.spawn())
      const spawnKb = free0 - m.meminfo().MemFree
      // A region aligned to the span of a pte page that touches exactly 3 of them
      // (on i386 4 MB each: the scenario's 12 MB aligned to 4 MB).
      const base = alignUp(m.taskUnmappedBase, span)
      const a = step('map 3 pte spans', () => p.mmap(base, 3 * span, RW, PRIVATE | MAP_FIXED))
      expect(a).toBe(base)
      const touched = [0, 1, 2].map((i) => base + i * span)
      for (const [i, t] of touched.entries()) step(`touch span ${i}`, () => p.write(t, i + 1))
      const pmds = onDemandPmds(arch, touched)
      const want = Array.from({ length: m.env.cpus }, () => 0)
      const count = (cpu: number, n: number) => {
        want[cpu] = (want[cpu] ?? 0) + n
      }
      count(p.cpu, 3)
      expect(
        {
          PageTables: m.meminfo().PageTables,
          nr_ptes: userPtePages(m.env, p.mm.id).length,
          perCpu: perCpu(),
        },
        'after touching',
      ).toEqual({ PageTables: 3 * PAGE_KB, nr_ptes: 3, perCpu: want })
      expect(free0 - m.meminfo().MemFree, '3 data pages, 3 pte pages, the pmd pages, the pgd').toBe(
        spawnKb + (3 + 3 + pmds + design(ctx).slabFrames) * PAGE_KB,
      )
      const beforeFork = m.meminfo().MemFree
      const c = step('fork', () => p.fork())
      count(p.cpu, 3) // copy_page_range runs in the parent
      expect(
        {
          PageTables: m.meminfo().PageTables,
          nr_ptes: userPtePages(m.env, c.mm.id).length,
          perCpu: perCpu(),
        },
        'after fork: the child copies the populated ranges',
      ).toEqual({ PageTables: 6 * PAGE_KB, nr_ptes: 3, perCpu: want })
      expect(beforeFork - m.meminfo().MemFree, "the child's pgd, pmds and 3 pte pages; no data").toBe(
        spawnKb + (3 + pmds) * PAGE_KB,
      )
      step('C exits', () => c.exit())
      count(c.cpu, -3)
      expect({ PageTables: m.meminfo().PageTables, perCpu: perCpu(), free: m.meminfo().MemFree }).toEqual({
        PageTables: 3 * PAGE_KB,
        perCpu: want,
        free: beforeFork,
      })
      step('P exits', () => p.exit())
      count(p.cpu, -3)
      expect({ PageTables: m.meminfo().PageTables, perCpu: perCpu(), free: m.meminfo().MemFree }).toEqual({
        PageTables: 0,
        perCpu: want,
        free: free0 - design(ctx).slabFrames * PAGE_KB, // pte_chains keep their slab frame
      })
    },
  },
  {
    id: 'vm.fork-tree',
    layer: L,
    cite: () =>
      'docs/designs.md#objrmap-and-anon_vma fork, do_wp_page (can_share_swap_page), exit_mmap; docs/designs.md#invariants invariants',
    title:
      'three generations of fork, write and exit: every process reads what it inherited and wrote, copies and reuses are counted exactly, and at the end MemFree is back at baseline with Mapped and PageTables 0',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const N = 4
      const info0 = m.meminfo()
      const P = m.spawn()
      const a = step('P maps 4 pages', () => P.mmap(0, N * PAGE_SIZE, RW, PRIVATE))
      const at = (k: number) => a + k * PAGE_SIZE
      for (let k = 0; k < N; k++) step(`P writes page ${k}`, () => P.write(at(k), 0x10 + k))
      const C1 = step('P forks C1', () => P.fork())
      const C2 = step('P forks C2', () => P.fork())
      step('C1 writes page 0', () => C1.write(at(0), 0x20))
      step('C2 writes page 1', () => C2.write(at(1), 0x30))
      const G1 = step('C1 forks G1', () => C1.fork())
      const G2 = step('C2 forks G2', () => C2.fork())
      step('G1 writes page 2', () => G1.write(at(2), 0x40))
      const view = (q: Process) => Array.from({ length: N }, (_, k) => q.read(at(k)))
      const views = () => Object.fromEntries(m.processes().map((q) => [q.pid, view(q)]))
      const want: Record<number, number[]> = {
        [P.pid]: [0x10, 0x11, 0x12, 0x13],
        [C1.pid]: [0x20, 0x11, 0x12, 0x13],
        [C2.pid]: [0x10, 0x30, 0x12, 0x13],
        [G1.pid]: [0x20, 0x11, 0x40, 0x13],
        [G2.pid]: [0x10, 0x30, 0x12, 0x13],
      }
      expect(views()).toEqual(want)
      expect(anonFrames(m).length, '4 originals + copies by C1, C2, G1').toBe(7)
      expect(m.page(pfnOf(P, at(3))).mapcount, 'page 3 is shared by all five').toBe(5)
      const only = (...keep: Process[]) => Object.fromEntries(keep.map((q) => [q.pid, want[q.pid]]))
      step('C1 exits (G1 keeps its pages)', () => C1.exit())
      expect(views()).toEqual(only(P, C2, G1, G2))
      step('P exits', () => P.exit())
      expect(views()).toEqual(only(C2, G1, G2))
      expect(m.page(pfnOf(G1, at(3))).mapcount).toBe(3)
      step('G2 writes page 3 (shared: copy)', () => G2.write(at(3), 0x50))
      want[G2.pid]![3] = 0x50
      expect(views()).toEqual(only(C2, G1, G2))
      step('G2 exits', () => G2.exit())
      step('C2 exits', () => C2.exit())
      expect(views()).toEqual(only(G1))
      step('G1 writes page 3 (now exclusive: reuse)', () => G1.write(at(3), 0x60))
      step('G1 writes page 0 (exclusive since C1 exited: reuse)', () => G1.write(at(0), 0x61))
      expect(view(G1)).toEqual([0x61, 0x11, 0x40, 0x60])
      expect(anonFrames(m).length, "G1's four pages").toBe(4)
      expectFaults(m, { anonymous: 4, wpCopy: 4, wpReuse: 2 }, { copies: 4, reuses: 2 })
      expect(m.stats().fork.forks).toBe(4)
      step('G1 exits', () => G1.exit())
      const info = m.meminfo()
      expect({
        MemFree: info.MemFree,
        Mapped: info.Mapped,
        PageTables: info.PageTables,
        Active: info.Active,
      }).toEqual({
        MemFree: info0.MemFree - design(ctx).slabFrames * PAGE_KB,
        Mapped: 0,
        PageTables: 0,
        Active: 0,
      })
      expect({ anon: anonFrames(m), objects: m.stats().objects, procs: m.processes().length }).toEqual({
        anon: [],
        objects: { anonVmas: 0, vmas: 0 },
        procs: 0,
      })
    },
  },
  {
    id: 'vm.exec',
    layer: L,
    cite: () =>
      'docs/designs.md#objrmap-and-anon_vma put_dirty_page (exec); docs/README.md#the-public-api-in-one-example exec()',
    title:
      'exec: one stack vma at the top of user space holds the argument words; the old mm is freed (its private frame released, shared ones back to mapcount 1); old addresses SIGSEGV',
    needs: needVm,
    run(ctx) {
      const { arch } = ctx
      const m = vmMachine(arch, ctx)
      const step = stepper(m)
      const span = spanOfPtePage(arch)
      const info0 = m.meminfo()
      const P = m.spawn()
      // Aligned to a pte page so that the old image and the new stack each need one pte page.
      const a = step('P maps 4 pages', () =>
        P.mmap(alignUp(m.taskUnmappedBase, span), 4 * PAGE_SIZE, RW, PRIVATE | MAP_FIXED),
      )
      for (let k = 0; k < 4; k++) step(`P writes page ${k}`, () => P.write(a + k * PAGE_SIZE, 0x60 + k))
      const C = step('fork', () => P.fork())
      step('P writes page 1 (its own copy)', () => P.write(a + PAGE_SIZE, 0x71))
      const priv = pfnOf(P, a + PAGE_SIZE)
      const shared = [0, 1, 2, 3].map((k) => pfnOf(C, a + k * PAGE_SIZE))
      expect(shared.map((pfn) => m.page(pfn).mapcount)).toEqual([2, 1, 2, 2])
      const before = m.meminfo()
      const args = [0xa1, 0xa2, 0xa3]
      step('P execs', () => P.exec(args))
      const top = m.taskSize
      const stack = top - args.length * PAGE_SIZE
      const maps = P.maps()
      expect(
        maps.map(({ perms: _perms, ...v }) => v),
        'one stack vma at the top',
      ).toEqual([{ start: stack, end: top, pgoff: design(ctx).anonPgoff(stack), file: '' }])
      expect(maps[0]!.perms, 'read/write private (x as VM_DATA_DEFAULT_FLAGS)').toMatch(/^rw[x-]p$/)
      expect(
        args.map((_, i) => P.read(stack + i * PAGE_SIZE)),
        'the argument words',
      ).toEqual(args)
      const argPfns = args.map((_, i) => pfnOf(P, stack + i * PAGE_SIZE))
      for (const [i, pfn] of argPfns.entries()) {
        const pg = m.page(pfn)
        expect(
          { anon: pg.flags.includes('anon'), mapcount: pg.mapcount, index: pg.index },
          `arg page ${i}`,
        ).toEqual({
          anon: true,
          mapcount: 1,
          index: design(ctx).anonIndex(stack / PAGE_SIZE + i),
        })
      }
      expect(m.page(priv).count, "the old mm's private frame is freed").toBe(0)
      expect(
        shared.map((pfn) => m.page(pfn).mapcount),
        'C alone maps the old pages',
      ).toEqual([1, 1, 1, 1])
      const after = m.meminfo()
      expect(
        { free: after.MemFree - before.MemFree, tables: after.PageTables - before.PageTables },
        'one private frame freed, three argument pages allocated; page tables swapped one for one',
      ).toEqual({ free: (1 - args.length) * PAGE_KB, tables: 0 })
      expect(C.read(a + PAGE_SIZE), 'C keeps the original page 1').toBe(0x61)
      const G = step('P forks G', () => P.fork())
      expect(G.read(stack + 2 * PAGE_SIZE), 'G inherits the stack').toBe(0xa3)
      step('G touches the old image', () => expectSegv(G, a, false, 'read of an address exec dropped'))
      step('P exits', () => P.exit())
      step('C exits', () => C.exit())
      const end = m.meminfo()
      expect({ MemFree: end.MemFree, Mapped: end.Mapped, PageTables: end.PageTables }).toEqual({
        MemFree: info0.MemFree - design(ctx).slabFrames * PAGE_KB,
        Mapped: 0,
        PageTables: 0,
      })
    },
  },
  {
    id: 'vm.errno.mmap',
    layer: L,
    cite: () => '2.6.5-aa mm/mmap.c do_mmap_pgoff, get_unmapped_area; sys_mmap offset',
    title:
      'EINVAL for no MAP_PRIVATE/MAP_SHARED, both, an unaligned MAP_FIXED address, an unaligned offset, a length above TASK_SIZE; nothing changes',
    needs: needVm,
    run(ctx) {
      errnoCases(ctx, 'mmap', (p, a, m) => [
        ['MAP_ANONYMOUS alone', () => p.mmap(0, PAGE_SIZE, RW, MAP_ANONYMOUS), 'EINVAL'],
        ['MAP_SHARED|MAP_PRIVATE', () => p.mmap(0, PAGE_SIZE, RW, MAP_SHARED | PRIVATE), 'EINVAL'],
        ['unaligned MAP_FIXED', () => p.mmap(a + 123, PAGE_SIZE, RW, PRIVATE | MAP_FIXED), 'EINVAL'],
        ['unaligned offset', () => p.mmap(0, PAGE_SIZE, RW, PRIVATE, undefined, 100), 'EINVAL'],
        ['length above TASK_SIZE', () => p.mmap(0, m.taskSize + PAGE_SIZE, RW, PRIVATE), 'EINVAL'],
      ])
    },
  },
  {
    id: 'vm.errno.munmap',
    layer: L,
    cite: () => '2.6.5-aa mm/mmap.c do_munmap',
    title:
      'EINVAL for an unaligned address, a zero length, a range past TASK_SIZE; unmapping a hole succeeds; nothing changes',
    needs: needVm,
    run(ctx) {
      errnoCases(ctx, 'munmap', (p, a, m) => [
        ['unaligned address', () => p.munmap(a + 1, PAGE_SIZE), 'EINVAL'],
        ['length 0', () => p.munmap(a, 0), 'EINVAL'],
        ['range past TASK_SIZE', () => p.munmap(m.taskSize - PAGE_SIZE, 2 * PAGE_SIZE), 'EINVAL'],
        ['a range no vma covers', () => p.munmap(a - 16 * PAGE_SIZE, 4 * PAGE_SIZE), null],
      ])
    },
  },
  {
    id: 'vm.errno.mprotect',
    layer: L,
    cite: () => 'mm/mprotect.c sys_mprotect',
    title:
      'EINVAL for an unaligned address and prot bits other than READ|WRITE|EXEC|SEM, ENOMEM for an unmapped range; a zero length succeeds; nothing changes',
    needs: needVm,
    run(ctx) {
      errnoCases(ctx, 'mprotect', (p, a) => [
        ['unaligned address', () => p.mprotect(a + 1, PAGE_SIZE, PROT_READ), 'EINVAL'],
        ['prot bit 0x10', () => p.mprotect(a, PAGE_SIZE, 0x10), 'EINVAL'],
        [
          'an unmapped range below the vmas',
          () => p.mprotect(a - 16 * PAGE_SIZE, PAGE_SIZE, PROT_READ),
          'ENOMEM',
        ],
        [
          'an unmapped range above the vmas',
          () => p.mprotect(a + 64 * PAGE_SIZE, PAGE_SIZE, PROT_READ),
          'ENOMEM',
        ],
        ['length 0', () => p.mprotect(a, 0, PROT_NONE), null],
      ])
    },
  },
  {
    id: 'vm.edge.mmap-len0',
    layer: L,
    cite: () => '2.6.5-aa mm/mmap.c do_mmap_pgoff: a zero length returns addr (EINVAL only since 2.6.12)',
    title: 'mmap of length 0 succeeds, returns the address it was given and maps nothing',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const { p, a } = errnoProcess(m)
      const before = snapshot(m, p)
      const hint = a + 32 * PAGE_SIZE
      const got: unknown[] = []
      for (const addr of [0, hint]) {
        const err = thrown(() => got.push(p.mmap(addr, 0, RW, PRIVATE)))
        expect(err, `mmap(0x${addr.toString(16)}, 0) must not fail`).toBeUndefined()
      }
      expect(got, 'the address is returned unchanged').toEqual([0, hint])
      expect(snapshot(m, p), 'nothing is mapped').toEqual(before)
      m.check()
    },
  },
  {
    id: 'vm.edge.mmap-fixed-range',
    layer: L,
    cite: () =>
      '2.6.5-aa mm/mmap.c get_unmapped_area: MAP_FIXED with addr > TASK_SIZE - len is ENOMEM, tested before alignment',
    title: 'MAP_FIXED past the top of user space is ENOMEM, aligned or not; nothing changes',
    needs: needVm,
    run(ctx) {
      errnoCases(ctx, 'mmap', (p, _a, m) => [
        [
          'MAP_FIXED past TASK_SIZE',
          () => p.mmap(m.taskSize - PAGE_SIZE, 2 * PAGE_SIZE, RW, PRIVATE | MAP_FIXED),
          'ENOMEM',
        ],
        [
          'unaligned MAP_FIXED past TASK_SIZE',
          () => p.mmap(m.taskSize - PAGE_SIZE + 1, 2 * PAGE_SIZE, RW, PRIVATE | MAP_FIXED),
          'ENOMEM',
        ],
      ])
    },
  },
  {
    id: 'vm.edge.mprotect-range',
    layer: L,
    cite: () => 'mm/mprotect.c sys_mprotect: no TASK_SIZE test, find_vma finds no vma',
    title: 'mprotect of a range at or above TASK_SIZE is ENOMEM, like any unmapped range; nothing changes',
    needs: needVm,
    run(ctx) {
      errnoCases(ctx, 'mprotect', (p, _a, m) => [
        ['a page at TASK_SIZE', () => p.mprotect(m.taskSize, PAGE_SIZE, PROT_READ), 'ENOMEM'],
        [
          'the last page and one past it',
          () => p.mprotect(m.taskSize - PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ),
          'ENOMEM',
        ],
      ])
    },
  },
]

/** A process with two mappings, one populated, for the errno checks. */
function errnoProcess(m: Machine): { p: Process; a: number } {
  const p = m.spawn()
  const a = p.mmap(0, 4 * PAGE_SIZE, RW, PRIVATE)
  p.write(a, 1)
  p.write(a + PAGE_SIZE, 2)
  p.mmap(0, 2 * PAGE_SIZE, PROT_READ, PRIVATE)
  p.read(a + 2 * PAGE_SIZE)
  m.check()
  return { p, a }
}

/**
 * Run each call on a fresh machine's process; `errno` null means the call
 * succeeds. Either way maps(), meminfo() and stats() are unchanged after it,
 * the process lives on, and m.check() passes.
 */
function errnoCases(
  ctx: Ctx,
  syscall: string,
  cases: (p: Process, a: number, m: Machine) => ErrnoCase[],
): void {
  const m = vmMachine(ctx.arch, ctx)
  const { p, a } = errnoProcess(m)
  expectErrnoCases(m, p, syscall, cases(p, a, m))
}
