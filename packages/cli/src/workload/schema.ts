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
 * New kinds (swap areas, reclaim) slot in as new entries of {@link STEP_SCHEMAS}
 * and new optional machine fields, without changing any existing one.
 */
import { KERNEL_PROFILES, PAGE_FLAG_NAMES, RMAP_STRATEGIES } from '@rmaplab/rmap'
import { z } from 'zod'

/** Layout names, as the arch packages name them. */
export const ARCH_NAMES = ['i386', 'i386-pae', 'ppc', 'ppc64'] as const
export type ArchName = (typeof ARCH_NAMES)[number]

/** meminfo fields an assertion can name. */
export const MEMINFO_FIELDS = [
  'MemTotal',
  'MemFree',
  'Cached',
  'SwapCached',
  'Active',
  'Inactive',
  'HighTotal',
  'HighFree',
  'LowTotal',
  'LowFree',
  'SwapTotal',
  'SwapFree',
  'Dirty',
  'Writeback',
  'Mapped',
  'Slab',
  'PageTables',
] as const

/** errnos and signals a step can expect with `fails`. */
export const FAILURES = [
  'EPERM',
  'ENOENT',
  'EBADF',
  'EAGAIN',
  'ENOMEM',
  'EACCES',
  'EFAULT',
  'EBUSY',
  'EEXIST',
  'ENODEV',
  'EINVAL',
  'EFBIG',
  'ENOSPC',
  'ENOSYS',
  'SIGSEGV',
  'SIGBUS',
] as const

export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

const Name = z
  .string()
  .regex(NAME_RE, 'expected a name: a letter or _, then letters, digits or _')
  .describe('A name: a letter or _, then letters, digits or _.')
  .meta({ id: 'Name' })

/** A process, a group, or one member of a group: `p`, `kids`, `kids[3]`. */
export const PROC_RE = /^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?$/
const ProcName = z
  .string()
  .regex(PROC_RE, "expected a process name, a group name, or a member of a group such as 'kids[0]'")
  .meta({ id: 'ProcName' })

const ProcRef = z
  .union([ProcName, z.array(ProcName).min(1)], {
    error: 'expected a process or group name, or a list of names',
  })
  .describe(
    'A process or a group of processes, by the name given with `as` (a member of a group: kids[0]), or a list of names.',
  )
  .meta({ id: 'ProcRef' })

const Expr = z
  .union([z.number().int(), z.string().min(1)], {
    error: "expected an integer or an expression such as 'a + 3p', '64M' or '0x1000'",
  })
  .describe(
    "An integer or an expression: numbers with units (4096, 0x1000, 16p, 64K, 2M), regions (a, a.end, a.length, a.pages), PAGE_SIZE, PTE_SPAN, PGDIR_SPAN, TASK_SIZE, TASK_UNMAPPED_BASE, + - * / %, align(x, a), min(), max(); 'i' and 'pid' in value and expect.",
  )
  .meta({ id: 'Expr' })

const Size = z
  .union(
    [
      z.number().int().min(0),
      z
        .string()
        .regex(
          /^\s*\d+\s*[KMGkmg]?B?\s*$/,
          "expected a size: a byte count, or a number with K, M or G such as '64M'",
        ),
    ],
    {
      error: "expected a size: a byte count, or a number with K, M or G such as '64M'",
    },
  )
  .describe("Bytes, or a size such as '512K', '64M', '1G' (binary units).")
  .meta({ id: 'Size' })

const Prot = z
  .enum(['none', 'r', 'w', 'x', 'rw', 'rx', 'wx', 'rwx'])
  .describe('Protection: the letters r, w, x in that order, or none.')
  .meta({ id: 'Prot' })

const Fails = z
  .enum(FAILURES)
  .describe(
    'The step must fail: with this errno (the syscall returns -errno), or this signal (the process dies).',
  )
  .meta({ id: 'Fails' })

const PageFlag = z
  .enum(PAGE_FLAG_NAMES as unknown as [string, ...string[]])
  .describe('A page flag, by its kernel name.')
  .meta({ id: 'PageFlag' })

