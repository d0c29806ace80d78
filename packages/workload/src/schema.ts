/**
 * The workload format, as zod schemas: the one source of the TypeScript types,
 * the validation and the published JSON Schema (`schema/workload.schema.json`).
 *
 * A workload is a machine and a list of steps. Each step is a map with one key,
 * the step kind, whose value holds its arguments (and an optional `note`):
 *
 * ```yaml
 * steps:
 *   - spawn: { as: p }
 *   - mmap: { proc: p, as: a, length: 16p, prot: rw }
 *   - write: { proc: p, region: a, value: i }
 * ```
 *
 * Each kind is one handler in steps/ (its schema, its checks, its run); a new
 * kind is a new entry of the STEPS table, without changing any existing one.
 */
import { BUG_NAMES, KERNEL_PROFILES, RMAP_STRATEGIES } from '@rmaplab/rmap'
import { z } from 'zod'
import { ARCH_NAMES, Size } from './format.js'
import { STEPS } from './steps/index.js'

export { ARCH_NAMES, type ArchName, FAILURES, MEMINFO_FIELDS, NAME_RE, PROC_RE } from './format.js'

/** Every step kind and its arguments (each kind's handler owns its schema). */
export const STEP_SCHEMAS = Object.fromEntries(Object.entries(STEPS).map(([k, h]) => [k, h.schema])) as {
  readonly [K in keyof typeof STEPS]: (typeof STEPS)[K]['schema']
}

export type StepKind = keyof typeof STEPS
export const STEP_KINDS = Object.keys(STEPS) as StepKind[]
export type StepArgs<K extends StepKind> = z.output<(typeof STEPS)[K]['schema']>
/** A validated step: its kind and its arguments. */
export type Step = { [K in StepKind]: { kind: K; args: StepArgs<K> } }[StepKind]

export const MachineSchema = z
  .strictObject({
    arch: z
      .union([z.enum([...ARCH_NAMES, 'all']), z.array(z.enum(ARCH_NAMES)).min(1)])
      .describe('A layout, a list of layouts, or all (the default).')
      .optional(),
    ram: Size.describe(
      "Physical memory, e.g. '64M' (default): at least 4M, whole 4K pages; at most 4G on i386, 768M on ppc, 16G otherwise.",
    ).optional(),
    cpus: z.number().int().min(1).max(32).describe('Number of cpus, 1..32. Default 2.').optional(),
    rmap: z
      .union([z.enum(RMAP_STRATEGIES), z.array(z.enum(RMAP_STRATEGIES)).min(1)])
      .describe(
        "The reverse-mapping design (objrmap: 2.6.5-aa objrmap + anon_vma; pte_chains: mainline 2.6.4; anonmm: Hugh's rmap 10/11), or a list to compare side by side. Default objrmap.",
      )
      .optional(),
    profile: z
      .enum(KERNEL_PROFILES as unknown as [string, ...string[]])
      .describe('Kernel profile for the rules that differ between kernels. Default 2.6.5-aa.')
      .optional(),
    seed: z
      .number()
      .int()
      .describe('Seed of the deterministic choices (which cpu a process runs on). Default 1.')
      .optional(),
    swap: Size.describe(
      "Swap space, e.g. '16M': a first swap area, named `swap`, made at boot. 0 (the default) for none; else at least two pages (the header and one slot) and at most the layout's SWAP_MAXPAGES_LIMIT pages (the largest offset its swap pte holds).",
    ).optional(),
    cache_line: z
      .number()
      .int()
      .describe(
        "L1_CACHE_BYTES, the size of a 2.6.4 struct pte_chain (rmap pte_chains): a power of two from 16 to 4096; default the layout's 2004 value (i386 and ppc64 128, ppc 32).",
      )
      .optional(),
    max_map_count: z
      .number()
      .int()
      .min(1)
      .max(0x7fffffff)
      .describe('sysctl vm.max_map_count. Default 65536.')
      .optional(),
    bugs: z
      .array(z.enum(BUG_NAMES as unknown as [string, ...string[]]))
      .describe(
        'Bugs of the 2004 thread to re-introduce (rmaplab bugs lists them). Default none: the fixed kernel.',
      )
      .optional(),
  })
  .describe('The machine every layout runs the steps on.')
export type MachineSpec = z.output<typeof MachineSchema>

/** A step as the JSON Schema describes it: one key naming the kind. */
const StepSchema = z
  .union(STEP_KINDS.map((k) => z.strictObject({ [k]: STEP_SCHEMAS[k] })) as unknown as [z.ZodType, z.ZodType])
  .describe('One step: a map with one key, the step kind, holding its arguments.')

/** Most cpus a `cpus:` section may have (the explorer's limit). */
export const MAX_RACE_CPUS = 8

/** One cpu's program in a `cpus:` section. */
const CpuSchema = z
  .strictObject({
    name: z.string().describe('Who runs it, shown in schedules (default cpu0, cpu1, ...).').optional(),
    steps: z
      .array(StepSchema)
      .min(1)
      .describe("What this cpu does, in order, once the workload's steps ran."),
  })
  .describe('One cpu of a race scenario.')

/** The top level, for the JSON Schema (validation dispatches steps by kind itself, for clearer errors). */
export const WorkloadSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z.string().describe('The workload name, shown in reports.').optional(),
    description: z.string().optional(),
    machine: MachineSchema.optional(),
    steps: z.array(StepSchema).min(1).describe('What the processes do, in order.'),
    cpus: z
      .array(CpuSchema)
      .min(1)
      .max(MAX_RACE_CPUS)
      .describe(
        'A race scenario (rmaplab race FILE): programs that several cpus run interleaved, after the steps (the setup) ran; every schedule is checked.',
      )
      .optional(),
  })
  .meta({
    title: 'rmaplab workload',
    description: 'A workload for the rmaplab command (`rmaplab run <file>`).',
  })

/** The top level without steps: what validation checks before it dispatches the steps. */
export const HeaderSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  machine: MachineSchema.optional(),
  steps: z.array(z.unknown()).min(1, 'expected at least one step'),
  cpus: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        steps: z.array(z.unknown()).min(1, 'expected at least one step'),
      }),
    )
    .min(1, 'expected at least one cpu')
    .max(MAX_RACE_CPUS, `at most ${MAX_RACE_CPUS} cpus`)
    .optional(),
})

/** The JSON Schema of the workload format. */
export function workloadJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(WorkloadSchema, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >
  return { ...schema, $id: 'https://unpkg.com/@rmaplab/cli/schema/workload.schema.json' }
}
