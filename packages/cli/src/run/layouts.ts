/**
 * Layouts: the arch packages by name, and the machines a workload runs on
 * (its machine section, with the command line's --arch and --rmap on top).
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import {
  type Arch,
  KERNEL_PROFILES,
  type KernelProfile,
  Machine,
  type MachineOptions,
  RMAP_STRATEGIES,
  type RmapStrategyName,
} from '@rmaplab/rmap'
import { BadInputError } from '../errors.js'
import { ARCH_NAMES, type ArchName, type MachineSpec } from '../workload/schema.js'
import { problem, type Source } from '../workload/source.js'

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
}

/** How a layout is named in reports: `i386-pae`, or `i386-pae/objrmap` when several strategies run. */
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
  for (const n of names) {
    if (!(ARCH_NAMES as readonly string[]).includes(n))
      throw new BadInputError([`unknown arch '${n}'; valid: ${ARCH_NAMES.join(', ')}, all`])
  }
  if (names.length === 0)
    throw new BadInputError([`--arch needs a name; valid: ${ARCH_NAMES.join(', ')}, all`])
  return names as ArchName[]
}

/** Parse `--rmap objrmap`. */
export function parseRmapList(v: string): RmapStrategyName[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const n of names) {
    if (!(RMAP_STRATEGIES as readonly string[]).includes(n))
      throw new BadInputError([`unknown rmap strategy '${n}'; valid: ${RMAP_STRATEGIES.join(', ')}`])
  }
  if (names.length === 0)
    throw new BadInputError([`--rmap needs a name; valid: ${RMAP_STRATEGIES.join(', ')}`])
  return names as RmapStrategyName[]
}

/**
 * The layouts of a workload: every arch × every rmap strategy. Each machine is
 * built once here, so that an option the model cannot honour (more RAM than a
 * layout can have, say) is bad input, reported before anything runs.
 */
export function resolveLayouts(spec: MachineSpec, source: Source, over: LayoutOverrides): Layout[] {
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
      }
      try {
        newMachine(layout)
      } catch (e) {
        if (!(e instanceof RangeError || e instanceof TypeError)) throw e
        const msg = e.message.replace(/^Machine: /, '')
        const key = /ram/.test(msg)
          ? 'ram'
          : /swap/i.test(msg)
            ? 'swap'
            : /cpus/.test(msg)
              ? 'cpus'
              : /seed/.test(msg)
                ? 'seed'
                : undefined
        problems.push(problem(source, key ? ['machine', key] : ['machine'], `${a}: ${msg}`))
        continue
      }
      out.push(layout)
    }
  }
  if (problems.length) throw new BadInputError(problems)
  return out
}

/** The Machine of a layout. */
export function newMachine(l: Layout): Machine {
  const opts: MachineOptions = {
    arch: l.arch,
    rmap: l.rmap,
    profile: l.profile,
    ram: l.ram,
    swap: l.swap,
    cpus: l.cpus,
    seed: l.seed,
  }
  if (l.maxMapCount !== undefined) opts.maxMapCount = l.maxMapCount
  return new Machine(opts)
}
