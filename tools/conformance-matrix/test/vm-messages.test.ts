/** Error text shows an address the way the kernel prints one: in hex. */
import { i386 } from '@rmaplab/arch-i386'
import { MAP_ANONYMOUS, MAP_PRIVATE, Machine, PROT_READ, PROT_WRITE } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

describe('addresses in error messages are hex', () => {
  const m = new Machine({ arch: i386, ram: '8M' })
  const p = m.spawn()
  const a = p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  const msg = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      return (e as Error).message
    }
    throw new Error('expected an error')
  }

  it('munmap, mprotect, mlock, madvise of a misaligned address', () => {
    const at = `0x${(a + 1).toString(16)}`
    expect(msg(() => p.munmap(a + 1, 4096))).toContain(`address ${at} is not a page-aligned`)
    expect(msg(() => p.mprotect(a + 1, 4096, PROT_READ))).toContain(`address ${at} is not a page-aligned`)
    expect(msg(() => p.mlock(a + 1.5, 4096))).toContain('address 1073741825.5 is not a non-negative integer')
    expect(msg(() => p.madvise(-4096, 4096, 0))).toContain('address -4096 is not a non-negative integer')
  })

  it('a read of an address that is not an integer shows it as given', () => {
    expect(msg(() => p.read(Number.NaN))).toContain('address NaN is not a non-negative integer')
  })
})
