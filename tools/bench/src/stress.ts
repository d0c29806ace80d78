/**
 * `pnpm --filter @rmaplab/bench run stress`: the long-running swap stress
 * workload of issue 4 at large size, in the spirit of the seed thread (hours
 * of heavy swapping on Andrea's objrmap tree): fork trees that touch memory
 * read-only and read-write while reclaim runs continuously, anonymous memory
 * larger than RAM, mremap and munmap in the mix, seeded.
 *
 * Every word a task reads is compared with its shadow copy; `m.check()` runs
 * every STRESS_CHECK_EVERY operations and at the end; at the end every task
 * reads back every word it wrote, all tasks exit, and every frame and every
 * swap slot must be free again (MemFree back at its start, SwapFree ==
 * SwapTotal, the LRU lists empty, no OOM kill).
 *
 * The generator is the one of the small stress test in
 * tools/conformance-matrix/test/vm-reclaim.test.ts, duplicated (not shared):
 * tools/conformance-matrix must not depend on tools/bench, and a shared file in
 * either package would make it do so. Differences: the size is a parameter,
 * the checks run every N operations, and failures throw instead of `expect`.
 *
 * Options (environment): STRESS_OPS (operations per arch, default 20000),
 * STRESS_ARCH (comma-separated layout names, default all four), STRESS_RAM
 * (default '16M'), STRESS_SWAP (default '128M'), STRESS_SEED (default
 * 0x9e3779b9), STRESS_CHECK_EVERY (default 50), STRESS_TASKS (most live tasks,
 * default 8), STRESS_JSON (write the figures there).
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  MREMAP_MAYMOVE,
  PAGE_SIZE,
  PG,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from '@rmaplab/rmap'

export interface StressOptions {
  arch: Arch
  ops: number
  ram?: string
  swap?: string
  seed?: number
  /** m.check() every this many operations (and at the end). */
  checkEvery?: number
  /** Most live tasks of the fork tree. */
  maxTasks?: number
}

export interface StressResult {
  arch: string
  ops: number
  seconds: number
  opsPerSecond: number
  checks: number
  checkedReads: number
  writes: number
  forks: number
  exits: number
  mremaps: number
  munmaps: number
  reclaimCalls: number
  maxTasks: number
  /** Most pages mapped over all tasks at once, and RAM in pages. */
  peakMappedPages: number
  ramPages: number
  directReclaims: number
  pagesReclaimed: number
  pagesReclaimedPerSecond: number
  swapPagesWritten: number
  swapPagesRead: number
  swapMajorFaults: number
  swapCacheHits: number
  swapInsPerSecond: number
  oomKills: number
}

class StressError extends Error {
  override name = 'StressError'
}

function must(ok: boolean, what: string): void {
  if (!ok) throw new StressError(what)
}

interface Region {
  addr: number
  pages: number
}
interface Task {
  p: Process
  regions: Region[]
  data: Map<number, number>
}

