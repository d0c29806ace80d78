/**
 * The building blocks of the workload format, as zod schemas: names, process
 * references, expressions, sizes, ranges, comparisons. The step kinds
 * (steps/) build their arguments from these; schema.ts assembles the whole
 * format and its JSON Schema.
 */
import { PAGE_FLAG_NAMES } from '@rmaplab/rmap'
import { z } from 'zod'
import { compileExpr, ExprError } from './expr.js'

/** Layout names, as the arch packages name them. */
export const ARCH_NAMES = ['i386', 'i386-pae', 'ppc', 'ppc64'] as const
export type ArchName = (typeof ARCH_NAMES)[number]

/** meminfo fields an assertion can name. */
export const MEMINFO_FIELDS = [
  'MemTotal',
  'MemFree',
  'Cached',
  'SwapCached',
  'Active',
  'Inactive',
  'HighTotal',
  'HighFree',
  'LowTotal',
  'LowFree',
  'SwapTotal',
  'SwapFree',
  'Dirty',
  'Writeback',
  'Mapped',
  'Slab',
  'PageTables',
] as const

/** errnos and signals a step can expect with `fails`. */
export const FAILURES = [
  'EPERM',
  'ENOENT',
  'EBADF',
  'EAGAIN',
  'ENOMEM',
  'EACCES',
  'EFAULT',
  'EBUSY',
  'EEXIST',
  'ENODEV',
  'EINVAL',
  'EFBIG',
  'ENOSPC',
  'ENOSYS',
  'SIGSEGV',
  'SIGBUS',
] as const

export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

export const Name = z
  .string()
  .regex(NAME_RE, 'expected a name: a letter or _, then letters, digits or _')
  .describe('A name: a letter or _, then letters, digits or _.')
  .meta({ id: 'Name' })

/** A process, a group, or one member of a group: `p`, `kids`, `kids[3]`. */
export const PROC_RE = /^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?$/
export const ProcName = z
  .string()
  .regex(PROC_RE, "expected a process name, a group name, or a member of a group such as 'kids[0]'")
  .meta({ id: 'ProcName' })

export const ProcRef = z
  .union([ProcName, z.array(ProcName).min(1)], {
    error: 'expected a process or group name, or a list of names',
  })
  .describe(
    'A process or a group of processes, by the name given with `as` (a member of a group: kids[0]), or a list of names.',
  )
  .meta({ id: 'ProcRef' })

export const Expr = z
  .union([z.number().int(), z.string().min(1)], {
    error: "expected an integer or an expression such as 'a + 3p', '64M' or '0x1000'",
  })
  .describe(
    "An integer or an expression: numbers with units (4096, 0x1000, 16p, 64K, 2M), regions (a, a.end, a.length, a.pages), PAGE_SIZE, PTE_SPAN, PGDIR_SPAN, TASK_SIZE, TASK_UNMAPPED_BASE, + - * / %, align(x, a), min(), max(); 'i' and 'pid' in value and expect.",
  )
  .meta({ id: 'Expr' })

export const Size = z
  .union([z.number().int().min(0), z.string().min(1)], {
    error: "expected a size: a byte count, or a number with a unit such as '64M' or '16p'",
  })
  .describe(
    "Bytes, or a number with a unit right after it, as in expressions: K, M, G (binary; KB, MB, GB too) or p (4096-byte pages): '512K', '64M', '1G', '16p'. No space before the unit.",
  )
  .meta({ id: 'Size' })

/** A size in bytes (the expression grammar's numbers and units, no names). Throws ExprError or RangeError. */
export function sizeBytes(v: number | string): number {
  if (typeof v === 'number') return v
  const c = compileExpr(v)
  if (c.constant === undefined) throw new ExprError('a size is a number, with a unit or not', 0)
  if (!Number.isInteger(c.constant) || c.constant < 0)
    throw new RangeError(`a size is a whole, non-negative number of bytes, got ${c.constant}`)
  return c.constant
}

/** A page's content word: 32 bits (stored unsigned; a negative int32 stands for its two's complement). */
export const WORD_MIN = -0x8000_0000
export const WORD_MAX = 0xffff_ffff
/** Does `v` fit a page's 32-bit content word? */
export function fitsWord(v: number): boolean {
  return Number.isInteger(v) && v >= WORD_MIN && v <= WORD_MAX
}

/** Why `v` is not a content word. */
export function wordMessage(v: number): string {
  const shown = Number.isInteger(v) && v >= 0 ? `0x${v.toString(16)}` : String(v)
  return `${shown} does not fit a page's content word, which is 32 bits: 0..0xffffffff (or a negative int32)`
}

export const Word = z
  .number()
  .int()
  .min(WORD_MIN)
  .max(WORD_MAX)
  .describe("A page's 32-bit content word: 0..0xffffffff (or a negative int32).")

export const Prot = z
  .enum(['none', 'r', 'w', 'x', 'rw', 'rx', 'wx', 'rwx'])
  .describe('Protection: the letters r, w, x in that order, or none.')
  .meta({ id: 'Prot' })

export const Fails = z
  .enum(FAILURES)
  .describe(
    'The step must fail: with this errno (the syscall returns -errno), or this signal (the process dies).',
  )
  .meta({ id: 'Fails' })

export const PageFlag = z
  .enum(PAGE_FLAG_NAMES as unknown as [string, ...string[]])
  .describe('A page flag, by its kernel name.')
  .meta({ id: 'PageFlag' })

export const Note = z.string().describe('A label shown in traces and reports.').optional()
export const Path = z
  .string()
  .regex(/^\//, 'expected an absolute path such as /data/file')
  .describe('An absolute path.')
  .meta({ id: 'Path' })

/** The range a step works on: a region (or part of it), or an address and a length. */
export const RangeFields = {
  region: Name.describe(
    'A region named by `as` in mmap: the whole region, or from `page` for `pages`.',
  ).optional(),
  page: Expr.describe('With `region`: the first page, counted from 0. Default 0.').optional(),
  pages: Expr.describe('Number of pages. Default: the rest of the region, or 1 page with `addr`.').optional(),
  addr: Expr.describe('A start address (page-aligned for syscalls).').optional(),
  length: Expr.describe('With `addr`: a length in bytes (instead of `pages`).').optional(),
}

export const cmpObject = z.strictObject({
  eq: Expr.optional(),
  min: Expr.optional(),
  max: Expr.optional(),
  since: Name.describe('Compare the change since the `mark` of this name.').optional(),
})
export const Cmp = z
  .union([Expr, cmpObject], { error: 'expected a value, or a comparison { eq, min, max, since }' })
  .describe('A value to equal, or { eq, min, max, since: mark } (with since, the change since that mark).')
  .meta({ id: 'Cmp' })

export const PageRef = z.strictObject({
  proc: ProcName,
  region: RangeFields.region,
  page: RangeFields.page,
  addr: RangeFields.addr,
})
