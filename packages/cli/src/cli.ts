/**
 * The rmaplab command: run, compare, check, list, show, schema, race, bugs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import {
  BadInputError,
  experiment,
  experiments,
  type Layout,
  type LayoutOverrides,
  type LayoutRun,
  parseArchList,
  parseRmapList,
  RMAP_STRATEGIES,
  resolveLayouts,
  showParam,
  verifyExperimentRuns,
  type Workload,
  workloadJsonSchema,
} from '@rmaplab/workload'
import cliProgress from 'cli-progress'
import { Command, CommanderError, Option } from 'commander'
import { Document, isMap, isSeq } from 'yaml'
import { bugsCommand } from './bugs.js'
import { EXIT } from './errors.js'
import { prepareOutputDir } from './output.js'
import { defaultJobs, parseJobs, runUnits, type Unit } from './pool.js'
import { raceCommand } from './race.js'
import {
  failureText,
  jsonReport,
  mapsText,
  meminfoBlocks,
  metricsTable,
  noticeLines,
  passText,
  table,
} from './report.js'
import { type SweepPoint, sweepCharts, sweepValues, writeCharts } from './sweep.js'
import { loadTarget, type TargetSpec } from './target.js'

export { loadTarget } from './target.js'

/** Where the command writes. */
export interface Io {
  out(s: string): void
  err(s: string): void
  /** Is stderr a terminal (progress bars only then)? */
  isTTY: boolean
  stderr?: NodeJS.WritableStream
}

const processIo: Io = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  isTTY: Boolean(process.stderr.isTTY),
  stderr: process.stderr,
}

interface RunOpts {
  arch?: string
  rmap?: string
  param?: string[]
  json?: boolean
  trace?: boolean
  progress: boolean
  maps?: boolean
  meminfo?: boolean
  chart?: string
  jobs?: string
}

/**
 * The schema comment of a workload written by `rmaplab show`: the schema's
 * `$id`, the URL it is published at, so an editor validates the copy wherever
 * it is saved (the demos in the package point at `../schema/` instead).
 */
const schemaComment = () => `# yaml-language-server: $schema=${String(workloadJsonSchema()['$id'])}`
const SCHEMA_LINE = /^# yaml-language-server: \$schema=.*$/m

/** The package version, from package.json (one level above src/ and dist/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function progressBar(io: Io, enabled: boolean, units: number) {
  const t0 = performance.now()
  let bar: cliProgress.SingleBar | undefined
  const total = units * 1000
  // Units run side by side with --jobs: the bar shows the sum of their fractions, named after the latest.
  const done = new Float64Array(units)
  let sum = 0
  return {
    update(unit: number, name: string, fraction: number) {
      if (!enabled) return
      sum += fraction - done[unit]!
      done[unit] = fraction
      const value = Math.round(sum * 1000)
      if (!bar) {
        if (performance.now() - t0 < 400) return
        bar = new cliProgress.SingleBar(
          {
            format: '{bar} {percentage}% | {layout}',
            stream: io.stderr ?? process.stderr,
            clearOnComplete: true,
            hideCursor: true,
            barsize: 30,
          },
          cliProgress.Presets.shades_classic,
        )
        bar.start(total, value, { layout: name })
      } else bar.update(value, { layout: name })
    },
    stop() {
      bar?.stop()
    },
  }
}

/** One batch of independent machines: the workload's layouts (and a sweep's points), run by the pool. */
interface Batch {
  spec: TargetSpec
  workload: Workload
  over: LayoutOverrides
  layouts: Layout[]
  /** m.check() after every step (rmaplab check). */
  check: boolean
  /** Print the steps (--trace; never for a sweep's smaller points). */
  trace: boolean
}

/** Run batches of layouts (on --jobs workers); the results of each batch, in layout order. */
async function execute(batches: readonly Batch[], opts: RunOpts, io: Io): Promise<LayoutRun[][]> {
  const trace = Boolean(opts.trace)
  const units: Unit[] = batches.flatMap((b) => {
    const multiRmap = new Set(b.layouts.map((l) => l.rmap)).size > 1
    return b.layouts.map((resolved, layout) => ({
      spec: b.spec,
      over: b.over,
      layout,
      multiRmap,
      workload: b.workload,
      resolved,
      check: b.check,
      trace: b.trace,
    }))
  })
  const bar = progressBar(io, opts.progress && io.isTTY && !trace && !opts.json, units.length)
  let runs: LayoutRun[]
  try {
    runs = await runUnits(units, opts.jobs === undefined ? defaultJobs() : parseJobs(opts.jobs), {
      maps: Boolean(opts.maps),
      trace: trace ? (s) => io.err(s) : undefined,
      progress: (i, f) => bar.update(i, units[i]!.resolved.arch.name, f),
    })
  } finally {
    bar.stop()
  }
  let k = 0
  return batches.map((b) => {
    const from = k
    k += b.layouts.length
    return runs.slice(from, k)
  })
}

