/**
 * Generic page-table code of mm/memory.c on top of the arch contract:
 * `pmd_alloc`, `pte_alloc_map` (user, counted), `pte_alloc_kernel` (kernel,
 * counted only by the 2.6.4 pte_chain kernels), `pte_offset_map`/`pte_unmap`,
 * `pte_offset_kernel`, `clear_page_tables`/`free_one_pmd`, and the pgtable rmap
 * (`ptep_to_mm`, `ptep_to_address`) that ppc and ppc64 need.
 *
 * Page tables are raw words in `env.tables`; upper-level entries are written in
 * the arch's own encoding (`fast.pmdEntryLo`...), so a pgd or pmd page holds
 * exactly the bits the kernel would have put there.
 *
 * The model runs one thread at a time: `pte_alloc_map` still re-checks the pmd
 * after allocating (the kernel drops page_table_lock to allocate, so another
 * thread may have installed a table meanwhile), and a page that lost that race
 * goes back through `pte_free` uncounted.
 */
import { INIT_MM, NO_MAPPING, type PgtableEnv } from './arch/env.js'
import { KM } from './arch/highmem.js'
import type { PtePtr } from './arch/mmu.js'
import { PS } from './arch/percpu.js'
import type { Arch } from './arch/types.js'
import { BUG } from './bugs.js'
import { ArchLimitError, KernelBugError } from './errors.js'

/** "No pte here": returned by lookups when the pmd is empty. */
export const NO_PTE = -1

/** TASK_SIZE of the layout last checked, as a number (the geometry holds a bigint). */
let taskArch: Arch | undefined
let taskSize = 0

/** Reject an address a user page-table walk cannot take. */
export function checkUserAddress(arch: Arch, fn: string, address: number): void {
  if (arch !== taskArch) {
    taskSize = Number(arch.geometry.TASK_SIZE)
    taskArch = arch
  }
  if (Number.isInteger(address) && address >= 0 && address < taskSize) return
  if (!Number.isInteger(address) || address < 0) {
    throw new ArchLimitError(arch.name, fn, 'address', 'a non-negative integer', address)
  }
  throw new ArchLimitError(
    arch.name,
    fn,
    'address',
    `below TASK_SIZE (0x${arch.geometry.TASK_SIZE.toString(16)})`,
    address,
  )
}

function pgdWords(arch: Arch): number {
  return arch.geometry.PGD_ENTRY_BITS >>> 5
}
function pmdWords(arch: Arch): number {
  return arch.geometry.PMD_ENTRY_BITS >>> 5
}

/**
 * Word offset in `env.tables.words` of the pmd entry for (pgd index, pmd index)
 * of `mm`; allocates the pmd page of a 3-level layout when `alloc` is set.
 * Returns -1 when the pmd page is missing and `alloc` is not set.
 */
function pmdSlot(env: PgtableEnv, mm: number, pgdI: number, pmdI: number, alloc: boolean): number {
  const { arch, tables } = env
  const pgd = env.mmPgd(mm)
  const pgdAt = tables.base(pgd) + pgdI * pgdWords(arch)
  if (arch.geometry.levels === 2) return pgdAt // the pmd is the pgd slot (folded)
  const w = tables.words
  let lo = w[pgdAt]!
  let hi = pgdWords(arch) === 2 ? w[pgdAt + 1]! : 0
  if (lo === 0 && hi === 0) {
    if (!alloc) return -1
    // pmd_alloc: kernel page, lowmem, never counted (docs/layouts.md#pagetables-accounting).
    const pmdPfn = env.allocPage({ highmem: false })
    tables.attach(pmdPfn)
    lo = arch.fast.pgdEntryLo(pmdPfn)
    hi = arch.fast.pgdEntryHi(pmdPfn)
    const ww = tables.words
    if (pgdWords(arch) === 2) ww[pgdAt + 1] = hi
    ww[pgdAt] = lo
  }
  const pmdPfn = arch.fast.pgdPfn(lo, hi)
  return tables.base(pmdPfn) + pmdI * pmdWords(arch)
}

function readEntry(env: PgtableEnv, at: number, words: number): { lo: number; hi: number } {
  const w = env.tables.words
  return { lo: w[at]!, hi: words === 2 ? w[at + 1]! : 0 }
}

/** The pfn of the pte page the pmd entry at word `at` points to, or -1 when the entry is empty. */
function pmdPtePage(env: PgtableEnv, at: number): number {
  const w = env.tables.words
  const lo = w[at]!
  const hi = pmdWords(env.arch) === 2 ? w[at + 1]! : 0
  if (lo === 0 && hi === 0) return -1
  return env.arch.fast.pmdPfn(lo, hi)
}

