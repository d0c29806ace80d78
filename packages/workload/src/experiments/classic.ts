/**
 * The 2004 workloads people measured, as parameterised workloads
 * (https://github.com/rmaplab/rmaplab/blob/main/docs/designs.md#published-numbers): each builds an
 * ordinary workload, so `rmaplab show NAME` prints it in the file format.
 */
import type { LayoutRun } from '../run.js'
import { type ParamDefs, type Params, walksParam } from './params.js'

const PAGE = 4096
const MB = 1024 ** 2

/**
 * RAM for a run: the data pages, the page-table pages of every process at the
 * PAE density (512 ptes a page, the largest of the four layouts), the fixed
 * pages of each mm, and slack; rounded up to 16 MB.
 */
export function ramFor(dataPages: number, procs: number, mappedPagesPerProc: number): string {
  const perProc = Math.ceil(mappedPagesPerProc / 512) + 12
  const bytes = (dataPages + procs * perProc) * PAGE * 1.15 + 16 * MB
  return `${Math.ceil(bytes / (16 * MB)) * 16}M`
}

/** Bytes as a workload writes them: 64M, 512K, or a count of bytes. */
export function sizeText(bytes: number): string {
  for (const [u, n] of [
    ['G', 1024 ** 3],
    ['M', MB],
    ['K', 1024],
  ] as const)
    if (bytes % n === 0 && bytes >= n) return `${bytes / n}${u}`
  return String(bytes)
}

/** Walk about `walks` pages of `pages`: the stride. */
const strideFor = (pages: number, walks: number) => Math.max(1, Math.floor(pages / Math.max(1, walks)))

export interface ClassicExperiment<D extends ParamDefs = ParamDefs> {
  name: string
  title: string
  description: string
  params: D
  /** The parameter that sets the process count: what `compare --chart` sweeps. */
  sweep?: keyof D & string
  build(p: Params<D>): Record<string, unknown>
  /**
   * The experiment's claim across layouts and designs, checked on the runs of
   * one comparison (what a single run cannot assert: one design against
   * another). Absent when every claim is asserted inside the workload.
   */
  verify?(runs: readonly LayoutRun[]): VerifyResult
}

/** What {@link ClassicExperiment.verify} found: one line per layout, and whether the claim held. */
export interface VerifyResult {
  ok: boolean
  lines: string[]
}

function define<D extends ParamDefs>(e: ClassicExperiment<D>): ClassicExperiment {
  return e as unknown as ClassicExperiment
}

