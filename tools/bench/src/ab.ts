/**
 * `pnpm --filter @rmaplab/bench ab <checkout A> <checkout B> [...]`: an A/B
 * comparison of the VM's sequential paths between checkouts of this repository
 * (git worktrees with `pnpm install` run in each).
 *
 * The same task code (this file) runs against each checkout's @rmaplab/rmap and
 * arch sources (imported by path), each round in a fresh node process, the
 * checkouts alternating A B, B A, A B ... so that load from other processes on
 * the machine falls on every checkout alike. Each process times every task a
 * few times after a warm-up and reports its fastest; the parent prints, per
 * task and checkout, the median and the minimum over rounds, and each
 * checkout's ratio to the first (below 1: faster).
 *
 * Options (environment): AB_ROUNDS (default 8), AB_ARCH (layout, default
 * i386), AB_REPS (timed repetitions per process, default 3), AB_TASKS
 * (comma-separated task names, default all), AB_RMAP (the rmap design option,
 * for checkouts that have it).
 */
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

type Rmap = typeof import('@rmaplab/rmap')
type Machine = InstanceType<Rmap['Machine']>
type Process = ReturnType<Machine['spawn']>

const rounds = Number(process.env['AB_ROUNDS'] ?? 8)
const archName = process.env['AB_ARCH'] ?? 'i386'
const reps = Number(process.env['AB_REPS'] ?? 3)
const only = process.env['AB_TASKS']?.split(',').map((s) => s.trim())
const rmapDesign = process.env['AB_RMAP']

const PAGE = 4096
/** The layouts a checkout ships (arch/i386 has two). */
const LAYOUTS = ['i386', 'i386-pae', 'ppc', 'ppc64']
const FAULT_PAGES = 16384
const WALKERS = 1000

/**
 * The big machine (the fork and exit tasks, the single-page walk) and the fork
 * task's mm, per layout: 2G and 1 GiB (262144 pages), except on ppc, whose
 * model RAM ends at 768M (CONFIG_LOWMEM_SIZE, no highmem): there the machine is
 * 768M and the mm 704 MiB (180224 pages), the sizes `forkSize` in vm.ts uses.
 * The task names say which.
 */
const BIG =
  archName === 'ppc'
    ? { ram: '768M', forkPages: 180224, fork: '704 MiB' }
    : { ram: '2G', forkPages: 262144, fork: '1 GiB' }
const FORK_PAGES = BIG.forkPages

/** One task: `setup` (untimed) returns the state `timed` works on; `teardown` untimed. */
interface Task {
  name: string
  /** Operations per timed run (for ns/op). */
  ops: number
  run: (R: Rmap, arch: unknown) => number[]
}

function timeIt<S>(n: number, setup: () => S, timed: (s: S) => void, teardown: (s: S) => void): number[] {
  const out: number[] = []
  for (let r = -1; r < n; r++) {
    const s = setup()
    const t0 = performance.now()
    timed(s)
    const dt = performance.now() - t0
    teardown(s)
    if (r >= 0) out.push(dt * 1e6)
  }
  return out
}

function machine(R: Rmap, arch: unknown, ram: string, swap?: string): Machine {
  const opts: Record<string, unknown> = { arch, ram, cpus: 2 }
  if (swap) opts['swap'] = swap
  if (rmapDesign) opts['rmap'] = rmapDesign
  return new R.Machine(opts as never)
}

/** A process on the 768M machine of the fault tasks, and the prot and flags of a private anonymous mapping. */
function faultProcess(R: Rmap, arch: unknown): { p: Process; rw: number; anon: number } {
  return {
    p: machine(R, arch, '768M').spawn(),
    rw: R.PROT_READ | R.PROT_WRITE,
    anon: R.MAP_PRIVATE | R.MAP_ANONYMOUS,
  }
}

function writePages(p: Process, a: number, pages: number, v: number): void {
  for (let i = 0; i < pages; i++) p.write(a + i * PAGE, v + i)
}

