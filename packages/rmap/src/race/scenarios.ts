/**
 * Built-in scenarios of the interleaving explorer.
 *
 * - `pg-anon`: the PG_anon race of the "Re: 2.6.5-rc1-aa1" thread (Andrea,
 *   <20040318221447.GA3248@dualathlon.random>, fix in
 *   <20040318230628.GA2050@dualathlon.random>). A task's anonymous page is
 *   swapped out; the task forks into A and B, whose ptes both hold the swap
 *   entry; A read-faults the page back (swap cache page P, mapped once, its
 *   pte then aged). Cpu 0: B read-faults the same address (do_swap_page finds
 *   P in the swap cache). Cpu 1: reclaim takes P through shrink_list. In the
 *   2.6.5-rc1-aa1 code (`bugs: ['pg-anon-race']`) B sets PG_anon and its pte
 *   before page_add_rmap; reclaim running in that window (B's
 *   page_table_lock is held, so B's pte is skipped by the trylock) unmaps P
 *   from A, its mapcount goes 1→0 and PG_anon and the mapping are cleared;
 *   B's page_add_rmap then sees a file page without mapping: the oops at
 *   mm/objrmap.c:271.
 * - `pg-anon-clear`: the mirror race, with `bugs: ['pg-anon-clear-race']`:
 *   same setup; cpu 0: A unmaps x (page_remove_rmap drops the last mapping,
 *   clears PG_anon only after page_map_unlock); cpu 1: B read-faults x.
 * - `pg-anon-fork`: A forks while reclaim takes P (copy_page_range reads
 *   PG_anon outside page_map_lock); clean in every variant.
 * - `shmem-getpage` / `shmem-truncate`: Hugh's report of aa1's
 *   over-enthusiastic BUG_ON(PageSwapCache) in filemap.c / truncate.c, with
 *   `bugs: ['shmem-swapcache-bug-on']`: a tmpfs page looked up (a fault, or
 *   ftruncate) while reclaim's shmem_writepage moves it to the swap cache.
 * - `nonlinear-reclaim`: reclaim of a file page that only a VM_NONLINEAR vma
 *   maps (2.6.7's try_to_unmap_file: the page's page_map_lock dropped for
 *   the cluster scan, whose page_remove_rmap takes each unmapped page's own)
 *   while the owner writes the page again and then unmaps the window. Clean
 *   in the fixed code; with `bugs: ['nonlinear-nr-mapped']` (2.6.7's
 *   accounting) nr_mapped is decremented twice and `m.check()` says so.
 * - `toy-counter` / `toy-counter-locked`: the explorer's own self-test, an
 *   unlocked read-modify-write of a counter on two cpus (must be caught with
 *   one preemption) and the same under a lock (must never be flagged).
 */
import type { Arch } from '../arch/types.js'
import type { BugName } from '../bugs.js'
import { markPageAccessed } from '../filemap.js'
import { O_RDWR } from '../fs.js'
import { LOCK } from '../locks.js'
import { Machine, type Process } from '../machine.js'
import { PG } from '../mm/page.js'
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../uapi.js'
import type { RaceCpu, RaceScenario } from './explore.js'

/** Options of the built-in scenarios. */
export interface RaceScenarioOptions {
  /** The page-table layout of the machine. */
  arch: Arch
  /** Bugs to re-introduce (Machine's `bugs` option). Default none: the fixed kernel. */
  bugs?: readonly BugName[]
}

/** The context of the PG_anon scenarios. */
export interface PgAnonContext {
  /** The parent (A) and the child (B) after the fork. */
  A: Process
  B: Process
  /** The address of the shared page. */
  x: number
  /** P: the swap-cache page A faulted back in. */
  pfn: number
}

const VALUE = 0x2004

function pgAnonMachine(o: RaceScenarioOptions): Machine {
  return new Machine({ arch: o.arch, ram: '16M', swap: '1M', cpus: 2, ...(o.bugs ? { bugs: o.bugs } : {}) })
}