export const andrea = define({
  name: 'andrea',
  sweep: 'levels',
  title:
    "Andrea's fork test: one big private anonymous mapping, touched, then fork level by level until lowmem runs out",
  description:
    "Andrea Arcangeli's benchmark for objrmap + anon_vma against pte_chains (LKML, March 2004), on an i386 box (the 3:1 split: 896 MB of lowmem, the rest highmem): a private anonymous mapping of `size`, every page written, then fork level by level (2^L processes after level L) until a fork fails with ENOMEM or `levels` are done; every process reads every page. Each fork copies every pte; pte_chains also put every shared pte on a chain of cache-line objects from lowmem, so they run lowmem out a level earlier: '2.6.2 runs out of memory in fork from number 8', -aa 'reaches 9'. The report's `fork levels reached` is the level each design completed; LowFree, PageTables and `rmap lowmem frames` say what filled lowmem. The default is scaled down (32M on a 64M box, all lowmem: a few seconds); the original: -p size=512M -p ram=1G.",
  params: {
    size: {
      kind: 'size',
      default: 32 * MB,
      min: 4096,
      max: 4096 * MB,
      description: 'the mapping (the original: 512M)',
    },
    ram: {
      kind: 'size',
      default: 64 * MB,
      min: 16 * MB,
      max: 4096 * MB,
      description: 'RAM of the i386 box: lowmem up to 896M, the rest highmem (the original: 1G or more)',
    },
    levels: {
      kind: 'int',
      default: 12,
      min: 0,
      max: 16,
      description: 'fork levels to try: the tree stops at the first fork that runs out of memory',
    },
    walks: walksParam(64),
  },
  build: ({ size, ram, levels, walks }) => {
    const pages = Math.ceil(size / PAGE)
    const steps: unknown[] = [
      { spawn: { as: 'p' } },
      { mmap: { proc: 'p', as: 'mem', length: sizeText(size), prot: 'rw', note: 'private anonymous' } },
      { write: { proc: 'p', region: 'mem', value: 'i', note: 'touch every page' } },
      {
        fork: {
          proc: 'p',
          levels,
          until_fails: 'ENOMEM',
          as: 'all',
          note: 'level by level, until a fork runs out of memory',
        },
      },
      { read: { proc: 'all', region: 'mem', expect: 'i', note: 'every process reads every page' } },
      {
        assert: {
          rmap: 'pte_chains',
          note: 'every shared pte is on a pte_chain: the chains took lowmem frames',
          stats: { 'rmapMemory.lowmemFrames': { min: 1 } },
        },
      },
      {
        assert: {
          rmap: ['objrmap', 'anonmm'],
          note: 'no rmap memory per pte: nothing of the design in lowmem',
          stats: { 'rmapMemory.lowmemFrames': 0 },
        },
      },
    ]
    if (walks > 0) {
      steps.push({
        page_referenced: {
          proc: 'p',
          region: 'mem',
          stride: strideFor(pages, walks),
          note: 'each walk finds every young pte: objrmap visits every vma on the anon_vma, anonmm every mm, pte_chains the chain',
        },
      })
    }
    return {
      name: 'andrea',
      description: `Andrea's fork test: ${sizeText(size)} on a ${sizeText(ram)} i386 box, fork levels until memory runs out (at most ${levels})`,
      machine: { arch: 'i386', ram: sizeText(ram), cpus: 2, rmap: ['objrmap', 'pte_chains', 'anonmm'] },
      steps,
    }
  },
  verify: (runs) => verifyLevels(runs),
})

/**
 * Andrea's result across designs: on each layout, when objrmap or anonmm ran
 * out of memory at some level, pte_chains ran out at a lower one. A run where
 * no design ran out has nothing to compare (more levels, or less RAM, would).
 */
export function verifyLevels(runs: readonly LayoutRun[]): VerifyResult {
  const lines: string[] = []
  let ok = true
  for (const arch of [...new Set(runs.map((r) => r.arch))]) {
    const by = new Map(runs.filter((r) => r.arch === arch && r.ok).map((r) => [r.rmap, r]))
    const reached = (d: string) => by.get(d)?.results['fork.levels']
    const pte = reached('pte_chains')
    const others = ['objrmap', 'anonmm'].filter((d) => reached(d) !== undefined)
    if (pte === undefined || others.length === 0) continue
    const text = ['objrmap', 'pte_chains', 'anonmm']
      .filter((d) => reached(d) !== undefined)
      .map((d) => `${d} ${reached(d)}`)
      .join(', ')
    const ranOut = (d: string) => by.get(d)!.results['fork.ranOut'] === 1
    if (!others.some(ranOut) && !ranOut('pte_chains')) {
      lines.push(
        `– ${arch}: no design ran out of memory (levels completed: ${text}); raise levels or lower ram`,
      )
      continue
    }
    const held = others.every((d) => pte < reached(d)!)
    if (!held) ok = false
    lines.push(
      held
        ? `✓ ${arch}: pte_chains ran lowmem out at a lower fork level than ${others.join(' and ')} (levels completed: ${text})`
        : `✗ ${arch}: pte_chains did not run out at a lower fork level than ${others.join(' and ')} (levels completed: ${text})`,
    )
  }
  return { ok, lines }
}