const TASKS: Task[] = [
  {
    name: 'anon write fault',
    ops: FAULT_PAGES,
    run(R, arch) {
      const { p, rw, anon } = faultProcess(R, arch)
      return timeIt(
        reps,
        () => p.mmap(0, FAULT_PAGES * PAGE, rw, anon),
        (a) => writePages(p, a, FAULT_PAGES, 1),
        (a) => p.munmap(a, FAULT_PAGES * PAGE),
      )
    },
  },
  {
    name: 'zero-page read fault',
    ops: FAULT_PAGES,
    run(R, arch) {
      const { p, rw, anon } = faultProcess(R, arch)
      let sum = 0
      const out = timeIt(
        reps,
        () => p.mmap(0, FAULT_PAGES * PAGE, rw, anon),
        (a) => {
          for (let i = 0; i < FAULT_PAGES; i++) sum += p.read(a + i * PAGE)
        },
        (a) => p.munmap(a, FAULT_PAGES * PAGE),
      )
      if (sum !== 0) throw new Error('zero page not zero')
      return out
    },
  },
  {
    name: 'shared file read fault',
    ops: FAULT_PAGES,
    run(R, arch) {
      // bligh's read: a MAP_SHARED file page already in the page cache (do_no_page → filemap_nopage).
      const { p, fd } = sharedFile(R, arch)
      let sum = 0
      const out = timeIt(
        reps,
        () => p.mmap(0, FAULT_PAGES * PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_SHARED, fd, 0),
        (a) => {
          for (let i = 0; i < FAULT_PAGES; i++) sum += p.read(a + i * PAGE)
        },
        (a) => p.munmap(a, FAULT_PAGES * PAGE),
      )
      if (sum === 0) throw new Error('file pages read as zero')
      return out
    },
  },
  {
    name: 'read of a present page',
    ops: FAULT_PAGES,
    run(R, arch) {
      const { p, fd } = sharedFile(R, arch)
      const a = p.mmap(0, FAULT_PAGES * PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_SHARED, fd, 0)
      let sum = 0
      for (let i = 0; i < FAULT_PAGES; i++) sum += p.read(a + i * PAGE)
      const out = timeIt(
        reps * 4,
        () => null,
        () => {
          for (let i = 0; i < FAULT_PAGES; i++) sum += p.read(a + i * PAGE)
        },
        () => {},
      )
      if (sum === 0) throw new Error('file pages read as zero')
      return out
    },
  },
  {
    name: 'COW fault',
    ops: FAULT_PAGES,
    run(R, arch) {
      const { p, rw, anon } = faultProcess(R, arch)
      const a = p.mmap(0, FAULT_PAGES * PAGE, rw, anon)
      writePages(p, a, FAULT_PAGES, 1)
      return timeIt(
        reps,
        () => p.fork(),
        (c) => writePages(c, a, FAULT_PAGES, 2),
        (c) => c.exit(),
      )
    },
  },
  {
    name: 'munmap',
    ops: FAULT_PAGES,
    run(R, arch) {
      const { p, rw, anon } = faultProcess(R, arch)
      return timeIt(
        reps,
        () => {
          const a = p.mmap(0, FAULT_PAGES * PAGE, rw, anon)
          writePages(p, a, FAULT_PAGES, 3)
          return a
        },
        (a) => p.munmap(a, FAULT_PAGES * PAGE),
        () => {},
      )
    },
  },
  {
    name: `fork ${BIG.fork} mm`,
    ops: 1,
    run(R, arch) {
      const m = machine(R, arch, BIG.ram)
      const p = m.spawn()
      const a = p.mmap(0, FORK_PAGES * PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_PRIVATE | R.MAP_ANONYMOUS)
      writePages(p, a, FORK_PAGES, 1)
      return timeIt(
        reps,
        () => ({ kid: null as Process | null }),
        (s) => {
          s.kid = p.fork()
        },
        (s) => s.kid!.exit(),
      )
    },
  },
  {
    name: `exit of a ${BIG.fork} fork child`,
    ops: 1,
    run(R, arch) {
      const m = machine(R, arch, BIG.ram)
      const p = m.spawn()
      const a = p.mmap(0, FORK_PAGES * PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_PRIVATE | R.MAP_ANONYMOUS)
      writePages(p, a, FORK_PAGES, 1)
      return timeIt(
        reps,
        () => p.fork(),
        (c) => c.exit(),
        () => {},
      )
    },
  },
  {
    name: 'try_to_unmap (per vma)',
    ops: WALKERS + 1,
    run(R, arch) {
      const { m, pfn, touch } = walkers(R, arch)
      return timeIt(
        reps * 10,
        () => null,
        () => m.tryToUnmap(pfn),
        () => touch(),
      )
    },
  },
  {
    name: 'page_referenced (per vma)',
    ops: WALKERS + 1,
    run(R, arch) {
      const { m, pfn } = walkers(R, arch)
      return timeIt(
        reps * 100,
        () => null,
        () => m.pageReferenced(pfn),
        () => {},
      )
    },
  },
  {
    name: `page_referenced of a page mapped once (${BIG.ram})`,
    ops: 1000,
    run(R, arch) {
      const m = machine(R, arch, BIG.ram)
      const p = m.spawn()
      const a = p.mmap(0, PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_PRIVATE | R.MAP_ANONYMOUS)
      p.write(a, 1)
      const pfn = p.pagemap(a).pfn!
      return timeIt(
        reps * 10,
        () => null,
        () => {
          for (let i = 0; i < 1000; i++) m.pageReferenced(pfn)
        },
        () => {},
      )
    },
  },
  {
    name: 'swap-in read fault',
    ops: 4096,
    run(R, arch) {
      const m = machine(R, arch, '64M', '128M')
      const p = m.spawn()
      const pages = 4096
      let a = -1
      return timeIt(
        reps,
        () => {
          if (a >= 0) p.munmap(a, pages * PAGE)
          a = p.mmap(0, pages * PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_PRIVATE | R.MAP_ANONYMOUS)
          writePages(p, a, pages, 1)
          for (let i = 0; i < pages; i++) m.pageReferenced(p.pagemap(a + i * PAGE).pfn!)
          const r = m.reclaim({ pages })
          if (r.freed < pages) throw new Error(`reclaim freed ${r.freed}`)
          return a
        },
        () => {
          for (let i = 0; i < pages; i++) p.read(a + i * PAGE)
        },
        () => {},
      )
    },
  },
]