/** The thread's setup (the oops analysis of the thread, <20040318221447.GA3248@dualathlon.random>). */
function pgAnonSetup(m: Machine): PgAnonContext {
  const A = m.spawn()
  const x = A.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  A.write(x, VALUE)
  const first = A.pagemap(x).pfn!
  m.pageReferenced(first) // age the pte so that shrink_list does not keep it
  let out = m.pageout(first)
  if (out.result === 'written') {
    // Asynchronous write-back: once the write completes, the next pass frees the page.
    m.completeWriteback()
    out = m.pageout(first)
  }
  if (out.result !== 'freed' || A.pagemap(x).present)
    throw new Error(`pg-anon setup: the page was not swapped out (${out.result}: ${out.reason})`)
  const B = A.fork()
  if (A.read(x) !== VALUE) throw new Error('pg-anon setup: A reads back the swapped page')
  const pfn = A.pagemap(x).pfn!
  // Heavy swapping ages P: page_referenced clears A's young bit and
  // PG_referenced, refill_inactive_zone moves P to the inactive list, and a
  // later access (mark_page_accessed) sets PG_referenced again. B's fault then
  // activates P and clears PG_referenced, so that reclaim sees no reference
  // but B's pte, which its page_table_lock trylock skips while B is inside
  // do_swap_page.
  m.pageReferenced(pfn)
  if (m.frames.test(pfn, PG.active)) {
    // refill_inactive_zone under pressure: P goes to the inactive list.
    m.lruDel(pfn)
    m.frames.clear(pfn, PG.active)
    m.lruAddInactive(pfn)
  }
  markPageAccessed(m, pfn)
  return { A, B, x, pfn }
}

function pgAnonCheck(_m: Machine, c: PgAnonContext): string[] {
  const out: string[] = []
  for (const [who, p] of [
    ['A', c.A],
    ['B', c.B],
  ] as const) {
    if (!p.alive) continue
    try {
      const e = p.pagemap(c.x)
      if (e.present && p.read(c.x) !== VALUE) out.push(`${who} reads ${VALUE} at x`)
    } catch {
      // unmapped (pg-anon-clear: A unmapped x)
    }
  }
  return out
}

/** struct page of P in the trace's words. */
function pageText(m: Machine, pfn: number): string {
  const f = m.frames
  const anon = f.test(pfn, PG.anon) ? 'PG_anon' : 'no PG_anon'
  const mapping = f.mapping[pfn] === -1 ? 'no mapping' : `mapping ${f.mapping[pfn]}`
  return `P mapcount ${f.mapcount[pfn]}, ${anon}, ${mapping}${f.test(pfn, PG.swapcache) ? ', swapcache' : ''}`
}

function pageoutText(m: Machine, pfn: number): string {
  const f = m.frames
  if (f.count[pfn] === 0 || !f.test(pfn, PG.lru)) return 'P is not on an LRU list (freed or isolated)'
  const r = m.pageout(pfn)
  return `${r.result} (${r.reason}; try_to_unmap ${r.unmap ?? 'not called'}); ${pageText(m, pfn)}`
}

function readX(who: 'B'): { name: string; run(m: Machine, c: PgAnonContext): string } {
  return {
    name: `${who} reads x (do_swap_page)`,
    run: (m, c) => {
      const v = c[who].read(c.x)
      return `reads ${v}; ${pageText(m, c.pfn)}`
    },
  }
}

function writeX(who: 'B'): { name: string; run(m: Machine, c: PgAnonContext): string } {
  return {
    name: `${who} writes x (do_wp_page or do_swap_page)`,
    run: (m, c) => {
      c[who].write(c.x, VALUE)
      return pageText(m, c.pfn)
    },
  }
}

/** The PG_anon race (see the module comment). */
export function pgAnonScenario(o: RaceScenarioOptions): RaceScenario<PgAnonContext> {
  return {
    name: 'pg-anon',
    description:
      'B faults a shared swap-cache page back in (do_swap_page) while reclaim unmaps it from A (shrink_list)',
    machine: () => pgAnonMachine(o),
    setup: pgAnonSetup,
    cpus: [
      { name: 'B', ops: [readX('B'), writeX('B')] },
      {
        name: 'reclaim',
        ops: [
          { name: 'shrink_list of P (m.pageout)', run: (m, c) => pageoutText(m, c.pfn) },
          { name: 'shrink_list of P again', run: (m, c) => pageoutText(m, c.pfn) },
        ],
      },
    ],
    check: pgAnonCheck,
  }
}

/** The mirror race (see the module comment). */
export function pgAnonClearScenario(o: RaceScenarioOptions): RaceScenario<PgAnonContext> {
  return {
    name: 'pg-anon-clear',
    description: 'A unmaps the shared page (page_remove_rmap) while B faults it back in (do_swap_page)',
    machine: () => pgAnonMachine(o),
    setup: pgAnonSetup,
    cpus: [
      {
        name: 'A',
        ops: [
          {
            name: 'A munmaps x (zap_pte_range)',
            run: (m, c) => {
              c.A.munmap(c.x, 4096)
              return pageText(m, c.pfn)
            },
          },
        ],
      },
      // B only reads: a later COW write would drop P's mapping again and hide the damage.
      { name: 'B', ops: [readX('B')] },
    ],
    check: pgAnonCheck,
  }
}

