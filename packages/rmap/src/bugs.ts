/**
 * Bugs of the "Re: 2.6.5-rc1-aa1" thread that a machine can re-introduce on
 * demand (the `bugs` option of Machine). With no `bugs` every path is the
 * fixed kernel.
 */

/** Names of the re-introducible bugs. */
export type BugName = 'pg-anon-race' | 'pg-anon-clear-race'

/** A re-introducible bug: its name, the mask bit the kernel paths test, and what it was. */
export interface BugInfo {
  readonly name: BugName
  readonly bit: number
  readonly what: string
}

/** Mask bits of `m.bugs`. */
export const BUG = {
  /** Callers SetPageAnon before page_add_rmap, outside page_map_lock (2.6.5-aa1). */
  pgAnonRace: 1,
  /** PG_anon cleared after page_map_lock is dropped on the last unmap (the mirror race). */
  pgAnonClearRace: 2,
} as const

/** Every re-introducible bug. */
export const BUGS: readonly BugInfo[] = [
  {
    name: 'pg-anon-race',
    bit: BUG.pgAnonRace,
    what:
      'the 2.6.5-aa1 code before the fix of <20040318230628.GA2050@dualathlon.random>: do_swap_page, ' +
      'do_wp_page, do_anonymous_page and unuse_pte SetPageAnon(page) outside page_map_lock, then ' +
      'page_add_rmap(page, vma, address) takes anon from PG_anon; reclaim unmapping the page from ' +
      'another mm in between clears PG_anon and page->mapping, and page_add_rmap treats the page as a ' +
      'file page: BUG_ON(!page->mapping) at mm/objrmap.c:271',
  },
  {
    name: 'pg-anon-clear-race',
    bit: BUG.pgAnonClearRace,
    what:
      'the mirror race (derived, not in the thread): page_remove_rmap drops the last mapping and ' +
      "page->mapping under page_map_lock but clears PG_anon after releasing it; another mm's " +
      'page_add_rmap in between links the page to its anon_vma, then PG_anon goes: a mapped page whose ' +
      'mapping is an anon_vma but which reclaim would walk as a file page',
  },
]

/** Names of the re-introducible bugs. */
export const BUG_NAMES: readonly BugName[] = BUGS.map((b) => b.name)

/** The mask of a `bugs` option; a RangeError listing the valid names for an unknown one. */
export function bugMask(names: readonly string[] | undefined, who: string): number {
  if (names === undefined) return 0
  if (!Array.isArray(names))
    throw new RangeError(`${who}: bugs must be an array of names; valid: ${BUG_NAMES.join(', ')}`)
  let mask = 0
  for (const n of names) {
    const b = BUGS.find((x) => x.name === n)
    if (!b) throw new RangeError(`${who}: unknown bug '${String(n)}'; valid: ${BUG_NAMES.join(', ')}`)
    mask |= b.bit
  }
  return mask
}
