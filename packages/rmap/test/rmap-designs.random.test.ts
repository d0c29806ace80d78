// Random operations run on three machines that differ only in their rmap design:
// every value read, every errno and signal must be the same, and m.check()
// (each design's own invariants included) must pass after every step. The vma
// layout may differ by construction: under objrmap an anonymous vma's
// vm_pgoff is its address (-aa), a faulted vma moved by mremap keeps it (its
// pages' anon_vma index needs it), and vmas merge only with contiguous pgoffs;
// under pte_chains and anonmm vm_pgoff is what mmap was given (2.6.4 and 2.6.6
// mm/mmap.c) and anonymous vmas merge whatever their pgoffs; anonmm copies a
// shared page mremap moves (rmap 11), which no process can see.
// fast-check generates and shrinks the operation lists; the seed is fixed, so
// a run is reproducible.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  MREMAP_MAYMOVE,
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
