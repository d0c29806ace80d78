/**
 * Layouts: the arch packages by name, and the machines a workload runs on
 * (its machine section, with the command line's --arch and --rmap on top).
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  ArchLimitError,
  type BugName,
  KERNEL_PROFILES,
  type KernelProfile,
  Machine,
  type MachineOptions,
  RMAP_STRATEGIES,
  type RmapStrategyName,
  SwapAreaError,
} from '@rmaplab/rmap'
import { BadInputError } from './errors.js'
import { ARCH_NAMES, type ArchName, sizeBytes } from './format.js'
import type { MachineSpec } from './schema.js'
import { type PathKey, problem, type Source } from './source.js'
import type { Workload } from './validate.js'

/** Every layout rmaplab ships, by name. */
export const ARCHES: Readonly<Record<ArchName, Arch>> = {
  i386,
  'i386-pae': i386Pae,
  ppc,
  ppc64,
}

/** One machine configuration a workload runs on. */
export interface Layout {
  arch: Arch
  rmap: RmapStrategyName
  profile: KernelProfile
  ram: string | number
  /** Swap at boot (the machine's `swap`): bytes or '16M'; 0 for none. */
  swap: string | number
  cpus: number
  seed: number
  maxMapCount: number | undefined
  /** Bugs to re-introduce (the machine's `bugs`); absent or empty: the fixed kernel. */
  bugs?: readonly BugName[] | undefined
  /** L1_CACHE_BYTES (the machine's `cache_line`): the size of a pte_chain; undefined for the layout's 2004 value. */
  cacheLine?: number | undefined
}

/** How a layout is named in reports: `i386-pae`, or `i386-pae/objrmap` when several rmap designs run. */
export function layoutName(l: Layout, withRmap: boolean): string {
  return withRmap ? `${l.arch.name}/${l.rmap}` : l.arch.name
}

/** Overrides from the command line. */
export interface LayoutOverrides {
  arch?: readonly ArchName[] | undefined
  rmap?: readonly RmapStrategyName[] | undefined
}

/** Parse `--arch i386,ppc` / `all`: one-line errors listing the valid names. */
export function parseArchList(v: string): ArchName[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (names.length === 1 && names[0] === 'all') return [...ARCH_NAMES]
  twice('--arch', names)
  for (const n of names) {
    if (!(ARCH_NAMES as readonly string[]).includes(n))
      throw new BadInputError([`unknown arch '${n}'; valid: ${ARCH_NAMES.join(', ')}, all`])
  }
  if (names.length === 0)
    throw new BadInputError([`--arch needs a name; valid: ${ARCH_NAMES.join(', ')}, all`])
  return names as ArchName[]
}

/** A name given twice would make two identical columns: refused rather than silently merged. */
function twice(option: string, names: readonly string[]): void {
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup !== undefined) throw new BadInputError([`${option}: '${dup}' is given twice (${names.join(',')})`])
}

/** Parse `--rmap objrmap,anonmm` or `--rmap all` (the designs the core models: RMAP_STRATEGIES). */
export function parseRmapList(v: string): RmapStrategyName[] {
  if (v.trim() === 'all') return [...RMAP_STRATEGIES]
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  twice('--rmap', names)
  for (const n of names) {
    if (!(RMAP_STRATEGIES as readonly string[]).includes(n))
      throw new BadInputError([`unknown rmap design '${n}'; valid: ${RMAP_STRATEGIES.join(', ')}, all`])
  }
  if (names.length === 0)
    throw new BadInputError([`--rmap needs a name; valid: ${RMAP_STRATEGIES.join(', ')}`])
  return names as RmapStrategyName[]
}

/**
 * The layouts of a workload: every arch × every rmap design. Each machine is
 * built once here, so that an option the model cannot honour (more RAM than a
 * layout can have, say) is bad input, reported before anything runs.
 */
