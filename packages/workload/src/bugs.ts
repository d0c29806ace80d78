/**
 * The bug archaeology of the "Re: 2.6.5-rc1-aa1" thread: for every bug a
 * machine can re-introduce (`bugs: [...]`, @rmaplab/rmap's BUGS), a demo that
 * runs the same thing with the bug and without it and says what caught the
 * buggy run, and where (the step of a sequential demo, the schedule of a race).
 * A library, so that the cli (`rmaplab bugs`) and the browser explorer print
 * the same thing.
 *
 * A demo behaves when every buggy run is caught and every fixed run is clean.
 */
import {
  BOOT,
  BUGS,
  type BugName,
  bugMask,
  type ExploreResult,
  explore,
  INIT_MM,
  InvariantError,
  KernelBugError,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PageTableEnv,
  PROT_READ,
  PROT_WRITE,
  pteAllocKernel,
  raceScenario,
  SyscallError,
} from '@rmaplab/rmap'
import type { ArchName } from './format.js'
import { ARCHES } from './layouts.js'
import { now } from './run.js'

/** What one run of a demo found. */
export interface BugDemoRun {
  /** The bugs the machine ran with ([] for the fixed kernel). */
  bugs: BugName[]
  /** True when something flagged the run. */
  caught: boolean
  /** What flagged it: `'BUG_ON'` (a KernelBugError), `'m.check()'`, `'assertion'` (the scenario's), `'error'`. */
  by: string
  /** The message of what flagged it ('' when clean). */
  message: string
  /** Where: the step of a sequential demo, or the schedule of a race (its preemptions, one per line). */
  at: string[]
  /** Races: the exploration's figures and the interleaving and replay token of the failing schedule. */
  race?: {
    scenario: string
    schedules: number
    runs: number
    infeasible: number
    boundReached: number
    preemptions: number
    trace: string[]
    token: string
  }
  /** Steps run (sequential demos). */
  steps?: number
  ms: number
}

/** One case of a demo (a demo may show the bug on two layouts or two code paths). */
export interface BugDemoCase {
  /** What this case runs, e.g. `'ppc64: page_referenced of an anonymous page'`. */
  label: string
  arch: ArchName
  buggy: BugDemoRun
  fixed: BugDemoRun
  /** The buggy run was caught and the fixed run is clean. */
  ok: boolean
}

/** The result of a demo. */
export interface BugDemoResult {
  name: BugName
  cases: BugDemoCase[]
  /** Every case behaves. */
  ok: boolean
}

/** A bug of the registry. */
export interface BugDemo {
  readonly name: BugName
  /** One line: what the bug was. */
  readonly title: string
  /** The longer description (BUGS' `what`). */
  readonly what: string
  /** Where the fix is: the LKML message and the kernel files. */
  readonly fix: string
  /** What catches the re-introduced bug in the demo. */
  readonly caughtBy: string
  /** `'race'`: explored by the interleaving explorer; `'sequential'`: one run, checked after each step. */
  readonly kind: 'race' | 'sequential'
  /** Run the demo (with and without the bug). */
  run(): BugDemoResult
}

const AA_REPLY = '<20040318230628.GA2050@dualathlon.random>'
const HUGH1 = '<Pine.LNX.4.44.0403181928210.16385-100000@localhost.localdomain> (Hugh Dickins, 18 Mar 2004)'
const RACE = '<20040318221447.GA3248@dualathlon.random>'
const PAULUS = '<16474.17281.854064.530815@cargo.ozlabs.ibm.com> (19 Mar 2004)'

function describeError(e: unknown): { by: string; message: string } {
  if (e instanceof InvariantError) return { by: 'm.check()', message: e.violations.join('; ') }
  if (e instanceof KernelBugError) return { by: 'BUG_ON', message: e.message }
  return { by: 'error', message: e instanceof Error ? e.message : String(e) }
}

/** A sequential demo step. */
interface Step<C> {
  label: string
  run(c: C): void
}