function pmdPopulate(env: PgtableEnv, at: number, ptePfn: number): void {
  const w = env.tables.words
  if (pmdWords(env.arch) === 2) w[at + 1] = env.arch.fast.pmdEntryHi(ptePfn)
  w[at] = env.arch.fast.pmdEntryLo(ptePfn)
}

function ptePtr(env: PgtableEnv, ptePfn: number, pteI: number): PtePtr {
  return ptePfn * env.arch.geometry.PTRS_PER_PTE + pteI
}

/** The pte page and the index of a pte location. */
export function ptePage(env: PgtableEnv, ptr: PtePtr): number {
  return env.tables.ptePfn(ptr)
}

/** Word offset of the pte at `ptr`. */
export function pteWordOffset(env: PgtableEnv, ptr: PtePtr): number {
  return env.tables.pteWord(ptr)
}

/** Low word of the pte at `ptr`. */
export function pteLo(env: PgtableEnv, ptr: PtePtr): number {
  return env.tables.words[pteWordOffset(env, ptr)]!
}

/** High word of the pte at `ptr` (0 for 32-bit ptes). */
export function pteHi(env: PgtableEnv, ptr: PtePtr): number {
  return env.arch.fast.words === 2 ? env.tables.words[pteWordOffset(env, ptr) + 1]! : 0
}

/** The pte at `ptr` as the kernel's pte_val, for inspection (allocates a bigint). */
export function pteVal(env: PgtableEnv, ptr: PtePtr): bigint {
  return BigInt(pteLo(env, ptr)) | (BigInt(pteHi(env, ptr)) << 32n)
}

/**
 * The pgtable rmap of 2.6.4–2.6.6 (asm-generic/rmap.h `pgtable_add_rmap`): tag the
 * pte page with its mm and base address and count it, except on ppc/ppc64
 * before mem_init_done (BROKEN_PPC_PTE_ALLOC_ONE).
 */
function pgtableAddRmap(env: PgtableEnv, pfn: number, mm: number, address: bigint, cpu: number): void {
  // The re-introduced ppc-early-pte-count bug counts without this guard.
  if (env.arch.pgtable.brokenPteAllocOneEarly && !env.memInitDone && !(env.bugs & BUG.ppcEarlyPteCount))
    return
  const span = BigInt(env.arch.geometry.PTRS_PER_PTE) * env.arch.geometry.PAGE_SIZE
  env.setPageMapping(pfn, mm, address - (address % span))
  env.pageState.inc(cpu, PS.nr_page_table_pages)
}

/** `pgtable_remove_rmap`: untag and uncount (2.6.4–2.6.6). */
function pgtableRemoveRmap(env: PgtableEnv, pfn: number, cpu: number): void {
  env.setPageMapping(pfn, NO_MAPPING, 0n)
  env.pageState.dec(cpu, PS.nr_page_table_pages)
}

function mapPte(env: PgtableEnv, ptePfn: number, slot: number, cpu: number): void {
  if (env.arch.pgtable.pteOffsetMapKmaps) env.kmap.map(cpu, slot, ptePfn, env.isHighmem(ptePfn))
}

/**
 * `pte_offset_map(pmd, address)` for a user address: the pte location, mapped
 * through kmap slot KM_PTE0 where the arch kmaps pte pages. Returns
 * {@link NO_PTE} (and maps nothing) when there is no pte page. Pair with
 * {@link pteUnmap}. The slot is `cpu`'s (the cpu the caller runs on; the VM
 * model passes its cpu context's id, a direct caller may leave it to `env.cpu`).
 */
export function pteOffsetMap(env: PgtableEnv, mm: number, address: number, cpu: number = env.cpu): PtePtr {
  return offsetMap(env, mm, address, KM.KM_PTE0, cpu)
}

/** `pte_offset_map_nested`: as {@link pteOffsetMap} with slot KM_PTE1. Pair with {@link pteUnmapNested}. */
export function pteOffsetMapNested(
  env: PgtableEnv,
  mm: number,
  address: number,
  cpu: number = env.cpu,
): PtePtr {
  return offsetMap(env, mm, address, KM.KM_PTE1, cpu)
}

