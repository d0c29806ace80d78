/**
 * The explorer's model module in node: the pte decoding against each arch's
 * own macros, the reverse map against mapcount and against the walk the core
 * really makes, the step diff, and the URL state.
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_CREAT,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '@rmaplab/rmap'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { counters, diff, snapshot } from '../src/model/diff.js'
import { pfnAt, pteAt, ptePages, rmapOf, samePageOn, walkProbes } from '../src/model/introspect.js'
import { decodePte, fieldText } from '../src/model/pte.js'
import { Session } from '../src/model/session.js'
import { DEFAULT_STATE, formatHash, parseHash } from '../src/model/url.js'
import { loadExperiment } from '../src/model/workload.js'

const ARCHES: Arch[] = [i386, i386Pae, ppc, ppc64]
const PAGE = 4096
const words = (v: bigint) => ({ lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) })

/** p maps `pages` anonymous pages, writes them, forks `kids` children that read them. */
function forked(arch: Arch, pages: number, kids: number) {
  const m = new Machine({ arch, ram: '32M' })
  const p = m.spawn()
  const a = p.mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  for (let i = 0; i < pages; i++) p.write(a + i * PAGE, i + 1)
  const cs = Array.from({ length: kids }, () => p.fork())
  for (const c of cs) for (let i = 0; i < pages; i++) c.read(a + i * PAGE)
  return { m, p, a, cs }
}

describe.each(ARCHES)('$name', (arch) => {
  it('decodes present, swap and file ptes as the arch macros build them', () => {
    const prot = arch.prot.PAGE_SHARED
    const maxPfn = Math.min(Number(arch.geometry.MAX_PTE_PFN), 2 ** 20)
    fc.assert(
      fc.property(fc.integer({ min: 1, max: maxPfn }), (pfn) => {
        const v = arch.mkPte(BigInt(pfn), prot)
        const { lo, hi } = words(v)
        const d = decodePte(arch, lo, hi)
        expect(d.kind).toBe('present')
        expect(d.pfn).toBe(pfn)
        expect(BigInt(d.raw)).toBe(v)
        expect(d.write).toBe(arch.pteWrite(v))
        expect(d.fields.map((f) => f.name)).toContain('PRESENT')
      }),
      { numRuns: 50 },
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 2 ** 16 }), (type, offset) => {
        const v = arch.swpEntryToPte(type, BigInt(offset))
        const { lo, hi } = words(v)
        const d = decodePte(arch, lo, hi)
        expect(d.kind).toBe('swap')
        expect([d.swapType, d.swapOffset]).toEqual([type, offset])
      }),
      { numRuns: 50 },
    )
    const fileMax = Math.min(2 ** arch.geometry.PTE_FILE_MAX_BITS - 1, 2 ** 20)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: fileMax }), (pgoff) => {
        const v = arch.pgoffToPte(BigInt(pgoff))
        const { lo, hi } = words(v)
        const d = decodePte(arch, lo, hi)
        expect(d.kind).toBe('file')
        expect(d.pgoff).toBe(pgoff)
      }),
      { numRuns: 50 },
    )
    expect(decodePte(arch, 0, 0).kind).toBe('none')
  })

  it('finds every pte of a forked anonymous page through its anon_vma, as many as mapcount', () => {
    const { m, p, a, cs } = forked(arch, 8, 3)
    const pfn = pfnAt(m, p.pid, a + 3 * PAGE)
    const v = rmapOf(m, pfn, () => undefined)
    expect(v.kind).toBe('anon_vma')
    expect(v.entries).toHaveLength(4)
    expect(v.found).toBe(m.page(pfn).mapcount)
    expect(v.found).toBe(4)
    expect(new Set(v.entries.map((e) => e.pid))).toEqual(new Set([p.pid, ...cs.map((c) => c.pid)]))
    for (const e of v.entries) expect(e.address).toBe(a + 3 * PAGE)
  })

  it('lists the probes page_referenced makes: its hits are the references the core counts', () => {
    const { m, p, a, cs } = forked(arch, 4, 2)
    cs[0]!.write(a, 7) // a COW copy: the child's pte now maps another frame
    const pfn = pfnAt(m, p.pid, a)
    m.pageReferenced(pfn) // clears every young bit
    cs[1]!.read(a) // one pte young again
    const view = rmapOf(m, pfn, () => undefined)
    const probes = walkProbes(m, view, 'page_referenced')
    expect(probes.filter((x) => x.hit).map((x) => x.entry.pid)).toEqual([cs[1]!.pid])
    expect(probes).toHaveLength(3)
    expect(probes.filter((x) => x.finding.startsWith('the pte maps another frame'))).toHaveLength(1)
    const hits = probes.filter((x) => x.hit).length
    const referencedBit = m.page(pfn).flags.includes('referenced') ? 1 : 0
    expect(m.pageReferenced(pfn)).toBe(hits + referencedBit)
    expect(m.stats().lastWalk.ptesProbed).toBe(3)
  })

  it("walks a pte page's entries from pgd to pte, agreeing with pagemap", () => {
    const { m, p, a } = forked(arch, 600, 0)
    const rows = ptePages(m, p.mm.id)
    expect(rows.reduce((n, r) => n + r.used, 0)).toBe(600)
    for (const addr of [a, a + 511 * PAGE, a + 599 * PAGE]) {
      const at = pteAt(m, p.mm.id, addr)!
      expect(decodePte(arch, at.lo, at.hi).pfn).toBe(p.pagemap(addr).pfn)
      expect(rows.some((r) => r.pfn === at.ptePfn && addr >= r.base)).toBe(true)
    }
  })

  it('diffs a step: the ptes and struct pages a COW write changes', () => {
    const { m, p, a, cs } = forked(arch, 4, 1)
    const before = snapshot(m)
    cs[0]!.write(a + PAGE, 9)
    const d = diff(m, before)
    expect(d.ptesChanged).toBe(1)
    expect(d.ptes[0]).toMatchObject({ pid: cs[0]!.pid, addr: a + PAGE })
    expect(d.counters.find((c) => c.name === 'cow.copies')).toMatchObject({ before: 0, after: 1 })
    const old = pfnAt(m, p.pid, a + PAGE)
    const copy = pfnAt(m, cs[0]!.pid, a + PAGE)
    expect(d.frameChanged[old]).toBe(1)
    expect(d.frameChanged[copy]).toBe(1)
  })
})

