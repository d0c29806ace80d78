// Random operations run on three machines that differ only in their rmap design:
// every value read, every errno and signal must be the same, and m.check()
// (each design's own invariants included) must pass after every step. The vma
// layout may differ by construction: under objrmap an anonymous vma's
// vm_pgoff is its address (-aa), a faulted vma moved by mremap keeps it (its
// pages' anon_vma index needs it), and vmas merge only with contiguous pgoffs;
// under pte_chains and anonmm vm_pgoff is what mmap was given (2.6.4 and 2.6.6
// mm/mmap.c) and anonymous vmas merge whatever their pgoffs, but after mprotect
// (both) and an mremap move (pte_chains) only by 2.6.4's own rules; anonmm copies a
// shared page mremap moves (rmap 11), which no process can see.
// fast-check generates and shrinks the operation lists; the seed is fixed, so
// a run is reproducible.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  RmapError,
  SignalError,
  SyscallError,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE

type Op =
  | { t: 'mmap'; pages: number }
  | { t: 'write'; p: number; v: number; page: number; value: number }
  | { t: 'read'; p: number; v: number; page: number }
  | { t: 'fork'; p: number }
  | { t: 'exit'; p: number }
  | { t: 'munmap'; p: number; v: number; page: number }
  | { t: 'mprotect'; p: number; v: number; page: number; ro: boolean }
  | { t: 'mremap'; p: number; v: number; grow: number }
  | { t: 'pageout'; p: number; v: number; page: number }
  | { t: 'reclaim' }

const idx = fc.nat({ max: 15 })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('mmap' as const), pages: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ t: fc.constant('write' as const), p: idx, v: idx, page: idx, value: fc.nat() }),
  fc.record({ t: fc.constant('write' as const), p: idx, v: idx, page: idx, value: fc.nat() }),
  fc.record({ t: fc.constant('read' as const), p: idx, v: idx, page: idx }),
  fc.record({ t: fc.constant('fork' as const), p: idx }),
  fc.record({ t: fc.constant('exit' as const), p: idx }),
  fc.record({ t: fc.constant('munmap' as const), p: idx, v: idx, page: idx }),
  fc.record({ t: fc.constant('mprotect' as const), p: idx, v: idx, page: idx, ro: fc.boolean() }),
  fc.record({ t: fc.constant('mremap' as const), p: idx, v: idx, grow: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('pageout' as const), p: idx, v: idx, page: idx }),
  fc.record({ t: fc.constant('reclaim' as const) }),
)

