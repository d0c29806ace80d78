/**
 * The page-frame state the model keeps per pfn, measured from the arrays
 * themselves: every typed array with one element per page frame found among the
 * own properties of `m.frames` (struct page), `m.env` and its page-table store,
 * and the Machine. Compared with the 32 bytes of the -aa tree's struct page
 * (docs/designs.md#data-structures-and-sizes).
 *
 * Two machines of different sizes are measured and an array counts only when
 * it has one element per frame in both, so an array that merely happens to be
 * as long as the frame count (the page-table store's words grow by doubling)
 * is not taken for per-pfn state.
 */
import { type Arch, Machine } from '@rmaplab/rmap'

/** sizeof(struct page) in 2.6.5-aa on i386, as read. */
export const AA_STRUCT_PAGE = 32

/** What the model keeps per page frame. */
export interface FrameState {
  /** Page frames of the machine measured. */
  frames: number
  /** Bytes per frame of the dense per-pfn typed arrays. */
  bytesPerFrame: number
  /** The arrays: `owner.property` and bytes per element. */
  arrays: { name: string; bytes: number }[]
  /** Sparse per-pfn maps of struct page (entries held now), not in the figure. */
  sparse: { name: string; entries: number }[]
  /** Plain JS arrays of pfns (e.g. free stacks), elements now, not in the figure. */
  jsArrays: { name: string; elements: number }[]
}

function isTypedArray(v: unknown): v is { length: number; BYTES_PER_ELEMENT: number } {
  return ArrayBuffer.isView(v) && !(v instanceof DataView)
}

/** Measure the per-pfn state of a Machine on `arch`. */
export function frameState(arch: Arch): FrameState {
  const a = scan(new Machine({ arch, ram: '100M', cpus: 2 }))
  const b = scan(new Machine({ arch, ram: '68M', cpus: 2 }))
  const inB = new Set(b.arrays.map((x) => x.name))
  const arrays = a.arrays.filter((x) => inB.has(x.name))
  return { ...a, arrays, bytesPerFrame: arrays.reduce((s, x) => s + x.bytes, 0) }
}

/** The typed arrays of `m` with one element per frame, and its sparse per-pfn state. */
function scan(m: Machine): FrameState {
  const n = m.frames.n
  const seen = new Set<unknown>()
  const arrays: FrameState['arrays'] = []
  const sparse: FrameState['sparse'] = []
  const jsArrays: FrameState['jsArrays'] = []
  const owners: [string, object][] = [
    ['frames', m.frames],
    ['env', m.env],
    ['env.tables', m.env.tables],
    ['machine', m],
  ]
  for (const [owner, obj] of owners) {
    for (const [key, v] of Object.entries(obj)) {
      if (seen.has(v)) continue
      seen.add(v)
      const name = `${owner}.${key}`
      if (isTypedArray(v)) {
        if (v.length === n) arrays.push({ name, bytes: v.BYTES_PER_ELEMENT })
      } else if (v instanceof Map && owner === 'frames') {
        sparse.push({ name, entries: v.size })
      } else if (Array.isArray(v)) {
        // An array of pfns, or of per-zone arrays of pfns.
        let elements = 0
        for (const e of v) {
          if (typeof e === 'number') elements++
          else if (Array.isArray(e)) elements += e.length
        }
        if (elements >= n / 4) jsArrays.push({ name, elements })
      }
    }
  }
  const bytesPerFrame = arrays.reduce((s, a) => s + a.bytes, 0)
  return { frames: n, bytesPerFrame, arrays, sparse, jsArrays }
}
