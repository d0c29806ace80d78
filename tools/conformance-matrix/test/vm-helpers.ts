// Helpers shared by the vm-mremap, vm-mlock and vm-madvise tests.
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Errno,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  type Machine,
  PAGE_SIZE,
  type PageoutReport,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SignalError,
  SyscallError,
} from '@rmaplab/rmap'
import { expect } from 'vitest'

/** The four layouts every VM test runs on. */
export const ARCHES = [i386, i386Pae, ppc, ppc64]

/** Bytes in `n` pages. */
export const pages = (n: number): number => n * PAGE_SIZE

/** A private anonymous read-write mapping of `n` pages (at `at` with MAP_FIXED when given). */
export function anon(p: Process, n: number, at?: number, prot = PROT_READ | PROT_WRITE): number {
  const fixed = at === undefined ? 0 : MAP_FIXED
  return p.mmap(at ?? 0, pages(n), prot, MAP_PRIVATE | MAP_ANONYMOUS | fixed)
}

/** The errno `fn` fails with (it must fail with a SyscallError). */
export function errnoOf(fn: () => unknown): Errno {
  try {
    fn()
  } catch (e) {
    if (e instanceof SyscallError) return e.errno
    throw e
  }
  throw new Error('expected the call to fail with an errno, but it succeeded')
}

/** What the tests compare before and after a failing call: maps, meminfo, per-mm counters. */
export function snapshot(m: Machine, p: Process) {
  return {
    maps: p.maps(),
    meminfo: m.meminfo(),
    rss: p.mm.rss,
    totalVm: p.mm.totalVm,
    lockedVm: p.mm.lockedVm,
    flags: p.mm.vmas.map((v) => v.flags),
  }
}

/** The pfn `addr` maps in `p` (the pte must be present). */
export function pfnAt(p: Process, addr: number): number {
  const e = p.pagemap(addr)
  expect(e.present).toBe(true)
  return e.pfn!
}

/** Fork a child of `p` and touch `addr` from it: it must die of SIGSEGV (LTP munmap01 style). */
export function expectSegvInChild(p: Process, addr: number): void {
  const c = p.fork()
  let err: unknown
  try {
    c.read(addr)
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(SignalError)
  expect((err as SignalError).signal).toBe('SIGSEGV')
  expect((err as SignalError).address).toBe(addr)
  expect(c.alive).toBe(false)
}

/**
 * Reclaim one page through `m.pageout` until it is freed, as successive
 * shrink_list passes would (m.check() after each): a referenced page is first
 * activated; a dirty page is written and stays under write-back (result
 * 'written', PG_writeback) until `m.completeWriteback()`, then the next pass
 * frees it; a tmpfs page first moves to the swap cache ('kept'). At most
 * `passes` passes. Returns the last pass's report with the work of the earlier
 * ones folded in (addedToSwap and wrote if any pass did, the first try_to_unmap
 * answer), so a caller can check the whole swap-out as one.
 */
export function pageoutUntilFreed(m: Machine, pfn: number, passes = 5): PageoutReport {
  let r = m.pageout(pfn)
  m.check()
  let addedToSwap = r.addedToSwap
  let wrote = r.wrote
  let unmap = r.unmap
  for (let i = 1; i < passes && r.result !== 'freed'; i++) {
    if (r.result === 'written') {
      expect(m.page(pfn).flags).toContain('writeback')
      m.completeWriteback()
      m.check()
    }
    r = m.pageout(pfn)
    m.check()
    addedToSwap ||= r.addedToSwap
    wrote ||= r.wrote
    unmap ??= r.unmap
  }
  return { ...r, addedToSwap, wrote, unmap }
}

/**
 * After every process exited: complete the writes in flight and take each page
 * left in the swap cache through shrink_list (a page under write-back when its
 * last pte went stays there: free_swap_and_cache leaves it, as in the kernel).
 * Each is freed — clean, or dropped by swap_writepage's
 * remove_exclusive_swap_page when the zap dirtied it. Returns how many.
 */
export function dropSwapCache(m: Machine): number {
  m.completeWriteback()
  m.check()
  let n = 0
  for (let pfn = 0; pfn < m.frames.n; pfn++) {
    if (!m.frames.count[pfn] || !m.page(pfn).flags.includes('swapcache')) continue
    expect(m.page(pfn).mapcount).toBe(0)
    const r = m.pageout(pfn)
    if (r.result !== 'freed') expect(r.reason).toMatch(/^swap_writepage: remove_exclusive_swap_page/)
    expect(m.frames.count[pfn]).toBe(0)
    m.check()
    n++
  }
  return n
}