export const morton = define({
  name: 'morton',
  sweep: 'tasks',
  title: "Andrew Morton's rmap-test: N tasks each map M MAP_SHARED windows onto one file",
  description:
    "Andrew Morton's rmap-test: one file, `tasks` processes, each mapping it as `windows` separate MAP_SHARED windows of `window` pages (adjacent windows map distant file offsets, so no two vmas merge), every page written. Every vma of every task sits on the file's i_mmap_shared list, so objrmap's page_referenced visits tasks x windows vmas to find the `tasks` ptes of one page: the 'zillion vmas of one file' case that prio_tree (2.6.7) answered. anonmm walks file pages the same way; pte_chains follow the page's chain to its ptes and visit no vma. Run under the three rmap designs.",
  params: {
    tasks: { kind: 'int', default: 16, min: 1, max: 4096, description: 'processes' },
    windows: { kind: 'int', default: 128, min: 1, max: 4096, description: 'MAP_SHARED windows per process' },
    window: { kind: 'int', default: 4, min: 1, max: 65536, description: 'pages per window' },
    walks: walksParam(32),
  },
  build: ({ tasks, windows, window, walks }) => {
    const filePages = windows * window
    const who = tasks > 1 ? ['t0', 'others'] : ['t0']
    const steps: unknown[] = [
      { create: { path: '/rmap-test', size: `${filePages}p` } },
      { spawn: { as: 't0' } },
    ]
    if (tasks > 1)
      steps.push({ fork: { proc: 't0', children: tasks - 1, as: 'others', note: 'before any mapping' } })
    steps.push({ open: { proc: who, path: '/rmap-test', as: 'f' } })
    for (let k = 0; k < windows; k++) {
      steps.push({
        mmap: {
          proc: who,
          as: `w${k}`,
          length: `${window}p`,
          prot: 'rw',
          shared: true,
          fd: 'f',
          offset: `${(windows - 1 - k) * window}p`,
        },
      })
    }
    for (let k = 0; k < windows; k++) {
      steps.push({ write: { proc: who, region: `w${k}`, value: `${(windows - 1 - k) * window} + i` } })
    }
    steps.push({
      read: {
        proc: who,
        region: 'w0',
        expect: `${(windows - 1) * window} + i`,
        note: 'the file holds what was written',
      },
    })
    if (walks > 0) {
      // The first page of `n` windows spread over the file.
      const n = Math.min(walks, windows)
      steps.push({ mark: { as: 'walk' } })
      for (let j = 0; j < n; j++) {
        const k = Math.floor((j * windows) / n)
        steps.push({
          page_referenced: {
            proc: 't0',
            region: `w${k}`,
            pages: 1,
            expect: tasks + 1,
            note: `${tasks} young ptes + PG_referenced`,
          },
        })
      }
      steps.push(
        {
          assert: {
            rmap: ['objrmap', 'anonmm'],
            note: `the pathology: each walk of a file page visits all ${tasks * windows} vmas on i_mmap_shared to find ${tasks} ptes`,
            stats: {
              'rmap.vmasVisited': { since: 'walk', eq: n * tasks * windows },
              'rmap.ptesProbed': { since: 'walk', eq: n * tasks },
            },
          },
        },
        {
          assert: {
            rmap: 'pte_chains',
            note: `cheap: each walk follows the page's chain to its ${tasks} ptes, no vma`,
            stats: {
              'rmap.vmasVisited': { since: 'walk', eq: 0 },
              'rmap.ptesProbed': { since: 'walk', eq: n * tasks },
            },
          },
        },
      )
    }
    return {
      name: 'morton',
      description: `Andrew Morton's rmap-test: ${tasks} tasks x ${windows} MAP_SHARED windows of ${window} pages onto one file`,
      machine: {
        arch: 'all',
        ram: ramFor(filePages * 2, tasks, filePages + windows * 2),
        cpus: 2,
        rmap: ['objrmap', 'pte_chains', 'anonmm'],
      },
      steps,
    }
  },
})

