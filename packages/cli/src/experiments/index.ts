/**
 * The built-in experiments: the acceptance scenarios as demo workloads (YAML
 * files shipped in `workloads/`, so each is also an example of the format) and
 * the 2004 workloads as parameterised generators.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { BadInputError } from '../errors.js'
import { objectSource, parseText, type Source } from '../workload/source.js'
import { CLASSIC } from './classic.js'
import { type ParamDefs, parseParams } from './params.js'

/** Where the demo workloads live, in the source tree and in the published package alike. */
export const WORKLOADS_DIR = fileURLToPath(new URL('../../workloads/', import.meta.url))

export interface Experiment {
  name: string
  /** `demo` (an acceptance scenario) or `2004` (a workload people measured). */
  group: 'demo' | '2004'
  title: string
  description: string
  params: ParamDefs
  /** The parameter that sets the process count, swept by `compare --chart` (2004 workloads). */
  sweep?: string
  /** The workload with the given `key=value` parameters. */
  load(pairs: readonly string[]): { data: unknown; source: Source; params: Record<string, number> }
}

function demos(): Experiment[] {
  const files = readdirSync(WORKLOADS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  return files.map((f) => {
    const file = `${WORKLOADS_DIR}${f}`
    const text = readFileSync(file, 'utf8')
    const head = parse(text) as { name?: string; description?: string }
    const name = f.replace(/\.yaml$/, '')
    const description = (head.description ?? '').trim()
    return {
      name,
      group: 'demo',
      title: head.name ?? name,
      description,
      params: {},
      load(pairs) {
        parseParams(name, {}, pairs)
        const { data, source } = parseText(text, file)
        return { data, source, params: {} }
      },
    }
  })
}

let cache: Experiment[] | undefined

/** Every built-in experiment. */
export function experiments(): Experiment[] {
  cache ??= [
    ...demos(),
    ...CLASSIC.map(
      (c): Experiment => ({
        name: c.name,
        group: '2004',
        title: c.title,
        description: c.description,
        params: c.params,
        ...(c.sweep ? { sweep: c.sweep } : {}),
        load(pairs) {
          const params = parseParams(c.name, c.params, pairs)
          return { data: c.build(params), source: objectSource(`experiment:${c.name}`), params }
        },
      }),
    ),
  ]
  return cache
}

/** The experiment called `name`; a one-line error listing the names otherwise. */
export function experiment(name: string): Experiment {
  const e = experiments().find((x) => x.name === name)
  if (!e) {
    throw new BadInputError([
      `unknown experiment '${name}' (and no such file); experiments: ${experiments()
        .map((x) => x.name)
        .join(', ')}`,
    ])
  }
  return e
}
