/**
 * The capability manifest: every check of the suite, for one arch, with
 * whether it applies (capabilities, pgtable flags, fixture, profiles) and the
 * known gap recorded for it. {@link describeArchConformance} registers exactly
 * the applicable entries; the matrix shows the others as not applicable.
 */
import { type Arch, KERNEL_PROFILES, type KernelProfile } from '@rmaplab/rmap'
import type { CheckDef, Ctx } from './checks/define.js'
import { encodingChecks } from './checks/encodings.js'
import { mmuChecks } from './checks/mmu.js'
import { pgtableChecks } from './checks/pgtable.js'
import { vmChecks } from './checks/vm.js'
import { vmFileChecks } from './checks/vm-files.js'
import { vmScenarioChecks } from './checks/vm-scenarios.js'
import { vmSwapChecks } from './checks/vm-swap.js'
import { FIXTURES } from './fixtures/index.js'
import type { ArchFixture, ConformanceCheck, ConformanceOptions, Expectation, Layer } from './types.js'

/** The id of a check of one acceptance scenario: `vm.<group letter><number>` (`vm.a1`, `vm.d4.file`). */
const SCENARIO_ID = /^vm\.[a-z]\d/

/** The whole-VM checks in scenario order (vm.a1 … vm.h2), then those that cite no scenario, as defined. */
function scenarioOrder(defs: readonly CheckDef[]): CheckDef[] {
  const scenarios = defs.filter((d) => SCENARIO_ID.test(d.id)).sort((x, y) => (x.id < y.id ? -1 : 1))
  return [...scenarios, ...defs.filter((d) => !SCENARIO_ID.test(d.id))]
}

/** Every check definition, in registration order. */
const CHECKS: readonly CheckDef[] = [
  ...encodingChecks,
  ...pgtableChecks,
  ...mmuChecks,
  ...scenarioOrder([...vmChecks, ...vmScenarioChecks, ...vmFileChecks, ...vmSwapChecks]),
]

/**
 * Why a check does not run under a design other than the default: only the
 * whole-VM layer depends on the rmap design (the encodings, page-table pages
 * and MMU cache are the same under all three), so those layers run once, in
 * the default design's column.
 */
export const DESIGN_INDEPENDENT = 'independent of the rmap design: runs under objrmap (the default) only'

/**
 * The suite's label for `arch` under `options`: `options.label`, else the
 * arch name, followed by `/<design>` for a design other than objrmap
 * (`i386-pae/pte_chains`).
 */
export function conformanceLabel(arch: Arch, options: ConformanceOptions = {}): string {
  if (options.label !== undefined) return options.label
  const rmap = options.rmap ?? 'objrmap'
  return rmap === 'objrmap' ? arch.name : `${arch.name}/${rmap}`
}

/** The id of the check that the expectations name real checks. */
export const META_EXPECTATIONS_ID = 'meta.expectations'

/** Default number of runs of each property test. */
export const DEFAULT_NUM_RUNS = 100

/** A manifest entry with its body, for the suite itself. */
export interface RunnableCheck extends ConformanceCheck {
  readonly run: () => void
}

/** The fixture the suite uses for `arch`: the one passed in, else the shipped one of that name. */
export function fixtureFor(arch: Arch, options: ConformanceOptions = {}): ArchFixture | undefined {
  return options.fixtures ?? FIXTURES[arch.name]
}

/** The profiles the page-table checks run under: the selected ones the arch supports. */
export function selectedProfiles(arch: Arch, options: ConformanceOptions = {}): KernelProfile[] {
  const wanted = options.profiles ?? KERNEL_PROFILES
  return wanted.filter((p) => arch.profiles.includes(p))
}

function normalize(e: Expectation): { reason: string; mode: 'fail' | 'skip' } {
  return typeof e === 'string' ? { reason: e, mode: 'fail' } : { reason: e.reason, mode: e.mode ?? 'fail' }
}

/** `<id>: [<cite>] <title>`, the vitest test name. */
export function testName(id: string, cite: string, title: string): string {
  return `${id}: [${cite}] ${title}`
}

/** The check id of a test name made by {@link testName} (the text before the first `": "`). */
export function checkIdOf(testName: string): string {
  const i = testName.indexOf(': ')
  return i < 0 ? testName : testName.slice(0, i)
}

