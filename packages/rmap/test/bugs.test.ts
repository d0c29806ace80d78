/**
 * The re-introducible bugs of the core (bugs.ts): each one is caught in its
 * buggy form, and the same run is clean without it. The full demos (with the
 * ppc/ppc64 layouts) are in @rmaplab/workload's bugs test.
 */
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
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PageTableEnv,
  PROT_READ,
  PROT_WRITE,
  pteAllocKernel,
  raceScenario,
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