/** Run the workload on one arch; throws on the first wrong word, failed check or lost page. */
export function runStress(o: StressOptions): StressResult {
  const m = new Machine({ arch: o.arch, ram: o.ram ?? '16M', swap: o.swap ?? '128M', seed: 7 })
  const checkEvery = o.checkEvery ?? 50
  const maxTasks = o.maxTasks ?? 8
  const ramPages = m.meminfo().MemTotal / 4
  const free0 = m.meminfo().MemFree
  let rng = (o.seed ?? 0x9e3779b9) >>> 0 || 1
  const rand = (n: number): number => {
    rng ^= rng << 13
    rng ^= rng >>> 17
    rng ^= rng << 5
    rng >>>= 0
    return rng % n
  }
  const n = {
    checks: 0,
    checkedReads: 0,
    writes: 0,
    forks: 0,
    exits: 0,
    mremaps: 0,
    munmaps: 0,
    reclaimCalls: 0,
    maxTasks: 1,
    peak: 0,
  }
  const check = (what: string): void => {
    try {
      m.check()
    } catch (e) {
      throw new StressError(
        `${o.arch.name}: m.check() ${what}: ${e instanceof Error ? e.message : String(e)}`,
      )
    }
    n.checks++
  }
  const budget = Math.floor(ramPages * 3) // pages mapped over all tasks: three times RAM
  // One task maps at most RAM's worth, so that the tree keeps forking: a single task holding the
  // whole budget would leave no room for children.
  const taskCap = ramPages
  const root = m.spawn()
  const tasks: Task[] = [{ p: root, regions: [], data: new Map() }]
  let mapped = 0
  const regionPages = (t: Task): number => t.regions.reduce((u, r) => u + r.pages, 0)
  const t0 = performance.now()
  let ops = 0
  try {
    for (; ops < o.ops; ops++) {
      const t = tasks[rand(tasks.length)]!
      const op = rand(100)
      if (op < 10 && mapped + 80 <= budget && regionPages(t) + 80 <= taskCap) {
        const k = 16 + rand(64)
        t.regions.push({
          addr: t.p.mmap(0, k * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS),
          pages: k,
        })
        mapped += k
      } else if (op < 16 && tasks.length < maxTasks && mapped + regionPages(t) <= budget) {
        const c = t.p.fork()
        tasks.push({ p: c, regions: t.regions.map((r) => ({ ...r })), data: new Map(t.data) })
        mapped += regionPages(t)
        n.forks++
        n.maxTasks = Math.max(n.maxTasks, tasks.length)
      } else if (op < 19 && tasks.length > 1 && t.p !== root) {
        mapped -= regionPages(t)
        t.p.exit()
        tasks.splice(tasks.indexOf(t), 1)
        n.exits++
      } else if (op < 24 && t.regions.length) {
        // mremap: grow or shrink, moving if need be; the words move with the pages.
        const r = t.regions[rand(t.regions.length)]!
        const want = Math.max(1, r.pages + rand(17) - 8)
        if (
          want <= r.pages ||
          (mapped + want - r.pages <= budget && regionPages(t) + want - r.pages <= taskCap)
        ) {
          const to = t.p.mremap(r.addr, r.pages * PAGE_SIZE, want * PAGE_SIZE, MREMAP_MAYMOVE)
          const moved = new Map<number, number>()
          for (const [k, v] of t.data) {
            if (k >= r.addr && k < r.addr + r.pages * PAGE_SIZE) {
              const i = (k - r.addr) / PAGE_SIZE
              if (i < want) moved.set(to + i * PAGE_SIZE, v)
            } else moved.set(k, v)
          }
          t.data = moved
          mapped += want - r.pages
          r.addr = to
          r.pages = want
          n.mremaps++
        }
      } else if (op < 27 && t.regions.length) {
        // munmap the tail of a region (or all of it).
        const ri = rand(t.regions.length)
        const r = t.regions[ri]!
        const k = 1 + rand(r.pages)
        const from = r.addr + (r.pages - k) * PAGE_SIZE
        t.p.munmap(from, k * PAGE_SIZE)
        for (let i = 0; i < k; i++) t.data.delete(from + i * PAGE_SIZE)
        r.pages -= k
        mapped -= k
        if (r.pages === 0) t.regions.splice(ri, 1)
        n.munmaps++
      } else if (op < 29) {
        m.reclaim({ pages: 1 + rand(64) })
        n.reclaimCalls++
      } else if (t.regions.length) {
        // Touch a run of pages: read-only (checked against the shadow) or read-write.
        const r = t.regions[rand(t.regions.length)]!
        const sweep = op < 40 // a third of the touches sweep a whole region
        const start = sweep ? 0 : rand(r.pages)
        const len = sweep ? r.pages : Math.min(r.pages - start, 1 + rand(48))
        const write = rand(3) !== 0
        for (let i = 0; i < len; i++) {
          const addr = r.addr + (start + i) * PAGE_SIZE
          if (write) {
            const v = (ops * 131 + i) >>> 0
            t.p.write(addr, v)
            t.data.set(addr, v)
            n.writes++
          } else {
            const got = t.p.read(addr)
            const want = t.data.get(addr) ?? 0
            must(
              got === want,
              `${o.arch.name} op ${ops}: pid ${t.p.pid} read ${got} at 0x${addr.toString(16)}, wrote ${want}`,
            )
            n.checkedReads++
          }
        }
      }
      n.peak = Math.max(n.peak, mapped)
      if ((ops + 1) % checkEvery === 0) check(`after operation ${ops}`)
    }
  } catch (e) {
    if (e instanceof StressError) throw e
    throw new StressError(`${o.arch.name}: operation ${ops}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    })
  }
  const seconds = (performance.now() - t0) / 1000
  check('at the end of the run')
  const s = m.stats()
  // Every page accounted for: each task reads back every word it wrote, then all exit
  // and every frame and every swap slot is free again.
  for (const t of tasks) {
    for (const [addr, v] of t.data) {
      const got = t.p.read(addr)
      must(
        got === v,
        `${o.arch.name} final: pid ${t.p.pid} read ${got} at 0x${addr.toString(16)}, wrote ${v}`,
      )
      n.checkedReads++
    }
    check(`after pid ${t.p.pid} read back its words`)
  }
  for (const t of tasks) {
    t.p.exit()
    check(`after pid ${t.p.pid} exited`)
  }
  // Swap-cache pages nobody maps stay until reclaim takes them (as in the kernel).
  m.reclaim({ pages: ramPages })
  check('after the final reclaim')
  // kswapd leaves an inactive list too short for nr_scan_inactive to reach
  // SWAP_CLUSTER_MAX: once the writes in flight completed, shrink_list takes
  // the pages left one by one (freed, or dropped by remove_exclusive_swap_page).
  m.completeWriteback()
  for (let pfn = 0; pfn < m.frames.n; pfn++)
    if (m.frames.count[pfn] && m.frames.test(pfn, PG.swapcache)) m.pageout(pfn)
  check('after the leftover swap-cache pages')
  const mi = m.meminfo()
  must(
    mi.SwapFree === mi.SwapTotal,
    `${o.arch.name}: SwapFree ${mi.SwapFree} kB != SwapTotal ${mi.SwapTotal} kB`,
  )
  must(mi.Active + mi.Inactive === 0, `${o.arch.name}: ${mi.Active + mi.Inactive} kB left on the LRU lists`)
  must(mi.MemFree === free0, `${o.arch.name}: MemFree ${mi.MemFree} kB, ${free0} kB at the start`)
  must(m.oomKills.length === 0, `${o.arch.name}: ${m.oomKills.length} OOM kills`)
  const swapIns = s.faults.swapMajor + s.faults.swapCache
  return {
    arch: o.arch.name,
    ops,
    seconds,
    opsPerSecond: ops / seconds,
    checks: n.checks,
    checkedReads: n.checkedReads,
    writes: n.writes,
    forks: n.forks,
    exits: n.exits,
    mremaps: n.mremaps,
    munmaps: n.munmaps,
    reclaimCalls: n.reclaimCalls,
    maxTasks: n.maxTasks,
    peakMappedPages: n.peak,
    ramPages,
    directReclaims: s.reclaim.directReclaims,
    pagesReclaimed: s.reclaim.freed,
    pagesReclaimedPerSecond: s.reclaim.freed / seconds,
    swapPagesWritten: s.swap.pagesWritten,
    swapPagesRead: s.swap.pagesRead,
    swapMajorFaults: s.faults.swapMajor,
    swapCacheHits: s.faults.swapCache,
    swapInsPerSecond: swapIns / seconds,
    oomKills: m.oomKills.length,
  }
}

export const STRESS_ARCHES: readonly Arch[] = [i386, i386Pae, ppc, ppc64]

function main(): void {
  const env = process.env
  const names = env['STRESS_ARCH']?.split(',').map((s) => s.trim())
  const arches = STRESS_ARCHES.filter((a) => !names || names.includes(a.name))
  if (names && arches.length !== names.length)
    throw new RangeError(
      `STRESS_ARCH: unknown layout in ${names.join(',')}; known: ${STRESS_ARCHES.map((a) => a.name).join(', ')}`,
    )
  const ops = Number(env['STRESS_OPS'] ?? 20000)
  const checkEvery = Number(env['STRESS_CHECK_EVERY'] ?? 50)
  const maxTasks = Number(env['STRESS_TASKS'] ?? 8)
  for (const [k, v] of [
    ['STRESS_OPS', ops],
    ['STRESS_CHECK_EVERY', checkEvery],
    ['STRESS_TASKS', maxTasks],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`)
  const seed = Number(env['STRESS_SEED'] ?? 0x9e3779b9)
  const ram = env['STRESS_RAM'] ?? '16M'
  const swap = env['STRESS_SWAP'] ?? '128M'
  console.log(
    `swap stress: ${ops} operations per arch, RAM ${ram}, swap ${swap}, seed ${seed}, m.check() every ${checkEvery}`,
  )
  const results: StressResult[] = []
  const failures: string[] = []
  for (const arch of arches) {
    let r: StressResult
    try {
      r = runStress({ arch, ops, ram, swap, seed, checkEvery, maxTasks })
    } catch (e) {
      // Go on with the other layouts; the run fails at the end.
      const msg = e instanceof Error ? e.message : String(e)
      failures.push(arch.name)
      console.log(`${arch.name.padEnd(9)} FAILED: ${msg}`)
      continue
    }
    results.push(r)
    console.log(
      `${r.arch.padEnd(9)} ${r.ops} ops in ${r.seconds.toFixed(1)} s = ${r.opsPerSecond.toFixed(0)} ops/s; ` +
        `${r.checks} m.check() passed, ${r.checkedReads} reads checked, ${r.writes} writes; ` +
        `${r.forks} forks, ${r.exits} exits, ${r.mremaps} mremaps, ${r.munmaps} munmaps, ${r.reclaimCalls} m.reclaim; ` +
        `peak ${r.peakMappedPages} pages mapped / ${r.ramPages} RAM pages, up to ${r.maxTasks} tasks; ` +
        `${r.directReclaims} direct reclaims, ${r.pagesReclaimed} pages reclaimed (${r.pagesReclaimedPerSecond.toFixed(0)}/s), ` +
        `${r.swapPagesWritten} swap pages written, ${r.swapPagesRead} read, ${r.swapMajorFaults} major + ${r.swapCacheHits} swap-cache faults ` +
        `(${r.swapInsPerSecond.toFixed(0)} swap-ins/s), ${r.oomKills} OOM kills; every page accounted for`,
    )
  }
  if (env['STRESS_JSON'])
    writeFileSync(env['STRESS_JSON'], `${JSON.stringify({ results, failures }, null, 2)}\n`)
  if (failures.length) {
    console.log(`swap stress FAILED on ${failures.join(', ')}`)
    process.exitCode = 1
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
