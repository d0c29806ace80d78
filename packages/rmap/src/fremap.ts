/**
 * mm/fremap.c of the -aa tree: `remap_file_pages` and the nonlinear mappings
 * it makes, with `install_page`, `install_file_pte` and mm/filemap.c's
 * `filemap_populate`, the `->populate` method of a disk file.
 *
 * `sys_remap_file_pages(start, size, prot, pgoff, flags)` maps file pages
 * [pgoff, pgoff + size/PAGE_SIZE) at [start, start + size) inside one
 * existing VM_SHARED file vma, through the page tables only: no vma is
 * created or split. When pgoff is not the linear one the vma becomes
 * VM_NONLINEAR (before any page is populated, and for good: the flag is never
 * cleared). `filemap_populate` then installs each page with `install_page`
 * (zap the old pte, set the new one, `page_add_rmap(page, vma, addr, 0)`);
 * with MAP_NONBLOCK a page not in the cache is not read but left as a file pte
 * holding its pgoff (`install_file_pte`), which `do_file_page` faults back in.
 *
 * What the rmap can see of it: objrmap finds a file page's ptes at the linear
 * address of page->index in each vma of the file, so a pte a nonlinear vma
 * holds elsewhere is invisible to `page_referenced` and `try_to_unmap`. In the
 * -aa tree that is all there is: such a page is never found referenced through
 * that pte and `try_to_unmap` leaves it mapped and answers SWAP_AGAIN, so it
 * is in effect locked in memory (Andrea: nonlinear vmas "aren't covered yet";
 * a local DoS like unrestricted mlock): the machine's `nonlinearReclaim:
 * 'aa-none'`. 2.6.7 added `i_mmap_nonlinear` and cluster unmapping, the
 * default `'2.6.7-cluster'` (rmap/objrmap.ts tryToUnmapNonlinear).
 */
import type { Cpu } from './cpu.js'
import { OutOfMemoryError, SyscallError } from './errors.js'
import { filemapGetPage, setPageDirty } from './filemap.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { type Mm, VM, type Vma } from './mm/vma.js'
import { pteAllocMap, pteUnmap, pteWordOffset } from './pgtable.js'
import { freeSwapAndCache } from './swapfile.js'

const PAGE = 4096

/** MAP_NONBLOCK (asm/mman.h: 0x10000 on i386, ppc and ppc64): populate without reading pages in. */
export const MAP_NONBLOCK = 0x10000

/**
 * `zap_pte` (fremap.c): drop whatever the pte at `ptr` (mapped) holds. A
 * present page loses its rmap and the pte's reference, its dirty bit passes to
 * PG_dirty, and rss drops; a file pte is cleared. The TLB entry is flushed with
 * the pte (ptep_clear_flush).
 */
function zapPte(m: Machine, c: Cpu, vma: Vma, addr: number, ptr: number): void {
  const f = m.fast
  const w = m.env.tables.words
  const at = pteWordOffset(m.env, ptr)
  const lo = w[at]!
  const hi = f.words === 2 ? w[at + 1]! : 0
  if (f.none(lo, hi)) return
  const mmu = m.env.mmu
  if (f.present(lo, hi)) {
    const old = mmu.ptepGetAndClear(ptr, c.id)
    const pfn = f.pfn(old, mmu.lastHi)
    mmu.flushTlbPage(vma.mm.id, addr, c.id)
    if (pfn < m.frames.n && !m.frames.test(pfn, PG.reserved)) {
      if (old & f.DIRTY) setPageDirty(m, c, pfn)
      m.rmap.pageRemoveRmap(m, c, pfn, ptr)
      m.putPage(pfn)
      vma.mm.rss--
    }
    return
  }
  if (!f.file(lo, hi)) freeSwapAndCache(m, c, m.swap.entry(f.swpType(lo, hi), f.swpOffset(lo, hi)))
  mmu.ptepGetAndClear(ptr, c.id)
}

/**
 * `install_page(mm, vma, addr, page, prot)`: map page-cache page `pfn` at
 * `addr`, replacing whatever the pte held. The caller's reference on the page
 * becomes the pte's.
 */
export function installPage(m: Machine, c: Cpu, vma: Vma, addr: number, pfn: number, prot: number): void {
  const f = m.fast
  m.rmap.pageRmapReserve(m, c)
  const ptr = pteAllocMap(m.env, vma.mm.id, addr, c.id)
  try {
    zapPte(m, c, vma, addr, ptr)
    vma.mm.rss++
    m.env.mmu.setPte(ptr, f.mkPteLo(pfn, prot), f.mkPteHi(pfn, prot), c.id)
    m.rmap.pageAddRmap(m, c, pfn, vma, addr, ptr, false)
    m.counters.filemap.installPage++
  } finally {
    pteUnmap(m.env, ptr, c.id)
  }
}

/**
 * `install_file_pte(mm, vma, addr, pgoff, prot)`: store file page offset
 * `pgoff` in the pte of `addr` (pgoff_to_pte), replacing whatever it held.
 */
