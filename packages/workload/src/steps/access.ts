/** Memory accesses: read and write one word of every page of a range, faulting as the cpu would (mm/memory.c handle_mm_fault). */
import { PAGE_SIZE, SignalError } from '@rmaplab/rmap'
import { z } from 'zod'
import { AssertionFailure, hex, type RunContext, WorkloadError } from '../context.js'
import { Expr, Fails, fitsWord, Note, ProcRef, RangeFields, wordMessage } from '../format.js'
import { defineStep } from './step.js'

/** A content word must fit the page's 32-bit word: checked before the run when constant, else when computed. */
function wordOf(v: number, what: string): number {
  if (!fitsWord(v)) throw new WorkloadError(`${what} ${wordMessage(v)}`)
  return v
}

const writeSchema = z
  .strictObject({
    note: Note,
    proc: ProcRef,
    ...RangeFields,
    value: Expr.describe(
      "The 32-bit word to write (i: the page index in the range, pid); larger values are refused, as a page's content word holds 32 bits.",
    ),
    fails: Fails.optional(),
  })
  .describe('Write one word to every page of the range, faulting (and copying on write) as the cpu would.')
const readSchema = z
  .strictObject({
    note: Note,
    proc: ProcRef,
    ...RangeFields,
    expect: Expr.describe(
      'The 32-bit word every page must hold (i: the page index in the range, pid).',
    ).optional(),
    fails: Fails.optional(),
  })
  .describe('Read one word of every page of the range, faulting as the cpu would.')

type AccessArgs = { proc: string | string[]; expect?: unknown; fails?: string | undefined }

export const read = defineStep({
  schema: readSchema,
  proc: 'any',
  range: true,
  analyze: (_a, an) => an.word(['expect'], ['i', 'pid']),
  run: (a, cx) => access(false, a, cx),
})

export const write = defineStep({
  schema: writeSchema,
  proc: 'any',
  range: true,
  analyze: (_a, an) => an.word(['value'], ['i', 'pid']),
  run: (a, cx) => access(true, a, cx),
})

function access(write: boolean, a: AccessArgs, cx: RunContext): string {
  const key = write ? 'value' : 'expect'
  const ps = cx.resolve(a.proc)
  let pages = 0
  for (const p of ps) {
    cx.current = p
    const env = cx.envFor(p)
    const r = cx.range(p)
    const value = cx.step.exprs.get(key)
    const constant = value?.constant
    try {
      for (let k = 0; k < r.pages; k++) {
        const addr = r.start + k * PAGE_SIZE
        env.i = k
        if (write) {
          p.write(addr, constant ?? wordOf(value!.eval(env), 'value'))
        } else {
          const got = p.read(addr)
          if (value) {
            const want = (constant ?? wordOf(value.eval(env), 'expect')) >>> 0
            if (got >>> 0 !== want) {
              throw new AssertionFailure(
                `read at ${hex(addr)} (page ${k} of the range) in ${cx.who(p)}: expected ${hex(want)}, got ${hex(got >>> 0)}`,
              )
            }
          }
        }
        pages++
      }
      if (a.fails) {
        throw new AssertionFailure(
          `expected ${write ? 'write' : 'read'} to fail with ${a.fails} in ${cx.who(p)}, but all ${r.pages} page(s) succeeded`,
        )
      }
    } catch (e) {
      if (!(a.fails && e instanceof SignalError)) throw e
      if (e.signal !== a.fails)
        throw new AssertionFailure(
          `expected ${a.fails} in ${cx.who(p)}, got ${e.signal} at ${hex(e.address)}: ${e.reason}`,
        )
    }
  }
  if (!write && a.expect !== undefined) cx.assertions.passed++
  if (a.fails) cx.assertions.passed++
  return `${pages} page(s)${ps.length > 1 ? ` in ${ps.length} processes` : ''}${a.fails ? `, ${a.fails} as expected` : ''}`
}
