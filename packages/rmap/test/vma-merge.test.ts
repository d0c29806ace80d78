// Which vmas merge after mprotect and an mremap move, per rmap design: each
// design runs with its own kernel's mm/mprotect.c and mm/mremap.c.
//
// pte_chains is mainline 2.6.4. Its mprotect_fixup first tries
// mprotect_attempt_merge: a range starting at a vma's start joins the vma
// before it only if both are private anonymous vmas and the one before already
// has the new flags (can_vma_merge in include/linux/mm.h); the rest of the vma
// then starts at the end of the range with its vm_pgoff untouched. A vma whose
// flags do not change is left as it is. At the end, sys_mprotect lets the last
// vma absorb the next one, again anonymous only, and only when the range ends
// where a vma ends. File vmas never merge on mprotect. Its move_vma merges the
// moved range itself: into the anonymous vma ending at the destination (and
// then the next one), or else by growing the anonymous vma starting right
// after it down, without lowering that vma's vm_pgoff; file vmas never merge.
//
// anonmm is rmap 10/11 on 2.6.6: mm/mprotect.c is 2.6.4's (vma_merge came to
// mprotect with rmap 36), an mremap move goes through 2.6.6's copy_vma, which
// calls vma_merge (file vmas with contiguous pgoffs merge; merging in front of
// the next vma lowers its vm_pgoff).
//
// objrmap follows 2.6.7's rules where the -aa tree had merging off:
// mprotect_fixup and copy_vma both go through vma_merge.
import { describe, expect, it } from 'vitest'
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  RMAP_STRATEGIES,
  type RmapStrategyName,
} from '../src/index.js'
import { spyMachine } from './support/spy.js'
import { toy32 } from './support/toy32.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const R = PROT_READ
const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED
/** 2^32: an unsigned long of the 32-bit toy layout. */
const WRAP = 2 ** 32

/** The kernel rules each design runs with (written out here, not read from the design). */
const KERNEL: Record<RmapStrategyName, { mprotect: '2.6.4' | '2.6.7'; mremap: 'move_vma' | 'copy_vma' }> = {
  objrmap: { mprotect: '2.6.7', mremap: 'copy_vma' },
  pte_chains: { mprotect: '2.6.4', mremap: 'move_vma' },
  anonmm: { mprotect: '2.6.4', mremap: 'copy_vma' },
}

function machine(rmap: RmapStrategyName) {
  const m = new Machine({ arch: toy32, ram: '8M', rmap })
  m.fs.create('/f', { size: 16 * P })
  const p = m.spawn()
  // Far from anything exec or get_unmapped_area places.
  const A = m.taskUnmappedBase + 256 * P
  return { m, p, A }
}

/** The vma list as [start page, end page, perms] from A (pgoffs are checked apart: objrmap numbers anonymous vmas by address). */
function layout(p: ReturnType<typeof machine>['p'], A: number): [number, number, string][] {
  return p.maps().map((v) => [(v.start - A) / P, (v.end - A) / P, v.perms])
}

