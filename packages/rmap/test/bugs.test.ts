/**
 * The re-introducible bugs of the core (bugs.ts): each one is caught in its
 * buggy form, and the same run is clean without it. The full demos (with the
 * ppc/ppc64 layouts) are in @rmaplab/workload's bugs test.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BOOT,
  BUG,
  BUG_NAMES,
  BUGS,
  type BugName,
  bugMask,
  explore,
  INIT_MM,
  InvariantError,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PageTableEnv,
  PROT_READ,
  PROT_WRITE,
  pteAllocKernel,
  raceScenario,
  SignalError,
  SyscallError,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const arch = toy32

describe('the bug registry', () => {
  it('every bug has a distinct bit, a description and a name bugMask accepts', () => {
    const bits = new Set(BUGS.map((b) => b.bit))
    expect(bits.size).toBe(BUGS.length)
    for (const b of BUGS) {
      expect(b.what.length).toBeGreaterThan(40)
      expect(bugMask([b.name], 't')).toBe(b.bit)
    }
    expect(() => bugMask(['nope'], 't')).toThrow(new RegExp(BUG_NAMES.join(', ')))
  })

  it('a bug of another layout is refused with the layouts that had it', () => {
    expect(() => new Machine({ arch, bugs: ['ppc-young-no-flush'] })).toThrow(/ppc/)
  })
})

describe('pagetables-0kb: meminfo PageTables stays 0 while page tables exist', () => {
  function run(bugs: BugName[] | undefined): { pageTables: number; check: string } {
    const m = new Machine({ arch, ram: '8M', ...(bugs ? { bugs } : {}) })
    const p = m.spawn()
    const x = p.mmap(0, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(x, 1)
    let check = ''
    try {
      m.check()
    } catch (e) {
      check = String(e)
    }
    return { pageTables: m.meminfo().PageTables, check }
  }
  it('is caught by the check of nr_page_table_pages against the pte pages in use', () => {
    const bad = run(['pagetables-0kb'])
    expect(bad.pageTables).toBe(0)
    expect(bad.check).toMatch(/nr_page_table_pages \(0\) equals the counted pte pages \(1\)/)
    const good = run(undefined)
    expect(good.pageTables).toBeGreaterThan(0)
    expect(good.check).toBe('')
  })
})

describe('the tmpfs BUG_ONs of aa1 (shmem_writepage swizzles a page to swap)', () => {
  for (const name of ['shmem-getpage', 'shmem-truncate'] as const) {
    it(`${name}: the buggy BUG_ON fires with one preemption; the fixed code is clean to bound 3`, () => {
      const bad = explore(raceScenario(name, { arch, bugs: ['shmem-swapcache-bug-on'] }), { bound: 2 })
      expect(bad.failure?.violation.kind).toBe('bug')
      expect(bad.failure?.violation.message).toMatch(/not swapcache/)
      expect(bad.failure?.preemptions).toBe(1)
      const good = explore(raceScenario(name, { arch }), { bound: 3 })
      expect(good.failure).toBeNull()
      expect(good.boundReached).toBe(3)
    })
  }
})

describe('the early per-cpu count of kernel pte pages (mem_init_done)', () => {
  it('counting in pte_alloc_kernel before the per-cpu areas exist is a kernel bug; 2.6.5-aa does not count', () => {
    // toy32 is not ppc, but the env-level switch is the same one Machine sets.
    const early = (bugs: number) => {
      const env = new PageTableEnv({ arch, bootStage: BOOT.setupArch, bugs })
      pteAllocKernel(env, INIT_MM, 0xc0000000n)
      return env
    }
    expect(() => early(BUG.ppcEarlyPteCount)).toThrow(/per-cpu page_state touched before/)
    expect(() => early(0)).not.toThrow()
  })
})

describe("move-vma-merge-first: 2.6.4's move_vma grows the neighbour before move_page_tables", () => {
  const P = 4096
  const RW = PROT_READ | PROT_WRITE
  const ANON = MAP_PRIVATE | MAP_ANONYMOUS

  /**
   * Two written pages at X move (MREMAP_FIXED) to just after a one-page
   * anonymous vma at Y that was never touched, so the destination has no page
   * table; with every frame taken, the pte page cannot be allocated. Returns
   * the mremap's error (null when it worked) and the maps before it.
   */
  function moveNextToPrev(bugs: BugName[], exhaust: boolean) {
    const m = new Machine({ arch, ram: '16M', rmap: 'pte_chains', bugs })
    const p = m.spawn()
    const x = p.mmap(0x4000_0000, 2 * P, RW, ANON | MAP_FIXED)
    p.write(x, 1)
    p.write(x + P, 2)
    const y = p.mmap(0x5000_0000, P, RW, ANON | MAP_FIXED)
    const before = p.maps()
    const held: number[] = []
    if (exhaust)
      for (
        let pfn = m.env.tryAllocPage({ highmem: true });
        pfn >= 0;
        pfn = m.env.tryAllocPage({ highmem: true })
      )
        held.push(pfn)
    let error: unknown = null
    try {
      p.mremap(x, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, y + P)
    } catch (e) {
      error = e
    }
    for (const pfn of held) m.env.freePage(pfn)
    return { m, p, x, y, before, error }
  }

  it('is a bug of the pte_chains design only: another design refuses it', () => {
    expect(() => new Machine({ arch, rmap: 'objrmap', bugs: ['move-vma-merge-first'] })).toThrow(
      /move-vma-merge-first.*pte_chains/,
    )
    expect(() => new Machine({ arch, rmap: 'anonmm', bugs: ['move-vma-merge-first'] })).toThrow(RangeError)
    expect(BUGS.find((b) => b.name === 'move-vma-merge-first')!.designs).toEqual(['pte_chains'])
  })

  it('fixed: a move that runs out of page tables fails with ENOMEM and changes nothing', () => {
    const { m, p, x, y, before, error } = moveNextToPrev([], true)
    expect(error).toBeInstanceOf(SyscallError)
    expect((error as SyscallError).errno).toBe('ENOMEM')
    expect(p.maps()).toEqual(before)
    m.check()
    expect([p.read(x), p.read(x + P)]).toEqual([1, 2])
    expect(() => p.write(y + P, 9)).toThrow(SignalError)
  })

  it('buggy: the same ENOMEM leaves the neighbour grown over the new range, total_vm short of it (caught by m.check())', () => {
    const { m, p, x, y, before, error } = moveNextToPrev(['move-vma-merge-first'], true)
    expect((error as SyscallError).errno).toBe('ENOMEM')
    expect(p.maps()).not.toEqual(before)
    const prev = p.maps().find((e) => e.start === y)!
    expect(prev.end).toBe(y + 3 * P)
    expect(() => m.check()).toThrow(InvariantError)
    expect(() => m.check()).toThrow(/total_vm of pid \d+ \(3\) equals the pages of its vmas \(5\)/)
    // The ptes went back: the old range still reads its values; the new range is mapped, zero-filled.
    expect([p.read(x), p.read(x + P)]).toEqual([1, 2])
    expect(p.read(y + P)).toBe(0)
    p.write(y + P, 9)
    expect(p.read(y + P)).toBe(9)
  })

  it('a move that works ends the same with and without the bug (merged into the neighbour, counted once)', () => {
    const fixed = moveNextToPrev([], false)
    const buggy = moveNextToPrev(['move-vma-merge-first'], false)
    for (const r of [fixed, buggy]) {
      expect(r.error).toBeNull()
      r.m.check()
      expect([r.p.read(r.y + P), r.p.read(r.y + 2 * P)]).toEqual([1, 2])
    }
    expect(buggy.p.maps()).toEqual(fixed.p.maps())
    expect(fixed.p.maps().find((e) => e.start === fixed.y)!.end).toBe(fixed.y + 3 * P)
  })
})

