/**
 * The meaning of a workload, checked before it runs: every name (process,
 * group, region, fd, mark) defined by an earlier step, every expression parsed
 * and naming only regions already mapped, the range forms used consistently.
 * The result is the plan the runner executes: steps with their expressions
 * compiled.
 */
import { i386 } from '@rmaplab/arch-i386'
import { Machine } from '@rmaplab/rmap'
import { type Compiled, compileExpr, ExprError, RESERVED_NAMES } from './expr.js'
import type { Step, StepKind } from './schema.js'
import { type PathKey, type Pos, problem, type Source } from './source.js'

/** A step ready to run. */
export interface PlanStep {
  /** Position in the workload, from 0. */
  index: number
  kind: StepKind
  // biome-ignore lint/suspicious/noExplicitAny: the runner switches on kind; args are validated by the kind's schema
  args: any
  /** Where it is in the file, when it came from one. */
  pos: Pos | undefined
  /** A short description for traces and reports: `mmap p → a`. */
  label: string
  /** The compiled expression at a dotted argument path (`addr`, `meminfo.PageTables.eq`). */
  exprs: ReadonlyMap<string, Compiled>
}

export interface Plan {
  steps: PlanStep[]
}

type ProcShape = 'one' | 'group'

let statPaths: Set<string> | undefined
/** Every numeric leaf of `m.stats()`, by dotted path. */
export function statsPaths(): Set<string> {
  if (!statPaths) {
    statPaths = new Set()
    const walk = (o: Record<string, unknown>, prefix: string) => {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'number') statPaths!.add(prefix + k)
        else if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${prefix}${k}.`)
      }
    }
    walk(new Machine({ arch: i386, ram: '4M' }).stats() as unknown as Record<string, unknown>, '')
  }
  return statPaths
}

const RANGE_KINDS = new Set<StepKind>([
  'munmap',
  'mprotect',
  'mlock',
  'munlock',
  'madvise',
  'mremap',
  'remap_file_pages',
  'read',
  'write',
  'page_referenced',
  'try_to_unmap',
  'pageout',
])

/** Check names and expressions; push problems; return the plan (meaningful only without problems). */
export function analyze(
  steps: readonly Step[],
  source: Source,
  problems: string[],
  opts: { machineSwap?: boolean } = {},
): Plan {
  const areas = new Set<string>(opts.machineSwap ? ['swap'] : [])
  const procs = new Map<string, ProcShape>()
  const regions = new Set<string>()
  const fds = new Set<string>()
  const marks = new Set<string>()
  const out: PlanStep[] = []

  steps.forEach((step, index) => {
    const base: PathKey[] = ['steps', index, step.kind]
    const a = step.args as Record<string, unknown> | null
    const args = (a ?? {}) as Record<string, unknown>
    const exprs = new Map<string, Compiled>()
    const report = (path: PathKey[], msg: string, opts?: { key?: string; offset?: number }) =>
      problems.push(problem(source, [...base, ...path], msg, opts))

    const expr = (keys: PathKey[], vars: readonly string[] = []) => {
      let v: unknown = args
      for (const k of keys) v = (v as Record<PathKey, unknown> | undefined)?.[k]
      if (v === undefined) return
      if (typeof v !== 'number' && typeof v !== 'string') return
      try {
        const c = compileExpr(v)
        for (const r of c.regions) {
          if (!regions.has(r.name)) {
            report(
              keys,
              `no region named '${r.name}' is mapped by an earlier step${regions.size ? ` (regions so far: ${[...regions].join(', ')})` : ''}`,
              { offset: r.offset },
            )
          }
        }
        for (const name of c.vars) {
          if (!vars.includes(name)) {
            report(
              keys,
              `'${name}' can be used only in value, expect and page assertions (it is the page index or the pid)`,
            )
          }
        }
        exprs.set(keys.join('.'), c)
      } catch (e) {
        if (e instanceof ExprError) report(keys, `${e.message} in '${v}'`, { offset: e.offset })
        else report(keys, (e as Error).message)
      }
    }
    const cmp = (keys: PathKey[], vars: readonly string[] = []) => {
      let v: unknown = args
      for (const k of keys) v = (v as Record<PathKey, unknown> | undefined)?.[k]
      if (v === undefined) return
      if (typeof v === 'object' && v !== null) {
        const o = v as Record<string, unknown>
        for (const k of ['eq', 'min', 'max']) expr([...keys, k], vars)
        if (o['eq'] === undefined && o['min'] === undefined && o['max'] === undefined)
          report(keys, 'a comparison needs eq, min or max')
        if (typeof o['since'] === 'string' && !marks.has(o['since'])) {
          report(
            [...keys, 'since'],
            `no mark named '${o['since']}' before this step (define it with - mark: { as: ${o['since']} })`,
          )
        }
      } else expr(keys, vars)
    }
    const proc = (keys: PathKey[], one: boolean) => {
      let v: unknown = args
      for (const k of keys) v = (v as Record<PathKey, unknown> | undefined)?.[k]
      if (v === undefined) return
      const names = Array.isArray(v) ? (v as string[]) : [v as string]
      names.forEach((full, j) => {
        const at = Array.isArray(v) ? [...keys, j] : keys
        const member = /^(.*)\[(\d+)\]$/.exec(full)
        const n = member ? member[1]! : full
        const shape = procs.get(n)
        if (member && shape === 'one') {
          report(at, `'${n}' is one process, not a group: write '${n}'`)
        } else if (member) {
          if (one && names.length > 1) report(at, 'this needs one process')
        } else if (!shape) {
          report(
            at,
            `no process or group named '${n}' before this step${procs.size ? ` (so far: ${[...procs.keys()].join(', ')})` : ' (create one with - spawn: { as: p })'}`,
          )
        } else if (one && (shape === 'group' || names.length > 1)) {
          report(at, `'${n}' is a group: this needs one process`)
        }
      })
    }
    const region = (keys: PathKey[]) => {
      let v: unknown = args
      for (const k of keys) v = (v as Record<PathKey, unknown> | undefined)?.[k]
      if (typeof v === 'string' && !regions.has(v)) {
        report(
          keys,
          `no region named '${v}' is mapped by an earlier step${regions.size ? ` (regions so far: ${[...regions].join(', ')})` : ''}`,
        )
      }
    }
    const range = (o: Record<string, unknown>, at: PathKey[], required: boolean) => {
      const has = (k: string) => o[k] !== undefined
      if (has('region') && has('addr'))
        report([...at], "give either 'region' or 'addr', not both", { key: 'addr' })
      else if (!has('region') && !has('addr')) {
        if (required) report(at, "missing the range: give 'region' (a mapped region) or 'addr' (an address)")
      }
      if (has('region') && has('length'))
        report(at, "'length' goes with 'addr'; with 'region' use 'pages'", { key: 'length' })
      if (has('addr') && has('page'))
        report(at, "'page' goes with 'region'; with 'addr' write the address", { key: 'page' })
      if (has('pages') && has('length'))
        report(at, "give either 'pages' or 'length', not both", { key: 'length' })
      region([...at, 'region'])
      for (const k of ['page', 'pages', 'addr', 'length']) expr([...at, k])
    }
    const define = (kind: 'region' | 'fd' | 'mark', name: unknown, key: PathKey[]) => {
      if (typeof name !== 'string') return
      if (kind === 'region' && RESERVED_NAMES.has(name)) {
        report(
          key,
          `'${name}' is reserved in expressions (a unit, variable, constant or function); choose another region name`,
        )
      }
      ;(kind === 'region' ? regions : kind === 'fd' ? fds : marks).add(name)
    }
    const fd = (key: string) => {
      const v = args[key]
      if (typeof v === 'string' && !fds.has(v))
        report(
          [key],
          `no file descriptor named '${v}' before this step (open one with - open: { ..., as: ${v} })`,
        )
    }

    // References first (they must exist before this step), then definitions.
    if ('proc' in args) {
      const one = step.kind === 'page_referenced' || step.kind === 'try_to_unmap' || step.kind === 'pageout'
      proc(['proc'], one)
    }
    if (RANGE_KINDS.has(step.kind)) range(args, [], true)
    switch (step.kind) {
      case 'spawn':
        procs.set(step.args.as, 'one')
        break
      case 'fork': {
        const { children, levels } = step.args
        if (children !== undefined && levels !== undefined)
          report([], "give either 'children' or 'levels', not both", { key: 'levels' })
        const ref = step.args.proc
        const group =
          children !== undefined || levels !== undefined || Array.isArray(ref) || procs.get(ref) === 'group'
        procs.set(step.args.as, group ? 'group' : 'one')
        break
      }
      case 'mmap':
        expr(['length'])
        expr(['offset'])
        expr(['addr'])
        if (step.args.fd !== undefined) fd('fd')
        else if (step.args.offset !== undefined)
          report([], "'offset' needs 'fd' (anonymous memory has no offset)", { key: 'offset' })
        if (step.args.fixed && step.args.addr === undefined)
          report([], "'fixed' needs 'addr'", { key: 'fixed' })
        define('region', step.args.as, ['as'])
        break
      case 'mremap':
        expr(['new_length'])
        expr(['to'])
        if (step.args.fixed && step.args.to === undefined)
          report([], "'fixed' needs 'to' (the new address)", { key: 'fixed' })
        define('region', step.args.as, ['as'])
        break
      case 'remap_file_pages':
        expr(['pgoff'])
        expr(['prot'])
        break
      case 'create':
        expr(['size'])
        break
      case 'open':
        define('fd', step.args.as, ['as'])
        break
      case 'close':
      case 'ftruncate':
        fd('fd')
        expr(['length'])
        break
      case 'read':
        expr(['expect'], ['i', 'pid'])
        break
      case 'write':
        expr(['value'], ['i', 'pid'])
        break
      case 'page_referenced':
        expr(['stride'])
        expr(['expect'])
        break
      case 'try_to_unmap':
        expr(['stride'])
        break
      case 'mark':
        define('mark', step.args.as, ['as'])
        break
      case 'swapon':
        if (step.args.as !== undefined) {
          if (areas.has(step.args.as)) report(['as'], `a swap area named '${step.args.as}' is already on`)
          areas.add(step.args.as)
        }
        break
      case 'swapoff': {
        const n = step.args.area
        if (!areas.has(n)) {
          report(
            [],
            `no swap area named '${n}' is on before this step${areas.size ? ` (areas so far: ${[...areas].join(', ')})` : " (name one with - swapon: { size: 16M, as: s }, or give the machine 'swap')"}`,
          )
        }
        areas.delete(n)
        break
      }
      case 'reclaim':
        expr(['pages'])
        cmp(['freed'])
        break
      case 'assert': {
        const x = step.args
        const any =
          x.meminfo || x.stats || x.page || x.vmas || x.process || x.processes !== undefined || x.frames
        if (!any)
          report([], 'an assert needs at least one of meminfo, stats, page, vmas, process, processes, frames')
        for (const f of Object.keys(x.meminfo ?? {})) cmp(['meminfo', f])
        const known = statsPaths()
        for (const f of Object.keys(x.stats ?? {})) {
          if (!known.has(f)) {
            report(['stats'], `unknown m.stats() figure '${f}'; figures: ${[...known].join(', ')}`, {
              key: f,
            })
          }
          cmp(['stats', f])
        }
        if (x.page) {
          proc(['page', 'proc'], true)
          range(x.page, ['page'], true)
          for (const k of ['mapcount', 'count', 'index']) cmp(['page', k], ['i', 'pid'])
          expr(['page', 'value'], ['i', 'pid'])
          for (const k of ['same_frame_as', 'other_frame_than', 'same_mapping_as'] as const) {
            const r = x.page[k]
            if (!r) continue
            proc(['page', k, 'proc'], true)
            if (r.region === undefined && r.addr === undefined) report(['page', k], "give 'region' or 'addr'")
            region(['page', k, 'region'])
            expr(['page', k, 'page'])
            expr(['page', k, 'addr'])
          }
        }
        if (x.vmas) {
          proc(['vmas', 'proc'], true)
          cmp(['vmas', 'count'])
          for (const k of ['at', 'start', 'end', 'pgoff']) expr(['vmas', k])
          const needsAt = ['start', 'end', 'pgoff', 'perms', 'file', 'mapped'].filter(
            (k) => (x.vmas as Record<string, unknown>)[k] !== undefined,
          )
          if (needsAt.length && x.vmas.at === undefined)
            report(['vmas'], `'${needsAt[0]}' needs 'at' (an address in the vma)`)
        }
        if (x.process) proc(['process', 'proc'], true)
        cmp(['processes'])
        if (x.frames) {
          proc(['frames', 'proc'], false)
          range(x.frames, ['frames'], true)
          cmp(['frames', 'distinct'])
        }
        break
      }
    }
    out.push({
      index,
      kind: step.kind,
      args: step.args,
      pos: source.locate(['steps', index]),
      label: label(step),
      exprs,
    })
  })
  return { steps: out }
}

function procText(p: string | string[]): string {
  return Array.isArray(p) ? p.join(',') : p
}

function rangeText(a: {
  region?: string | undefined
  page?: unknown
  pages?: unknown
  addr?: unknown
  length?: unknown
}): string {
  let s = a.region ?? String(a.addr ?? '')
  if (a.page !== undefined) s += ` page ${a.page}`
  if (a.pages !== undefined) s += ` ×${a.pages}p`
  if (a.length !== undefined) s += ` len ${a.length}`
  return s
}

/** A one-line description of a step. */
export function label(step: Step): string {
  const a = step.args as Record<string, unknown> & { note?: string }
  const note = a?.note ? ` (${a.note})` : ''
  const s = step
  switch (s.kind) {
    case 'spawn':
      return `spawn → ${s.args.as}${note}`
    case 'fork': {
      const how =
        s.args.levels !== undefined
          ? ` ${s.args.levels} levels`
          : s.args.children !== undefined
            ? ` ×${s.args.children}`
            : ''
      return `fork ${procText(s.args.proc)}${how} → ${s.args.as}${note}`
    }
    case 'exec':
    case 'exit':
      return `${s.kind} ${procText(s.args.proc)}${note}`
    case 'mmap':
      return `mmap ${procText(s.args.proc)} ${s.args.length} ${s.args.prot}${s.args.shared ? ' shared' : ''}${s.args.fd ? ` fd ${s.args.fd}` : ''}${s.args.as ? ` → ${s.args.as}` : ''}${note}`
    case 'create':
      return `create ${s.args.path} ${s.args.size}${note}`
    case 'open':
      return `open ${procText(s.args.proc)} ${s.args.path} → ${s.args.as}${note}`
    case 'close':
      return `close ${procText(s.args.proc)} ${s.args.fd}${note}`
    case 'ftruncate':
      return `ftruncate ${procText(s.args.proc)} ${s.args.fd} ${s.args.length}${note}`
    case 'check':
      return `check${note}`
    case 'mark':
      return `mark ${s.args.as}${note}`
    case 'swapon':
      return `swapon ${s.args.size}${s.args.priority !== undefined ? ` -p ${s.args.priority}` : ''}${s.args.as ? ` → ${s.args.as}` : ''}${note}`
    case 'swapoff':
      return `swapoff ${s.args.area}${note}`
    case 'reclaim':
      return `reclaim ${s.args.pages} pages${note}`
    case 'assert':
      return `assert ${Object.keys(s.args)
        .filter((k) => k !== 'note')
        .join(', ')}${note}`
    case 'mremap':
      return `mremap ${procText(s.args.proc)} ${rangeText(s.args)} → ${s.args.new_length}${s.args.to !== undefined ? ` at ${s.args.to}` : ''}${note}`
    default:
      return `${s.kind} ${procText((s.args as { proc: string | string[] }).proc)} ${rangeText(s.args as Record<string, unknown>)}${note}`
  }
}