/**
 * Fork against reclaim: copy_page_range reads PG_anon outside page_map_lock
 * (the one unlocked reader the fix leaves, "made safe by the parent's pte
 * reference"). Cpu 0: A forks a third process; cpu 1: reclaim takes P. The
 * parent's page_table_lock, held across the copy, makes reclaim's trylock on
 * A fail, so P cannot lose its last mapping under the copy. Clean in both the
 * pre-fix and the fixed code: a scenario that must not be flagged.
 */
export function pgAnonForkScenario(o: RaceScenarioOptions): RaceScenario<PgAnonContext> {
  return {
    name: 'pg-anon-fork',
    description: "A forks (copy_page_range's unlocked PageAnon read) while reclaim unmaps P",
    machine: () => pgAnonMachine(o),
    setup: (m) => {
      const c = pgAnonSetup(m)
      m.pageReferenced(c.pfn) // no reference left: reclaim will try to unmap P
      return c
    },
    cpus: [
      {
        name: 'A',
        ops: [
          {
            name: 'A forks (copy_page_range)',
            run: (m, c) => {
              const child = c.A.fork()
              return `child pid ${child.pid}; ${pageText(m, c.pfn)}`
            },
          },
        ],
      },
      {
        name: 'reclaim',
        ops: [{ name: 'shrink_list of P (m.pageout)', run: (m, c) => pageoutText(m, c.pfn) }],
      },
    ],
    check: pgAnonCheck,
  }
}

/** The context of the tmpfs scenarios. */
export interface ShmemContext {
  /** The process that owns the tmpfs file's descriptor. */
  P: Process
  fd: number
  /** Where P maps the file (MAP_SHARED), unmapped after the setup. */
  x: number
  /** The tmpfs page-cache page at index 0. */
  pfn: number
}

const SHM_VALUE = 0x5eed

/**
 * A tmpfs file with one page in the page cache, written through a shared
 * mapping and unmapped again, with no reference left that would keep reclaim
 * from taking it: shrink_list will unmap nothing and call shmem_writepage.
 */
function shmemSetup(m: Machine): ShmemContext {
  m.fs.create('/dev/shm/race', { size: 4096 })
  const P = m.spawn()
  const fd = P.open('/dev/shm/race', O_RDWR)
  const x = P.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
  P.write(x, SHM_VALUE)
  const pfn = P.pagemap(x).pfn!
  P.munmap(x, 4096)
  m.pageReferenced(pfn) // no PG_referenced: reclaim does not keep it
  return { P, fd, x, pfn }
}

function shmemReclaim(): RaceCpu<ShmemContext> {
  return {
    name: 'reclaim',
    ops: [
      {
        name: 'shrink_list of the tmpfs page (m.pageout: shmem_writepage)',
        run: (m, c) => pageoutText(m, c.pfn),
      },
    ],
  }
}

/**
 * Hugh's report in the thread (<Pine.LNX.4.44.0403181928210.16385-100000@localhost.localdomain>): a
 * page-cache lookup of a tmpfs page (shmem_getpage → find_lock_page, here
 * from a fault on a new shared mapping) while reclaim moves the page to the
 * swap cache (shrink_list → shmem_writepage → move_to_swap_cache). With
 * `bugs: ['shmem-swapcache-bug-on']` aa1's BUG_ON(PageSwapCache) in
 * find_lock_page fires; fixed, the lookup repeats and brings the page back
 * from the swap cache.
 */
export function shmemGetpageScenario(o: RaceScenarioOptions): RaceScenario<ShmemContext> {
  return {
    name: 'shmem-getpage',
    description:
      'a fault on a tmpfs file looks its page up (find_lock_page) while reclaim moves it to the swap cache (shmem_writepage)',
    machine: () => shmemMachine(o),
    setup: shmemSetup,
    cpus: [
      {
        name: 'P',
        ops: [
          {
            name: 'P maps the file again and reads it (shmem_nopage → find_lock_page)',
            run: (_m, c) => {
              const x = c.P.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0)
              return `reads ${c.P.read(x)}`
            },
          },
        ],
      },
      shmemReclaim(),
    ],
    check: (m) => {
      const as = m.fs.lookup('/dev/shm/race')!
      const pfn = as.pages.get(0)
      if (pfn !== undefined)
        return m.frames.content[pfn] === SHM_VALUE ? [] : ['the tmpfs page keeps its data']
      return as.shmem!.swap.has(0) ? [] : ['the tmpfs page is in the page cache or in swap']
    },
  }
}

