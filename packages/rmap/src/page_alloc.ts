/**
 * The part of mm/page_alloc.c that reclaim reads: the zone watermarks
 * (`setup_per_zone_pages_min` as `init_per_zone_pages_min` runs it at boot)
 * and `nr_free_pagecache_pages()`, from which kswapd_init takes vmscan.c's
 * `total_memory`. Checked against mm/page_alloc.c and mm/vmscan.c of the -aa
 * tree (ROCm/ROCK-Kernel-Driver at 0a71295f).
 *
 * - min_free_kbytes = int_sqrt(lowmem_kbytes), clamped to 128..16384, where
 *   lowmem_kbytes = nr_free_buffer_pages() · PAGE_SIZE/1024 with every
 *   pages_high still 0 (the initcall runs before any watermark is set): the
 *   present pages of DMA and Normal.
 * - pages_min of a lowmem zone = (min_free_kbytes >> (PAGE_SHIFT - 10)) ·
 *   present / lowmem_pages; of HighMem = present/1024 clamped to
 *   SWAP_CLUSTER_MAX..128. pages_low = 2·pages_min, pages_high = 3·pages_min.
 * - nr_free_pagecache_pages() = Σ (present − pages_high) over the GFP_HIGHUSER
 *   zonelist (every zone), zones with present ≤ pages_high counting 0.
 *
 * Order: init_per_zone_pages_min (page_alloc.o) and kswapd_init (vmscan.o) are
 * both module_init initcalls of the built-in kernel and run in mm/Makefile's
 * link order, page_alloc.o first, so total_memory sees the watermarks set.
 *
 * present_pages is the zone's whole span: the model has no holes, and the
 * frames bootmem took still count as present, as in the kernel.
 */
import type { PageTableEnv } from './arch/env.js'

/** The watermarks of one zone, in pages. */
export interface ZoneWatermarks {
  present: number
  pagesMin: number
  pagesLow: number
  pagesHigh: number
}

const cache = new WeakMap<PageTableEnv, readonly ZoneWatermarks[]>()

/** `setup_per_zone_pages_min` at boot, per zone (lowest zone first). */
export function zoneWatermarks(env: PageTableEnv): readonly ZoneWatermarks[] {
  let w = cache.get(env)
  if (w) return w
  const pageShift = env.arch.geometry.PAGE_SHIFT
  let lowmemPages = 0
  for (const z of env.zones) if (z.name !== 'HighMem') lowmemPages += z.end - z.start
  const lowmemKbytes = lowmemPages * (2 ** pageShift / 1024)
  const minFreeKbytes = Math.min(16384, Math.max(128, Math.floor(Math.sqrt(lowmemKbytes))))
  const pagesMinTotal = Math.floor(minFreeKbytes / 2 ** (pageShift - 10))
  w = env.zones.map((z) => {
    const present = z.end - z.start
    const pagesMin =
      z.name === 'HighMem'
        ? Math.min(128, Math.max(32, Math.floor(present / 1024)))
        : Math.floor((pagesMinTotal * present) / lowmemPages)
    return { present, pagesMin, pagesLow: pagesMin * 2, pagesHigh: pagesMin * 3 }
  })
  cache.set(env, w)
  return w
}

/** `nr_free_pagecache_pages()`: Σ present − pages_high over every zone (GFP_HIGHUSER). */
export function nrFreePagecachePages(env: PageTableEnv): number {
  let sum = 0
  for (const z of zoneWatermarks(env)) if (z.present > z.pagesHigh) sum += z.present - z.pagesHigh
  return sum
}