function header(w: Workload, params: Record<string, number>): string {
  const ps = Object.entries(params)
  const exp = w.source.file.startsWith('experiment:') ? experiment(w.name) : undefined
  const shown = ps.map(([k, v]) => `${k}=${exp?.params[k] ? showParam(exp.params[k]!, v) : v}`).join(' ')
  const desc = (w.description ?? '').trim()
  return `${w.name}${shown ? `  [${shown}]` : ''}${desc ? `\n${desc}` : ''}`
}

const READING = [
  'How to read it: one column per layout (and rmap design, when several run), the same workload on each. PageTables is the',
  "kernel's nr_page_table_pages (user pte pages; 8-byte ptes on i386-pae and ppc64 fill a page with half as many",
  "entries). rmap bytes is what the design costs at the layout's sizes: objrmap + anon_vma its anon_vma structs, the",
  'vma fields and one mapcount word per page frame; pte_chains a cache-line chain object per few ptes (from lowmem:',
  'rmap lowmem frames) and the pte field of each page; anonmm one struct per mm and a mapcount. A walk is one',
  'page_referenced/try_to_unmap: the vmas (anonmm: mms) it visits, the ptes it probes. Faults and time are what the',
  'model did, not 2004 hardware.',
]

function report(
  w: Workload,
  params: Record<string, number>,
  runs: LayoutRun[],
  opts: RunOpts,
  io: Io,
  mode: 'run' | 'compare' | 'check',
): number {
  const ok = runs.every((r) => r.ok)
  io.out(header(w, params))
  io.out('')
  for (const r of runs) {
    const f = failureText(r, w)
    if (f) io.out(f)
    else if (mode === 'check') io.out(`✓ ${r.layout}: m.check() held after each of ${r.stepsRun} steps`)
    else io.out(passText(r))
    for (const line of noticeLines(r, w)) io.out(line)
  }
  if (mode !== 'check' || !ok) {
    io.out('')
    if (!ok) io.out('State when the run stopped:')
    io.out(metricsTable(runs))
  }
  if (mode === 'compare') {
    io.out('')
    for (const l of READING) io.out(l)
  }
  if (opts.meminfo) {
    io.out('')
    io.out(meminfoBlocks(runs))
  }
  if (opts.maps) {
    for (const r of runs) {
      io.out('')
      io.out(mapsText(r))
    }
  }
  return ok ? EXIT.ok : EXIT.failed
}

/** The smaller points of a --chart sweep of `target`: loaded, validated and given layouts before anything runs. */
function sweepPlan(
  target: string,
  params: Record<string, number>,
  pairs: readonly string[],
  over: LayoutOverrides,
): {
  param: string
  points: Array<{ value: number; spec: TargetSpec; workload: Workload; layouts: Layout[] }>
} {
  const isExperiment = !(existsSync(target) && statSync(target).isFile())
  const e = isExperiment ? experiment(target) : undefined
  if (!e?.sweep) {
    const names = experiments()
      .filter((x) => x.sweep)
      .map((x) => `${x.name} (${x.sweep})`)
      .join(', ')
    throw new BadInputError([
      `--chart sweeps a 2004 experiment's process count; ${target} has none. Charts: ${names}`,
    ])
  }
  const param = e.sweep
  const top = params[param]!
  const rest = pairs.filter((p) => !p.startsWith(`${param}=`))
  const points = sweepValues(e.params[param]!, top)
    .filter((v) => v !== top)
    .map((value) => {
      const { workload, spec } = loadTarget(target, [...rest, `${param}=${value}`])
      return {
        value,
        spec,
        workload,
        layouts: resolveLayouts(workload.machine, workload.source, over, workload.steps),
      }
    })
  return { param, points }
}

/** A generated workload as YAML people would write: one line per step, the machine on one line. */
export function workloadYaml(data: unknown): string {
  const doc = new Document(data, { aliasDuplicateObjects: false })
  const machine = doc.get('machine', true)
  if (isMap(machine)) machine.flow = true
  const steps = doc.get('steps', true)
  if (isSeq(steps)) {
    for (const step of steps.items) {
      if (!isMap(step)) continue
      for (const pair of step.items) if (isMap(pair.value) || isSeq(pair.value)) pair.value.flow = true
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true }).trimEnd()
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v]
}

