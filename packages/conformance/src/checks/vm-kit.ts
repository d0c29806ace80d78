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
