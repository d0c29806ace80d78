// Files on the VM: the page cache, file mmap (shared and private, early COW),
// truncate of mapped files, remap_file_pages, and the errno of open,
// ftruncate, mmap and remap_file_pages. Each acceptance scenario (B2, B3, E1,
// E2, E3, D1 file variant, D4, G2) runs on every layout, with m.check() after
// every step.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type AddressSpace,
  type Arch,
  InvariantError,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NONBLOCK,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  PAGE_SIZE,
  PG,
  PROT_READ,
  PROT_WRITE,
  type Process,
  removeFromPageCache,
  S_MAXBYTES,
  SignalError,
  SyscallError,
  VM,
  writePage,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'

const P = PAGE_SIZE
const RW = PROT_READ | PROT_WRITE
const A4 = 0x41414141 // a page of 'A'

/** The errno a syscall fails with, or undefined when it succeeds. */
function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof SyscallError) return e.errno
    throw e
  }
  return undefined
}

/** The signal an access dies of (the process is then dead), or undefined. */
function signalOf(fn: () => unknown): SignalError | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof SignalError) return e
    throw e
  }
  return undefined
}

/** Fork `p`, let the child do `fn`, and return the signal it died of (it must die). */
function childDies(p: Process, fn: (c: Process) => unknown): SignalError {
  const c = p.fork()
  const sig = signalOf(() => fn(c))
  expect(sig, 'the child dies of a signal').toBeInstanceOf(SignalError)
  expect(c.alive).toBe(false)
  return sig!
}

function machine(arch: Arch): Machine {
  return new Machine({ arch, ram: '64M', cpus: 2, seed: 2004 })
}

function pfnOf(p: Process, addr: number): number {
  const e = p.pagemap(addr)
  expect(e.present, `0x${addr.toString(16)} is present`).toBe(true)
  return e.pfn!
}

