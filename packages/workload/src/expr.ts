/**
 * Numeric expressions of the workload format: addresses, lengths, values.
 *
 * ```
 * expr    := sum
 * sum     := product (('+' | '-') product)*
 * product := unary (('*' | '/' | '%') unary)*
 * unary   := '-' unary | atom
 * atom    := number unit? | name ('.' field)? | name '(' expr (',' expr)* ')' | '(' expr ')'
 * number  := 123 | 0x7f | 1_000
 * unit    := K | M | G (binary; KB, MB, GB too) | p | page | pages (4096 bytes), right after
 *            the number (only page and pages may follow a space: 3 pages)
 * ```
 *
 * A bare name is a region (`a`: its start; `a.end`, `a.length`, `a.pages`), a
 * variable (`i`: the page's index in the range, `pid`: the process id, in
 * `value` and `expect` only) or a constant of the layout (`PAGE_SIZE`,
 * `PTE_SPAN`: the bytes one pte page maps, `PGDIR_SPAN`: the bytes one pgd entry maps, `TASK_SIZE`,
 * `TASK_UNMAPPED_BASE`). Functions: `align(x, a)` (x rounded up to a multiple
 * of a), `min(...)`, `max(...)`.
 */

/** An expression that failed to parse, with the offset of the problem in its text. */
export class ExprError extends Error {
  override name = 'ExprError'
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
  }
}

/** What an expression is evaluated against. */
export interface ExprEnv {
  /** A region as the current process maps it. */
  region(name: string): { start: number; length: number }
  /** The page's index in the range of the step (value and expect only). */
  i: number
  /** The pid of the process the step runs in. */
  pid: number
  /** The layout's constants. */
  consts: Readonly<Record<ConstName, number>>
}

/** The layout constants an expression may name. */
export const CONSTS = ['PAGE_SIZE', 'PTE_SPAN', 'PGDIR_SPAN', 'TASK_SIZE', 'TASK_UNMAPPED_BASE'] as const
export type ConstName = (typeof CONSTS)[number]
/** Variables, bound per page and per process. */
export const VARS = ['i', 'pid'] as const
/** Region fields after a dot. */
export const REGION_FIELDS = ['start', 'end', 'length', 'pages'] as const
const FUNCS: Record<string, { min: number; max: number; fn: (...a: number[]) => number }> = {
  align: {
    min: 2,
    max: 2,
    fn: (x, a) => {
      if (a! <= 0) throw new RangeError(`align(${x}, ${a}): the alignment must be positive`)
      return Math.ceil(x! / a!) * a!
    },
  },
  min: { min: 1, max: 64, fn: (...a) => Math.min(...a) },
  max: { min: 1, max: 64, fn: (...a) => Math.max(...a) },
}
const UNITS: Record<string, number> = {
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  p: 4096,
  page: 4096,
  pages: 4096,
}
/** Names an expression cannot use for a region (units, variables, constants, functions). */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'page',
  'pages',
  ...VARS,
  ...CONSTS,
  ...Object.keys(FUNCS),
])

/** A compiled expression: its evaluator and the names it uses. */
export interface Compiled {
  readonly text: string
  readonly eval: (env: ExprEnv) => number
  /** Regions it names, with the offset of each in the text. */
  readonly regions: ReadonlyArray<{ name: string; offset: number }>
  /** Variables it uses. */
  readonly vars: ReadonlySet<string>
  /** A constant value when it names nothing. */
  readonly constant: number | undefined
}

type Tok =
  | { k: 'num'; v: number; at: number }
  | { k: 'name'; v: string; at: number }
  | { k: 'op'; v: string; at: number }
  | { k: 'end'; at: number }

function tokenize(src: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (c === ' ' || c === '\t') {
      i++
      continue
    }
    if (/[0-9]/.test(c)) {
      const m = /^(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)/.exec(src.slice(i))!
      const raw = m[1]!.replace(/_/g, '')
      let v = raw.startsWith('0x') || raw.startsWith('0X') ? Number.parseInt(raw, 16) : Number(raw)
      let j = i + m[1]!.length
      // A unit: right after the number (16p, 64M, 4K, 2pages), or the words page/pages after a space.
      const u = /^\s*([A-Za-z]+)/.exec(src.slice(j))
      const direct = u !== null && u[0].length === u[1]!.length
      if (u && UNITS[u[1]!.toLowerCase()] !== undefined && (direct || u[1] === 'page' || u[1] === 'pages')) {
        v *= UNITS[u[1]!.toLowerCase()]!
        j += u[0].length
      } else if (u && direct) {
        throw new ExprError(
          `unknown unit '${u[1]}' after ${m[1]}; units are K, M, G (binary) and p / page / pages (4096 bytes)`,
          j,
        )
      }
      out.push({ k: 'num', v, at: i })
      i = j
      continue
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_]*/.exec(src.slice(i))!
      out.push({ k: 'name', v: m[0].replace(/^\$/, ''), at: i })
      i += m[0].length
      continue
    }
    if ('+-*/%(),.'.includes(c)) {
      out.push({ k: 'op', v: c, at: i })
      i++
      continue
    }
    throw new ExprError(`unexpected '${c}' in expression`, i)
  }
  out.push({ k: 'end', at: src.length })
  return out
}

