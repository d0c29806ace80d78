// Which vma *object* survives a merge or a split, and so where it sits on its
// file's i_mmap / i_mmap_shared list, which is the order the file rmap walks
// (objrmap's try_to_unmap_inode, anonmm's file pages, truncate) visit vmas in.
//
// - vma_merge (mm/mmap.c of 2.6.4, 2.6.6 and 2.6.7 alike): a new mapping that
//   joins only the vma after it is not linked at all; the next vma grows down
//   (vm_start = addr, vm_pgoff lowered) and keeps its place on the list.
// - split_vma(mm, vma, addr, new_below): the new vma is the piece below addr
//   when new_below (mprotect_fixup, mlock_fixup and madvise at the start of
//   their range, do_munmap at its end), else the piece above; the old vma
//   keeps the other piece and its place, the new one goes to the list's tail.
// - 2.6.7's mprotect_fixup (objrmap) calls vma_merge before splitting: case 5
//   grows the previous vma over the head of the changed one, case 4 grows the
//   next vma down over its tail; no vma is created or freed.
//
// VM_ACCOUNT (0x00100000, include/linux/mm.h): do_mmap_pgoff sets it on a
// private writable mapping; mprotect_fixup sets it when a private mapping
// becomes writable and nothing clears it again; vma_merge compares vm_flags
// whole, so an accounted vma does not join an unaccounted one.
import fc from 'fast-check'
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
import { VM, type Vma } from '../src/mm/vma.js'
import { toy32 } from './support/toy32.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const R = PROT_READ
const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
const SHARED = MAP_SHARED | MAP_FIXED
const PRIVATE = MAP_PRIVATE | MAP_FIXED

function setup(rmap: RmapStrategyName) {
  const m = new Machine({ arch: toy32, ram: '8M', rmap })
  const as = m.fs.create('/f', { size: 16 * P })
  const p1 = m.spawn()
  const p2 = m.spawn()
  const fd1 = p1.open('/f', O_RDWR)
  const fd2 = p2.open('/f', O_RDWR)
  // Far from anything exec or get_unmapped_area places.
  const A = m.taskUnmappedBase + 256 * P
  /** A file list as [owner, start page from A, end page, pgoff] per vma, in list order. */
  const list = (vmas: Vma[]) =>
    vmas.map((v) => [v.mm === p1.mm ? 'p1' : 'p2', (v.start - A) / P, (v.end - A) / P, v.pgoff])
  return { m, as, p1, p2, fd1, fd2, A, list }
}