export const sharedSegment = define({
  name: 'shared-segment',
  sweep: 'procs',
  title: 'Many processes sharing a big segment: one MAP_SHARED file mapped by every process',
  description:
    'A database-style shared segment: one file of `size` bytes, mapped MAP_SHARED by `procs` processes that each touch every page. The page cache holds each page once; every process pays its own page tables for the whole segment (twice as much with 8-byte ptes), which is what made 32-bit PAE boxes with big SGAs run out of lowmem. objrmap needs nothing per pte: a page_referenced walk visits the procs vmas of the file and finds procs ptes.',
  params: {
    procs: { kind: 'int', default: 32, min: 1, max: 4096, description: 'processes mapping the segment' },
    size: { kind: 'size', default: 32 * MB, min: 4096, max: 4096 * MB, description: 'the segment' },
    walks: walksParam(32),
  },
  build: ({ procs, size, walks }) => {
    const pages = Math.ceil(size / PAGE)
    const who = procs > 1 ? ['p0', 'others'] : ['p0']
    const steps: unknown[] = [
      { create: { path: '/db/segment', size: sizeText(size) } },
      { spawn: { as: 'p0' } },
    ]
    if (procs > 1)
      steps.push({ fork: { proc: 'p0', children: procs - 1, as: 'others', note: 'before the mapping' } })
    steps.push(
      { open: { proc: who, path: '/db/segment', as: 'f' } },
      { mmap: { proc: who, as: 'seg', length: sizeText(size), prot: 'rw', shared: true, fd: 'f' } },
      { write: { proc: 'p0', region: 'seg', value: 'i', note: 'p0 fills the segment' } },
      { read: { proc: who, region: 'seg', expect: 'i', note: 'everyone reads all of it' } },
    )
    if (walks > 0) {
      steps.push({
        page_referenced: {
          proc: 'p0',
          region: 'seg',
          stride: strideFor(pages, walks),
          expect: procs + 1,
          note: `${procs} young ptes + PG_referenced`,
        },
      })
    }
    return {
      name: 'shared-segment',
      description: `${procs} processes sharing a ${sizeText(size)} MAP_SHARED segment`,
      machine: { arch: 'all', ram: ramFor(pages, procs, pages), cpus: 2 },
      steps,
    }
  },
})

export const rik = define({
  name: 'rik',
  sweep: 'children',
  title: "Rik van Riel's case: children x pages COW copies, all on one anon_vma",
  description:
    "Rik van Riel's worst case for anon_vma (https://github.com/rmaplab/rmaplab/blob/main/docs/scenarios.md#a6): a parent writes `pages` private anonymous pages and forks `children` children; every child writes every page, so each holds its own copy (mapcount 1), yet under objrmap all copies hang off one anon_vma whose list holds children+1 vmas, and a page_referenced walk of any child page visits every vma of the family to find one pte (what anon_vma_chain fixed in 2.6.34). pte_chains go straight to the copy's one pte (PG_direct), anonmm to the child's mm (the indicated mm) and stop there: each walk costs one pte. Run under the three rmap designs. The original is 1000 x 1000: -p children=1000 -p pages=1000 (about 4 GB of RAM: i386-pae and ppc64; i386 and ppc cannot hold it).",
  params: {
    children: {
      kind: 'int',
      default: 100,
      min: 1,
      max: 10_000,
      description: 'children of the one parent (the original: 1000)',
    },
    pages: {
      kind: 'int',
      default: 100,
      min: 1,
      max: 1_000_000,
      description: 'private anonymous pages (the original: 1000)',
    },
    walks: walksParam(16, "pages of one child's copy page_referenced walks"),
  },
  build: ({ children, pages, walks }) => {
    const steps: unknown[] = [
      { spawn: { as: 'p' } },
      { mmap: { proc: 'p', as: 'mem', length: `${pages}p`, prot: 'rw' } },
      { write: { proc: 'p', region: 'mem', value: 'i' } },
      { fork: { proc: 'p', children, as: 'kids' } },
      { write: { proc: 'kids', region: 'mem', value: 'pid', note: 'every child copies every page' } },
      {
        assert: {
          rmap: 'objrmap',
          note: "every child's copy is on the parent's one anon_vma",
          page: {
            proc: 'kids[0]',
            region: 'mem',
            pages: 1,
            mapcount: 1,
            mapping: 'anon_vma',
            same_mapping_as: { proc: 'p', region: 'mem' },
          },
          stats: { 'objects.anonVmas': 1 },
        },
      },
      {
        assert: {
          rmap: 'pte_chains',
          note: 'an anonymous page has no mapping under 2.6.4: its pte is direct',
          page: { proc: 'kids[0]', region: 'mem', pages: 1, mapcount: 1, mapping: 'none' },
        },
      },
      {
        assert: {
          rmap: 'anonmm',
          note: "the copy points at the child's anonmm",
          page: { proc: 'kids[0]', region: 'mem', pages: 1, mapcount: 1, mapping: 'anonmm' },
        },
      },
      { mark: { as: 'walk' } },
    ]
    if (walks > 0) {
      const stride = strideFor(pages, walks)
      const n = Math.ceil(pages / stride)
      steps.push(
        {
          page_referenced: {
            proc: `kids[${children - 1}]`,
            region: 'mem',
            stride,
            expect: 1,
            note: 'one young pte to find',
          },
        },
        {
          assert: {
            rmap: 'objrmap',
            note: `anon_vma's worst case: each walk visits all ${children + 1} vmas to find one pte`,
            stats: {
              'rmap.vmasVisited': { since: 'walk', eq: n * (children + 1) },
              'rmap.ptesProbed': { since: 'walk', eq: n * (children + 1) },
            },
          },
        },
        {
          assert: {
            rmap: ['pte_chains', 'anonmm'],
            note: 'each walk probes the one pte: the direct pte, or the indicated mm',
            stats: {
              'rmap.vmasVisited': { since: 'walk', eq: 0 },
              'rmap.ptesProbed': { since: 'walk', eq: n },
            },
          },
        },
      )
    }
    return {
      name: 'rik',
      description: `Rik van Riel's case: ${children} children x ${pages} COW pages on one anon_vma`,
      machine: {
        arch: 'all',
        ram: ramFor(pages * (children + 1), children + 1, pages),
        cpus: 2,
        rmap: ['objrmap', 'pte_chains', 'anonmm'],
      },
      steps,
    }
  },
})

