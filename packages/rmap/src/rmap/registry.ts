/**
 * The designs a Machine can run, by the name its `rmap` option takes. The
 * Machine resolves its design once, at construction; every caller then goes
 * through `m.rmap`.
 */
import { MachineOptionError } from '../errors.js'
import { anonmm } from './anonmm/index.js'
import { objrmap } from './objrmap/index.js'
import { RMAP_DESIGNS, RMAP_STRATEGIES, type RmapStrategy, type RmapStrategyName } from './strategy.js'

const REGISTRY: Record<RmapStrategyName, RmapStrategy> = { objrmap, anonmm }

/** The `rmap` option names a design rmaplab does not know. */
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
export function resolveRmapDesign(name: unknown = 'objrmap'): RmapStrategy {
  if (typeof name !== 'string' || !(RMAP_DESIGNS as readonly string[]).includes(name))
    throw new UnknownRmapDesignError(name)
  if (!Object.hasOwn(REGISTRY, name)) throw new RmapDesignNotImplementedError(name)
  return REGISTRY[name as RmapStrategyName]
}