function offsetMap(env: PgtableEnv, mm: number, address: number, slot: number, cpu: number): PtePtr {
  const { fast } = env.arch
  checkUserAddress(env.arch, 'pteOffsetMap', address)
  const at = pmdSlot(env, mm, fast.pgdIndex(address), fast.pmdIndex(address), false)
  if (at < 0) return NO_PTE
  const ptePfn = pmdPtePage(env, at)
  if (ptePfn < 0) return NO_PTE
  mapPte(env, ptePfn, slot, cpu)
  return ptePtr(env, ptePfn, fast.pteIndex(address))
}

/** `pte_unmap`: release what {@link pteOffsetMap} or {@link pteAllocMap} mapped. */
export function pteUnmap(env: PgtableEnv, ptr: PtePtr, cpu: number = env.cpu): void {
  unmapPte(env, ptr, KM.KM_PTE0, cpu)
}

/** `pte_unmap_nested`. */
export function pteUnmapNested(env: PgtableEnv, ptr: PtePtr, cpu: number = env.cpu): void {
  unmapPte(env, ptr, KM.KM_PTE1, cpu)
}

function unmapPte(env: PgtableEnv, ptr: PtePtr, slot: number, cpu: number): void {
  if (!env.arch.pgtable.pteOffsetMapKmaps) return
  const pfn = ptePage(env, ptr)
  env.kmap.unmap(cpu, slot, pfn, env.isHighmem(pfn))
}

/**
 * `pte_alloc_map(mm, pmd, address)`: the pte location for a user address,
 * allocating the pmd and pte pages if needed, mapped with KM_PTE0 (pair with
 * {@link pteUnmap}). A new pte page is counted in nr_page_table_pages on the
 * current cpu (2.6.5-aa, 2.6.7) or through pgtable_add_rmap (2.6.4).
 */
export function pteAllocMap(env: PgtableEnv, mm: number, address: number, cpu: number = env.cpu): PtePtr {
  const { arch } = env
  const { fast } = arch
  checkUserAddress(arch, 'pteAllocMap', address)
  const at = pmdSlot(env, mm, fast.pgdIndex(address), fast.pmdIndex(address), true)
  let ptePfn = pmdPtePage(env, at)
  if (ptePfn < 0) {
    const { pfn } = arch.pgtable.pteAllocOne(env, mm, BigInt(address))
    runRacer(env, mm, BigInt(address))
    // Re-check under page_table_lock: another thread may have populated the pmd
    // while the lock was dropped. The loser is freed uncounted.
    if (pmdPtePage(env, at) >= 0) {
      arch.pgtable.pteFree(env, pfn)
    } else {
      if (env.rules.pgtableRmap) pgtableAddRmap(env, pfn, mm, BigInt(address), cpu)
      else if (env.rules.countsUserPteTables) env.pageState.inc(cpu, PS.nr_page_table_pages)
      pmdPopulate(env, at, pfn)
    }
    ptePfn = pmdPtePage(env, at)
  }
  mapPte(env, ptePfn, KM.KM_PTE0, cpu)
  return ptePtr(env, ptePfn, fast.pteIndex(address))
}

/**
 * `pte_alloc_map` for a pte a walk of the same address has just found (see
 * handleMmFault): the pte page exists, so only `cpu`'s kmap of KM_PTE0 is
 * taken. Pair with {@link pteUnmap}.
 */
export function pteMapFound(env: PgtableEnv, ptr: PtePtr, cpu: number = env.cpu): PtePtr {
  mapPte(env, ptePage(env, ptr), KM.KM_PTE0, cpu)
  return ptr
}

/**
 * Let the racing "other thread" run while page_table_lock is dropped. `env.cpu`
 * (what a direct caller's arch calls default to) is put back as it was,
 * whatever the hook did with it.
 */
function runRacer(env: PgtableEnv, mm: number, address: bigint): void {
  const hook = env.onPageTableLockDropped
  if (!hook) return
  const prev = env.cpu
  env.onPageTableLockDropped = undefined // the other thread allocates without racing again
  try {
    hook(mm, address)
  } finally {
    env.onPageTableLockDropped = hook
    env.cpu = prev
  }
}

/** Indices of a kernel (or any) address, through the bigint macros. */
function kernelIndices(arch: Arch, address: bigint): [number, number, number] {
  if (address < 0n || address >= 1n << BigInt(arch.geometry.BITS_PER_LONG)) {
    throw new ArchLimitError(
      arch.name,
      'pteAllocKernel',
      'address',
      `an unsigned ${arch.geometry.BITS_PER_LONG}-bit address`,
      address,
    )
  }
  return [arch.macros.pgdIndex(address), arch.macros.pmdIndex(address), arch.macros.pteIndex(address)]
}

