/**
 * `pnpm bench`: throughput of the arch contract's hot-path pieces per layout.
 *
 * Measures the fast (number) form of the pte encodings and index math that the
 * VM's fault, fork and rmap-walk paths use, next to the bigint kernel-macro
 * surface for scale, a pte_alloc_map + set_pte + pte_unmap walk on a
 * PageTableEnv, and the VM's fault, fork and rmap-walk paths on a Machine. Speed targets live here, never in unit tests.
 *
 * Each layout runs in its own node process, and so does each rmap design on
 * it: the hot paths call the arch's functions and the design's hooks through
 * one call site each, and sharing a process would make those call sites
 * polymorphic and measure V8's inline caches (and the order the designs ran
 * in) instead of the model. The skeletons are measured in every such process,
 * and each design's ratio uses its own process's skeleton.
 *
 * Then the VM operations next to the real kernel of this machine (vm.ts,
 * native.ts): anonymous write, zero-page read and COW faults, fork of a 1 GiB mm,
 * munmap, and the try_to_unmap / page_referenced walks over a page 1001 mms
 * map, with the simulated/real ratio and the issue's targets; the page-frame
 * state per pfn next to the -aa struct page (frames.ts).
 *
 * The VM operations run once per rmap design (BENCH_RMAP), and next to a bare
 * typed-array skeleton of the anonymous fault's bookkeeping (the language's
 * ceiling, measured in the same process). The printed targets are issue 14's:
 * the anonymous write fault within 1.5x of the skeleton, fork of a 1 GiB mm in
 * at most half the real kernel's time, munmap at least 5x the real kernel's
 * rate, and page_referenced per mm at 10,000 mms within 1.5x of its cost at 10.
 * The real kernel is reported with its own spread (fastest–slowest round): on
 * a virtual machine it is no stable anchor.
 *
 * Options (environment): BENCH_TIME (ms per task, default 300),
 * BENCH_ARCH (comma-separated layout names), BENCH_RMAP (comma-separated rmap
 * designs, default all), BENCH_JSON (write results there),
 * BENCH_NATIVE=0 (skip the real kernel), BENCH_CC (the C compiler; default cc,
 * then gcc), BENCH_ANDREA=1 (also run Andrea's fork test, src/andrea.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process'
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
  PageTableEnv,
  PROT_READ,
  PROT_WRITE,
  pageMapLock,
  pageMapUnlock,
  pteAllocMap,
  pteUnmap,
  RMAP_DESIGNS,
  type RmapDesignName,
} from '@rmaplab/rmap'
import { Bench } from 'tinybench'
import { AA_STRUCT_PAGE, type FrameState, frameState } from './frames.js'
import { type Native, runNative, v8Flags } from './native.js'
import { fullSkeletonOps, skeletonOps } from './skeleton.js'
import { FAULT_PAGES, FORK_PAGES, type NativeOp, type VmResult, vmOps } from './vm.js'

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

const rmapOnly = process.env['BENCH_RMAP']?.split(',').map((s) => s.trim())
const designs: RmapDesignName[] = rmapOnly
  ? RMAP_DESIGNS.filter((d) => rmapOnly.includes(d))
  : [...RMAP_DESIGNS]
if (rmapOnly && designs.length !== rmapOnly.length) {
  console.error(`BENCH_RMAP: unknown design in ${rmapOnly.join(',')}; valid: ${RMAP_DESIGNS.join(', ')}`)
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

/**
 * Issue 14's targets. `real`: a bound on simulated speed / real-kernel speed
 * (fork at most half the kernel's time: >= 2; munmap at least 5x its rate).
 */
const REAL_TARGETS: Partial<Record<NativeOp, { min: number; text: string }>> = {
  fork: { min: 2, text: '<= 0.5x the kernel time' },
  munmap: { min: 5, text: '>= 5x the kernel rate' },
}
/** The anonymous write fault at most this many times the skeleton's time. */
const SKELETON_TARGET = 1.5
/** page_referenced per mm at WALK_MANY mms at most this many times its cost at WALK_FEW. */
const FLAT_TARGET = 1.5

/** What a layout's child process hands the parent. */
interface ChildReport {
  /** The design this process ran. */
  design: RmapDesignName
  /** The arch contract's rows (the contract process of a layout only). */
  rows: Row[]
  vm: VmResult[]
  /** The bare skeleton (a design's process only). */
  skeleton: VmResult | null
  /** The skeleton of every word the model's fault writes (i386-pae only). */
  full: VmResult | null
  /** The page-frame state (the contract process of a layout only). */
  frame: FrameState | null
}

const rows: Row[] = []
let sink = 0

