/**
 * Martin Bligh's thousand-task database: the workload behind the 2004 argument
 * that pte_chains cannot carry a big shared segment on a 32-bit PAE box.
 */
import { type ClassicExperiment, ramFor, sizeText } from './classic.js'
import type { ParamDefs, Params } from './params.js'

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
    default: 32 * MB,
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
  walks: {
    kind: 'int',
    default: 32,
    min: 0,
    max: 1_000_000,
    description: 'pages page_referenced walks afterwards',
  },
} satisfies ParamDefs

export const bligh: ClassicExperiment = {
  name: 'bligh',
  sweep: 'tasks',
  title: "Martin Bligh's thousand-task database: N tasks map one big SGA MAP_SHARED and read all of it",
  description:
    "The database case of the 2004 rmap debate (Martin Bligh's 2.6.5 runs; Andrea Arcangeli's argument that pte_chains 'limit the 2.6 kernel to non PAE boxes'): `tasks` processes each map the same `sga` bytes MAP_SHARED, from a disk file or from tmpfs (a SysV shm segment is a tmpfs file), the first task fills it and every task reads every page. tasks x pages ptes: every design pays the page tables (8 bytes a pte on i386-pae, 4 GB at full size); pte_chains also pays a cache-line chain per few ptes of each page, from lowmem, while objrmap pays nothing per pte (the vmas are on the file's i_mmap_shared list, 12 bytes of vma fields per task). A page_referenced walk finds all `tasks` ptes of a page. Full size: -p tasks=1000 -p sga=2G --arch i386-pae (524 M ptes; about 7.5 GB of RAM).",
  params,
  build: (p) => {
    const { tasks, sga, backing, walks } = p as Params<typeof params>
    const pages = Math.ceil(sga / PAGE)
    const path = BACKINGS[backing] === 'tmpfs' ? '/dev/shm/sga' : '/db/sga'
    const who = tasks > 1 ? ['t0', 'others'] : ['t0']
    const ptePages = `align(${sizeText(sga)}, PTE_SPAN) / PTE_SPAN`
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
      machine: { arch: 'all', ram: ramFor(pages, tasks, pages), cpus: 2 },
      steps,
    }
  },
}
