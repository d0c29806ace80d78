/**
 * Layer (c), the whole VM, file scenarios: private file mappings and their COW
 * (B2, B3), protection rules of file mappings (D4's EACCES part), shared file
 * mappings, mapping past EOF and truncation (E1, E2, E3), and the argument
 * errors of remap_file_pages (G2), from docs/scenarios.md, run
 * through the public API of a fresh `Machine` (`m.fs.create`, `open`, `mmap`,
 * `ftruncate`, `remapFilePages`…) with `m.check()` after every step.
 *
 * Files come from `m.fs.create(path, { size, fill })`; the returned
 * address_space is read for what the scenario names (its page cache, its
 * `i_mmap`/`i_mmap_shared` lists, the word on disk), never written. A page's
 * content is one 32-bit word in the model, so a "byte" of a scenario is a word
 * here.
 */
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  type Machine,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type Vma,
} from '@rmaplab/rmap'
import { expect } from 'vitest'
import type { CheckDef } from './define.js'
import {
  anonFrames,
  design,
  type ErrnoCase,
  expectErrno,
  expectErrnoCases,
  expectFaults,
  expectSignal,
  L,
  needVm,
  PAGE_KB,
  PTE_NONE,
  pfnOf,
  pte,
  RW,
  type Step,
  snapshot,
  stepper,
  vmMachine,
} from './vm-kit.js'

const P = PAGE_SIZE
/** A page of 'A' (the word model's "filled with 'A'"). */
const AAAA = 0x41414141
/** "hell" of "hello": the word C writes in E1. */
const HELLO = 0x68656c6c

/** Fork `p` and let the child make one access that must kill it with `signal`. */
function childDies(
  step: Step,
  p: Process,
  addr: number,
  write: boolean,
  signal: 'SIGSEGV' | 'SIGBUS',
  what: string,
): void {
  const c = step(`fork (${what})`, () => p.fork())
  step(`the child: ${what}`, () => expectSignal(c, addr, write, signal, what))
}

/** The vma of `p` that covers `addr` (for the address_space's lists). */
function vmaOf(p: Process, addr: number): Vma {
  const v = p.mm.vmaAt(addr)
  if (!v) throw new Error(`pid ${p.pid}: no vma at 0x${addr.toString(16)}`)
  return v
}

/** The vmas of an address_space list by name (identity, not shape): `'?'` for one not named. */
function named(list: readonly Vma[], names: Readonly<Record<string, Vma>>): string[] {
  return list.map((v) => Object.keys(names).find((k) => names[k] === v) ?? '?')
}

/** Page-cache pages of the file at `path`, by index, ascending. */
function cachedIndices(m: Machine, path: string): number[] {
  const file = m.fs.lookup(path)
  if (!file) throw new Error(`no file ${path}`)
  return [...file.pages.keys()].sort((x, y) => x - y)
}