if (!process.env['BENCH_CHILD']) {
  // Parent: the real kernel once, one child process per layout, then the tables.
  let native: Native = { ok: false, reason: 'BENCH_NATIVE=0' }
  if (process.env['BENCH_NATIVE'] !== '0') {
    console.error('measuring the real kernel (native/kernel-bench.c)...')
    native = runNative(FAULT_PAGES, FORK_PAGES, time < 300 ? 3 : 5)
  }
  const reports: ChildReport[] = []
  for (const arch of archs) {
    // The arch contract's rows first, in a process of their own; then one per design.
    for (const [design, contract] of [
      [designs[0]!, '1'] as const,
      ...designs.map((d) => [d, '0'] as const),
    ]) {
      console.error(`measuring ${arch.name} ${contract === '1' ? 'contract' : design}...`)
      const out = execFileSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
        env: {
          ...process.env,
          BENCH_CHILD: '1',
          BENCH_ARCH: arch.name,
          BENCH_RMAP: design,
          BENCH_CONTRACT: contract,
          BENCH_JSON: '',
        },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 16 << 20,
      })
      const report = JSON.parse(out.trim().split('\n').pop()!) as ChildReport
      reports.push(report)
      rows.push(...report.rows)
    }
  }
  console.log(
    `rmaplab bench: ${N} operations per sample, ${time} ms per task, node ${process.version}${v8Flags()}, one process for the contract and one per rmap design on each layout`,
  )
  console.table(rows)
  const vmRows = printVm(reports, native)
  printFrames(reports)
  const out = process.env['BENCH_JSON']
  if (out) {
    const real = native.ok
      ? { kernel: native.kernel, compiler: native.compiler, results: [...native.results.values()] }
      : { skipped: native.reason }
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          node: process.version,
          n: N,
          time,
          rows,
          vm: reports.flatMap((r) => r.vm),
          skeleton: reports.flatMap((r) => (r.skeleton ? [r.skeleton] : [])),
          fullSkeleton: reports.flatMap((r) => (r.full ? [r.full] : [])),
          v8: process.execArgv.filter((a) => a.startsWith('--max-inlined')),
          vmTable: vmRows,
          real,
          frames: reports.flatMap((r) => (r.frame ? [{ arch: r.vm[0]?.arch ?? '-', ...r.frame }] : [])),
        },
        null,
        2,
      )}\n`,
    )
    console.log(`wrote ${out}`)
  }
  if (process.env['BENCH_ANDREA'] === '1') {
    const script = fileURLToPath(new URL('./andrea.ts', import.meta.url))
    const r = spawnSync(process.execPath, [...process.execArgv, script], {
      env: { ...process.env, BENCH_JSON: '' },
      stdio: 'inherit',
    })
    if (r.status !== 0) process.exit(r.status ?? 1)
  }
  process.exit(0)
}

/** The VM operations, simulated next to real, per layout and design. Returns the rows printed. */
function printVm(reports: ChildReport[], native: Native): Record<string, string | number>[] {
  const sig = (x: number) => (x >= 100 ? Math.round(x) : +x.toPrecision(3))
  const table: Record<string, string | number>[] = []
  const notes = new Set<string>()
  for (const r of reports) {
    const skel = r.skeleton
    if (!skel) continue
    for (const k of r.full ? [skel, r.full] : [skel]) {
      table.push({
        arch: r.vm[0]?.arch ?? '-',
        // Measured in this design's process, for this design's ratio.
        design: `(${r.design})`,
        operation: k.name,
        'sim ops/s': sig(k.opsPerSec),
        'sim ns/op': sig(k.nsPerOp),
        'real ns/op (min–max)': '-',
        'sim/real': '-',
        'x skeleton': k === skel ? 1 : +(k.nsPerOp / skel.nsPerOp).toFixed(2),
        target: '-',
      })
    }
    for (const v of r.vm) {
      const row: Record<string, string | number> = {
        arch: v.arch,
        design: v.design,
        operation: v.name,
        'sim ops/s': sig(v.opsPerSec),
        'sim ns/op': sig(v.nsPerOp),
        'real ns/op (min–max)': '-',
        'sim/real': '-',
        'x skeleton': '-',
        target: '-',
      }
      const real = native.ok ? native.results.get(v.op as NativeOp) : undefined
      if (real) {
        // ns per operation of the real kernel; a fork of a smaller mm (ppc) is
        // compared with the real fork scaled to the same number of pages.
        let scale = v.op === 'fork' ? 1 : 1 / real.pages
        if (v.op === 'fork' && v.pages !== real.pages) {
          scale *= v.pages / real.pages
          notes.add(
            `${v.arch}: real fork time scaled to ${v.pages} pages (x${(v.pages / real.pages).toFixed(3)}) for the ratio`,
          )
        }
        const realNs = real.medianNs * scale
        const ratio = realNs / v.nsPerOp
        row['real ns/op (min–max)'] = `${sig(realNs)} (${sig(real.minNs * scale)}–${sig(real.maxNs * scale)})`
        row['sim/real'] = +ratio.toFixed(3)
        const t = REAL_TARGETS[v.op as NativeOp]
        if (t) row['target'] = `${t.text}: ${ratio >= t.min ? 'met' : 'MISSED'}`
      }
      if (v.op === 'anonWriteFault') {
        const x = v.nsPerOp / skel.nsPerOp
        row['x skeleton'] = r.full
          ? `${x.toFixed(2)} (x${(v.nsPerOp / r.full.nsPerOp).toFixed(2)} every word)`
          : +x.toFixed(2)
        row['target'] = `<= ${SKELETON_TARGET}x skeleton: ${x <= SKELETON_TARGET ? 'met' : 'MISSED'}`
      }
      if (v.op === 'anonWalkMany') {
        const few = r.vm.find((w) => w.op === 'anonWalkFew' && w.design === v.design)
        if (few) {
          const x = v.nsPerOp / few.nsPerOp
          row['target'] =
            `flat (x${x.toFixed(2)} of the 10-mm cost <= ${FLAT_TARGET}): ${x <= FLAT_TARGET ? 'met' : 'MISSED'}`
        }
      }
      table.push(row)
    }
  }
  console.log(
    native.ok
      ? `VM operations, simulated and on the real kernel (${native.kernel}, kernel-bench.c built with ${native.compiler} -O2, median round, the real kernel's fastest–slowest round in brackets; sim/real = simulated speed / real speed)`
      : `VM operations, simulated (median round). Real-kernel comparison skipped: ${native.reason}`,
  )
  console.table(table)
  for (const n of notes) console.log(`note: ${n}`)
  return table
}

