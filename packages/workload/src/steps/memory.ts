/** Address-space syscalls: mmap, munmap, mprotect, mlock, munlock, madvise, mremap, remap_file_pages (mm/mmap.c, mprotect.c, mlock.c, madvise.c, mremap.c, fremap.c). */
import {
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NONBLOCK,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from '@rmaplab/rmap'
import { z } from 'zod'
import { expectOutcome, hex, type RunContext } from '../context.js'
import { Expr, Fails, Name, Note, ProcRef, Prot, RangeFields } from '../format.js'
import { defineStep, procText, rangeText } from './step.js'

const PROT: Record<string, number> = {
  none: PROT_NONE,
  r: PROT_READ,
  w: PROT_WRITE,
  x: PROT_EXEC,
  rw: PROT_READ | PROT_WRITE,
  rx: PROT_READ | PROT_EXEC,
  wx: PROT_WRITE | PROT_EXEC,
  rwx: PROT_READ | PROT_WRITE | PROT_EXEC,
}
const ADVICE: Record<string, number> = {
  normal: MADV_NORMAL,
  random: MADV_RANDOM,
  sequential: MADV_SEQUENTIAL,
  willneed: MADV_WILLNEED,
  dontneed: MADV_DONTNEED,
}

export const mmap = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      as: Name.describe('Names the new region.').optional(),
      length: Expr,
      prot: Prot,
      shared: z.boolean().describe('MAP_SHARED (default MAP_PRIVATE).').optional(),
      fd: Name.describe('A file opened with `open` (default: anonymous memory).').optional(),
      offset: Expr.describe('File offset in bytes.').optional(),
      addr: Expr.describe('The address hint (with fixed: the address).').optional(),
      fixed: z.boolean().describe('MAP_FIXED.').optional(),
      fails: Fails.optional(),
    })
    .describe('mmap(addr, length, prot, flags, fd, offset).'),
  proc: 'any',
  analyze(a, an) {
    an.expr(['length'])
    an.expr(['offset'])
    an.expr(['addr'])
    if (a.fd !== undefined) an.fd('fd')
    else if (a.offset !== undefined)
      an.report([], "'offset' needs 'fd' (anonymous memory has no offset)", { key: 'offset' })
    if (a.fixed && a.addr === undefined) an.report([], "'fixed' needs 'addr'", { key: 'fixed' })
    an.define('region', a.as, ['as'])
  },
  label: (a) =>
    `mmap ${procText(a.proc)} ${a.length} ${a.prot}${a.shared ? ' shared' : ''}${a.fd ? ` fd ${a.fd}` : ''}${a.as ? ` → ${a.as}` : ''}`,
  run(a, cx) {
    const out: number[] = []
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      const env = cx.envFor(p)
      const length = cx.ev('length', env)
      const addr = cx.has('addr') ? cx.ev('addr', env) : 0
      const prot = PROT[a.prot]!
      let flags = a.shared ? MAP_SHARED : MAP_PRIVATE
      if (a.fd === undefined) flags |= MAP_ANONYMOUS
      if (a.fixed) flags |= MAP_FIXED
      const fd = a.fd !== undefined ? cx.fdOf(a.fd, p) : undefined
      const offset = cx.has('offset') ? cx.ev('offset', env) : 0
      const r = expectOutcome(() => p.mmap(addr, length, prot, flags, fd, offset), a.fails, 'mmap')
      if (r !== undefined) {
        out.push(r)
        if (a.as) cx.setRegion(a.as, p, { start: r, length })
      }
    }
    return out.length ? [...new Set(out)].map(hex).join(', ') : ''
  },
})

/** The syscalls that take a range and return nothing: munmap, mprotect, mlock, munlock, madvise. */
function rangeCall<S extends z.ZodType<{ proc: string | string[]; fails?: string | undefined }>>(
  name: string,
  schema: S,
  call: (p: Process, start: number, length: number, a: z.output<S>) => void,
) {
  return defineStep({
    schema,
    proc: 'any',
    range: true,
    run(a, cx: RunContext) {
      for (const p of cx.resolve(a.proc)) {
        cx.current = p
        const r = cx.range(p)
        expectOutcome(
          () => {
            call(p, r.start, r.length, a)
            return true
          },
          a.fails,
          name,
        )
      }
      return ''
    },
  })
}

