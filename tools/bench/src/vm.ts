/**
 * The VM operations `pnpm bench` sets next to the real kernel's: anonymous write
 * faults, zero-page read faults, COW faults, fork of a large mm, munmap, read
 * faults of a page-cached MAP_SHARED file and reads of its present pages, and the
 * rmap walks of try_to_unmap and page_referenced over a file page mapped by
 * 1000 processes, and page_referenced over an anonymous page of 10 and of
 * 10,000 vmas; each for one rmap design (the Machine option `rmap`). Each is
 * timed with performance.now around the operation alone (setup and teardown
 * outside the timing), over rounds: a warm-up round, then rounds until the
 * time budget is spent; the median round is reported.
 *
 * Next to them, the typed-array skeletons of the anonymous write fault
 * (skeleton.ts): the ceiling this language puts on the model's fault path.
 */
import {
  type Arch,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type RmapDesignName,
} from '@rmaplab/rmap'

/** The operations the real kernel is measured on too (kernel-bench.c names them so). */
export type NativeOp = 'anonWriteFault' | 'zeroPageReadFault' | 'cowFault' | 'fork' | 'munmap'
/** Every simulated VM operation. */
export type VmOp =
  | NativeOp
  | 'tryToUnmap'
  | 'pageReferenced'
  | 'reclaim'
  | 'swapIn'
  | 'fileReadFault'
  | 'presentRead'
  | 'anonWalkFew'
  | 'anonWalkMany'
  | 'skeleton'
  | 'fullSkeleton'

/** One simulated VM operation on one layout. */
export interface VmResult {
  arch: string
  /** The rmap design ('-' for the skeleton, which has none). */
  design: string
  op: VmOp
  /** Row name for the table. */
  name: string
  /** Operations per round (pages faulted or unmapped, 1 fork, vmas walked). */
  opsPerRound: number
  /** Pages of the mm (fork) or region (faults, munmap); 1 for the walks. */
  pages: number
  /** Median round, nanoseconds. */
  medianNs: number
  /** Nanoseconds per operation, from the median round. */
  nsPerOp: number
  /** Operations per second, from the median round. */
  opsPerSec: number
  rounds: number
}

/** Pages of the region the fault, COW and munmap tests touch: 256 MiB, as kernel-bench.c is given. */
export const FAULT_PAGES = 65536
/** Pages of the fork test's mm where the layout's RAM holds it: 1 GiB. */
export const FORK_PAGES = 262144
/** Processes mapping the file page of the rmap walks. */
export const WALKERS = 1000

/**
 * Pages of the fork test's mm and the machine's RAM, per layout. ppc's model
 * RAM stops at 768M (CONFIG_LOWMEM_SIZE without highmem), which cannot hold a
 * 1 GiB mm: there the mm is 704 MiB (the 768M machine has 196574 free frames,
 * and the fork's page tables need a few hundred more).
 */
export function forkSize(arch: Arch): { pages: number; ram: string; note: string } {
  if (arch.name === 'ppc') return { pages: 180224, ram: '768M', note: ' (704 MiB: ppc RAM ends at 768M)' }
  return { pages: FORK_PAGES, ram: '2G', note: '' }
}

/**
 * Time `timed` over rounds: one warm-up round, then at least `min` rounds and
 * until `budgetMs` of timed work (at most `max` rounds). `setup` and `teardown`
 * run outside the timing. Returns each timed round's nanoseconds.
 */
export function timeRounds<S>(
  budgetMs: number,
  min: number,
  max: number,
  setup: () => S,
  timed: (s: S) => void,
  teardown: (s: S) => void,
): number[] {
  const ns: number[] = []
  let spent = 0
  for (let r = -1; r < max && (r < min || spent < budgetMs); r++) {
    const s = setup()
    const t0 = performance.now()
    timed(s)
    const dt = performance.now() - t0
    teardown(s)
    if (r >= 0) {
      ns.push(dt * 1e6)
      spent += dt
    }
  }
  return ns
}