/**
 * `pte_alloc_kernel(mm, pmd, address)`: a kernel pte (vmalloc, ioremap; ppc
 * `map_page`). Kernel pte pages are never in highmem and never kmapped. Only
 * the 2.6.4 profile counts them (through pgtable_add_rmap, skipped on ppc and
 * ppc64 before mem_init_done).
 */
export function pteAllocKernel(env: PgtableEnv, mm: number, address: bigint, cpu: number = env.cpu): PtePtr {
  const { arch } = env
  const [pgdI, pmdI, pteI] = kernelIndices(arch, address)
  if (pgdI >= arch.geometry.PTRS_PER_PGD) {
    throw new ArchLimitError(
      arch.name,
      'pteAllocKernel',
      'address',
      `pgd_index below PTRS_PER_PGD (${arch.geometry.PTRS_PER_PGD})`,
      address,
    )
  }
  const at = pmdSlot(env, mm, pgdI, pmdI, true)
  let ptePfn = pmdPtePage(env, at)
  if (ptePfn < 0) {
    const { pfn } = arch.pgtable.pteAllocOneKernel(env, mm, address)
    if (env.isHighmem(pfn)) {
      throw new KernelBugError('kernel pte page in highmem', 'pte_alloc_one_kernel', `pfn ${pfn}`)
    }
    runRacer(env, mm, address)
    if (pmdPtePage(env, at) >= 0) {
      arch.pgtable.pteFreeKernel(env, pfn)
    } else {
      if (env.rules.countsKernelPteTables) pgtableAddRmap(env, pfn, mm, address, cpu)
      pmdPopulate(env, at, pfn)
    }
    ptePfn = pmdPtePage(env, at)
  }
  return ptePtr(env, ptePfn, pteI)
}

/**
 * `pte_offset_kernel(pmd, address)`: the pte location through the linear map.
 * Never kmaps (kernel pte pages are lowmem), so there is nothing to release.
 * Returns {@link NO_PTE} when there is no pte page.
 */
export function pteOffsetKernel(env: PgtableEnv, mm: number, address: bigint): PtePtr {
  const { arch } = env
  const [pgdI, pmdI, pteI] = kernelIndices(arch, address)
  if (pgdI >= arch.geometry.PTRS_PER_PGD) return NO_PTE
  const at = pmdSlot(env, mm, pgdI, pmdI, false)
  if (at < 0) return NO_PTE
  const ptePfn = pmdPtePage(env, at)
  if (ptePfn < 0) return NO_PTE
  if (env.isHighmem(ptePfn)) {
    throw new KernelBugError(
      'pte_offset_kernel on a highmem pte page',
      'include/asm-i386/pgtable.h pte_offset_kernel',
      `pfn ${ptePfn}`,
    )
  }
  return ptePtr(env, ptePfn, pteI)
}

/**
 * Find the pte of a user address without mapping it (for inspection and the
 * MMU cache's coherence check). Returns {@link NO_PTE} when there is none.
 */
export function lookupPte(env: PgtableEnv, mm: number, address: number): PtePtr {
  const { fast } = env.arch
  const at = pmdSlot(env, mm, fast.pgdIndex(address), fast.pmdIndex(address), false)
  if (at < 0) return NO_PTE
  const ptePfn = pmdPtePage(env, at)
  return ptePfn < 0 ? NO_PTE : ptePtr(env, ptePfn, fast.pteIndex(address))
}

/**
 * `free_one_pmd`: free the pte page a pmd entry points to and clear the entry.
 * The pte page is uncounted on `cpu` (dec_page_state, or
 * pgtable_remove_rmap on 2.6.4), then freed through `pte_free_tlb`.
 */
function freeOnePmd(env: PgtableEnv, at: number, cpu: number): void {
  const ptePfn = pmdPtePage(env, at)
  if (ptePfn < 0) return
  const w = env.tables.words
  w[at] = 0
  if (pmdWords(env.arch) === 2) w[at + 1] = 0
  if (env.rules.pgtableRmap) pgtableRemoveRmap(env, ptePfn, cpu)
  else if (env.rules.countsUserPteTables) env.pageState.dec(cpu, PS.nr_page_table_pages)
  env.arch.pgtable.pteFree(env, ptePfn)
}

/**
 * `clear_page_tables(tlb, first, nr)`: free the pte pages (and pmd pages of
 * layouts that allocate them on demand) under `nr` pgd entries from `first`.
 * The caller has already unmapped every pte in that range.
 */
