// remap_file_pages when memory runs out while it populates (mm/fremap.c
// install_page answers -ENOMEM when it cannot get a page table; mm/filemap.c
// filemap_populate then drops its reference on the page, page_cache_release,
// and returns the error). Found by tools/fuzz (seed 778, ppc, every design):
// the model kept the page's reference, which m.check() reported as a page-cache
// page counted once more than its mappings and the cache.
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
  RMAP_DESIGNS,
} from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { ARCHES, errnoOf } from './vm-helpers.js'

const P = 4096

/** mmap and mlock `pages` anonymous pages (mlock faults them in; it may run out). */
function hog(p: Process, pages: number): void {
  const a = p.mmap(0, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
  try {
    p.mlock(a, pages * P)
  } catch {
    // memory is full: what was faulted in stays
  }
}

describe('remap_file_pages that runs out of memory releases the page it holds', () => {
  for (const arch of ARCHES) {
    for (const rmap of RMAP_DESIGNS) {
      it(`${arch.name} ${rmap}: ENOMEM, no reference left behind, m.check() holds`, () => {
        const m = new Machine({ arch, ram: '4M', swap: 0, seed: 7, rmap })
        m.fs.create('/tmp/a', { size: 3 * P, fill: 0x100 })
        const p = m.spawn()
        const fd = p.open('/tmp/a', O_RDWR)
        const a = p.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0)
        // The page is in the page cache (a read through another mapping, then gone).
        const q = m.spawn()
        const b = q.mmap(0, P, PROT_READ, MAP_SHARED, q.open('/tmp/a', O_RDWR), 0)
        expect(q.read(b)).toBe(0x100)
        q.exit()
        // Fill memory with locked anonymous pages: no frame is left for a page table.
        hog(m.spawn(), 2048)
        expect(errnoOf(() => p.remapFilePages(a, P, 0, 0))).toBe('ENOMEM')
        m.check()
        p.exit()
        m.check()
      })
    }
  }
})
