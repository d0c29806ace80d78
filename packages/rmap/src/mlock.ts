/**
 * mm/mlock.c of the 2.6.5 era (the -aa tree's copy is the same), with the
 * `get_user_pages` / `make_pages_present` pair of mm/memory.c that mlock and
 * mremap use to fault a locked range in.
 *
 * What locking a range means here:
 *
 * - `VM_LOCKED` on every vma of the range (split at the edges, as
 *   `mlock_fixup` does) and `mm->locked_vm` counting their pages;
 * - every page faulted in by `make_pages_present`, which asks for write access
 *   when the vma has `VM_WRITE` — so an mlock of a private writable mapping
 *   breaks every COW share it still has, exactly as a write would;
 * - reclaim cannot take the pages away: `try_to_unmap_one` answers SWAP_FAIL
 *   for a VM_LOCKED vma (rmap/objrmap.ts), and fork clears VM_LOCKED in the
 *   child (fork.ts).
 *
 * The 2.6.5 rules, and where the model stops:
 *
 * - `mlock`/`munlock` round the start down to a page and the length up
 *   (`len = PAGE_ALIGN(len + (start & ~PAGE_MASK))`): an unaligned address is
 *   not an error. EINVAL only when start + len wraps; ENOMEM when a part of
 *   the range is unmapped — after the vmas before the hole were already
 *   (un)locked, as the kernel's loop leaves them.
 * - 2.6.5 requires CAP_IPC_LOCK for mlock (EPERM otherwise) and checks
 *   RLIMIT_MEMLOCK (ENOMEM); its default limit is RLIM_INFINITY. Processes in
 *   the model are privileged and have no rlimits, so neither error arises.
 *   (Unprivileged mlock within RLIMIT_MEMLOCK arrived in 2.6.9.)
 * - `mlock_fixup` returns what `make_pages_present` returns: EFAULT when
 *   get_user_pages may not touch the vma at all (a PROT_NONE mapping: no
 *   VM_READ), and -1 (EPERM to the caller) when it faulted in only part of the
 *   range. VM_LOCKED and locked_vm are already set by then; the model keeps
 *   that, too.
 * - A failed `split_vma` is EAGAIN here (not ENOMEM as in munmap). The kernel
 *   could split once and then fail the second split; the model checks the
 *   map count for both splits first, so a failed fixup changes nothing.
 * - No merging: 2.6.5 (and 2.6.7) `mlock_fixup` only splits. Merging the
 *   pieces back (vma_merge in mlock_fixup) came after 2.6.11, so munlock of a
 *   range locked in the middle of a vma leaves three vmas.
 * - `mlockall(MCL_CURRENT)` and `munlockall` are modelled; MCL_FUTURE (which
 *   sets mm->def_flags for later mmaps) is not.
 */
import type { Cpu } from './cpu.js'
import {
  type Errno,
  KernelBugError,
  NotModelledError,
  OutOfMemoryError,
  SignalError,
  SyscallError,
} from './errors.js'
import { markPageAccessed, setPageDirty } from './filemap.js'
import type { Machine } from './machine.js'
import { handleMmFault } from './memory.js'
import { PG } from './mm/page.js'
import { type Mm, VM, type Vma } from './mm/vma.js'
import { addrText, splitVma } from './mmap.js'
import { NO_PTE, pteOffsetMap, pteUnmap, pteWordOffset } from './pgtable.js'
import { MCL_CURRENT, MCL_CURRENT_PPC, MCL_FUTURE, MCL_FUTURE_PPC } from './uapi.js'

const PAGE = 4096

/**
 * `follow_page(mm, address, write)`: is the page at `address` there for this
 * kind of access, without a fault? A software walk (pte_offset_map, read,
 * pte_unmap): the MMU cache is not involved. On success the page is marked
 * accessed, and a write access through a clean writable pte (a read-faulted
 * MAP_SHARED page) dirties the page (set_page_dirty), as the write will.
 */
function followPage(m: Machine, c: Cpu, mm: Mm, address: number, write: boolean): boolean {
  const ptr = pteOffsetMap(m.env, mm.id, address, c.id)
  if (ptr === NO_PTE) return false
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  const lo = w[at]!
  const hi = m.fast.words === 2 ? w[at + 1]! : 0
  pteUnmap(m.env, ptr, c.id)
  const f = m.fast
  if (!f.present(lo, hi)) return false
  if (write && (lo & f.WRITE) === 0) return false
  const pfn = f.pfn(lo, hi)
  const fr = m.frames
  // pfn_valid; the reserved ZERO_PAGE's flags are left alone.
  if (pfn >= fr.n || fr.test(pfn, PG.reserved)) return true
  if (write && (lo & f.DIRTY) === 0) setPageDirty(m, c, pfn)
  markPageAccessed(m, pfn)
  return true
}