describe('an mremap move that may run out of memory (fast-check), next to a vma it may merge with', () => {
  const P = 4096
  const RW = PROT_READ | PROT_WRITE
  const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
  const D = 0x5000_1000
  const arb = fc.record({
    rmap: fc.constantFrom('objrmap', 'pte_chains', 'anonmm'),
    pages: fc.integer({ min: 1, max: 3 }),
    written: fc.integer({ min: 0, max: 7 }),
    neighbour: fc.constantFrom('prev', 'next', 'none'),
    free: fc.integer({ min: 0, max: 2 }),
  })
  type Case = typeof arb extends fc.Arbitrary<infer T> ? T : never

  /** False when the run breaks the rule: a failed move changes nothing, a move that works moves the values. */
  function behaves(k: Case, bugs: BugName[]): boolean {
    const m = new Machine({ arch, ram: '16M', rmap: k.rmap, bugs })
    const p = m.spawn()
    const x = p.mmap(0x4000_0000, k.pages * P, RW, ANON)
    const want: number[] = []
    for (let i = 0; i < k.pages; i++) {
      want.push(k.written & (1 << i) ? 10 + i : 0)
      if (want[i]) p.write(x + i * P, want[i]!)
    }
    if (k.neighbour === 'prev') p.mmap(D - P, P, RW, ANON)
    if (k.neighbour === 'next') p.mmap(D + k.pages * P, P, RW, ANON)
    const before = p.maps()
    const held: number[] = []
    for (
      let pfn = m.env.tryAllocPage({ highmem: true });
      pfn >= 0;
      pfn = m.env.tryAllocPage({ highmem: true })
    )
      held.push(pfn)
    for (const pfn of held.splice(0, k.free)) m.env.freePage(pfn)
    let at = D
    try {
      p.mremap(x, k.pages * P, k.pages * P, MREMAP_MAYMOVE | MREMAP_FIXED, D)
    } catch (e) {
      if (!(e instanceof SyscallError) || e.errno !== 'ENOMEM') throw e
      if (JSON.stringify(p.maps()) !== JSON.stringify(before)) return false
      at = x
    }
    for (const pfn of held) m.env.freePage(pfn)
    try {
      m.check()
    } catch (e) {
      if (e instanceof InvariantError) return false
      throw e
    }
    for (let i = 0; i < k.pages; i++) if (p.read(at + i * P) !== want[i]) return false
    return true
  }

  it('fixed kernel, every design: ENOMEM leaves the maps as they were, success moves the values, m.check() passes', () => {
    fc.assert(
      fc.property(arb, (k) => behaves(k, [])),
      { seed: 0x6d76, numRuns: 150 },
    )
  })

  it('with move-vma-merge-first (pte_chains) a failing case is found: a neighbour grown by a failed move', () => {
    const r = fc.check(
      fc.property(
        arb.filter((k) => k.rmap === 'pte_chains'),
        (k) => behaves(k, ['move-vma-merge-first']),
      ),
      { seed: 0x6d76, numRuns: 150 },
    )
    expect(r.failed).toBe(true)
    const k = r.counterexample![0]
    expect(k.neighbour).not.toBe('none')
    expect(k.free).toBe(0)
  })
})