/** Run steps in order, `check` after each; the first step that raises or fails the check is where it was caught. */
function sequential<C>(
  bugs: BugName[],
  make: (bugs: BugName[]) => C,
  steps: Step<C>[],
  check: (c: C) => void,
): BugDemoRun {
  const t0 = now()
  let n = 0
  let c: C
  try {
    c = make(bugs)
  } catch (e) {
    return {
      bugs,
      caught: true,
      ...describeError(e),
      at: ['(building the machine)'],
      steps: 0,
      ms: now() - t0,
    }
  }
  for (const s of steps) {
    n++
    try {
      s.run(c)
      check(c)
    } catch (e) {
      return {
        bugs,
        caught: true,
        ...describeError(e),
        at: [`step ${n}: ${s.label}`],
        steps: n,
        ms: now() - t0,
      }
    }
  }
  return { bugs, caught: false, by: '', message: '', at: [], steps: n, ms: now() - t0 }
}

function raceRun(name: string, arch: ArchName, bugs: BugName[], bound: number): BugDemoRun {
  const s = raceScenario(name, { arch: ARCHES[arch], bugs })
  const r: ExploreResult = explore(s, { bound })
  const f = r.failure
  const at = f
    ? f.steps
        .filter((x) => x.preemption)
        .map(
          (x) =>
            `cpu${x.from} (${s.cpus[x.from]!.name}) preempted in ${x.fn} at ${x.point} → cpu${x.to} (${s.cpus[x.to]!.name})`,
        )
    : []
  const by = f
    ? f.violation.kind === 'bug'
      ? 'BUG_ON'
      : f.violation.kind === 'check'
        ? 'm.check()'
        : f.violation.kind
    : ''
  return {
    bugs,
    caught: f !== null,
    by,
    message: f?.violation.message ?? '',
    at,
    race: {
      scenario: name,
      schedules: r.schedules,
      runs: r.runs,
      infeasible: r.infeasible,
      boundReached: r.boundReached,
      preemptions: f?.preemptions ?? 0,
      trace: f?.trace ?? [],
      token: f?.token ?? '',
    },
    ms: r.ms,
  }
}

function finish(name: BugName, cases: Omit<BugDemoCase, 'ok'>[]): BugDemoResult {
  const out = cases.map((c) => ({ ...c, ok: c.buggy.caught && !c.fixed.caught }))
  return { name, cases: out, ok: out.every((c) => c.ok) }
}

function raceCase(bug: BugName, label: string, scenario: string, bound: number): Omit<BugDemoCase, 'ok'> {
  return {
    label,
    arch: 'i386',
    buggy: raceRun(scenario, 'i386', [bug], bound),
    fixed: raceRun(scenario, 'i386', [], bound),
  }
}

function what(name: BugName): string {
  return BUGS.find((b) => b.name === name)!.what
}

/** A process with eight written anonymous pages: its pte page exists, each page has an HPTE on a hash MMU. */
interface ProcCtx {
  m: Machine
  x: number
}