/**
 * `get_user_pages(tsk, mm, start, len, write, force, NULL, NULL)`: fault in
 * `len` pages from `start` as the owner's accesses would, each page until
 * `follow_page` finds it. The vma must allow the access (VM_READ for a read,
 * VM_WRITE for a write; with `force`, the VM_MAY bits). Returns the pages done,
 * or — when not even the first page could be done — the errno: EFAULT for no
 * vma, a forbidden access or a SIGBUS fault, ENOMEM when memory ran out.
 */
export function getUserPages(
  m: Machine,
  c: Cpu,
  mm: Mm,
  pid: number,
  start: number,
  len: number,
  write: boolean,
  force = false,
): number | Errno {
  let flags = write ? VM.WRITE | VM.MAYWRITE : VM.READ | VM.MAYREAD
  flags &= force ? VM.MAYREAD | VM.MAYWRITE : VM.READ | VM.WRITE
  let i = 0
  let addr = start
  while (len > 0) {
    // find_extend_vma (the model has no stack growth).
    const vma = mm.vmaAt(addr)
    if (!vma || !(flags & vma.flags)) return i || 'EFAULT'
    do {
      let faults = 0
      // After a write fault, a forced write no longer needs a writable pte: the
      // COW it did is private (maybe_mkwrite left it read-only in a vma without
      // VM_WRITE), so follow_page is asked for `write && !force`.
      let lookupWrite = write
      while (!followPage(m, c, mm, addr, lookupWrite)) {
        try {
          m.counters.faults[handleMmFault(m, c, vma, addr, write, pid)]++
        } catch (e) {
          if (e instanceof SignalError) return i || 'EFAULT' // VM_FAULT_SIGBUS
          if (e instanceof OutOfMemoryError) return i || 'ENOMEM' // VM_FAULT_OOM
          throw e
        }
        lookupWrite = write && !force
        if (++faults > 3)
          throw new Error(`get_user_pages: 0x${addr.toString(16)} still not present after a fault`)
      }
      i++
      addr += PAGE
      len--
    } while (len > 0 && addr < vma.end)
  }
  return i
}

/**
 * `make_pages_present(addr, end)` (mm/memory.c): fault in every page of
 * [addr, end), which lies in one vma, with write access when that vma has
 * VM_WRITE. Returns null when every page is present, the errno of
 * get_user_pages when it did nothing, and EPERM (the kernel's bare -1) when it
 * stopped part-way.
 */
export function makePagesPresent(
  m: Machine,
  c: Cpu,
  mm: Mm,
  pid: number,
  addr: number,
  end: number,
): Errno | null {
  const vma = mm.findVma(addr)
  if (!vma || addr >= end || end > vma.end) {
    throw new KernelBugError(
      'make_pages_present: addr < end, both inside one vma',
      'mm/memory.c make_pages_present',
      `0x${addr.toString(16)}..0x${end.toString(16)}`,
    )
  }
  const write = (vma.flags & VM.WRITE) !== 0
  const len = Math.ceil(end / PAGE) - Math.floor(addr / PAGE)
  const ret = getUserPages(m, c, mm, pid, addr, len, write)
  if (typeof ret === 'string') return ret
  return ret === len ? null : 'EPERM'
}

/**
 * Split `vma` as `split_vma` would, in the order the fixups do it (at `start`,
 * then at `end`), so that one vma covers exactly [start, end), and return it.
 * split_vma refuses at map_count >= max_map_count and the second split sees
 * one more vma; both are checked first, so that a refused fixup (EAGAIN, as
 * mlock_fixup and madvise_behavior report it) changes nothing.
 */
export function isolateRange(m: Machine, c: Cpu, vma: Vma, start: number, end: number, syscall: string): Vma {
  const splits = (start !== vma.start ? 1 : 0) + (end !== vma.end ? 1 : 0)
  if (splits > 0 && vma.mm.mapCount + splits - 1 >= m.maxMapCount) {
    throw new SyscallError(
      syscall,
      'EAGAIN',
      `split_vma: map_count ${vma.mm.mapCount} would exceed vm.max_map_count (${m.maxMapCount})`,
    )
  }
  // split_vma(mm, vma, start, 1) then split_vma(mm, vma, end, 0): the new
  // vmas are the pieces outside the range; `vma` keeps [start, end).
  if (start !== vma.start) splitVma(m, c, vma, start, syscall, true)
  if (end !== vma.end) splitVma(m, c, vma, end, syscall)
  return vma
}

/**
 * `mlock_fixup(vma, start, end, newflags)`: give [start, end) of `vma` the new
 * flags (VM_LOCKED set or clear), splitting the vma at the edges, account
 * locked_vm, and fault the range in when locking. Returns the errno of
 * make_pages_present, or null.
 */
export function mlockFixup(
  m: Machine,
  c: Cpu,
  vma: Vma,
  start: number,
  end: number,
  newFlags: number,
  pid: number,
  syscall: string,
): Errno | null {
  if (newFlags === vma.flags) return null
  const v = isolateRange(m, c, vma, start, end, syscall)
  // vm_flags is protected by mmap_sem; a page try_to_unmap takes just before
  // VM_LOCKED is set comes back through make_pages_present below.
  v.flags = newFlags
  const pages = (end - start) / PAGE
  if (newFlags & VM.LOCKED) {
    v.mm.lockedVm += pages
    return makePagesPresent(m, c, v.mm, pid, start, end)
  }
  v.mm.lockedVm -= pages
  return null
}

