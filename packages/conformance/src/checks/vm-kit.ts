/**
 * What the whole-VM checks share: the scenario machine, the gate, the step
 * runner that calls `m.check()` after every step, and small observers built on
 * the public API of `@rmaplab/rmap` (`pagemap`, `page`, `maps`, `meminfo`,
 * `stats`). Used by vm.ts, vm-scenarios.ts and vm-files.ts.
 */
import {
  type Arch,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  type Meminfo,
  PAGE_SIZE,
  PG,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from '@rmaplab/rmap'
import { expect } from 'vitest'
import { thrown } from '../util.js'
import type { Ctx } from './define.js'

/** The layer every VM check registers in. */
export const L = 'whole VM' as const

/** RAM of every scenario machine: small, and the same on every layout. */
export const VM_RAM = '64M'
/** Seed of the machine's cpu choice, fixed so that a failure replays exactly. */
export const VM_SEED = 1

export const RW = PROT_READ | PROT_WRITE
export const PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS
/** One page in kB, as meminfo counts. */
export const PAGE_KB = PAGE_SIZE / 1024

/**
 * A fresh machine for one scenario on the arch under test, with the run's
 * kernel profile and rmap design (`maxMapCount`: sysctl vm.max_map_count;
 * `swap`: the size of swap area 0).
 */
export function vmMachine(
  arch: Arch,
  ctx: Pick<Ctx, 'profile' | 'rmap'>,
  seed = VM_SEED,
  opts: { maxMapCount?: number; swap?: string } = {},
): Machine {
  return new Machine({ arch, ram: VM_RAM, cpus: 2, profile: ctx.profile, rmap: ctx.rmap, seed, ...opts })
}

/**
 * What the whole-VM checks expect where the three reverse-mapping designs
 * differ by construction (docs/designs.md); everything a process can observe
 * (values, errnos, signals, page counts, COW copies) is the same under all
 * three and is asserted unconditionally. The differences:
 *
 * - **where an anonymous page points** (`page->mapping`): the vma's anon_vma
 *   under objrmap; nothing under pte_chains (2.6.4 told anonymous pages apart
 *   by a NULL mapping and tracked them by their ptes); the faulting mm's
 *   anonmm under anonmm;
 * - **anon_vma objects**: only objrmap allocates them;
 * - **page->index of an anonymous page**: the linear page (vm_pgoff based)
 *   under objrmap; the virtual page under anonmm (the same number until
 *   mremap moves it: rmap 11 then notes the new address); unused (0) under
 *   pte_chains;
 * - **an anonymous vma's vm_pgoff** (maps()): objrmap numbers it by its
 *   address (`vm_start >> PAGE_SHIFT`, -aa's do_mmap_pgoff), pte_chains and
 *   anonmm keep what it was created with (mainline 2.6.4 and 2.6.6
 *   mm/mmap.c do_mmap_pgoff: the caller's offset, 0 for mmap(..., 0); fs/exec.c
 *   setup_arg_pages: 0), and their merges do not compare it;
 * - **the moved vma's vm_pgoff** after an anonymous mremap of faulted pages:
 *   every design keeps the linear origin, old vm_pgoff + the offset (2.6.4
 *   mm/mremap.c move_vma, rmap 11 and 2.6.7 copy_vma; objrmap re-bases only a
 *   vma without anon_vma, as 2.6.7 did);
 * - **a page shared with another mm that mremap moves**: anonmm copies it
 *   first (rmap 11's make_page_exclusive, "mremap moved N cows"); the others
 *   move the pte and keep one frame;
 * - **what a walk visits**: objrmap counts the vmas on the anon_vma or the
 *   file's lists; pte_chains visits the ptes on the page's chain (no vma);
 *   anonmm counts mms for anonymous pages and vmas for file pages;
 * - **the pte_chain slab**: pte_chains takes lowmem frames for its chains
 *   ahead of the first fault (pte_chain_alloc before page_table_lock) and keeps
 *   empty slab frames (the model does not reap), so MemFree ends one slab frame
 *   lower than under the other two.
 */
export interface DesignExpectations {
  readonly anonKind: 'anon_vma' | 'none' | 'anonmm'
  /** m.stats().objects.anonVmas when objrmap would have `n`. */
  anonVmas(n: number): number
  /** page->index of an anonymous page at linear page `linear` (vm_pgoff based) and virtual page `virt`. */
  anonIndex(linear: number, virt?: number): number
  /** vm_pgoff in bytes (as maps() shows it) of a new anonymous vma at `start` mapped with offset 0 (also exec's stack). */
  anonPgoff(start: number): number
  /** vm_pgoff of a moved anonymous vma with pages (any unit): its linear origin `origin` (the old vma's pgoff + offset), or its new address. */
  movedPgoff(origin: number, newStart: number): number
  /** mremap moving a page another mm maps copies it (anonmm). */
  readonly mremapCopiesShared: boolean
  /** rmap.vmasVisited of a walk that objrmap does by visiting `vmas` vmas (`anon`: of an anonymous page). */
  vmasVisited(vmas: number, anon: boolean): number
  /** Frames the design keeps after the first fault that the others do not (the pte_chain slab). */
  readonly slabFrames: number
  /** m.stats().lastWalk of a file page's walk: objrmap and anonmm visit the file's `vmas` vmas, pte_chains the page's `mapcount` ptes. */
  fileWalk(vmas: number, mapcount: number): { vmasVisited: number; ptesProbed: number }
  /** lastWalk of an anonymous page mapped `mapcount` times whose anon_vma lists `vmas` vmas. */
  anonWalk(vmas: number, mapcount: number): { vmasVisited: number; ptesProbed: number }
}

const DESIGN_EXPECTATIONS: Readonly<Record<Ctx['rmap'], DesignExpectations>> = {
  objrmap: {
    anonKind: 'anon_vma',
    anonVmas: (n) => n,
    anonIndex: (linear) => linear,
    anonPgoff: (start) => start,
    movedPgoff: (origin) => origin,
    mremapCopiesShared: false,
    vmasVisited: (vmas) => vmas,
    slabFrames: 0,
    fileWalk: (vmas) => ({ vmasVisited: vmas, ptesProbed: vmas }),
    anonWalk: (vmas) => ({ vmasVisited: vmas, ptesProbed: vmas }),
  },
  pte_chains: {
    anonKind: 'none',
    anonVmas: () => 0,
    anonIndex: () => 0,
    anonPgoff: () => 0,
    movedPgoff: (origin) => origin,
    mremapCopiesShared: false,
    vmasVisited: () => 0,
    slabFrames: 1,
    fileWalk: (_vmas, mapcount) => ({ vmasVisited: 0, ptesProbed: mapcount }),
    anonWalk: (_vmas, mapcount) => ({ vmasVisited: 0, ptesProbed: mapcount }),
  },
  anonmm: {
    anonKind: 'anonmm',
    anonVmas: () => 0,
    anonIndex: (linear, virt) => virt ?? linear,
    anonPgoff: () => 0,
    movedPgoff: (origin) => origin,
    mremapCopiesShared: true,
    vmasVisited: (vmas, anon) => (anon ? 0 : vmas),
    slabFrames: 0,
    fileWalk: (vmas) => ({ vmasVisited: vmas, ptesProbed: vmas }),
    anonWalk: (_vmas, mapcount) => ({ vmasVisited: 0, ptesProbed: mapcount }),
  },
}

/** The expectations of the design `ctx.rmap` (see {@link DesignExpectations}). */
export function design(ctx: Pick<Ctx, 'rmap'>): DesignExpectations {
  return DESIGN_EXPECTATIONS[ctx.rmap]
}

/**
 * The VM takes user addresses as JavaScript numbers (docs/README.md#the-public-api-in-one-example),
 * so it can run a layout whose user space ends at or below 2^53: every 32-bit
 * layout and ppc64 (2^41). That is the whole requirement: any layout that passes
 * layers (a) and (b) and meets it runs the VM.
 */
export function needVm(ctx: Ctx): string | undefined {
  const size = (ctx.arch as Partial<Arch>).geometry?.TASK_SIZE
  if (typeof size !== 'bigint') return 'the arch has no geometry.TASK_SIZE'
  return size <= 2n ** 53n ? undefined : 'TASK_SIZE above 2^53: the VM takes user addresses as numbers'
}

/** `step(what, fn)`: run one step of a scenario, then `m.check()`. */
export type Step = <T>(what: string, fn: () => T) => T

/**
 * `step(what, fn)`: run one step of a scenario, then `m.check()`; a violation
 * is reported with the step that caused it.
 */
export function stepper(m: Machine): Step {
  return <T>(what: string, fn: () => T): T => {
    const r = fn()
    try {
      m.check()
    } catch (e) {
      throw new Error(`m.check() after "${what}": ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      })
    }
    return r
  }
}

/** The pfn a present pte of `p` maps at `addr`. */
export function pfnOf(p: Process, addr: number): number {
  const e = p.pagemap(addr)
  if (!e.present || e.pfn === undefined)
    throw new Error(`pid ${p.pid}: no present pte at 0x${addr.toString(16)}`)
  return e.pfn
}

/** present/write/dirty of the pte of `p` at `addr`. */
export function pte(p: Process, addr: number): { present: boolean; write?: boolean; dirty?: boolean } {
  const e = p.pagemap(addr)
  return e.present ? { present: true, write: e.write ?? false, dirty: e.dirty ?? false } : { present: false }
}

/** What pagemap says of a pte that maps nothing (pte_none). */
export const PTE_NONE = { present: false, swapped: false } as const

/** Frames with PG_anon set. */
export function anonFrames(m: Machine): number[] {
  const out: number[] = []
  for (let pfn = 0; pfn < m.frames.n; pfn++) if (m.frames.test(pfn, PG.anon)) out.push(pfn)
  return out
}

/** `fn` must fail with a SyscallError of `syscall` and `errno` (checked by name and fields). */
export function expectErrno(fn: () => unknown, syscall: string, errno: string, what: string): void {
  const err = thrown(fn)
  expect(err, `${what}: must fail with ${errno}`).toMatchObject({ name: 'SyscallError', syscall, errno })
}

/**
 * `c` must die of `signal` at `addr` when it accesses it: the access throws the
 * signal error and the process is reaped, as under the default action.
 */
export function expectSignal(
  c: Process,
  addr: number,
  write: boolean,
  signal: 'SIGSEGV' | 'SIGBUS',
  what: string,
): void {
  const err = thrown(() => (write ? c.write(addr, 0xdead) : c.read(addr)))
  expect(err, `${what}: ${write ? 'write' : 'read'} must raise ${signal}`).toMatchObject({
    name: 'SignalError',
    signal,
    address: addr,
    pid: c.pid,
  })
  expect({ alive: c.alive, killedBy: c.killedBy }, `${what}: the process died`).toEqual({
    alive: false,
    killedBy: signal,
  })
}

/** {@link expectSignal} with SIGSEGV. */
export function expectSegv(c: Process, addr: number, write: boolean, what: string): void {
  expectSignal(c, addr, write, 'SIGSEGV', what)
}

/**
 * The fault and COW counters of m.stats() must be exactly `faults` (every other
 * fault kind the VM counts, present or future, 0) and `cow`.
 */
export function expectFaults(
  m: Machine,
  faults: Record<string, number>,
  cow: { copies: number; reuses: number },
): void {
  const s = m.stats()
  const zero = Object.fromEntries(Object.keys(s.faults).map((k) => [k, 0]))
  expect({ faults: s.faults, cow: s.cow }, 'fault and COW counters').toEqual({
    faults: { ...zero, ...faults },
    cow,
  })
}

/** Bytes one pte page maps: PTRS_PER_PTE pages. */
export function spanOfPtePage(arch: Arch): number {
  return arch.geometry.PTRS_PER_PTE * Number(arch.geometry.PAGE_SIZE)
}

/** `x` rounded up to a multiple of `to`. */
export const alignUp = (x: number, to: number): number => Math.ceil(x / to) * to

/**
 * pmd pages a fresh mm allocates on demand to reach `addrs`: one per pgd entry
 * on a 3-level layout whose pgd_alloc preallocates none (ppc64), none where the
 * pmd is folded (2-level) or preallocated (i386 PAE).
 */
export function onDemandPmds(arch: Arch, addrs: readonly number[]): number {
  if (arch.geometry.levels !== 3 || arch.pgtable.pgdPreallocPmds > 0) return 0
  return new Set(addrs.map((a) => arch.fast.pgdIndex(a))).size
}

/** What a failing syscall must leave unchanged. */
export function snapshot(m: Machine, p: Process): { maps: unknown; meminfo: Meminfo; stats: unknown } {
  return { maps: p.maps(), meminfo: m.meminfo(), stats: m.stats() }
}

/** One errno case: what, the call, and the errno it fails with (null: it succeeds). */
export type ErrnoCase = readonly [what: string, call: () => unknown, errno: string | null]

/**
 * Run each call against `p`; `errno` null means the call succeeds. Either way
 * maps(), meminfo() and stats() are unchanged after it, the process lives on,
 * and m.check() passes.
 */
export function expectErrnoCases(m: Machine, p: Process, syscall: string, cases: readonly ErrnoCase[]): void {
  for (const [what, call, errno] of cases) {
    const before = snapshot(m, p)
    if (errno === null) expect(thrown(call), `${syscall} ${what} succeeds`).toBeUndefined()
    else expectErrno(call, syscall, errno, `${syscall} ${what}`)
    expect(snapshot(m, p), `${syscall} ${what} changes nothing`).toEqual(before)
    expect(p.alive).toBe(true)
    m.check()
  }
}
