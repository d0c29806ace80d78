/**
 * `pnpm bench`: throughput of the arch contract's hot-path pieces per layout.
 *
 * Measures the fast (number) form of the pte encodings and index math that the
 * VM's fault, fork and rmap-walk paths use, next to the bigint kernel-macro
 * surface for scale, a pte_alloc_map + set_pte + pte_unmap walk on a
 * PageTableEnv, and the VM's fault, fork and rmap-walk paths on a Machine. Speed targets live here, never in unit tests.
 *
 * Each layout runs in its own node process: the hot paths call the arch's
 * functions through one call site, and sharing a process would make those call
 * sites polymorphic and measure V8's inline caches instead of the encodings.
 *
 * Options (environment): BENCH_TIME (ms per task, default 300),
 * BENCH_ARCH (comma-separated layout names), BENCH_JSON (write results there).
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PAGE_SIZE,
  PageTableEnv,
  PROT_READ,
  PROT_WRITE,
  pageMapLock,
  pageMapUnlock,
  pteAllocMap,
  pteUnmap,
} from '@rmaplab/rmap'
import { Bench } from 'tinybench'

const ALL: Arch[] = [i386, i386Pae, ppc, ppc64]
const time = Number(process.env['BENCH_TIME'] ?? 300)
const only = process.env['BENCH_ARCH']?.split(',').map((s) => s.trim())
const archs = only ? ALL.filter((a) => only.includes(a.name)) : ALL
if (only && archs.length !== only.length) {
  console.error(
    `BENCH_ARCH: unknown layout in ${only.join(',')}; valid: ${ALL.map((a) => a.name).join(', ')}`,
  )
  process.exit(2)
}

/** Operations per task iteration: each task loops over N inputs so timer overhead stays small. */
const N = 4096

interface Row {
  arch: string
  task: string
  'Mops/s': number
  'ns/op': number
}

const rows: Row[] = []
let sink = 0

if (!process.env['BENCH_CHILD']) {
  // Parent: one child process per layout, then one table.
  for (const arch of archs) {
    const out = execFileSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, BENCH_CHILD: '1', BENCH_ARCH: arch.name, BENCH_JSON: '' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    rows.push(...(JSON.parse(out.trim().split('\n').pop()!) as Row[]))
  }
  console.log(
    `rmaplab bench: ${N} operations per sample, ${time} ms per task, node ${process.version}, one process per layout`,
  )
  console.table(rows)
  const out = process.env['BENCH_JSON']
  if (out) {
    writeFileSync(out, `${JSON.stringify({ node: process.version, n: N, time, rows }, null, 2)}\n`)
    console.log(`wrote ${out}`)
  }
  process.exit(0)
}

for (const arch of archs) {
  const f = arch.fast
  const maxPfn = Math.min(Number(arch.geometry.MAX_PTE_PFN), 0x3fffffff)
  const task = Number(arch.geometry.TASK_SIZE)
  const prot = Number(arch.prot.PAGE_SHARED & 0xffffffffn)
  // Deterministic inputs (an LCG), chosen once.
  const pfns = new Float64Array(N)
  const addrs = new Float64Array(N)
  const offsets = new Float64Array(N)
  let x = 12345
  for (let i = 0; i < N; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    pfns[i] = x % (maxPfn + 1)
    addrs[i] = Math.floor((x / 0x100000000) * (task / 4096)) * 4096
    offsets[i] =
      x % Number(arch.geometry.SWP_OFFSET_MAX < 0xffffffn ? arch.geometry.SWP_OFFSET_MAX : 0xffffffn)
  }
  const los = new Uint32Array(N)
  const his = new Uint32Array(N)
  for (let i = 0; i < N; i++) {
    los[i] = f.mkPteLo(pfns[i]!, prot)
    his[i] = f.mkPteHi(pfns[i]!, prot)
  }
  const bigPfns = Array.from(pfns, (p) => BigInt(p))
  const bigProt = arch.prot.PAGE_SHARED

  const env = new PageTableEnv({ arch, lowmemPages: 8192 })
  const mm = env.mmCreate()
  const span = Math.min(task, 256 * 1024 * 1024)

  const bench = new Bench({ time, warmup: true })
  bench
    .add('fast mkPte (lo+hi)', () => {
      for (let i = 0; i < N; i++) sink ^= f.mkPteLo(pfns[i]!, prot) ^ f.mkPteHi(pfns[i]!, prot)
    })
    .add('fast pte decode (present+pfn)', () => {
      for (let i = 0; i < N; i++) if (f.present(los[i]!, his[i]!)) sink ^= f.pfn(los[i]!, his[i]!)
    })
    .add('fast swap encode+decode', () => {
      for (let i = 0; i < N; i++) {
        const lo = f.swpLo(i & 31, offsets[i]!)
        const hi = f.swpHi(i & 31, offsets[i]!)
        sink ^= f.swpType(lo, hi) ^ f.swpOffset(lo, hi)
      }
    })
    .add('fast pgoff encode+decode', () => {
      for (let i = 0; i < N; i++) {
        const off = pfns[i]! & 0xffffff
        sink ^= f.pgoff(f.pgoffLo(off), f.pgoffHi(off))
      }
    })
    .add('fast index math (pgd+pmd+pte)', () => {
      for (let i = 0; i < N; i++)
        sink ^= f.pgdIndex(addrs[i]!) ^ f.pmdIndex(addrs[i]!) ^ f.pteIndex(addrs[i]!)
    })
    .add('bigint mkPte (strict)', () => {
      for (let i = 0; i < N; i++) sink ^= Number(arch.mkPte(bigPfns[i]!, bigProt) & 1n)
    })
    .add('pte_alloc_map+set_pte+pte_unmap', () => {
      for (let i = 0; i < N; i++) {
        const ptr = pteAllocMap(env, mm, addrs[i]! % span)
        env.mmu.setPte(ptr, los[i]!, his[i]!)
        pteUnmap(env, ptr)
      }
    })
  await bench.run()
  for (const t of bench.tasks) {
    const r = t.result
    if (r?.state !== 'completed') throw new Error(`${arch.name} ${t.name}: ${r ? r.state : 'no result'}`)
    const nsPerOp = (r.latency.mean * 1e6) / N
    rows.push({
      arch: arch.name,
      task: t.name,
      'Mops/s': +(1000 / nsPerOp).toFixed(1),
      'ns/op': +nsPerOp.toFixed(2),
    })
  }
  rows.push(...(await vmTasks(arch)))
}