export const munmap = rangeCall(
  'munmap',
  z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, fails: Fails.optional() })
    .describe('munmap().'),
  (p, s, l) => p.munmap(s, l),
)
export const mprotect = rangeCall(
  'mprotect',
  z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, prot: Prot, fails: Fails.optional() })
    .describe('mprotect().'),
  (p, s, l, a) => p.mprotect(s, l, PROT[a.prot]!),
)
export const mlock = rangeCall(
  'mlock',
  z.strictObject({ note: Note, proc: ProcRef, ...RangeFields, fails: Fails.optional() }).describe('mlock().'),
  (p, s, l) => p.mlock(s, l),
)
export const munlock = rangeCall(
  'munlock',
  z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, fails: Fails.optional() })
    .describe('munlock().'),
  (p, s, l) => p.munlock(s, l),
)
export const madvise = rangeCall(
  'madvise',
  z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      advice: z.enum(['normal', 'random', 'sequential', 'willneed', 'dontneed']),
      fails: Fails.optional(),
    })
    .describe('madvise().'),
  (p, s, l, a) => p.madvise(s, l, ADVICE[a.advice]!),
)

export const mremap = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      new_length: Expr,
      maymove: z.boolean().describe('MREMAP_MAYMOVE. Default: true when `to` is given.').optional(),
      fixed: z.boolean().describe('MREMAP_FIXED. Default: true when `to` is given.').optional(),
      to: Expr.describe('new_address (MREMAP_FIXED).').optional(),
      as: Name.describe('Name the result as a new region (default: the region moves).').optional(),
      fails: Fails.optional(),
    })
    .describe('mremap(old, old_len, new_len, flags, new_addr).'),
  proc: 'any',
  range: true,
  analyze(a, an) {
    an.expr(['new_length'])
    an.expr(['to'])
    if (a.fixed && a.to === undefined) an.report([], "'fixed' needs 'to' (the new address)", { key: 'fixed' })
    an.define('region', a.as, ['as'], { rebind: true })
  },
  label: (a) =>
    `mremap ${procText(a.proc)} ${rangeText(a)} → ${a.new_length}${a.to !== undefined ? ` at ${a.to}` : ''}`,
  run(a, cx) {
    const out: number[] = []
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      const env = cx.envFor(p)
      const r = cx.range(p)
      const newLen = cx.ev('new_length', env)
      const to = cx.has('to') ? cx.ev('to', env) : 0
      const moving = cx.has('to')
      let flags = 0
      if (a.maymove ?? moving) flags |= MREMAP_MAYMOVE
      if (a.fixed ?? moving) flags |= MREMAP_FIXED
      const res = expectOutcome(() => p.mremap(r.start, r.length, newLen, flags, to), a.fails, 'mremap')
      if (res !== undefined) {
        out.push(res)
        const target = a.as ?? a.region
        if (target) cx.setRegion(target, p, { start: res, length: newLen })
      }
    }
    return out.map(hex).join(', ')
  },
})

export const remap_file_pages = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      pgoff: Expr.describe('The file page the window starts at.'),
      prot: Expr.describe('Must be 0 (the kernel refuses anything else).').optional(),
      nonblock: z.boolean().describe('MAP_NONBLOCK: install file ptes, read nothing.').optional(),
      fails: Fails.optional(),
    })
    .describe('remap_file_pages(start, size, prot, pgoff, flags): a nonlinear window.'),
  proc: 'any',
  range: true,
  analyze(_a, an) {
    an.expr(['pgoff'])
    an.expr(['prot'])
  },
  run(a, cx) {
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      const env = cx.envFor(p)
      const r = cx.range(p)
      const prot = cx.has('prot') ? cx.ev('prot', env) : 0
      expectOutcome(
        () => {
          p.remapFilePages(r.start, r.length, prot, cx.ev('pgoff', env), a.nonblock ? MAP_NONBLOCK : 0)
          return true
        },
        a.fails,
        'remap_file_pages',
      )
    }
    return ''
  },
})