function checkArgs(syscall: string, start: number, len: number): void {
  if (!Number.isInteger(start) || start < 0)
    throw new SyscallError(syscall, 'EINVAL', `address ${addrText(start)} is not a non-negative integer`)
  if (!Number.isInteger(len) || len < 0)
    throw new SyscallError(syscall, 'EINVAL', `length ${len} is not a non-negative integer`)
}

/**
 * `sys_mlock(start, len)` (`on`) and `sys_munlock(start, len)`: round the range
 * out to pages, then `do_mlock`: walk the vmas of [start, end), fixing each up;
 * ENOMEM at the first hole, with the vmas before it already done.
 */
export function doMlock(
  m: Machine,
  c: Cpu,
  mm: Mm,
  pid: number,
  start: number,
  len: number,
  on: boolean,
): void {
  const S = on ? 'mlock' : 'munlock'
  checkArgs(S, start, len)
  // sys_mlock/sys_munlock: len = PAGE_ALIGN(len + (start & ~PAGE_MASK)); start &= PAGE_MASK.
  const off = start % PAGE
  start -= off
  len = Math.ceil((len + off) / PAGE) * PAGE
  // do_mlock
  const end = start + len
  if (end > 2 ** m.arch.geometry.BITS_PER_LONG)
    throw new SyscallError(S, 'EINVAL', 'start + len wraps around the address space')
  if (end === start) return
  let vma = mm.findVma(start)
  if (!vma || vma.start > start) throw new SyscallError(S, 'ENOMEM', `0x${start.toString(16)} is not mapped`)
  for (let nstart = start; ; ) {
    // Here vma.start <= nstart < vma.end.
    const newFlags = on ? vma.flags | VM.LOCKED : vma.flags & ~VM.LOCKED
    const tmp = Math.min(vma.end, end)
    const err = mlockFixup(m, c, vma, nstart, tmp, newFlags, pid, S)
    if (err) throw new SyscallError(S, err, makePagesPresentReason(err, nstart, tmp))
    if (tmp >= end) return
    nstart = tmp
    const next = mm.findVma(nstart)
    if (!next || next.start !== nstart)
      throw new SyscallError(S, 'ENOMEM', `0x${nstart.toString(16)} is not mapped`)
    vma = next
  }
}

function makePagesPresentReason(err: Errno, start: number, end: number): string {
  const range = `[0x${start.toString(16)}, 0x${end.toString(16)})`
  if (err === 'EPERM') return `make_pages_present faulted in only part of ${range} (it returns -1)`
  if (err === 'EFAULT')
    return `make_pages_present: get_user_pages may not access ${range} (no VM_READ/VM_WRITE, or SIGBUS); VM_LOCKED stays set`
  return `make_pages_present: out of memory faulting in ${range}; VM_LOCKED stays set`
}

/**
 * `sys_mlockall(flags)` / `sys_munlockall()` (`flags` 0): `do_mlockall` runs
 * mlock_fixup over every vma, whole, ignoring errors (a PROT_NONE vma is
 * locked without being faulted in). EINVAL for no flags or unknown bits. The
 * flag values are the arch's: MCL_CURRENT 1 and MCL_FUTURE 2 on i386, 0x2000
 * and 0x4000 on ppc and ppc64.
 */
export function doMlockall(m: Machine, c: Cpu, mm: Mm, pid: number, flags: number, syscall: string): void {
  const ppc = m.arch.name === 'ppc' || m.arch.name === 'ppc64'
  const current = ppc ? MCL_CURRENT_PPC : MCL_CURRENT
  const future = ppc ? MCL_FUTURE_PPC : MCL_FUTURE
  if (syscall === 'mlockall') {
    // sys_mlockall takes an int: a value outside its range (2**32 would
    // arrive as 0) is refused, never truncated into a valid one.
    if (
      !Number.isInteger(flags) ||
      flags < -(2 ** 31) ||
      flags > 2 ** 31 - 1 ||
      !flags ||
      flags & ~(current | future)
    ) {
      throw new SyscallError(
        syscall,
        'EINVAL',
        `flags ${Number.isInteger(flags) && flags >= 0 ? `0x${flags.toString(16)}` : flags} (an int) must be MCL_CURRENT (0x${current.toString(16)}) and/or MCL_FUTURE (0x${future.toString(16)}) on ${m.arch.name}`,
      )
    }
    if (flags & future)
      throw new NotModelledError('mlockall(MCL_FUTURE): mm->def_flags for later mappings is not modelled')
  }
  for (const vma of [...mm.vmas]) {
    const newFlags = flags & current ? vma.flags | VM.LOCKED : vma.flags & ~VM.LOCKED
    // Errors are ignored, as do_mlockall does.
    mlockFixup(m, c, vma, vma.start, vma.end, newFlags, pid, syscall)
  }
}
