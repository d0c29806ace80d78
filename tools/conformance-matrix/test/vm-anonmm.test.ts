// Hugh's anonmm beside objrmap + anon_vma on every layout: seeded random
// workloads (fast-check) run on both designs with m.check() — each design's
// own invariants included — after every step, and a process must see the
// same thing under both: the values it reads, the errnos of its calls, the
// signals that kill it. What may differ is memory, walk cost, which ptes
// reclaim unmaps, and the copies rmap 11's mremap rule makes. (The whole-VM
// conformance checks run under anonmm in every arch package's conformance
// test, with anonmm's own expectations: the rmap axis.)
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SignalError,
  SyscallError,
} from '@rmaplab/rmap'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ARCHES } from './vm-helpers.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS
/** Pages per region slot; slots are 64 pages apart so regions never touch (vma merging is not compared). */
const REGION = 8
const SLOTS = 4

type Cmd =
  | { op: 'mmap'; p: number; slot: number; n: number }
  | { op: 'write'; p: number; slot: number; page: number; v: number }
  | { op: 'read'; p: number; slot: number; page: number }
  | { op: 'fork'; p: number }
  | { op: 'exit'; p: number }
  | { op: 'exec'; p: number }
  | { op: 'mprotect'; p: number; slot: number; page: number; n: number; ro: boolean }
  | { op: 'mremap'; p: number; slot: number; to: number; len: number; grow: number }
  | { op: 'munmap'; p: number; slot: number; page: number; n: number }
  | { op: 'pageout'; p: number; slot: number; page: number }
  | { op: 'reclaim'; pages: number }

const idx = fc.nat(15)
/** Slot 0 (the shared one) half the time. */
const slot = fc.oneof(fc.constant(0), fc.nat(SLOTS - 1))
const page = fc.nat(REGION - 1)
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('mmap' as const), p: idx, slot, n: fc.integer({ min: 1, max: REGION }) }),
  fc.record({ op: fc.constant('write' as const), p: idx, slot, page, v: fc.nat(0xffff) }),
  fc.record({ op: fc.constant('write' as const), p: idx, slot, page, v: fc.nat(0xffff) }),
  fc.record({ op: fc.constant('read' as const), p: idx, slot, page }),
  fc.record({ op: fc.constant('read' as const), p: idx, slot, page }),
  fc.record({ op: fc.constant('fork' as const), p: idx }),
  fc.record({ op: fc.constant('exit' as const), p: idx }),
  fc.record({ op: fc.constant('exec' as const), p: idx }),
  fc.record({
    op: fc.constant('mprotect' as const),
    p: idx,
    slot,
    page,
    n: fc.integer({ min: 1, max: 3 }),
    ro: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('mremap' as const),
    p: fc.nat(1),
    slot: fc.constant(0),
    to: fc.integer({ min: 1, max: SLOTS - 1 }),
    len: fc.integer({ min: 1, max: REGION }),
    grow: fc.nat(2),
  }),
  fc.record({
    op: fc.constant('mremap' as const),
    p: idx,
    slot,
    to: slot,
    len: fc.integer({ min: 1, max: REGION }),
    grow: fc.nat(2),
  }),
  fc.record({ op: fc.constant('munmap' as const), p: idx, slot, page, n: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ op: fc.constant('pageout' as const), p: idx, slot, page }),
  fc.record({ op: fc.constant('pageout' as const), p: idx, slot, page }),
  fc.record({ op: fc.constant('reclaim' as const), pages: fc.integer({ min: 1, max: 48 }) }),
)

/** What a process observes of one call: its value, its errno, or the signal that killed it. */
function observe(fn: () => unknown): unknown {
  try {
    const r = fn()
    return r === undefined ? 'ok' : r
  } catch (e) {
    if (e instanceof SyscallError) return { errno: e.errno }
    if (e instanceof SignalError) return { signal: e.signal }
    throw e
  }
}

