// A spy rmap design for the core's tests, in the manner of the kernel's
// tools/testing/vma (which records was_cloned / was_unlinked): it wraps a real
// design, forwards every call unchanged and records it, so a test can run a
// VM workload and then ask which hooks the generic code called, and with what.
import { Cpu, Machine, type MachineOptions, Mm, type RmapStrategy, Vma } from '../../src/index.js'

/** One recorded call: the method and its arguments, the Machine and the Cpu left out, vmas and mms summarised. */
export interface SpyCall {
  fn: keyof RmapStrategy
  args: unknown[]
}

/** A vma as the spy records it. */
export interface SpyVma {
  vma: Vma
  mm: number
  start: number
  end: number
}

function summarise(a: unknown): unknown {
  if (a instanceof Vma) return { vma: a, mm: a.mm.id, start: a.start, end: a.end } satisfies SpyVma
  if (a instanceof Mm) return { mm: a.id }
  return a
}

/** A design that forwards to `inner` and records every call in `calls`. */
export class SpyRmap {
  readonly calls: SpyCall[] = []
  readonly strategy: RmapStrategy
  /** While false, nothing is recorded (the calls still go through). */
  recording = true

  constructor(readonly inner: RmapStrategy) {
    const spy: Record<string, unknown> = { name: inner.name, source: inner.source }
    // Own keys (a plain object like objrmap) and prototype methods (a class like PteChains).
    const keys = new Set<string>()
    for (let o: object | null = inner; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
      for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor') keys.add(k)
    for (const key of keys as Set<keyof RmapStrategy>) {
      const fn = inner[key]
      // A declarative field (anonMergeContiguous, mprotectVmaMerge ...) is the
      // design's answer as it is: copied, so that the VM runs the design's rules.
      if (typeof fn !== 'function') {
        spy[key] = fn
        continue
      }
      spy[key] = (...args: unknown[]) => {
        if (this.recording)
          this.calls.push({
            fn: key,
            args: args.filter((x) => !(x instanceof Machine) && !(x instanceof Cpu)).map(summarise),
          })
        return (fn as (...a: unknown[]) => unknown).apply(inner, args)
      }
    }
    this.strategy = spy as unknown as RmapStrategy
  }

  /** The calls of one method. */
  of(fn: keyof RmapStrategy): unknown[][] {
    return this.calls.filter((c) => c.fn === fn).map((c) => c.args)
  }

  /** How many calls of each method, for the methods called at least once. */
  counts(): Partial<Record<keyof RmapStrategy, number>> {
    const out: Partial<Record<keyof RmapStrategy, number>> = {}
    for (const c of this.calls) out[c.fn] = (out[c.fn] ?? 0) + 1
    return out
  }

  /** Forget what was recorded. */
  reset(): void {
    this.calls.length = 0
  }
}

/** A Machine whose design is wrapped by a spy (installed before any process exists). */
export function spyMachine(opts: MachineOptions): { m: Machine; spy: SpyRmap } {
  const m = new Machine(opts)
  const spy = new SpyRmap(m.rmap)
  ;(m as unknown as { rmap: RmapStrategy }).rmap = spy.strategy
  return { m, spy }
}
