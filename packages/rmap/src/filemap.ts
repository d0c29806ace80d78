/**
 * Files and their page cache: `address_space` with the two vma lists objrmap
 * walks (`i_mmap` for private mappings, `i_mmap_shared` for shared ones), the
 * `truncate_count` that closes the nopage/truncate race, and the pages cached
 * by index (kernel-facts/rmap.md §1.5).
 *
 * A file's content is modelled per page as one 32-bit word: a page never
 * written reads a value derived from (file id, page index), and writeback
 * stores the word in the file's blocks, so a value written through a shared
 * mapping reads back after the page was dropped.
 */
import type { Vma } from './mm/vma.js'

/** An inode's address_space. */
export class AddressSpace {
  /** Object id, stored in page->mapping of its pages. */
  readonly id: number
  /** The path it was created under. */
  readonly path: string
  /** i_size in bytes. */
  size: number
  /** Private (MAP_PRIVATE) vmas mapping the file. */
  readonly iMmap: Vma[] = []
  /** Shared (MAP_SHARED) vmas mapping the file. */
  readonly iMmapShared: Vma[] = []
  /** Bumped by invalidate_mmap_range so that a racing do_no_page retries. */
  truncateCount = 0
  /** i_shared_sem: held while the vma lists are walked or changed (trylocked by reclaim). */
  sharedSemHeld = false
  /** The page cache: page index → pfn. */
  readonly pages = new Map<number, number>()
  /** The file's blocks: the last word written back per page index. */
  readonly blocks = new Map<number, number>()

  constructor(id: number, path: string, size: number) {
    this.id = id
    this.path = path
    this.size = size
  }

  /** The word a page reads before anything was written to it: derived from (file, index). */
  initialWord(index: number): number {
    return (Math.imul(this.id, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0
  }

  /** The word on disk for page `index`. */
  diskWord(index: number): number {
    return this.blocks.get(index) ?? this.initialWord(index)
  }
}