export function clearPageTables(
  env: PgtableEnv,
  mm: number,
  first: number,
  nr: number,
  cpu: number = env.cpu,
): void {
  const { arch, tables } = env
  const g = arch.geometry
  if (mm === INIT_MM)
    throw new KernelBugError('clear_page_tables on init_mm', 'mm/memory.c clear_page_tables')
  if (
    !Number.isInteger(first) ||
    !Number.isInteger(nr) ||
    first < 0 ||
    nr < 0 ||
    first + nr > g.USER_PTRS_PER_PGD
  ) {
    throw new ArchLimitError(
      arch.name,
      'clearPageTables',
      'first + nr',
      `within USER_PTRS_PER_PGD (${g.USER_PTRS_PER_PGD})`,
      first + nr,
    )
  }
  const pgdBase = tables.base(env.mmPgd(mm))
  for (let i = first; i < first + nr; i++) {
    const pgdAt = pgdBase + i * pgdWords(arch)
    if (g.levels === 2) {
      freeOnePmd(env, pgdAt, cpu)
      continue
    }
    const { lo, hi } = readEntry(env, pgdAt, pgdWords(arch))
    if (lo === 0 && hi === 0) continue
    const pmdPfn = arch.fast.pgdPfn(lo, hi)
    const pmdBase = tables.base(pmdPfn)
    for (let j = 0; j < g.PTRS_PER_PMD; j++) freeOnePmd(env, pmdBase + j * pmdWords(arch), cpu)
    if (arch.pgtable.pgdPreallocPmds === 0) {
      // pmd_free_tlb: ppc64 pmds come and go with their pgd entry; i386 PAE
      // keeps its pgd_alloc-time pmds until pgd_free.
      const ww = tables.words
      ww[pgdAt] = 0
      if (pgdWords(arch) === 2) ww[pgdAt + 1] = 0
      tables.detach(pmdPfn)
      env.freePage(pmdPfn)
    }
  }
}

/**
 * `ptep_to_mm`: the mm a pte belongs to, read from page->mapping of its pte page
 * (ppc and ppc64 tag pte pages; see docs/layouts.md#mmu-cache-coherence). {@link NO_MAPPING}
 * for an untagged page, such as a ppc pte page built before mem_init_done.
 */
export function ptepToMm(env: PgtableEnv, ptr: PtePtr): number {
  return env.pageMapping(ptePage(env, ptr))
}

/**
 * `ptep_to_address`: page->index of the pte page plus the entry's share of it,
 * i.e. index + (byte offset / sizeof(pte_t)) * PAGE_SIZE. This is the generic
 * formula of 2.6.5 (byte offset × PTRS_PER_PTE) and 2.6.6 (the ARM fix), which
 * agree on every layout here; ppc's `flush_hash_one_pte` shifted by 9 instead
 * (docs/layouts.md#mmu-cache-coherence), which the ppc package documents.
 */
export function ptepToAddress(env: PgtableEnv, ptr: PtePtr): bigint {
  const pfn = ptePage(env, ptr)
  const idx = ptr - pfn * env.arch.geometry.PTRS_PER_PTE
  return env.pageIndex(pfn) + BigInt(idx) * env.arch.geometry.PAGE_SIZE
}

/**
 * The pte pages under the user part of `mm`'s page tables (pgd entries below
 * USER_PTRS_PER_PGD, or the first `pgdEntries`), found by walking the pgd and
 * pmd pages, not the address space.
 */
export function userPtePages(env: PgtableEnv, mm: number, pgdEntries?: number): number[] {
  const { arch, tables } = env
  const g = arch.geometry
  const out: number[] = []
  const entries = pgdEntries ?? g.USER_PTRS_PER_PGD
  const pgdBase = tables.base(env.mmPgd(mm))
  const pw = pgdWords(arch)
  const mw = pmdWords(arch)
  for (let i = 0; i < entries; i++) {
    const at = pgdBase + i * pw
    if (g.levels === 2) {
      const pte = pmdPtePage(env, at)
      if (pte >= 0) out.push(pte)
      continue
    }
    const { lo, hi } = readEntry(env, at, pw)
    if (lo === 0 && hi === 0) continue
    const pmdBase = tables.base(arch.fast.pgdPfn(lo, hi))
    for (let j = 0; j < g.PTRS_PER_PMD; j++) {
      const pte = pmdPtePage(env, pmdBase + j * mw)
      if (pte >= 0) out.push(pte)
    }
  }
  return out
}
