/**
 * Where a value sits in the workload's text: YAML (and JSON, which the same
 * parser reads) keeps node ranges, and a LineCounter turns offsets into lines
 * and columns.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar } from 'yaml'
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

/** Parse YAML or JSON text; syntax errors are bad input with their positions. */
export function parseText(text: string, file: string): { data: unknown; source: Source } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length) {
    throw new BadInputError(
      doc.errors.slice(0, 10).map((e) => {
        const pos = lineCounter.linePos(e.pos[0])
        const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
        return `${file}:${pos.line}:${pos.col}: ${/JSON/.test(file) ? 'JSON' : 'YAML'} syntax: ${msg}`
      }),
    )
  }
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown
  return { data, source: docSource(file, doc, lineCounter) }
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
