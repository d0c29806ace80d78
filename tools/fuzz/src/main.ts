/**
 * `pnpm fuzz [-- --runs N] [--arch i386|i386-pae|ppc|ppc64|all] [--rmap objrmap|pte_chains|anonmm|all] [--seed S]
 * [--path P --replay-path R] [--steps N] [--minutes M]`: the model-based
 * random test of fuzz.ts for as long as asked. Environment variables
 * FUZZ_RUNS, FUZZ_ARCH, FUZZ_SEED, FUZZ_STEPS and FUZZ_MINUTES do the same. A
 * failure prints the command that replays it (seed, path and the command
 * sequence's replay path) and fast-check's report with the shrunk sequence of
 * operations.
 */
import { parseArgs } from 'node:util'
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { ppc } from '@rmaplab/arch-ppc'
import { ppc64 } from '@rmaplab/arch-ppc64'
import { RMAP_STRATEGIES, type RmapStrategyName } from '@rmaplab/rmap'
import { FuzzFinding, fuzz } from './fuzz.js'

const LAYOUTS = { i386, 'i386-pae': i386Pae, ppc, ppc64 }

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    runs: { type: 'string', default: process.env.FUZZ_RUNS ?? '200' },
    arch: { type: 'string', default: process.env.FUZZ_ARCH ?? 'all' },
    rmap: { type: 'string', default: process.env.FUZZ_RMAP ?? 'objrmap' },
    seed: { type: 'string', default: process.env.FUZZ_SEED },
    path: { type: 'string', default: process.env.FUZZ_PATH },
    'replay-path': { type: 'string', default: process.env.FUZZ_REPLAY_PATH },
    steps: { type: 'string', default: process.env.FUZZ_STEPS ?? '80' },
    minutes: { type: 'string', default: process.env.FUZZ_MINUTES },
  },
})

function whole(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n)) {
    console.error(`fuzz: --${name} must be an integer, got '${v}'`)
    process.exit(2)
  }
  return n
}

const runs = whole('runs', values.runs)!
const steps = whole('steps', values.steps)!
const seed = whole('seed', values.seed) ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0
const minutes = values.minutes === undefined ? undefined : Number(values.minutes)
const names = values.arch === 'all' ? Object.keys(LAYOUTS) : values.arch.split(',')
for (const name of names) {
  if (!(name in LAYOUTS)) {
    console.error(`fuzz: unknown --arch '${name}'; valid: ${Object.keys(LAYOUTS).join(', ')}, all`)
    process.exit(2)
  }
}
const designs = (values.rmap === 'all' ? [...RMAP_STRATEGIES] : values.rmap.split(',')) as RmapStrategyName[]
for (const d of designs) {
  if (!(RMAP_STRATEGIES as readonly string[]).includes(d)) {
    console.error(`fuzz: unknown --rmap '${d}'; valid: ${RMAP_STRATEGIES.join(', ')}, all`)
    process.exit(2)
  }
}
console.log(`fuzz: seed ${seed}, ${runs} runs of up to ${steps} operations per layout and rmap design`)
let failed = false
for (const [name, rmap] of names.flatMap((n) => designs.map((d) => [n, d] as const))) {
  const arch = LAYOUTS[name as keyof typeof LAYOUTS]
  const label = designs.length > 1 || rmap !== 'objrmap' ? `${name}/${rmap}` : name
  const t0 = performance.now()
  try {
    const r = fuzz({
      arch,
      rmap,
      runs,
      maxCommands: steps,
      seed,
      ...(values.path !== undefined ? { path: values.path } : {}),
      ...(values['replay-path'] !== undefined ? { replayPath: values['replay-path'] } : {}),
      ...(minutes !== undefined ? { timeLimitMs: (minutes * 60_000) / (names.length * designs.length) } : {}),
    })
    const s = ((performance.now() - t0) / 1000).toFixed(1)
    console.log(`${label}: ${r.runs} runs, ${r.ops} operations, no finding (${s} s)`)
  } catch (e) {
    failed = true
    if (!(e instanceof FuzzFinding)) throw e
    const replay = e.replayPath === undefined ? '' : ` --replay-path '${e.replayPath}'`
    console.log(
      `${label}: FINDING (replay: pnpm fuzz -- --arch ${name} --rmap ${rmap} --seed ${seed} --runs ${runs} --steps ${steps} --path '${e.path}'${replay})`,
    )
    console.log(e.message)
  }
}
process.exitCode = failed ? 1 : 0
