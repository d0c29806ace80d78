// Regressions for the bugs random operations found (issue 12, "Bugs that
// random operations find", and point 6), and for the argument and option
// checks of the public entry points; on every layout.
import {
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MachineOptionError,
  MCL_CURRENT,
  MCL_CURRENT_PPC,
  O_RDWR,
  OutOfMemoryError,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SignalError,
  SyscallError,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, anon, errnoOf, pfnAt, snapshot } from './vm-helpers.js'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE

function signalOf(fn: () => unknown): SignalError | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof SignalError) return e
    throw e
  }
  return undefined
}

/** Fault anonymous memory in with mlock (no direct reclaim) until no frame is left. */
function exhaust(m: Machine, p: ReturnType<Machine['spawn']>): void {
  const total = m.meminfo().MemTotal * 1024
  const b = p.mmap(0, total, RW, MAP_PRIVATE | MAP_ANONYMOUS)
  expect(['ENOMEM', 'EPERM']).toContain(errnoOf(() => p.mlock(b, total)))
  expect(m.env.nrFreePages()).toBe(0)
}

describe.each(ARCHES)('random-run regressions on $name', (arch) => {
  it('mprotect over a range whose first piece merges with both neighbours (LTP mprotect05)', () => {
    const m = new Machine({ arch, ram: '16M' })
    m.fs.create('/tmp/mp05', { size: 5 * P })
    const p = m.spawn()
    const a = p.mmap(0, 5 * P, PROT_READ, MAP_SHARED, p.open('/tmp/mp05', O_RDWR), 0)
    p.mprotect(a + P, P, PROT_READ | PROT_EXEC)
    p.mprotect(a + 3 * P, P, RW)
    expect(p.maps()).toHaveLength(5)
    p.mprotect(a + P, 4 * P, PROT_READ) // page 1 merges with 0 and 2; the walk goes on at 3
    expect(p.maps()).toEqual([{ start: a, end: a + 5 * P, perms: 'r--s', pgoff: 0, file: '/tmp/mp05' }])
    m.check()
  })

  it('mprotect whose first piece merges with the next vma goes on past it (no ENOMEM on a mapped range)', () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    const a = anon(p, 3)
    p.mprotect(a, P, PROT_READ)
    p.mprotect(a + 2 * P, P, PROT_READ)
    expect(p.maps().map((e) => e.perms)).toEqual(['r--p', 'rw-p', 'r--p'])
    p.mprotect(a, 3 * P, RW)
    expect(p.maps()).toHaveLength(1)
    expect(p.maps()[0]!.perms).toBe('rw-p')
    m.check()
  })

  it('do_wp_page out of memory (mlock: no direct reclaim) drops the reference it took on the old page', () => {
    const m = new Machine({ arch, ram: '4M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 0x11)
    const c = p.fork()
    const old = pfnAt(p, a)
    expect(m.page(old).count).toBe(2)
    exhaust(m, p)
    expect(errnoOf(() => p.mlock(a, P))).toBe('ENOMEM') // the COW copy cannot be allocated
    expect(m.page(old).count).toBe(2)
    m.check()
    p.exit()
    expect(c.read(a)).toBe(0x11)
    c.exit()
    m.check()
  })

  it("do_no_page's early COW out of memory releases the page-cache page", () => {
    const m = new Machine({ arch, ram: '4M' })
    m.fs.create('/tmp/cow', { size: 2 * P, fill: 7 })
    const q = m.spawn()
    const s = q.mmap(0, 2 * P, PROT_READ, MAP_SHARED, q.open('/tmp/cow', O_RDWR), 0)
    expect(q.read(s)).toBe(7)
    const cached = pfnAt(q, s)
    const p = m.spawn()
    const x = p.mmap(0, 2 * P, RW, MAP_PRIVATE, p.open('/tmp/cow', O_RDWR), 0)
    expect(p.read(x + P)).toBe(7) // the pte page of x exists from here on
    const before = m.page(cached).count // the cache's reference and q's pte
    exhaust(m, p)
    expect(errnoOf(() => p.mlock(x, P))).toBe('ENOMEM') // write fault: early COW, no page for the copy
    expect(m.page(cached).count).toBe(before)
    m.check()
    p.exit()
    q.exit()
    m.check()
  })

  it('MADV_WILLNEED on tmpfs reads nothing: no clean page, no zero-filled copy of a swapped page', () => {
    const m = new Machine({ arch, ram: '16M', swap: '1M' })
    const file = m.fs.create('/dev/shm/wn', { size: 2 * P })
    const p = m.spawn()
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, p.open('/dev/shm/wn', O_RDWR), 0)
    p.write(a, 0x1234)
    const pfn = pfnAt(p, a)
    for (let i = 0; i < 4 && m.page(pfn).count !== 0; i++) m.pageout(pfn)
    expect(file.shmem!.swap.has(0)).toBe(true)
    p.madvise(a, 2 * P, MADV_WILLNEED)
    expect(file.pages.size).toBe(0)
    m.check()
    expect(p.read(a)).toBe(0x1234)
    m.check()
  })

  it('truncating under a nonlinear mapping leaves pgoff_to_pte(page->index): the next access is SIGBUS', () => {
    const m = new Machine({ arch, ram: '16M' })
    m.fs.create('/tmp/nl', { size: 4 * P, fill: 5 })
    const p = m.spawn()
    const fd = p.open('/tmp/nl', O_RDWR)
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0)
    p.remapFilePages(a, P, 0, 3) // file page 3 at the vma's first page
    expect(p.pagemap(a).present).toBe(true)
    p.ftruncate(fd, 2 * P)
    expect(p.pagemap(a)).toEqual({ present: false, swapped: false, file: 3 })
    m.check()
    expect(signalOf(() => p.read(a))).toMatchObject({ signal: 'SIGBUS', address: a })
    m.check()
  })

  it('tmpfs truncate to mid-page with that page in swap zeroes the bytes past the new end', () => {
    const m = new Machine({ arch, ram: '16M', swap: '1M' })
    const file = m.fs.create('/dev/shm/tr', { size: P + 300 })
    const p = m.spawn()
    const fd = p.open('/dev/shm/tr', O_RDWR)
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0)
    p.write(a + P, 0x11) // file data of page 1
    p.write(a + P + 400, 0x55) // past i_size: the page's EOF tail
    const pfn = pfnAt(p, a + P)
    p.munmap(a, 2 * P)
    for (let i = 0; i < 4 && m.page(pfn).count !== 0; i++) m.pageout(pfn)
    expect(file.shmem!.swap.has(1)).toBe(true)
    p.ftruncate(fd, P + 100)
    m.check()
    const b = p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0)
    expect(p.read(b + P)).toBe(0x11)
    expect(p.read(b + P + 400)).toBe(0) // a disk file reads 0 there too
    m.check()
  })

  it('mlockall takes an int: 2**32 and other values outside it are EINVAL, nothing unlocked', () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.mlock(a, 2 * P)
    const current = arch.name.startsWith('ppc') ? MCL_CURRENT_PPC : MCL_CURRENT
    for (const flags of [2 ** 32, 2 ** 32 + current, -(2 ** 31) - 1, 2 ** 53])
      expect(errnoOf(() => p.mlockall(flags))).toBe('EINVAL')
    expect(p.mm.lockedVm).toBe(2)
    m.check()
  })

  it('exec with bad arguments refuses before allocating anything; more than MAX_ARG_PAGES is E2BIG', () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    anon(p, 1)
    const before = { ...snapshot(m, p), objects: m.stats().objects }
    const bad: unknown[] = ['abc', null, [1n], Symbol('s'), [Symbol('t')], [1.5], {}, [null]]
    for (const args of bad) {
      let err: unknown
      try {
        p.exec(args as number[])
      } catch (e) {
        err = e
      }
      expect(err instanceof TypeError || err instanceof RangeError).toBe(true)
      expect((err as Error).message).toMatch(/^exec: args/)
      expect({ ...snapshot(m, p), objects: m.stats().objects }).toEqual(before)
      m.check()
    }
    expect(errnoOf(() => p.exec(Array.from({ length: 33 }, (_, i) => i)))).toBe('E2BIG')
    expect({ ...snapshot(m, p), objects: m.stats().objects }).toEqual(before)
    p.exec(Array.from({ length: 32 }, (_, i) => i))
    expect(p.read(m.taskSize - P)).toBe(31)
    m.check()
  })

  it('spawn and exec reclaim before failing (clean page cache is reclaimable)', () => {
    const m = new Machine({ arch, ram: '4M' })
    const pages = 64
    m.fs.create('/tmp/cache', { size: pages * P, fill: 3 })
    const r = m.spawn()
    const c = r.mmap(0, pages * P, PROT_READ, MAP_SHARED, r.open('/tmp/cache', O_RDWR), 0)
    for (let i = 0; i < pages; i++) r.read(c + i * P)
    r.munmap(c, pages * P) // clean, unmapped page-cache pages: reclaim can free them
    const p = m.spawn()
    exhaust(m, p)
    const q = m.spawn()
    q.exec([1, 2, 3])
    expect(q.read(m.taskSize - P)).toBe(3)
    m.check()
  })

  it('a write to a swapped, shared page under memory pressure completes (the access retries until its faults are done)', () => {
    // Found by the random run: do_swap_page maps the page read-only (its slot
    // is shared), direct reclaim (and an OOM kill) before the next try swaps
    // it out again, do_wp_page copies it on the third fault, and the access
    // was given up right after that fault without looking at the pte again.
    const m = new Machine({ arch, ram: '4M', swap: 1 << 20, seed: 7 })
    const a0 = m.spawn()
    const b = m.spawn()
    b.exec([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    const c = b.fork()
    a0.exit()
    const d = b.fork()
    c.mlockall(arch.name.startsWith('ppc') ? MCL_CURRENT_PPC : MCL_CURRENT)
    m.reclaim({ pages: 1 })
    const h = c.mmap(0, 969 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    try {
      c.mlock(h, 969 * P) // fills memory, or fails part-way (ENOMEM, EPERM)
    } catch (e) {
      expect(e).toBeInstanceOf(SyscallError)
    }
    const a = m.taskSize - 10 * P
    b.write(a, 0x77)
    expect(b.read(a)).toBe(0x77)
    expect(d.read(a)).toBe(0)
    m.check()
  })

  it('a failed exec leaves the process as it was and no half-built address space', () => {
    const m = new Machine({ arch, ram: '4M' })
    const p = m.spawn()
    const a = anon(p, 1)
    p.write(a, 9)
    exhaust(m, p)
    const objects = m.stats().objects
    let err: unknown
    try {
      p.exec(Array.from({ length: 32 }, (_, i) => i))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SyscallError)
    expect((err as SyscallError).errno).toBe('ENOMEM')
    expect(err).not.toBeInstanceOf(OutOfMemoryError)
    expect(m.stats().objects).toEqual(objects)
    expect(m.env.nrFreePages()).toBe(0)
    m.check()
    expect(p.read(a)).toBe(9)
  })
})

describe.each(ARCHES)('argument checks on $name', (arch) => {
  const sym = Symbol('bad')

  it('a value of the wrong type is a TypeError naming the call and argument, with nothing changed', () => {
    const m = new Machine({ arch, ram: '16M' })
    const p = m.spawn()
    const a = anon(p, 2)
    p.write(a, 1)
    const before = snapshot(m, p)
    const u = undefined as unknown as number
    const s = sym as unknown as number
    const calls: Array<[RegExp, () => unknown]> = [
      [/^mlockall: flags/, () => (p.mlockall as (f?: number) => void)()],
      [/^mlockall: flags/, () => p.mlockall(null as unknown as number)],
      [/^mprotect: prot/, () => p.mprotect(a, P, u)],
      [/^mprotect: addr/, () => p.mprotect(s, P, PROT_READ)],
      [/^close: fd/, () => p.close(s)],
      [/^mmap: length/, () => p.mmap(0, s, RW, MAP_PRIVATE | MAP_ANONYMOUS)],
      [/^mmap: fd/, () => p.mmap(0, P, RW, MAP_SHARED, s)],
      [/^mmap: fd/, () => p.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS, Number.NaN)],
      [/^read: address/, () => p.read(Number.NaN)],
      [/^munmap: length/, () => p.munmap(a, s)],
      [/^mremap: newLen/, () => p.mremap(a, P, s, 0)],
      [/^mlock: addr/, () => p.mlock(s, P)],
      [/^munlock: length/, () => p.munlock(a, s)],
      [/^madvise: advice/, () => p.madvise(a, P, s)],
      [/^ftruncate: length/, () => p.ftruncate(0, s)],
      [/^remap_file_pages: pgoff/, () => p.remapFilePages(a, P, 0, s)],
      [/^open: path/, () => p.open(s as unknown as string, O_RDWR)],
      [/^read: addr/, () => p.read(s)],
      [/^write: value/, () => p.write(a, s)],
      [/^pagemap: addr/, () => p.pagemap(s)],
      [/^page: pfn/, () => m.page(s)],
      [/^pageout: pfn/, () => m.pageout(s)],
      [/^pageReferenced: pfn/, () => m.pageReferenced(s)],
      [/^tryToUnmap: pfn/, () => m.tryToUnmap(s)],
      [/^swapCount: type/, () => m.swapCount(s, 1)],
      [/^swapoff: type/, () => m.swapoff(s)],
      [/^swapon: size/, () => m.swapon(s)],
      [/^fs\.create: options/, () => m.fs.create('/tmp/x', null as unknown as object)],
      [/^fs\.create: size/, () => m.fs.create('/tmp/y', { size: s })],
      [/^shmLock: file/, () => m.fs.shmLock(s as unknown as string, true)],
      [/^invalidateInodePages: file/, () => m.fs.invalidateInodePages(5 as unknown as string)],
    ]
    for (const [message, call] of calls) {
      let err: unknown
      try {
        call()
      } catch (e) {
        err = e
      }
      expect(err instanceof TypeError || err instanceof RangeError, String(message)).toBe(true)
      expect((err as Error).message).toMatch(message)
    }
    // A number no unsigned long can hold, even where the kernel ignores the argument.
    expect(errnoOf(() => p.mremap(a, P, P, 0, Number.NaN))).toBe('EINVAL')
    expect(snapshot(m, p)).toEqual(before)
    expect(m.fs.count).toBe(0)
    expect(p.alive).toBe(true)
    m.check()
  })

  it('Machine options the core cannot build with are MachineOptionErrors naming the option', () => {
    const optionOf = (opts: object): string => {
      try {
        new Machine({ arch, ...opts })
      } catch (e) {
        expect(e).toBeInstanceOf(MachineOptionError)
        expect(e).toBeInstanceOf(RangeError)
        return (e as MachineOptionError).option
      }
      throw new Error(`new Machine(${JSON.stringify(opts)}) succeeded`)
    }
    expect(optionOf({ swap: 16 })).toBe('swap')
    expect(optionOf({ swap: 1 })).toBe('swap')
    expect(optionOf({ swap: '4K' })).toBe('swap')
    expect(optionOf({ swap: sym })).toBe('swap')
    expect(optionOf({ swap: -1 })).toBe('swap')
    const maxSwap = Number(arch.geometry.SWAP_MAXPAGES_LIMIT) * P
    if (maxSwap < 100 * 2 ** 30) expect(optionOf({ swap: '100G' })).toBe('swap')
    expect(optionOf({ swap: maxSwap + P })).toBe('swap')
    expect(optionOf({ ram: '1M' })).toBe('ram')
    expect(optionOf({ cpus: sym })).toBe('cpus')
    expect(optionOf({ seed: 0.5 })).toBe('seed')
    expect(optionOf({ maxMapCount: 0 })).toBe('maxMapCount')
    expect(optionOf({ rmap: 'pte_chain' })).toBe('rmap')
    expect(optionOf({ rmap: 'anonmm', bugs: ['pg-anon-race'] })).toBe('bugs')
    expect(optionOf({ rmap: 'pte_chains', cacheLine: 48 })).toBe('cacheLine')
    expect(optionOf({ profile: 'x' })).toBe('profile')
    expect(optionOf({ nonlinearReclaim: 'x' })).toBe('nonlinearReclaim')
    expect(optionOf({ arch: {} })).toBe('arch')
    const e = (() => {
      try {
        new Machine({ arch, swap: 16 })
      } catch (err) {
        return err as MachineOptionError
      }
    })()!
    expect(e.value).toBe(16)
    expect(e.reason).toMatch(/swap must be 0 \(none\) or between 8K/)
    expect(new Machine({ arch, swap: 8192 }).meminfo().SwapTotal).toBe(4)
  })
})
