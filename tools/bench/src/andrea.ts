/**
 * Andrea's fork test (docs/designs.md#published-numbers): a
 * 512 MB private anonymous mapping, every page written, then L levels of fork
 * (2^L processes), and every process read-touches every page. 2.6.5-aa ran
 * L = 7 in 12.07 s real on Andrea's box.
 *
 * `pnpm --filter @rmaplab/bench run andrea` runs it per layout, each in its own
 * node process, and prints wall time by phase, ptes, PageTables, the rmap
 * bytes, and the process RSS. `m.check()` runs once, at the end, outside the
 * wall time (it is expensive). Targets (issue 14, at L = 9: 512 processes, 67 M
 * ptes): under 20 s and under 2 GiB of RSS.
 *
 * Options (environment): ANDREA_L (fork levels, default 9), ANDREA_MB (the
 * mapping, default 512), BENCH_ARCH (comma-separated layouts), BENCH_JSON
 * (write the rows there).
 */
import { spawnSync } from 'node:child_process'
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
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  SyscallError,
} from '@rmaplab/rmap'
import { v8Flags } from './native.js'

const ALL: Arch[] = [i386, i386Pae, ppc, ppc64]
const WALL_TARGET_S = 20
const RSS_TARGET = 2 * 1024 ** 3

/** The figures of one layout. */
export interface AndreaRow {
  arch: string
  levels: number
  procs: number
  ptes: number
  ram: string
  'wall s': number
  'write s': number
  'fork s': number
  'read s': number
  'exit s': number
  'check s': number
  'PageTables kB': number
  'rmap bytes': number
  'RSS MiB': number
  'peak RSS MiB': number
  'read faults': number
  target: string
}

function intEnv(name: string, def: number, lo: number, hi: number): number {
  const raw = process.env[name]
  const v = raw === undefined || raw === '' ? def : Number(raw)
  if (!Number.isInteger(v) || v < lo || v > hi) {
    console.error(`${name} must be a whole number in ${lo}..${hi}, got ${raw}`)
    process.exit(2)
  }
  return v
}

const levels = intEnv('ANDREA_L', 9, 0, 10)
const mb = intEnv('ANDREA_MB', 512, 1, 2048)

/** RAM for the test: the mapping, every process's page tables, and slack; at most the layout's limit. */
function ramFor(arch: Arch, pages: number, procs: number): string {
  const ptesPerPage = arch.fast.words === 2 ? 512 : 1024
  const need = pages + procs * (Math.ceil(pages / ptesPerPage) + 16)
  const mib = Math.ceil((need * 1.1 * PAGE_SIZE) / 1024 ** 2 / 64) * 64 + 64
  const limit = arch.name === 'i386' ? 4096 : arch.name === 'ppc' ? 768 : 16384
  return `${Math.min(mib, limit)}M`
}

const s = (ms: number) => +(ms / 1000).toFixed(3)
const mib = (bytes: number) => +(bytes / 1024 ** 2).toFixed(1)