/** Run `ops` on a fresh machine with design `rmap`; the transcript of what the processes saw. */
function run(rmap: 'objrmap' | 'pte_chains' | 'anonmm', ops: readonly Op[]): unknown[] {
  const m = new Machine({ arch: toy32, ram: '8M', rmap, profile: '2.6.5-aa' })
  m.swapon('2M')
  const procs: Process[] = [m.spawn()]
  const out: unknown[] = []
  const live = () => procs.filter((q) => q.alive)
  const pick = (i: number) => {
    const l = live()
    return l.length ? l[i % l.length]! : null
  }
  // Addresses on a fixed grid above TASK_UNMAPPED_BASE, not by vma index: the
  // designs may split and merge vmas differently (see below), never the pages.
  const base = m.taskUnmappedBase
  const at = (_p: Process, v: number, page: number) => base + ((v * 16 + page) % 64) * P
  for (const o of ops) {
    let r: unknown
    try {
      const p = o.t === 'mmap' || o.t === 'reclaim' ? pick(0) : pick(o.p)
      if (!p) {
        r = 'nobody'
      } else if (o.t === 'mmap') r = p.mmap(0, o.pages * P, RW, MAP_PRIVATE | MAP_ANONYMOUS) > 0
      else if (o.t === 'fork') procs.push(p.fork())
      else if (o.t === 'exit') {
        if (live().length > 1) p.exit()
      } else if (o.t === 'reclaim') r = m.reclaim({ pages: 8 }).freed > 0
      else {
        const a = at(p, o.v, 'page' in o ? o.page : 0)
        if (!p.mm.vmaAt(a)) r = 'no vma'
        else if (o.t === 'write') p.write(a, o.value)
        else if (o.t === 'read') r = p.read(a)
        else if (o.t === 'munmap') p.munmap(a, P)
        else if (o.t === 'mprotect') p.mprotect(a, P, o.ro ? PROT_READ : RW)
        else if (o.t === 'mremap') {
          const e = p.mm.vmaAt(a)!
          r = p.mremap(e.start, e.end - e.start, e.end - e.start + o.grow * P, MREMAP_MAYMOVE) === e.start
        } else if (o.t === 'pageout') {
          const pm = p.pagemap(a)
          r = pm.present ? m.pageout(pm.pfn!).result !== 'kept' : 'absent'
        }
      }
    } catch (e) {
      if (e instanceof SyscallError) r = `errno ${e.errno}`
      else if (e instanceof SignalError) r = `signal ${e.signal}`
      else if (e instanceof RmapError && !(e.name === 'KernelBugError' || e.name === 'InvariantError'))
        r = e.name
      else throw e
    }
    m.check()
    out.push([o.t, r])
  }
  for (const q of live()) {
    for (const e of q.maps())
      for (let a = e.start; a < e.end; a += P) out.push([a, e.perms.startsWith('r') ? q.read(a) : '-'])
  }
  return out
}

describe('objrmap, pte_chains and anonmm side by side on random operations', () => {
  it('every value, errno and signal agrees, and m.check() passes after every step', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const aa = JSON.stringify(run('objrmap', ops))
        for (const rmap of ['pte_chains', 'anonmm'] as const) {
          const other = JSON.stringify(run(rmap, ops))
          if (other !== aa) throw new Error(`objrmap and ${rmap} disagree:\n${aa}\n${other}`)
        }
      }),
      { seed: 20040319, numRuns: 150 },
    )
  })
})

// Each design on its own, with file and anonymous mappings placed side by side
// so that mmap, mprotect and mremap moves meet neighbours they may merge with
// (each design by its own kernel's rules: vma-merge.test.ts). A reference model
// of what each page holds and allows, blind to how the pages are grouped into
// vmas, says what every read returns, which protection and file offset
// /proc/PID/maps shows for each page and which calls must fail; m.check() runs
// after every step, and reclaim walks the reverse maps of the merged vmas.
type MergeOp =
  | { t: 'anon'; g: number; n: number; rw: boolean }
  | { t: 'file'; g: number; n: number; off: number; shared: boolean; rw: boolean }
  | { t: 'mprotect'; g: number; n: number; rw: boolean; edge: boolean }
  | { t: 'munmap'; g: number; n: number }
  | { t: 'move'; g: number; n: number; d: number; edge: 0 | 1 | 2 }
  | { t: 'write'; g: number; value: number }
  | { t: 'read'; g: number }
  | { t: 'reclaim' }

const cell = fc.nat({ max: 15 })
const len = fc.integer({ min: 1, max: 4 })
const mergeOp: fc.Arbitrary<MergeOp> = fc.oneof(
  fc.record({ t: fc.constant('anon' as const), g: cell, n: len, rw: fc.boolean() }),
  fc.record({
    t: fc.constant('file' as const),
    g: cell,
    n: len,
    off: fc.nat({ max: 12 }),
    shared: fc.boolean(),
    rw: fc.boolean(),
  }),
  fc.record({ t: fc.constant('mprotect' as const), g: cell, n: len, rw: fc.boolean(), edge: fc.boolean() }),
  fc.record({ t: fc.constant('mprotect' as const), g: cell, n: len, rw: fc.boolean(), edge: fc.boolean() }),
  fc.record({ t: fc.constant('munmap' as const), g: cell, n: len }),
  fc.record({ t: fc.constant('move' as const), g: cell, n: len, d: cell, edge: fc.constantFrom(0, 1, 2) }),
  fc.record({ t: fc.constant('move' as const), g: cell, n: len, d: cell, edge: fc.constantFrom(0, 1, 2) }),
  fc.record({ t: fc.constant('write' as const), g: cell, value: fc.integer({ min: 1, max: 1000 }) }),
  fc.record({ t: fc.constant('read' as const), g: cell }),
  fc.record({ t: fc.constant('reclaim' as const) }),
)