export const vmFileChecks: CheckDef[] = [
  {
    id: 'vm.b2',
    layer: L,
    cite: () =>
      'docs/scenarios.md#b2; docs/designs.md#data-structures-and-sizes (a MAP_PRIVATE file vma on i_mmap and an anon_vma), docs/designs.md#objrmap-and-anon_vma do_wp_page',
    title:
      'a 1-page file of zeros mapped MAP_PRIVATE RW and MAP_SHARED RO: after reads one page-cache page, mapcount 2, found by a walk of both file lists; the private write COWs it to an anon frame (cache mapcount 2 → 1), smem and the file still read zero, the private vma is on i_mmap and an anon_vma',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const file = step('create a 1-page file of zeros', () => m.fs.create('/b2', { size: P, fill: 0 }))
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/b2', O_RDWR))
      const mem = step('mmap MAP_PRIVATE RW', () => p.mmap(0, P, RW, MAP_PRIVATE, fd, 0))
      const smem = step('mmap MAP_SHARED RO', () => p.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0))
      expect(step('read mem', () => p.read(mem))).toBe(0)
      expect(step('read smem', () => p.read(smem))).toBe(0)
      const cache = pfnOf(p, mem)
      expect(
        { smem: pfnOf(p, smem), cached: file.pages.get(0) },
        'both ptes map the page-cache page',
      ).toEqual({
        smem: cache,
        cached: cache,
      })
      let pg = m.page(cache)
      expect(
        {
          mapcount: pg.mapcount,
          count: pg.count,
          mapping: pg.mapping,
          index: pg.index,
          anon: pg.flags.includes('anon'),
        },
        'two ptes and the page cache hold it',
      ).toEqual({
        mapcount: 2,
        count: 3,
        mapping: { kind: 'address_space', id: file.id },
        index: 0,
        anon: false,
      })
      expect([pte(p, mem).write, pte(p, smem).write], 'both read-only (PAGE_COPY, PAGE_READONLY)').toEqual([
        false,
        false,
      ])
      const vmas = { mem: vmaOf(p, mem), smem: vmaOf(p, smem) }
      expect(
        { iMmap: named(file.iMmap, vmas), iMmapShared: named(file.iMmapShared, vmas) },
        'the private vma on i_mmap; the shared one (fd open for writing: VM_SHARED) on i_mmap_shared',
      ).toEqual({ iMmap: ['mem'], iMmapShared: ['smem'] })
      expect(
        step('page_referenced of the cache page', () => m.pageReferenced(cache)),
        'found through the file lists: both young ptes',
      ).toBe(2)
      const d = design(ctx)
      expect(m.stats().lastWalk).toEqual(d.fileWalk(2, 2))
      expect(m.stats().objects.anonVmas, 'no anon_vma yet').toBe(0)

      step('write 0xff to mem', () => p.write(mem, 0xff))
      const copy = pfnOf(p, mem)
      expect(copy, 'mem maps a new frame').not.toBe(cache)
      pg = m.page(copy)
      expect(
        {
          anon: pg.flags.includes('anon'),
          kind: pg.mapping.kind,
          mapcount: pg.mapcount,
          count: pg.count,
          index: pg.index,
        },
        'an anonymous frame at the linear index (vm_pgoff 0)',
      ).toEqual({ anon: true, kind: d.anonKind, mapcount: 1, count: 1, index: d.anonIndex(0, mem / P) })
      expect(pte(p, mem), 'writable and dirty').toEqual({ present: true, write: true, dirty: true })
      expect(
        { mapcount: m.page(cache).mapcount, count: m.page(cache).count },
        'cache page: mapcount 2 → 1',
      ).toEqual({
        mapcount: 1,
        count: 2,
      })
      expect(
        { mem: p.read(mem), smem: p.read(smem), cache: m.page(cache).content, disk: file.diskWord(0) },
        'smem and the file still hold zeros',
      ).toEqual({ mem: 0xff, smem: 0, cache: 0, disk: 0 })
      expect(named(file.iMmap, vmas), 'the private vma is still on i_mmap').toEqual(['mem'])
      if (d.anonKind === 'anon_vma') {
        expect(
          {
            anonVmas: m.stats().objects.anonVmas,
            ofVma: vmas.mem.anonVma?.id,
            ofCopy: m.page(copy).mapping.id,
          },
          '... and now on an anon_vma: the one the copy belongs to',
        ).toEqual({ anonVmas: 1, ofVma: m.page(copy).mapping.id, ofCopy: m.page(copy).mapping.id })
      } else {
        expect(m.stats().objects.anonVmas, 'no anon_vma in this design').toBe(0)
      }
      expect(vmas.smem.anonVma, 'the shared vma never gets one').toBeNull()
      expect(step('page_referenced of the copy', () => m.pageReferenced(copy))).toBe(1)
      expect(m.stats().lastWalk, 'the anon walk: the private vma alone').toEqual(d.anonWalk(1, 1))
      expect(step('page_referenced of the cache page', () => m.pageReferenced(cache))).toBe(1)
      expect(m.stats().lastWalk, "the file walk: both vmas, the private one's pte maps the copy").toEqual(
        d.fileWalk(2, 1),
      )
      expect({ Cached: m.meminfo().Cached, Mapped: m.meminfo().Mapped }).toEqual({
        Cached: PAGE_KB,
        Mapped: 2 * PAGE_KB,
      })
      expectFaults(m, { file: 2, wpCopy: 1 }, { copies: 1, reuses: 0 })
      step('P exits', () => p.exit())
      expect(
        {
          cache: m.page(cache).count,
          copy: m.page(copy).count,
          iMmap: file.iMmap.length,
          shared: file.iMmapShared.length,
        },
        'the page cache keeps its page; the copy is freed; the lists are empty',
      ).toEqual({ cache: 1, copy: 0, iMmap: 0, shared: 0 })
      expect({ Cached: m.meminfo().Cached, Mapped: m.meminfo().Mapped }).toEqual({
        Cached: PAGE_KB,
        Mapped: 0,
      })
    },
  },
  {
    id: 'vm.b3',
    layer: L,
    cite: () => 'docs/scenarios.md#b3; docs/designs.md#objrmap-and-anon_vma do_no_page early COW',
    title:
      'a write as the first access of a MAP_PRIVATE file page: one fault (early COW); the pte maps a new anon frame holding the write; the page-cache page is read in but never mapped (mapcount 0); the vma gets its anon_vma on this fault; the copy carries the file contents',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const file = step("create a 1-page file of 'A'", () => m.fs.create('/b3', { size: P, fill: AAAA }))
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/b3', O_RDWR))
      const mem = step('mmap MAP_PRIVATE RW', () => p.mmap(0, P, RW, MAP_PRIVATE, fd, 0))
      expect({ anonVmas: m.stats().objects.anonVmas, cached: cachedIndices(m, '/b3') }).toEqual({
        anonVmas: 0,
        cached: [],
      })
      step('write word 0', () => p.write(mem, 0x42))
      expectFaults(m, { fileCow: 1 }, { copies: 0, reuses: 0 })
      const cache = file.pages.get(0)
      if (cache === undefined) throw new Error('the page was not read into the page cache')
      const anon = pfnOf(p, mem)
      expect(anon, 'the pte maps a new frame').not.toBe(cache)
      const cp = m.page(cache)
      expect(
        { mapcount: cp.mapcount, count: cp.count, content: cp.content, kind: cp.mapping.kind },
        'the cache page: read in, never mapped',
      ).toEqual({ mapcount: 0, count: 1, content: AAAA, kind: 'address_space' })
      const ap = m.page(anon)
      expect(
        {
          anon: ap.flags.includes('anon'),
          kind: ap.mapping.kind,
          mapcount: ap.mapcount,
          count: ap.count,
          content: ap.content,
          index: ap.index,
        },
        'an anonymous frame holding the write',
      ).toEqual({
        anon: true,
        kind: design(ctx).anonKind,
        mapcount: 1,
        count: 1,
        content: 0x42,
        index: design(ctx).anonIndex(0, mem / P),
      })
      expect(pte(p, mem)).toEqual({ present: true, write: true, dirty: true })
      expect(m.stats().objects.anonVmas, 'the vma got its anon_vma on this fault').toBe(
        design(ctx).anonVmas(1),
      )
      expect({
        rss: p.mm.rss,
        Cached: m.meminfo().Cached,
        Mapped: m.meminfo().Mapped,
        disk: file.diskWord(0),
      }).toEqual({ rss: 1, Cached: PAGE_KB, Mapped: PAGE_KB, disk: AAAA })

      // The copy holds the file's contents with the written part changed: a
      // half-page file, first written past EOF (its tail), keeps the file word.
      const half = step('create a half-page file', () => m.fs.create('/b3h', { size: P / 2 }))
      const h = step('mmap it MAP_PRIVATE RW', () => p.mmap(0, P, RW, MAP_PRIVATE, p.open('/b3h', O_RDWR), 0))
      step('write at offset 3000 first', () => p.write(h + 3000, 7))
      expect(m.stats().faults.fileCow, 'an early COW again').toBe(2)
      expect(
        { head: p.read(h), tail: p.read(h + 3000) },
        'the copy carries the file data and the write',
      ).toEqual({ head: half.diskWord(0), tail: 7 })
      const hc = half.pages.get(0)
      expect(hc === undefined ? undefined : m.page(hc).mapcount, 'that cache page is not mapped either').toBe(
        0,
      )
      step('P exits', () => p.exit())
      expect(m.page(anon).count, 'the copy is freed at exit').toBe(0)
      expect(m.page(cache).count, 'the cache keeps its page').toBe(1)
    },
  },
  {
    id: 'vm.d4.file',
    layer: L,
    cite: () =>
      'docs/scenarios.md#d4 (file; LTP mprotect01, mprotect02, mmap05); mm/mmap.c do_mmap_pgoff, mm/mprotect.c VM_MAY*; docs/designs.md#objrmap-and-anon_vma do_wp_page (the private map)',
    title:
      'a read-only fd: MAP_SHARED with PROT_WRITE is EACCES and mprotect to RW of its shared mapping is EACCES; a write to the PROT_READ shared map SIGSEGVs a child; its MAP_PRIVATE map may become writable (COW); an O_RDWR PROT_READ map becomes writable by mprotect; PROT_NONE SIGSEGVs any access; a write-only fd cannot be mapped',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const file = step('create a 2-page file', () => m.fs.create('/d4', { size: 2 * P, fill: 3 }))
      const p = m.spawn()
      const ro = step('open O_RDONLY', () => p.open('/d4', O_RDONLY))
      step('mmap MAP_SHARED RW of the read-only fd', () => {
        const before = snapshot(m, p)
        expectErrno(
          () => p.mmap(0, P, RW, MAP_SHARED, ro, 0),
          'mmap',
          'EACCES',
          'MAP_SHARED|PROT_WRITE, O_RDONLY',
        )
        expect(snapshot(m, p)).toEqual(before)
      })
      const a = step('mmap MAP_SHARED PROT_READ', () => p.mmap(0, P, PROT_READ, MAP_SHARED, ro, 0))
      expect(p.maps(), 'r--s').toEqual([{ start: a, end: a + P, perms: 'r--s', pgoff: 0, file: '/d4' }])
      expectErrnoCases(m, p, 'mprotect', [
        ['PROT_READ|PROT_WRITE of a shared map of an O_RDONLY fd', () => p.mprotect(a, P, RW), 'EACCES'],
      ])
      expect(step('read it', () => p.read(a))).toBe(3)
      childDies(step, p, a, true, 'SIGSEGV', 'write to the PROT_READ shared map')
      const b = step('mmap MAP_PRIVATE PROT_READ of the read-only fd', () =>
        p.mmap(0, P, PROT_READ, MAP_PRIVATE, ro, 0),
      )
      step('mprotect it RW', () => p.mprotect(b, P, RW))
      step('write it', () => p.write(b, 4))
      expect(
        {
          b: p.read(b),
          a: p.read(a),
          disk: file.diskWord(0),
          anon: m.page(pfnOf(p, b)).flags.includes('anon'),
        },
        'a private copy: the file and the shared map unchanged',
      ).toEqual({ b: 4, a: 3, disk: 3, anon: true })
      const rw = step('open O_RDWR', () => p.open('/d4', O_RDWR))
      const s = step('mmap MAP_SHARED PROT_READ at page 1', () => p.mmap(0, P, PROT_READ, MAP_SHARED, rw, P))
      childDies(step, p, s, true, 'SIGSEGV', 'write to the PROT_READ map of an O_RDWR fd')
      step('mprotect RW', () => p.mprotect(s, P, RW))
      step('write it', () => p.write(s, 0x77))
      const page1 = file.pages.get(1)
      expect(
        page1 === undefined ? undefined : m.page(page1).content,
        'the write reached the page cache',
      ).toBe(0x77)
      step('mprotect PROT_NONE', () => p.mprotect(s, P, PROT_NONE))
      expect(p.maps().find((v) => v.start === s)?.perms).toBe('---s')
      childDies(step, p, s, false, 'SIGSEGV', 'read of PROT_NONE')
      childDies(step, p, s, true, 'SIGSEGV', 'write to PROT_NONE')
      step('mprotect PROT_READ', () => p.mprotect(s, P, PROT_READ))
      expect(
        step('read it', () => p.read(s)),
        'the data survived PROT_NONE',
      ).toBe(0x77)
      const wo = step('open O_WRONLY', () => p.open('/d4', O_WRONLY))
      expectErrnoCases(m, p, 'mmap', [
        [
          'MAP_SHARED PROT_WRITE of an O_WRONLY fd',
          () => p.mmap(0, P, PROT_WRITE, MAP_SHARED, wo, 0),
          'EACCES',
        ],
        [
          'MAP_PRIVATE PROT_READ of an O_WRONLY fd',
          () => p.mmap(0, P, PROT_READ, MAP_PRIVATE, wo, 0),
          'EACCES',
        ],
      ])
    },
  },
  {
    id: 'vm.e1',
    layer: L,
    cite: () =>
      'docs/scenarios.md#e1; docs/designs.md#objrmap-and-anon_vma page_referenced_inode, try_to_unmap_inode',
    title:
      'a 4-page file MAP_SHARED in P and its child: C writes page 2, P reads it; one page-cache frame, mapcount 2, no anon_vma, found by the i_mmap_shared walk; writeback unmaps both ptes to pte_none, the word reaches the file, and later faults read it back from the file and the page cache',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const file = step('create a 4-page file', () => m.fs.create('/e1', { size: 4 * P, fill: 0 }))
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/e1', O_RDWR))
      const a = step('mmap MAP_SHARED RW', () => p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0))
      const c = step('fork', () => p.fork())
      const page2 = a + 2 * P
      step('C writes "hello" to page 2', () => c.write(page2, HELLO))
      expect(
        step('P reads page 2', () => p.read(page2)),
        'P sees it',
      ).toBe(HELLO)
      const pfn = pfnOf(p, page2)
      expect({ c: pfnOf(c, page2), cached: file.pages.get(2) }, 'one page-cache frame').toEqual({
        c: pfn,
        cached: pfn,
      })
      const pg = m.page(pfn)
      expect({
        mapcount: pg.mapcount,
        count: pg.count,
        index: pg.index,
        mapping: pg.mapping,
        anon: pg.flags.includes('anon'),
      }).toEqual({
        mapcount: 2,
        count: 3,
        index: 2,
        mapping: { kind: 'address_space', id: file.id },
        anon: false,
      })
      expect(
        { anonVmas: m.stats().objects.anonVmas, anon: anonFrames(m) },
        'no anon_vma, no anon page',
      ).toEqual({
        anonVmas: 0,
        anon: [],
      })
      const vmas = { P: vmaOf(p, a), C: vmaOf(c, a) }
      // 2.6.5 dup_mmap: list_add_tail(&tmp->shared, &mpnt->shared) puts the
      // child just before its parent, so the walk meets C first.
      expect(
        { iMmap: named(file.iMmap, vmas), iMmapShared: named(file.iMmapShared, vmas) },
        'the child before its parent',
      ).toEqual({
        iMmap: [],
        iMmapShared: ['C', 'P'],
      })
      expect(
        { p: pte(p, page2), c: pte(c, page2) },
        "PAGE_SHARED: P's read fault maps it writable and clean, C's write dirty",
      ).toEqual({
        p: { present: true, write: true, dirty: false },
        c: { present: true, write: true, dirty: true },
      })
      expect(
        step('page_referenced', () => m.pageReferenced(pfn)),
        'both young ptes',
      ).toBe(2)
      expect(m.stats().lastWalk, 'the i_mmap_shared walk').toEqual(design(ctx).fileWalk(2, 2))
      expectFaults(m, { file: 2 }, { copies: 0, reuses: 0 })

      expect(step('writeback: try_to_unmap', () => m.tryToUnmap(pfn))).toBe('SWAP_SUCCESS')
      // Every design visits both vmas here (pte_chains' try_to_unmap_one finds each pte's vma: find_vma).
      expect(m.stats().lastWalk, 'both vmas visited').toEqual({ vmasVisited: 2, ptesProbed: 2 })
      expect({ p: p.pagemap(page2), c: c.pagemap(page2) }, 'pte_none, not swap entries').toEqual({
        p: PTE_NONE,
        c: PTE_NONE,
      })
      expect(
        {
          mapcount: m.page(pfn).mapcount,
          count: m.page(pfn).count,
          dirty: m.page(pfn).flags.includes('dirty'),
        },
        "the pte's dirty bit moved to the page",
      ).toEqual({ mapcount: 0, count: 1, dirty: true })
      expect({ Dirty: m.meminfo().Dirty, Mapped: m.meminfo().Mapped }).toEqual({ Dirty: PAGE_KB, Mapped: 0 })
      expect(step('write it back (sync)', () => m.fs.sync())).toBe(1)
      expect({ disk: file.diskWord(2), Dirty: m.meminfo().Dirty }, 'the word is in the file').toEqual({
        disk: HELLO,
        Dirty: 0,
      })
      expect(step('drop the clean page from the cache', () => m.fs.invalidateInodePages(file))).toBe(1)
      expect({ freed: m.page(pfn).count, cached: cachedIndices(m, '/e1') }).toEqual({ freed: 0, cached: [] })
      const read0 = m.stats().filemap.pagesRead
      expect(
        step('C reads page 2', () => c.read(page2)),
        'read back from the file',
      ).toBe(HELLO)
      expect(m.stats().filemap.pagesRead - read0).toBe(1)
      expect(
        step('P reads page 2', () => p.read(page2)),
        'found in the page cache',
      ).toBe(HELLO)
      expect(m.stats().filemap.pagesRead - read0).toBe(1)
      expect(pfnOf(p, page2)).toBe(pfnOf(c, page2))
      expect(m.page(pfnOf(p, page2)).mapcount).toBe(2)

      // C maps the file independently: the same page-cache frame.
      const q = m.spawn()
      const b = step('another process maps the file', () =>
        q.mmap(0, 4 * P, RW, MAP_SHARED, q.open('/e1', O_RDWR), 0),
      )
      expect(step('it reads page 2', () => q.read(b + 2 * P))).toBe(HELLO)
      expect({ pfn: pfnOf(q, b + 2 * P), mapcount: m.page(pfnOf(q, b + 2 * P)).mapcount }).toEqual({
        pfn: pfnOf(p, page2),
        mapcount: 3,
      })
    },
  },
  {
    id: 'vm.e2',
    layer: L,
    cite: () =>
      'docs/scenarios.md#e2 (LTP mmap13, mmap01); docs/designs.md#objrmap-and-anon_vma do_no_page (->nopage: NOPAGE_SIGBUS past i_size)',
    title:
      'a half-page file mapped over 2 pages, MAP_PRIVATE then MAP_SHARED: the rest of the last page reads zero, a store there stays in the page and never reaches the file, the second page is SIGBUS; a 1-page file mapped over 2: SIGBUS on the second page only',
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const file = step('create a half-page file', () => m.fs.create('/e2', { size: P / 2 }))
      const word = file.diskWord(0)
      expect(word, 'the file holds a non-zero word').not.toBe(0)
      // Private first: its store past EOF lands in its COW copy, so the cache
      // page's tail is still zero for the shared pass.
      for (const [type, name] of [
        [MAP_PRIVATE, 'MAP_PRIVATE'],
        [MAP_SHARED, 'MAP_SHARED'],
      ] as const) {
        const p = m.spawn()
        const a = step(`${name}: map 2 pages RW`, () => p.mmap(0, 2 * P, RW, type, p.open('/e2', O_RDWR), 0))
        expect(
          step(`${name}: read`, () => ({
            first: p.read(a),
            lastInFile: p.read(a + P / 2 - 1),
            firstPastEof: p.read(a + P / 2),
            lastOfPage: p.read(a + P - 1),
          })),
          `${name}: file data up to i_size, zeros after`,
        ).toEqual({ first: word, lastInFile: word, firstPastEof: 0, lastOfPage: 0 })
        step(`${name}: store past EOF`, () => p.write(a + 3000, 0x55))
        expect({ tail: p.read(a + 3000), head: p.read(a) }, `${name}: the store changes the page`).toEqual({
          tail: 0x55,
          head: word,
        })
        step(`${name}: touch the second page`, () =>
          expectSignal(p, a + P, false, 'SIGBUS', `${name} second page`),
        )
      }
      expect(m.stats().filemap.sigbus).toBe(2)
      expect(
        step('sync', () => m.fs.sync()),
        'the shared store dirtied the cache page',
      ).toBe(1)
      expect(file.diskWord(0), 'writeback wrote i_size bytes: the file data only').toBe(word)
      expect(step('drop the page cache', () => m.fs.invalidateInodePages(file))).toBe(1)
      const q = m.spawn()
      const b = step('map it again', () => q.mmap(0, P, PROT_READ, MAP_SHARED, q.open('/e2', O_RDONLY), 0))
      expect(
        step('read it back', () => ({ head: q.read(b), tail: q.read(b + 3000) })),
        'the store never reached the file',
      ).toEqual({
        head: word,
        tail: 0,
      })

      step('create a 1-page file', () => m.fs.create('/e2b', { size: P, fill: 9 }))
      const r = m.spawn()
      const c = step('map it over 2 pages', () =>
        r.mmap(0, 2 * P, PROT_READ, MAP_SHARED, r.open('/e2b', O_RDONLY), 0),
      )
      expect(step('read the end of the first page', () => r.read(c + P - 4))).toBe(9)
      childDies(step, r, c + P, false, 'SIGBUS', 'read of the second page')
      childDies(step, r, c + 2 * P - 1, false, 'SIGBUS', 'read of the last byte of the second page')
      expect(m.stats().filemap.sigbus).toBe(4)
    },
  },
  {
    id: 'vm.e3',
    layer: L,
    cite: () =>
      'docs/scenarios.md#e3 (LTP mmap09); docs/designs.md#objrmap-and-anon_vma vmtruncate, invalidate_mmap_range (zaps COWs too)',
    title:
      "ftruncate of a 64 KB file of 'A' MAP_SHARED in P and C: to 56 KB removes the ptes of pages 14–15 in both and frees them, 60 KB is SIGBUS, 40 KB reads 'A'; back to 65 KB page 15 reads zero; to 0 every access is SIGBUS; the vmas never change; a MAP_PRIVATE COW copy in the hole goes too",
    needs: needVm,
    run(ctx) {
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      const KB = 1024
      const file = step("create a 64 KB file of 'A'", () => m.fs.create('/e3', { size: 64 * KB, fill: AAAA }))
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/e3', O_RDWR))
      const a = step('mmap 64 KB MAP_SHARED', () => p.mmap(0, 64 * KB, RW, MAP_SHARED, fd, 0))
      step('P reads every page', () => {
        for (let k = 0; k < 16; k++) expect(p.read(a + k * P)).toBe(AAAA)
      })
      const c = step('fork', () => p.fork())
      step('C reads every page', () => {
        for (let k = 0; k < 16; k++) expect(c.read(a + k * P)).toBe(AAAA)
      })
      const old = [14, 15].map((k) => file.pages.get(k)!)
      expect(old.map((pfn) => m.page(pfn).mapcount)).toEqual([2, 2])
      const maps = { p: p.maps(), c: c.maps() }
      expect({ Cached: m.meminfo().Cached, Mapped: m.meminfo().Mapped }).toEqual({ Cached: 64, Mapped: 64 })

      step('ftruncate to 56 KB', () => p.ftruncate(fd, 56 * KB))
      expect(file.size).toBe(56 * KB)
      for (const [name, q] of [
        ['P', p],
        ['C', c],
      ] as const) {
        expect(
          {
            p14: q.pagemap(a + 14 * P),
            p15: q.pagemap(a + 15 * P),
            p13: q.pagemap(a + 13 * P).present,
            rss: q.mm.rss,
          },
          `${name}: no pte maps the pages past 56 KB`,
        ).toEqual({ p14: PTE_NONE, p15: PTE_NONE, p13: true, rss: 14 })
      }
      expect(
        { cached: cachedIndices(m, '/e3').length, freed: old.map((pfn) => m.page(pfn).count) },
        'the page-cache pages past 56 KB are freed',
      ).toEqual({ cached: 14, freed: [0, 0] })
      expect({ Cached: m.meminfo().Cached, Mapped: m.meminfo().Mapped }).toEqual({ Cached: 56, Mapped: 56 })
      expect({ p: p.maps(), c: c.maps() }, 'the vmas are unchanged').toEqual(maps)
      expect(
        step('read 40 KB', () => p.read(a + 40 * KB)),
        "40 KB still reads 'A'",
      ).toBe(AAAA)
      step('C touches 60 KB', () => expectSignal(c, a + 60 * KB, false, 'SIGBUS', 'read at 60 KB'))

      step('ftruncate to 65 KB', () => p.ftruncate(fd, 65 * KB))
      expect(
        step('read 60, 56 and 52 KB', () => [p.read(a + 60 * KB), p.read(a + 56 * KB), p.read(a + 52 * KB)]),
        "the regrown part reads zero, not 'A'",
      ).toEqual([0, 0, AAAA])
      expect(p.maps(), 'the vma is unchanged').toEqual(maps.p)

      step('ftruncate to 0', () => p.ftruncate(fd, 0))
      expect({ Cached: m.meminfo().Cached, Mapped: m.meminfo().Mapped, rss: p.mm.rss }).toEqual({
        Cached: 0,
        Mapped: 0,
        rss: 0,
      })
      for (const off of [0, 40 * KB, 60 * KB]) {
        childDies(step, p, a + off, false, 'SIGBUS', `read at ${off / KB} KB of an empty file`)
      }
      expect(p.maps(), 'the vma is unchanged').toEqual(maps.p)

      // even_cows: a COW copy of a MAP_PRIVATE mapping in the hole is zapped as well.
      const priv = step('create a 4-page file', () => m.fs.create('/e3p', { size: 4 * P, fill: AAAA }))
      const pfd = step('open it', () => p.open('/e3p', O_RDWR))
      const b = step('map it MAP_PRIVATE RW', () => p.mmap(0, 4 * P, RW, MAP_PRIVATE, pfd, 0))
      for (let k = 0; k < 4; k++) step(`write page ${k} (a COW copy)`, () => p.write(b + k * P, k))
      const copies = [0, 1, 2, 3].map((k) => pfnOf(p, b + k * P))
      expect(copies.map((pfn) => m.page(pfn).flags.includes('anon'))).toEqual([true, true, true, true])
      step('ftruncate to 2 pages + 100 bytes', () => p.ftruncate(pfd, 2 * P + 100))
      expect(
        { pte: p.pagemap(b + 3 * P), freed: m.page(copies[3]!).count },
        'the copy of page 3 is zapped and freed',
      ).toEqual({ pte: PTE_NONE, freed: 0 })
      expect(
        { pfns: [0, 1, 2].map((k) => pfnOf(p, b + k * P)), data: [0, 1, 2].map((k) => p.read(b + k * P)) },
        'the copies below the new EOF stay (page 2 straddles it)',
      ).toEqual({ pfns: copies.slice(0, 3), data: [0, 1, 2] })
      expect(cachedIndices(m, '/e3p'), 'early COW read pages 0–3 in; page 3 was truncated').toEqual([0, 1, 2])
      expect(priv.size).toBe(2 * P + 100)
      childDies(step, p, b + 3 * P, false, 'SIGBUS', 'read of the private mapping past EOF')
    },
  },
  {
    id: 'vm.g2',
    layer: L,
    cite: () =>
      'docs/scenarios.md#g2 (LTP remap_file_pages02); docs/designs.md#objrmap-and-anon_vma Nonlinear vmas (sys_remap_file_pages)',
    title:
      'EINVAL for a start in a MAP_PRIVATE mapping, start + 1 page of a 1-page shared mapping, a size past the vma (from the start or from inside), a non-zero prot, a zero or sub-page size, an anonymous mapping, unmapped space, a pgoff a file pte cannot hold; nothing changes; a valid call succeeds',
    needs: needVm,
    run(ctx) {
      const g = ctx.arch.geometry
      const m = vmMachine(ctx.arch, ctx)
      const step = stepper(m)
      step('create an 8-page file', () => m.fs.create('/g2', { size: 8 * P }))
      const p = m.spawn()
      const fd = step('open O_RDWR', () => p.open('/g2', O_RDWR))
      const priv = step('mmap 2 pages MAP_PRIVATE', () => p.mmap(0, 2 * P, RW, MAP_PRIVATE, fd, 0))
      const sh = step('mmap 4 pages MAP_SHARED', () => p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0))
      const anon = step('mmap 1 anonymous page', () => p.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS))
      const one = step('mmap 1 page MAP_SHARED', () => p.mmap(0, P, RW, MAP_SHARED, fd, 0))
      expect(p.mm.vmaAt(one + P), 'nothing follows the 1-page mapping').toBeNull()
      const hole = Math.max(priv, sh, anon, one) + 64 * P
      const rfp = (start: number, size: number, prot: number, pgoff: number) => () =>
        p.remapFilePages(start, size, prot, pgoff, 0)
      const cases: ErrnoCase[] = [
        ['a start inside a MAP_PRIVATE mapping', rfp(priv, P, 0, 1), 'EINVAL'],
        ['start + 1 page of a 1-page shared mapping', rfp(one + P, P, 0, 0), 'EINVAL'],
        ['a size running past the vma', rfp(sh, 5 * P, 0, 0), 'EINVAL'],
        ['a start inside, the end past the vma', rfp(sh + 3 * P, 2 * P, 0, 0), 'EINVAL'],
        ['an invalid prot (PROT_READ)', rfp(sh, P, PROT_READ, 1), 'EINVAL'],
        ['an invalid prot (PROT_WRITE)', rfp(sh, P, PROT_WRITE, 1), 'EINVAL'],
        ['a zero size', rfp(sh, 0, 0, 1), 'EINVAL'],
        ['a size below one page (rounded down to 0)', rfp(sh, P - 1, 0, 1), 'EINVAL'],
        ['an anonymous mapping', rfp(anon, P, 0, 0), 'EINVAL'],
        ['unmapped space', rfp(hole, P, 0, 0), 'EINVAL'],
      ]
      // A pgoff no nonlinear file pte can hold (PTE_FILE_MAX_BITS narrower than a long).
      if (g.PTE_FILE_MAX_BITS < g.BITS_PER_LONG)
        cases.push([
          'a pgoff of PTE_FILE_MAX_BITS bits',
          rfp(sh, P, 0, 2 ** g.PTE_FILE_MAX_BITS - 1),
          'EINVAL',
        ])
      expectErrnoCases(m, p, 'remap_file_pages', cases)
      const file = m.fs.lookup('/g2')!
      step('a valid remap: file page 5 at the start of the shared mapping', () =>
        p.remapFilePages(sh, P, 0, 5, 0),
      )
      expect(
        step('read it', () => p.read(sh)),
        'the window shows page 5',
      ).toBe(file.diskWord(5))
      expect(m.page(pfnOf(p, sh)).index).toBe(5)
      expect(p.maps().length, 'no vma was created or split').toBe(4)
    },
  },
]