function procSteps(
  extra: Step<ProcCtx & { p: ReturnType<Machine['spawn']> }>[],
): Step<ProcCtx & { p: ReturnType<Machine['spawn']> }>[] {
  return [
    {
      label: 'a process mmaps 8 anonymous pages',
      run: (c) => {
        c.x = c.p.mmap(0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
      },
    },
    {
      label: 'write every page (do_anonymous_page; pte_alloc_map allocates the pte page)',
      run: (c) => {
        for (let i = 0; i < 8; i++) c.p.write(c.x + i * 4096, i + 1)
      },
    },
    ...extra,
  ]
}

function procMachine(arch: ArchName) {
  return (bugs: BugName[]) => {
    const m = new Machine({ arch: ARCHES[arch], ram: '16M', ...(bugs.length ? { bugs } : {}) })
    return { m, x: 0, p: m.spawn() }
  }
}

function pageReferencedStep(page: number): Step<ProcCtx & { p: ReturnType<Machine['spawn']> }> {
  return {
    label: `page_referenced of page ${page} (ptep_test_and_clear_young on its pte)`,
    run: (c) => {
      c.m.pageReferenced(c.p.pagemap(c.x + page * 4096).pfn!)
    },
  }
}

const checkMachine = (c: { m: Machine }) => c.m.check()

/** A process with a MAP_SHARED window on a 4-page file, made nonlinear (nonlinear-nr-mapped). */
interface NonlinearCtx {
  m: Machine
  p: ReturnType<Machine['spawn']>
  x: number
}

function nonlinearMachine(bugs: BugName[]): NonlinearCtx {
  const m = new Machine({ arch: ARCHES.i386, ram: '16M', ...(bugs.length ? { bugs } : {}) })
  m.fs.create('/tmp/nonlinear', { size: 4 * 4096, fill: 0 })
  return { m, p: m.spawn(), x: 0 }
}

/** The pfn the window's last page maps (file page 0 after the remaps). */
const nonlinearLast = (c: NonlinearCtx): number => c.p.pagemap(c.x + 3 * 4096).pfn!

function nonlinearSteps(): Step<NonlinearCtx>[] {
  return [
    {
      label: 'mmap a 4-page file MAP_SHARED; remap_file_pages swaps its first and last page (VM_NONLINEAR)',
      run: (c) => {
        c.x = c.p.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, c.p.open('/tmp/nonlinear', O_RDWR), 0)
        c.p.remapFilePages(c.x, 4096, 0, 3)
        c.p.remapFilePages(c.x + 3 * 4096, 4096, 0, 0)
      },
    },
    {
      label: 'write every page of the window (do_file_page / do_no_page)',
      run: (c) => {
        for (let i = 0; i < 4; i++) c.p.write(c.x + i * 4096, i + 1)
      },
    },
    {
      label: 'try_to_unmap of file page 0: the cluster scan ages the young ptes, unmaps nothing',
      run: (c) => {
        c.m.tryToUnmap(nonlinearLast(c))
      },
    },
    {
      label:
        'try_to_unmap of file page 0 again: the scan unmaps the cluster, page_remove_rmap counts each page; try_to_unmap finds mapcount 0',
      run: (c) => {
        c.m.tryToUnmap(nonlinearLast(c))
      },
    },
  ]
}

/** Two written anonymous pages at X and an untouched one-page vma at Y, under pte_chains (move-vma-merge-first). */
interface MoveVmaCtx {
  m: Machine
  p: ReturnType<Machine['spawn']>
  held: number[]
}

const MOVE_X = 0x4000_0000
const MOVE_Y = 0x5000_0000

function moveVmaMachine(bugs: BugName[]): MoveVmaCtx {
  const m = new Machine({
    arch: ARCHES.i386,
    ram: '16M',
    rmap: 'pte_chains',
    ...(bugs.length ? { bugs } : {}),
  })
  return { m, p: m.spawn(), held: [] }
}

