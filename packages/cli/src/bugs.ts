/**
 * `rmaplab bugs [name]`: the bugs of the "Re: 2.6.5-rc1-aa1" thread that a
 * machine can re-introduce (@rmaplab/workload's BUG_DEMOS). Without a name,
 * the list: what each bug was, where the fix is, what catches it. With a
 * name (or `all`), its demo runs with and without the bug and the buggy run's
 * catch is printed with the step or schedule where it happened. The registry
 * and the demos are the library's; this file only prints.
 */
import { BUG_DEMO_NAMES, BUG_DEMOS, type BugDemo, type BugDemoResult, bugDemoLines } from '@rmaplab/workload'
import type { Command } from 'commander'
import type { Io } from './cli.js'
import { BadInputError, EXIT } from './errors.js'

function list(io: Io): void {
  for (const d of BUG_DEMOS) {
    io.out(`${d.name} (${d.kind})`)
    io.out(`  what:      ${d.title}`)
    io.out(`  fix:       ${d.fix}`)
    io.out(`  caught by: ${d.caughtBy}`)
    io.out('')
  }
  io.out('rmaplab bugs NAME runs the demo of one bug with and without it; rmaplab bugs all runs every demo.')
}

function printResult(io: Io, d: BugDemo, res: BugDemoResult): void {
  for (const line of bugDemoLines(d, res)) io.out(line)
}

/** Register `rmaplab bugs`. */
export function bugsCommand(cmd: Command, io: Io, setExit: (code: number) => void): void {
  cmd
    .command('bugs')
    .description(
      'list the bugs of the 2004 thread that rmaplab can re-introduce, or run one demo with and without its bug',
    )
    .argument('[name]', `a bug (${BUG_DEMO_NAMES.join(', ')}) or 'all'`)
    .option('--json', 'print the list or the demo results as JSON')
    .addHelpText(
      'after',
      `
Exit codes: 0 every demo run behaves (the buggy run caught, the fixed run clean); 1 a demo does not; 2 an unknown name.

Examples:
  rmaplab bugs                    the list: what, where the fix is, what catches it
  rmaplab bugs pg-anon-race       the PG_anon race found with the bug, clean without it
  rmaplab bugs all --json         every demo, as JSON`,
    )
    .action((name: string | undefined, o: { json?: boolean }) => {
      if (name === undefined) {
        if (o.json)
          io.out(
            JSON.stringify(
              BUG_DEMOS.map((d) => ({
                name: d.name,
                kind: d.kind,
                title: d.title,
                what: d.what,
                fix: d.fix,
                caughtBy: d.caughtBy,
              })),
              null,
              2,
            ),
          )
        else list(io)
        setExit(EXIT.ok)
        return
      }
      const demos = name === 'all' ? BUG_DEMOS : BUG_DEMOS.filter((d) => d.name === name)
      if (demos.length === 0)
        throw new BadInputError([`unknown bug '${name}'; valid: ${BUG_DEMO_NAMES.join(', ')}, all`])
      const results = demos.map((d) => ({ d, r: d.run() }))
      setExit(results.every((x) => x.r.ok) ? EXIT.ok : EXIT.failed)
      if (o.json) {
        const out = results.map((x) => x.r)
        io.out(JSON.stringify(name === 'all' ? out : out[0], null, 2))
        return
      }
      results.forEach((x, i) => {
        if (i > 0) io.out(`\n${'─'.repeat(72)}\n`)
        printResult(io, x.d, x.r)
      })
    })
}