/** The median of `xs` (not empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function result(
  arch: Arch,
  design: string,
  op: VmOp,
  name: string,
  opsPerRound: number,
  pages: number,
  ns: number[],
): VmResult {
  const medianNs = median(ns)
  const nsPerOp = medianNs / opsPerRound
  return {
    arch: arch.name,
    design,
    op,
    name,
    opsPerRound,
    pages,
    medianNs,
    nsPerOp,
    opsPerSec: 1e9 / nsPerOp,
    rounds: ns.length,
  }
}

const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

/** Write one word into every page of [a, a + pages pages). */
function writePages(p: Process, a: number, pages: number, v: number): void {
  for (let i = 0; i < pages; i++) p.write(a + i * PAGE_SIZE, v + i)
}

/** Every simulated VM operation on `arch` under rmap design `rmap`; `budgetMs` of timed work per operation. */
export function vmOps(arch: Arch, rmap: RmapDesignName, budgetMs: number): VmResult[] {
  const out: VmResult[] = []
  const len = FAULT_PAGES * PAGE_SIZE
  const d = rmap

  // Faults and munmap: one 768M machine (the most ppc holds), a 256 MiB region.
  {
    const m = new Machine({ arch, ram: '768M', cpus: 2, rmap })
    const p = m.spawn()
    const write = timeRounds(
      budgetMs,
      3,
      50,
      () => p.mmap(0, len, RW, ANON),
      (a) => writePages(p, a, FAULT_PAGES, 1),
      (a) => p.munmap(a, len),
    )
    out.push(
      result(arch, d, 'anonWriteFault', 'anonymous write fault (per page)', FAULT_PAGES, FAULT_PAGES, write),
    )
    let sum = 0
    const read = timeRounds(
      budgetMs,
      3,
      50,
      () => p.mmap(0, len, RW, ANON),
      (a) => {
        for (let i = 0; i < FAULT_PAGES; i++) sum += p.read(a + i * PAGE_SIZE)
      },
      (a) => p.munmap(a, len),
    )
    if (sum !== 0) throw new Error(`${arch.name}: untouched anonymous memory read ${sum}, not 0`)
    out.push(
      result(arch, d, 'zeroPageReadFault', 'zero-page read fault (per page)', FAULT_PAGES, FAULT_PAGES, read),
    )
    // COW: the parent wrote the region once; each round a child writes every page.
    const cowArea = p.mmap(0, len, RW, ANON)
    writePages(p, cowArea, FAULT_PAGES, 1)
    const cow = timeRounds(
      budgetMs,
      3,
      50,
      () => p.fork(),
      (c) => writePages(c, cowArea, FAULT_PAGES, 2),
      (c) => c.exit(),
    )
    p.munmap(cowArea, len)
    out.push(result(arch, d, 'cowFault', 'COW fault, child writes (per page)', FAULT_PAGES, FAULT_PAGES, cow))
    const unmap = timeRounds(
      budgetMs,
      3,
      50,
      () => {
        const a = p.mmap(0, len, RW, ANON)
        writePages(p, a, FAULT_PAGES, 3)
        return a
      },
      (a) => p.munmap(a, len),
      () => {},
    )
    out.push(result(arch, d, 'munmap', 'munmap of written pages (per page)', FAULT_PAGES, FAULT_PAGES, unmap))
    // Bligh's database read: a MAP_SHARED file whose pages are all in the page
    // cache, read page by page (do_no_page → filemap_nopage → page_add_rmap),
    // then read again with every pte present (the walk and the young bit only).
    m.fs.create('/bench/sga', { size: len })
    const fd = p.open('/bench/sga', O_RDWR)
    const fill = p.mmap(0, len, RW, MAP_SHARED, fd, 0)
    writePages(p, fill, FAULT_PAGES, 1)
    p.munmap(fill, len)
    let words = 0
    const fileRead = timeRounds(
      budgetMs,
      3,
      50,
      () => p.mmap(0, len, RW, MAP_SHARED, fd, 0),
      (a) => {
        for (let i = 0; i < FAULT_PAGES; i++) words += p.read(a + i * PAGE_SIZE)
      },
      (a) => p.munmap(a, len),
    )
    out.push(
      result(
        arch,
        d,
        'fileReadFault',
        'MAP_SHARED file read fault, page cached (per page)',
        FAULT_PAGES,
        FAULT_PAGES,
        fileRead,
      ),
    )
    const present = p.mmap(0, len, RW, MAP_SHARED, fd, 0)
    for (let i = 0; i < FAULT_PAGES; i++) words += p.read(present + i * PAGE_SIZE)
    const again = timeRounds(
      budgetMs,
      3,
      50,
      () => null,
      () => {
        for (let i = 0; i < FAULT_PAGES; i++) words += p.read(present + i * PAGE_SIZE)
      },
      () => {},
    )
    p.munmap(present, len)
    p.close(fd)
    if (words === 0) throw new Error(`${arch.name}: the file's pages read as 0`)
    out.push(
      result(
        arch,
        d,
        'presentRead',
        'read of a present file page (per page)',
        FAULT_PAGES,
        FAULT_PAGES,
        again,
      ),
    )
    m.check()
  }

  // fork of a 1 GiB mm (704 MiB on ppc): fork timed alone, the child's exit outside.
  {
    const { pages, ram, note } = forkSize(arch)
    const m = new Machine({ arch, ram, cpus: 2, rmap })
    const p = m.spawn()
    const a = p.mmap(0, pages * PAGE_SIZE, RW, ANON)
    writePages(p, a, pages, 1)
    const kids: Process[] = []
    const fork = timeRounds(
      budgetMs,
      3,
      20,
      () => null,
      () => {
        kids.push(p.fork())
      },
      () => kids.pop()!.exit(),
    )
    out.push(result(arch, d, 'fork', `fork of a ${pages}-page mm${note} (per fork)`, 1, pages, fork))
    m.check()
  }

  // The objrmap walks over a MAP_SHARED file page that 1001 processes map.
  {
    const m = new Machine({ arch, ram: '256M', cpus: 2, rmap })
    m.fs.create('/bench/walk', { size: PAGE_SIZE })
    const p = m.spawn()
    const fd = p.open('/bench/walk', O_RDWR)
    const a = p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0)
    p.write(a, 1)
    const procs = [p]
    for (let i = 0; i < WALKERS; i++) procs.push(p.fork())
    const touch = () => {
      for (const q of procs) q.read(a)
    }
    touch()
    const pfn = p.pagemap(a).pfn!
    const vmas = WALKERS + 1
    // pte_chains walks the page's chain of ptes, not vmas: its cost is in ptesProbed.
    const walked = (what: string) => {
      const w = m.stats().lastWalk
      const v = rmap === 'pte_chains' ? w.ptesProbed : w.vmasVisited
      if (v !== vmas)
        throw new Error(`${arch.name} ${rmap} ${what}: walked ${v} vmas or ptes, expected ${vmas}`)
    }
    const unmap = timeRounds(
      budgetMs,
      10,
      1000,
      () => null,
      () => {
        const r = m.tryToUnmap(pfn)
        if (r !== 'SWAP_SUCCESS') throw new Error(`${arch.name}: try_to_unmap returned ${r}`)
      },
      () => {
        walked('try_to_unmap')
        touch() // map the page again in every process
      },
    )
    out.push(
      result(arch, d, 'tryToUnmap', `try_to_unmap, file page in ${vmas} mms (per vma)`, vmas, 1, unmap),
    )
    const ref = timeRounds(
      budgetMs,
      10,
      10000,
      () => null,
      () => {
        m.pageReferenced(pfn)
      },
      () => walked('page_referenced'),
    )
    out.push(
      result(arch, d, 'pageReferenced', `page_referenced, file page in ${vmas} mms (per vma)`, vmas, 1, ref),
    )
    m.check()
    for (const q of procs) q.exit()
  }
  out.push(...anonWalks(arch, rmap, budgetMs))
  out.push(...reclaimOps(arch, rmap, budgetMs))
  return out
}

