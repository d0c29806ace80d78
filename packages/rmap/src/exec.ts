/**
 * `exec`: a fresh image. The new mm gets a stack vma at the top of user space
 * (VM_GROWSDOWN, `vm_pgoff = vm_start >> PAGE_SHIFT`) holding the argument
 * pages, each installed by `put_dirty_page` as an anonymous page of the stack
 * vma: the -aa tree calls `page_add_rmap(page, vma, address, 1)` there, so the
 * stack vma's anon_vma must be prepared first (docs/designs.md#objrmap-and-anon_vma).
 *
 * Not modelled: the executable's own file mappings, and stack growth below the
 * argument pages (an access there is a SIGSEGV here, where the kernel would
 * expand the vma).
 */

import { BUG } from './bugs.js'
import type { Cpu } from './cpu.js'
import { SyscallError } from './errors.js'
import { exitMmap } from './exit.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { Mm, VM, Vma } from './mm/vma.js'
import { vmaLink, vmPageProt } from './mmap.js'
import { pteAllocMap, pteUnmap } from './pgtable.js'
import { numberArg, show } from './validate.js'

/** VM_STACK_FLAGS: grows down, read/write/exec, with the MAY bits. */
const VM_STACK_FLAGS =
  VM.GROWSDOWN | VM.READ | VM.WRITE | VM.EXEC | VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC | VM.ACCOUNT

/** MAX_ARG_PAGES of 2.6 (binfmts.h). */
export const MAX_ARG_PAGES = 32

/**
 * Check exec's argument words before anything is allocated: an array of at
 * most MAX_ARG_PAGES integers. More pages than that is E2BIG, as copy_strings
 * answers when bprm->p runs out of its MAX_ARG_PAGES pages; anything that is
 * not an array of integers is a TypeError (or RangeError for a fractional or
 * unsafe number) naming the argument.
 */
export function checkExecArgs(args: unknown): asserts args is readonly number[] {
  if (!Array.isArray(args)) throw new TypeError(`exec: args must be an array of numbers, got ${show(args)}`)
  if (args.length > MAX_ARG_PAGES) {
    throw new SyscallError(
      'execve',
      'E2BIG',
      `${args.length} argument pages exceed MAX_ARG_PAGES (${MAX_ARG_PAGES})`,
    )
  }
  for (let i = 0; i < args.length; i++) {
    const word: unknown = args[i]
    numberArg('exec', `args[${i}]`, word)
    if (!Number.isSafeInteger(word)) throw new RangeError(`exec: args[${i}] ${word} is not an integer`)
  }
}

/**
 * Build the mm of a new image with `args` argument words, one page each, on
 * cpu `cpu` (the words checked by {@link checkExecArgs}). An allocation that
 * fails tears the half-built mm down (exit_mmap) before the OutOfMemoryError
 * goes on: nothing of it is left.
 */
export function execMm(m: Machine, c: Cpu, args: readonly number[], cpu: number): Mm {
  const mm = new Mm(m.env.mmCreate(), cpu)
  try {
    setupArgPages(m, c, mm, args)
  } catch (e) {
    exitMmap(m, c, mm)
    throw e
  }
  return mm
}

/** The stack vma and its argument pages (`setup_arg_pages` with `put_dirty_page`). */
function setupArgPages(m: Machine, c: Cpu, mm: Mm, args: readonly number[]): void {
  const top = m.taskSize
  const pages = Math.max(1, args.length)
  const start = top - pages * 4096
  const vma = new Vma(mm, start, top, VM_STACK_FLAGS, vmPageProt(m, VM_STACK_FLAGS), start / 4096, null, null)
  vmaLink(m, c, vma)
  m.rmap.mmExec(m, c, mm)
  m.rmap.vmaPrepare(m, c, vma)
  const f = m.fast
  for (let i = 0; i < args.length; i++) {
    const address = start + i * 4096
    // The pte page first: a page allocated before a failing pte_alloc_map
    // would belong to nobody.
    const ptr = pteAllocMap(m.env, mm.id, address, c.id)
    try {
      m.rmap.pageRmapReserve(m, c)
      const pfn = m.allocUserPage()
      m.frames.content[pfn] = args[i]! >>> 0
      m.lruAddActive(pfn)
      mm.rss++
      m.env.mmu.setPte(
        ptr,
        (f.mkPteLo(pfn, vma.pageProt) | f.WRITE | f.DIRTY) >>> 0,
        f.mkPteHi(pfn, vma.pageProt),
        c.id,
      )
      if (m.bugs & BUG.pgAnonRace) m.frames.set(pfn, PG.anon) // 2.6.5-rc1-aa1: SetPageAnon(page)
      m.rmap.pageAddRmap(m, c, pfn, vma, address, ptr, true)
      m.frames.set(pfn, PG.dirty)
    } finally {
      pteUnmap(m.env, ptr, c.id)
    }
  }
}
