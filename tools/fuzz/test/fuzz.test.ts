// The model-based random test on every layout, bounded for `pnpm test` (a few
// seconds per layout); `pnpm fuzz` runs it as long as asked. FUZZ_SEED replays
// another seed here.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import { MAP_PRIVATE, O_RDWR, PAGE_SIZE, PROT_READ, PROT_WRITE } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { access, fuzz, World } from '../src/fuzz.js'

const SEED = process.env.FUZZ_SEED === undefined ? 20040319 : Number(process.env.FUZZ_SEED)

describe.each([i386, i386Pae, ppc, ppc64])('random operations on $name', (arch) => {
  it('valid and malformed calls match the shadow, m.check() holds after each, nothing leaks', () => {
    const r = fuzz({ arch, runs: 12, maxCommands: 50, seed: SEED })
    expect(r.runs).toBe(12)
    expect(r.ops).toBeGreaterThan(12)
  })

  // The same seed under the other two designs: the shadow (what a process must
  // read) does not depend on the design, so the same values must come back.
  it.each(['pte_chains', 'anonmm'] as const)('under rmap %s too (same seed, fewer runs)', (rmap) => {
    const r = fuzz({ arch, rmap, runs: 6, maxCommands: 50, seed: SEED })
    expect(r.runs).toBe(6)
    expect(r.ops).toBeGreaterThan(6)
  })
})

describe('the shadow catches what it must', () => {
  it('a word changed behind its back is a mismatch on the next read', () => {
    const w = new World(i386, '4M', 0)
    const s = w.procs[0]!
    const a = s.proc.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | 0x20)
    s.pages.set(a, { kind: 'anon', file: null, pgoff: 0, prot: PROT_READ | PROT_WRITE })
    access(w, s, a, true, 0x1234)
    access(w, s, a, false, 0)
    w.m.frames.content[s.proc.pagemap(a).pfn!] = 0x4321 // a lost write
    expect(() => access(w, s, a, false, 0)).toThrow(/mismatch: .* expected 0x1234, got 0x4321/)
  })

  it('a page mapped where the shadow has none fails the layout check', () => {
    const w = new World(ppc, '4M', 0)
    const s = w.procs[0]!
    s.proc.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, s.proc.open('/tmp/a', O_RDWR), 0)
    expect(() => w.settle()).toThrow(/the shadow has no page there/)
  })

  it('a frame still allocated after every process exited is a leak', () => {
    const w = new World(ppc64, '4M', 0)
    w.m.env.allocPage({ highmem: true }) // taken by nobody the machine knows
    expect(() => w.finish()).toThrow(/leak|invariant/)
  })
})