const Note = z.string().describe('A label shown in traces and reports.').optional()
const Path = z
  .string()
  .regex(/^\//, 'expected an absolute path such as /data/file')
  .describe('An absolute path.')
  .meta({ id: 'Path' })

/** The range a step works on: a region (or part of it), or an address and a length. */
const RangeFields = {
  region: Name.describe(
    'A region named by `as` in mmap: the whole region, or from `page` for `pages`.',
  ).optional(),
  page: Expr.describe('With `region`: the first page, counted from 0. Default 0.').optional(),
  pages: Expr.describe('Number of pages. Default: the rest of the region, or 1 page with `addr`.').optional(),
  addr: Expr.describe('A start address (page-aligned for syscalls).').optional(),
  length: Expr.describe('With `addr`: a length in bytes (instead of `pages`).').optional(),
}

const cmpObject = z.strictObject({
  eq: Expr.optional(),
  min: Expr.optional(),
  max: Expr.optional(),
  since: Name.describe('Compare the change since the `mark` of this name.').optional(),
})
const Cmp = z
  .union([Expr, cmpObject], { error: 'expected a value, or a comparison { eq, min, max, since }' })
  .describe('A value to equal, or { eq, min, max, since: mark } (with since, the change since that mark).')
  .meta({ id: 'Cmp' })

const PageRef = z.strictObject({
  proc: ProcName,
  region: RangeFields.region,
  page: RangeFields.page,
  addr: RangeFields.addr,
})

const PageAssert = z
  .strictObject({
    proc: ProcName,
    ...RangeFields,
    present: z.boolean().optional(),
    swapped: z.boolean().optional(),
    write: z.boolean().describe('The pte is writable.').optional(),
    dirty: z.boolean().optional(),
    young: z.boolean().optional(),
    zero_page: z.boolean().describe('The pte maps the ZERO_PAGE.').optional(),
    mapcount: Cmp.optional(),
    count: Cmp.optional(),
    flags: z
      .array(PageFlag)
      .describe('Page flags that must be set (kernel names: anon, lru, dirty...).')
      .optional(),
    not_flags: z.array(PageFlag).describe('Page flags that must be clear.').optional(),
    mapping: z.enum(['none', 'anon_vma', 'address_space']).optional(),
    index: Cmp.describe('page->index.').optional(),
    value: Expr.describe(
      "The page's content word, read without faulting (i: the page's index in the range).",
    ).optional(),
    same_frame_as: PageRef.describe('Another process page that must map the same frame.').optional(),
    other_frame_than: PageRef.describe('Another process page that must map a different frame.').optional(),
    same_mapping_as: PageRef.describe(
      'Another page whose page->mapping (anon_vma or file) must be the same.',
    ).optional(),
  })
  .describe('Every page of the range, as the process maps it (pagemap) and as its struct page says.')

const VmaAssert = z
  .strictObject({
    proc: ProcName,
    count: Cmp.describe('Number of vmas (map_count).').optional(),
    at: Expr.describe('The vma containing this address.').optional(),
    mapped: z.boolean().describe('With `at`: whether any vma contains it. Default true.').optional(),
    start: Expr.optional(),
    end: Expr.optional(),
    pgoff: Expr.describe('vm_pgoff in bytes, as /proc/PID/maps shows it.').optional(),
    perms: z
      .string()
      .regex(/^[r-][w-][x-][ps]$/, "expected perms such as 'rw-p' or 'r--s'")
      .optional(),
    file: z.string().describe("The mapped file's path, '' for anonymous memory.").optional(),
  })
  .describe('The vmas of a process (/proc/PID/maps).')

const AssertArgs = z
  .strictObject({
    note: Note,
    meminfo: z.partialRecord(z.enum(MEMINFO_FIELDS), Cmp).describe('meminfo fields, in kB.').optional(),
    stats: z
      .record(z.string(), Cmp)
      .describe("m.stats() figures by dotted path, e.g. 'cow.copies', 'rmap.vmasVisited', 'rmapBytes.total'.")
      .optional(),
    page: PageAssert.optional(),
    vmas: VmaAssert.optional(),
    process: z
      .strictObject({
        proc: ProcName,
        alive: z.boolean().optional(),
        killed_by: z.enum(['SIGSEGV', 'SIGBUS']).optional(),
      })
      .optional(),
    processes: Cmp.describe('Number of live processes.').optional(),
    frames: z
      .strictObject({ proc: ProcRef, ...RangeFields, distinct: Cmp })
      .describe('Distinct frames mapped over the range by the processes.')
      .optional(),
  })
  .describe('Assertions on the machine state; a failed one stops the run with exit code 1.')

/** Every step kind and its arguments. */
export const STEP_SCHEMAS = {
  spawn: z.strictObject({ note: Note, as: Name }).describe('A new process with an empty mm.'),
  fork: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      as: Name.describe('Names the child; with children or levels, the group.'),
      children: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .describe('Each process forks this many children; `as` names all the children.')
        .optional(),
      levels: z
        .number()
        .int()
        .min(0)
        .max(16)
        .describe(
          'A fork tree: L times, every process in the group forks once; `as` names all 2^L processes.',
        )
        .optional(),
      fails: Fails.optional(),
    })
    .describe('fork(): children with copy-on-write copies of the address space.'),
  exec: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      args: z.array(z.number().int()).optional(),
      fails: Fails.optional(),
    })
    .describe(
      'exec(): a fresh image (stack and argument pages); regions and fds of the process are forgotten.',
    ),
  exit: z.strictObject({ note: Note, proc: ProcRef }).describe('exit(): the address space is released.'),
  mmap: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      as: Name.describe('Names the new region.').optional(),
      length: Expr,
      prot: Prot,
      shared: z.boolean().describe('MAP_SHARED (default MAP_PRIVATE).').optional(),
      fd: Name.describe('A file opened with `open` (default: anonymous memory).').optional(),
      offset: Expr.describe('File offset in bytes.').optional(),
      addr: Expr.describe('The address hint (with fixed: the address).').optional(),
      fixed: z.boolean().describe('MAP_FIXED.').optional(),
      fails: Fails.optional(),
    })
    .describe('mmap(addr, length, prot, flags, fd, offset).'),
  munmap: z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, fails: Fails.optional() })
    .describe('munmap().'),
  mprotect: z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, prot: Prot, fails: Fails.optional() })
    .describe('mprotect().'),
  mlock: z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, fails: Fails.optional() })
    .describe('mlock().'),
  munlock: z
    .strictObject({ note: Note, proc: ProcRef, ...RangeFields, fails: Fails.optional() })
    .describe('munlock().'),
  madvise: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      advice: z.enum(['normal', 'random', 'sequential', 'willneed', 'dontneed']),
      fails: Fails.optional(),
    })
    .describe('madvise().'),
  mremap: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      new_length: Expr,
      maymove: z.boolean().describe('MREMAP_MAYMOVE. Default: true when `to` is given.').optional(),
      fixed: z.boolean().describe('MREMAP_FIXED. Default: true when `to` is given.').optional(),
      to: Expr.describe('new_address (MREMAP_FIXED).').optional(),
      as: Name.describe('Name the result as a new region (default: the region moves).').optional(),
      fails: Fails.optional(),
    })
    .describe('mremap(old, old_len, new_len, flags, new_addr).'),
  remap_file_pages: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      pgoff: Expr.describe('The file page the window starts at.'),
      prot: Expr.describe('Must be 0 (the kernel refuses anything else).').optional(),
      nonblock: z.boolean().describe('MAP_NONBLOCK: install file ptes, read nothing.').optional(),
      fails: Fails.optional(),
    })
    .describe('remap_file_pages(start, size, prot, pgoff, flags): a nonlinear window.'),
  create: z
    .strictObject({
      note: Note,
      path: Path,
      size: Expr,
      fill: z
        .number()
        .int()
        .describe('The word every page holds on disk (default: one derived from the page).')
        .optional(),
      fails: Fails.optional(),
    })
    .describe('A file on the disk filesystem (creat + ftruncate, its blocks written).'),
  open: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      path: Path,
      flags: z
        .union([
          z.enum(['rdonly', 'wronly', 'rdwr', 'creat', 'excl', 'trunc']),
          z.array(z.enum(['rdonly', 'wronly', 'rdwr', 'creat', 'excl', 'trunc'])),
        ])
        .describe('O_ flags: one access mode (rdonly, wronly, rdwr), plus creat, excl, trunc. Default rdwr.')
        .optional(),
      as: Name.describe('Names the file descriptor.'),
      fails: Fails.optional(),
    })
    .describe('open(path, flags).'),
  close: z
    .strictObject({ note: Note, proc: ProcRef, fd: Name, fails: Fails.optional() })
    .describe('close(fd).'),
  ftruncate: z
    .strictObject({ note: Note, proc: ProcRef, fd: Name, length: Expr, fails: Fails.optional() })
    .describe('ftruncate(fd, length).'),
  read: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      expect: Expr.describe(
        'The word every page must hold (i: the page index in the range, pid).',
      ).optional(),
      fails: Fails.optional(),
    })
    .describe('Read one word of every page of the range, faulting as the cpu would.'),
  write: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      ...RangeFields,
      value: Expr.describe('The word to write (i: the page index in the range, pid).'),
      fails: Fails.optional(),
    })
    .describe('Write one word to every page of the range, faulting (and copying on write) as the cpu would.'),
  page_referenced: z
    .strictObject({
      note: Note,
      proc: ProcName,
      ...RangeFields,
      stride: Expr.describe('Walk every n-th page only. Default 1.').optional(),
      expect: Expr.describe('References each call must find.').optional(),
    })
    .describe(
      "m.pageReferenced(pfn) on the frame of each present page: the rmap walk reclaim's page_referenced does.",
    ),
  try_to_unmap: z
    .strictObject({
      note: Note,
      proc: ProcName,
      ...RangeFields,
      stride: Expr.describe('Every n-th page only. Default 1.').optional(),
      expect: z.enum(['SWAP_SUCCESS', 'SWAP_AGAIN', 'SWAP_FAIL']).optional(),
    })
    .describe('m.tryToUnmap(pfn) on the frame of each present page.'),
  swapon: z
    .strictObject({
      note: Note,
      as: Name.describe('Names the swap area, for swapoff and assertions.').optional(),
      size: Size.describe("The area's size: bytes or '16M' (slot 0 is its header page)."),
      priority: z
        .number()
        .int()
        .min(-32768)
        .max(32767)
        .describe('swapon -p: higher priorities fill first. Default: -1, -2, … in swapon order.')
        .optional(),
    })
    .describe('m.swapon(): add a swap area.'),
  swapoff: z
    .union(
      [
        Name.transform((area) => ({ area }) as { area: string; note?: string; fails?: 'EINVAL' | 'ENOMEM' }),
        z.strictObject({
          note: Note,
          area: Name.describe("A swap area named by `as` in swapon, or `swap` (the machine's own)."),
          fails: z.enum(['EINVAL', 'ENOMEM']).describe('The swapoff must fail with this errno.').optional(),
        }),
      ],
      { error: "expected a swap area's name, or { area, fails }" },
    )
    .describe(
      'm.swapoff(): try_to_unuse brings every page of the area back into memory, then the area goes. `swapoff: name` or `swapoff: { area: name }`.',
    ),
  pageout: z
    .strictObject({
      note: Note,
      proc: ProcName,
      ...RangeFields,
      expect: z
        .enum(['freed', 'activated', 'kept'])
        .describe("What shrink_list must do with each page: 'freed', 'activated' or 'kept'.")
        .optional(),
      reason: z
        .string()
        .describe("shrink_list's reason must contain this text (e.g. 'referenced').")
        .optional(),
    })
    .describe(
      'm.pageout(pfn) on the frame of each present page: one pass of shrink_list (page_referenced, add_to_swap, try_to_unmap, the write, the free).',
    ),
  reclaim: z
    .strictObject({
      note: Note,
      pages: Expr.describe('Pages to free.'),
      freed: Cmp.describe('The pages it must have freed: a number or { eq, min, max }.').optional(),
    })
    .describe('m.reclaim(): the LRU scan kswapd runs, until `pages` are freed or no progress is possible.'),
  check: z
    .union([z.null(), z.strictObject({ note: Note })])
    .describe('m.check(): the whole-machine consistency check; a violation stops the run.'),
  mark: z
    .strictObject({ note: Note, as: Name })
    .describe('Remember meminfo and m.stats() now, for assertions with `since`.'),
  assert: AssertArgs,
} as const

