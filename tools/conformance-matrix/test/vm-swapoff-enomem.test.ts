// sys_swapoff when try_to_unuse runs out of memory half way (2.6.4 mm/swapfile.c:
// unuse_process answers -ENOMEM when pte_chain_alloc fails, read_swap_cache_async
// when no page frame is left; sys_swapoff then re-inserts the area into swap_list).
// Found by tools/fuzz (seed 777, i386, pte_chains).
import { i386 } from '@rmaplab/arch-i386'
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SyscallError,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

const P = 4096

/** mmap `pages` anonymous pages in `p` and try to mlock them (the faults of mlock bring them in; it may fail). */
function hog(p: Process, pages: number): number {
  const a = p.mmap(0, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  try {
    p.mlock(a, pages * P)
  } catch {
    // out of lockable memory: the rest stays swappable
  }
  return a
}

/**
 * An 8M machine (two disk files and a tmpfs file created) whose swap fills
 * with pages a parent and its child share after fork, leaving too few free
 * frames for try_to_unuse under pte_chains, whose shared pages need chains
 * from the lowmem slab. The fuzz's shrunk sequence, by hand.
 */
function fullSwap(rmap: 'objrmap' | 'pte_chains' | 'anonmm') {
  const m = new Machine({ arch: i386, ram: '8M', swap: 2 << 20, seed: 7, rmap })
  m.fs.create('/tmp/a', { size: 3 * P, fill: 0x100 })
  m.fs.create('/tmp/b', { size: 5 * P, fill: 0x101 })
  m.fs.create('/dev/shm/c', { size: 7 * P })
  const p = m.spawn()
  const a = hog(p, 1311)
  const child = p.fork()
  const b = hog(child, 649)
  p.write(a + 4000, 0x5eed)
  for (const parent of [child, child]) {
    try {
      parent.fork()
    } catch (e) {
      if (!(e instanceof SyscallError && e.errno === 'ENOMEM')) throw e
    }
  }
  return { m, p, child, a, b }
}

describe('swapoff that runs out of memory in try_to_unuse (sys_swapoff re-inserts the area)', () => {
  it('pte_chains: pte_chain_alloc fails half way; ENOMEM, the area is back on swap_list, every count agrees', () => {
    const { m, p, child, a, b } = fullSwap('pte_chains')
    const type = m.swapAreas()[0]!.type
    const before = m.swap.totalSwapPages
    let err: unknown
    try {
      m.swapoff(type)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SyscallError)
    expect((err as SyscallError).errno).toBe('ENOMEM')
    expect((err as SyscallError).message).toMatch(/try_to_unuse/)
    // Back on swap_list, counted again, usable (SWP_WRITEOK), and what was
    // brought back stays in memory.
    expect(m.swapAreas().map((s) => s.type)).toEqual([type])
    expect(m.swap.totalSwapPages).toBe(before)
    const area = m.swapAreas()[0]!
    expect(m.swap.nrSwapPages).toBe(area.pages - area.used)
    m.check()
    // Every word is still there, whether in memory or in a slot.
    expect(p.read(a + 4000)).toBe(0x5eed)
    for (let k = 1; k < 1311; k += 97) expect(p.read(a + k * P)).toBe(0)
    for (let k = 0; k < 649; k += 31) expect(child.read(b + k * P)).toBe(0)
    m.check()
  })

  it('objrmap and anonmm bring every slot back on the same machine', () => {
    for (const rmap of ['objrmap', 'anonmm'] as const) {
      const { m } = fullSwap(rmap)
      const type = m.swapAreas()[0]!.type
      m.swapoff(type)
      expect(m.swapAreas()).toEqual([])
      m.check()
    }
  })
})