export function installFilePte(m: Machine, c: Cpu, vma: Vma, addr: number, pgoff: number): void {
  const f = m.fast
  const ptr = pteAllocMap(m.env, vma.mm.id, addr, c.id)
  try {
    zapPte(m, c, vma, addr, ptr)
    m.env.mmu.setPte(ptr, f.pgoffLo(pgoff), f.pgoffHi(pgoff), c.id)
    m.counters.filemap.installFilePte++
  } finally {
    pteUnmap(m.env, ptr, c.id)
  }
}

/**
 * `filemap_populate(vma, addr, len, prot, pgoff, nonblock)`: install file pages
 * [pgoff, pgoff + len/PAGE) at [addr, addr + len). EINVAL (answered, not
 * thrown) when the range reaches past i_size rounded up to a page. With
 * `nonblock`, a page not in the cache is left as a file pte at a nonlinear
 * position and untouched at a linear one. ENOMEM (answered) when a page, a
 * page table or (2.6.4) a pte_chain cannot be allocated: the page in hand is
 * released (page_cache_release) and the pages installed before it stay, as in
 * the kernel, which returns install_page's or install_file_pte's -ENOMEM.
 */
export function filemapPopulate(
  m: Machine,
  c: Cpu,
  vma: Vma,
  addr: number,
  len: number,
  prot: number,
  pgoff: number,
  nonblock: boolean,
): 'EINVAL' | 'ENOMEM' | null {
  const as = vma.file
  if (!as) return 'EINVAL'
  for (; len > 0; len -= PAGE, addr += PAGE, pgoff++) {
    if (pgoff + len / PAGE > as.sizePages) return 'EINVAL'
    let pfn = -1
    try {
      pfn = filemapGetPage(m, c, as, pgoff, nonblock)
      if (pfn >= 0) installPage(m, c, vma, addr, pfn, prot)
      else if (pgoff !== vma.linearIndex(addr)) installFilePte(m, c, vma, addr, pgoff)
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e
      // install_page failed before changing anything: the caller's reference goes.
      if (pfn >= 0) m.putPage(pfn)
      return 'ENOMEM'
    }
  }
  return null
}

/**
 * `sys_remap_file_pages(start, size, prot, pgoff, flags)`, with the -aa
 * tree's checks, each EINVAL: prot must be 0; start and size are rounded down
 * to pages and the range must not be empty or wrap; pgoff + pages must fit
 * a file pte (PTE_FILE_MAX_BITS, where that is narrower than a long); the
 * range must lie inside one VM_SHARED vma with a `->populate` (a disk file
 * here; a MAP_SHARED mapping of a read-only fd is not VM_SHARED); and the
 * file pages must lie within i_size (filemap_populate, after VM_NONLINEAR was
 * set: the flag stays even then).
 */
export function sysRemapFilePages(
  m: Machine,
  c: Cpu,
  mm: Mm,
  start: number,
  size: number,
  prot: number,
  pgoff: number,
  flags: number,
): void {
  const S = 'remap_file_pages'
  const g = m.arch.geometry
  const longSpan = 2 ** g.BITS_PER_LONG
  for (const [name, v] of [
    ['start', start],
    ['size', size],
    ['prot', prot],
    ['pgoff', pgoff],
    ['flags', flags],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v >= longSpan)
      throw new SyscallError(S, 'EINVAL', `${name} ${v} is not an unsigned long`)
  }
  if (prot !== 0) throw new SyscallError(S, 'EINVAL', `prot 0x${prot.toString(16)} is not 0`)
  start -= start % PAGE
  size -= size % PAGE
  // Does the range wrap (at 2^BITS_PER_LONG), or is it empty?
  if ((start + size) % longSpan <= start)
    throw new SyscallError(S, 'EINVAL', 'the range is empty or wraps around the address space')
  if (g.PTE_FILE_MAX_BITS < g.BITS_PER_LONG && pgoff + size / PAGE >= 2 ** g.PTE_FILE_MAX_BITS) {
    throw new SyscallError(
      S,
      'EINVAL',
      `pgoff ${pgoff} + ${size / PAGE} pages does not fit a file pte (PTE_FILE_MAX_BITS ${g.PTE_FILE_MAX_BITS})`,
    )
  }
  const end = start + size
  const vma = mm.findVma(start)
  if (!vma || !(vma.flags & VM.SHARED) || !vma.file || start < vma.start || end > vma.end) {
    throw new SyscallError(
      S,
      'EINVAL',
      !vma || start < vma.start
        ? `0x${start.toString(16)} is not inside a mapping`
        : !(vma.flags & VM.SHARED) || !vma.file
          ? 'the mapping is not a VM_SHARED file mapping'
          : 'the range runs past the end of the mapping',
    )
  }
  if (pgoff !== vma.linearIndex(start)) vma.flags |= VM.NONLINEAR
  const err = filemapPopulate(m, c, vma, start, size, vma.pageProt, pgoff, (flags & MAP_NONBLOCK) !== 0)
  if (err === 'ENOMEM') {
    throw new SyscallError(
      S,
      err,
      'out of memory for a page, a page table or a pte_chain while populating (the pages before it stay remapped)',
    )
  }
  if (err) {
    throw new SyscallError(S, err, `file pages ${pgoff}..${pgoff + size / PAGE - 1} reach past i_size`)
  }
}