/** The vma counts of the walk-flatness rows: page_referenced per vma should cost the same at both. */
export const WALK_FEW = 10
export const WALK_MANY = 10000

/**
 * page_referenced of an anonymous page that WALK_FEW and then WALK_MANY
 * processes map (one written page, then forks that each read it: one
 * anon_vma, or the design's own structure, reaching every mm), per vma.
 */
function anonWalks(arch: Arch, rmap: RmapDesignName, budgetMs: number): VmResult[] {
  const out: VmResult[] = []
  for (const n of [WALK_FEW, WALK_MANY]) {
    const m = new Machine({ arch, ram: '256M', cpus: 2, rmap })
    const p = m.spawn()
    const a = p.mmap(0, PAGE_SIZE, RW, ANON)
    p.write(a, 1)
    const procs = [p]
    for (let i = 1; i < n; i++) procs.push(p.fork())
    for (const q of procs) q.read(a)
    const pfn = p.pagemap(a).pfn!
    const reps = Math.max(1, Math.round(WALK_MANY / n))
    const ns = timeRounds(
      budgetMs / 2,
      5,
      1000,
      () => null,
      () => {
        for (let i = 0; i < reps; i++) m.pageReferenced(pfn)
      },
      () => {},
    )
    const op = n === WALK_FEW ? 'anonWalkFew' : 'anonWalkMany'
    out.push(result(arch, rmap, op, `page_referenced, anon page in ${n} mms (per mm)`, n * reps, 1, ns))
    for (const q of procs) q.exit()
  }
  return out
}