function moveVmaSteps(): Step<MoveVmaCtx>[] {
  const RW = PROT_READ | PROT_WRITE
  const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
  return [
    {
      label: `mmap 2 anonymous pages at 0x${MOVE_X.toString(16)} and write them; mmap 1 at 0x${MOVE_Y.toString(16)}, never touched (no page table there)`,
      run: (c) => {
        c.p.mmap(MOVE_X, 2 * 4096, RW, ANON)
        c.p.write(MOVE_X, 1)
        c.p.write(MOVE_X + 4096, 2)
        c.p.mmap(MOVE_Y, 4096, RW, ANON)
      },
    },
    {
      label: 'take every free page frame',
      run: (c) => {
        for (
          let pfn = c.m.env.tryAllocPage({ highmem: true });
          pfn >= 0;
          pfn = c.m.env.tryAllocPage({ highmem: true })
        )
          c.held.push(pfn)
      },
    },
    {
      label: `mremap(MAYMOVE|FIXED) the 2 pages to 0x${(MOVE_Y + 4096).toString(16)}, just after the untouched vma: move_page_tables cannot allocate the pte page, ENOMEM`,
      run: (c) => {
        try {
          c.p.mremap(MOVE_X, 2 * 4096, 2 * 4096, MREMAP_MAYMOVE | MREMAP_FIXED, MOVE_Y + 4096)
        } catch (e) {
          if (e instanceof SyscallError && e.errno === 'ENOMEM') return
          throw e
        }
        throw new Error('mremap worked with no free page frame')
      },
    },
    {
      label: 'give the frames back; the 2 pages still read 1 and 2 at their old address',
      run: (c) => {
        for (const pfn of c.held.splice(0)) c.m.env.freePage(pfn)
        const got = [c.p.read(MOVE_X), c.p.read(MOVE_X + 4096)]
        if (got[0] !== 1 || got[1] !== 2) throw new Error(`the old range reads ${got.join(', ')}, not 1, 2`)
      },
    },
  ]
}

