// The vm_pgoff of an anonymous vma, per rmap design, as /proc/PID/maps shows it
// (vm_pgoff << PAGE_SHIFT in an unsigned long).
//
// objrmap follows the -aa tree: do_mmap_pgoff and do_brk number an anonymous
// vma by its address (vm_start >> PAGE_SHIFT), anon_vma's address arithmetic
// needs it; 2.6.7's copy_vma re-bases a moved vma without anon_vma, and 2.6.7's
// can_vma_merge_before/after compare anonymous pgoffs.
//
// pte_chains follows mainline 2.6.4 (and anonmm 2.6.6's mm/mmap.c, which rmap
// 10 and 11 left alone): mm/mmap.c do_mmap_pgoff sets vm_pgoff to the pgoff
// the caller passed (mmap's offset >> PAGE_SHIFT, for an anonymous mapping
// too), do_brk and fs/exec.c setup_arg_pages set 0; mm/mremap.c move_vma gives
// the new vma old vm_pgoff + (old address - vm_start) >> PAGE_SHIFT (rmap 11's
// copy_vma the same); can_vma_merge_before/after return 1 for a vma without a
// file, so anonymous vmas merge whatever their pgoffs, and vma_merge's
// "in front of the next vma" case lowers the next vma's pgoff by the pages
// it gains (below 0 it wraps).
import { describe, expect, it } from 'vitest'
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  RMAP_STRATEGIES,
  type RmapStrategyName,
  SyscallError,
} from '../src/index.js'
import { toy32 } from './support/toy32.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED
/** Designs that number an anonymous vma by its address (-aa). */
const byAddress = (rmap: RmapStrategyName) => rmap === 'objrmap'

function machine(rmap: RmapStrategyName) {
  const m = new Machine({ arch: toy32, ram: '8M', rmap })
  return { m, p: m.spawn() }
}

describe.each(RMAP_STRATEGIES)('anonymous vm_pgoff under %s', (rmap) => {
  it('mmap(..., offset 0): -aa do_mmap_pgoff gives addr >> PAGE_SHIFT; 2.6.4 mm/mmap.c do_mmap_pgoff keeps the caller pgoff (0)', () => {
    const { m, p } = machine(rmap)
    const a = p.mmap(0, 2 * P, RW, ANON)
    expect(p.maps()).toEqual([
      { start: a, end: a + 2 * P, perms: 'rw-p', pgoff: byAddress(rmap) ? a : 0, file: '' },
    ])
    m.check()
  })

  it('mmap(..., offset 3 pages) of anonymous memory: 2.6.4 do_mmap_pgoff keeps pgoff 3; -aa numbers it by address', () => {
    const { m, p } = machine(rmap)
    const a = p.mmap(0, 2 * P, RW, ANON, undefined, 3 * P)
    expect(p.maps()[0]!.pgoff).toBe(byAddress(rmap) ? a : 3 * P)
    m.check()
  })

  it('2.6.4 do_mmap_pgoff offset overflow (pgoff + pages wraps an unsigned long) is EINVAL for an anonymous mapping where the design keeps the pgoff', () => {
    const { m, p } = machine(rmap)
    const offset = 2 ** 44 - P // pgoff 2^32 - 1 on a 32-bit layout
    const map = () => p.mmap(0, 2 * P, RW, ANON, undefined, offset)
    if (byAddress(rmap)) {
      const a = map()
      expect(p.maps()[0]!.pgoff).toBe(a)
    } else {
      expect(map).toThrow(SyscallError)
      expect(map).toThrow(/EINVAL/)
      expect(p.maps()).toEqual([])
    }
    m.check()
  })

  it('exec stack: 2.6.4 fs/exec.c setup_arg_pages gives vm_pgoff 0; -aa the address', () => {
    const { m, p } = machine(rmap)
    p.exec([1, 2])
    const [stack] = p.maps()
    expect(stack!.pgoff).toBe(byAddress(rmap) ? stack!.start : 0)
    m.check()
  })

  it('mremap move of faulted pages from inside a vma: 2.6.4 mm/mremap.c move_vma gives old pgoff + offset (not the new address)', () => {
    const { m, p } = machine(rmap)
    const a = p.mmap(0, 4 * P, RW, ANON)
    for (let k = 0; k < 4; k++) p.write(a + k * P, 0x10 + k)
    const d = a + 256 * P
    expect(p.mremap(a + P, 2 * P, 2 * P, MOVE, d)).toBe(d)
    const moved = p.maps().find((v) => v.start === d)
    expect(moved?.pgoff).toBe((byAddress(rmap) ? a : 0) + P)
    expect([p.read(d), p.read(d + P)]).toEqual([0x11, 0x12])
    m.check()
  })

  it('mremap move of a vma that never faulted: 2.6.7 copy_vma re-bases it (objrmap); 2.6.4 move_vma keeps the origin', () => {
    const { m, p } = machine(rmap)
    const a = p.mmap(0, 4 * P, RW, ANON)
    const d = a + 256 * P
    p.mremap(a + P, 2 * P, 2 * P, MOVE, d)
    expect(p.maps().find((v) => v.start === d)?.pgoff).toBe(byAddress(rmap) ? d : P)
    m.check()
  })

  it('a moved faulted vma next to another: 2.6.4 merges anonymous vmas whatever their pgoffs (map_count 1); 2.6.7 needs contiguous pgoffs (2)', () => {
    const { m, p } = machine(rmap)
    const a = p.mmap(0, 2 * P, RW, ANON)
    p.write(a, 1)
    const b = p.mmap(a + 64 * P, 2 * P, RW, ANON | MAP_FIXED)
    p.write(b, 2)
    p.mremap(b, 2 * P, 2 * P, MOVE, a + 2 * P)
    if (byAddress(rmap)) {
      expect(p.maps().map((v) => [v.start, v.end, v.pgoff])).toEqual([
        [a, a + 2 * P, a],
        [a + 2 * P, a + 4 * P, b],
      ])
    } else {
      // move_vma: the vma ending at the destination grows over it and keeps its pgoff.
      expect(p.maps().map((v) => [v.start, v.end, v.pgoff])).toEqual([[a, a + 4 * P, 0]])
    }
    expect(p.mm.mapCount).toBe(byAddress(rmap) ? 2 : 1)
    expect([p.read(a), p.read(a + 2 * P)]).toEqual([1, 2])
    m.check()
  })

  it('mmap just below an anonymous vma: vma_merge grows the next vma down and lowers its pgoff (2.6.4: 0 - 1 wraps to 0xfffff000 on 32 bits)', () => {
    const { m, p } = machine(rmap)
    const a = p.mmap(0, 2 * P, RW, ANON)
    p.write(a, 7)
    expect(p.mmap(a - P, P, RW, ANON | MAP_FIXED)).toBe(a - P)
    expect(p.maps()).toEqual([
      { start: a - P, end: a + 2 * P, perms: 'rw-p', pgoff: byAddress(rmap) ? a - P : 2 ** 32 - P, file: '' },
    ])
    expect(p.read(a)).toBe(7)
    p.write(a - P, 8)
    expect(p.read(a - P)).toBe(8)
    m.check()
  })
})
