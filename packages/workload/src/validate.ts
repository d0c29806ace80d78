/**
 * Validation, before anything runs: the shape (zod), then the step kinds, then
 * the meaning (names defined before use, expressions, ranges; analyze.ts).
 * Every problem is reported with its file, line and column and what was
 * expected; all of them at once, up to a limit.
 */
import { z } from 'zod'
import { analyze, type Plan, sizeProblem } from './analyze.js'
import { BadInputError } from './errors.js'
import { sizeBytes } from './format.js'
import {
  HeaderSchema,
  type MachineSpec,
  STEP_KINDS,
  STEP_SCHEMAS,
  type Step,
  type StepKind,
} from './schema.js'
import { type PathKey, parseText, problem, type Source } from './source.js'

const MAX_PROBLEMS = 25

/** A validated workload, ready to run. */
export interface Workload extends Plan {
  name: string
  description: string | undefined
  source: Source
  machine: MachineSpec
}

/** Validate parsed data (from a file or an experiment); throws BadInputError with every problem found. */
export function validateWorkload(data: unknown, source: Source, defaultName: string): Workload {
  const problems: string[] = []
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new BadInputError([
      problem(
        source,
        [],
        `expected a map with 'steps' (and optionally name, description, machine), got ${describe(data)}`,
      ),
    ])
  }
  const head = HeaderSchema.safeParse(data)
  if (!head.success) problems.push(...zodProblems(head.error.issues, [], data, source, HeaderSchema))
  const rawSteps = (data as { steps?: unknown }).steps
  const steps: Array<Step | undefined> = []
  if (Array.isArray(rawSteps)) {
    rawSteps.forEach((raw, i) => {
      const s = dispatch(raw, i, source, problems)
      steps.push(s)
    })
  }
  // The cpus: section (a race scenario): each cpu's steps, dispatched the same way.
  const rawCpus = (data as { cpus?: unknown }).cpus
  const cpus: Array<{ name?: string | undefined; steps: Step[] }> = []
  if (Array.isArray(rawCpus)) {
    rawCpus.forEach((c, ci) => {
      const list = (c as { steps?: unknown } | null)?.steps
      const name = (c as { name?: unknown } | null)?.name
      const out: Step[] = []
      if (Array.isArray(list))
        list.forEach((raw, i) => {
          const st = dispatch(raw, i, source, problems, ['cpus', ci, 'steps'])
          if (st) out.push(st)
        })
      cpus.push({ name: typeof name === 'string' ? name : undefined, steps: out })
      if (typeof name === 'string' && cpus.slice(0, -1).some((x) => x.name === name))
        problems.push(
          problem(
            source,
            ['cpus', ci, 'name'],
            `a cpu named '${name}' is already listed: choose another name`,
          ),
        )
    })
  }
  const header = head.data
  for (const key of ['ram', 'swap'] as const) {
    const v = header?.machine?.[key]
    if (v === undefined) continue
    const p = sizeProblem(v, key)
    if (p)
      problems.push(
        problem(
          source,
          ['machine', key],
          p.message,
          p.offset !== undefined ? { offset: p.offset } : undefined,
        ),
      )
  }
  if (problems.length) throw new BadInputError(limit(problems))
  const swap = header!.machine?.swap
  const plan = analyze(steps as Step[], source, problems, {
    machineSwap: swap !== undefined && sizeBytes(swap) !== 0,
    ...(Array.isArray(rawCpus) ? { cpus } : {}),
  })
  if (problems.length) throw new BadInputError(limit(problems))
  return {
    ...plan,
    name: header!.name ?? defaultName,
    description: header!.description,
    source,
    machine: header!.machine ?? {},
  }
}

function limit(problems: string[]): string[] {
  if (problems.length <= MAX_PROBLEMS) return problems
  return [...problems.slice(0, MAX_PROBLEMS), `... and ${problems.length - MAX_PROBLEMS} more problems`]
}

/** One step: a map with one key, the kind, whose value validates against that kind's schema. */
function dispatch(
  raw: unknown,
  i: number,
  source: Source,
  problems: string[],
  base: PathKey[] = ['steps'],
): Step | undefined {
  const path: PathKey[] = [...base, i]
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(
      problem(
        source,
        path,
        `expected a step: a map with one key naming the step kind (${STEP_KINDS.join(', ')}), got ${describe(raw)}`,
      ),
    )
    return undefined
  }
  const keys = Object.keys(raw)
  const kinds = keys.filter((k): k is StepKind => (STEP_KINDS as string[]).includes(k))
  let bad = false
  for (const k of keys) {
    if (kinds.includes(k as StepKind)) continue
    const guess = closest(k, STEP_KINDS)
    problems.push(
      problem(
        source,
        path,
        `unknown step kind '${k}'${guess ? ` (did you mean '${guess}'?)` : ''}; step kinds: ${STEP_KINDS.join(', ')}`,
        { key: k },
      ),
    )
    bad = true
  }
  if (keys.length === 0) {
    problems.push(
      problem(source, path, `empty step: expected one key naming the step kind (${STEP_KINDS.join(', ')})`),
    )
    return undefined
  }
  if (kinds.length > 1) {
    problems.push(
      problem(
        source,
        path,
        `a step has one kind, this one has ${kinds.join(' and ')}: make them separate steps`,
        {
          key: kinds[1]!,
        },
      ),
    )
    return undefined
  }
  if (bad || kinds.length === 0) return undefined
  const kind = kinds[0]!
  const schema = STEP_SCHEMAS[kind]
  const value = (raw as Record<string, unknown>)[kind]
  const r = schema.safeParse(value)
  if (!r.success) {
    problems.push(...zodProblems(r.error.issues, [...path, kind], value, source, schema))
    return undefined
  }
  return { kind, args: r.data } as Step
}