/** Pages of the region reclaim swaps out and reads back. */
export const RECLAIM_PAGES = 4096

/**
 * Reclaim and swap-in: a RECLAIM_PAGES anonymous region, written and aged
 * (young bits cleared, as time without access would), swapped out by
 * m.reclaim as kswapd would (timed: pages reclaimed per second, with the rmap
 * walk cost per reclaimed page in the row name), then read back (timed: swap-in
 * faults, do_swap_page from the swap area, per second).
 */
export function reclaimOps(arch: Arch, rmap: RmapDesignName, budgetMs: number): VmResult[] {
  const pages = RECLAIM_PAGES
  const m = new Machine({ arch, ram: '64M', swap: '128M', cpus: 2, rmap })
  const p = m.spawn()
  let a = -1
  const fill = () => {
    if (a >= 0) p.munmap(a, pages * PAGE_SIZE)
    a = p.mmap(0, pages * PAGE_SIZE, RW, ANON)
    writePages(p, a, pages, 1)
    for (let i = 0; i < pages; i++) m.pageReferenced(p.pagemap(a + i * PAGE_SIZE).pfn!)
  }
  let walked = 0
  let freed = 0
  const reclaim = () => {
    const r = m.reclaim({ pages })
    if (r.freed < pages) throw new Error(`${arch.name}: reclaim freed ${r.freed} of ${pages} pages`)
    walked += r.walks.vmasVisited
    freed += r.freed
  }
  const rec = timeRounds(budgetMs, 3, 30, fill, reclaim, () => m.check())
  const perPage = (walked / freed).toFixed(2)
  const d = rmap
  const out = [
    result(
      arch,
      d,
      'reclaim',
      `reclaim ${pages} anon pages to swap (per page; ${perPage} vmas walked per page)`,
      pages,
      pages,
      rec,
    ),
  ]
  const swapIn = timeRounds(
    budgetMs,
    3,
    30,
    () => {
      fill()
      reclaim()
    },
    () => {
      for (let i = 0; i < pages; i++) p.read(a + i * PAGE_SIZE)
    },
    () => m.check(),
  )
  out.push(result(arch, d, 'swapIn', `swap-in read faults, ${pages} pages (per page)`, pages, pages, swapIn))
  p.exit()
  return out
}