describe.each(RMAP_STRATEGIES)('the vma objects merges and splits keep, under %s', (rmap) => {
  const mprotect267 = rmap === 'objrmap'

  it('mmap in front of the next vma: the next vma grows down and keeps its place on i_mmap_shared', () => {
    const { m, as, p1, p2, fd1, fd2, A, list } = setup(rmap)
    p1.mmap(A + 2 * P, 2 * P, R, SHARED, fd1, 2 * P)
    const x = p1.mm.vmas.find((v) => v.file === as)!
    p2.mmap(A, 4 * P, R, SHARED, fd2, 0)
    p1.mmap(A, 2 * P, R, SHARED, fd1, 0)
    expect(p1.mm.vmas.filter((v) => v.file === as)).toEqual([x])
    expect([x.start, x.end, x.pgoff]).toEqual([A, A + 4 * P, 0])
    // The old model kept the new vma, linked at the tail: [p2, p1].
    expect(list(as.iMmapShared)).toEqual([
      ['p1', 0, 4, 0],
      ['p2', 0, 4, 0],
    ])
    m.check()
  })

  it('an mremap move in front of the next vma keeps that vma too (copy_vma: 2.6.6, 2.6.7)', () => {
    const { m, as, p1, p2, fd1, fd2, A, list } = setup(rmap)
    p1.mmap(A + 8 * P, 2 * P, R, SHARED, fd1, 2 * P)
    const x = p1.mm.vmas.find((v) => v.start === A + 8 * P)!
    p2.mmap(A, 4 * P, R, SHARED, fd2, 0)
    p1.mmap(A, 2 * P, R, SHARED, fd1, 0)
    p1.mremap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A + 6 * P)
    const file = p1.mm.vmas.filter((v) => v.file === as)
    if (rmap === 'pte_chains') {
      // 2.6.4's move_vma merges private anonymous ranges only: two vmas.
      expect(file).toHaveLength(2)
      expect(list(as.iMmapShared)).toEqual([
        ['p1', 8, 10, 2],
        ['p2', 0, 4, 0],
        ['p1', 6, 8, 0],
      ])
    } else {
      expect(file).toEqual([x])
      expect(list(as.iMmapShared)).toEqual([
        ['p1', 6, 10, 0],
        ['p2', 0, 4, 0],
      ])
    }
    m.check()
  })

  it('a try_to_unmap that meets a VM_LOCKED vma has unmapped the vmas before it on i_mmap: the merged-into vma comes first', () => {
    const { m, as, p1, p2, fd1, fd2, A } = setup(rmap)
    p1.mmap(A + 2 * P, 2 * P, R, PRIVATE, fd1, 2 * P)
    p2.mmap(A, 4 * P, R, PRIVATE, fd2, 0)
    p2.mlock(A, 4 * P)
    expect(p1.read(A + 2 * P)).toBe(p2.read(A + 2 * P))
    const pfn = p1.pagemap(A + 2 * P).pfn!
    expect(p2.pagemap(A + 2 * P).pfn).toBe(pfn)
    p1.mmap(A, 2 * P, R, PRIVATE, fd1, 0)
    expect(as.iMmap.map((v) => v.mm)).toEqual([p1.mm, p2.mm])
    const view = m.rmapOf(pfn)
    if (rmap === 'pte_chains') {
      // The walk follows the page's pte chain, not i_mmap.
      expect(view.entries).toHaveLength(2)
      return
    }
    // The walk visits p1's vma first (the old model: p2's locked vma first).
    expect(view.entries.map((e) => e.pid)).toEqual([p1.pid, p2.pid])
    expect(m.tryToUnmap(pfn)).toBe('SWAP_FAIL')
    expect(p1.pagemap(A + 2 * P).present).toBe(false)
    expect(p2.pagemap(A + 2 * P).pfn).toBe(pfn)
    m.check()
  })

  it('mprotect, mlock and munmap split as split_vma(new_below) does: the old vma keeps the range (or what is left) and its list place', () => {
    const { m, as, p1, p2, fd1, fd2, A, list } = setup(rmap)
    p1.mmap(A, 6 * P, R, SHARED, fd1, 0)
    p2.mmap(A, 2 * P, R, SHARED, fd2, 0)
    p1.mprotect(A + 2 * P, 2 * P, RW)
    // The old model kept the lower piece in the old vma: [p1 0-2, p2, p1 2-4, p1 4-6].
    expect(list(as.iMmapShared)).toEqual([
      ['p1', 2, 4, 2],
      ['p2', 0, 2, 0],
      ['p1', 0, 2, 0],
      ['p1', 4, 6, 4],
    ])
    p1.munmap(A, 3 * P)
    // do_munmap's split at the end of the range: the new vma is the lower piece (unmapped).
    expect(list(as.iMmapShared)).toEqual([
      ['p1', 3, 4, 3],
      ['p2', 0, 2, 0],
      ['p1', 4, 6, 4],
    ])
    p2.mmap(A + 8 * P, 6 * P, R, SHARED, fd2, 0)
    p2.mlock(A + 10 * P, 2 * P)
    expect(list(as.iMmapShared)).toEqual([
      ['p1', 3, 4, 3],
      ['p2', 0, 2, 0],
      ['p1', 4, 6, 4],
      ['p2', 10, 12, 2],
      ['p2', 8, 10, 0],
      ['p2', 12, 14, 4],
    ])
    m.check()
  })

  it('mprotect of the head of a vma to its predecessor’s flags: 2.6.7 moves the boundary (vma_merge case 5), the vma keeps its place', () => {
    const { m, as, p1, p2, fd1, fd2, A, list } = setup(rmap)
    p1.mmap(A, 2 * P, RW, SHARED, fd1, 0)
    p1.mmap(A + 2 * P, 4 * P, R, SHARED, fd1, 2 * P)
    p2.mmap(A, 2 * P, R, SHARED, fd2, 0)
    p1.write(A, 9)
    const before = p1.read(A + 2 * P)
    p1.mprotect(A + 2 * P, 2 * P, RW)
    expect(p1.read(A + 2 * P)).toBe(before)
    expect(p1.read(A)).toBe(9)
    if (mprotect267) {
      // The old model split the vma and let the old one merge away: [p1 0-4, p2, p1 4-6].
      expect(list(as.iMmapShared)).toEqual([
        ['p1', 0, 4, 0],
        ['p1', 4, 6, 4],
        ['p2', 0, 2, 0],
      ])
    } else {
      // 2.6.4's mprotect never merges a file vma: a plain split.
      expect(list(as.iMmapShared)).toEqual([
        ['p1', 0, 2, 0],
        ['p1', 2, 4, 2],
        ['p2', 0, 2, 0],
        ['p1', 4, 6, 4],
      ])
    }
    m.check()
  })

  it('mprotect of the tail of a vma to its successor’s flags: 2.6.7 grows the next vma down (vma_merge case 4)', () => {
    const { m, as, p1, p2, fd1, fd2, A, list } = setup(rmap)
    p1.mmap(A, 4 * P, R, SHARED, fd1, 0)
    p1.mmap(A + 4 * P, 2 * P, RW, SHARED, fd1, 4 * P)
    p2.mmap(A, 2 * P, R, SHARED, fd2, 0)
    const next = p1.mm.vmas.find((v) => v.start === A + 4 * P)!
    p1.mprotect(A + 2 * P, 2 * P, RW)
    if (mprotect267) {
      // The old model: the split-off tail absorbed `next`: [p1 0-2, p2, p1 2-6].
      expect(list(as.iMmapShared)).toEqual([
        ['p1', 0, 2, 0],
        ['p1', 2, 6, 2],
        ['p2', 0, 2, 0],
      ])
      expect(next.start).toBe(A + 2 * P)
    } else {
      // split_vma(start, new_below): the old vma keeps the range, the head is new.
      expect(list(as.iMmapShared)).toEqual([
        ['p1', 2, 4, 2],
        ['p1', 4, 6, 4],
        ['p2', 0, 2, 0],
        ['p1', 0, 2, 0],
      ])
    }
    m.check()
  })

  it('anonymous pages stay reachable when vma_merge case 5 hands them to a vma without an anon_vma', () => {
    const { m, p1, A } = setup(rmap)
    p1.mmap(A + 2 * P, 2 * P, RW, ANON)
    p1.write(A + 2 * P, 4)
    p1.mprotect(A + 2 * P, 2 * P, R)
    p1.mmap(A, 2 * P, RW, ANON)
    expect(p1.mm.mapCount).toBe(2)
    // [rw, no anon_vma][r, page at +2] -> the head of the second back to rw.
    p1.mprotect(A + 2 * P, P, RW)
    expect(p1.mm.vmaAt(A)!.end).toBe(A + 3 * P)
    expect(p1.read(A + 2 * P)).toBe(4)
    const pfn = p1.pagemap(A + 2 * P).pfn!
    expect(m.rmapOf(pfn).entries.filter((e) => e.mapsPage)).toHaveLength(1)
    expect(m.tryToUnmap(pfn)).not.toBe('SWAP_FAIL')
    m.check()
  })
})

