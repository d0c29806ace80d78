/**
 * `m.check()` can fail: for every invariant it claims (packages/rmap/src/check.ts),
 * one piece of machine state is corrupted directly, behind the VM's back, and
 * m.check() must throw an InvariantError naming that invariant. Where the
 * corruption touches nothing else, the violations must name that invariant
 * only, so a check that reports everything for any fault would not pass either.
 *
 * Covered: the invariants of anonymous memory, page tables, counters, frames,
 * kmap slots and the MMU cache. The page-cache and file-vma invariants
 * (mapping/index/count of cached pages, i_mmap lists, EOF, Cached, nr_dirty,
 * nonlinear ptes) join when the file work lands.
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  KERNEL_PROFILES,
  type KernelProfile,
  KM,
  lookupPte,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PAGE_SIZE,
  PG,
  PROT_READ,
  PROT_WRITE,
  type Process,
  PS,
  pteWordOffset,
  VM,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

const ARCHES: readonly Arch[] = [i386, i386Pae, ppc, ppc64]

/**
 * A small, consistent machine: P with a 4-page anonymous vma (page 0 copied
 * by the child, page 1 copied by P, pages 2 and 3 shared) and a read-only vma
 * on the zero page, and its child C.
 */
interface World {
  readonly m: Machine
  readonly p: Process
  readonly c: Process
  /** Start of P's 4-page vma. */
  readonly a: number
  /** P's own copy of page 1 (mapcount 1). */
  readonly own: number
  /** Page 2, shared by P and C (mapcount 2). */
  readonly shared: number
}

function world(arch: Arch, profile: KernelProfile = '2.6.5-aa'): World {
  const m = new Machine({ arch, ram: '64M', cpus: 2, seed: 2004, profile })
  const p = m.spawn()
  const a = p.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  for (let k = 0; k < 4; k++) p.write(a + k * PAGE_SIZE, 0x10 + k)
  const b = p.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
  p.read(b)
  const c = p.fork()
  c.write(a, 0x20)
  p.write(a + PAGE_SIZE, 0x21)
  p.read(a + 2 * PAGE_SIZE)
  c.read(a + 2 * PAGE_SIZE)
  m.check()
  const own = p.pagemap(a + PAGE_SIZE).pfn!
  const shared = p.pagemap(a + 2 * PAGE_SIZE).pfn!
  expect(m.page(own).mapcount).toBe(1)
  expect(m.page(shared).mapcount).toBe(2)
  return { m, p, c, a, own, shared }
}

/** A free frame: count 0, not a page table, not reserved. */
function freeFrame(m: Machine): number {
  for (let pfn = m.frames.n - 1; pfn >= 0; pfn--) {
    if (m.frames.count[pfn] === 0 && !m.env.tables.has(pfn) && !m.frames.test(pfn, PG.reserved)) return pfn
  }
  throw new Error('no free frame')
}

/** The word offset of the pte of `addr` in `p`. */
function pteAt(w: World, p: Process, addr: number): number {
  const ptr = lookupPte(w.m.env, p.mm.id, addr)
  expect(ptr).toBeGreaterThanOrEqual(0)
  return pteWordOffset(w.m.env, ptr)
}

/** The violations m.check() reports (it must throw an InvariantError). */
function violations(m: Machine): readonly string[] {
  let err: unknown
  try {
    m.check()
  } catch (e) {
    err = e
  }
  expect(err, 'm.check() must throw').toMatchObject({ name: 'InvariantError' })
  return (err as { violations: readonly string[] }).violations
}

interface Corruption {
  /** The invariant, as check.ts states it. */
  readonly invariant: string
  /** How the state is broken. */
  readonly how: string
  /** Break it; return a piece of text that the violation must contain. */
  readonly corrupt: (w: World) => string
  /** True when the corruption breaks only this invariant: every violation must mention `mentions`. */
  readonly alone?: boolean
}

