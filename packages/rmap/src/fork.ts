/**
 * kernel/fork.c `dup_mmap`, as 2.6.7 has it and the -aa tree calls it
 * (docs/designs.md#objrmap-and-anon_vma "fork"): every vma is copied with its anon_vma
 * pointer, VM_LOCKED cleared, and the copy linked on the same anon_vma list
 * (at its head, -aa's anon_vma_link), so one anon_vma lists every fork-copy of
 * a vma, newest first. The rmap design sees the fork through `mmFork` and
 * `vmaFork`, and each copy through `vmaLink`. Then `copy_page_range` copies
 * the ptes, and the parent's TLB is flushed because its COW ptes were just
 * write-protected.
 */
import type { Cpu } from './cpu.js'
import { exitMmap } from './exit.js'
import type { Machine } from './machine.js'
import { copyPageRange } from './memory.js'
import { Mm, VM, Vma } from './mm/vma.js'
import { vmaLink } from './mmap.js'

/** `copy_mm` → `dup_mmap`: a new mm for the child, on cpu `cpu`. */
export function dupMmap(m: Machine, c: Cpu, parent: Mm, cpu: number): Mm {
  const child = new Mm(m.env.mmCreate(), cpu)
  try {
    m.rmap.mmFork(m, c, parent, child)
    copyVmas(m, c, parent, child)
  } catch (e) {
    // fail_nomem: the parent's COW ptes were already write-protected, so its
    // TLB is flushed either way; copy_mm's mmput tears down the partial child.
    m.env.mmu.flushTlbMm(parent.id, c.id)
    exitMmap(m, c, child)
    throw e
  }
  m.env.mmu.flushTlbMm(parent.id, c.id)
  return child
}

function copyVmas(m: Machine, c: Cpu, parent: Mm, child: Mm): void {
  for (const vma of parent.vmas) {
    if (vma.flags & VM.DONTCOPY) continue
    const tmp = new Vma(
      child,
      vma.start,
      vma.end,
      vma.flags & ~VM.LOCKED,
      vma.pageProt,
      vma.pgoff,
      vma.file,
      vma.anonVma,
    )
    m.rmap.vmaFork(m, c, vma, tmp)
    // 2.6.5 inserts the copy with list_add_tail(&tmp->shared, &mpnt->shared):
    // just before its parent in list order, so a walk of the file's vmas
    // meets the child first (changed to list_add, after the parent, for
    // 2.6.6 by "fork vma ordering during fork", April 2004).
    vmaLink(m, c, tmp, vma)
    m.counters.fork.vmasCopied++
    copyPageRange(m, c, tmp, vma)
  }
}