describe.each(RMAP_STRATEGIES)('VM_ACCOUNT under %s', (rmap) => {
  it('a private writable mapping is accounted; a shared or read-only one is not', () => {
    const { m, as, p1, fd1, A } = setup(rmap)
    p1.mmap(A, 2 * P, RW, ANON)
    p1.mmap(A + 4 * P, 2 * P, R, ANON)
    p1.mmap(A + 8 * P, 2 * P, RW, PRIVATE, fd1, 0)
    p1.mmap(A + 12 * P, 2 * P, RW, SHARED, fd1, 0)
    const account = (a: number) => (p1.mm.vmaAt(a)!.flags & VM.ACCOUNT) !== 0
    expect([A, A + 4 * P, A + 8 * P, A + 12 * P].map(account)).toEqual([true, false, true, false])
    expect(p1.mm.vmaAt(A + 12 * P)!.file).toBe(as)
    m.check()
  })

  it('mapped read-only, made writable and read-only again, an anonymous vma keeps VM_ACCOUNT and does not join a fresh read-only neighbour', () => {
    const { m, p1, A } = setup(rmap)
    p1.mmap(A, 2 * P, R, ANON)
    p1.mprotect(A, 2 * P, RW)
    p1.mprotect(A, 2 * P, R)
    expect(p1.mm.vmaAt(A)!.flags & VM.ACCOUNT).toBe(VM.ACCOUNT)
    p1.mmap(A + 2 * P, 2 * P, R, ANON)
    // The old model merged them into one r--p line.
    expect(p1.maps().map((v) => [(v.start - A) / P, (v.end - A) / P, v.perms])).toEqual([
      [0, 2, 'r--p'],
      [2, 4, 'r--p'],
    ])
    // A fresh writable neighbour is accounted as well: it joins.
    p1.mmap(A + 4 * P, 2 * P, RW, ANON)
    p1.mprotect(A + 4 * P, 2 * P, R)
    p1.mmap(A - 2 * P, 2 * P, RW, ANON)
    p1.mprotect(A - 2 * P, 2 * P, R)
    expect(p1.mm.mapCount).toBe(3)
    m.check()
  })

  it('a writable private file vma made read-only keeps VM_ACCOUNT: it does not join its read-only file neighbour even under 2.6.7', () => {
    const { m, p1, fd1, A } = setup(rmap)
    p1.mmap(A, 2 * P, R, PRIVATE, fd1, 0)
    p1.mmap(A + 2 * P, 2 * P, RW, PRIVATE, fd1, 2 * P)
    p1.mprotect(A + 2 * P, 2 * P, R)
    expect(p1.mm.mapCount).toBe(2)
    // Made writable, the first gains VM_ACCOUNT and now matches the second (2.6.7 merges file vmas).
    p1.mprotect(A, 2 * P, RW)
    p1.mprotect(A, 2 * P, R)
    expect(p1.mm.mapCount).toBe(rmap === 'objrmap' ? 1 : 2)
    m.check()
  })

  it('an mremap move keeps VM_ACCOUNT: the moved vma does not join an unaccounted read-only neighbour', () => {
    const { m, p1, A } = setup(rmap)
    p1.mmap(A, 2 * P, RW, ANON)
    p1.mprotect(A, 2 * P, R)
    p1.mmap(A + 8 * P, 2 * P, R, ANON)
    p1.mremap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A + 6 * P)
    // The moved vma is accounted, its new neighbour is not.
    expect(p1.mm.mapCount).toBe(2)
    expect(p1.mm.vmaAt(A + 6 * P)!.flags & VM.ACCOUNT).toBe(VM.ACCOUNT)
    m.check()
  })
})

