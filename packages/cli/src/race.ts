/**
 * `rmaplab race <scenario>`: explore the interleavings of a built-in
 * several-cpu scenario with @rmaplab/rmap's `explore` and print the failing
 * schedule, or how far the exploration went without one.
 */

import { existsSync } from 'node:fs'
import {
  BUG_NAMES,
  type BugName,
  bugMask,
  bugNotOnArch,
  type ExploreOptions,
  type ExploreResult,
  explore,
  RACE_SCENARIO_NAMES,
  type RaceScenario,
  ReplayMismatchError,
  raceScenario,
} from '@rmaplab/rmap'
import {
  ARCH_NAMES,
  ARCHES,
  type ArchName,
  layoutFor,
  raceScenarioOf,
  type Workload,
} from '@rmaplab/workload'
import cliProgress from 'cli-progress'
import { type Command, Option } from 'commander'
import type { Io } from './cli.js'
import { BadInputError, EXIT } from './errors.js'

interface RaceOpts {
  arch?: string
  bugs?: string
  bound?: string
  pct?: boolean
  runs: string
  seed: string
  depth: string
  replay?: string
  json?: boolean
  progress: boolean
}

function wholeNumber(flag: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (!/^-?\d+$/.test(v.trim()) || n < min || n > max)
    throw new BadInputError([`${flag} ${v}: expected a whole number in ${min}..${max}`])
  return n
}

function parseBugs(v: string | undefined): BugName[] {
  if (v === undefined) return []
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const n of names)
    if (!(BUG_NAMES as readonly string[]).includes(n))
      throw new BadInputError([`--bugs: unknown bug '${n}'; valid: ${BUG_NAMES.join(', ')}`])
  return names as BugName[]
}

/** The exploration options from the flags (bad input → BadInputError). */
function exploreOptions(o: RaceOpts): ExploreOptions {
  const given = [o.bound !== undefined, o.pct === true, o.replay !== undefined].filter(Boolean).length
  if (given > 1) throw new BadInputError(['give one of --bound, --pct, --replay'])
  if (o.replay !== undefined) return { replay: o.replay }
  if (o.pct)
    return {
      pct: {
        runs: wholeNumber('--runs', o.runs, 1, 10_000_000),
        seed: wholeNumber('--seed', o.seed, 0, 2 ** 31 - 1),
        depth: wholeNumber('--depth', o.depth, 1, 10),
      },
    }
  return { bound: o.bound === undefined ? 2 : wholeNumber('--bound', o.bound, 0, 20) }
}

function summary(r: ExploreResult): string {
  const per = r.runs > 0 ? (r.ms / r.runs).toFixed(2) : '0'
  return `${r.schedules} schedule(s), ${r.runs} run(s) of which ${r.infeasible} infeasible, in ${r.ms.toFixed(0)} ms (${per} ms per run)`
}

