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
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { Mm, VM, Vma } from './mm/vma.js'
import { vmaLink, vmPageProt } from './mmap.js'
import { pteAllocMap, pteUnmap } from './pgtable.js'

/** VM_STACK_FLAGS: grows down, read/write/exec, with the MAY bits. */
const VM_STACK_FLAGS =
  VM.GROWSDOWN | VM.READ | VM.WRITE | VM.EXEC | VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC | VM.ACCOUNT

/** MAX_ARG_PAGES of 2.6 (binfmts.h). */
export const MAX_ARG_PAGES = 32

/** Build the mm of a new image with `args` argument words, one page each, on cpu `cpu`. */
export function execMm(m: Machine, args: readonly number[], cpu: number): Mm {
  const mm = new Mm(m.env.mmCreate(), cpu)
  const top = m.taskSize
  const pages = Math.max(1, args.length)
  const start = top - pages * 4096
  const vma = new Vma(mm, start, top, VM_STACK_FLAGS, vmPageProt(m, VM_STACK_FLAGS), start / 4096, null, null)
  vmaLink(m, vma)
  m.rmap.mmExec(m, mm)
  m.rmap.vmaPrepare(m, vma)
  const f = m.fast
  const prevCpu = m.env.cpu
  m.env.cpu = cpu
  try {
    args.forEach((word, i) => {
      const address = start + i * 4096
      const pfn = m.allocUserPage()
      m.frames.content[pfn] = word >>> 0
      const ptr = pteAllocMap(m.env, mm.id, address)
      m.lruAddActive(pfn)
      mm.rss++
      m.env.mmu.setPte(
        ptr,
        (f.mkPteLo(pfn, vma.pageProt) | f.WRITE | f.DIRTY) >>> 0,
        f.mkPteHi(pfn, vma.pageProt),
      )
      m.rmap.pageAddRmap(m, pfn, vma, address, ptr, true)
      m.frames.set(pfn, PG.dirty)
      pteUnmap(m.env, ptr)
    })
  } finally {
    m.env.cpu = prevCpu
  }
  return mm
}