/** Every bug of the registry, in the order of BUGS. */
export const BUG_DEMOS: readonly BugDemo[] = [
  {
    name: 'pg-anon-race',
    title:
      'PG_anon set outside page_map_lock: reclaim clears it under do_swap_page (the oops at mm/objrmap.c:271)',
    what: what('pg-anon-race'),
    fix: `${AA_REPLY} (page_add_rmap(page, vma, address, anon): PG_anon set inside page_map_lock; mm/objrmap.c, mm/memory.c, mm/swapfile.c, mm/fremap.c, fs/exec.c); the analysis ${RACE}`,
    caughtBy: "BUG_ON(!page->mapping) in page_add_rmap (the race scenario 'pg-anon', explored to bound 2)",
    kind: 'race',
    run: () =>
      finish('pg-anon-race', [
        raceCase(
          'pg-anon-race',
          'B faults the shared swap-cache page in while reclaim unmaps it from A',
          'pg-anon',
          2,
        ),
      ]),
  },
  {
    name: 'pg-anon-clear-race',
    title: 'PG_anon cleared after page_map_lock is dropped (the mirror race)',
    what: what('pg-anon-clear-race'),
    fix: `${AA_REPLY} (try_to_unmap_one and page_remove_rmap clear PG_anon on the last unmap inside page_map_lock; mm/objrmap.c)`,
    caughtBy:
      "m.check(): the rmap walk of a mapped page finds fewer ptes than its mapcount (the race scenario 'pg-anon-clear', bound 2)",
    kind: 'race',
    run: () =>
      finish('pg-anon-clear-race', [
        raceCase('pg-anon-clear-race', 'A unmaps the shared page while B faults it in', 'pg-anon-clear', 2),
      ]),
  },
  {
    name: 'pagetables-0kb',
    title: '"PageTables: 0 kB": the page-table accounting left out when the pgtable rmap went',
    what: what('pagetables-0kb'),
    fix: `${HUGH1}, applied in ${AA_REPLY}: inc_page_state(nr_page_table_pages) in pte_alloc_map, dec in free_one_pmd (mm/memory.c); pte_alloc_kernel left uncounted`,
    caughtBy: 'm.check(): the per-cpu sum of nr_page_table_pages equals the pte pages in use',
    kind: 'sequential',
    run: () =>
      finish('pagetables-0kb', [
        {
          label: 'one process faults 8 pages in',
          arch: 'i386',
          ...both('pagetables-0kb', (bugs) =>
            sequential(bugs, procMachine('i386'), procSteps([]), checkMachine),
          ),
        },
      ]),
  },
  {
    name: 'shmem-swapcache-bug-on',
    title: 'over-enthusiastic BUG_ON(PageSwapCache) in filemap.c / truncate.c vs shmem_writepage',
    what: what('shmem-swapcache-bug-on'),
    fix: `${HUGH1} (the four BUG_ONs removed: mm/filemap.c find_lock_page; mm/truncate.c truncate_complete_page, invalidate_complete_page, invalidate_inode_pages2), accepted in ${AA_REPLY}; the race with mm/shmem.c shmem_writepage/move_to_swap_cache`,
    caughtBy:
      "BUG_ON(PageSwapCache(page)) after lock_page (the race scenarios 'shmem-getpage' and 'shmem-truncate', bound 2)",
    kind: 'race',
    run: () =>
      finish('shmem-swapcache-bug-on', [
        raceCase(
          'shmem-swapcache-bug-on',
          'a fault on a tmpfs file (shmem_getpage → find_lock_page) against reclaim',
          'shmem-getpage',
          2,
        ),
        raceCase('shmem-swapcache-bug-on', 'ftruncate of a tmpfs file against reclaim', 'shmem-truncate', 2),
      ]),
  },
  {
    name: 'ppc-no-pgtable-rmap',
    title: 'ppc and ppc64 broken without the pgtable rmap: the hash flush cannot find the mm of a pte page',
    what: what('ppc-no-pgtable-rmap'),
    fix: `${HUGH1} ("you'll probably want to grab some of my arch patches"); Paul Mackerras, ${PAULUS}: set page->mapping and page->index in the pte and pmd alloc functions, as Hugh's anobjrmap 6/6 does; in 2.6.7 (rmap 12) ppc/ppc64 pte_alloc_one* do it (arch/ppc/mm/pgtable.c, include/asm-ppc64/pgalloc.h)`,
    caughtBy: 'a kernel BUG: the hash flush (ppc64 hpte_update, ppc flush_hash_one_pte) reads a NULL mm',
    kind: 'sequential',
    run: () =>
      finish(
        'ppc-no-pgtable-rmap',
        (['ppc64', 'ppc'] as const).map((arch) => ({
          label: 'page_referenced of a faulted-in anonymous page',
          arch,
          ...both('ppc-no-pgtable-rmap', (bugs) =>
            sequential(bugs, procMachine(arch), procSteps([pageReferencedStep(0)]), checkMachine),
          ),
        })),
      ),
  },
  {
    name: 'ppc-early-pte-count',
    title: 'the early per-cpu page-table increment on ppc (mem_init_done)',
    what: what('ppc-early-pte-count'),
    fix: `the question is ${HUGH1}; the answer kept in the -aa tree and in 2.6.7 (rmap 12): pte_alloc_kernel does not count (mm/memory.c); 2.6.4 guarded pgtable_add_rmap with mem_init_done (BROKEN_PPC_PTE_ALLOC_ONE, include/asm-ppc/rmap.h)`,
    caughtBy: 'a kernel BUG: the per-cpu page_state touched before the per-cpu areas are set up',
    kind: 'sequential',
    run: () =>
      finish('ppc-early-pte-count', [
        {
          label: 'boot: MMU_init maps RAM (map_page → pte_alloc_kernel), then ioremap after mem_init',
          arch: 'ppc',
          ...both('ppc-early-pte-count', (bugs) =>
            sequential(
              bugs,
              (b) =>
                new PageTableEnv({
                  arch: ARCHES.ppc,
                  bootStage: BOOT.setupArch,
                  bugs: bugMask(b, 'ppc-early-pte-count demo'),
                }),
              [
                {
                  label:
                    'MMU_init → mapin_ram → map_page(KERNELBASE) → pte_alloc_kernel(&init_mm) (before the per-cpu areas)',
                  run: (env) => {
                    pteAllocKernel(env, INIT_MM, 0xc0000000n)
                  },
                },
                {
                  label: 'setup_per_cpu_areas, then mem_init (mem_init_done = 1)',
                  run: (env) => {
                    env.advanceBoot(BOOT.perCpuReady)
                    env.advanceBoot(BOOT.memInitDone)
                  },
                },
                {
                  label: 'ioremap → map_page → pte_alloc_kernel(&init_mm) at 0xd1000000',
                  run: (env) => {
                    pteAllocKernel(env, INIT_MM, 0xd1000000n)
                  },
                },
              ],
              () => {},
            ),
          ),
        },
      ]),
  },
  {
    name: 'ppc-young-no-flush',
    title: 'ppc ptep_test_and_clear_young never flushes the HPTE (HASHPTE tested on the masked old pte)',
    what: what('ppc-young-no-flush'),
    fix: 'not in the thread: include/asm-ppc/pgtable.h __ptep_test_and_clear_young, as written 2.6.4–2.6.10 (flush_hash_one_pte from benh, 2004-02-06); removed with the pgtable rmap in 2.6.11 (a492cd14…)',
    caughtBy: "m.check()'s MMU-cache check: an HPTE whose pte lost ACCESSED without a flush",
    kind: 'sequential',
    run: () =>
      finish('ppc-young-no-flush', [
        {
          label: 'page_referenced of a faulted-in anonymous page',
          arch: 'ppc',
          ...both('ppc-young-no-flush', (bugs) =>
            sequential(bugs, procMachine('ppc'), procSteps([pageReferencedStep(0)]), checkMachine),
          ),
        },
      ]),
  },
  {
    name: 'ppc-flush-hash-shift',
    title: 'ppc flush_hash_one_pte flushes the wrong address (byte offset << 9, not << 10)',
    what: what('ppc-flush-hash-shift'),
    fix: 'not in the thread: arch/ppc/mm/tlb.c flush_hash_one_pte, 2.6.4–2.6.10; fixed in 2.6.11-rc5 ("ppc32: Wrong vaddr in flush_hash_one_pte()")',
    caughtBy: "m.check()'s MMU-cache check: the HPTE of the pte made old stays",
    kind: 'sequential',
    run: () =>
      finish('ppc-flush-hash-shift', [
        {
          label: 'page_referenced of the 4th page of a pte page (entry 3; the flush goes to entry 1)',
          arch: 'ppc',
          ...both('ppc-flush-hash-shift', (bugs) =>
            sequential(bugs, procMachine('ppc'), procSteps([pageReferencedStep(3)]), checkMachine),
          ),
        },
      ]),
  },
  {
    name: 'nonlinear-nr-mapped',
    title:
      "2.6.7's try_to_unmap counts nr_mapped down again after the nonlinear cluster scan's page_remove_rmap did",
    what: what('nonlinear-nr-mapped'),
    fix: '2.6.9-rc2, Hugh Dickins, "rmaplock: kill page_map_lock" (f7f5e03df0, 23 Aug 2004): nr_mapped moves with an atomic mapcount into page_remove_rmap, which try_to_unmap_one calls; try_to_unmap only answers SWAP_SUCCESS (mm/rmap.c)',
    caughtBy: 'm.check(): the per-cpu sum of nr_mapped equals the mapped pages (one below after the reclaim)',
    kind: 'sequential',
    run: () =>
      finish('nonlinear-nr-mapped', [
        {
          label: 'reclaim of a file page that only a nonlinear vma maps',
          arch: 'i386',
          ...both('nonlinear-nr-mapped', (bugs) =>
            sequential(bugs, nonlinearMachine, nonlinearSteps(), checkMachine),
          ),
        },
      ]),
  },
  {
    name: 'move-vma-merge-first',
    title:
      "2.6.4's move_vma grows the neighbour over the new range before move_page_tables, and a failed move leaves it grown",
    what: what('move-vma-merge-first'),
    fix: '2.6.6-rc1, Hugh Dickins, "mremap: move_vma fixes and cleanup" (e01346d8e9, 11 Apr 2004): move_vma leaves merging to copy_vma (mm/mmap.c), and on a failed move_page_tables moves the ptes back and unmaps the new range (mm/mremap.c)',
    caughtBy: 'm.check(): total_vm equals the pages of the vmas (the grown neighbour is not counted)',
    kind: 'sequential',
    run: () =>
      finish('move-vma-merge-first', [
        {
          label: 'pte_chains: an anonymous mremap next to a vma it merges with runs out of page tables',
          arch: 'i386',
          ...both('move-vma-merge-first', (bugs) =>
            sequential(bugs, moveVmaMachine, moveVmaSteps(), checkMachine),
          ),
        },
      ]),
  },
]