/** Run `cmds` on a fresh machine of `design`; m.check() after every step. Returns what the processes saw and the counters. */
function run(arch: (typeof ARCHES)[number], design: 'objrmap' | 'anonmm', cmds: readonly Cmd[]) {
  const m = new Machine({ arch, ram: '16M', swap: '8M', rmap: design, seed: 9 })
  const base = m.taskUnmappedBase + 256 * P
  const at = (s: number, pg = 0) => base + s * 64 * P + pg * P
  const procs: Process[] = [m.spawn()]
  const seen: unknown[] = []
  // A common start, so that pages are shared across a fork group: slot 0 written, then a fork.
  procs[0]!.mmap(at(0), REGION * P, RW, ANON | MAP_FIXED)
  for (let pg = 0; pg < REGION; pg++) procs[0]!.write(at(0, pg), 0x100 + pg)
  procs.push(procs[0]!.fork())
  const alive = () => procs.filter((p) => p.alive)
  for (const c of cmds) {
    let live = alive()
    if (live.length === 0) {
      procs.push(m.spawn())
      live = alive()
    }
    const p = 'p' in c ? live[c.p % live.length]! : live[0]!
    let r: unknown
    switch (c.op) {
      case 'mmap':
        r = observe(() => p.mmap(at(c.slot), c.n * P, RW, ANON | MAP_FIXED))
        break
      case 'write':
        r = observe(() => p.write(at(c.slot, c.page), c.v))
        break
      case 'read':
        r = observe(() => p.read(at(c.slot, c.page)))
        break
      case 'fork':
        r = live.length < 10 ? observe(() => procs.push(p.fork()) && 'forked') : 'skipped'
        break
      case 'exit':
        r = observe(() => p.exit())
        break
      case 'exec':
        r = observe(() => p.exec([c.p]))
        break
      case 'mprotect':
        r = observe(() => p.mprotect(at(c.slot, c.page), c.n * P, c.ro ? PROT_READ : RW))
        break
      case 'mremap':
        r =
          c.to === c.slot
            ? 'skipped'
            : observe(() =>
                p.mremap(
                  at(c.slot),
                  c.len * P,
                  Math.max(1, c.len - 1 + c.grow) * P,
                  MREMAP_MAYMOVE | MREMAP_FIXED,
                  at(c.to),
                ),
              )
        if (typeof r === 'number') r = r - base
        break
      case 'munmap':
        r = observe(() => p.munmap(at(c.slot, c.page), c.n * P))
        break
      case 'pageout': {
        // Reclaim's choice: which ptes it can unmap differs by design, so only that it ran is recorded.
        const e = p.pagemap(at(c.slot, c.page))
        if (e.present && e.pfn !== undefined && m.page(e.pfn).flags.includes('anon')) {
          m.pageReferenced(e.pfn)
          m.pageout(e.pfn)
        }
        r = 'ok'
        break
      }
      case 'reclaim':
        m.reclaim({ pages: c.pages })
        r = 'ok'
        break
    }
    m.check()
    seen.push([c.op, r])
  }
  // Every word of every live process, read back after all of it.
  for (const p of alive())
    for (let s = 0; s < SLOTS; s++)
      for (let pg = 0; pg < REGION; pg++)
        seen.push(['final', s, pg, p.alive ? observe(() => p.read(at(s, pg))) : 'killed'])
  m.check()
  return { seen, stats: m.stats() }
}

describe.each(ARCHES)('anonmm beside objrmap on $name', (arch) => {
  it('seeded random workloads: the same values read, errnos and signals, m.check() after every step', () => {
    let cows = 0
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 10, maxLength: 45 }), (cmds) => {
        const aa = run(arch, 'objrmap', cmds)
        const hugh = run(arch, 'anonmm', cmds)
        expect(hugh.seen).toEqual(aa.seen)
        expect(aa.stats.rmap.mremapCows).toBe(0)
        cows += hugh.stats.rmap.mremapCows + hugh.stats.rmap.swapInCows
      }),
      { seed: 2004, numRuns: 25 },
    )
    // The runs did reach anonmm's own paths.
    expect(cows).toBeGreaterThan(0)
  })
})