export function resolveLayouts(
  spec: MachineSpec,
  source: Source,
  over: LayoutOverrides = {},
  steps?: Workload['steps'],
): Layout[] {
  const arches: ArchName[] = over.arch
    ? [...over.arch]
    : spec.arch === undefined || spec.arch === 'all'
      ? [...ARCH_NAMES]
      : Array.isArray(spec.arch)
        ? spec.arch
        : [spec.arch]
  const rmaps = (over.rmap ??
    (spec.rmap === undefined
      ? ['objrmap']
      : Array.isArray(spec.rmap)
        ? spec.rmap
        : [spec.rmap])) as RmapStrategyName[]
  const profile = (spec.profile ?? '2.6.5-aa') as KernelProfile
  if (!KERNEL_PROFILES.includes(profile)) throw new BadInputError([`unknown profile '${profile}'`])
  const out: Layout[] = []
  const problems: string[] = []
  // A layout or design listed twice would make two identical columns: refused, as --arch/--rmap do.
  for (const [key, valid] of [
    ['arch', ARCH_NAMES],
    ['rmap', RMAP_STRATEGIES],
  ] as const) {
    const list: unknown = spec[key]
    if (!Array.isArray(list) || (key === 'arch' ? over.arch : over.rmap)) continue
    const names = list as readonly string[]
    const at = names.findIndex((n, i) => names.indexOf(n) !== i)
    if (at >= 0)
      problems.push(
        problem(
          source,
          ['machine', key, at],
          `'${list[at]}' is listed twice; list each of ${valid.join(', ')} at most once`,
        ),
      )
  }
  if (problems.length) throw new BadInputError(problems)
  for (const a of arches) {
    for (const rmap of rmaps) {
      const layout: Layout = {
        arch: ARCHES[a],
        rmap,
        profile,
        ram: spec.ram ?? '64M',
        swap: spec.swap ?? 0,
        cpus: spec.cpus ?? 2,
        seed: spec.seed ?? 1,
        maxMapCount: spec.max_map_count,
        ...(spec.bugs?.length ? { bugs: spec.bugs as BugName[] } : {}),
        cacheLine: spec.cache_line,
      }
      const swapProblems = swapLimits(ARCHES[a], spec, steps)
      for (const p of swapProblems) problems.push(problem(source, p.path, `${a}: ${p.message}`))
      if (swapProblems.length) continue
      try {
        newMachine(layout)
      } catch (e) {
        const key = optionOf(e)
        if (key === undefined) throw e
        const msg = (e as Error).message.replace(/^Machine: /, '')
        problems.push(problem(source, key ? ['machine', key] : ['machine'], `${a}: ${msg}`))
        continue
      }
      out.push(layout)
    }
  }
  // One problem per arch, not per design: the same machine fails under each.
  if (problems.length) throw new BadInputError([...new Set(problems)])
  return out
}

/**
 * The machine option an error from the Machine constructor is about, by the
 * error's class: '' for the machine as a whole, undefined when the error is
 * not about an option (a bug, rethrown). The core's option errors carry the
 * option's name (`option`); its swap errors are about `swap`.
 */
export function optionOf(e: unknown): string | undefined {
  if (e instanceof SwapAreaError || e instanceof ArchLimitError) return 'swap'
  if (e instanceof Error && typeof (e as { option?: unknown }).option === 'string') {
    // The core's MachineOptionError (a RangeError naming its option).
    const o = (e as unknown as { option: string }).option
    return o === 'maxMapCount' ? 'max_map_count' : o === 'cacheLine' ? 'cache_line' : o === 'options' ? '' : o
  }
  if (e instanceof RangeError || e instanceof TypeError) {
    // The core before typed option errors: its RangeErrors name the option first.
    const m = /^Machine: (?:unknown )?(\w+)/.exec(e.message)
    const k = m?.[1]
    return k && ['ram', 'swap', 'cpus', 'seed', 'rmap', 'profile'].includes(k) ? k : ''
  }
  return undefined
}

/** Swap sizes (the machine's and each swapon's) against the layout's SWAP_MAXPAGES_LIMIT. */
function swapLimits(
  arch: Arch,
  spec: MachineSpec,
  steps: Workload['steps'] | undefined,
): Array<{ path: PathKey[]; message: string }> {
  const limit = Number(arch.geometry.SWAP_MAXPAGES_LIMIT)
  const out: Array<{ path: PathKey[]; message: string }> = []
  const check = (v: number | string | undefined, path: PathKey[]) => {
    if (v === undefined) return
    const pages = Math.floor(sizeBytes(v) / 4096)
    if (pages > limit)
      out.push({
        path,
        message: `swap of ${pages} pages is above SWAP_MAXPAGES_LIMIT (0x${limit.toString(16)} pages, ${showBytes(limit * 4096)}), the largest offset the swap pte holds`,
      })
  }
  check(spec.swap, ['machine', 'swap'])
  for (const s of steps ?? [])
    if (s.kind === 'swapon') check(s.args.size, ['steps', s.index, 'swapon', 'size'])
  return out
}

function showBytes(n: number): string {
  for (const [u, k] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const)
    if (n >= k) return `${Math.floor(n / k)}${u}`
  return `${n} bytes`
}

/** The Machine of a layout. */
export function newMachine(l: Layout, extraBugs?: readonly BugName[]): Machine {
  const bugs = extraBugs?.length ? [...new Set([...(l.bugs ?? []), ...extraBugs])] : l.bugs
  const opts: MachineOptions = {
    arch: l.arch,
    rmap: l.rmap,
    profile: l.profile,
    ram: sizeBytes(l.ram),
    swap: sizeBytes(l.swap),
    cpus: l.cpus,
    seed: l.seed,
  }
  if (l.maxMapCount !== undefined) opts.maxMapCount = l.maxMapCount
  if (bugs && bugs.length > 0) opts.bugs = bugs
  if (l.cacheLine !== undefined) opts.cacheLine = l.cacheLine
  return new Machine(opts)
}