describe.each(RMAP_STRATEGIES)('vma merging under %s', (rmap) => {
  const k = KERNEL[rmap]

  it('mprotect of a file vma back to its neighbour’s protection: 2.6.7 vma_merge joins them (contiguous pgoffs); 2.6.4 mprotect_attempt_merge never merges a file vma', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 4 * P, RW, MAP_SHARED | MAP_FIXED, fd, 0)
    p.mprotect(A, 2 * P, R)
    expect(layout(p, A)).toEqual([
      [0, 2, 'r--s'],
      [2, 4, 'rw-s'],
    ])
    p.mprotect(A, 2 * P, RW)
    if (k.mprotect === '2.6.7') expect(layout(p, A)).toEqual([[0, 4, 'rw-s']])
    else {
      expect(layout(p, A)).toEqual([
        [0, 2, 'rw-s'],
        [2, 4, 'rw-s'],
      ])
      expect(p.maps().map((v) => v.pgoff)).toEqual([0, 2 * P])
    }
    expect(p.mm.mapCount).toBe(k.mprotect === '2.6.7' ? 1 : 2)
    m.check()
  })

  it('a private file vma does not join its file neighbour either (2.6.4: vma->vm_file)', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 2 * P, R, MAP_PRIVATE | MAP_FIXED, fd, 0)
    p.mmap(A + 2 * P, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, fd, 2 * P)
    p.write(A + 2 * P, 5)
    // Made writable, the read-only private vma gains VM_ACCOUNT and so matches
    // its writable (accounted) neighbour's flags exactly.
    p.mprotect(A, 2 * P, RW)
    expect(p.mm.mapCount).toBe(k.mprotect === '2.6.7' ? 1 : 2)
    expect(p.read(A + 2 * P)).toBe(5)
    m.check()
  })

  it('mprotect across [RW][R][RW] to R: 2.6.4 leaves the unchanged middle vma alone, so only the last one joins it (2 vmas); 2.6.7 merges all three', () => {
    const { m, p, A } = machine(rmap)
    p.mmap(A, 3 * P, RW, ANON)
    for (let i = 0; i < 3; i++) p.write(A + i * P, 10 + i)
    p.mprotect(A + P, P, R)
    expect(p.mm.mapCount).toBe(3)
    p.mprotect(A, 3 * P, R)
    if (k.mprotect === '2.6.7') expect(layout(p, A)).toEqual([[0, 3, 'r--p']])
    else {
      expect(layout(p, A)).toEqual([
        [0, 1, 'r--p'],
        [1, 3, 'r--p'],
      ])
      // The middle vma (split off at pgoff 1) absorbed the last one and kept its pgoff.
      expect(p.maps().map((v) => v.pgoff)).toEqual([0, P])
    }
    expect([0, 1, 2].map((i) => p.read(A + i * P))).toEqual([10, 11, 12])
    m.check()
  })

  it('2.6.4 mprotect_attempt_merge on the front of a vma: the vma before grows, the rest starts later and keeps its vm_pgoff', () => {
    const { m, p, A } = machine(rmap)
    p.mmap(A, 4 * P, RW, ANON)
    p.write(A + P, 7)
    p.mprotect(A, P, R)
    p.mprotect(A + P, P, R)
    expect(layout(p, A)).toEqual([
      [0, 2, 'r--p'],
      [2, 4, 'rw-p'],
    ])
    const base = rmap === 'objrmap' ? A : 0
    // 2.6.7 (and the model before): split_vma gives the upper piece pgoff + 2.
    // 2.6.4: `vma->vm_start = end` and nothing else: the pgoff stays 1.
    expect(p.maps().map((v) => v.pgoff)).toEqual([base, base + (k.mprotect === '2.6.4' ? P : 2 * P)])
    expect(p.read(A + P)).toBe(7)
    p.write(A + 2 * P, 8)
    expect(() => p.write(A + P, 9)).toThrow(/SIGSEGV/)
    m.check()
  })

  it('a mprotect that changes nothing: 2.6.4 sys_mprotect still lets the last vma absorb a matching next one; 2.6.7 returns at once', () => {
    const { m, p, A } = machine(rmap)
    p.mmap(A, 3 * P, RW, ANON)
    p.mprotect(A + P, P, R)
    p.mprotect(A, 3 * P, R)
    const before = k.mprotect === '2.6.7' ? 1 : 2
    expect(p.mm.mapCount).toBe(before)
    p.mprotect(A, P, R)
    expect(layout(p, A)).toEqual([[0, 3, 'r--p']])
    m.check()
  })

  it('sys_mprotect merges the last vma with the next only when the range ends at a vma end', () => {
    const { m, p, A } = machine(rmap)
    p.mmap(A, 3 * P, RW, ANON)
    p.mprotect(A + 2 * P, P, R)
    // Ends inside [0, 2): split, no merge anywhere.
    p.mprotect(A, P, R)
    expect(layout(p, A)).toEqual([
      [0, 1, 'r--p'],
      [1, 2, 'rw-p'],
      [2, 3, 'r--p'],
    ])
    // Ends at the end of [1, 2): joins the one before and then the next one.
    p.mprotect(A + P, P, R)
    expect(layout(p, A)).toEqual([[0, 3, 'r--p']])
    expect(p.maps()[0]!.pgoff).toBe(rmap === 'objrmap' ? A : 0)
    m.check()
  })

  it('mprotect of an anonymous range next to a file vma with the same flags, or of a private file range next to an anonymous one: no merge under any design', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 2 * P, R, MAP_PRIVATE | MAP_FIXED, fd, 0)
    p.mmap(A + 2 * P, 2 * P, RW, ANON)
    p.mprotect(A + 2 * P, 2 * P, R)
    expect(p.mm.mapCount).toBe(2)
    // A private file vma has the vm_flags of an anonymous one: only vm_file tells them apart.
    p.mmap(A + 4 * P, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, fd, 4 * P)
    p.mprotect(A + 4 * P, P, R)
    expect(p.maps().map((v) => [(v.start - A) / P, (v.end - A) / P, v.perms, v.file])).toEqual([
      [0, 2, 'r--p', '/f'],
      [2, 4, 'r--p', ''],
      [4, 5, 'r--p', '/f'],
      [5, 6, 'rw-p', '/f'],
    ])
    m.check()
  })

  it('mremap of a file vma next to its file neighbour with contiguous pgoffs: copy_vma merges (2.6.6, 2.6.7); 2.6.4 move_vma never merges a file vma', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, fd, 0)
    const B = A + 64 * P
    p.mmap(B, 2 * P, RW, MAP_SHARED | MAP_FIXED, fd, 2 * P)
    p.write(B, 3)
    expect(p.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)).toBe(A + 2 * P)
    if (k.mremap === 'copy_vma') expect(layout(p, A)).toEqual([[0, 4, 'rw-s']])
    else
      expect(layout(p, A)).toEqual([
        [0, 2, 'rw-s'],
        [2, 4, 'rw-s'],
      ])
    expect(p.maps().at(-1)!.pgoff).toBe(k.mremap === 'copy_vma' ? 0 : 2 * P)
    expect(p.read(A + 2 * P)).toBe(3)
    m.check()
  })

  it('mremap of anonymous memory in front of an anonymous vma: 2.6.4 move_vma grows it down and keeps its pgoff; 2.6.6 copy_vma lowers it (wraps below 0)', () => {
    const { m, p, A } = machine(rmap)
    p.mmap(A + 2 * P, 2 * P, RW, ANON)
    const B = A + 64 * P
    p.mmap(B, 2 * P, RW, ANON)
    p.write(B, 4)
    p.write(B + P, 5)
    expect(p.mremap(B, 2 * P, 2 * P, MOVE, A)).toBe(A)
    if (rmap === 'objrmap') {
      // The moved vma carries its anon_vma's linear origin (B): not contiguous with A + 2 pages.
      expect(layout(p, A)).toEqual([
        [0, 2, 'rw-p'],
        [2, 4, 'rw-p'],
      ])
      expect(p.maps().map((v) => v.pgoff)).toEqual([B, A + 2 * P])
    } else {
      expect(layout(p, A)).toEqual([[0, 4, 'rw-p']])
      expect(p.maps()[0]!.pgoff).toBe(k.mremap === 'move_vma' ? 0 : WRAP - 2 * P)
    }
    expect([p.read(A), p.read(A + P)]).toEqual([4, 5])
    m.check()
  })

  it('mremap into a hole between two anonymous vmas: the one before grows over the hole and absorbs the one after (every design but objrmap, whose pgoffs differ)', () => {
    const { m, p, A } = machine(rmap)
    p.mmap(A, 2 * P, RW, ANON)
    p.mmap(A + 4 * P, 2 * P, RW, ANON)
    const B = A + 64 * P
    p.mmap(B, 2 * P, RW, ANON)
    p.write(B, 6)
    p.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)
    if (rmap === 'objrmap') expect(p.mm.mapCount).toBe(3)
    else {
      expect(layout(p, A)).toEqual([[0, 6, 'rw-p']])
      expect(p.maps()[0]!.pgoff).toBe(0)
    }
    expect(p.read(A + 2 * P)).toBe(6)
    m.check()
  })

  it('an mremap move of a private file vma to just after an anonymous vma with the same flags merges nowhere', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 2 * P, RW, ANON)
    const B = A + 64 * P
    p.mmap(B, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, fd, 2 * P)
    p.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)
    expect(p.maps().map((v) => [(v.start - A) / P, (v.end - A) / P, v.file])).toEqual([
      [0, 2, ''],
      [2, 4, '/f'],
    ])
    m.check()
  })

  it('an mremap move next to a vma with other flags, or next to a file vma, merges nowhere', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 2 * P, R, ANON)
    p.mmap(A + 4 * P, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, fd, 0)
    const B = A + 64 * P
    p.mmap(B, 2 * P, RW, ANON)
    p.mremap(B, 2 * P, 2 * P, MOVE, A + 2 * P)
    expect(layout(p, A)).toEqual([
      [0, 2, 'r--p'],
      [2, 4, 'rw-p'],
      [4, 6, 'rw-p'],
    ])
    m.check()
  })

  it('2.6.4 do_mmap_pgoff: vma_merge joins a file mapping to the file vmas on both sides when the pgoffs are contiguous (every design)', () => {
    const { m, p, A } = machine(rmap)
    const fd = p.open('/f', O_RDWR)
    p.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, fd, 0)
    p.mmap(A + 4 * P, 2 * P, RW, MAP_SHARED | MAP_FIXED, fd, 4 * P)
    p.mmap(A + 2 * P, 2 * P, RW, MAP_SHARED | MAP_FIXED, fd, 2 * P)
    expect(layout(p, A)).toEqual([[0, 6, 'rw-s']])
    // Not contiguous: no merge.
    p.mmap(A + 6 * P, 2 * P, RW, MAP_SHARED | MAP_FIXED, fd, 9 * P)
    expect(p.mm.mapCount).toBe(2)
    m.check()
  })

  it('the spy design runs the inner design’s merge rules (its declarative fields are copied)', () => {
    const { m: plain, p: q, A } = machine(rmap)
    const { m, spy } = spyMachine({ arch: toy32, ram: '8M', rmap })
    const p = m.spawn()
    for (const r of [p, q]) {
      r.mmap(A, 3 * P, RW, ANON)
      r.mprotect(A + P, P, R)
      r.mprotect(A, 3 * P, R)
    }
    expect(p.maps()).toEqual(q.maps())
    expect(spy.strategy.mprotectVmaMerge).toBe(plain.rmap.mprotectVmaMerge)
    expect(spy.strategy.mremapCopyVma).toBe(plain.rmap.mremapCopyVma)
    m.check()
  })
})
