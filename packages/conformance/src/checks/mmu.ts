/**
 * Layer (b), the MMU cache: a cached translation must not outlive the pte it
 * came from. For each way the kernel changes a live pte (clear, write-protect,
 * remap), skipping the flush must leave a stale entry the model reports, and
 * each of the kernel's flushes (then flush_tlb_pending) must leave none, on
 * every cpu.
 */
import {
  type Arch,
  type KernelProfile,
  type PageTableEnv,
  pteAllocMap,
  pteUnmap,
  pteVal,
} from '@rmaplab/rmap'
import { expect } from 'vitest'
import { lo32 } from '../util.js'
import { type CheckDef, type Ctx, generic, needCap, sec } from './define.js'
import { smallEnv, USER_A } from './pgtable.js'

const L = 'MMU cache' as const

/** A user pte of `USER_A` mapping a fresh data page PAGE_SHARED (user, writable). */
interface Mapped {
  readonly env: PageTableEnv
  readonly mm: number
  readonly ptr: number
  readonly data: number
}

function setPfn(arch: Arch, env: PageTableEnv, ptr: number, pfn: number, prot: bigint): void {
  env.mmu.setPte(ptr, arch.fast.mkPteLo(pfn, lo32(prot)), arch.fast.mkPteHi(pfn, lo32(prot)))
}

function mapped(arch: Arch, profile: KernelProfile): Mapped {
  const env = smallEnv(arch, profile)
  const mm = env.mmCreate()
  const ptr = pteAllocMap(env, mm, USER_A)
  pteUnmap(env, ptr)
  const data = env.allocPage({ highmem: false })
  setPfn(arch, env, ptr, data, arch.prot.PAGE_SHARED)
  return { env, mm, ptr, data }
}

/** Every cpu's view of (mm, USER_A). */
function cached(m: Mapped): number[] {
  return Array.from({ length: m.env.cpus }, (_, c) => m.env.mmu.cachedPfn(c, m.mm, USER_A))
}

interface Op {
  /** The kernel function that changes the pte. */
  readonly fn: string
  /** Change the pte; check the pte itself. */
  change(arch: Arch, m: Mapped): void
  /** After the flush: the next access behaves as the new pte says. */
  refault(arch: Arch, m: Mapped): void
}

const OPS: Record<'clear' | 'wrprotect' | 'remap', Op> = {
  clear: {
    fn: 'ptep_get_and_clear',
    change(arch, m) {
      const lo = m.env.mmu.ptepGetAndClear(m.ptr)
      expect(arch.fast.pfn(lo, m.env.mmu.lastHi), 'the old pte is returned').toBe(m.data)
      expect(arch.pteNone(pteVal(m.env, m.ptr)), 'the pte is none').toBe(true)
    },
    refault(_arch, m) {
      expect(m.env.mmu.access(m.mm, USER_A, m.ptr, false), 'a cleared pte faults').toBe(false)
      expect(cached(m).every((p) => p === -1)).toBe(true)
    },
  },
  wrprotect: {
    fn: 'ptep_set_wrprotect',
    change(arch, m) {
      m.env.mmu.ptepSetWrprotect(m.ptr)
      const pte = pteVal(m.env, m.ptr)
      expect({
        write: arch.pteWrite(pte),
        present: arch.ptePresent(pte),
        pfn: Number(arch.ptePfn(pte)),
      }).toEqual({
        write: false,
        present: true,
        pfn: m.data,
      })
    },
    refault(_arch, m) {
      expect(m.env.mmu.access(m.mm, USER_A, m.ptr, true), 'a write through a read-only pte faults').toBe(
        false,
      )
      expect(m.env.mmu.access(m.mm, USER_A, m.ptr, false), 'a read still works').toBe(true)
      expect(m.env.mmu.cachedPfn(m.env.cpu, m.mm, USER_A)).toBe(m.data)
    },
  },
  remap: {
    fn: 'set_pte to another pfn',
    change(arch, m) {
      const other = m.env.allocPage({ highmem: false })
      setPfn(arch, m.env, m.ptr, other, arch.prot.PAGE_SHARED)
      expect(Number(arch.ptePfn(pteVal(m.env, m.ptr)))).toBe(other)
    },
    refault(arch, m) {
      expect(m.env.mmu.access(m.mm, USER_A, m.ptr, false)).toBe(true)
      expect(m.env.mmu.cachedPfn(m.env.cpu, m.mm, USER_A)).toBe(Number(arch.ptePfn(pteVal(m.env, m.ptr))))
    },
  },
}

const PAGE = 4096
const FLUSHES: Record<'page' | 'range' | 'mm', { fn: string; run(m: Mapped): void }> = {
  page: { fn: 'flush_tlb_page', run: (m) => m.env.mmu.flushTlbPage(m.mm, USER_A) },
  range: {
    fn: 'flush_tlb_range',
    run: (m) => m.env.mmu.flushTlbRange(m.mm, USER_A - PAGE, USER_A + 2 * PAGE),
  },
  mm: { fn: 'flush_tlb_mm', run: (m) => m.env.mmu.flushTlbMm(m.mm) },
}

