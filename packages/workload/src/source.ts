/**
 * Where a value sits in the workload's text: YAML (and JSON, which the same
 * parser reads) keeps node ranges, and a LineCounter turns offsets into lines
 * and columns.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  visit,
} from 'yaml'
import { BadInputError } from './errors.js'

export type PathKey = string | number

/** A line and column, both from 1. */
export interface Pos {
  line: number
  col: number
}

/** A workload's origin: a file with positions, or a built-in experiment without. */
export interface Source {
  /** The file name as given, or `experiment:NAME`. */
  readonly file: string
  /** The position of the value at `path` (its key with `key`; `offset` characters into a scalar). */
  locate(path: readonly PathKey[], opts?: { key?: string; offset?: number }): Pos | undefined
}

/** `steps[3].mmap.prot` */
export function pathString(path: readonly PathKey[]): string {
  let s = ''
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s === '' ? k : `.${k}`
  return s
}

/** `file:line:col: path: message` (or `file: path: message` without a position). */
export function problem(
  source: Source,
  path: readonly PathKey[],
  message: string,
  opts?: { key?: string; offset?: number },
) {
  const pos = source.locate(path, opts)
  const where = pos ? `${source.file}:${pos.line}:${pos.col}` : source.file
  const p = pathString(opts?.key ? [...path, opts.key] : path)
  return `${where}: ${p ? `${p}: ` : ''}${message}`
}

/** A source without positions (a built-in experiment's generated workload). */
export function objectSource(file: string): Source {
  return { file, locate: () => undefined }
}

/** How deep a workload may nest maps and lists: a workload needs about six levels. */
export const MAX_DEPTH = 64
/** How many nodes aliases may expand to in all (a YAML alias bomb expands to billions). */
export const MAX_ALIAS_NODES = 10_000

/** Parse YAML or JSON text; syntax errors are bad input with their positions. */
export function parseText(text: string, file: string): { data: unknown; source: Source } {
  const lineCounter = new LineCounter()
  const isJson = /\.json$/i.test(file)
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset)
    return `${file}:${pos.line}:${pos.col}`
  }
  // Before the parser: nesting so deep that reading it would exhaust the stack or memory.
  const deep = flowDepth(text)
  if (deep !== undefined) {
    lineCounter.addNewLine(0)
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineCounter.addNewLine(i + 1)
    throw new BadInputError([
      `${at(deep)}: nested more than ${MAX_DEPTH} levels deep; a workload needs only a few levels of maps and lists`,
    ])
  }
  let doc: Document
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  } catch (e) {
    if (e instanceof RangeError) throw new BadInputError([`${file}: too deeply nested or too large to read`])
    throw e
  }
  const syntax = isJson ? 'JSON' : 'YAML'
  if (doc.errors.length) {
    throw new BadInputError(
      doc.errors.slice(0, 10).map((e) => {
        const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
        if (/call stack/i.test(msg))
          return `${at(e.pos[0])}: nested too deeply to read (a workload needs only a few levels of maps and lists)`
        return `${at(e.pos[0])}: ${syntax} syntax: ${msg}`
      }),
    )
  }
  if (isJson) {
    const comma = trailingComma(text)
    if (comma !== undefined)
      throw new BadInputError([
        `${at(comma)}: JSON syntax: a comma before the closing bracket (JSON allows none)`,
      ])
    // YAML reads more than JSON (comments, single quotes, bare words): a .json file must be JSON.
    try {
      JSON.parse(text)
    } catch (e) {
      const msg = (e as Error).message
      const offset = /at position (\d+)/.exec(msg)?.[1]
      const where = offset !== undefined ? at(Number(offset)) : file
      throw new BadInputError([`${where}: JSON syntax: ${msg.replace(/ in JSON at position \d+.*$/s, '')}`])
    }
  }
  const tooDeep = nodeDeeperThan(doc.contents, MAX_DEPTH)
  if (tooDeep)
    throw new BadInputError([
      `${at(tooDeep)}: nested more than ${MAX_DEPTH} levels deep; a workload needs only a few levels of maps and lists`,
    ])
  const bomb = aliasBomb(doc)
  if (bomb !== undefined)
    throw new BadInputError([
      `${at(bomb)}: ${syntax}: this alias makes the document expand to more than ${MAX_ALIAS_NODES} nodes (an alias bomb?); write the values out, or use fewer nested aliases`,
    ])
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_NODES }) as unknown
  } catch (e) {
    if (e instanceof ReferenceError || e instanceof RangeError)
      throw new BadInputError([`${file}: ${syntax}: ${e.message}`])
    throw e
  }
  return { data, source: docSource(file, doc, lineCounter) }
}