export const prefork = define({
  name: 'prefork',
  sweep: 'workers',
  title: 'A pre-forking server: one fork group of many workers, a page shared by two of them',
  description:
    "anonmm's pathological case (Hugh Dickins' anonmm, rmap 10/11; docs/designs.md#costs): a server forks `workers` workers before any mapping, so all are one fork group on the master's anonmm list, and each writes a page of its own state; then the first worker maps `pages` private anonymous pages, writes them and forks one helper, so each page is shared by two processes of the group. anonmm's walk tries the indicated mm (the worker) first and then goes along the group list until it has found mapcount ptes: past every other worker to the helper at the end, visiting the whole group. objrmap visits the two vmas on the page's anon_vma, pte_chains the two ptes on its chain.",
  params: {
    workers: { kind: 'int', default: 100, min: 1, max: 10_000, description: 'workers forked by the server' },
    pages: { kind: 'int', default: 16, min: 1, max: 1_000_000, description: "pages of the worker's buffer" },
    walks: { kind: 'int', default: 16, min: 1, max: 1_000_000, description: 'pages page_referenced walks' },
  },
  build: ({ workers, pages, walks }) => {
    const stride = strideFor(pages, walks)
    const n = Math.ceil(pages / stride)
    const group = workers + 2
    return {
      name: 'prefork',
      description: `A pre-forking server: ${workers} workers, a ${pages}-page buffer shared by a worker and its helper`,
      machine: {
        arch: 'all',
        ram: ramFor(pages, workers + 2, pages),
        cpus: 2,
        rmap: ['objrmap', 'pte_chains', 'anonmm'],
      },
      steps: [
        { spawn: { as: 'server' } },
        { fork: { proc: 'server', children: workers, as: 'workers', note: 'the pre-forked workers' } },
        { mmap: { proc: 'workers', as: 'own', length: '1p', prot: 'rw', note: "each worker's own state" } },
        {
          write: {
            proc: 'workers',
            region: 'own',
            value: 'pid',
            note: 'so no worker is an empty mm (rss 0)',
          },
        },
        { mmap: { proc: 'workers[0]', as: 'buf', length: `${pages}p`, prot: 'rw' } },
        { write: { proc: 'workers[0]', region: 'buf', value: '0x5e0000 + i' } },
        { fork: { proc: 'workers[0]', as: 'helper', note: 'shares the buffer: mapcount 2' } },
        { read: { proc: 'helper', region: 'buf', expect: '0x5e0000 + i' } },
        { mark: { as: 'walk' } },
        {
          page_referenced: {
            proc: 'workers[0]',
            region: 'buf',
            stride,
            expect: 3,
            note: 'two young ptes and PG_referenced',
          },
        },
        {
          assert: {
            rmap: 'anonmm',
            note: `each walk goes along the fork group from the worker to the helper: ${workers} mms or more of ${group}`,
            stats: {
              'rmap.mmsVisited': { since: 'walk', min: n * workers },
              'rmap.ptesProbed': { since: 'walk', min: n * workers },
            },
          },
        },
        {
          assert: {
            rmap: 'objrmap',
            note: "each walk visits the two vmas on the buffer's anon_vma",
            stats: {
              'rmap.vmasVisited': { since: 'walk', eq: n * 2 },
              'rmap.mmsVisited': { since: 'walk', eq: 0 },
            },
          },
        },
        {
          assert: {
            rmap: 'pte_chains',
            note: 'each walk follows the two ptes on the chain',
            stats: {
              'rmap.ptesProbed': { since: 'walk', eq: n * 2 },
              'rmap.vmasVisited': { since: 'walk', eq: 0 },
              'rmap.mmsVisited': { since: 'walk', eq: 0 },
            },
          },
        },
      ],
    }
  },
})