const CORRUPTIONS: readonly Corruption[] = [
  {
    invariant: 'every present user pte maps a page whose mapcount counts it',
    how: 'm.frames.mapcount[pfn]++',
    corrupt: ({ m, shared }) => {
      m.frames.mapcount[shared]!++
      return `mapcount of page ${shared} (3) counts its ptes (2)`
    },
  },
  {
    invariant: 'the rmap walk of every mapped page finds exactly mapcount ptes',
    how: 'PG_anon cleared on a mapped anon page (it is then walked as a file page)',
    corrupt: ({ m, own }) => {
      m.frames.clear(own, PG.anon)
      return `the rmap walk of page ${own} finds its mapcount (1) ptes`
    },
  },
  {
    invariant: 'PG_anon is set only on mapped pages',
    how: 'PG_anon set on a free frame',
    corrupt: ({ m }) => {
      const pfn = freeFrame(m)
      m.frames.set(pfn, PG.anon)
      return `PG_anon is set only on mapped pages (page ${pfn})`
    },
    alone: true,
  },
  {
    invariant: "anon pages' (mapping, index) agree with every vma that maps them",
    how: 'm.frames.index[pfn] moved by one page',
    corrupt: ({ m, shared }) => {
      m.frames.index[shared]! += 1
      return `anon page ${shared} (mapping`
    },
  },
  {
    invariant: "anon pages' (mapping, index) agree with every vma that maps them",
    how: 'page->mapping names another object',
    corrupt: ({ m, own }) => {
      m.frames.mapping[own] = 999
      return `anon page ${own} (mapping 999`
    },
  },
  {
    invariant: 'page count covers the mappings (count == mapcount for anonymous pages)',
    how: 'm.frames.count[pfn]++ (a leaked reference)',
    corrupt: ({ m, shared }) => {
      m.frames.count[shared]!++
      return `count of anon page ${shared} (3) equals its mappings (2)`
    },
    alone: true,
  },
  {
    invariant: 'nr_mapped equals what it counts',
    how: 'inc_page_state(nr_mapped) with no page',
    corrupt: ({ m }) => {
      m.env.pageState.inc(1, PS.nr_mapped)
      return 'nr_mapped ('
    },
    alone: true,
  },
  {
    invariant: 'rss per mm equals its present ptes of non-reserved pages',
    how: 'mm.rss++',
    corrupt: ({ p }) => {
      p.mm.rss++
      return `rss of pid ${p.pid} (`
    },
    alone: true,
  },
  {
    invariant: 'total_vm per mm equals the pages of its vmas',
    how: 'mm.totalVm++',
    corrupt: ({ p }) => {
      p.mm.totalVm++
      return `total_vm of pid ${p.pid} (`
    },
    alone: true,
  },
  {
    invariant: 'locked_vm per mm equals the pages of its VM_LOCKED vmas',
    how: 'mm.lockedVm++ with no VM_LOCKED vma',
    corrupt: ({ c }) => {
      c.mm.lockedVm++
      return `locked_vm of pid ${c.pid} (1) equals the pages of its VM_LOCKED vmas (0)`
    },
    alone: true,
  },
  {
    invariant: 'a VM_SHARED vma maps no anonymous page',
    how: 'VM_SHARED set on a private vma holding anon pages',
    corrupt: ({ p, a }) => {
      p.mm.vmas.find((v) => v.start === a)!.flags |= VM.SHARED
      return `a VM_SHARED vma maps no anonymous page (pid ${p.pid}`
    },
    alone: true,
  },
  {
    invariant: 'a page on the LRU is mapped, in a page cache or in the swap cache',
    how: 'a frame allocated and put on the LRU, never mapped',
    corrupt: ({ m }) => {
      const pfn = m.env.allocPage({ highmem: true })
      m.frames.set(pfn, PG.lru)
      return `(page ${pfn} is none: leaked)`
    },
    alone: true,
  },
  {
    invariant: 'vmas are sorted and do not overlap',
    how: "the second vma's start moved into the first",
    corrupt: ({ p }) => {
      const [first, second] = p.mm.vmas
      second!.start = first!.end - PAGE_SIZE
      return `vmas of pid ${p.pid} are sorted and do not overlap`
    },
  },
  {
    invariant: 'vmas sit on their anon_vma lists',
    how: "the child's vma taken off its anon_vma list",
    corrupt: ({ c }) => {
      const vma = c.mm.vmas.find((v) => v.anonVma)!
      const list = vma.anonVma!.vmas
      list.splice(list.indexOf(vma), 1)
      return `a vma with an anon_vma is on its list (pid ${c.pid}`
    },
  },
  {
    invariant: 'a present pte maps a valid pfn',
    how: 'a pte word rewritten with a pfn past the last frame',
    corrupt: (w) => {
      const { m, p, a } = w
      const at = pteAt(w, p, a + 3 * PAGE_SIZE)
      const bad = m.frames.n + 7
      const prot = p.mm.vmas[0]!.pageProt
      const words = m.env.tables.words
      words[at] = m.fast.mkPteLo(bad, prot)
      if (m.fast.words === 2) words[at + 1] = m.fast.mkPteHi(bad, prot)
      return `a present pte maps a valid pfn (pid ${p.pid}`
    },
  },
  {
    invariant: 'page frames are conserved (free + in use = total)',
    how: 'a free frame given a reference without leaving the free list',
    corrupt: ({ m }) => {
      m.frames.count[freeFrame(m)] = 1
      return 'page frames are conserved'
    },
    alone: true,
  },
  {
    invariant: 'no kmap slot is left held',
    how: 'm.env.kmap.map(...) of KM_PTE0 never unmapped',
    corrupt: ({ m, own }) => {
      m.env.kmap.map(1, KM.KM_PTE0, own, false)
      return `kmap slot KM_PTE0 on cpu 1 is released (holds pfn ${own})`
    },
    alone: true,
  },
  {
    invariant: 'the TLB or hash table holds no stale entry',
    how: 'after a write access, the pte word is write-protected directly (no flush)',
    corrupt: (w) => {
      const { m, p, a } = w
      p.write(a + PAGE_SIZE, 0x22) // the MMU caches a writable translation
      m.check()
      const at = pteAt(w, p, a + PAGE_SIZE)
      m.env.tables.words[at] = (m.env.tables.words[at]! & ~m.fast.WRITE) >>> 0
      return 'the MMU cache holds no stale entry'
    },
    alone: true,
  },
]

describe.each(ARCHES.map((a) => [a.name, a] as const))(
  'm.check() catches corrupted state on %s',
  (_name, arch) => {
    it.each(CORRUPTIONS.map((c) => [c.invariant, c.how, c] as const))('%s (%s)', (_inv, _how, c) => {
      const w = world(arch)
      const mentions = c.corrupt(w)
      const found = violations(w.m)
      expect(
        found.some((v) => v.includes(mentions)),
        `a violation mentions "${mentions}"; got ${JSON.stringify(found)}`,
      ).toBe(true)
      if (c.alone)
        expect(
          found.filter((v) => !v.includes(mentions)),
          'nothing else is reported',
        ).toEqual([])
    })

    it.each(KERNEL_PROFILES)('nr_page_table_pages equals the user pte pages (%s)', (profile) => {
      const w = world(arch, profile)
      w.m.env.pageState.inc(0, PS.nr_page_table_pages)
      const found = violations(w.m)
      expect(found.filter((v) => !v.startsWith('nr_page_table_pages ('))).toEqual([])
      expect(found).toHaveLength(1)
    })
  },
)