function both(bug: BugName, run: (bugs: BugName[]) => BugDemoRun): { buggy: BugDemoRun; fixed: BugDemoRun } {
  return { buggy: run([bug]), fixed: run([]) }
}

/** Names of the demos (the same as BUG_NAMES). */
export const BUG_DEMO_NAMES: readonly BugName[] = BUG_DEMOS.map((d) => d.name)

/** A demo by name; a RangeError listing the valid names for an unknown one. */
export function bugDemo(name: string): BugDemo {
  const d = BUG_DEMOS.find((x) => x.name === name)
  if (!d) throw new RangeError(`unknown bug '${name}'; valid: ${BUG_DEMO_NAMES.join(', ')}`)
  return d
}

/** A run's figures as `rmaplab bugs` prints them: the schedules and runs of a race or the steps of a sequential demo, and the time. */
export function bugRunFigures(r: BugDemoRun): string {
  const ms = `${r.ms.toFixed(0)} ms`
  if (r.race)
    return `${r.race.schedules} schedule(s), ${r.race.runs} run(s) of which ${r.race.infeasible} infeasible, ${ms}`
  return `${r.steps} step(s), ${ms}`
}

/** The `rmaplab race` command that replays the failing schedule of race run `r` on `arch`; '' when no schedule failed. */
export function bugReplayCommand(r: BugDemoRun, arch: string): string {
  if (!r.race?.token) return ''
  return `rmaplab race ${r.race.scenario} --arch ${arch} --bugs ${r.bugs.join(',')} --replay ${r.race.token}`
}