/** The offset of the first '[' or '{' nested deeper than MAX_DEPTH (outside strings and comments). */
function flowDepth(text: string): number | undefined {
  let depth = 0
  let quote = ''
  let comment = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (comment) {
      if (c === '\n') comment = false
      continue
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = ''
      continue
    }
    if (c === '"' || c === "'") quote = c
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) comment = true
    else if (c === '[' || c === '{') {
      if (++depth > MAX_DEPTH) return i
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1)
  }
  return undefined
}

/** The offset of a comma followed (after blanks) by ']' or '}', outside strings: valid YAML, invalid JSON. */
function trailingComma(text: string): number | undefined {
  let quote = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote) {
      if (c === '\\') i++
      else if (c === '"') quote = false
      continue
    }
    if (c === '"') quote = true
    else if (c === ',') {
      let j = i + 1
      while (j < text.length && /\s/.test(text[j]!)) j++
      if (text[j] === ']' || text[j] === '}') return i
    }
  }
  return undefined
}

/** The start of the first node deeper than `max` (maps and lists, iteratively). */
function nodeDeeperThan(root: unknown, max: number): number | undefined {
  const stack: Array<[unknown, number]> = [[root, 0]]
  while (stack.length) {
    const [node, depth] = stack.pop()!
    if (!isMap(node) && !isSeq(node)) continue
    if (depth > max) return (node as { range?: [number, number, number] }).range?.[0] ?? 0
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        stack.push([item.key, depth + 1])
        stack.push([item.value, depth + 1])
      } else stack.push([item, depth + 1])
    }
  }
  return undefined
}

/** The offset of the alias at which the document, aliases expanded, passes MAX_ALIAS_NODES nodes. */
function aliasBomb(doc: Document): number | undefined {
  const sizes = new Map<unknown, number>()
  const size = (node: unknown): number => {
    if (isAlias(node)) return size(node.resolve(doc))
    if (!isMap(node) && !isSeq(node)) return 1
    const known = sizes.get(node)
    if (known !== undefined) return known
    sizes.set(node, 1) // an alias inside its own anchor counts once
    let n = 1
    for (const item of node.items as unknown[]) {
      n += isPair(item) ? size(item.key) + size(item.value) : size(item)
      if (n > MAX_ALIAS_NODES) break
    }
    sizes.set(node, n)
    return n
  }
  let total = 0
  let found: number | undefined
  visit(doc, {
    Alias(_key, node) {
      total += size(node)
      if (total > MAX_ALIAS_NODES) {
        found = node.range?.[0] ?? 0
        return visit.BREAK
      }
      return undefined
    },
  })
  return found
}

function docSource(file: string, doc: Document, lc: LineCounter): Source {
  return {
    file,
    locate(path, opts) {
      // The deepest node on the path that exists.
      let node: unknown = doc.contents
      let depth = 0
      for (const k of path) {
        let child: unknown
        if (isMap(node)) child = node.get(k, true)
        else if (isSeq(node) && typeof k === 'number') child = node.get(k, true)
        if (child === undefined || child === null) break
        node = child
        depth++
      }
      if (opts?.key !== undefined && depth === path.length && isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === opts.key)
        const key = pair?.key as Scalar | undefined
        if (key?.range) return lc.linePos(key.range[0])
      }
      const range = (node as { range?: [number, number, number] } | null)?.range
      if (!range) return { line: 1, col: 1 }
      let at = range[0]
      if (opts?.offset !== undefined && depth === path.length && isScalar(node)) {
        const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE
        if (node.type === Scalar.PLAIN || quoted) at += opts.offset + (quoted ? 1 : 0)
      }
      return lc.linePos(at)
    },
  }
}
