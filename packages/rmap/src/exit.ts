/**
 * `exit_mmap` (mm/mmap.c): unmap every vma, free every user page table, flush
 * the TLB, unlink every vma from its anon_vma and file, then free the pgd.
 * BUG if a vma survives (map_count must reach 0).
 */
import type { Cpu } from './cpu.js'
import { KernelBugError } from './errors.js'
import type { Machine } from './machine.js'
import { zapPageRange } from './memory.js'
import type { Mm } from './mm/vma.js'
import { vmaUnlink } from './mmap.js'
import { clearPageTables } from './pgtable.js'

/** Tear down an mm whose last user is gone. */
export function exitMmap(m: Machine, c: Cpu, mm: Mm): void {
  for (const vma of mm.vmas) zapPageRange(m, c, vma, vma.start, vma.end)
  clearPageTables(m.env, mm.id, 0, m.arch.geometry.USER_PTRS_PER_PGD, c.id)
  m.env.mmu.flushTlbMm(mm.id, c.id)
  for (const vma of [...mm.vmas]) vmaUnlink(m, c, vma)
  m.rmap.mmExit(m, c, mm)
  if (mm.mapCount !== 0)
    throw new KernelBugError('exit_mmap: map_count is 0 after unmapping', 'mm/mmap.c exit_mmap')
  if (mm.rss !== 0)
    throw new KernelBugError('exit_mmap: rss is 0 after unmapping', 'mm/mmap.c exit_mmap', `rss ${mm.rss}`)
  m.env.mmDestroy(mm.id)
}
