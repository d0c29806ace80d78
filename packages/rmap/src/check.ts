/**
 * `m.check()`: the whole-machine consistency check, run by the tests after
 * every step. Each violation names the invariant it breaks:
 *
 * - every present user pte maps a page whose mapcount counts it (and nothing else does);
 * - the rmap walk of every mapped page finds exactly mapcount ptes;
 * - anon pages' (mapping, index) agree with every vma that maps them;
 * - page count covers the mappings (count == mapcount for anonymous pages);
 * - nr_mapped and nr_page_table_pages equal what they count;
 * - rss per mm equals its present ptes of non-reserved pages;
 * - vmas are sorted, do not overlap, and sit on their anon_vma lists;
 * - page frames are conserved (free + in use = total);
 * - no kmap slot is left held, and the TLB or hash table holds no stale entry.
 */

import { PS } from './arch/percpu.js'
import { InvariantError } from './errors.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import { lookupPte, NO_PTE, pteWordOffset, userPtePages } from './pgtable.js'
import { countRmapPtes } from './rmap/objrmap.js'

/** Run every check; throw an InvariantError listing the violations. */
export function runCheck(m: Machine): void {
  const v: string[] = []
  const fr = m.frames
  const f = m.fast
  const ptes = new Int32Array(fr.n)
  let ptePages = 0
  for (const p of m.processes()) {
    const mm = p.mm
    let rss = 0
    let prevEnd = 0
    for (const vma of mm.vmas) {
      if (vma.start < prevEnd || vma.start >= vma.end)
        v.push(`vmas of pid ${p.pid} are sorted and do not overlap (0x${vma.start.toString(16)})`)
      prevEnd = vma.end
      if (vma.anonVma && !vma.anonVma.vmas.includes(vma))
        v.push(`a vma with an anon_vma is on its list (pid ${p.pid}, 0x${vma.start.toString(16)})`)
      for (let a = vma.start; a < vma.end; a += 4096) {
        const ptr = lookupPte(m.env, mm.id, a)
        if (ptr === NO_PTE) continue
        const w = m.env.tables.words
        const at = pteWordOffset(m.env, ptr)
        const lo = w[at]!
        const hi = f.words === 2 ? w[at + 1]! : 0
        if (!f.present(lo, hi)) continue
        const pfn = f.pfn(lo, hi)
        if (pfn >= fr.n) {
          v.push(`a present pte maps a valid pfn (pid ${p.pid}, 0x${a.toString(16)} → ${pfn})`)
          continue
        }
        if (fr.test(pfn, PG.reserved)) continue
        rss++
        ptes[pfn]!++
        if (fr.test(pfn, PG.anon)) {
          if (!vma.anonVma || fr.mapping[pfn] !== vma.anonVma.id || fr.index[pfn] !== vma.linearIndex(a)) {
            v.push(
              `anon page ${pfn} (mapping ${fr.mapping[pfn]}, index ${fr.index[pfn]}) agrees with the vma mapping it at 0x${a.toString(16)} (anon_vma ${vma.anonVma?.id}, index ${vma.linearIndex(a)})`,
            )
          }
        }
      }
    }
    if (rss !== mm.rss) v.push(`rss of pid ${p.pid} (${mm.rss}) equals its present ptes (${rss})`)
    void prevEnd
  }
  let mapped = 0
  for (let pfn = 0; pfn < fr.n; pfn++) {
    if (m.env.tables.has(pfn)) continue
    const mc = fr.mapcount[pfn]!
    if (mc !== ptes[pfn]) v.push(`mapcount of page ${pfn} (${mc}) counts its ptes (${ptes[pfn]})`)
    if (mc > 0) {
      mapped++
      const found = countRmapPtes(m, pfn)
      if (found !== mc) v.push(`the rmap walk of page ${pfn} finds its mapcount (${mc}) ptes, found ${found}`)
      if (fr.test(pfn, PG.anon) && fr.count[pfn] !== mc + (fr.test(pfn, PG.swapcache) ? 1 : 0)) {
        v.push(`count of anon page ${pfn} (${fr.count[pfn]}) equals its mappings (${mc}) plus the swap cache`)
      }
    } else if (fr.test(pfn, PG.anon)) {
      v.push(`PG_anon is set only on mapped pages (page ${pfn})`)
    }
  }
  const ps = m.env.pageState
  if (ps.count(PS.nr_mapped) !== mapped)
    v.push(`nr_mapped (${ps.count(PS.nr_mapped)}) equals the mapped pages (${mapped})`)
  for (const p of m.processes()) ptePages += userPtePages(m.env, p.mm.id).length
  if (m.env.rules.countsKernelPteTables === false && ps.count(PS.nr_page_table_pages) !== ptePages) {
    v.push(
      `nr_page_table_pages (${ps.count(PS.nr_page_table_pages)}) equals the user pte pages (${ptePages})`,
    )
  }
  const env = m.env
  const free = env.freePagesPerZone().reduce((a, b) => a + b, 0)
  let used = 0
  for (let pfn = 0; pfn < fr.n; pfn++) if (fr.count[pfn]! > 0) used++
  if (free + used + (env.bootmemPages - env.bootmemUsed) !== env.totalPages) {
    v.push(
      `page frames are conserved: free ${free} + in use ${used} + spare bootmem = total ${env.totalPages}`,
    )
  }
  for (const k of env.kmap.outstanding())
    v.push(`kmap slot ${k.slot} on cpu ${k.cpu} is released (holds pfn ${k.pfn})`)
  for (const s of env.mmu.stale()) {
    v.push(
      `the MMU cache holds no stale entry: ${s.cpu >= 0 ? `cpu ${s.cpu}` : 'hash table'} maps 0x${s.address.toString(16)} of mm ${s.mm} to pfn ${s.cachedPfn} (${s.reason})`,
    )
  }
  if (v.length) throw new InvariantError(v)
}
