/**
 * A README's TypeScript example as a module whose stated values are checked.
 * A statement with a trailing comment that starts with a value states what the
 * statement evaluates to:
 *
 * - a literal: `c.read(a) // 0x01`, `x // 4294967295n: …`, `ok // true; …`
 * - an object or array literal, `...` for keys not shown:
 *   `m.pageout(pfn) // { result: 'freed', swap: { type: 1 }, ... }` (names in
 *   scope may appear: `[{ cpu: -1, mm }]`)
 * - an error: `i386.mkPte(big, prot) // throws ArchLimitError: pfn above 0xfffff`
 * - what `console.log(x) // 1234025` prints (a string as is, anything else as
 *   Node shows it: `1n`).
 *
 * Other comments are prose and are left alone.
 */

/** The code of a line and its trailing `//` comment (outside quotes), if any. */
export function splitComment(line: string): { code: string; comment?: string } {
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
    } else if (c === "'" || c === '"' || c === '`') quote = c
    else if (c === '/' && line[i + 1] === '/')
      return { code: line.slice(0, i).trimEnd(), comment: line.slice(i + 2).trim() }
  }
  return { code: line }
}

const LITERAL = /^(-?0x[0-9a-fA-F]+n?|-?\d+(?:\.\d+)?n?|true|false|null|undefined|'[^']*')(?=$|[\s:;,.)])/

/** The text of the bracketed literal at the start of `s` (`{ … }` or `[ … ]`), balanced, outside quotes. */
function bracketed(s: string): string | undefined {
  let depth = 0
  let quote: string | undefined
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (quote) {
      if (c === quote) quote = undefined
      continue
    }
    if (c === "'" || c === '"') quote = c
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') {
      depth--
      if (depth === 0) return s.slice(0, i + 1)
    }
  }
  return undefined
}

export type Claim =
  | { kind: 'value'; expected: string }
  | { kind: 'printed'; expected: string }
  | { kind: 'throws'; name: string; message?: string }

/** What a comment states, if it starts with a value. */
export function claimOf(text: string, printed: boolean): Claim | undefined {
  // `// → 0x01` and `// => 0x01` state a value the same way as `// 0x01`.
  const comment = text.replace(/^(?:→|=>)\s*/, '')
  // What console.log prints may also be bare hex digits: `console.log(v.toString(16)) // 1234025`, `// ff`.
  const lit = LITERAL.exec(comment) ?? (printed ? /^([0-9a-fA-F]+)(?=$|[\s:;,)])/.exec(comment) : null)
  if (lit) return printed ? { kind: 'printed', expected: lit[1]! } : { kind: 'value', expected: lit[1]! }
  if (printed) return undefined
  if (comment.startsWith('{') || comment.startsWith('[')) {
    const text = bracketed(comment)
    // `...` stands for what the README leaves out: partial objects.
    if (text) return { kind: 'value', expected: text.replace(/,?\s*\.\.\.\s*(?=[}\]])/g, ' ') }
  }
  // `throws Name: text` (the message contains text) or `throws Name (prose)`.
  const t = /^throws ([A-Z]\w*)(?::\s*(.+)|\s.*)?$/.exec(comment)
  if (t) return { kind: 'throws', name: t[1]!, ...(t[2] ? { message: t[2] } : {}) }
  return undefined
}

const NOT_AN_EXPRESSION =
  /^\s*(import|export|const|let|var|type|interface|function|class|return|if|for|while)\b/

/** Names a block declares itself (imports, const/let/var, functions, classes). */
function declared(code: string): Set<string> {
  const names = new Set<string>()
  for (const m of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g))
    for (const part of m[1]!.split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .at(-1)
        ?.replace(/^type\s+/, '')
      if (name) names.add(name)
    }
  for (const m of code.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]!)
  return names
}

export interface ClaimModule {
  /** TypeScript: `export default function (claim) { … }`, the block's imports hoisted. */
  readonly source: string
  /** How many stated values it checks. */
  readonly claims: number
}

/**
 * The block as a module. `exports` maps each name the workspace packages
 * export to its package: a name the block uses without importing it (a block
 * that goes on from an earlier one) is imported from there.
 */
export function claimModule(code: string, exports: ReadonlyMap<string, string>): ClaimModule {
  const imports: string[] = []
  const body: string[] = []
  let claims = 0
  const lines = code.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (/^\s*import\s/.test(line)) {
      // A multi-line import: up to the line with `from`.
      let stmt = line
      while (!/\bfrom\s+['"]/.test(stmt) && i + 1 < lines.length) stmt += `\n${lines[++i]!}`
      imports.push(stmt)
      continue
    }
    const { code: stmt, comment } = splitComment(line)
    if (
      comment === undefined ||
      stmt.trim() === '' ||
      NOT_AN_EXPRESSION.test(stmt) ||
      /[=,{([]\s*$/.test(stmt)
    ) {
      body.push(line)
      continue
    }
    const printed = /^\s*console\.log\((.*)\)\s*;?$/.exec(stmt)
    const claim = claimOf(comment, printed !== null)
    if (!claim) {
      body.push(line)
      continue
    }
    claims++
    const expr = printed ? printed[1]! : stmt.trim().replace(/;$/, '')
    const text = JSON.stringify(line.trim())
    const indent = /^\s*/.exec(line)![0]
    if (claim.kind === 'throws')
      body.push(
        `${indent}claim.throws(${text}, () => (${expr}), ${JSON.stringify(claim.name)}, ${JSON.stringify(claim.message ?? '')})`,
      )
    else if (claim.kind === 'printed')
      body.push(`${indent}claim.printed(${text}, () => (${expr}), ${JSON.stringify(claim.expected)})`)
    else body.push(`${indent}claim.value(${text}, () => (${expr}), () => (${claim.expected}))`)
  }
  const have = declared(code)
  const wanted = new Map<string, string[]>()
  for (const m of body.join('\n').matchAll(/(?<![\w$.'"])([A-Za-z_$][\w$]*)/g)) {
    const name = m[1]!
    const pkg = exports.get(name)
    if (!pkg || have.has(name)) continue
    have.add(name)
    wanted.set(pkg, [...(wanted.get(pkg) ?? []), name])
  }
  for (const [pkg, names] of wanted) imports.push(`import { ${names.join(', ')} } from '${pkg}'`)
  const source = [
    ...imports,
    'export default function (claim: any) {',
    ...body.map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n')
  return { source, claims }
}
