/**
 * Argument checks shared by the public entry points (Process syscalls,
 * Machine methods, the filesystem). They run before a call changes or
 * allocates anything, and never throw while formatting the value they refuse.
 *
 * A value of the wrong JavaScript type (a string, a Symbol, null, a bigint,
 * undefined for a required argument) is a TypeError naming the call and the
 * argument: the kernel never sees such a value. A number the kernel would see
 * but refuse keeps the kernel's answer (a SyscallError with its errno), which
 * each call checks itself.
 */
/** Refuse `v` unless it is a number: TypeError `fn: name must be a number, got …`. */
export function numberArg(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${show(v)}`)
}

/** {@link numberArg} for `[name, value]` pairs, in order. */
export function numberArgs(fn: string, ...args: ReadonlyArray<readonly [string, unknown]>): void {
  for (const [name, v] of args) numberArg(fn, name, v)
}

/** Refuse `v` unless it is a whole number in [min, max]: TypeError for a non-number, RangeError otherwise. */
export function intArg(fn: string, name: string, v: unknown, min: number, max: number): asserts v is number {
  numberArg(fn, name, v)
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`${fn}: ${name} ${v} is not a whole number in ${min}..${max}`)
}

/**
 * Any value as text for an error message, without throwing: a Symbol, an
 * object with no string form or a cyclic one are shown, not converted.
 */
export function show(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `'${v}'`
    case 'bigint':
      return `${v}n`
    case 'symbol':
    case 'function':
      return String(v)
    case 'object':
      if (v === null) return 'null'
      if (Array.isArray(v)) return `an array of ${v.length}`
      return 'an object'
    default:
      return String(v)
  }
}