/** Fill the cache from `cpus` (write access), as the hardware or hash_page would. */
function fill(m: Mapped, cpus: number[]): void {
  for (const c of cpus) {
    m.env.cpu = c
    expect(m.env.mmu.access(m.mm, USER_A, m.ptr, true), `write access on cpu ${c}`).toBe(true)
  }
}

function expectStale(m: Mapped): void {
  const stale = m.env.mmu.stale()
  expect(stale.length, 'a skipped flush leaves a stale translation').toBeGreaterThan(0)
  for (const e of stale) {
    expect({ mm: e.mm, address: e.address, cachedPfn: e.cachedPfn }).toEqual({
      mm: m.mm,
      address: USER_A,
      cachedPfn: m.data,
    })
    expect(e.reason.length).toBeGreaterThan(0)
  }
}

function expectCoherent(m: Mapped): void {
  expect(m.env.mmu.stale()).toEqual([])
  expect(cached(m), 'no cpu still translates the page').toEqual(cached(m).map(() => -1))
  expect(m.env.mmu.size).toBe(0)
}

/**
 * Run `body` under every selected profile (the MMU rules differ between
 * kernels: ppc64 2.6.7 batches differently), naming the profile on failure.
 */
function eachProfile(ctx: Ctx, body: (profile: KernelProfile) => void): void {
  expect(ctx.profiles.length, 'at least one profile selected').toBeGreaterThan(0)
  for (const p of ctx.profiles) {
    try {
      body(p)
    } catch (e) {
      if (e instanceof Error) e.message = `[profile ${p}] ${e.message}`
      throw e
    }
  }
}

const mmuCite = (c: Ctx) =>
  c.arch.mmu.kind === 'hash'
    ? 'docs/layouts.md#mmu-cache-coherence hash-table flushes'
    : sec(c, 'per-cpu TLB; flush_tlb_*')

const staleChecks: CheckDef[] = (Object.keys(OPS) as (keyof typeof OPS)[]).map((op) => ({
  id: `mmu.stale.${op}`,
  layer: L,
  cite: mmuCite,
  title:
    op === 'remap'
      ? `${OPS[op].fn} after an access, without a flush, leaves a stale cached translation (unless set_pte invalidates it itself, as ppc64 2.6.7 does)`
      : `${OPS[op].fn} after an access, without a flush, leaves a stale cached translation`,
  run(ctx: Ctx) {
    eachProfile(ctx, (profile) => {
      const m = mapped(ctx.arch, profile)
      fill(m, [0])
      expect(cached(m)[0]).toBe(m.data)
      expect(m.env.mmu.stale()).toEqual([])
      OPS[op].change(ctx.arch, m)
      // ppc64 from 2.6.7 on: set_pte over a present pte clears it and flushes
      // the batch itself (docs/layouts.md#mmu-cache-coherence), so nothing is left behind to be stale.
      if (
        op === 'remap' &&
        profile === '2.6.7' &&
        ctx.arch.mmu.kind === 'hash' &&
        m.env.mmu.stale().length === 0
      ) {
        expect(cached(m), 'set_pte invalidated the HPTE itself').toEqual(cached(m).map(() => -1))
        return
      }
      expectStale(m)
    })
  },
}))

const flushChecks: CheckDef[] = (Object.keys(OPS) as (keyof typeof OPS)[]).flatMap((op) =>
  (Object.keys(FLUSHES) as (keyof typeof FLUSHES)[]).map((fl) => ({
    id: `mmu.flush.${op}.${fl}`,
    layer: L,
    cite: mmuCite,
    title: `${OPS[op].fn}, then ${FLUSHES[fl].fn} and flush_tlb_pending, leaves the cache coherent`,
    run(ctx: Ctx) {
      eachProfile(ctx, (profile) => {
        const m = mapped(ctx.arch, profile)
        fill(m, [0])
        OPS[op].change(ctx.arch, m)
        FLUSHES[fl].run(m)
        m.env.mmu.flushTlbPending()
        expectCoherent(m)
        OPS[op].refault(ctx.arch, m)
        expect(m.env.mmu.stale()).toEqual([])
      })
    },
  })),
)

