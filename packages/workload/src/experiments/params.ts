/** Parameters of built-in experiments: `-p levels=6 -p size=128M`. */
import { parseSize } from '@rmaplab/rmap'
import { BadInputError } from '../errors.js'

export interface ParamDef {
  /** `choice`: one of `choices` by name; its value is the index (`backing=tmpfs` → 1). */
  kind: 'int' | 'size' | 'choice'
  default: number
  min: number
  max: number
  description: string
  /** The names of a `choice` parameter, in index order. */
  choices?: readonly string[]
}

export type ParamDefs = Record<string, ParamDef>

/** The `walks` parameter of an experiment: how many pages page_referenced walks once the workload has run. */
export function walksParam(def: number, description = 'pages page_referenced walks afterwards'): ParamDef {
  return { kind: 'int', default: def, min: 0, max: 1_000_000, description }
}
export type Params<D extends ParamDefs> = { [K in keyof D]: number }

/** A parameter's value as people write it. */
export function showParam(d: ParamDef, v: number): string {
  if (d.kind === 'choice') return d.choices?.[v] ?? String(v)
  if (d.kind !== 'size') return String(v)
  for (const [u, n] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const)
    if (v % n === 0 && v >= n) return `${v / n}${u}`
  return String(v)
}

/** Parse `key=value` pairs against the definitions: defaults filled, unknown names and values out of range refused. */
export function parseParams<D extends ParamDefs>(
  experiment: string,
  defs: D,
  pairs: readonly string[],
): Params<D> {
  const out: Record<string, number> = {}
  for (const [k, d] of Object.entries(defs)) out[k] = d.default
  const names = Object.keys(defs)
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const key = eq < 0 ? pair : pair.slice(0, eq)
    const raw = eq < 0 ? '' : pair.slice(eq + 1)
    const d = defs[key]
    if (!d) {
      throw new BadInputError([
        names.length
          ? `unknown parameter '${key}' of ${experiment}; parameters: ${names.join(', ')}`
          : `${experiment} takes no parameters (got '${key}')`,
      ])
    }
    if (eq < 0 || raw === '') throw new BadInputError([`parameter ${key}: expected ${key}=VALUE`])
    if (d.kind === 'choice') {
      const choices = d.choices ?? []
      const k = choices.indexOf(raw)
      if (k < 0) throw new BadInputError([`parameter ${key}: '${raw}' is not one of ${choices.join(', ')}`])
      out[key] = k
      continue
    }
    let v: number
    try {
      v = d.kind === 'size' ? parseSize(raw, key) : Number(raw)
    } catch (e) {
      throw new BadInputError([`parameter ${key}: ${(e as Error).message.replace(/^\w+: /, '')}`])
    }
    if (!Number.isInteger(v))
      throw new BadInputError([`parameter ${key}: expected a whole number, got '${raw}'`])
    if (v < d.min || v > d.max) {
      throw new BadInputError([
        `parameter ${key}: ${raw} is out of range; ${experiment} takes ${showParam(d, d.min)}..${showParam(d, d.max)}`,
      ])
    }
    if (d.kind === 'size' && v % 4096 !== 0)
      throw new BadInputError([`parameter ${key}: ${raw} is not a whole number of 4K pages`])
    out[key] = v
  }
  return out as Params<D>
}
