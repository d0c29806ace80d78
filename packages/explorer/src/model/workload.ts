/**
 * The one module that knows where workloads come from: the built-in
 * experiments, parsing a workload file with positioned errors, and running a
 * workload step by step on one layout. Everything else in the explorer sees
 * only {@link LoadedWorkload} and {@link Stepper}.
 */
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import type { Arch, Machine, Process } from '@rmaplab/rmap'

/** The layouts rmaplab ships, by name. */
export const ARCHES: Readonly<Record<string, Arch>> = { i386, 'i386-pae': i386Pae, ppc, ppc64 }
export const ARCH_NAMES = Object.keys(ARCHES)

/** One step of a workload, for the step list. */
export interface StepInfo {
  kind: string
  /** One line: `fork p levels=5 as all`. */
  label: string
  note?: string
}

/** A workload bound to one layout, run one step at a time. */
export interface Stepper {
  readonly machine: Machine
  /** Steps run so far. */
  readonly position: number
  /** Run the next step; a failure (an expectation not met, a signal) is returned, not thrown. */
  step(): { ok: true } | { ok: false; message: string }
  /** The workload's name for a process (`p`, `all[3]`). */
  nameOf(p: Process): string | undefined
}

/** A parsed, validated workload. */
export interface LoadedWorkload {
  name: string
  description: string
  steps: readonly StepInfo[]
  /** Layouts its machine section allows. */
  layouts: readonly string[]
  /** RMAP designs the core offers (one until the strategies land). */
  rmaps: readonly string[]
  start(layout: string, rmap?: string): Stepper
}

/** A positioned problem in a workload file. */
export interface Problem {
  line?: number
  col?: number
  message: string
}

/** Bad input: every problem with its position. */
export class WorkloadError extends Error {
  readonly problems: Problem[]
  constructor(problems: Problem[]) {
    super(problems.map((p) => p.message).join('\n'))
    this.name = 'WorkloadError'
    this.problems = problems
  }
}

export interface ExperimentInfo {
  name: string
  title: string
  group: string
  params: Record<string, { default: number | string; description: string }>
}

/** Every built-in experiment. */
export function experimentList(): ExperimentInfo[] {
  return impl.experimentList()
}

/** A built-in experiment with `key=value` parameters. */
export function loadExperiment(name: string, params: Record<string, string>): LoadedWorkload {
  return impl.loadExperiment(name, params)
}

/** A workload file's text (YAML or JSON); throws {@link WorkloadError} with positions. */
export function loadText(text: string, file: string): LoadedWorkload {
  return impl.loadText(text, file)
}

// ---------------------------------------------------------------------------
// Interim runner: Andrea's fork test only, until @rmaplab/workload lands.

import { Machine as M, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@rmaplab/rmap'

const impl = {
  experimentList(): ExperimentInfo[] {
    return [
      {
        name: 'andrea',
        title: "Andrea's fork test",
        group: '2004',
        params: {
          size: { default: '64M', description: 'the mapping' },
          levels: { default: 5, description: 'fork levels' },
        },
      },
    ]
  },
  loadExperiment(name: string, params: Record<string, string>): LoadedWorkload {
    if (name !== 'andrea') throw new WorkloadError([{ message: `unknown experiment '${name}'` }])
    const size = parseSizeParam(params['size'] ?? '64M')
    const levels = Number(params['levels'] ?? 5)
    return andrea(size, levels)
  },
  loadText(text: string, file: string): LoadedWorkload {
    try {
      JSON.parse(text)
    } catch (e) {
      throw new WorkloadError([{ line: 1, col: 1, message: `${file}:1:1: ${(e as Error).message}` }])
    }
    throw new WorkloadError([{ line: 1, col: 1, message: `${file}:1:1: not supported yet` }])
  },
}

function parseSizeParam(v: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(v)
  if (!m) throw new WorkloadError([{ message: `size: '${v}' is not a size` }])
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!]!
}

function andrea(size: number, levels: number): LoadedWorkload {
  const pages = Math.ceil(size / 4096)
  const steps: StepInfo[] = [
    { kind: 'spawn', label: 'spawn as p' },
    { kind: 'mmap', label: `mmap p ${size} rw private anonymous as mem` },
    { kind: 'write', label: 'write p mem (every page)' },
    { kind: 'fork', label: `fork p levels=${levels} as all` },
    { kind: 'read', label: 'read all mem' },
  ]
  return {
    name: 'andrea',
    description: "Andrea's fork test",
    steps,
    layouts: ARCH_NAMES,
    rmaps: ['objrmap'],
    start(layout) {
      const ram = `${Math.ceil(((pages + 2 ** levels * (pages / 512 + 12)) * 4096 * 1.15 + 16 * 2 ** 20) / 2 ** 24) * 16}M`
      const m = new M({ arch: ARCHES[layout]!, ram, cpus: 2 })
      const names = new Map<Process, string>()
      let p: Process | undefined
      let mem = 0
      const all: Process[] = []
      let position = 0
      return {
        machine: m,
        get position() {
          return position
        },
        nameOf: (x) => names.get(x),
        step() {
          const k = position++
          if (k === 0) {
            p = m.spawn()
            names.set(p, 'p')
          } else if (k === 1)
            mem = p!.mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
          else if (k === 2) for (let i = 0; i < pages; i++) p!.write(mem + i * 4096, i)
          else if (k === 3) {
            const gen = [p!]
            for (let l = 0; l < levels; l++) {
              for (const q of [...gen]) {
                const c = q.fork()
                gen.push(c)
                all.push(c)
                names.set(c, `all[${all.length - 1}]`)
              }
            }
          } else if (k === 4)
            for (const q of [p!, ...all]) for (let i = 0; i < pages; i++) q.read(mem + i * 4096)
          return { ok: true }
        },
      }
    },
  }
}
