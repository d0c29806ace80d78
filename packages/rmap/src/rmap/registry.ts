/**
 * The designs a Machine can run, by the name its `rmap` option takes. The
 * Machine resolves its design once, at construction (a design with state of
 * its own, like pte_chains, gets one instance per Machine); every caller then
 * goes through `m.rmap`.
 */
import type { Arch } from '../arch/types.js'
import { MachineOptionError } from '../errors.js'
import type { Machine } from '../machine.js'
import { anonmm } from './anonmm/index.js'
import { objrmap } from './objrmap/index.js'
import { defaultCacheLine, PteChains, pteChainGeometry } from './pte_chains/rmap.js'
import { RMAP_DESIGNS, RMAP_STRATEGIES, type RmapStrategy, type RmapStrategyName } from './strategy.js'

/** The design-specific Machine options, validated before anything is allocated. */
export interface RmapDesignOptions {
  /** L1_CACHE_BYTES for pte_chains (a power of two); default the layout's 2004 value. */
  cacheLine?: number | undefined
}

/** A registered design: option checks, then one strategy per Machine. */
export interface RmapDesign {
  readonly name: RmapStrategyName
  /** Throw a RangeError naming the option when `opts` cannot be honoured on `arch`. */
  validate(arch: Arch, opts: RmapDesignOptions): void
  /** The strategy of Machine `m` (its frames exist; nothing has been mapped). */
  create(m: Machine, opts: RmapDesignOptions): RmapStrategy
}

const REGISTRY: Record<RmapStrategyName, RmapDesign> = {
  objrmap: {
    name: 'objrmap',
    validate() {},
    create: () => objrmap,
  },
  pte_chains: {
    name: 'pte_chains',
    validate(arch, opts) {
      pteChainGeometry(arch, opts.cacheLine ?? defaultCacheLine(arch))
    },
    create: (m, opts) => new PteChains(m, opts.cacheLine ?? defaultCacheLine(m.arch)),
  },
  anonmm: {
    name: 'anonmm',
    validate() {},
    create: () => anonmm,
  },
}

/** The `rmap` option names a design rmaplab does not know (a MachineOptionError, so a RangeError). */
export class UnknownRmapDesignError extends MachineOptionError {
  override name = 'UnknownRmapDesignError'
  /** The names it takes. */
  readonly valid: readonly string[] = RMAP_DESIGNS
  constructor(value: unknown) {
    super('rmap', value, `unknown rmap design ${describe(value)}; valid: ${RMAP_DESIGNS.join(', ')}`)
  }
}

/** The `rmap` option names a 2004 design that rmaplab knows but does not model yet. */
export class RmapDesignNotImplementedError extends MachineOptionError {
  override name = 'RmapDesignNotImplementedError'
  /** The names that work today. */
  readonly valid: readonly string[] = RMAP_STRATEGIES
  constructor(value: string) {
    super(
      'rmap',
      value,
      `rmap design '${value}' is not implemented yet; implemented: ${RMAP_STRATEGIES.join(', ')}`,
    )
  }
}

function describe(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : typeof v === 'symbol' ? 'a symbol' : `${typeof v} ${String(v)}`
}

/**
 * The design named `name` (default `'objrmap'`). Throws UnknownRmapDesignError
 * for a name that is not a design and RmapDesignNotImplementedError for one
 * that is not modelled yet (both RangeErrors listing the valid names).
 */
export function resolveRmapDesign(name: unknown = 'objrmap'): RmapDesign {
  if (typeof name !== 'string' || !(RMAP_DESIGNS as readonly string[]).includes(name))
    throw new UnknownRmapDesignError(name)
  if (!Object.hasOwn(REGISTRY, name)) throw new RmapDesignNotImplementedError(name)
  return REGISTRY[name as RmapStrategyName]
}
