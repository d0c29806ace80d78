/**
 * The reverse-mapping strategy interface. Callers (faults, fork, munmap,
 * reclaim) go through it, so that Rik's pte_chains (2.6.4) and Hugh's anonmm
 * can be added later without touching them (docs/designs.md#pte_chains, docs/designs.md#anonmm).
 */
import type { Machine } from '../machine.js'
import type { Vma } from '../mm/vma.js'

/** try_to_unmap's answer ([AA] objrmap.h: SWAP_SUCCESS 0, SWAP_AGAIN 1, SWAP_FAIL 2). */
export type SwapResult = 'SWAP_SUCCESS' | 'SWAP_AGAIN' | 'SWAP_FAIL'

/** Names of the strategies a Machine can run. */
export const RMAP_STRATEGIES = ['objrmap'] as const
/** A strategy name. */
export type RmapStrategyName = (typeof RMAP_STRATEGIES)[number]

/** What every rmap design provides, with the kernel's function names. */
export interface RmapStrategy {
  readonly name: RmapStrategyName
  /** `page_add_rmap(page, vma, address, anon)`: a pte now maps `pfn`. */
  pageAddRmap(m: Machine, pfn: number, vma: Vma, address: number, anon: boolean): void
  /** `page_remove_rmap(page)`: a pte no longer maps `pfn`. */
  pageRemoveRmap(m: Machine, pfn: number): void
  /** `page_referenced(page)` (page_map_lock held): young ptes cleared and counted. */
  pageReferenced(m: Machine, pfn: number): number
  /** `try_to_unmap(page)` (page lock and page_map_lock held). */
  tryToUnmap(m: Machine, pfn: number): SwapResult
}