/** Register `rmaplab race`. */
export function raceCommand(
  cmd: Command,
  io: Io,
  setExit: (code: number) => void,
  load: (target: string) => Workload,
): void {
  cmd
    .command('race')
    .description(
      'explore the cpu interleavings of a built-in scenario (iterative context bounding, PCT, or a replay) and print the first schedule that breaks a kernel invariant',
    )
    .argument(
      '<scenario>',
      `a built-in scenario (${RACE_SCENARIO_NAMES.join(', ')}) or a workload file with a cpus: section`,
    )
    .option(
      '-a, --arch <name>',
      `the layout: ${ARCH_NAMES.join(', ')} (default: a workload's one arch, else i386)`,
    )
    .option('--bugs <names>', `bugs to re-introduce, comma-separated: ${BUG_NAMES.join(', ')}`)
    .option('--bound <k>', 'explore every schedule with at most k preemptions (default 2)')
    .option('--pct', 'random PCT schedules instead (with --runs, --seed, --depth)')
    .option('--runs <n>', 'PCT runs', '1000')
    .option('--seed <s>', 'PCT seed', '1')
    .option('--depth <d>', 'PCT bug depth (d − 1 priority-change points)', '3')
    .option('--replay <token>', 'replay the schedule of a token printed by an earlier run')
    .option('--json', 'print the result as JSON')
    .addOption(
      new Option(
        '--no-progress',
        'no progress bar (it shows only on a terminal, on stderr; in bound mode after half a second)',
      ),
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 no violation; 1 a violation (its schedule and replay token are printed); 2 bad input.

Examples:
  rmaplab race pg-anon --bugs pg-anon-race      the 2004 oops, found with one preemption
  rmaplab race pg-anon --bound 3                the fixed code, clean to 3 preemptions
  rmaplab race pg-anon-clear --bugs pg-anon-clear-race --pct --runs 500 --seed 7`,
    )
    .action((name: string, o: RaceOpts) => {
      const builtin = (RACE_SCENARIO_NAMES as readonly string[]).includes(name)
      const isFile = !builtin && (existsSync(name) || /[\\/]|\.(ya?ml|json)$/i.test(name))
      if (!builtin && !isFile)
        throw new BadInputError([
          `unknown race scenario '${name}'; valid: ${RACE_SCENARIO_NAMES.join(', ')}, or a workload file with a cpus: section`,
        ])
      const w = builtin ? undefined : load(name)
      const named = w?.machine.arch
      o.arch ??=
        typeof named === 'string' && named !== 'all'
          ? named
          : Array.isArray(named) && named.length === 1
            ? named[0]!
            : 'i386'
      if (!(ARCH_NAMES as readonly string[]).includes(o.arch))
        throw new BadInputError([`--arch: unknown arch '${o.arch}'; valid: ${ARCH_NAMES.join(', ')}`])
      const bugs = parseBugs(o.bugs)
      const offArch = bugNotOnArch(bugMask(bugs, 'race'), o.arch)
      if (offArch)
        throw new BadInputError([
          `--bugs: '${offArch.name}' is in the code of ${offArch.arches!.join(' and ')}, not ${o.arch}`,
        ])
      const opts = exploreOptions(o)
      let scenario: RaceScenario<unknown>
      if (builtin) scenario = raceScenario(name, { arch: ARCHES[o.arch as ArchName], bugs })
      else {
        if (!w?.cpus)
          throw new BadInputError([
            `${name}: no cpus: section; a race scenario lists the programs of several cpus (cpus: - { name: a, steps: [...] })`,
          ])
        scenario = raceScenarioOf(w, layoutFor(w, o.arch as ArchName), bugs) as RaceScenario<unknown>
      }
      let bar: cliProgress.SingleBar | undefined
      if (opts.pct && o.progress && io.isTTY && io.stderr) {
        bar = new cliProgress.SingleBar(
          { stream: io.stderr, format: 'race {bar} {value}/{total} runs', clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        )
        bar.start(opts.pct.runs, 0)
        opts.onProgress = (n) => bar!.update(n)
      } else if (opts.bound !== undefined && o.progress && io.isTTY && io.stderr) {
        // Bound mode has no known total: a counter with the bound being
        // explored, shown only once the exploration has run for half a second.
        const stream = io.stderr
        const t0 = Date.now()
        opts.onProgress = (n, b) => {
          if (!bar) {
            if (Date.now() - t0 < 500) return
            bar = new cliProgress.SingleBar(
              {
                stream,
                format: `race ${name}: {value} run(s), now every schedule with at most {bound} preemption(s) of ${opts.bound}`,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            )
            bar.start(1_000_000, n, { bound: b ?? 0 })
          }
          bar.update(n, { bound: b ?? 0 })
        }
      }
      let r: ExploreResult
      try {
        r = explore(scenario, opts)
      } catch (e) {
        if (e instanceof ReplayMismatchError) throw new BadInputError([`--replay: ${e.message}`])
        throw e
      } finally {
        bar?.stop()
      }
      setExit(r.failure ? EXIT.failed : EXIT.ok)
      if (o.json) {
        const { failure, ...rest } = r
        io.out(
          JSON.stringify(
            {
              ...rest,
              arch: o.arch,
              bugs,
              failure: failure && {
                ...failure,
                violation: { ...failure.violation, error: undefined },
              },
            },
            null,
            2,
          ),
        )
        return
      }
      const how =
        r.mode === 'replay'
          ? `replay of ${opts.replay}`
          : r.mode === 'pct'
            ? `PCT, ${opts.pct!.runs} run(s) from seed ${opts.pct!.seed}, depth ${opts.pct!.depth}`
            : `every schedule with at most ${opts.bound} preemption(s)`
      io.out(
        `race ${name} on ${o.arch} (${bugs.length ? `bugs: ${bugs.join(', ')}` : 'the fixed kernel'}): ${how}`,
      )
      if (!r.failure) {
        io.out(
          `no violation: ${summary(r)}${r.mode === 'bound' ? `; bound reached: ${r.boundReached}` : ''}${r.complete ? '' : ' (stopped early)'}`,
        )
        return
      }
      const f = r.failure
      io.out(`VIOLATION (${f.violation.kind}): ${f.violation.message}`)
      io.out(`found after ${summary(r)}`)
      if (r.shrink)
        io.out(
          r.shrink.from > f.preemptions
            ? `shrunk from ${r.shrink.from} to ${f.preemptions} preemption(s) in ${r.shrink.runs} more run(s)`
            : `already minimal: no schedule with fewer preemptions breaks it (${r.shrink.runs} more run(s))`,
        )
      io.out(`schedule, ${f.preemptions} preemption(s):`)
      for (const s of f.steps)
        if (s.preemption) io.out(`  cpu${s.from} preempted in ${s.fn} at ${s.point} → cpu${s.to}`)
      io.out('interleaving:')
      for (const line of f.trace) io.out(`  ${line}`)
      io.out(
        `replay: rmaplab race ${name} --arch ${o.arch}${bugs.length ? ` --bugs ${bugs.join(',')}` : ''} --replay ${f.token}`,
      )
    })
}