/** Every check for `arch`, runnable. */
export function runnableChecks(arch: Arch, options: ConformanceOptions = {}): RunnableCheck[] {
  const fixture = fixtureFor(arch, options)
  const facts = fixture && 'facts' in fixture ? fixture.facts : undefined
  const profiles = selectedProfiles(arch, options)
  const numRuns = options.numRuns ?? DEFAULT_NUM_RUNS
  const expectations = options.expectations ?? {}
  const fcParams = options.seed === undefined ? { numRuns } : { numRuns, seed: options.seed }
  const base = { arch, fixture, facts, numRuns, fcParams, profiles, rmap: options.rmap ?? 'objrmap' }
  const out: RunnableCheck[] = []

  const designOnly = base.rmap !== 'objrmap'
  const add = (def: CheckDef, id: string, ctx: Ctx, missing: string | undefined) => {
    const cite = def.cite(ctx)
    const exp = expectations[id]
    const reason =
      missing ?? (designOnly && def.layer !== 'whole VM' ? DESIGN_INDEPENDENT : undefined) ?? def.needs?.(ctx)
    out.push({
      id,
      layer: def.layer,
      cite,
      title: def.title,
      name: testName(id, cite, def.title),
      applicable: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
      ...(exp === undefined ? {} : { expectation: normalize(exp) }),
      run: () => def.run(ctx),
    })
  }

  for (const def of CHECKS) {
    if (!def.perProfile) {
      add(def, def.id, { ...base, profile: profiles[0] ?? '2.6.5-aa' }, undefined)
      continue
    }
    for (const profile of KERNEL_PROFILES) {
      if (def.profileFilter && !def.profileFilter(profile)) continue
      const missing = !arch.profiles.includes(profile)
        ? `the arch does not support profile ${profile}`
        : !profiles.includes(profile)
          ? `profile ${profile} not selected (options.profiles)`
          : undefined
      add(def, `${def.id}[${profile}]`, { ...base, profile }, missing)
    }
  }

  const known = new Set(out.map((c) => c.id))
  const metaLayer: Layer = 'meta'
  const metaTitle = 'every expectation names a check of the suite'
  const metaCite = 'conformance expectations'
  const metaExp = expectations[META_EXPECTATIONS_ID]
  out.push({
    id: META_EXPECTATIONS_ID,
    layer: metaLayer,
    cite: metaCite,
    title: metaTitle,
    name: testName(META_EXPECTATIONS_ID, metaCite, metaTitle),
    applicable: true,
    ...(metaExp === undefined ? {} : { expectation: normalize(metaExp) }),
    run: () => {
      const unknown = Object.keys(expectations).filter((id) => id !== META_EXPECTATIONS_ID && !known.has(id))
      if (unknown.length > 0) {
        throw new Error(
          `expectations name checks the suite does not have: ${unknown.join(', ')} (conformanceManifest(arch) lists every id)`,
        )
      }
    },
  })
  return out
}

/**
 * The capability manifest of `arch`: every check with whether it applies and
 * why not, and its recorded expectation. Pure data; nothing runs.
 */
export function conformanceManifest(arch: Arch, options: ConformanceOptions = {}): ConformanceCheck[] {
  return runnableChecks(arch, options).map(({ run: _run, ...check }) => check)
}

/** The outcome of one check run by {@link runConformance}. */
export interface CheckOutcome {
  readonly id: string
  readonly status: 'pass' | 'fail' | 'n/a'
  /** The assertion or error of a failed check; the reason of a check that does not apply. */
  readonly detail?: string
}

/**
 * Run every check for `arch` outside a test runner and report each outcome,
 * ignoring expectations. For tools (the matrix's mutation tests, a REPL); an
 * arch package's tests use {@link describeArchConformance}.
 */
export function runConformance(arch: Arch, options: ConformanceOptions = {}): CheckOutcome[] {
  let checks = runnableChecks(arch, options)
  if (options.only !== undefined) {
    const wanted = new Set(options.only)
    const baseId = (id: string) => id.replace(/\[[^\]]*\]$/, '')
    const known = new Set(checks.flatMap((c) => [c.id, baseId(c.id)]))
    const unknown = [...wanted].filter((id) => !known.has(id))
    if (unknown.length > 0) throw new RangeError(`options.only names no check: ${unknown.join(', ')}`)
    checks = checks.filter((c) => wanted.has(c.id) || wanted.has(baseId(c.id)))
  }
  return checks.map((c) => {
    if (!c.applicable)
      return { id: c.id, status: 'n/a', ...(c.reason === undefined ? {} : { detail: c.reason }) }
    try {
      c.run()
      return { id: c.id, status: 'pass' }
    } catch (e) {
      return { id: c.id, status: 'fail', detail: e instanceof Error ? e.message : String(e) }
    }
  })
}