/**
 * The VM's hot paths on a Machine: anonymous write faults (with the munmap that
 * zaps them), fork of a populated address space (copy_page_range + exit), and
 * the objrmap walk of page_referenced over an anon_vma shared by many vmas.
 * Each task reports per page (or per vma visited for the walk).
 */
async function vmTasks(arch: Arch): Promise<Row[]> {
  const PAGES = 1024
  const CHILDREN = 64
  const m = new Machine({ arch, ram: '256M', cpus: 2 })
  const p = m.spawn()
  const rw = PROT_READ | PROT_WRITE
  const anon = MAP_PRIVATE | MAP_ANONYMOUS
  // A populated region for fork, and a page shared by CHILDREN forks for the walk.
  const big = p.mmap(0, PAGES * PAGE_SIZE, rw, anon)
  for (let i = 0; i < PAGES; i++) p.write(big + i * PAGE_SIZE, i)
  const shared = p.mmap(0, PAGE_SIZE, rw, anon)
  p.write(shared, 1)
  const kids = Array.from({ length: CHILDREN }, () => p.fork())
  for (const k of kids) k.read(shared)
  const pfn = p.pagemap(shared).pfn!
  const ops = new Map<string, number>()
  const bench = new Bench({ time, warmup: true })
  const add = (name: string, n: number, fn: () => void) => {
    ops.set(name, n)
    bench.add(name, fn)
  }
  add('vm: anon write fault + zap (per page)', PAGES, () => {
    const a = p.mmap(0, PAGES * PAGE_SIZE, rw, anon)
    for (let i = 0; i < PAGES; i++) p.write(a + i * PAGE_SIZE, i)
    p.munmap(a, PAGES * PAGE_SIZE)
  })
  add('vm: fork + exit of 1024 pages (per page)', PAGES, () => {
    p.fork().exit()
  })
  add(`vm: page_referenced over ${CHILDREN + 1} vmas (per vma)`, CHILDREN + 1, () => {
    pageMapLock(m, pfn)
    sink ^= m.rmap.pageReferenced(m, pfn)
    pageMapUnlock(m, pfn)
  })
  await bench.run()
  m.check()
  return bench.tasks.map((t) => {
    const r = t.result
    if (r?.state !== 'completed') throw new Error(`${arch.name} ${t.name}: ${r ? r.state : 'no result'}`)
    const nsPerOp = (r.latency.mean * 1e6) / ops.get(t.name)!
    return {
      arch: arch.name,
      task: t.name,
      'Mops/s': +(1000 / nsPerOp).toFixed(2),
      'ns/op': +nsPerOp.toFixed(1),
    }
  })
}

// Child: hand the rows to the parent on the last line of stdout.
if (sink === 0.5) console.error('') // keep the results observable
console.log(JSON.stringify(rows))