/** Bytes of page-frame state per pfn, per layout, next to the -aa struct page. */
function printFrames(reports: ChildReport[]): void {
  for (const r of reports) {
    const f = r.frame
    if (!f) continue
    const parts = f.arrays.map((a) => `${a.name} ${a.bytes}`).join(' + ')
    const extra = [
      ...f.sparse.map((x) => `${x.name} (sparse Map, ${x.entries} entries)`),
      ...f.jsArrays.map((x) => `${x.name} (JS array, ${x.elements} pfns now)`),
    ]
    console.log(
      `page-frame state, ${r.vm[0]?.arch ?? '-'}: ${f.bytesPerFrame} bytes per frame (${parts}) vs ${AA_STRUCT_PAGE} bytes of the -aa struct page: ${f.bytesPerFrame <= AA_STRUCT_PAGE ? 'met' : 'MISSED'}${extra.length ? `; not counted: ${extra.join(', ')}` : ''}`,
    )
  }
}

const vm: VmResult[] = []
let skeleton: VmResult | null = null
let full: VmResult | null = null
let frame: FrameState | null = null
/**
 * This process measures the arch contract's rows, vmTasks and the frame state
 * (BENCH_CONTRACT=1, or unset), or the skeletons and one design's VM
 * operations (BENCH_CONTRACT=0): the contract's micro-tasks would otherwise
 * leave their type feedback in the call sites the design's run goes through.
 */
const contract = process.env['BENCH_CONTRACT'] !== '0'

/** The arch contract's hot-path pieces on `arch`, as rows. */
async function contractRows(arch: Arch): Promise<Row[]> {
  const out: Row[] = []
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
    out.push({
      arch: arch.name,
      task: t.name,
      'Mops/s': +(1000 / nsPerOp).toFixed(1),
      'ns/op': +nsPerOp.toFixed(2),
    })
  }
  return out
}

for (const arch of archs) {
  if (contract) {
    rows.push(...(await contractRows(arch)))
    rows.push(...(await vmTasks(arch, designs[0]!)))
    frame = frameState(arch)
  } else {
    skeleton = skeletonOps(time)
    // The word-for-word skeleton is written for i386-pae's encoding.
    full = arch.name === 'i386-pae' ? fullSkeletonOps(time) : null
    for (const design of designs) vm.push(...vmOps(arch, design, time))
  }
}

/**
 * The VM's hot paths on a Machine: anonymous write faults (with the munmap that
 * zaps them), fork of a populated address space (copy_page_range + exit), and
 * the page_referenced walk of a page many forked vmas map, under rmap design `rmap`.
 * Each task reports per page (or per vma visited for the walk).
 */
async function vmTasks(arch: Arch, rmap: RmapDesignName): Promise<Row[]> {
  const PAGES = 1024
  const CHILDREN = 64
  const m = new Machine({ arch, ram: '256M', cpus: 2, rmap })
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
  const cpu = m.cpus[0]! // the cpu the walk runs on
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
    pageMapLock(m, cpu, pfn)
    sink ^= m.rmap.pageReferenced(m, cpu, pfn)
    pageMapUnlock(m, cpu, pfn)
  })
  await bench.run()
  m.check()
  return bench.tasks.map((t) => {
    const r = t.result
    if (r?.state !== 'completed') throw new Error(`${arch.name} ${t.name}: ${r ? r.state : 'no result'}`)
    const nsPerOp = (r.latency.mean * 1e6) / ops.get(t.name)!
    return {
      arch: arch.name,
      task: `${t.name}, ${rmap}`,
      'Mops/s': +(1000 / nsPerOp).toFixed(2),
      'ns/op': +nsPerOp.toFixed(1),
    }
  })
}

// Child: hand the rows to the parent on the last line of stdout.
if (sink === 0.5) console.error('') // keep the results observable
if (!skeleton && !frame) throw new Error('bench child: no layout measured')
console.log(JSON.stringify({ design: designs[0]!, rows, vm, skeleton, full, frame } satisfies ChildReport))