it('shows a shared file page through its address_space, i_mmap_shared', () => {
  const m = new Machine({ arch: i386, ram: '32M' })
  const p = m.spawn()
  const fd = p.open('/data', O_CREAT | O_RDWR)
  p.ftruncate(fd, 4 * PAGE)
  const a = p.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
  p.write(a + PAGE, 1)
  const c = p.fork()
  c.read(a + PAGE)
  const v = rmapOf(m, pfnAt(m, p.pid, a + PAGE), () => undefined)
  expect(v.kind).toBe('address_space')
  expect(v.objectLabel).toContain('/data')
  expect(v.entries.map((e) => e.list)).toEqual(['i_mmap_shared', 'i_mmap_shared'])
  expect(v.found).toBe(2)
})

it('maps a page to the same page of the same mapping on another layout', () => {
  const x = forked(i386, 4, 1)
  const y = forked(ppc64, 4, 1)
  const at = samePageOn(x.m, x.p.pid, x.a + 2 * PAGE, y.m)
  expect(at).toBe(y.a + 2 * PAGE)
})

it('round-trips the view state through the URL hash', () => {
  const s = {
    ...DEFAULT_STATE,
    params: { size: '4M', levels: '3' },
    layout: 'ppc64',
    compare: 'i386',
    step: 4,
    pid: 2,
    addr: 0x40003000,
    pfn: 345,
  }
  expect(parseHash(formatHash(s))).toEqual(s)
  expect(parseHash('')).toEqual(DEFAULT_STATE)
})