/**
 * The truncate.c half of the report: ftruncate of the tmpfs file to 0
 * (truncate_inode_pages) while reclaim moves its page to the swap cache.
 * With the bug aa1's BUG_ON(PageSwapCache) in truncate fires; fixed, the
 * page that left the mapping is skipped and shmem_truncate frees its swap
 * slot.
 */
export function shmemTruncateScenario(o: RaceScenarioOptions): RaceScenario<ShmemContext> {
  return {
    name: 'shmem-truncate',
    description:
      'ftruncate of a tmpfs file (truncate_inode_pages) while reclaim moves its page to the swap cache (shmem_writepage)',
    machine: () => shmemMachine(o),
    setup: shmemSetup,
    cpus: [
      {
        name: 'P',
        ops: [
          {
            name: 'P truncates the file to 0 (truncate_inode_pages)',
            run: (_m, c) => {
              c.P.ftruncate(c.fd, 0)
              return 'truncated'
            },
          },
        ],
      },
      shmemReclaim(),
    ],
    check: (m) => {
      const as = m.fs.lookup('/dev/shm/race')!
      const out: string[] = []
      if (as.pages.size !== 0) out.push('no page cache page is left past the new size')
      if (as.shmem!.swap.size !== 0) out.push('no swap entry is left past the new size')
      return out
    },
  }
}

function shmemMachine(o: RaceScenarioOptions): Machine {
  return new Machine({ arch: o.arch, ram: '16M', swap: '1M', cpus: 2, ...(o.bugs ? { bugs: o.bugs } : {}) })
}

/** The context of the nonlinear scenario. */
export interface NonlinearContext {
  /** The process whose MAP_SHARED window is nonlinear. */
  P: Process
  /** The window's address. */
  x: number
  /** The address of the window's last page, which shows file page 0. */
  y: number
  /**
   * The page at y (file page 0): only the nonlinear pte maps it, the last pte
   * of the cluster, so the scan unmaps the other pages first.
   */
  pfn: number
}

/** Pages of the nonlinear window (and of its file). */
const NL_PAGES = 4
/** What window page k holds after the setup. */
const nlValue = (k: number): number => 0x7000 + k
/** The file page window page k shows: the two ends swapped, the rest linear. */
const nlFilePage = (k: number): number => (k === 0 ? NL_PAGES - 1 : k === NL_PAGES - 1 ? 0 : k)

/**
 * A file of NL_PAGES pages mapped MAP_SHARED and made nonlinear: window page
 * 0 shows the last file page and the last window page shows file page 0.
 * Every page is written, then aged (see below), so that the next reclaim of
 * file page 0 unmaps it (and, under objrmap, the rest of its cluster).
 */
function nonlinearSetup(m: Machine): NonlinearContext {
  const size = NL_PAGES * 4096
  m.fs.create('/tmp/nonlinear', { size, fill: 0 })
  const P = m.spawn()
  const fd = P.open('/tmp/nonlinear', O_RDWR)
  const x = P.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
  for (const k of [0, NL_PAGES - 1]) P.remapFilePages(x + k * 4096, 4096, 0, nlFilePage(k))
  for (let k = 0; k < NL_PAGES; k++) P.write(x + k * 4096, nlValue(k))
  const y = x + (NL_PAGES - 1) * 4096
  const pfn = P.pagemap(y).pfn!
  // page_referenced clears PG_referenced, and the young bits where the design's
  // walk reaches nonlinear ptes (2.6.4's pte_chains); where it does not
  // (objrmap), a try_to_unmap whose cluster scan ages every pte, unmapping none.
  m.pageReferenced(pfn)
  if (P.pagemap(y).young && (m.tryToUnmap(pfn) !== 'SWAP_AGAIN' || m.frames.mapcount[pfn] !== 1))
    throw new Error('nonlinear setup: the first try_to_unmap only ages the cluster')
  return { P, x, y, pfn }
}

/**
 * Reclaim of a page of a nonlinear vma against its owner (see the module
 * comment): cpu 0 takes file page 0 through shrink_list, whose
 * try_to_unmap_file drops the page's page_map_lock for the cluster scan;
 * cpu 1 writes the page through the window (a fault on the file pte, or a
 * write hit) and then munmaps the window (zap_pte_range's page_remove_rmap).
 */