export const mmuChecks: CheckDef[] = [
  {
    id: 'mmu.access',
    layer: L,
    cite: (c) => sec(c, 'Predicates; user access to PROT_NONE and read-only ptes'),
    title: 'a user access faults on a none, PROT_NONE or (for writes) read-only pte, and caches nothing',
    run(ctx) {
      const { arch } = ctx
      eachProfile(ctx, (profile) => {
        const m = mapped(arch, profile)
        m.env.mmu.setPte(m.ptr, 0, 0)
        expect(m.env.mmu.access(m.mm, USER_A, m.ptr, false), 'none pte').toBe(false)
        setPfn(arch, m.env, m.ptr, m.data, arch.prot.PAGE_NONE)
        expect(m.env.mmu.access(m.mm, USER_A, m.ptr, false), 'PROT_NONE read').toBe(false)
        expect(m.env.mmu.access(m.mm, USER_A, m.ptr, true), 'PROT_NONE write').toBe(false)
        setPfn(arch, m.env, m.ptr, m.data, arch.prot.PAGE_COPY)
        expect(m.env.mmu.access(m.mm, USER_A, m.ptr, true), 'write through PAGE_COPY').toBe(false)
        expect(cached(m).every((p) => p === -1)).toBe(true)
        expect(m.env.mmu.access(m.mm, USER_A, m.ptr, false), 'read through PAGE_COPY').toBe(true)
        expect(m.env.mmu.cachedPfn(0, m.mm, USER_A)).toBe(m.data)
        expect(arch.pteYoung(pteVal(m.env, m.ptr)), 'the access set ACCESSED').toBe(true)
      })
    },
  },
  {
    id: 'mmu.young-dirty',
    layer: L,
    cite: (c) => sec(c, 'ptep_test_and_clear_young / _dirty'),
    title: 'a write access sets young and dirty; ptep_test_and_clear_young/_dirty report and clear each once',
    run(ctx) {
      const { arch } = ctx
      eachProfile(ctx, (profile) => {
        const m = mapped(arch, profile)
        m.env.mmu.ptepTestAndClearYoung(m.ptr)
        fill(m, [0])
        const pte = () => pteVal(m.env, m.ptr)
        expect({ young: arch.pteYoung(pte()), dirty: arch.pteDirty(pte()) }).toEqual({
          young: true,
          dirty: true,
        })
        expect(m.env.mmu.ptepTestAndClearYoung(m.ptr)).toBe(true)
        expect(m.env.mmu.ptepTestAndClearYoung(m.ptr)).toBe(false)
        expect(m.env.mmu.ptepTestAndClearDirty(m.ptr)).toBe(true)
        expect(m.env.mmu.ptepTestAndClearDirty(m.ptr)).toBe(false)
        expect({
          young: arch.pteYoung(pte()),
          dirty: arch.pteDirty(pte()),
          present: arch.ptePresent(pte()),
          write: arch.pteWrite(pte()),
          pfn: Number(arch.ptePfn(pte())),
        }).toEqual({ young: false, dirty: false, present: true, write: true, pfn: m.data })
      })
    },
  },
  ...staleChecks,
  ...flushChecks,
  {
    id: 'mmu.cross-cpu',
    layer: L,
    cite: (c) =>
      c.arch.mmu.kind === 'hash'
        ? 'docs/layouts.md#mmu-cache-coherence the hashed page table is shared by all cpus'
        : sec(c, 'per-cpu TLB'),
    title: "a flush issued on one cpu clears every cpu's cached translation of the page",
    run(ctx) {
      const { arch } = ctx
      const tlb = arch.mmu.kind === 'tlb'
      eachProfile(ctx, (profile) => {
        const m = mapped(arch, profile)
        fill(m, [0, 1])
        expect(cached(m)).toEqual([m.data, m.data])
        m.env.cpu = 1
        OPS.clear.change(arch, m)
        expectStale(m)
        if (tlb) expect(m.env.mmu.stale().map((e) => e.cpu)).toEqual([0, 1])
        m.env.mmu.flushTlbPage(m.mm, USER_A)
        m.env.mmu.flushTlbPending()
        expectCoherent(m)
        // A translation only cpu 0 holds, flushed from cpu 1.
        const n = mapped(arch, profile)
        fill(n, [0])
        n.env.cpu = 1
        OPS.wrprotect.change(arch, n)
        expectStale(n)
        n.env.mmu.flushTlbPage(n.mm, USER_A)
        n.env.mmu.flushTlbPending()
        expectCoherent(n)
      })
    },
  },
  {
    id: 'mmu.hash.hashpte',
    layer: L,
    cite: generic('docs/layouts.md#mmu-cache-coherence hash_page sets _PAGE_HASHPTE; pte_none ignores it'),
    title: 'an access through the hash MMU sets _PAGE_HASHPTE in the pte, and a cleared pte stays pte_none',
    needs: needCap('hashMmu'),
    run(ctx) {
      const { arch } = ctx
      const hashpte = arch.bits['_PAGE_HASHPTE']
      expect(hashpte, 'bits._PAGE_HASHPTE').toBeDefined()
      eachProfile(ctx, (profile) => {
        const m = mapped(arch, profile)
        expect(pteVal(m.env, m.ptr) & hashpte!).toBe(0n)
        fill(m, [0])
        expect(pteVal(m.env, m.ptr) & hashpte!, '_PAGE_HASHPTE after hash_page').toBe(hashpte)
        OPS.clear.change(arch, m)
        m.env.mmu.flushTlbPage(m.mm, USER_A)
        m.env.mmu.flushTlbPending()
        expect(arch.pteNone(pteVal(m.env, m.ptr))).toBe(true)
        expectCoherent(m)
      })
    },
  },
]