/**
 * The report of a demo's result, line by line, as `rmaplab bugs NAME` prints
 * it and the browser explorer shows it: per case, what caught the run with the
 * bug (and where: the step, or the schedule, its interleaving and the replay
 * command) and how the run without it ended; last, whether the demo behaves.
 */
export function bugDemoLines(d: Pick<BugDemo, 'title' | 'fix'>, res: BugDemoResult): string[] {
  const out = [`bug ${res.name}: ${d.title}`, `fix: ${d.fix}`]
  for (const c of res.cases) {
    out.push('', `case: ${c.label} (${c.arch})`)
    const b = c.buggy
    if (b.caught) {
      out.push(`  with the bug: CAUGHT by ${b.by}: ${b.message}`)
      if (b.race) {
        out.push(`    after ${bugRunFigures(b)}; schedule, ${b.race.preemptions} preemption(s):`)
        for (const s of b.at) out.push(`      ${s}`)
        out.push('    interleaving:')
        for (const line of b.race.trace) out.push(`      ${line}`)
        out.push(`    replay: ${bugReplayCommand(b, c.arch)}`)
      } else out.push(`    at ${b.at.join('; ')} (${bugRunFigures(b)})`)
    } else out.push(`  with the bug: NOT CAUGHT (${bugRunFigures(b)})`)
    const f = c.fixed
    if (f.caught) out.push(`  without it: FLAGGED by ${f.by} at ${f.at.join('; ')}: ${f.message}`)
    else if (f.race)
      out.push(`  without it: clean, every schedule to bound ${f.race.boundReached} (${bugRunFigures(f)})`)
    else out.push(`  without it: clean (${bugRunFigures(f)})`)
  }
  out.push('', res.ok ? 'the demo behaves' : 'THE DEMO DOES NOT BEHAVE')
  return out
}