export type StepKind = keyof typeof STEP_SCHEMAS
export const STEP_KINDS = Object.keys(STEP_SCHEMAS) as StepKind[]
export type StepArgs<K extends StepKind> = z.output<(typeof STEP_SCHEMAS)[K]>
/** A validated step: its kind and its arguments. */
export type Step = { [K in StepKind]: { kind: K; args: StepArgs<K> } }[StepKind]

export const MachineSchema = z
  .strictObject({
    arch: z
      .union([z.enum([...ARCH_NAMES, 'all']), z.array(z.enum(ARCH_NAMES)).min(1)])
      .describe('A layout, a list of layouts, or all (the default).')
      .optional(),
    ram: Size.describe(
      "Physical memory, e.g. '64M' (default). At most 4G on i386, 768M on ppc, 16G otherwise.",
    ).optional(),
    cpus: z.number().int().min(1).max(32).describe('Number of cpus, 1..32. Default 2.').optional(),
    rmap: z
      .union([z.enum(RMAP_STRATEGIES), z.array(z.enum(RMAP_STRATEGIES)).min(1)])
      .describe('Reverse-mapping strategy, or a list to compare. Default objrmap.')
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
      "Swap space, e.g. '16M': a first swap area, named `swap`, made at boot. Default none.",
    ).optional(),
    max_map_count: z
      .number()
      .int()
      .min(1)
      .max(0x7fffffff)
      .describe('sysctl vm.max_map_count. Default 65536.')
      .optional(),
  })
  .describe('The machine every layout runs the steps on.')
export type MachineSpec = z.output<typeof MachineSchema>

/** A step as the JSON Schema describes it: one key naming the kind. */
const StepSchema = z
  .union(STEP_KINDS.map((k) => z.strictObject({ [k]: STEP_SCHEMAS[k] })) as unknown as [z.ZodType, z.ZodType])
  .describe('One step: a map with one key, the step kind, holding its arguments.')

/** The top level, for the JSON Schema (validation dispatches steps by kind itself, for clearer errors). */
export const WorkloadSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z.string().describe('The workload name, shown in reports.').optional(),
    description: z.string().optional(),
    machine: MachineSchema.optional(),
    steps: z.array(StepSchema).min(1).describe('What the processes do, in order.'),
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
})

/** The JSON Schema of the workload format. */
export function workloadJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(WorkloadSchema, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >
  return { ...schema, $id: 'https://unpkg.com/@rmaplab/cli/schema/workload.schema.json' }
}