export function nonlinearReclaimScenario(o: RaceScenarioOptions): RaceScenario<NonlinearContext> {
  return {
    name: 'nonlinear-reclaim',
    description:
      'reclaim unmaps a cluster of a nonlinear vma (try_to_unmap_file drops page_map_lock) while the owner writes the page and munmaps the window',
    machine: () => new Machine({ arch: o.arch, ram: '16M', cpus: 2, ...(o.bugs ? { bugs: o.bugs } : {}) }),
    setup: nonlinearSetup,
    cpus: [
      {
        name: 'reclaim',
        ops: [{ name: 'shrink_list of the page (m.pageout)', run: (m, c) => pageoutText(m, c.pfn) }],
      },
      {
        name: 'P',
        ops: [
          {
            name: 'P writes file page 0 through the window (do_file_page or a write hit)',
            run: (m, c) => {
              c.P.write(c.y, nlValue(NL_PAGES - 1))
              return pageText(m, c.pfn)
            },
          },
          {
            name: 'P munmaps the window (zap_pte_range)',
            run: (m, c) => {
              c.P.munmap(c.x, NL_PAGES * 4096)
              return pageText(m, c.pfn)
            },
          },
        ],
      },
    ],
    check: (m) => {
      const as = m.fs.lookup('/tmp/nonlinear')!
      const out: string[] = []
      for (let k = 0; k < NL_PAGES; k++) {
        const index = nlFilePage(k)
        const pfn = as.pages.get(index)
        if (pfn !== undefined && m.frames.content[pfn] !== nlValue(k))
          out.push(`file page ${index} keeps what window page ${k} wrote`)
      }
      return out
    },
  }
}

/** The toy counter's context. */
export interface ToyContext {
  counter: number
}

/** Two cpus increment a counter: unlocked (a lost update the explorer must find), or under a lock. */
export function toyCounterScenario(o: RaceScenarioOptions & { locked: boolean }): RaceScenario<ToyContext> {
  const inc = {
    name: o.locked ? 'locked counter++' : 'counter++',
    run(m: Machine, c: ToyContext) {
      const smp = m.smp
      if (o.locked && smp) smp.locks.acquire(smp.cpu, LOCK.anon_vma_lock, 0)
      const v = c.counter
      smp?.preempt('toy_inc:read→write')
      c.counter = v + 1
      if (o.locked && smp) smp.locks.release(smp.cpu, LOCK.anon_vma_lock, 0)
    },
  }
  return {
    name: o.locked ? 'toy-counter-locked' : 'toy-counter',
    description: o.locked
      ? 'two cpus increment a counter under a lock (never a lost update)'
      : 'two cpus increment a counter without a lock (a lost update)',
    machine: () => new Machine({ arch: o.arch, ram: '4M', cpus: 2 }),
    setup: () => ({ counter: 0 }),
    cpus: [
      { name: 'one', ops: [inc] },
      { name: 'two', ops: [inc] },
    ],
    check: (_m, c) => (c.counter === 2 ? [] : [`counter is 2 after two increments, got ${c.counter}`]),
  }
}

/** Names of the built-in scenarios. */
export const RACE_SCENARIO_NAMES = [
  'pg-anon',
  'pg-anon-clear',
  'pg-anon-fork',
  'shmem-getpage',
  'shmem-truncate',
  'nonlinear-reclaim',
  'toy-counter',
  'toy-counter-locked',
] as const
/** A built-in scenario's name. */
export type RaceScenarioName = (typeof RACE_SCENARIO_NAMES)[number]

/** A built-in scenario by name; a RangeError listing the valid names for an unknown one. */
export function raceScenario(name: string, o: RaceScenarioOptions): RaceScenario<unknown> {
  switch (name) {
    case 'pg-anon':
      return pgAnonScenario(o) as RaceScenario<unknown>
    case 'pg-anon-clear':
      return pgAnonClearScenario(o) as RaceScenario<unknown>
    case 'pg-anon-fork':
      return pgAnonForkScenario(o) as RaceScenario<unknown>
    case 'shmem-getpage':
      return shmemGetpageScenario(o) as RaceScenario<unknown>
    case 'shmem-truncate':
      return shmemTruncateScenario(o) as RaceScenario<unknown>
    case 'nonlinear-reclaim':
      return nonlinearReclaimScenario(o) as RaceScenario<unknown>
    case 'toy-counter':
      return toyCounterScenario({ ...o, locked: false }) as RaceScenario<unknown>
    case 'toy-counter-locked':
      return toyCounterScenario({ ...o, locked: true }) as RaceScenario<unknown>
    default:
      throw new RangeError(`unknown race scenario '${name}'; valid: ${RACE_SCENARIO_NAMES.join(', ')}`)
  }
}