/** What the reference knows of one page: writable or not, and where its contents come from. */
type RefPage =
  | { kind: 'anon'; rw: boolean; value: number }
  | { kind: 'file'; rw: boolean; shared: boolean; idx: number; value: number | undefined }

function runMerges(rmap: 'objrmap' | 'pte_chains' | 'anonmm', ops: readonly MergeOp[]): void {
  const m = new Machine({ arch: toy32, ram: '8M', rmap })
  m.swapon('2M')
  const as = m.fs.create('/f', { size: 16 * P })
  const p = m.spawn()
  const fd = p.open('/f', O_RDWR)
  const G = m.taskUnmappedBase + 512 * P
  const ref = new Map<number, RefPage>()
  // Each page of the file starts with its own word (distinct per index).
  const file = Array.from({ length: 16 }, (_, i) => as.diskWord(i))
  const readRef = (r: RefPage) => (r.kind === 'anon' ? r.value : (r.value ?? file[r.idx]!))
  const expectErrno = (f: () => unknown, errno: string | null, what: string) => {
    let got: string | null = null
    try {
      f()
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e
      got = e.errno
    }
    if (got !== errno) throw new Error(`${what}: expected ${errno ?? 'success'}, got ${got ?? 'success'}`)
    return got
  }
  // The k-th vma's start or end as a cell: ranges that begin or land on a vma
  // boundary, where the merge rules apply, come up far more often so.
  const edgeOf = (k: number, end: boolean) => {
    const vmas = p.maps()
    const v = vmas[k % vmas.length]
    return v ? ((end ? v.end : v.start) - G) / P : k
  }
  for (const o0 of ops) {
    const o =
      o0.t === 'mprotect' && o0.edge
        ? { ...o0, g: edgeOf(o0.g, false) }
        : o0.t === 'move' && o0.edge !== 0
          ? {
              ...o0,
              g: edgeOf(o0.g, false),
              d: o0.edge === 1 ? edgeOf(o0.d, true) : edgeOf(o0.d, false) - o0.n,
            }
          : o0
    if ((o.t === 'mprotect' || o.t === 'move') && (o.g < 0 || (o.t === 'move' && o.d < 0))) continue
    const what = `${rmap} ${JSON.stringify(o)}`
    if (o.t === 'anon' || o.t === 'file') {
      const off = o.t === 'file' ? o.off : 0
      const flags = o.t === 'anon' ? MAP_PRIVATE | MAP_ANONYMOUS : o.shared ? MAP_SHARED : MAP_PRIVATE
      p.mmap(
        G + o.g * P,
        o.n * P,
        o.rw ? RW : PROT_READ,
        flags | MAP_FIXED,
        o.t === 'file' ? fd : undefined,
        off * P,
      )
      for (let i = 0; i < o.n; i++)
        ref.set(
          o.g + i,
          o.t === 'anon'
            ? { kind: 'anon', rw: o.rw, value: 0 }
            : { kind: 'file', rw: o.rw, shared: o.shared, idx: off + i, value: undefined },
        )
    } else if (o.t === 'mprotect') {
      let hole = false
      for (let i = 0; i < o.n && !hole; i++) {
        const r = ref.get(o.g + i)
        if (r) r.rw = o.rw
        else hole = true
      }
      expectErrno(() => p.mprotect(G + o.g * P, o.n * P, o.rw ? RW : PROT_READ), hole ? 'ENOMEM' : null, what)
    } else if (o.t === 'munmap') {
      p.munmap(G + o.g * P, o.n * P)
      for (let i = 0; i < o.n; i++) ref.delete(o.g + i)
    } else if (o.t === 'move') {
      const overlap = (o.d <= o.g && o.d + o.n > o.g) || (o.g <= o.d && o.g + o.n > o.d)
      let errno: string | null = null
      try {
        p.mremap(G + o.g * P, o.n * P, o.n * P, MREMAP_MAYMOVE | MREMAP_FIXED, G + o.d * P)
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e
        errno = e.errno
      }
      if (overlap) {
        if (errno !== 'EINVAL') throw new Error(`${what}: overlapping ranges, got ${errno ?? 'success'}`)
        continue
      }
      // The target is unmapped first, whatever follows.
      const moving: (RefPage | undefined)[] = []
      for (let i = 0; i < o.n; i++) moving.push(ref.get(o.g + i))
      for (let i = 0; i < o.n; i++) ref.delete(o.d + i)
      if (errno === null) {
        if (moving.some((r) => !r)) throw new Error(`${what}: moved a range that is not all mapped`)
        for (let i = 0; i < o.n; i++) ref.delete(o.g + i)
        for (let i = 0; i < o.n; i++) ref.set(o.d + i, moving[i]!)
      } else if (errno !== 'EFAULT') {
        // EFAULT: the old range is not inside one vma (the grouping is the design's).
        throw new Error(`${what}: ${errno}`)
      }
    } else if (o.t === 'write') {
      const r = ref.get(o.g)
      if (!r?.rw) continue
      p.write(G + o.g * P, o.value)
      if (r.kind === 'file' && r.shared) file[r.idx] = o.value
      else r.value = o.value
    } else if (o.t === 'read') {
      const r = ref.get(o.g)
      if (!r) continue
      const v = p.read(G + o.g * P)
      if (v !== readRef(r)) throw new Error(`${what}: read ${v}, the reference says ${readRef(r)}`)
    } else m.reclaim({ pages: 16 })
    m.check()
    // Every page as maps shows it, against the reference.
    const seen = new Set<number>()
    for (const v of p.maps()) {
      for (let a = v.start; a < v.end; a += P) {
        const g = (a - G) / P
        const r = ref.get(g)
        if (!r) {
          if (g >= 0 && g < 32)
            throw new Error(`${what}: maps shows page ${g}, which the reference has unmapped`)
          continue
        }
        seen.add(g)
        const perms = `r${r.rw ? 'w' : '-'}-${r.kind === 'file' && r.shared ? 's' : 'p'}`
        if (v.perms !== perms)
          throw new Error(`${what}: page ${g} is ${v.perms}, the reference says ${perms}`)
        if ((v.file !== '') !== (r.kind === 'file')) throw new Error(`${what}: page ${g} file '${v.file}'`)
        if (r.kind === 'file' && v.pgoff / P + (a - v.start) / P !== r.idx)
          throw new Error(
            `${what}: page ${g} maps file page ${v.pgoff / P + (a - v.start) / P}, not ${r.idx}`,
          )
      }
    }
    if (seen.size !== ref.size) throw new Error(`${what}: maps misses pages the reference has mapped`)
  }
  for (const [g, r] of ref) {
    const v = p.read(G + g * P)
    if (v !== readRef(r))
      throw new Error(`${rmap} end: page ${g} reads ${v}, the reference says ${readRef(r)}`)
  }
}

describe('mmap, mprotect, mremap and munmap next to each other, per design', () => {
  it.each(['objrmap', 'pte_chains', 'anonmm'] as const)(
    '%s: pages, protections and file offsets follow a reference, and m.check() passes after every step',
    (rmap) => {
      fc.assert(
        fc.property(fc.array(mergeOp, { minLength: 1, maxLength: 40 }), (ops) => runMerges(rmap, ops)),
        { seed: 20040310, numRuns: 120 },
      )
    },
  )
})
