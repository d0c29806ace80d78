/**
 * The built-in experiments: the acceptance scenarios as demo workloads (YAML
 * files shipped in `workloads/`, so each is also an example of the format) and
 * the 2004 workloads as parameterised generators.
 */
import { parse } from 'yaml'
import { BadInputError } from '../errors.js'
import type { LayoutRun } from '../run.js'
import { objectSource, parseText, type Source } from '../source.js'
import { closest, validateWorkload, type Workload } from '../validate.js'
import { bligh } from './bligh.js'
import { CLASSIC, type VerifyResult } from './classic.js'
import { DEMOS } from './demos.js'
import { type ParamDefs, parseParams } from './params.js'

export interface Experiment {
  name: string
  /** `demo` (an acceptance scenario) or `2004` (a workload people measured). */
  group: 'demo' | '2004'
  title: string
  description: string
  params: ParamDefs
  /** The parameter that sets the process count, swept by `compare --chart` (2004 workloads). */
  sweep?: string
  /** A demo's YAML text, as shipped in the package's workloads/ (2004 workloads are generated: none). */
  text?: string
  /**
   * The claim across designs and layouts (2004 experiments that compare
   * designs): checked on the runs of one comparison; see ClassicExperiment.
   */
  verify?(runs: readonly LayoutRun[]): VerifyResult
  /** The workload with the given `key=value` parameters. */
  load(pairs: readonly string[]): { data: unknown; source: Source; params: Record<string, number> }
}

function demos(): Experiment[] {
  return DEMOS.map(([f, text]) => {
    const file = `workloads/${f}`
    const head = parse(text) as { name?: string; description?: string }
    const name = f.replace(/\.yaml$/, '')
    const description = (head.description ?? '').trim()
    return {
      name,
      group: 'demo',
      title: head.name ?? name,
      description,
      params: {},
      text,
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
    ...[...CLASSIC, bligh].map(
      (c): Experiment => ({
        name: c.name,
        group: '2004',
        title: c.title,
        description: c.description,
        params: c.params,
        ...(c.sweep ? { sweep: c.sweep } : {}),
        ...(c.verify ? { verify: c.verify } : {}),
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
    const names = experiments().map((x) => x.name)
    const guess = closest(name, names)
    throw new BadInputError([
      `unknown experiment '${name}' (and no such file)${guess ? `; did you mean '${guess}'?` : ''}; experiments: ${names.join(', ')}`,
    ])
  }
  return e
}

/** A built-in experiment's workload, validated, with its parameters (`['levels=6']`). */
export function loadExperiment(
  name: string,
  params: readonly string[] = [],
): { workload: Workload; params: Record<string, number>; experiment: Experiment } {
  const e = experiment(name)
  const { data, source, params: p } = e.load(params)
  return { workload: validateWorkload(data, source, e.name), params: p, experiment: e }
}

export type { VerifyResult } from './classic.js'

/**
 * The cross-design claim of the experiment a workload came from, checked on
 * its runs; undefined for a workload file or an experiment without one.
 */
export function verifyExperimentRuns(w: Workload, runs: readonly LayoutRun[]): VerifyResult | undefined {
  if (!w.source.file.startsWith('experiment:')) return undefined
  const e = experiments().find((x) => x.name === w.source.file.slice('experiment:'.length))
  return e?.verify?.(runs)
}