it("shows ppc64's hash slot as the header names it: HASHPTE, SECONDARY, GROUP_IX=n", () => {
  const b = ppc64.bits
  const v =
    ppc64.mkPte(42n, ppc64.prot.PAGE_SHARED) | b['_PAGE_HASHPTE']! | b['_PAGE_SECONDARY']! | (3n << 12n)
  const d = decodePte(ppc64, Number(v & 0xffffffffn), Number(v >> 32n))
  const names = d.fields.map(fieldText)
  expect(names).toEqual(expect.arrayContaining(['PRESENT', 'HASHPTE', 'SECONDARY', 'GROUP_IX=3']))
  expect(names.some((n) => n.startsWith('HPTEFLAGS'))).toBe(false)
  expect(d.pfn).toBe(42)
  // ppc: _PAGE_HASHPTE alone is still pte_none (the arch says to ignore it).
  const h = Number(ppc.bits['_PAGE_HASHPTE']!)
  expect(decodePte(ppc, h, 0).kind).toBe('none')
})

it('finds the ptes of a nonlinear (remap_file_pages) vma by scanning it, as the linear walk cannot', () => {
  const m = new Machine({ arch: i386, ram: '32M' })
  const p = m.spawn()
  const fd = p.open('/nl', O_CREAT | O_RDWR)
  p.ftruncate(fd, 4 * PAGE)
  const a = p.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
  p.read(a + 3 * PAGE) // file page 3 at its linear address
  p.remapFilePages(a, PAGE, 0, 3) // and file page 3 again at the start
  p.read(a)
  const pfn = pfnAt(m, p.pid, a)
  expect(pfnAt(m, p.pid, a + 3 * PAGE)).toBe(pfn)
  const v = rmapOf(m, pfn, () => undefined)
  expect(v.mapcount).toBe(2)
  expect(v.found).toBe(2)
  expect(v.entries.filter((e) => e.nonlinear).map((e) => e.address)).toEqual([a])
  expect(walkProbes(m, v, 'page_referenced').some((x) => x.entry.nonlinear)).toBe(false)
})

it('steps forward through a machine run ahead, to the same state and diff as stepping itself', () => {
  const w = loadExperiment('andrea', { size: '256K', ram: '16M', levels: '2', walks: '4' })
  const plain = new Session(w, ['i386', 'ppc64'])
  const ahead = new Session(w, ['i386', 'ppc64'])
  for (let n = 1; n <= w.steps.length; n++) {
    expect(ahead.prefetch()).toBe(true)
    const shown = ahead.lanes[0]!.stepper.machine
    ahead.goTo(n)
    plain.goTo(n)
    // The run-ahead machine is now shown, the old one kept for the next prefetch.
    expect(ahead.lanes[0]!.stepper.machine).not.toBe(shown)
    expect(ahead.lanes[0]!.spare?.machine).toBe(shown)
    for (const i of [0, 1]) {
      const a = ahead.lanes[i]!
      const b = plain.lanes[i]!
      expect(a.stepper.position).toBe(n)
      expect(counters(a.stepper.machine)).toEqual(counters(b.stepper.machine))
      expect(a.diff?.ptesChanged).toBe(b.diff?.ptesChanged)
      expect(a.diff?.counters).toEqual(b.diff?.counters)
    }
  }
  expect(ahead.prefetch()).toBe(false) // at the end: nothing to run ahead
})

it("shows 2.6.4's pte_chains: the page lists its ptes itself, as many as mapcount", () => {
  const w = loadExperiment('andrea', { size: '256K', ram: '16M', levels: '2', walks: '4' })
  expect(w.rmaps).toContain('pte_chains')
  const s = new Session(w, ['i386-pae'], 'pte_chains')
  s.goTo(5)
  const m = s.lanes[0]!.stepper.machine
  const v = rmapOf(m, pfnAt(m, 1, 0x40000000), () => undefined)
  expect(v.design).toBe('pte_chains')
  expect(v.kind).toBe('pte_chain')
  expect(v.entries.map((e) => e.list)).toEqual(['pte_chain', 'pte_chain', 'pte_chain', 'pte_chain'])
  expect(v.found).toBe(v.mapcount)
  expect(walkProbes(m, v, 'try_to_unmap')).toEqual([]) // objrmap's rules only; the call on a copy shows it
})
