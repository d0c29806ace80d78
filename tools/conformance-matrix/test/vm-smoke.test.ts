// The docs/README.md#the-public-api-in-one-example example and a fork/COW/mprotect/munmap/exec/exit round on every
// layout, with m.check() after every step. The cross-arch VM scenarios live in
// the conformance suite; this is the quick end-to-end guard.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  InvariantError,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

describe.each([i386, i386Pae, ppc, ppc64])('VM smoke on $name', (arch) => {
  it('docs/README.md#the-public-api-in-one-example: the child still reads 0x01 after the parent writes 0xff', () => {
    const m = new Machine({ arch, ram: '256M', swap: '512M', cpus: 2, rmap: 'objrmap' })
    const p = m.spawn()
    const a = p.mmap(0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 0x01)
    m.check()
    const c = p.fork()
    m.check()
    p.write(a, 0xff)
    m.check()
    expect(c.read(a)).toBe(0x01)
    expect(p.read(a)).toBe(0xff)
    expect(p.pagemap(a).pfn).not.toBe(c.pagemap(a).pfn)
    expect(m.page(c.pagemap(a).pfn!).mapcount).toBe(1)
    m.check()
  })

  it('fork, COW, mprotect, munmap, exec and exit leave every frame accounted for', () => {
    const m = new Machine({ arch, ram: '64M' })
    const free0 = m.meminfo().MemFree
    const p = m.spawn()
    const a = p.mmap(0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    for (let i = 0; i < 16; i++) p.write(a + i * PAGE_SIZE, i)
    const c = p.fork()
    for (let i = 0; i < 16; i++) expect(c.read(a + i * PAGE_SIZE)).toBe(i)
    c.write(a + 3 * PAGE_SIZE, 7)
    m.check()
    p.mprotect(a, 4 * PAGE_SIZE, PROT_READ)
    m.check()
    p.munmap(a + 8 * PAGE_SIZE, PAGE_SIZE)
    m.check()
    expect(p.maps().map((e) => e.perms)).toEqual(['r--p', 'rw-p', 'rw-p'])
    c.exit()
    m.check()
    p.exec([1, 2, 3])
    expect(p.read(m.taskSize - 3 * PAGE_SIZE)).toBe(1)
    m.check()
    p.exit()
    m.check()
    expect(m.meminfo().MemFree).toBe(free0)
    expect(m.meminfo().PageTables).toBe(0)
    expect(m.meminfo().Mapped).toBe(0)
  })

  it('m.check() reports a mapcount that lies', () => {
    const m = new Machine({ arch })
    const p = m.spawn()
    const a = p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 1)
    m.frames.mapcount[p.pagemap(a).pfn!]!++
    expect(() => m.check()).toThrow(InvariantError)
  })
})
