// Regressions found by the stress workloads, on every layout.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  Machine,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  SyscallError,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

const RW = PROT_READ | PROT_WRITE
const ANON = MAP_PRIVATE | MAP_ANONYMOUS

describe.each([i386, i386Pae, ppc, ppc64])('regressions on $name', (arch) => {
  it('a new vma merging over the only vma of an anon_vma keeps that anon_vma alive (anon_vma_merge before unlink)', () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    const x = m.taskUnmappedBase + 64 * PAGE_SIZE
    p.mmap(x + PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)
    p.write(x + PAGE_SIZE, 7)
    expect(m.stats().objects.anonVmas).toBe(1)
    p.mmap(x, PAGE_SIZE, RW, ANON | MAP_FIXED) // merges with the vma above
    expect(p.maps()).toHaveLength(1)
    expect(m.stats().objects.anonVmas).toBe(1)
    m.check()
    expect(p.read(x + PAGE_SIZE)).toBe(7)
    p.write(x, 8)
    m.check()
  })

  it('fork on a full machine without swap fails with ENOMEM and changes nothing', () => {
    const m = new Machine({ arch, ram: '4M' })
    const p = m.spawn()
    // 16 pages, one per pte page: the child will need 16 pte pages of its own.
    const span = arch.geometry.PTRS_PER_PTE * PAGE_SIZE
    const sparse = p.mmap(0, 16 * span, RW, ANON)
    for (let i = 0; i < 16; i++) p.write(sparse + i * span, i)
    // Then fill memory, keeping 6 frames free: above the fault path's reclaim
    // watermark, below what fork needs.
    const a = p.mmap(0, 2048 * PAGE_SIZE, RW, ANON)
    let pages = 0
    while (m.meminfo().MemFree > 6 * 4) p.write(a + pages * PAGE_SIZE, pages++)
    m.check()
    const before = { info: m.meminfo(), procs: m.processes().length, vmas: m.stats().objects.vmas }
    let err: unknown
    try {
      p.fork()
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SyscallError)
    expect((err as SyscallError).errno).toBe('ENOMEM')
    // Reclaim ran and may have aged the LRU lists; nothing else moved.
    const { MemFree, Mapped, PageTables, Cached, Dirty } = m.meminfo()
    expect({ MemFree, Mapped, PageTables, Cached, Dirty }).toEqual({
      MemFree: before.info.MemFree,
      Mapped: before.info.Mapped,
      PageTables: before.info.PageTables,
      Cached: before.info.Cached,
      Dirty: before.info.Dirty,
    })
    expect(m.stats().reclaim.directReclaims + m.stats().reclaim.runs).toBeGreaterThan(0)
    expect(m.processes()).toHaveLength(before.procs)
    expect(m.stats().objects.vmas).toBe(before.vmas)
    m.check()
    expect(p.read(a + (pages - 1) * PAGE_SIZE)).toBe(pages - 1)
  })
})