describe.each([i386, i386Pae, ppc, ppc64])('files on $name', (arch) => {
  it('B2: a private file mapping read first, then written, COWs from the page cache', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/b2', { size: P, fill: 0 })
    const p = m.spawn()
    const fd = p.open('/tmp/b2', O_RDWR)
    const mem = p.mmap(0, P, RW, MAP_PRIVATE, fd, 0)
    const smem = p.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0)
    m.check()
    expect(p.read(mem)).toBe(0)
    m.check()
    expect(p.read(smem)).toBe(0)
    m.check()
    const cache = pfnOf(p, mem)
    expect(pfnOf(p, smem)).toBe(cache)
    expect(inode.pages.get(0)).toBe(cache)
    let pg = m.page(cache)
    expect(pg.mapcount).toBe(2)
    expect(pg.count).toBe(3) // two ptes and the page cache
    expect(pg.mapping).toEqual({ kind: 'address_space', id: inode.id })
    expect(pg.index).toBe(0)
    expect(pg.flags).toEqual(['uptodate', 'lru', 'active']) // referenced twice by filemap_nopage: activated
    // The private vma maps it read-only (PAGE_COPY), so the write will fault.
    expect(p.pagemap(mem).write).toBe(false)
    const memVma = p.mm.vmaAt(mem)!
    const smemVma = p.mm.vmaAt(smem)!
    // O_RDWR: the MAP_SHARED vma is VM_SHARED and sits on i_mmap_shared.
    expect(inode.iMmap).toEqual([memVma])
    expect(inode.iMmapShared).toEqual([smemVma])
    // Found through the file's lists: both vmas visited, both young ptes found.
    const visited0 = m.stats().rmap.vmasVisited
    expect(m.pageReferenced(cache)).toBe(2)
    expect(m.stats().rmap.vmasVisited - visited0).toBe(2)
    m.check()
    p.write(mem, 0xff)
    m.check()
    const copy = pfnOf(p, mem)
    expect(copy).not.toBe(cache)
    pg = m.page(copy)
    expect(pg.mapping.kind).toBe('anon_vma')
    expect(pg.mapping.id).toBe(memVma.anonVma!.id)
    expect(pg.mapcount).toBe(1)
    expect(pg.count).toBe(1)
    expect(pg.content).toBe(0xff)
    expect(p.pagemap(mem)).toMatchObject({ write: true, dirty: true })
    expect(m.page(cache).mapcount).toBe(1)
    expect(m.page(cache).count).toBe(2)
    expect(p.read(smem)).toBe(0)
    expect(m.page(cache).content).toBe(0)
    expect(inode.diskWord(0)).toBe(0)
    expect(inode.blocks.size).toBe(0)
    // The private vma is on both the file's i_mmap and an anon_vma list.
    expect(inode.iMmap).toContain(memVma)
    expect(memVma.anonVma!.vmas).toEqual([memVma])
    expect(smemVma.anonVma).toBeNull()
    const faults = m.stats().faults
    expect(faults.file).toBe(2)
    expect(faults.wpCopy).toBe(1)
    expect(faults.fileCow).toBe(0)
    expect(m.meminfo().Cached).toBe(4)
    expect(m.meminfo().Mapped).toBe(8)
    p.exit()
    m.check()
    expect(m.page(cache).count).toBe(1) // the page cache keeps it
    expect(m.page(copy).count).toBe(0)
    expect(m.meminfo().Cached).toBe(4)
    expect(m.meminfo().Mapped).toBe(0)
    expect(inode.iMmap).toEqual([])
    expect(inode.iMmapShared).toEqual([])
  })

  it('B3: a write first breaks COW early in do_no_page; the cache page is never mapped', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/b3', { size: P, fill: A4 })
    const p = m.spawn()
    const fd = p.open('/tmp/b3', O_RDWR)
    const mem = p.mmap(0, P, RW, MAP_PRIVATE, fd, 0)
    const vma = p.mm.vmaAt(mem)!
    expect(vma.anonVma).toBeNull()
    p.write(mem, 0x42)
    m.check()
    const faults = m.stats().faults
    expect(faults.fileCow).toBe(1)
    expect(faults.file + faults.wpCopy + faults.minor + faults.anonymous + faults.anonymousZero).toBe(0)
    const cache = inode.pages.get(0)!
    const anon = pfnOf(p, mem)
    expect(anon).not.toBe(cache)
    expect(m.page(cache).mapcount).toBe(0)
    expect(m.page(cache).count).toBe(1)
    expect(m.page(cache).content).toBe(A4)
    expect(m.page(anon)).toMatchObject({ mapcount: 1, count: 1, content: 0x42, index: 0 })
    expect(m.page(anon).flags).toContain('anon')
    expect(m.page(anon).mapping).toEqual({ kind: 'anon_vma', id: vma.anonVma!.id })
    expect(vma.anonVma!.vmas).toEqual([vma])
    expect(p.pagemap(mem)).toMatchObject({ write: true, dirty: true })
    expect(m.lruPages().active + m.lruPages().inactive).toBe(2) // the cache page and the copy
    expect(m.meminfo().Cached).toBe(4)
    expect(p.mm.rss).toBe(1)
    p.exit()
    m.check()
    expect(m.page(anon).count).toBe(0)
    expect(m.lruPages().active + m.lruPages().inactive).toBe(1)
  })

  it('B3: the early COW copy carries the page content (and its EOF tail)', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/b3h', { size: P / 2 })
    const p = m.spawn()
    const mem = p.mmap(0, P, RW, MAP_PRIVATE, p.open('/tmp/b3h', O_RDWR), 0)
    // The first access writes past EOF (offset 3000 of a 2048-byte file).
    p.write(mem + 3000, 7)
    m.check()
    expect(m.stats().faults.fileCow).toBe(1)
    expect(p.read(mem)).toBe(inode.diskWord(0))
    expect(p.read(mem + 3000)).toBe(7)
    // The cache page itself was neither changed nor mapped.
    const cache = inode.pages.get(0)!
    expect(m.page(cache).mapcount).toBe(0)
    expect(m.fs.tails.has(cache)).toBe(false)
    m.check()
  })

  it('E1: one file MAP_SHARED by parent and child: one frame, mapcount 2, no anon_vma', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/e1', { size: 4 * P, fill: 0 })
    const p = m.spawn()
    const fd = p.open('/tmp/e1', O_RDWR)
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
    const c = p.fork()
    m.check()
    const hello = 0x68656c6c
    c.write(a + 2 * P, hello)
    m.check()
    expect(p.read(a + 2 * P)).toBe(hello)
    m.check()
    const pfn = pfnOf(p, a + 2 * P)
    expect(pfnOf(c, a + 2 * P)).toBe(pfn)
    expect(m.page(pfn)).toMatchObject({ mapcount: 2, count: 3, index: 2, content: hello })
    expect(p.mm.vmaAt(a)!.anonVma).toBeNull()
    expect(c.mm.vmaAt(a)!.anonVma).toBeNull()
    // 2.6.5 dup_mmap links the child just before its parent (list_add_tail on the parent's node).
    expect(inode.iMmapShared).toEqual([c.mm.vmaAt(a), p.mm.vmaAt(a)])
    // A read fault on a VM_SHARED|VM_WRITE vma maps PAGE_SHARED: writable, clean.
    expect(p.pagemap(a + 2 * P)).toMatchObject({ write: true, dirty: false })
    expect(c.pagemap(a + 2 * P)).toMatchObject({ write: true, dirty: true })
    expect(m.stats().faults.wpCopy + m.stats().faults.wpReuse).toBe(0)
    // Writeback: try_to_unmap through the i_mmap walk leaves both ptes pte_none.
    expect(m.tryToUnmap(pfn)).toBe('SWAP_SUCCESS')
    m.check()
    for (const q of [p, c]) expect(q.pagemap(a + 2 * P)).toEqual({ present: false, swapped: false })
    expect(m.page(pfn)).toMatchObject({ mapcount: 0, count: 1 })
    expect(m.page(pfn).flags).toContain('dirty')
    expect(m.meminfo().Dirty).toBe(4)
    expect(writePage(m, m.cpus[0]!, pfn)).toBe(true)
    expect(inode.blocks.get(2)).toBe(hello)
    expect(m.meminfo().Dirty).toBe(0)
    removeFromPageCache(m, pfn)
    m.check()
    expect(m.page(pfn).count).toBe(0)
    expect(inode.pages.has(2)).toBe(false)
    const read0 = m.stats().filemap.pagesRead
    expect(c.read(a + 2 * P)).toBe(hello) // read back from the file
    expect(m.stats().filemap.pagesRead).toBe(read0 + 1)
    expect(p.read(a + 2 * P)).toBe(hello) // found in the page cache
    expect(m.stats().filemap.pagesRead).toBe(read0 + 1)
    m.check()
  })

  it('E1: the child maps the file independently: the same page-cache frame', () => {
    const m = machine(arch)
    m.fs.create('/tmp/e1b', { size: 4 * P, fill: 0 })
    const p = m.spawn()
    const c = m.spawn()
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, p.open('/tmp/e1b', O_RDWR), 0)
    const b = c.mmap(0, 4 * P, RW, MAP_SHARED, c.open('/tmp/e1b', O_RDWR), 0)
    c.write(b + 2 * P, 0x1234)
    m.check()
    expect(p.read(a + 2 * P)).toBe(0x1234)
    expect(pfnOf(p, a + 2 * P)).toBe(pfnOf(c, b + 2 * P))
    expect(m.page(pfnOf(p, a + 2 * P)).mapcount).toBe(2)
    m.check()
  })

  it('E2: past EOF: zeros in the rest of the last page, SIGBUS beyond it, shared and private', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/e2', { size: P / 2 })
    const word = inode.diskWord(0)
    expect(word).not.toBe(0)
    // Private first: its store past EOF lands in its COW copy, so the cache page's
    // tail is still zero for the shared pass (whose store then stays in the cache page).
    for (const type of [MAP_PRIVATE, MAP_SHARED]) {
      const p = m.spawn()
      const a = p.mmap(0, 2 * P, RW, type, p.open('/tmp/e2', O_RDWR), 0)
      expect(p.read(a)).toBe(word)
      expect(p.read(a + P / 2 - 1)).toBe(word)
      expect(p.read(a + P / 2)).toBe(0)
      expect(p.read(a + P - 1)).toBe(0)
      m.check()
      // A store past EOF changes the page, not the file data.
      p.write(a + 3000, 0x55)
      m.check()
      expect(p.read(a + 3000)).toBe(0x55)
      expect(p.read(a)).toBe(word)
      const sig = signalOf(() => p.read(a + P))
      expect(sig).toMatchObject({ signal: 'SIGBUS', address: a + P, pid: p.pid })
      expect(p.alive).toBe(false)
      expect(p.killedBy).toBe('SIGBUS')
      m.check()
    }
    expect(m.stats().filemap.sigbus).toBe(2)
    // The shared store dirtied the cache page; writeback writes the file data only.
    const cache = inode.pages.get(0)!
    expect(m.fs.tails.get(cache)).toBe(0x55)
    expect(m.fs.sync()).toBe(1)
    expect(inode.blocks.get(0)).toBe(word)
    expect(m.fs.invalidateInodePages('/tmp/e2')).toBe(1)
    m.check()
    const q = m.spawn()
    const b = q.mmap(0, P, PROT_READ, MAP_SHARED, q.open('/tmp/e2', O_RDONLY), 0)
    expect(q.read(b + 3000)).toBe(0) // the store never reached the file
    expect(q.read(b)).toBe(word)
    m.check()
  })

  it('E2: a file of exactly one page mapped over two: SIGBUS on the second page only', () => {
    const m = machine(arch)
    m.fs.create('/tmp/e2b', { size: P, fill: 9 })
    const p = m.spawn()
    const a = p.mmap(0, 2 * P, PROT_READ, MAP_SHARED, p.open('/tmp/e2b', O_RDONLY), 0)
    expect(p.read(a + P - 4)).toBe(9)
    expect(childDies(p, (c) => c.read(a + P)).signal).toBe('SIGBUS')
    expect(childDies(p, (c) => c.read(a + 2 * P - 1)).signal).toBe('SIGBUS')
    m.check()
  })

  it('E3: ftruncate of a mapped file: ptes removed, pages freed, SIGBUS past EOF, zeros after regrowth', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/e3', { size: 64 * 1024, fill: A4 })
    const p = m.spawn()
    const fd = p.open('/tmp/e3', O_RDWR)
    const a = p.mmap(0, 64 * 1024, RW, MAP_SHARED, fd, 0)
    for (let k = 0; k < 16; k++) expect(p.read(a + k * P)).toBe(A4)
    const c = p.fork()
    for (let k = 0; k < 16; k++) expect(c.read(a + k * P)).toBe(A4)
    m.check()
    const old14 = inode.pages.get(14)!
    const old15 = inode.pages.get(15)!
    expect(m.page(old15).mapcount).toBe(2)
    const maps0 = [p.maps(), c.maps()]
    const tc0 = inode.truncateCount
    expect(m.meminfo().Cached).toBe(64)

    p.ftruncate(fd, 56 * 1024)
    m.check()
    expect(inode.size).toBe(56 * 1024)
    expect(inode.truncateCount).toBe(tc0 + 1)
    for (const q of [p, c]) {
      for (const k of [14, 15]) expect(q.pagemap(a + k * P).present).toBe(false)
      expect(q.pagemap(a + 13 * P).present).toBe(true)
      expect(q.mm.rss).toBe(14)
    }
    expect(inode.pages.has(14)).toBe(false)
    expect(inode.pages.has(15)).toBe(false)
    expect(m.page(old14).count).toBe(0)
    expect(m.page(old15).count).toBe(0)
    expect(m.page(inode.pages.get(13)!).mapcount).toBe(2)
    expect(m.meminfo().Cached).toBe(56)
    expect(m.meminfo().Mapped).toBe(56)
    expect([p.maps(), c.maps()]).toEqual(maps0)

    expect(signalOf(() => c.read(a + 60 * 1024))).toMatchObject({ signal: 'SIGBUS', address: a + 60 * 1024 })
    m.check()
    expect(p.read(a + 40 * 1024)).toBe(A4)

    p.ftruncate(fd, 65 * 1024)
    m.check()
    expect(p.read(a + 60 * 1024)).toBe(0)
    expect(p.read(a + 56 * 1024)).toBe(0)
    expect(p.read(a + 52 * 1024)).toBe(A4)
    expect(p.maps()).toEqual(maps0[0])
    m.check()

    p.ftruncate(fd, 0)
    m.check()
    expect(m.meminfo().Cached).toBe(0)
    expect(p.mm.rss).toBe(0)
    for (const off of [0, 40 * 1024, 60 * 1024]) {
      expect(childDies(p, (q) => q.read(a + off)).signal).toBe('SIGBUS')
      m.check()
    }
    expect(p.maps()).toEqual(maps0[0])
    p.exit()
    m.check()
  })

  it('E3: truncate also zaps COWed anonymous pages of a private mapping in the hole', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/e3p', { size: 4 * P, fill: A4 })
    const p = m.spawn()
    const fd = p.open('/tmp/e3p', O_RDWR)
    const priv = p.mmap(0, 4 * P, RW, MAP_PRIVATE, fd, 0)
    for (let k = 0; k < 4; k++) p.write(priv + k * P, k)
    const anon3 = pfnOf(p, priv + 3 * P)
    const anon1 = pfnOf(p, priv + P)
    expect(m.page(anon3).flags).toContain('anon')
    m.check()
    p.ftruncate(fd, 2 * P + 100)
    m.check()
    expect(p.pagemap(priv + 3 * P).present).toBe(false)
    expect(m.page(anon3).count).toBe(0)
    // Page 2 straddles the new EOF and stays; page 1 is untouched.
    expect(p.read(priv + 2 * P)).toBe(2)
    expect(pfnOf(p, priv + P)).toBe(anon1)
    expect(p.read(priv + P)).toBe(1)
    // Early COW read pages 0..3 into the cache; page 3 was truncated away.
    expect([...inode.pages.keys()].sort()).toEqual([0, 1, 2])
    expect(childDies(p, (c) => c.read(priv + 3 * P)).signal).toBe('SIGBUS')
    m.check()
  })

  it('do_no_page retries when a truncate races it (truncate_count), then SIGBUS', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/race', { size: 2 * P, fill: 5 })
    const p = m.spawn()
    const t = m.spawn() // the truncating task, on its own cpu
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, p.open('/tmp/race', O_RDWR), 0)
    const tfd = t.open('/tmp/race', O_RDWR)
    let raced = -1
    m.fs.nopageRacer = () => {
      raced = inode.pages.get(0)! // the page ->nopage just returned, with the fault's reference
      t.ftruncate(tfd, 0)
      expect(m.page(raced)).toMatchObject({ count: 1, mapcount: 0, mapping: { kind: 'none' } })
    }
    expect(signalOf(() => p.read(a))).toMatchObject({ signal: 'SIGBUS' })
    expect(raced).toBeGreaterThan(0)
    expect(m.fs.nopageRacer).toBeUndefined()
    expect(m.stats().filemap.nopageRetries).toBe(1)
    expect(m.stats().filemap.pagesRead).toBe(1)
    expect(inode.pages.size).toBe(0)
    expect(m.page(raced).count).toBe(0) // truncate dropped the cache's reference, the retry the fault's
    m.check()
  })

  it('do_no_page retry after a racing truncate that leaves the page: it is mapped on the retry', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/race2', { size: 2 * P, fill: 5 })
    const p = m.spawn()
    const t = m.spawn()
    const tfd = t.open('/tmp/race2', O_RDWR)
    const a = p.mmap(0, 2 * P, RW, MAP_PRIVATE, p.open('/tmp/race2', O_RDWR), 0)
    m.fs.nopageRacer = () => t.ftruncate(tfd, P)
    p.write(a, 6) // early COW, then the race, then the retry COWs again
    m.check()
    expect(m.stats().filemap.nopageRetries).toBe(1)
    expect(m.stats().filemap.pagesRead).toBe(1) // page 0 survived the truncate: found again
    expect(m.stats().faults.fileCow).toBe(1)
    expect(p.read(a)).toBe(6)
    const cache = inode.pages.get(0)!
    expect(m.page(cache)).toMatchObject({ mapcount: 0, count: 1 })
    expect(pfnOf(p, a)).not.toBe(cache)
    // One cache page and one anonymous copy on the LRU: the first copy was freed.
    expect(m.lruPages().active + m.lruPages().inactive).toBe(2)
    m.check()
  })

  it('D1 (file): munmap the middle page of a 3-page MAP_SHARED mapping at pgoff 1', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/d1', { size: 4 * P })
    const p = m.spawn()
    const fd = p.open('/tmp/d1', O_RDWR)
    const a = p.mmap(0, 3 * P, RW, MAP_SHARED, fd, P)
    for (let k = 0; k < 3; k++) p.write(a + k * P, 0xd0 + k)
    expect(p.mm.mapCount).toBe(1)
    const middle = pfnOf(p, a + P)
    expect(m.page(middle).index).toBe(2)
    m.check()
    p.munmap(a + P, P)
    m.check()
    expect(p.mm.mapCount).toBe(2)
    expect(p.maps().map((e) => [e.start, e.end, e.pgoff, e.perms, e.file])).toEqual([
      [a, a + P, P, 'rw-s', '/tmp/d1'],
      [a + 2 * P, a + 3 * P, 3 * P, 'rw-s', '/tmp/d1'],
    ])
    expect(inode.iMmapShared).toHaveLength(2)
    expect(m.page(middle)).toMatchObject({ mapcount: 0, count: 1 })
    expect(m.page(middle).flags).toContain('dirty')
    expect(childDies(p, (c) => c.read(a + P)).signal).toBe('SIGSEGV')
    expect(p.read(a)).toBe(0xd0)
    expect(p.read(a + 2 * P)).toBe(0xd2)
    m.check()
  })

  it('D4: EACCES for a writable shared map of a read-only fd; SIGSEGV on a write to PROT_READ', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/d4', { size: 2 * P, fill: 3 })
    const p = m.spawn()
    const ro = p.open('/tmp/d4', O_RDONLY)
    expect(errnoOf(() => p.mmap(0, P, RW, MAP_SHARED, ro, 0))).toBe('EACCES')
    const a = p.mmap(0, P, PROT_READ, MAP_SHARED, ro, 0)
    const vma = p.mm.vmaAt(a)!
    // VM_MAYSHARE without VM_SHARED or VM_MAYWRITE: on i_mmap, private protections.
    expect(vma.flags & (VM.SHARED | VM.MAYSHARE | VM.MAYWRITE)).toBe(VM.MAYSHARE)
    expect(inode.iMmap).toEqual([vma])
    expect(p.maps()[0]!.perms).toBe('r--s')
    expect(errnoOf(() => p.mprotect(a, P, RW))).toBe('EACCES')
    expect(p.read(a)).toBe(3)
    expect(childDies(p, (c) => c.write(a, 1)).signal).toBe('SIGSEGV')
    m.check()
    // remap_file_pages needs VM_SHARED: this mapping is not.
    expect(errnoOf(() => p.remapFilePages(a, P, 0, 1, 0))).toBe('EINVAL')
    // A private mapping of a read-only fd may become writable (copy-on-write).
    const b = p.mmap(0, P, PROT_READ, MAP_PRIVATE, ro, 0)
    p.mprotect(b, P, RW)
    p.write(b, 4)
    expect(p.read(a)).toBe(3)
    m.check()
    // A PROT_READ shared mapping of an O_RDWR fd: SIGSEGV on write, then mprotect makes it writable.
    const rw = p.open('/tmp/d4', O_RDWR)
    const s = p.mmap(0, P, PROT_READ, MAP_SHARED, rw, P)
    expect(childDies(p, (c) => c.write(s, 1)).signal).toBe('SIGSEGV')
    p.mprotect(s, P, RW)
    p.write(s, 0x77)
    expect(m.page(inode.pages.get(1)!).content).toBe(0x77)
    m.check()
    // Write-only fds cannot be mapped at all.
    const wo = p.open('/tmp/d4', O_WRONLY)
    expect(errnoOf(() => p.mmap(0, P, PROT_WRITE, MAP_SHARED, wo, 0))).toBe('EACCES')
    expect(errnoOf(() => p.mmap(0, P, PROT_READ, MAP_PRIVATE, wo, 0))).toBe('EACCES')
    m.check()
  })

  it('G2: remap_file_pages argument errors are EINVAL', () => {
    const m = machine(arch)
    m.fs.create('/tmp/g2', { size: 8 * P })
    const p = m.spawn()
    const fd = p.open('/tmp/g2', O_RDWR)
    const priv = p.mmap(0, 2 * P, RW, MAP_PRIVATE, fd, 0)
    const sh = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
    const anon = p.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    const one = p.mmap(0, P, RW, MAP_SHARED, fd, 0)
    expect(p.mm.vmaAt(one + P)).toBeNull()
    const cases: [string, () => void][] = [
      ['a start inside a MAP_PRIVATE mapping', () => p.remapFilePages(priv, P, 0, 1, 0)],
      ['start + 1 page of a 1-page shared mapping', () => p.remapFilePages(one + P, P, 0, 0, 0)],
      ['a size running past the vma', () => p.remapFilePages(sh, 5 * P, 0, 0, 0)],
      ['a start inside, the end past the vma', () => p.remapFilePages(sh + 3 * P, 2 * P, 0, 0, 0)],
      ['an invalid prot', () => p.remapFilePages(sh, P, PROT_READ, 1, 0)],
      ['a zero size', () => p.remapFilePages(sh, 0, 0, 1, 0)],
      ['a size below one page (rounded down to 0)', () => p.remapFilePages(sh, P - 1, 0, 1, 0)],
      ['an anonymous mapping', () => p.remapFilePages(anon, P, 0, 0, 0)],
      ['unmapped space', () => p.remapFilePages(0x1000, P, 0, 0, 0)],
      ['file pages past EOF', () => p.remapFilePages(sh, 2 * P, 0, 7, 0)],
    ]
    for (const [what, fn] of cases) {
      expect(errnoOf(fn), what).toBe('EINVAL')
      m.check()
    }
    // A pgoff a file pte cannot hold (PTE_FILE_MAX_BITS narrower than a long).
    const g = arch.geometry
    if (g.PTE_FILE_MAX_BITS < g.BITS_PER_LONG) {
      expect(errnoOf(() => p.remapFilePages(sh, P, 0, 2 ** g.PTE_FILE_MAX_BITS - 1, 0))).toBe('EINVAL')
    }
    // The EOF failure came after VM_NONLINEAR was set, which stays (the kernel cannot clear it).
    expect(p.mm.vmaAt(sh)!.flags & VM.NONLINEAR).toBe(VM.NONLINEAR)
    expect(p.mm.vmaAt(one)!.flags & VM.NONLINEAR).toBe(0)
    // A linear remap of a linear vma leaves it linear.
    p.remapFilePages(one, P, 0, 0, 0)
    expect(p.mm.vmaAt(one)!.flags & VM.NONLINEAR).toBe(0)
    m.check()
  })

  it('remap_file_pages: a nonlinear window reads back the right file pages, hidden from objrmap, exits cleanly', () => {
    // The -aa behaviour (the 2.6.7 cluster scan is in vm-nonlinear-reclaim.test.ts).
    const m = new Machine({ arch, ram: '64M', cpus: 2, seed: 2004, nonlinearReclaim: 'aa-none' })
    const inode = m.fs.create('/tmp/nl', { size: 8 * P })
    const word = (k: number) => inode.diskWord(k)
    expect(new Set([0, 1, 2, 3, 4, 5, 6, 7].map(word)).size).toBe(8)
    const free0 = m.meminfo().MemFree
    const p = m.spawn()
    const fd = p.open('/tmp/nl', O_RDWR)
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
    // Reverse the window: pages 7, 6, 5, 4 at a, a+P, a+2P, a+3P.
    for (let k = 0; k < 4; k++) p.remapFilePages(a + k * P, P, 0, 7 - k, 0)
    m.check()
    const vma = p.mm.vmaAt(a)!
    expect(vma.flags & VM.NONLINEAR).toBe(VM.NONLINEAR)
    expect(p.maps()).toHaveLength(1) // no vma was created or split
    expect(m.stats().filemap.installPage).toBe(4)
    for (let k = 0; k < 4; k++) expect(p.read(a + k * P)).toBe(word(7 - k))
    expect(m.stats().faults.file + m.stats().faults.nonlinear).toBe(0) // populated, no fault
    const p7 = pfnOf(p, a)
    expect(m.page(p7)).toMatchObject({ index: 7, mapcount: 1, count: 2 })
    m.check()
    // Another, linear mapping of the file sees writes made through the window.
    const lin = p.mmap(0, 8 * P, PROT_READ, MAP_SHARED, fd, 0)
    p.write(a, 0xabc)
    expect(p.read(lin + 7 * P)).toBe(0xabc)
    expect(pfnOf(p, lin + 7 * P)).toBe(p7)
    expect(m.page(p7).mapcount).toBe(2)
    m.check()
    // objrmap finds the linear pte only; the nonlinear one is invisible (-aa: effectively locked).
    // PG_referenced (set by the linear fault's mark_page_accessed) and the linear young pte: 2.
    expect(m.page(p7).flags).toContain('referenced')
    expect(m.pageReferenced(p7)).toBe(2)
    expect(m.tryToUnmap(p7)).toBe('SWAP_AGAIN')
    expect(m.page(p7).mapcount).toBe(1)
    expect(p.pagemap(a)).toMatchObject({ pfn: p7, young: true })
    expect(p.pagemap(lin + 7 * P).present).toBe(false)
    expect(m.pageReferenced(p7)).toBe(0) // the young nonlinear pte is not seen
    expect(p.pagemap(a).young).toBe(true)
    m.check()
    // fork copies the nonlinear ptes; the child reads the same window.
    const c = p.fork()
    for (let k = 0; k < 4; k++) expect(c.read(a + k * P)).toBe(k === 0 ? 0xabc : word(7 - k))
    expect(m.page(p7).mapcount).toBe(2)
    m.check()
    c.exit()
    p.exit()
    m.check()
    expect(m.meminfo().Mapped).toBe(0)
    expect([...inode.pages.keys()].sort()).toEqual([4, 5, 6, 7])
    expect(m.meminfo().Cached).toBe(16)
    expect(m.meminfo().MemFree).toBe(free0 - 16)
    expect(m.meminfo().PageTables).toBe(0)
  })

  it('remap_file_pages with MAP_NONBLOCK leaves file ptes that do_file_page faults in', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/nb', { size: 8 * P })
    const p = m.spawn()
    const fd = p.open('/tmp/nb', O_RDWR)
    const a = p.mmap(0, 4 * P, RW, MAP_SHARED, fd, 0)
    expect(p.read(a + 3 * P)).toBe(inode.diskWord(3)) // index 3 now cached
    p.remapFilePages(a, 2 * P, 0, 5, MAP_NONBLOCK) // 5, 6: not cached → file ptes
    p.remapFilePages(a + 2 * P, 2 * P, 0, 2, MAP_NONBLOCK) // 2: not cached, linear → untouched; 3: cached
    m.check()
    expect(p.pagemap(a)).toEqual({ present: false, swapped: false, file: 5 })
    expect(p.pagemap(a + P)).toEqual({ present: false, swapped: false, file: 6 })
    expect(p.pagemap(a + 2 * P)).toEqual({ present: false, swapped: false })
    expect(p.pagemap(a + 3 * P).pfn).toBe(inode.pages.get(3))
    expect(m.stats().filemap.installFilePte).toBe(2)
    expect(inode.pages.has(5)).toBe(false)
    // A child inherits the file ptes.
    const c = p.fork()
    expect(c.pagemap(a).file).toBe(5)
    m.check()
    expect(p.read(a)).toBe(inode.diskWord(5))
    expect(m.stats().faults.nonlinear).toBe(1)
    p.write(a + P, 0x66) // a write through a file pte of a shared vma: populated writable
    expect(m.stats().faults.nonlinear).toBe(2)
    expect(m.page(inode.pages.get(6)!).content).toBe(0x66)
    expect(c.read(a + P)).toBe(0x66)
    expect(p.read(a + 2 * P)).toBe(inode.diskWord(2)) // linear do_no_page
    m.check()
    // Truncate (2.6.7's zap with nonlinear_vma details): the present pages 5
    // and 6 are unmapped and, not being at their linear positions, leave
    // pgoff_to_pte(page->index) behind; c's file pte of 5 is left alone.
    p.ftruncate(fd, 5 * P)
    m.check()
    expect(p.pagemap(a)).toEqual({ present: false, swapped: false, file: 5 })
    expect(p.pagemap(a + P)).toEqual({ present: false, swapped: false, file: 6 })
    expect(c.pagemap(a)).toEqual({ present: false, swapped: false, file: 5 })
    expect(c.pagemap(a + P)).toEqual({ present: false, swapped: false, file: 6 })
    expect(p.pagemap(a + 3 * P).present).toBe(true)
    // So the next access there is SIGBUS past the new end (never the linear page).
    expect(signalOf(() => c.read(a))).toMatchObject({ signal: 'SIGBUS', address: a })
    expect(c.alive).toBe(false)
    m.check()
    // A file pte within the file survives a truncate that leaves its page.
    p.remapFilePages(a + P, P, 0, 4, MAP_NONBLOCK)
    expect(p.pagemap(a + P).file).toBe(4)
    p.ftruncate(fd, 6 * P) // grow: file pte of 4 survives
    const q = m.spawn()
    q.ftruncate(q.open('/tmp/nb', O_RDWR), 4 * P + 1)
    expect(p.pagemap(a + P).file).toBe(4) // page 4 is within 4*P+1 bytes: kept
    expect(p.read(a + P)).toBe(inode.diskWord(4))
    m.check()
    p.exit()
    q.exit()
    m.check()
  })

  it('a file pte past EOF is SIGBUS when faulted (do_file_page → populate EINVAL)', () => {
    const m = machine(arch)
    m.fs.create('/tmp/fpe', { size: 4 * P })
    const p = m.spawn()
    const fd = p.open('/tmp/fpe', O_RDWR)
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0)
    p.remapFilePages(a, P, 0, 3, MAP_NONBLOCK)
    expect(p.pagemap(a).file).toBe(3)
    // A truncate through another task leaves the file pte (2.6.7 zaps file ptes
    // of a nonlinear vma never): its pgoff past the new end is the SIGBUS.
    const q = m.spawn()
    q.ftruncate(q.open('/tmp/fpe', O_RDWR), 3 * P)
    expect(p.pagemap(a)).toEqual({ present: false, swapped: false, file: 3 })
    m.check()
    p.remapFilePages(a, P, 0, 2, MAP_NONBLOCK)
    expect(p.pagemap(a).file).toBe(2)
    // i_size set lower with no invalidate (the window a racing truncate has between
    // i_size_write and invalidate_mmap_range): ->populate then refuses pgoff 2.
    const inode = m.fs.lookup('/tmp/fpe') as AddressSpace
    inode.size = 2 * P
    expect(signalOf(() => p.read(a))).toMatchObject({ signal: 'SIGBUS', address: a })
    m.check()
  })

  it('open, close, ftruncate and mmap errno cases', () => {
    const m = machine(arch)
    const p = m.spawn()
    expect(errnoOf(() => p.open('/tmp/none', O_RDONLY))).toBe('ENOENT')
    expect(errnoOf(() => p.open('', O_RDWR | O_CREAT))).toBe('ENOENT')
    expect(p.open('/tmp/new', O_RDWR | O_CREAT)).toBe(0)
    expect(errnoOf(() => p.open('/tmp/new', O_RDWR | O_CREAT | O_EXCL))).toBe('EEXIST')
    expect(p.open('/tmp/new', O_RDONLY)).toBe(1)
    expect(p.open('/tmp/new', O_WRONLY)).toBe(2)
    p.close(1)
    expect(errnoOf(() => p.close(1))).toBe('EBADF')
    expect(p.open('/tmp/new', O_RDWR)).toBe(1) // the lowest free descriptor
    // /dev/shm is tmpfs now (vm-tmpfs.test.ts): open with O_CREAT creates a tmpfs file.
    expect(p.open('/dev/shm/seg', O_RDWR | O_CREAT)).toBe(3)
    expect(m.fs.lookup('/dev/shm/seg')!.shmem).not.toBeNull()
    p.close(3)
    expect(errnoOf(() => m.fs.create('/dev/shm/seg', { size: P }))).toBe('EEXIST')
    expect(errnoOf(() => m.fs.create('/tmp/new'))).toBe('EEXIST')
    expect(m.fs.lookup('/tmp/new')!.size).toBe(0)

    // ftruncate: EINVAL for a negative length before EBADF; EINVAL for a read-only fd; EFBIG.
    expect(errnoOf(() => p.ftruncate(99, -1))).toBe('EINVAL')
    expect(errnoOf(() => p.ftruncate(99, 0))).toBe('EBADF')
    const ro = p.open('/tmp/new', O_RDONLY)
    expect(errnoOf(() => p.ftruncate(ro, P))).toBe('EINVAL')
    expect(errnoOf(() => p.ftruncate(0, S_MAXBYTES + 1))).toBe('EFBIG')
    p.ftruncate(0, S_MAXBYTES)
    expect(m.fs.lookup('/tmp/new')!.size).toBe(S_MAXBYTES)
    p.ftruncate(2, 3 * P) // O_WRONLY may truncate
    expect(m.fs.lookup('/tmp/new')!.size).toBe(3 * P)
    m.check()

    // mmap of files.
    expect(errnoOf(() => p.mmap(0, P, PROT_READ, MAP_SHARED, 42, 0))).toBe('EBADF')
    expect(errnoOf(() => p.mmap(0, P, PROT_READ, MAP_SHARED, undefined, 0))).toBe('EBADF')
    expect(errnoOf(() => p.mmap(0, P, PROT_READ, MAP_SHARED, 0, 100))).toBe('EINVAL')
    expect(errnoOf(() => p.mmap(0, P, PROT_READ, MAP_SHARED | MAP_PRIVATE, 0, 0))).toBe('EINVAL')
    const bigOffset = (2 ** 32 - 1) * P
    if (arch.geometry.BITS_PER_LONG === 32) {
      expect(errnoOf(() => p.mmap(0, 2 * P, PROT_READ, MAP_SHARED, 0, bigOffset))).toBe('EINVAL')
    } else {
      const at = p.mmap(0, 2 * P, PROT_READ, MAP_SHARED, 0, bigOffset)
      expect(p.maps().find((e) => e.start === at)!.pgoff).toBe(bigOffset)
      expect(childDies(p, (c) => c.read(at)).signal).toBe('SIGBUS') // far past EOF
      p.munmap(at, 2 * P)
    }
    // Mapping past EOF is allowed; MAP_FIXED over an anonymous mapping replaces it.
    const anon = p.mmap(0, 8 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(anon, 1)
    const fixed = p.mmap(anon, 8 * P, RW, MAP_SHARED | MAP_FIXED, 0, 0)
    expect(fixed).toBe(anon)
    expect(p.read(anon)).toBe(m.fs.lookup('/tmp/new')!.diskWord(0))
    expect(p.maps()).toHaveLength(1)
    m.check()
    // O_TRUNC truncates a mapped file: its pages go.
    p.write(anon + P, 5)
    expect(p.open('/tmp/new', O_RDONLY | O_TRUNC)).toBe(4)
    expect(m.fs.lookup('/tmp/new')!.size).toBe(0)
    expect(p.pagemap(anon + P).present).toBe(false)
    expect(childDies(p, (c) => c.read(anon)).signal).toBe('SIGBUS')
    m.check()
    // The fd table is inherited by fork and private afterwards; closing keeps mappings.
    const c = p.fork()
    expect(c.files.descriptors()).toEqual(p.files.descriptors())
    c.close(0)
    expect(p.files.get(0)).toBeDefined()
    p.ftruncate(0, P)
    p.close(0)
    expect(p.read(anon)).toBe(m.fs.lookup('/tmp/new')!.diskWord(0))
    c.exit()
    p.exit()
    m.check()
  })

  it('content is never lost: a shared write survives munmap, sync and dropping the page cache', () => {
    const m = machine(arch)
    const inode = m.fs.create('/tmp/keep', { size: 2 * P, fill: 0 })
    const p = m.spawn()
    const fd = p.open('/tmp/keep', O_RDWR)
    const a = p.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0)
    p.write(a + P, 0xbeef)
    expect(m.meminfo().Dirty).toBe(0) // the dirty bit is still in the pte
    p.munmap(a, 2 * P)
    m.check()
    expect(m.meminfo().Dirty).toBe(4) // zap moved it to PG_dirty
    expect(m.fs.invalidateInodePages(inode)).toBe(0) // dirty: kept
    expect(m.fs.sync()).toBe(1)
    expect(m.meminfo().Dirty).toBe(0)
    expect(inode.blocks.get(1)).toBe(0xbeef)
    expect(m.fs.invalidateInodePages(inode)).toBe(1)
    expect(m.meminfo().Cached).toBe(0)
    m.check()
    const b = p.mmap(0, 2 * P, PROT_READ, MAP_SHARED, fd, 0)
    expect(p.read(b + P)).toBe(0xbeef)
    expect(p.read(b)).toBe(0)
    p.munmap(b, 2 * P)
    // A dirty page cannot leave the cache without writeback.
    const q = m.spawn()
    const c = q.mmap(0, P, RW, MAP_SHARED, q.open('/tmp/keep', O_RDWR), 0)
    q.write(c, 1)
    q.exit()
    expect(() => removeFromPageCache(m, inode.pages.get(0)!)).toThrow(/content would be lost/)
    m.check()
  })

  it('m.check() catches corrupted page-cache and file-vma state', () => {
    const build = () => {
      const m = machine(arch)
      const inode = m.fs.create('/tmp/chk', { size: 4 * P })
      const p = m.spawn()
      const a = p.mmap(0, 4 * P, RW, MAP_SHARED, p.open('/tmp/chk', O_RDWR), 0)
      p.read(a)
      m.check()
      return { m, inode, p, a, pfn: inode.pages.get(0)! }
    }
    const violations = (m: Machine): readonly string[] => {
      try {
        m.check()
      } catch (e) {
        expect(e).toBeInstanceOf(InvariantError)
        return (e as InvariantError).violations
      }
      throw new Error('m.check() did not throw')
    }
    let w = build()
    w.m.frames.count[w.pfn]!++
    expect(violations(w.m).join('\n')).toMatch(/count of page-cache page .* plus the cache's reference/)
    w = build()
    w.inode.iMmapShared.length = 0
    expect(violations(w.m).join('\n')).toMatch(/a file vma is on its file's list/)
    w = build()
    w.inode.iMmap.push(w.p.mm.vmaAt(w.a)!)
    expect(violations(w.m).join('\n')).toMatch(/on one list of its file, once/)
    w = build()
    w.inode.size = 0
    expect(violations(w.m).join('\n')).toMatch(/no page is cached past EOF/)
    w = build()
    w.m.frames.index[w.pfn] = 1
    expect(violations(w.m).join('\n')).toMatch(/index = 0/)
    w = build()
    w.m.fs.nrPages++
    expect(violations(w.m).join('\n')).toMatch(/Cached \(\d+ pages\) counts the page-cache pages/)
    w = build()
    w.m.frames.set(w.pfn, PG.dirty) // behind set_page_dirty's back
    expect(violations(w.m).join('\n')).toMatch(/nr_dirty \(0\) counts the dirty page-cache pages \(1\)/)
    w = build()
    w.p.mm.vmaAt(w.a)!.pgoff = 1 // the page now sits off its linear address
    expect(violations(w.m).join('\n')).toMatch(/sits at its linear address in a linear vma/)
  })
})
