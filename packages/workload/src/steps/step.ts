/**
 * One step kind: its arguments (a zod schema, which is also its part of the
 * published JSON Schema), what it checks before the run, its label, and what
 * it does on a machine. Every kind is one such entry of the STEPS table
 * (steps/index.ts); nothing else switches on the kind.
 */
import type { z } from 'zod'
import type { Analysis } from '../analyze.js'
import type { RunContext } from '../context.js'

export interface StepHandler<S extends z.ZodType = z.ZodType> {
  /** The arguments, as the workload writes them under the kind's key. */
  readonly schema: S
  /** The step has a `proc` argument: one process only, or any process, group or list. */
  readonly proc?: 'one' | 'any'
  /** The step works on a range (region, page, pages, addr, length). */
  readonly range?: boolean
  /** Checks before the run: the names it uses and defines, its expressions (compiled into the plan). */
  analyze?(args: z.output<S>, an: Analysis): void
  /** A one-line description (the note is added after it); default `kind proc range`. */
  label?(args: z.output<S>): string
  /** Run it; returns a short summary of what it did (shown by --trace and by `run.step()`). */
  run(args: z.output<S>, cx: RunContext): string
}

/** A handler, with its argument types inferred from its schema. */
export function defineStep<S extends z.ZodType>(h: StepHandler<S>): StepHandler<S> {
  return h
}

/** `p` or `p,q` */
export function procText(p: string | string[]): string {
  return Array.isArray(p) ? p.join(',') : p
}

/** A range as labels show it: `a page 2 ×3p`. */
export function rangeText(a: {
  region?: string | undefined
  page?: unknown
  pages?: unknown
  addr?: unknown
  length?: unknown
}): string {
  let s = a.region ?? String(a.addr ?? '')
  if (a.page !== undefined) s += ` page ${a.page}`
  if (a.pages !== undefined) s += ` ×${a.pages}p`
  if (a.length !== undefined) s += ` len ${a.length}`
  return s
}