/** The command line program (exposed for tests). */
export function program(io: Io, setExit: (code: number) => void): Command {
  const cmd = new Command()
  cmd
    .name('rmaplab')
    .description(
      'Run workloads on the Linux 2.6 (spring 2004) VM model — on the i386, i386-pae, ppc and ppc64 page-table layouts, under the rmap designs objrmap + anon_vma (2.6.5-aa), pte_chains (2.6.4) and anonmm (rmap 10/11) — and see what the VM did: meminfo, page tables, rmap memory, rmap walk costs, faults.',
    )
    .version(version(), '-V, --version')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Targets: workload files (YAML or JSON) or built-in experiments (rmaplab list); several run one after
the other, all validated first. --json prints one report, or { ok, reports } for several targets.
Exit codes: 0 ok; 1 an assertion, a kernel invariant or a step failed; 2 bad input.

Examples:
  rmaplab compare andrea                        Andrea's fork test under the three rmap designs
  rmaplab compare andrea -p size=512M -p ram=1G the original size (lowmem runs out at fork level 8 or 9)
  rmaplab compare rik --rmap all --arch i386    any workload under every rmap design
  rmaplab run my-workload.yaml --arch i386-pae --trace
  rmaplab check a1 c3 e3                        acceptance demos, m.check() after every step
  rmaplab show rik > rik.yaml                   an experiment as a workload file to edit`,
    )

  const runOptions = (c: Command) =>
    c
      .argument('<targets...>', 'workload files (.yaml, .yml, .json) or built-in experiment names')
      .option('-a, --arch <names>', 'layouts, comma-separated: i386, i386-pae, ppc, ppc64, or all')
      .option('-r, --rmap <names>', `rmap designs, comma-separated: ${RMAP_STRATEGIES.join(', ')}, or all`)
      .option('-p, --param <key=value>', "an experiment's parameter (repeatable), e.g. -p levels=6", collect)
      .option('--json', 'print the full report as JSON (meminfo and m.stats() per layout)')
      .option('--trace', 'print every step as it runs, with its result (to stderr)')
      .option(
        '-j, --jobs <n>',
        'run the layouts (and designs, and --chart points) on n threads, the main one and n-1 workers; default: one per core; 1: one after the other, no workers',
      )
      .addOption(new Option('--no-progress', 'no progress bar (it shows only on a terminal, on long runs)'))

  const action = (mode: 'run' | 'compare' | 'check') => async (targets: string[], opts: RunOpts) => {
    if (opts.jobs !== undefined) parseJobs(opts.jobs)
    const over: LayoutOverrides = {
      // Every layout the workload's machine names (all four unless it names some), or --arch.
      arch: opts.arch !== undefined ? parseArchList(opts.arch) : undefined,
      rmap: opts.rmap !== undefined ? parseRmapList(opts.rmap) : undefined,
    }
    // Every target is loaded, validated and given its layouts before any of them runs.
    const loaded = targets.map((t) => {
      const { workload, params, spec } = loadTarget(t, opts.param ?? [])
      if (workload.cpus)
        throw new BadInputError([
          `${t}: has a cpus: section (a race scenario of several cpus): explore it with rmaplab race ${t}`,
        ])
      const layouts = resolveLayouts(workload.machine, workload.source, over, workload.steps)
      // --chart: the sweep's smaller points, each loaded and validated now too.
      const sweep = opts.chart !== undefined ? sweepPlan(t, params, opts.param ?? [], over) : undefined
      return { target: t, spec, workload, params, layouts, sweep }
    })
    // The chart directory is made and checked before anything runs too.
    if (opts.chart !== undefined) prepareOutputDir(opts.chart, '--chart')
    let code: number = EXIT.ok
    const outputErrors: string[] = []
    const reports: unknown[] = []
    for (const [i, { target, spec, workload, params, layouts, sweep }] of loaded.entries()) {
      // The layouts and every point of a sweep are independent machines: one batch for the workers.
      const check = mode === 'check'
      const [runs, ...pointRuns] = await execute(
        [
          { spec, workload, over, layouts, check, trace: Boolean(opts.trace) },
          ...(sweep?.points ?? []).map((p) => ({ ...p, over, check: false, trace: false })),
        ],
        opts,
        io,
      )
      const ok = runs!.every((r) => r.ok)
      if (!ok) code = EXIT.failed
      // The experiment's claim across designs (Andrea's: pte_chains run out first).
      const verdict = verifyExperimentRuns(workload, runs!)
      if (verdict && !verdict.ok) code = EXIT.failed
      let files: string[] | undefined
      if (sweep && opts.chart !== undefined) {
        const points: SweepPoint[] = sweep.points.map((p, k) => {
          const rs = pointRuns[k]!
          if (!rs.every((r) => r.ok)) code = EXIT.failed
          return { value: p.value, runs: rs }
        })
        points.push({ value: params[sweep.param]!, runs: runs! })
        // A chart that cannot be written costs the chart, never the report.
        try {
          files = writeCharts(sweepCharts(target, sweep.param, points, opts.chart))
        } catch (e) {
          outputErrors.push(
            ...(e instanceof BadInputError ? e.problems : [`--chart: ${(e as Error).message}`]),
          )
          code = EXIT.badInput
        }
      }
      if (opts.json)
        reports.push(
          jsonReport(workload, runs!, {
            params,
            mode,
            ...(files ? { charts: files } : {}),
            ...(verdict ? { verdict } : {}),
          }),
        )
      else {
        if (i > 0) io.out('')
        report(workload, params, runs!, opts, io, mode)
        if (verdict && verdict.lines.length > 0) {
          io.out('')
          for (const l of verdict.lines) io.out(l)
        }
        if (files) {
          io.out('')
          for (const f of files) io.out(`chart: ${f}`)
        }
      }
    }
    if (opts.json) {
      io.out(JSON.stringify(reports.length === 1 ? reports[0] : { ok: code === EXIT.ok, reports }, null, 2))
    }
    for (const p of outputErrors) io.err(p)
    setExit(code)
  }

  runOptions(cmd.command('run'))
    .description(
      "run a workload on its machine's layouts (all four unless the workload or --arch says otherwise)",
    )
    .option('--meminfo', "print each layout's /proc/meminfo at the end, as the 2.6 kernel formats it")
    .option('--maps', 'print /proc/PID/maps of the live processes at the end')
    .action(action('run'))

  runOptions(cmd.command('compare'))
    .description(
      "run a workload on its machine's layouts and rmap designs (or those of --arch and --rmap) and print the figures side by side",
    )
    .option(
      '--chart <dir>',
      'also sweep a 2004 experiment over its process count and write SVG charts (PageTables, rmap bytes against processes) to <dir>',
    )
    .action(action('compare'))

  runOptions(cmd.command('check'))
    .description(
      'run a workload with m.check() after every step; report the first violated invariant and the step that broke it',
    )
    .action(action('check'))

  cmd
    .command('list')
    .description('list the built-in experiments and their parameters')
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) => {
      const all = experiments()
      if (opts.json) {
        io.out(
          JSON.stringify(
            all.map((e) => ({
              name: e.name,
              group: e.group,
              title: e.title,
              description: e.description,
              params: e.params,
            })),
            null,
            2,
          ),
        )
        return
      }
      for (const [group, heading] of [
        ['2004', 'The 2004 workloads (parameters: -p key=value; defaults shown)'],
        [
          'demo',
          'Acceptance scenarios (https://github.com/rmaplab/rmaplab/blob/main/docs/scenarios.md), with their expected outcomes as assertions',
        ],
      ] as const) {
        io.out(heading)
        const rows = all
          .filter((e) => e.group === group)
          .map((e) => [
            e.name,
            e.title,
            Object.entries(e.params)
              .map(([k, d]) => `${k}=${showParam(d, d.default)}`)
              .join(' '),
          ])
        if (group === '2004')
          io.out(table(['name', 'what it does', 'parameters'], rows, ['left', 'left', 'left']))
        else
          io.out(
            table(
              ['name', 'what it does'],
              rows.map((r) => r.slice(0, 2)),
              ['left', 'left'],
            ),
          )
        io.out('')
      }
      io.out('rmaplab show NAME prints an experiment as a workload file; rmaplab run NAME runs it.')
    })

  cmd
    .command('show')
    .description('print a built-in experiment as a workload file (YAML), with its parameters applied')
    .argument('<experiment>', 'an experiment name (rmaplab list)')
    .option('-p, --param <key=value>', 'a parameter (repeatable)', collect)
    .action((name: string, opts: { param?: string[] }) => {
      const e = experiment(name)
      const { data } = e.load(opts.param ?? [])
      // The demos' relative $schema works only beside the package's schema/; a copy gets the published one.
      if (e.text !== undefined) io.out(e.text.replace(SCHEMA_LINE, schemaComment()).trimEnd())
      else {
        io.out(`# ${e.title}\n${schemaComment()}`)
        io.out(workloadYaml(data))
      }
    })

  raceCommand(cmd, io, setExit, (t) => loadTarget(t, []).workload)
  bugsCommand(cmd, io, setExit)

  cmd
    .command('schema')
    .description('print the JSON Schema of the workload format')
    .action(() => io.out(JSON.stringify(workloadJsonSchema(), null, 2)))

  return cmd
}

/** Run the command line; resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok
  const cmd = program(io, (c) => {
    code = c
  })
  try {
    await cmd.parseAsync([...argv], { from: 'user' })
    return code
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; no command, an unknown one, a missing argument: bad input.
      return e.exitCode === 0 ? EXIT.ok : EXIT.badInput
    }
    if (e instanceof BadInputError) {
      for (const p of e.problems) io.err(p)
      return EXIT.badInput
    }
    io.err(`rmaplab: internal error: ${(e as Error).stack ?? String(e)}`)
    return EXIT.internal
  }
}