/** A file of FAULT_PAGES pages, all in the page cache (written through a first mapping, then unmapped). */
function sharedFile(R: Rmap, arch: unknown) {
  const m = machine(R, arch, '768M')
  m.fs.create('/bench/sga', { size: FAULT_PAGES * PAGE })
  const p = m.spawn()
  const fd = p.open('/bench/sga', R.O_RDWR)
  const a = p.mmap(0, FAULT_PAGES * PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_SHARED, fd, 0)
  writePages(p, a, FAULT_PAGES, 1)
  p.munmap(a, FAULT_PAGES * PAGE)
  return { m, p, fd }
}

function walkers(R: Rmap, arch: unknown) {
  const m = machine(R, arch, '256M')
  m.fs.create('/bench/walk', { size: PAGE })
  const p = m.spawn()
  const fd = p.open('/bench/walk', R.O_RDWR)
  const a = p.mmap(0, PAGE, R.PROT_READ | R.PROT_WRITE, R.MAP_SHARED, fd, 0)
  p.write(a, 1)
  const procs = [p]
  for (let i = 0; i < WALKERS; i++) procs.push(p.fork())
  const touch = () => {
    for (const q of procs) q.read(a)
  }
  touch()
  return { m, pfn: p.pagemap(a).pfn!, touch }
}

const tasks = only ? TASKS.filter((t) => only.includes(t.name)) : TASKS

