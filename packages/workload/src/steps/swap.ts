/** Swap and reclaim: swapon, swapoff (mm/swapfile.c), reclaim (mm/vmscan.c, the scan kswapd runs). */
import { z } from 'zod'
import { expectOutcome, WorkloadError } from '../context.js'
import { Cmp, Expr, Name, Note, Size, sizeBytes } from '../format.js'
import { defineStep } from './step.js'

export const swapon = defineStep({
  schema: z
    .strictObject({
      note: Note,
      as: Name.describe('Names the swap area, for swapoff and assertions.').optional(),
      size: Size.describe("The area's size: bytes or '16M' (slot 0 is its header page)."),
      priority: z
        .number()
        .int()
        .min(-32768)
        .max(32767)
        .describe('swapon -p: higher priorities fill first. Default: -1, -2, … in swapon order.')
        .optional(),
    })
    .describe('m.swapon(): add a swap area.'),
  analyze(a, an) {
    an.swapSize(['size'], a.size)
    if (a.as !== undefined) {
      if (an.areas.has(a.as)) an.report(['as'], `a swap area named '${a.as}' is already on`)
      an.areas.add(a.as)
    }
  },
  label: (a) =>
    `swapon ${a.size}${a.priority !== undefined ? ` -p ${a.priority}` : ''}${a.as ? ` → ${a.as}` : ''}`,
  run(a, cx) {
    const size = sizeBytes(a.size)
    const type = cx.m.swapon(a.priority !== undefined ? { size, priority: a.priority } : size)
    if (a.as) cx.areas.set(a.as, type)
    const area = cx.m.swapAreas().find((x) => x.type === type)!
    return `type ${type}, ${area.pages} slots, priority ${area.priority}`
  },
})

export const swapoff = defineStep({
  schema: z
    .union(
      [
        Name.transform((area) => ({ area }) as { area: string; note?: string; fails?: 'EINVAL' | 'ENOMEM' }),
        z.strictObject({
          note: Note,
          area: Name.describe("A swap area named by `as` in swapon, or `swap` (the machine's own)."),
          fails: z.enum(['EINVAL', 'ENOMEM']).describe('The swapoff must fail with this errno.').optional(),
        }),
      ],
      { error: "expected a swap area's name, or { area, fails }" },
    )
    .describe(
      'm.swapoff(): try_to_unuse brings every page of the area back into memory, then the area goes. `swapoff: name` or `swapoff: { area: name }`.',
    ),
  analyze(a, an) {
    const n = a.area
    if (!an.areas.has(n)) {
      an.report(
        [],
        `no swap area named '${n}' is on before this step${an.areas.size ? ` (areas so far: ${[...an.areas].join(', ')})` : " (name one with - swapon: { size: 16M, as: s }, or give the machine 'swap')"}`,
      )
    }
    an.areas.delete(n)
  },
  label: (a) => `swapoff ${a.area}`,
  run(a, cx) {
    const type = cx.areas.get(a.area)
    if (type === undefined) throw new WorkloadError(`swap area '${a.area}' is not on`)
    const r = expectOutcome(() => cx.m.swapoff(type), a.fails, 'swapoff')
    if (r === undefined) return `${a.fails} as expected`
    cx.areas.delete(a.area)
    return `${r.slots} slot(s) in use, ${r.pagesRead} page(s) read back, ${r.ptes} pte(s)${r.shmem ? `, ${r.shmem} tmpfs page(s)` : ''}`
  },
})

export const reclaim = defineStep({
  schema: z
    .strictObject({
      note: Note,
      pages: Expr.describe('Pages to free.'),
      freed: Cmp.describe('The pages it must have freed: a number or { eq, min, max }.').optional(),
    })
    .describe('m.reclaim(): the LRU scan kswapd runs, until `pages` are freed or no progress is possible.'),
  analyze(_a, an) {
    an.count(['pages'], 0, 'pages')
    an.cmp(['freed'])
  },
  label: (a) => `reclaim ${a.pages} pages`,
  run(a, cx) {
    const pages = cx.ev('pages', cx.envFor(undefined))
    const r = cx.m.reclaim({ pages })
    if (a.freed !== undefined) {
      cx.compare('reclaim: pages freed', 'freed', a.freed, r.freed, cx.envFor(undefined))
      cx.assertions.passed++
    }
    return `freed ${r.freed}/${r.requested}, scanned ${r.scanned} inactive + ${r.scannedActive} active, ${r.writes} write(s)`
  },
})

export const complete_writeback = defineStep({
  schema: z
    .strictObject({
      note: Note,
      completed: Cmp.describe('The writes it must have completed: a number or { eq, min, max }.').optional(),
    })
    .describe(
      'm.completeWriteback(): every write in flight completes (end_page_writeback), as when the disk catches up; a page reclaim wrote is then freed by its next pageout.',
    ),
  analyze(_a, an) {
    an.cmp(['completed'])
  },
  label: () => 'complete_writeback',
  run(a, cx) {
    const n = cx.m.completeWriteback()
    if (a.completed !== undefined) {
      cx.compare('complete_writeback: writes completed', 'completed', a.completed, n, cx.envFor(undefined))
      cx.assertions.passed++
    }
    return `${n} write(s) completed`
  },
})
