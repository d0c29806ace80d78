/**
 * How a check is declared: an id, the layer, the fact it cites, what it needs
 * from the arch (capabilities, fixture, profile), and its body.
 */
import type { Arch, ArchCapabilities, KernelProfile, RmapDesignName } from '@rmaplab/rmap'
import type { ArchFacts, ArchFixture, Layer } from '../types.js'

/** What a check body gets. */
export interface Ctx {
  readonly arch: Arch
  readonly fixture: ArchFixture | undefined
  readonly facts: ArchFacts | undefined
  readonly numRuns: number
  /** fast-check parameters of every property: `numRuns`, and `seed` when one was given. */
  readonly fcParams: { readonly numRuns: number; readonly seed?: number }
  /** The profile of a per-profile check; the first selected profile otherwise. */
  readonly profile: KernelProfile
  /** Every profile selected for this run. */
  readonly profiles: readonly KernelProfile[]
  /** The reverse-mapping design every whole-VM check's machine runs (`options.rmap`, default `'objrmap'`). */
  readonly rmap: RmapDesignName
}

/** A check of the suite. */
export interface CheckDef {
  readonly id: string
  readonly layer: Layer
  /** The fact it checks, as the test name cites it. */
  readonly cite: (ctx: Ctx) => string
  /** What it checks. */
  readonly title: string
  /** Registered once per selected profile (accepted by `profileFilter`), as `id[profile]`. */
  readonly perProfile?: boolean
  readonly profileFilter?: (profile: KernelProfile) => boolean
  /** Why the check does not apply to this arch, or undefined when it does. */
  readonly needs?: (ctx: Ctx) => string | undefined
  readonly run: (ctx: Ctx) => void
}

/** `[doc §N topic]` for the arch's own section, or a contract citation without facts. */
export function sec(ctx: Ctx, topic: string): string {
  const f = ctx.facts
  return f ? `${f.doc}${f.section.startsWith('#') ? '' : ' '}${f.section} ${topic}` : `vectors ${topic}`
}

/** A citation of a section that applies to every layout. */
export const generic =
  (text: string) =>
  (_ctx: Ctx): string =>
    `${text}`

/** The check needs the vector rows. */
export function needFixture(ctx: Ctx): string | undefined {
  return ctx.fixture ? undefined : `no fixture for arch '${ctx.arch.name}' (pass options.fixtures)`
}

/** The check needs the prose facts of the fixture. */
export function needFacts(ctx: Ctx): string | undefined {
  return ctx.facts ? undefined : `the fixture for '${ctx.arch.name}' has no facts`
}

/** The check needs a capability to be true (or false, with `want = false`). */
export const needCap =
  (cap: keyof ArchCapabilities, want = true) =>
  (ctx: Ctx): string | undefined =>
    ctx.arch.capabilities[cap] === want ? undefined : `capabilities.${cap} is ${!want}`

/** All of several needs. */
export const all =
  (...needs: ((ctx: Ctx) => string | undefined)[]) =>
  (ctx: Ctx): string | undefined => {
    for (const n of needs) {
      const r = n(ctx)
      if (r !== undefined) return r
    }
    return undefined
  }
