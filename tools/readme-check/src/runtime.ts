/** The checks a README module calls (see claims.ts), recording each outcome. */
import { inspect } from 'node:util'

export interface ClaimResult {
  readonly line: string
  readonly ok: boolean
  readonly detail?: string
}

const show = (v: unknown) => inspect(v, { depth: 4, breakLength: Number.POSITIVE_INFINITY })

/** `actual` has every key and element `expected` shows (arrays: the same length), values the same. */
export function matches(actual: unknown, expected: unknown): boolean {
  if (Object.is(actual, expected)) return true
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => matches(actual[i], e))
    )
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false
    return Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v))
  }
  return false
}

/** What `console.log(v)` prints for one argument. */
export const printed = (v: unknown) => (typeof v === 'string' ? v : inspect(v))

export function recorder() {
  const results: ClaimResult[] = []
  const fail = (line: string, detail: string) => results.push({ line, ok: false, detail })
  const claim = {
    value(line: string, actual: () => unknown, expected: () => unknown) {
      const a = actual()
      const e = expected()
      if (matches(a, e)) results.push({ line, ok: true })
      else fail(line, `evaluates to ${show(a)}`)
    },
    printed(line: string, actual: () => unknown, expected: string) {
      const a = printed(actual())
      if (a === expected) results.push({ line, ok: true })
      else fail(line, `prints ${a}`)
    },
    throws(line: string, actual: () => unknown, name: string, message: string) {
      try {
        const a = actual()
        fail(line, `does not throw; evaluates to ${show(a)}`)
      } catch (e) {
        const err = e as Error
        const gotName = err?.constructor?.name ?? err?.name
        if (gotName === name && (!message || String(err.message).includes(message)))
          results.push({ line, ok: true })
        else fail(line, `throws ${gotName}: ${err?.message}`)
      }
    },
  }
  return { claim, results }
}