describe.each(RMAP_STRATEGIES)('vma objects under random mmap, mprotect, mlock and munmap (%s)', (rmap) => {
  type Op = {
    kind: 'mmap' | 'mprotect' | 'mlock' | 'munmap'
    at: number
    len: number
    w: boolean
    shared: boolean
    off: number
  }
  const op = fc.record({
    kind: fc.constantFrom<Op['kind']>('mmap', 'mmap', 'mprotect', 'mlock', 'munmap'),
    at: fc.integer({ min: 0, max: 11 }),
    len: fc.integer({ min: 1, max: 4 }),
    w: fc.boolean(),
    shared: fc.boolean(),
    // -1: the file offset that follows the address (neighbours' pgoffs are contiguous).
    off: fc.integer({ min: -1, max: 8 }),
  })

  it('a mapping into a free gap frees no vma but the next one when it joins both neighbours; a change inside one vma keeps that vma over the range', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const { m, as, p1, fd1, A } = setup(rmap)
        const mm = p1.mm
        for (const o of ops) {
          const start = A + o.at * P
          const end = start + o.len * P
          const before = [...mm.vmas]
          const order = [...as.iMmap, ...as.iMmapShared]
          const free = before.every((v) => v.end <= start || v.start >= end)
          const inside = before.find((v) => v.start < start && end < v.end)
          try {
            if (o.kind === 'mmap') {
              const pgoff = o.off < 0 ? o.at : o.off
              p1.mmap(start, o.len * P, o.w ? RW : R, o.shared ? SHARED : PRIVATE, fd1, pgoff * P)
            } else if (o.kind === 'mprotect') p1.mprotect(start, o.len * P, o.w ? RW : R)
            else if (o.kind === 'mlock') (o.w ? p1.mlock : p1.munlock).call(p1, start, o.len * P)
            else p1.munmap(start, o.len * P)
          } catch (e) {
            // ENOMEM for a range with a hole in it: nothing to check.
            if (!(e instanceof Error) || !/ENOMEM/.test(e.message)) throw e
            continue
          }
          m.check()
          const gone = before.filter((v) => !mm.vmas.includes(v))
          if (o.kind === 'mmap' && free) {
            // vma_merge: only the next vma can die, when the one before grows over both.
            expect(gone.length).toBeLessThanOrEqual(1)
            if (gone.length === 1) {
              expect(gone[0]!.start).toBe(end)
              expect(mm.vmaAt(start - P)!.end).toBe(gone[0]!.end)
            }
          }
          if (o.kind !== 'mmap' && o.kind !== 'munmap' && inside) {
            // Neither neighbour touches a range strictly inside a vma: split_vma keeps the vma over it.
            expect(mm.vmaAt(start)).toBe(inside)
            expect(mm.vmaAt(end - P)).toBe(inside)
          }
          // Surviving vmas keep their order on the file's lists.
          const still = order.filter((v) => [...as.iMmap, ...as.iMmapShared].includes(v))
          expect([...as.iMmap, ...as.iMmapShared].filter((v) => order.includes(v))).toEqual(still)
        }
      }),
      { numRuns: 100 },
    )
  })
})