if (process.env['AB_CHILD']) {
  const root = process.env['AB_CHILD']
  const R = (await import(pathToFileURL(resolve(root, 'packages/rmap/src/index.ts')).href)) as Rmap
  const dir = archName.startsWith('i386') ? 'i386' : archName
  const mod = (await import(pathToFileURL(resolve(root, `arch/${dir}/src/index.ts`)).href)) as Record<
    string,
    unknown
  >
  const arch = Object.values(mod).find(
    (v) => typeof v === 'object' && v !== null && (v as { name?: unknown }).name === archName,
  )
  if (!arch) throw new Error(`no layout ${archName} in ${root}`)
  const res: Record<string, number> = {}
  for (const t of tasks) res[t.name] = Math.min(...t.run(R, arch)) / t.ops
  console.log(JSON.stringify(res))
} else {
  const roots = process.argv.slice(2).map((r) => resolve(process.env['INIT_CWD'] ?? '.', r))
  if (roots.length < 2) {
    console.error('usage: ab <checkout A> <checkout B> [...]')
    process.exit(2)
  }
  // The options, checked before any child runs (a child would die on them with a stack trace).
  const bad: string[] = []
  if (!LAYOUTS.includes(archName))
    bad.push(`AB_ARCH: unknown layout '${archName}'; valid: ${LAYOUTS.join(', ')}`)
  for (const [name, v] of [
    ['AB_ROUNDS', rounds],
    ['AB_REPS', reps],
  ] as const)
    if (!Number.isInteger(v) || v < 1) bad.push(`${name} must be a whole number of at least 1, got ${v}`)
  const unknown = only?.filter((n) => !TASKS.some((t) => t.name === n)) ?? []
  if (unknown.length > 0)
    bad.push(`AB_TASKS: unknown task(s) ${unknown.join(', ')}; valid: ${TASKS.map((t) => t.name).join(', ')}`)
  if (bad.length > 0) {
    for (const b of bad) console.error(b)
    process.exit(2)
  }
  const self = fileURLToPath(import.meta.url)
  const per = roots.map(() => new Map<string, number[]>())
  for (let r = 0; r < rounds; r++) {
    const order = roots.map((_, i) => i)
    if (r % 2) order.reverse()
    for (const i of order) {
      const out = execFileSync(process.execPath, [...process.execArgv, self], {
        env: { ...process.env, AB_CHILD: roots[i] },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 16 << 20,
      })
      const res = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>
      for (const [k, v] of Object.entries(res)) {
        const l = per[i]!.get(k) ?? []
        l.push(v)
        per[i]!.set(k, l)
      }
    }
    console.error(`round ${r + 1}/${rounds} done`)
  }
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    const h = s.length >> 1
    return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2
  }
  const sig = (x: number) => (x >= 100 ? Math.round(x) : +x.toPrecision(3))
  const table: Record<string, string | number>[] = []
  for (const t of tasks) {
    const row: Record<string, string | number> = { task: `${t.name} ns/op` }
    const m0 = med(per[0]!.get(t.name)!)
    const n0 = Math.min(...per[0]!.get(t.name)!)
    roots.forEach((_, i) => {
      const xs = per[i]!.get(t.name)!
      const m = med(xs)
      const n = Math.min(...xs)
      const tag = String.fromCharCode(65 + i)
      row[`${tag} median`] = sig(m)
      row[`${tag} min`] = sig(n)
      if (i > 0) row[`${tag}/A med|min`] = `${(m / m0).toFixed(3)} | ${(n / n0).toFixed(3)}`
    })
    table.push(row)
  }
  console.log(
    `A/B (${archName}${rmapDesign ? `, rmap ${rmapDesign}` : ''}): ${rounds} rounds of fresh processes, alternating; each process the best of ${reps} timed runs after a warm-up`,
  )
  for (const [i, r] of roots.entries()) console.log(`${String.fromCharCode(65 + i)}: ${r}`)
  console.table(table)
}