/** Zod issues as positioned problems with plain messages. */
export function zodProblems(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PathKey[],
  root: unknown,
  source: Source,
  schema: z.ZodType,
): string[] {
  const out: string[] = []
  for (const issue of flatten(issues, [])) {
    const rel = issue.path as PathKey[]
    const path = [...base, ...rel]
    const value = valueAt(root, rel)
    if (issue.code === 'unrecognized_keys') {
      const valid = keysAt(schema, rel)
      for (const key of issue.keys) {
        const guess = valid ? closest(key, valid) : undefined
        out.push(
          problem(
            source,
            path,
            /[()+*]/.test(key)
              ? `unknown key '${key}': an expression with a comma inside { } must be quoted, e.g. addr: 'align(a, PTE_SPAN)'`
              : `unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}${valid ? `; valid keys: ${valid.join(', ')}` : ''}`,
            { key },
          ),
        )
      }
      continue
    }
    out.push(problem(source, path, message(issue, value)))
  }
  return out
}

/** Unions: when one branch got past the type check, its issues say more than "no branch matched". */
function flatten(issues: readonly z.core.$ZodIssue[], prefix: PathKey[]): z.core.$ZodIssue[] {
  const out: z.core.$ZodIssue[] = []
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathKey[])]
    if (issue.code === 'invalid_union') {
      const deeper = issue.errors.filter((branch) => !branch.every(isRootTypeMismatch))
      if (deeper.length === 1) {
        out.push(...flatten(deeper[0]!, path))
        continue
      }
    }
    out.push({ ...issue, path } as z.core.$ZodIssue)
  }
  return out
}

function isRootTypeMismatch(issue: z.core.$ZodIssue): boolean {
  if (issue.path.length) return false
  if (issue.code === 'invalid_type') return true
  if (issue.code === 'invalid_value') return false
  if (issue.code === 'invalid_union') return issue.errors.every((b) => b.every(isRootTypeMismatch))
  return false
}

function message(issue: z.core.$ZodIssue, value: unknown): string {
  const got = `, got ${describe(value)}`
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return `missing: expected ${typeName(issue.expected)}`
      if (issue.expected === 'int') return `expected an integer${got}`
      return `expected ${typeName(issue.expected)}${got}`
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => String(v)).join(', ')}${got}`
    case 'too_small': {
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item(s)${got}`
      if (issue.origin === 'string') return `expected a non-empty string${got}`
      return `expected at least ${issue.minimum}${got}`
    }
    case 'too_big':
      if (issue.origin === 'array') return `expected at most ${issue.maximum} item(s)`
      return `expected at most ${issue.maximum}${got}`
    case 'invalid_format':
      return `${issue.message.startsWith('Invalid') ? `expected ${issue.format}` : issue.message}${got}`
    case 'invalid_union':
      if (value === undefined && !issue.message.startsWith('Invalid')) return `missing: ${issue.message}`
      return `${issue.message.startsWith('Invalid') ? 'expected another form' : issue.message}${got}`
    default:
      return `${issue.message}${got}`
  }
}

function typeName(t: string): string {
  switch (t) {
    case 'object':
      return 'a map of arguments'
    case 'array':
      return 'a list'
    case 'number':
      return 'a number'
    case 'string':
      return 'a string'
    case 'boolean':
      return 'true or false'
    case 'null':
      return 'nothing (an empty value)'
    default:
      return t
  }
}

/** A short rendering of a value for messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'an empty value'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (Array.isArray(v)) return 'a list'
  return 'a map'
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let v = root
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<PathKey, unknown>)[k]
  }
  return v
}

/** The keys an object schema at `path` accepts (through optional, arrays, unions and records). */
function keysAt(schema: z.ZodType, path: readonly PathKey[]): string[] | undefined {
  let candidates: z.ZodType[] = [schema]
  const unwrap = (s: z.ZodType): z.ZodType[] => {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault)
      return unwrap(s.unwrap() as z.ZodType)
    if (s instanceof z.ZodUnion) return (s.options as z.ZodType[]).flatMap(unwrap)
    return [s]
  }
  for (const k of path) {
    const next: z.ZodType[] = []
    for (const c of candidates.flatMap(unwrap)) {
      if (c instanceof z.ZodObject && typeof k === 'string' && k in c.shape)
        next.push(c.shape[k] as z.ZodType)
      else if (c instanceof z.ZodArray && typeof k === 'number') next.push(c.element as z.ZodType)
      else if (c instanceof z.ZodRecord) next.push(c.valueType as z.ZodType)
    }
    candidates = next
  }
  const objs = candidates.flatMap(unwrap).filter((c): c is z.ZodObject => c instanceof z.ZodObject)
  if (objs.length === 0) return undefined
  return [...new Set(objs.flatMap((o) => Object.keys(o.shape)))]
}

/** The closest valid word, if it is close (edit distance ≤ 2, or a prefix). */
export function closest(word: string, valid: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = 3
  for (const v of valid) {
    const d = distance(word.toLowerCase(), v.toLowerCase())
    if (d < bestD) {
      best = v
      bestD = d
    }
  }
  return best
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}

/**
 * Parse a workload's text (YAML, or JSON when `file` ends in .json) and
 * validate it: every problem is a line `file:line:col: path: message` of the
 * BadInputError thrown. The workload's name defaults to the file's base name.
 */
export function parseWorkload(text: string, file = 'workload.yaml'): Workload {
  const { data, source } = parseText(text, file)
  const base = file.replace(/^.*[\\/]/, '').replace(/\.(ya?ml|json)$/i, '')
  return validateWorkload(data, source, base)
}