type Node = (env: ExprEnv) => number

/** Parse and compile `text` (a number is a constant expression). Throws ExprError. */
export function compileExpr(text: string | number): Compiled {
  if (typeof text === 'number') {
    return { text: String(text), eval: () => text, regions: [], vars: new Set(), constant: text }
  }
  const toks = tokenize(text)
  let pos = 0
  const regions: Array<{ name: string; offset: number }> = []
  const vars = new Set<string>()
  let usesNames = false
  const peek = () => toks[pos]!
  const next = () => toks[pos++]!
  const isOp = (v: string) => {
    const t = peek()
    return t.k === 'op' && t.v === v
  }
  const expectOp = (v: string, what: string) => {
    const t = next()
    if (t.k !== 'op' || t.v !== v) throw new ExprError(`expected '${v}' ${what}`, t.at)
  }
  const describe = (t: Tok) =>
    t.k === 'end' ? 'the end of the expression' : t.k === 'num' ? `number ${t.v}` : `'${t.v}'`

  function sum(): Node {
    let left = product()
    for (;;) {
      if (isOp('+')) {
        next()
        const l = left
        const r = product()
        left = (e) => l(e) + r(e)
      } else if (isOp('-')) {
        next()
        const l = left
        const r = product()
        left = (e) => l(e) - r(e)
      } else return left
    }
  }
  function product(): Node {
    let left = unary()
    for (;;) {
      const t = peek()
      if (t.k !== 'op' || !'*/%'.includes(t.v)) return left
      next()
      const l = left
      const r = unary()
      if (t.v === '*') left = (e) => l(e) * r(e)
      else if (t.v === '/') {
        left = (e) => {
          const d = r(e)
          if (d === 0) throw new RangeError(`division by zero in '${text}'`)
          return Math.floor(l(e) / d)
        }
      } else {
        left = (e) => {
          const d = r(e)
          if (d === 0) throw new RangeError(`modulo by zero in '${text}'`)
          return l(e) % d
        }
      }
    }
  }
  function unary(): Node {
    if (isOp('-')) {
      next()
      const u = unary()
      return (e) => -u(e)
    }
    return atom()
  }
  function atom(): Node {
    const t = next()
    if (t.k === 'num') {
      const v = t.v
      return () => v
    }
    if (t.k === 'op' && t.v === '(') {
      const inner = sum()
      expectOp(')', 'to close the parenthesis')
      return inner
    }
    if (t.k === 'name') {
      usesNames = true
      const name = t.v
      if (isOp('(')) {
        const f = FUNCS[name]
        if (!f)
          throw new ExprError(`unknown function '${name}'; functions: ${Object.keys(FUNCS).join(', ')}`, t.at)
        next()
        const args: Node[] = [sum()]
        while (isOp(',')) {
          next()
          args.push(sum())
        }
        expectOp(')', `to close ${name}(`)
        if (args.length < f.min || args.length > f.max) {
          throw new ExprError(
            `${name}() takes ${f.min === f.max ? f.min : `${f.min} to ${f.max}`} argument(s), got ${args.length}`,
            t.at,
          )
        }
        return (e) => f.fn(...args.map((a) => a(e)))
      }
      if ((VARS as readonly string[]).includes(name)) {
        vars.add(name)
        return name === 'i' ? (e) => e.i : (e) => e.pid
      }
      if ((CONSTS as readonly string[]).includes(name)) {
        const c = name as ConstName
        return (e) => e.consts[c]
      }
      if (name === 'page' || name === 'pages')
        throw new ExprError(`'${name}' is a unit, not a value: write 1${name}`, t.at)
      regions.push({ name, offset: t.at })
      let field = 'start' as (typeof REGION_FIELDS)[number]
      if (isOp('.')) {
        next()
        const f = next()
        if (f.k !== 'name' || !(REGION_FIELDS as readonly string[]).includes(f.v)) {
          throw new ExprError(`expected a region field after '${name}.': ${REGION_FIELDS.join(', ')}`, f.at)
        }
        field = f.v as typeof field
      }
      switch (field) {
        case 'start':
          return (e) => e.region(name).start
        case 'end':
          return (e) => {
            const r = e.region(name)
            return r.start + r.length
          }
        case 'length':
          return (e) => e.region(name).length
        case 'pages':
          return (e) => Math.ceil(e.region(name).length / 4096)
      }
    }
    throw new ExprError(`expected a number, a name or '(' but found ${describe(t)}`, t.at)
  }

  if (text.trim() === '') throw new ExprError('empty expression', 0)
  const root = sum()
  const end = peek()
  if (end.k !== 'end') throw new ExprError(`unexpected ${describe(end)} after the expression`, end.at)
  const evaluate: Node = (e) => {
    const v = root(e)
    if (!Number.isFinite(v)) throw new RangeError(`'${text}' is not a finite number`)
    return v
  }
  const constant = usesNames ? undefined : evaluate(undefined as unknown as ExprEnv)
  return { text, eval: evaluate, regions, vars, constant }
}
