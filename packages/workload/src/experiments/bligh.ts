/**
 * Martin Bligh's thousand-task database: the workload behind the 2004 argument
 * that pte_chains cannot carry a big shared segment on a 32-bit PAE box.
 */

import { sizeBytes } from '../format.js'
import { type ClassicExperiment, ramFor, sizeText } from './classic.js'
import { type ParamDefs, type Params, walksParam } from './params.js'

const PAGE = 4096
const MB = 1024 ** 2

/** Where the SGA lives: a disk file mapped MAP_SHARED, or a tmpfs file (what shmget gives, backed by shmem). */
export const BACKINGS = ['file', 'tmpfs'] as const

const params = {
  tasks: {
    kind: 'int',
    default: 64,
    min: 1,
    max: 4096,
    description: 'database tasks, each mapping the whole SGA (the original: 1000)',
  },
  sga: {
    kind: 'size',
    default: 16 * MB,
    min: 4096,
    max: 4096 * MB,
    description: 'the shared segment (the original: 2G)',
  },
  backing: {
    kind: 'choice',
    default: 0,
    min: 0,
    max: BACKINGS.length - 1,
    choices: BACKINGS,
    description: 'file: a disk file mapped MAP_SHARED; tmpfs: a /dev/shm file (shared memory, shmem)',
  },
  walks: walksParam(32),
} satisfies ParamDefs

export const bligh: ClassicExperiment = {
  name: 'bligh',
  sweep: 'tasks',
  title: "Martin Bligh's thousand-task database: N tasks map one big SGA MAP_SHARED and read all of it",
  description:
    "The database case of the 2004 rmap debate (thousands of tasks sharing a multi-gigabyte SGA on 32-bit PAE boxes; Andrea Arcangeli's argument that pte_chains 'limit the 2.6 kernel to non PAE boxes'), under the three rmap designs: `tasks` processes each map the same `sga` bytes MAP_SHARED, from a disk file or from tmpfs (a SysV shm segment is a tmpfs file), the first task fills it and every task reads every page. tasks x pages ptes: every design pays the page tables (8 bytes a pte on i386-pae, 4 GB at full size); pte_chains also pays a cache-line chain per few ptes of each page, from lowmem, while objrmap pays nothing per pte (the vmas are on the file's i_mmap_shared list, 12 bytes of vma fields per task). A page_referenced walk finds all `tasks` ptes of a page. Full size: -p tasks=1000 -p sga=2G --arch i386-pae --rmap objrmap --jobs 1 (524 M ptes, about 7.5 GB of RAM; pte_chains would want some 4.2 GiB of lowmem chains).",
  params,
  build: (p) => {
    const { tasks, sga, backing, walks } = p as Params<typeof params>
    const pages = Math.ceil(sga / PAGE)
    const path = BACKINGS[backing] === 'tmpfs' ? '/dev/shm/sga' : '/db/sga'
    const who = tasks > 1 ? ['t0', 'others'] : ['t0']
    const ptePages = `align(${sizeText(sga)}, PTE_SPAN) / PTE_SPAN`
    const ram = ramFor(pages, tasks, pages)
    const steps: unknown[] = [{ create: { path, size: sizeText(sga) } }, { spawn: { as: 't0' } }]
    if (tasks > 1)
      steps.push({ fork: { proc: 't0', children: tasks - 1, as: 'others', note: 'the database tasks' } })
    steps.push(
      { open: { proc: who, path, as: 'f' } },
      { mmap: { proc: who, as: 'sga', length: sizeText(sga), prot: 'rw', shared: true, fd: 'f' } },
      { mark: { as: 'mapped' } },
      { write: { proc: 't0', region: 'sga', value: 'i', note: 't0 fills the SGA' } },
      { read: { proc: who, region: 'sga', expect: 'i', note: 'every task reads every page' } },
      {
        assert: {
          note: `${tasks} x ${pages} ptes; each SGA page once in memory, mapped by every task`,
          stats: {
            'rmap.pageAddRmap': { since: 'mapped', eq: tasks * pages },
            'objects.anonVmas': 0,
          },
          meminfo: {
            Mapped: (pages * PAGE) / 1024,
            PageTables: {
              min: `${tasks} * (${ptePages}) * PAGE_SIZE / 1024`,
              max: `${tasks} * (${ptePages} + 1) * PAGE_SIZE / 1024`,
            },
          },
          page: { proc: 't0', region: 'sga', mapcount: tasks, mapping: 'address_space' },
        },
      },
    )
    // What the designs pay for those ptes (the 2004 argument). Every layout's pte_chain costs
    // at least 4 bytes a pte (a cache line per NRPTE = (L1 - 4) / 4 or (L1 - 8) / 8 ptes), all
    // of it lowmem; objrmap and anonmm pay per task (vma fields, the anonmm struct: at most 48
    // bytes) and per frame of RAM (mapcount: at most 8 bytes), nothing per pte.
    const ramPages = Math.ceil(sizeBytes(ram) / PAGE)
    if (tasks > 1)
      steps.push({
        assert: {
          rmap: 'pte_chains',
          note: 'pte_chains: a chain slot per pte of a page mapped more than once, from lowmem',
          stats: { 'rmapBytes.total': { min: 4 * tasks * pages }, 'rmapMemory.lowmemFrames': { min: 1 } },
        },
      })
    steps.push({
      assert: {
        rmap: ['objrmap', 'anonmm'],
        note: 'objrmap, anonmm: nothing per pte (the vmas are on the file i_mmap_shared list)',
        stats: {
          'rmapBytes.total': { max: 48 * tasks + 8 * ramPages },
          'rmapBytes.anonVma': 0,
          'rmapMemory.lowmemFrames': 0,
        },
      },
    })
    if (walks > 0) {
      // PG_referenced after the faults, as mark_page_accessed leaves it: the first fault sets it,
      // the second activates the page and clears it, the third sets it again, later ones keep it.
      const referenced = tasks === 2 ? 0 : 1
      steps.push({
        page_referenced: {
          proc: 't0',
          region: 'sga',
          stride: Math.max(1, Math.floor(pages / walks)),
          expect: tasks + referenced,
          note: `${tasks} young ptes${referenced ? ' + PG_referenced' : ''}`,
        },
      })
    }
    return {
      name: 'bligh',
      description: `Martin Bligh's database: ${tasks} tasks sharing a ${sizeText(sga)} SGA (${BACKINGS[backing]}), ${(tasks * pages).toLocaleString('en-US')} ptes`,
      machine: { arch: 'all', ram, cpus: 2, rmap: ['objrmap', 'pte_chains', 'anonmm'] },
      steps,
    }
  },
}