export const mremapShared = define({
  name: 'mremap-shared',
  sweep: 'children',
  title:
    'mremap of shared anonymous memory: anonmm copies every shared page, anon_vma and pte_chains move it',
  description:
    'Hugh Dickins\' rmap 11 (mremap_move_anon_rmap, make_page_exclusive): under anonmm page->index is one virtual address, so a page another mm maps cannot move; mremap write-faults it first and moves the copy (the kernel printed "mremap moved N cows"). A parent writes `pages` private anonymous pages and forks `children` children; each child mremap-moves the whole range elsewhere. anonmm copies children x pages pages (rmap.mremapCows); objrmap + anon_vma keeps vm_pgoff on the moved vma and pte_chains move each pte on its chain: no copy, the frames stay shared.',
  params: {
    children: {
      kind: 'int',
      default: 8,
      min: 1,
      max: 10_000,
      description: 'children that each move the range',
    },
    pages: { kind: 'int', default: 256, min: 1, max: 1_000_000, description: 'private anonymous pages' },
  },
  build: ({ children, pages }) => {
    const cows = children * pages
    return {
      name: 'mremap-shared',
      description: `mremap of shared anonymous memory: ${children} children each move ${pages} shared pages`,
      machine: {
        arch: 'all',
        ram: ramFor(pages * (children + 1), children + 1, pages * 2),
        cpus: 2,
        rmap: ['objrmap', 'pte_chains', 'anonmm'],
      },
      steps: [
        { spawn: { as: 'p' } },
        { mmap: { proc: 'p', as: 'x', length: `${pages}p`, prot: 'rw' } },
        { write: { proc: 'p', region: 'x', value: '0x300000 + i' } },
        { fork: { proc: 'p', children, as: 'kids' } },
        {
          mmap: { proc: 'kids', as: 'y', length: `${pages}p`, prot: 'none', note: 'find room for the move' },
        },
        { munmap: { proc: 'kids', region: 'y' } },
        { mark: { as: 'move' } },
        { mremap: { proc: 'kids', region: 'x', new_length: `${pages}p`, to: 'y', as: 'y' } },
        { read: { proc: 'kids', region: 'y', expect: '0x300000 + i', note: 'the data moved' } },
        { read: { proc: 'p', region: 'x', expect: '0x300000 + i' } },
        {
          assert: {
            rmap: 'anonmm',
            note: `mremap moved ${cows} cows: every shared page copied before the move`,
            stats: {
              'rmap.mremapCows': { since: 'move', eq: cows },
              'cow.copies': { since: 'move', eq: cows },
            },
            frames: { proc: ['p', 'kids'], region: 'x', distinct: pages },
          },
        },
        {
          assert: {
            rmap: ['objrmap', 'pte_chains'],
            note: 'no copies: every frame stays shared by the parent and every child',
            stats: { 'rmap.mremapCows': { since: 'move', eq: 0 }, 'cow.copies': { since: 'move', eq: 0 } },
            page: {
              proc: 'kids[0]',
              region: 'y',
              mapcount: children + 1,
              same_frame_as: { proc: 'p', region: 'x' },
            },
          },
        },
      ],
    }
  },
})

/** The 2004 workloads, in the order `rmaplab list` shows them. */
export const CLASSIC: readonly ClassicExperiment[] = [
  andrea,
  morton,
  sharedSegment,
  rik,
  prefork,
  mremapShared,
]
