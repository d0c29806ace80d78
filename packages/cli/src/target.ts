/**
 * Targets: a workload file or a built-in experiment, loaded and validated.
 * Shared by the command and its worker threads (src/pool-worker.ts), which
 * load the same target again from the same text and parameters.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { BadInputError, experiment, parseText, validateWorkload, type Workload } from '@rmaplab/workload'

/** What a worker needs to load a target again: the name, the `-p` pairs, and a file's text as read once. */
export interface TargetSpec {
  target: string
  pairs: readonly string[]
  /** A workload file's text (undefined for a built-in experiment). */
  text?: string | undefined
}

/** A workload file, or a built-in experiment by name. */
export function loadTarget(
  target: string,
  params: readonly string[],
): { workload: Workload; params: Record<string, number>; spec: TargetSpec } {
  const isFile = existsSync(target) && statSync(target).isFile()
  if (!isFile && existsSync(target) && statSync(target).isDirectory())
    throw new BadInputError([
      `${target}: is a directory; give a workload file (.yaml, .yml, .json) or an experiment name`,
    ])
  if (isFile) {
    if (params.length)
      throw new BadInputError([`--param is for built-in experiments; ${target} is a workload file`])
    const spec: TargetSpec = { target, pairs: [], text: readFileSync(target, 'utf8') }
    return { ...loadSpec(spec), spec }
  }
  if (/[\\/]|\.(ya?ml|json)$/i.test(target)) throw new BadInputError([`${target}: no such file`])
  const spec: TargetSpec = { target, pairs: [...params] }
  return { ...loadSpec(spec), spec }
}

/** A target from its spec: a file's text parsed as `target`, or the experiment with its pairs. */
export function loadSpec(spec: TargetSpec): { workload: Workload; params: Record<string, number> } {
  if (spec.text !== undefined) {
    const { data, source } = parseText(spec.text, spec.target)
    return {
      workload: validateWorkload(data, source, basename(spec.target).replace(/\.(ya?ml|json)$/i, '')),
      params: {},
    }
  }
  const e = experiment(spec.target)
  const { data, source, params } = e.load(spec.pairs)
  return { workload: validateWorkload(data, source, e.name), params }
}
