/**
 * The reverse-mapping walks on the frames a process maps: page_referenced and
 * try_to_unmap (mm/rmap.c, mm/objrmap.c in -aa), and pageout, one pass of
 * shrink_list (mm/vmscan.c). Pages that are not present (or map the
 * ZERO_PAGE) have no frame to walk: they are skipped, and the step says so.
 */
import { PAGE_SIZE } from '@rmaplab/rmap'
import { z } from 'zod'
import { AssertionFailure, hex, type RunContext, WorkloadError } from '../context.js'
import { Expr, Note, ProcName, RangeFields } from '../format.js'
import { defineStep } from './step.js'

/** The present frames of the step's range in its process, every `stride`-th page; counts the skipped ones. */
function* frames(
  cx: RunContext,
  proc: string,
  stride: number,
): Generator<{ addr: number; pfn: number }, void, undefined> {
  const p = cx.one(proc)
  const r = cx.range(p)
  let skipped = 0
  for (let k = 0; k < r.pages; k += stride) {
    const addr = r.start + k * PAGE_SIZE
    const pm = p.pagemap(addr)
    if (!pm.present || pm.pfn === cx.m.zeroPage) {
      skipped++
      continue
    }
    yield { addr, pfn: pm.pfn! }
  }
  if (skipped)
    cx.notes.push(
      `${skipped} of ${Math.ceil(r.pages / stride)} page(s) from ${hex(r.start)} in ${cx.who(p)} not present (no frame to walk), skipped`,
    )
}

const walkStep = (kind: 'page_referenced' | 'try_to_unmap') =>
  function run(a: { proc: string; expect?: unknown }, cx: RunContext): string {
    const p = cx.one(a.proc)
    const env = cx.envFor(p)
    const stride = cx.has('stride') ? cx.ev('stride', env) : 1
    if (stride < 1) throw new WorkloadError(`stride must be at least 1, got ${stride}`)
    let calls = 0
    let visited = 0
    let probed = 0
    const outcomes = new Map<string, number>()
    const notes = cx.notes.length
    for (const { addr, pfn } of frames(cx, a.proc, stride)) {
      let out: string
      if (kind === 'page_referenced') {
        const n = cx.m.pageReferenced(pfn)
        out = String(n)
        if (cx.has('expect') && n !== cx.ev('expect', env)) {
          throw new AssertionFailure(
            `page_referenced of the page at ${hex(addr)} in ${cx.who(p)} found ${n} reference(s), expected ${cx.ev('expect', env)}`,
          )
        }
      } else {
        out = cx.m.tryToUnmap(pfn)
        if (a.expect && out !== a.expect)
          throw new AssertionFailure(
            `try_to_unmap of the page at ${hex(addr)} in ${cx.who(p)}: ${out}, expected ${a.expect}`,
          )
      }
      outcomes.set(out, (outcomes.get(out) ?? 0) + 1)
      const lw = cx.m.counters.lastWalk
      calls++
      visited += lw.vmasVisited
      probed += lw.ptesProbed
      cx.walks.maxVmasVisited = Math.max(cx.walks.maxVmasVisited, lw.vmasVisited)
    }
    cx.walks.calls += calls
    cx.walks.vmasVisited += visited
    cx.walks.ptesProbed += probed
    if (a.expect !== undefined) cx.assertions.passed++
    const per = calls
      ? ` (${(visited / calls).toFixed(1)} vmas, ${(probed / calls).toFixed(1)} ptes per call)`
      : ''
    const res = [...outcomes].map(([o, n]) => `${n}× ${o}`).join(', ')
    const skipped = cx.notes.length > notes ? `; ${cx.notes[cx.notes.length - 1]}` : ''
    return `${calls} call(s)${per}${res ? `; ${kind === 'page_referenced' ? 'references ' : ''}${res}` : ''}${skipped}`
  }

export const page_referenced = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcName,
      ...RangeFields,
      stride: Expr.describe('Walk every n-th page only. Default 1.').optional(),
      expect: Expr.describe('References each call must find.').optional(),
    })
    .describe(
      "m.pageReferenced(pfn) on the frame of each present page: the rmap walk reclaim's page_referenced does.",
    ),
  proc: 'one',
  range: true,
  analyze(_a, an) {
    an.count(['stride'], 1, 'stride')
    an.expr(['expect'])
  },
  run: walkStep('page_referenced'),
})

export const try_to_unmap = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcName,
      ...RangeFields,
      stride: Expr.describe('Every n-th page only. Default 1.').optional(),
      expect: z.enum(['SWAP_SUCCESS', 'SWAP_AGAIN', 'SWAP_FAIL']).optional(),
    })
    .describe('m.tryToUnmap(pfn) on the frame of each present page.'),
  proc: 'one',
  range: true,
  analyze: (_a, an) => an.count(['stride'], 1, 'stride'),
  run: walkStep('try_to_unmap'),
})

export const pageout = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcName,
      ...RangeFields,
      expect: z
        .enum(['freed', 'activated', 'kept'])
        .describe("What shrink_list must do with each page: 'freed', 'activated' or 'kept'.")
        .optional(),
      reason: z
        .string()
        .describe("shrink_list's reason must contain this text (e.g. 'referenced').")
        .optional(),
    })
    .describe(
      'm.pageout(pfn) on the frame of each present page: one pass of shrink_list (page_referenced, add_to_swap, try_to_unmap, the write, the free).',
    ),
  proc: 'one',
  range: true,
  run(a, cx) {
    const p = cx.one(a.proc)
    const outcomes = new Map<string, number>()
    const notes = cx.notes.length
    for (const { addr, pfn } of frames(cx, a.proc, 1)) {
      const rep = cx.m.pageout(pfn)
      const lw = cx.m.counters.lastWalk
      cx.walks.maxVmasVisited = Math.max(cx.walks.maxVmasVisited, lw.vmasVisited)
      if (a.expect && rep.result !== a.expect)
        throw new AssertionFailure(
          `pageout of the page at ${hex(addr)} in ${cx.who(p)}: ${rep.result} (${rep.reason}), expected ${a.expect}`,
        )
      if (a.reason && !rep.reason.includes(a.reason))
        throw new AssertionFailure(
          `pageout of the page at ${hex(addr)} in ${cx.who(p)}: ${rep.result} because '${rep.reason}', expected a reason containing '${a.reason}'`,
        )
      const key = `${rep.result} (${rep.reason})`
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    }
    if (a.expect !== undefined || a.reason !== undefined) cx.assertions.passed++
    const res = [...outcomes].map(([o, n]) => `${n}× ${o}`).join(', ')
    const skipped = cx.notes.length > notes ? `; ${cx.notes[cx.notes.length - 1]}` : ''
    return `${res || 'no page'}${skipped}`
  },
})