/** Run the test on one layout (in this process). */
export function andrea(arch: Arch, L: number, mapMb: number): AndreaRow {
  const pages = mapMb * 256
  const procsN = 2 ** L
  const ram = ramFor(arch, pages, procsN)
  const m = new Machine({ arch, ram, cpus: 2 })
  const t0 = performance.now()
  const p = m.spawn()
  const len = pages * PAGE_SIZE
  const a = p.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  for (let i = 0; i < pages; i++) p.write(a + i * PAGE_SIZE, i)
  const t1 = performance.now()
  let procs = [p]
  for (let l = 0; l < L; l++) {
    try {
      procs = procs.concat(procs.map((q) => q.fork()))
    } catch (e) {
      // A layout whose RAM cannot hold the test (ppc ends at 768M): say so, not a failure.
      if (!(e instanceof SyscallError && e.errno === 'ENOMEM')) throw e
      return unfit(arch, L, ram, pages, l, performance.now() - t1)
    }
  }
  const t2 = performance.now()
  const faults0 = Object.values(m.stats().faults).reduce((x, y) => x + y, 0)
  let bad = 0
  for (const q of procs) for (let i = 0; i < pages; i++) if (q.read(a + i * PAGE_SIZE) !== i) bad++
  const t3 = performance.now()
  if (bad) throw new Error(`${arch.name}: ${bad} reads returned the wrong word`)
  const st = m.stats()
  const readFaults = Object.values(st.faults).reduce((x, y) => x + y, 0) - faults0
  const pageTables = m.meminfo().PageTables
  const rss = process.memoryUsage().rss
  const c0 = performance.now()
  m.check()
  const c1 = performance.now()
  for (const q of procs) q.exit()
  const t4 = performance.now()
  const wall = t3 - t0 + (t4 - c1)
  const peak = process.resourceUsage().maxRSS * 1024
  const wallOk = wall < WALL_TARGET_S * 1000
  const rssOk = peak < RSS_TARGET
  return {
    arch: arch.name,
    levels: L,
    procs: procsN,
    ptes: procsN * pages,
    ram,
    'wall s': s(wall),
    'write s': s(t1 - t0),
    'fork s': s(t2 - t1),
    'read s': s(t3 - t2),
    'exit s': s(t4 - c1),
    'check s': s(c1 - c0),
    'PageTables kB': pageTables,
    'rmap bytes': st.rmapBytes.total,
    'RSS MiB': mib(rss),
    'peak RSS MiB': mib(peak),
    'read faults': readFaults,
    target: `< ${WALL_TARGET_S} s ${wallOk ? 'met' : 'MISSED'}, < 2 GiB ${rssOk ? 'met' : 'MISSED'}`,
  }
}

/** The row of a layout whose RAM cannot hold 2^L processes: fork got ENOMEM in level `done + 1`. */
function unfit(arch: Arch, L: number, ram: string, pages: number, done: number, forkMs: number): AndreaRow {
  return {
    arch: arch.name,
    levels: done,
    procs: 2 ** done,
    ptes: 2 ** done * pages,
    ram,
    'wall s': 0,
    'write s': 0,
    'fork s': s(forkMs),
    'read s': 0,
    'exit s': 0,
    'check s': 0,
    'PageTables kB': 0,
    'rmap bytes': 0,
    'RSS MiB': 0,
    'peak RSS MiB': 0,
    'read faults': 0,
    target: `cannot hold L = ${L}: fork ENOMEM in level ${done + 1} on ${ram}, the layout's most RAM`,
  }
}

function main(): void {
  const only = process.env['BENCH_ARCH']?.split(',').map((x) => x.trim())
  const archs = only ? ALL.filter((x) => only.includes(x.name)) : ALL
  if (only && archs.length !== only.length) {
    console.error(
      `BENCH_ARCH: unknown layout in ${only.join(',')}; valid: ${ALL.map((x) => x.name).join(', ')}`,
    )
    process.exit(2)
  }
  if (process.env['ANDREA_CHILD']) {
    // Child: one layout; the row on the last line of stdout.
    console.log(JSON.stringify(andrea(archs[0]!, levels, mb)))
    return
  }
  const self = fileURLToPath(import.meta.url)
  const rows: AndreaRow[] = []
  const failed: string[] = []
  console.log(
    `Andrea's fork test: ${mb} MB private anonymous, written, ${levels} fork levels (${2 ** levels} processes), each reads every page; node ${process.version}${v8Flags()}, one process per layout`,
  )
  for (const arch of archs) {
    const r = spawnSync(process.execPath, [...process.execArgv, self], {
      env: { ...process.env, ANDREA_CHILD: '1', BENCH_ARCH: arch.name, BENCH_JSON: '' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    })
    const last = r.stdout?.trim().split('\n').pop()
    if (r.status !== 0 || !last) {
      failed.push(`${arch.name}: exit ${r.status ?? r.signal}`)
      continue
    }
    rows.push(JSON.parse(last) as AndreaRow)
  }
  console.table(rows)
  console.log(
    `2.6.5-aa on Andrea's box (2004): L=6 6.52 s real, L=7 12.07 s real; wall here = write + fork + read + exit, check excluded`,
  )
  for (const f of failed) console.log(`failed: ${f}`)
  const out = process.env['BENCH_JSON']
  if (out) {
    writeFileSync(out, `${JSON.stringify({ node: process.version, levels, mb, rows, failed }, null, 2)}\n`)
    console.log(`wrote ${out}`)
  }
  if (failed.length) process.exitCode = 1
}

main()
