import { show } from './validate.js'

/**
 * Typed errors. Every failure a user can see names what went wrong in kernel
 * terms: the limit a value broke, or the BUG_ON that would have fired.
 */

/** Base class of every error rmaplab throws on purpose. */
export class RmapError extends Error {
  override name = 'RmapError'
}

/**
 * A value the kernel could not represent in this layout: a pfn past what a pte
 * holds, a swap type of 32 or more, a swap offset past the encoding, a pgoff of
 * PTE_FILE_MAX_BITS bits or more, a user address at or above TASK_SIZE, or a
 * negative or fractional number where the kernel takes an unsigned integer.
 *
 * The kernel macros themselves would truncate silently; the strict surface
 * refuses instead, and `arch.macros` keeps the truncating C behaviour for
 * whoever wants to see it.
 */
export class ArchLimitError extends RmapError {
  override name = 'ArchLimitError'
  constructor(
    /** Layout name, e.g. `'i386-pae'`. */
    readonly arch: string,
    /** The function that refused, in its rmaplab name (`mkPte`, `swpEntryToPte`...). */
    readonly fn: string,
    /** Which argument broke the limit (`pfn`, `type`, `offset`, `pgoff`, `address`...). */
    readonly argument: string,
    /** The limit in words, naming the kernel constant where there is one. */
    readonly limit: string,
    /** The value that was refused. */
    readonly value: unknown,
  ) {
    super(`${arch}: ${fn}(${argument} = ${formatValue(value)}) is out of range: ${limit}`)
  }
}

/**
 * A kernel invariant was violated: the BUG_ON (or BUG) the 2004 kernel has at this
 * place would have fired. `invariant` names it the way the kernel source states it.
 */
export class KernelBugError extends RmapError {
  override name = 'KernelBugError'
  constructor(
    /** The violated condition, e.g. `'kmap_atomic: KM_PTE0 slot already in use'`. */
    readonly invariant: string,
    /** Where the kernel checks it, e.g. `'arch/i386/mm/highmem.c kmap_atomic'`. */
    readonly where: string,
    detail?: string,
  ) {
    super(`kernel BUG at ${where}: ${invariant}${detail ? ` (${detail})` : ''}`)
  }
}

/** A page-frame allocation failed: no free frame in the zones the gfp mask allows. */
export class OutOfMemoryError extends RmapError {
  override name = 'OutOfMemoryError'
  readonly errno = 'ENOMEM'
}

function formatValue(v: unknown): string {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return `0x${v.toString(16)}`
  return show(v)
}

/**
 * A {@link Machine} option the machine cannot be built with: a size outside
 * the arch's bounds, an unknown name, a value of the wrong type. Thrown by the
 * constructor before anything is allocated. `option` names the option as
 * {@link MachineOptions} spells it, so a caller (the cli maps it to its input
 * errors) needs no message matching.
 *
 * It is a RangeError (not an {@link RmapError}) so that callers that already
 * treat the constructor's RangeErrors as bad input keep doing so.
 */
export class MachineOptionError extends RangeError {
  override name = 'MachineOptionError'
  constructor(
    /** The option, e.g. `'swap'`, `'ram'`, `'arch'`. */
    readonly option: string,
    /** The value that was refused, as given. */
    readonly value: unknown,
    /** Why, naming the bound (with the arch where the bound is the arch's). */
    readonly reason: string,
  ) {
    super(`Machine: ${reason}`)
  }
}

/** The errno values rmaplab's syscalls return, as the 2.6 kernel names them. */
export type Errno =
  | 'EPERM'
  | 'ENOENT'
  | 'E2BIG'
  | 'ESRCH'
  | 'EBADF'
  | 'EAGAIN'
  | 'ENOMEM'
  | 'EACCES'
  | 'EFAULT'
  | 'EBUSY'
  | 'EEXIST'
  | 'ENODEV'
  | 'EINVAL'
  | 'EFBIG'
  | 'ENOSPC'
  | 'ENOSYS'

/** A syscall failed: the kernel would have returned `-errno`. Nothing was changed. */
export class SyscallError extends RmapError {
  override name = 'SyscallError'
  constructor(
    /** The syscall, e.g. `'mmap'`. */
    readonly syscall: string,
    /** The error code, e.g. `'EINVAL'`. */
    readonly errno: Errno,
    /** Why, in kernel terms. */
    readonly reason: string,
  ) {
    super(`${syscall}: ${errno}: ${reason}`)
  }
}

/** A bad memory access: the kernel sent the signal and, under the default action, the process died. */
export class SignalError extends RmapError {
  override name = 'SignalError'
  constructor(
    /** `'SIGSEGV'` (no vma, or the vma forbids the access) or `'SIGBUS'` (past the end of a file). */
    readonly signal: 'SIGSEGV' | 'SIGBUS',
    /** The faulting address. */
    readonly address: number,
    /** The process that died. */
    readonly pid: number,
    /** Why, in kernel terms. */
    readonly reason: string,
  ) {
    super(`pid ${pid}: ${signal} at 0x${address.toString(16)}: ${reason}`)
  }
}

/** The OOM killer chose the faulting process itself: it died of SIGKILL and its access never completed. */
export class OomKillError extends RmapError {
  override name = 'OomKillError'
  readonly signal = 'SIGKILL'
  constructor(
    /** The process that died. */
    readonly pid: number,
    /** Its badness score (see vmscan.ts outOfMemory). */
    readonly badness: number,
  ) {
    super(`pid ${pid}: out of memory: killed by the OOM killer (SIGKILL, badness ${badness})`)
  }
}

/** A call on a process that has exited. */
export class ProcessExitedError extends RmapError {
  override name = 'ProcessExitedError'
}

/** A part of the 2004 VM that rmaplab does not model yet; named so that nothing fails silently. */
export class NotModelledError extends RmapError {
  override name = 'NotModelledError'
}

/** `m.check()` found machine state that breaks a kernel invariant. */
export class InvariantError extends RmapError {
  override name = 'InvariantError'
  constructor(
    /** Every violation found, each naming the invariant. */
    readonly violations: readonly string[],
  ) {
    super(
      `${violations.length} invariant violation(s): ${violations.slice(0, 5).join('; ')}${violations.length > 5 ? '; ...' : ''}`,
    )
  }
}
