/** Small helpers shared by the check modules. */

import type { Arch } from '@rmaplab/rmap'
import fc from 'fast-check'
import { expect } from 'vitest'

/** A hex string of the vector files as a bigint. */
export const h = (s: string | number): bigint => BigInt(s)

/** `0x…` for messages. */
export const hex = (v: bigint | number): string => `0x${v.toString(16)}`

/** Low 32-bit word of a pte value. */
export const lo32 = (v: bigint): number => Number(v & 0xffffffffn)
/** High 32-bit word of a pte value. */
export const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn)
/** A pte value from its two words. */
export const join = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)

/** `x` truncated to an unsigned long of the arch. */
export const ulong = (arch: Arch, x: bigint): bigint => BigInt.asUintN(arch.geometry.BITS_PER_LONG, x)

/** Largest integer a PteCodec function may be handed. */
export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** The smaller of two bigints. */
export const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b)

/** Catch what `fn` throws (undefined when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  return undefined
}

/**
 * `fn` must be refused by the strict surface with an ArchLimitError naming the
 * function, the argument, and (when given) a piece of the limit's text. Checked
 * by name and fields, so that a second copy of the core still matches.
 */
export function expectLimit(
  arch: Arch,
  fn: () => unknown,
  where: { fn: string; argument: string; mentions?: string },
): void {
  const err = thrown(fn)
  expect(err, `${where.fn}(${where.argument}) must throw ArchLimitError`).toMatchObject({
    name: 'ArchLimitError',
    arch: arch.name,
    fn: where.fn,
    argument: where.argument,
  })
  const limit = (err as { limit?: unknown }).limit
  expect(typeof limit === 'string' && limit.length > 0, 'the error names the limit').toBe(true)
  if (where.mentions !== undefined) expect(limit).toContain(where.mentions)
}

/** `fn` must throw a KernelBugError (the BUG_ON that would fire) whose invariant contains `invariant`. */
export function expectBug(fn: () => unknown, invariant?: string): void {
  const err = thrown(fn)
  expect(err, 'must throw KernelBugError').toMatchObject({ name: 'KernelBugError' })
  if (invariant !== undefined) expect((err as { invariant: string }).invariant).toContain(invariant)
}

/**
 * A bigint in [min, max]: half the time fast-check's default (which favours
 * small values and the bounds), half the time uniform, so that every bit of a
 * wide field (the high word of a 64-bit pte, the top of a 40-bit swap offset)
 * is exercised and a bug there cannot hide behind the bias.
 */
export function wideBig(range: { min: bigint; max: bigint }): fc.Arbitrary<bigint> {
  const a = fc.bigInt(range)
  return fc.oneof(a, fc.noBias(a))
}

/** {@link wideBig} for numbers. */
export function wideInt(range: { min: number; max: number }): fc.Arbitrary<number> {
  const a = fc.integer(range)
  return fc.oneof(a, fc.noBias(a))
}
