/**
 * Runs a validated workload on one layout: a fresh Machine, the steps in
 * order, and what the VM did (meminfo, m.stats(), processes) at the end — or
 * at the step that failed, with the process and the kernel-level cause.
 */
import {
  InvariantError,
  KernelBugError,
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NONBLOCK,
  MAP_PRIVATE,
  MAP_SHARED,
  type Machine,
  type MapsEntry,
  type Meminfo,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  OutOfMemoryError,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  RmapError,
  SignalError,
  SyscallError,
  type VmStats,
} from '@rmaplab/rmap'
import type { PlanStep } from '../workload/analyze.js'
import type { ConstName, ExprEnv } from '../workload/expr.js'
import type { Pos } from '../workload/source.js'
import type { Workload } from '../workload/validate.js'
import { type Layout, layoutName, newMachine } from './layouts.js'

/** Why a run stopped early. */
export interface Failure {
  /** `assertion`: the workload's own check failed; `error`: a step failed unexpectedly; `invariant`: a kernel invariant broke. */
  kind: 'assertion' | 'error' | 'invariant'
  /** The step, from 1, as reports count them. */
  step: number
  pos: Pos | undefined
  label: string
  /** The process the step was running in, when there was one: `c (pid 2)`. */
  process: string | undefined
  message: string
  /** The kernel-level cause: the error the VM raised. */
  cause: Record<string, unknown> | undefined
}

/** The rmap walks the workload asked for (page_referenced / try_to_unmap steps). */
export interface WalkTotals {
  calls: number
  vmasVisited: number
  ptesProbed: number
  maxVmasVisited: number
}

/** What one layout did. */
export interface LayoutRun {
  layout: string
  arch: string
  rmap: string
  profile: string
  ram: number | string
  cpus: number
  seed: number
  ok: boolean
  failure: Failure | undefined
  /** Steps completed. */
  stepsRun: number
  steps: number
  assertions: { passed: number; failed: number }
  /** Wall time of the steps in milliseconds (checks after every step excluded). */
  timeMs: number
  /** Live processes at the end. */
  processes: number
  meminfo: Meminfo
  stats: VmStats
  walks: WalkTotals
  /** /proc/PID/maps of every live process, when asked for. */
  maps?: Array<{ pid: number; name: string; maps: MapsEntry[] }>
}

export interface RunHooks {
  /** One line per step. */
  trace?: (line: string) => void
  /** m.check() after every step (rmaplab check). */
  checkEachStep?: boolean
  /** Called as steps complete: the layout's fraction done. */
  progress?: (fraction: number) => void
  /** The machine, once the run is over (tests compare its m.stats() with the report). */
  onMachine?: (m: Machine) => void
  /** Collect maps of the live processes at the end. */
  maps?: boolean
}

/** A failed assertion inside a step. */
class AssertionFailure extends Error {
  override name = 'AssertionFailure'
}
/** A workload that refers to something its processes do not have (a region it never mapped, an fd it closed). */
class WorkloadError extends Error {
  override name = 'WorkloadError'
}

interface Region {
  start: number
  length: number
}

const PROT: Record<string, number> = {
  none: PROT_NONE,
  r: PROT_READ,
  w: PROT_WRITE,
  x: PROT_EXEC,
  rw: PROT_READ | PROT_WRITE,
  rx: PROT_READ | PROT_EXEC,
  wx: PROT_WRITE | PROT_EXEC,
  rwx: PROT_READ | PROT_WRITE | PROT_EXEC,
}
const ADVICE: Record<string, number> = {
  normal: MADV_NORMAL,
  random: MADV_RANDOM,
  sequential: MADV_SEQUENTIAL,
  willneed: MADV_WILLNEED,
  dontneed: MADV_DONTNEED,
}
const OPEN_FLAGS: Record<string, number> = {
  rdonly: O_RDONLY,
  wronly: O_WRONLY,
  rdwr: O_RDWR,
  creat: O_CREAT,
  excl: O_EXCL,
  trunc: O_TRUNC,
}

const hex = (n: number) => `0x${n.toString(16)}`

/** The layout constants expressions can name. */
export function layoutConsts(m: Machine): Record<ConstName, number> {
  const g = m.arch.geometry
  return {
    PAGE_SIZE,
    PTE_SPAN: 2 ** g.PMD_SHIFT,
    PGDIR_SPAN: 2 ** g.PGDIR_SHIFT,
    TASK_SIZE: m.taskSize,
    TASK_UNMAPPED_BASE: m.taskUnmappedBase,
  }
}

/** Run `w` on one layout. Never throws for the workload's own failures: they are in the result. */
export function runOnLayout(w: Workload, layout: Layout, hooks: RunHooks = {}, multiRmap = false): LayoutRun {
  const m = newMachine(layout)
  const name = layoutName(layout, multiRmap)
  const consts = layoutConsts(m)
  const procs = new Map<string, Process[]>()
  const pname = new Map<number, string>()
  const regions = new Map<string, Map<number, Region>>()
  const fds = new Map<string, Map<number, number>>()
  const marks = new Map<string, { meminfo: Meminfo; stats: VmStats }>()
  /** Swap areas by name: their type (the machine's own area, type 0, is `swap`). */
  const areas = new Map<string, number>()
  if (m.swapAreas().length) areas.set('swap', m.swapAreas()[0]!.type)
  const walks: WalkTotals = { calls: 0, vmasVisited: 0, ptesProbed: 0, maxVmasVisited: 0 }
  const assertions = { passed: 0, failed: 0 }
  let current: Process | undefined
  let failure: Failure | undefined
  let stepsRun = 0
  let timeMs = 0
  const trace = hooks.trace ? (s: string) => hooks.trace!(`[${name}] ${s}`) : undefined

  const who = (p: Process) => `${pname.get(p.pid) ?? 'process'} (pid ${p.pid})`
  const bindOne = (n: string, p: Process) => {
    procs.set(n, [p])
    pname.set(p.pid, n)
  }
  const bindGroup = (n: string, ps: Process[]) => {
    procs.set(n, ps)
    ps.forEach((p, i) => {
      if (!pname.has(p.pid)) pname.set(p.pid, `${n}[${i}]`)
    })
  }
  const resolve = (ref: string | string[]): Process[] => {
    const names = Array.isArray(ref) ? ref : [ref]
    return names.flatMap((n) => {
      const member = /^(.*)\[(\d+)\]$/.exec(n)
      if (!member) return procs.get(n)!
      const group = procs.get(member[1]!)!
      const p = group[Number(member[2])]
      if (!p)
        throw new WorkloadError(
          `${n}: the group '${member[1]}' has ${group.length} processes (0..${group.length - 1})`,
        )
      return [p]
    })
  }
  const regionOf = (n: string, p: Process): Region => {
    const r = regions.get(n)?.get(p.pid)
    if (!r)
      throw new WorkloadError(
        `region '${n}' is not mapped by ${who(p)}: it mapped ${listRegions(p) || 'none'}`,
      )
    return r
  }
  const listRegions = (p: Process) =>
    [...regions.entries()]
      .filter(([, byPid]) => byPid.has(p.pid))
      .map(([n]) => n)
      .join(', ')
  const fdOf = (n: string, p: Process): number => {
    const fd = fds.get(n)?.get(p.pid)
    if (fd === undefined) throw new WorkloadError(`file descriptor '${n}' is not open in ${who(p)}`)
    return fd
  }
  const envFor = (p: Process | undefined): ExprEnv => ({
    region: (n) => {
      if (!p) throw new WorkloadError(`region '${n}' in an assertion that names no process`)
      return regionOf(n, p)
    },
    i: 0,
    pid: p?.pid ?? 0,
    consts,
  })
  /** Inherit regions and fds at fork. */
  const inherit = (parent: Process, child: Process) => {
    for (const byPid of regions.values()) {
      const r = byPid.get(parent.pid)
      if (r) byPid.set(child.pid, { ...r })
    }
    for (const byPid of fds.values()) {
      const fd = byPid.get(parent.pid)
      if (fd !== undefined) byPid.set(child.pid, fd)
    }
  }
  const forget = (p: Process, what: 'regions' | 'all') => {
    for (const byPid of regions.values()) byPid.delete(p.pid)
    if (what === 'all') for (const byPid of fds.values()) byPid.delete(p.pid)
  }

  const t0 = performance.now()
  let checkMs = 0
  for (const step of w.steps) {
    const ev = (key: string, env: ExprEnv): number => step.exprs.get(key)!.eval(env)
    const has = (key: string) => step.exprs.has(key)
    const a = step.args
    current = undefined
    try {
      const summary = runStep(step)
      stepsRun++
      trace?.(
        `#${step.index + 1}${step.pos ? ` line ${step.pos.line}` : ''} ${step.label}${summary ? `: ${summary}` : ''}`,
      )
      if (hooks.checkEachStep) {
        const c0 = performance.now()
        m.check()
        checkMs += performance.now() - c0
      }
    } catch (e) {
      failure = toFailure(e, step, current ? who(current) : undefined)
      if (failure.kind === 'assertion') assertions.failed++
      trace?.(`#${step.index + 1} ${step.label}: FAILED: ${failure.message}`)
      break
    }
    hooks.progress?.(stepsRun / w.steps.length)

    /** Run one step; return a short summary for --trace. */
    function runStep(step: PlanStep): string {
      switch (step.kind) {
        case 'spawn': {
          const p = m.spawn()
          bindOne(a.as, p)
          return `pid ${p.pid}`
        }
        case 'fork': {
          const parents = resolve(a.proc)
          const fork = (p: Process): Process | undefined => {
            current = p
            const c = expectOutcome(() => p.fork(), a.fails, 'fork')
            if (c) inherit(p, c)
            return c
          }
          if (a.levels !== undefined) {
            let all = [...parents]
            for (let l = 0; l < a.levels; l++) all = all.concat(all.map((p) => fork(p)!).filter(Boolean))
            bindGroup(a.as, all)
            return `${all.length} processes`
          }
          if (a.children !== undefined) {
            const kids: Process[] = []
            for (const p of parents) for (let k = 0; k < a.children; k++) kids.push(fork(p)!)
            bindGroup(a.as, kids.filter(Boolean))
            return `${kids.length} children`
          }
          const kids = parents.map(fork).filter((c): c is Process => c !== undefined)
          if (kids.length === 1 && parents.length === 1 && !Array.isArray(a.proc)) bindOne(a.as, kids[0]!)
          else bindGroup(a.as, kids)
          return kids.map((k) => `pid ${k.pid}`).join(', ')
        }
        case 'exec':
          for (const p of resolve(a.proc)) {
            current = p
            expectOutcome(() => p.exec(a.args ?? [0]), a.fails, 'exec')
            forget(p, 'regions')
          }
          return ''
        case 'exit':
          for (const p of resolve(a.proc)) {
            current = p
            if (!p.alive) continue
            p.exit()
            forget(p, 'all')
          }
          return ''
        case 'mmap': {
          const out: number[] = []
          for (const p of resolve(a.proc)) {
            current = p
            const env = envFor(p)
            const length = ev('length', env)
            const addr = has('addr') ? ev('addr', env) : 0
            const prot = PROT[a.prot]!
            let flags = a.shared ? MAP_SHARED : MAP_PRIVATE
            if (a.fd === undefined) flags |= MAP_ANONYMOUS
            if (a.fixed) flags |= MAP_FIXED
            const fd = a.fd !== undefined ? fdOf(a.fd, p) : undefined
            const offset = has('offset') ? ev('offset', env) : 0
            const r = expectOutcome(() => p.mmap(addr, length, prot, flags, fd, offset), a.fails, 'mmap')
            if (r !== undefined) {
              out.push(r)
              if (a.as) {
                if (!regions.has(a.as)) regions.set(a.as, new Map())
                regions.get(a.as)!.set(p.pid, { start: r, length })
              }
            }
          }
          return out.length ? [...new Set(out)].map(hex).join(', ') : ''
        }
        case 'munmap':
        case 'mprotect':
        case 'mlock':
        case 'munlock':
        case 'madvise': {
          for (const p of resolve(a.proc)) {
            current = p
            const r = range(step, p)
            expectOutcome(
              () => {
                if (step.kind === 'munmap') p.munmap(r.start, r.length)
                else if (step.kind === 'mprotect') p.mprotect(r.start, r.length, PROT[a.prot]!)
                else if (step.kind === 'mlock') p.mlock(r.start, r.length)
                else if (step.kind === 'munlock') p.munlock(r.start, r.length)
                else p.madvise(r.start, r.length, ADVICE[a.advice]!)
                return true
              },
              a.fails,
              step.kind,
            )
          }
          return ''
        }
        case 'mremap': {
          const out: number[] = []
          for (const p of resolve(a.proc)) {
            current = p
            const env = envFor(p)
            const r = range(step, p)
            const newLen = ev('new_length', env)
            const to = has('to') ? ev('to', env) : 0
            const moving = has('to')
            let flags = 0
            if (a.maymove ?? moving) flags |= MREMAP_MAYMOVE
            if (a.fixed ?? moving) flags |= MREMAP_FIXED
            const res = expectOutcome(() => p.mremap(r.start, r.length, newLen, flags, to), a.fails, 'mremap')
            if (res !== undefined) {
              out.push(res)
              const target = a.as ?? a.region
              if (target) {
                if (!regions.has(target)) regions.set(target, new Map())
                regions.get(target)!.set(p.pid, { start: res, length: newLen })
              }
            }
          }
          return out.map(hex).join(', ')
        }
        case 'remap_file_pages':
          for (const p of resolve(a.proc)) {
            current = p
            const env = envFor(p)
            const r = range(step, p)
            const prot = has('prot') ? ev('prot', env) : 0
            expectOutcome(
              () => {
                p.remapFilePages(r.start, r.length, prot, ev('pgoff', env), a.nonblock ? MAP_NONBLOCK : 0)
                return true
              },
              a.fails,
              'remap_file_pages',
            )
          }
          return ''
        case 'create': {
          const size = ev('size', envFor(undefined))
          expectOutcome(
            () => m.fs.create(a.path, a.fill === undefined ? { size } : { size, fill: a.fill }),
            a.fails,
            'create',
          )
          return `${size} bytes`
        }
        case 'open': {
          const list: string[] =
            a.flags === undefined ? ['rdwr'] : Array.isArray(a.flags) ? a.flags : [a.flags]
          const flags = list.reduce((f, n) => f | OPEN_FLAGS[n]!, 0)
          const out: number[] = []
          for (const p of resolve(a.proc)) {
            current = p
            const fd = expectOutcome(() => p.open(a.path, flags), a.fails, 'open')
            if (fd !== undefined) {
              if (!fds.has(a.as)) fds.set(a.as, new Map())
              fds.get(a.as)!.set(p.pid, fd)
              out.push(fd)
            }
          }
          return out.length ? `fd ${[...new Set(out)].join(', ')}` : ''
        }
        case 'close':
          for (const p of resolve(a.proc)) {
            current = p
            const fd = fdOf(a.fd, p)
            expectOutcome(
              () => {
                p.close(fd)
                return true
              },
              a.fails,
              'close',
            )
            fds.get(a.fd)!.delete(p.pid)
          }
          return ''
        case 'ftruncate':
          for (const p of resolve(a.proc)) {
            current = p
            const fd = fdOf(a.fd, p)
            const len = ev('length', envFor(p))
            expectOutcome(
              () => {
                p.ftruncate(fd, len)
                return true
              },
              a.fails,
              'ftruncate',
            )
          }
          return ''
        case 'read':
        case 'write': {
          const write = step.kind === 'write'
          const ps = resolve(a.proc)
          let pages = 0
          for (const p of ps) {
            current = p
            const env = envFor(p)
            const r = range(step, p)
            const value = write ? step.exprs.get('value')! : step.exprs.get('expect')
            const constant = value?.constant
            try {
              for (let k = 0; k < r.pages; k++) {
                const addr = r.start + k * PAGE_SIZE
                env.i = k
                if (write) {
                  p.write(addr, constant ?? value!.eval(env))
                } else {
                  const got = p.read(addr)
                  if (value) {
                    const want = (constant ?? value.eval(env)) >>> 0
                    if (got >>> 0 !== want) {
                      throw new AssertionFailure(
                        `read at ${hex(addr)} (page ${k} of the range) in ${who(p)}: expected ${hex(want)}, got ${hex(got >>> 0)}`,
                      )
                    }
                  }
                }
                pages++
              }
              if (a.fails) {
                throw new AssertionFailure(
                  `expected ${step.kind} to fail with ${a.fails} in ${who(p)}, but all ${r.pages} page(s) succeeded`,
                )
              }
            } catch (e) {
              if (!(a.fails && e instanceof SignalError)) throw e
              if (e.signal !== a.fails)
                throw new AssertionFailure(
                  `expected ${a.fails} in ${who(p)}, got ${e.signal} at ${hex(e.address)}: ${e.reason}`,
                )
            }
          }
          if (!write && a.expect !== undefined) assertions.passed++
          if (a.fails) assertions.passed++
          return `${pages} page(s)${ps.length > 1 ? ` in ${ps.length} processes` : ''}${a.fails ? `, ${a.fails} as expected` : ''}`
        }
        case 'page_referenced':
        case 'try_to_unmap': {
          const p = resolve(a.proc)[0]!
          current = p
          const env = envFor(p)
          const r = range(step, p)
          const stride = has('stride') ? ev('stride', env) : 1
          if (stride < 1) throw new WorkloadError(`stride must be at least 1, got ${stride}`)
          let calls = 0
          let visited = 0
          let probed = 0
          let skipped = 0
          const outcomes = new Map<string, number>()
          for (let k = 0; k < r.pages; k += stride) {
            const addr = r.start + k * PAGE_SIZE
            const pm = p.pagemap(addr)
            if (!pm.present || pm.pfn === m.zeroPage) {
              skipped++
              continue
            }
            let out: string
            if (step.kind === 'page_referenced') {
              const n = m.pageReferenced(pm.pfn!)
              out = String(n)
              if (has('expect') && n !== ev('expect', env)) {
                throw new AssertionFailure(
                  `page_referenced of the page at ${hex(addr)} in ${who(p)} found ${n} reference(s), expected ${ev('expect', env)}`,
                )
              }
            } else {
              out = m.tryToUnmap(pm.pfn!)
              if (a.expect && out !== a.expect)
                throw new AssertionFailure(
                  `try_to_unmap of the page at ${hex(addr)} in ${who(p)}: ${out}, expected ${a.expect}`,
                )
            }
            outcomes.set(out, (outcomes.get(out) ?? 0) + 1)
            const lw = m.counters.lastWalk
            calls++
            visited += lw.vmasVisited
            probed += lw.ptesProbed
            walks.maxVmasVisited = Math.max(walks.maxVmasVisited, lw.vmasVisited)
          }
          walks.calls += calls
          walks.vmasVisited += visited
          walks.ptesProbed += probed
          if (a.expect !== undefined) assertions.passed++
          const per = calls
            ? ` (${(visited / calls).toFixed(1)} vmas, ${(probed / calls).toFixed(1)} ptes per call)`
            : ''
          const res = [...outcomes].map(([o, n]) => `${n}× ${o}`).join(', ')
          return `${calls} call(s)${per}${res ? `; ${step.kind === 'page_referenced' ? 'references ' : ''}${res}` : ''}${skipped ? `; ${skipped} page(s) not present, skipped` : ''}`
        }
        case 'swapon': {
          const size = a.size as number | string
          const type = m.swapon(a.priority !== undefined ? { size, priority: a.priority } : size)
          if (a.as) areas.set(a.as, type)
          const area = m.swapAreas().find((x) => x.type === type)!
          return `type ${type}, ${area.pages} slots, priority ${area.priority}`
        }
        case 'swapoff': {
          const type = areas.get(a.area)
          if (type === undefined) throw new WorkloadError(`swap area '${a.area}' is not on`)
          const r = expectOutcome(() => m.swapoff(type), a.fails, 'swapoff')
          if (r === undefined) return `${a.fails} as expected`
          areas.delete(a.area)
          return `${r.slots} slot(s) in use, ${r.pagesRead} page(s) read back, ${r.ptes} pte(s)${r.shmem ? `, ${r.shmem} tmpfs page(s)` : ''}`
        }
        case 'reclaim': {
          const pages = ev('pages', envFor(undefined))
          const r = m.reclaim({ pages })
          if (a.freed !== undefined) {
            compare('reclaim: pages freed', 'freed', a.freed, r.freed, envFor(undefined))
            assertions.passed++
          }
          return `freed ${r.freed}/${r.requested}, scanned ${r.scanned} inactive + ${r.scannedActive} active, ${r.writes} write(s)`
        }
        case 'pageout': {
          const p = resolve(a.proc)[0]!
          current = p
          const r = range(step, p)
          const outcomes = new Map<string, number>()
          let skipped = 0
          for (let k = 0; k < r.pages; k++) {
            const addr = r.start + k * PAGE_SIZE
            const pm = p.pagemap(addr)
            if (!pm.present || pm.pfn === m.zeroPage) {
              skipped++
              continue
            }
            const rep = m.pageout(pm.pfn!)
            const lw = m.counters.lastWalk
            walks.maxVmasVisited = Math.max(walks.maxVmasVisited, lw.vmasVisited)
            if (a.expect && rep.result !== a.expect)
              throw new AssertionFailure(
                `pageout of the page at ${hex(addr)} in ${who(p)}: ${rep.result} (${rep.reason}), expected ${a.expect}`,
              )
            if (a.reason && !rep.reason.includes(a.reason))
              throw new AssertionFailure(
                `pageout of the page at ${hex(addr)} in ${who(p)}: ${rep.result} because '${rep.reason}', expected a reason containing '${a.reason}'`,
              )
            const key = `${rep.result} (${rep.reason})`
            outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
          }
          if (a.expect !== undefined || a.reason !== undefined) assertions.passed++
          const res = [...outcomes].map(([o, n]) => `${n}× ${o}`).join(', ')
          return `${res || 'no page'}${skipped ? `; ${skipped} page(s) not present, skipped` : ''}`
        }
        case 'check':
          m.check()
          return 'ok'
        case 'mark':
          marks.set(a.as, { meminfo: m.meminfo(), stats: m.stats() })
          return ''
        case 'assert':
          runAssert(step)
          assertions.passed++
          return 'ok'
      }
    }

    /** The range of a step (or of `o`, part of it) in process p. */
    function range(
      step: PlanStep,
      p: Process,
      prefix = '',
    ): { start: number; length: number; pages: number } {
      const o = prefix ? a[prefix] : a
      const key = (k: string) => (prefix ? `${prefix}.${k}` : k)
      const env = envFor(p)
      let start: number
      let pages: number
      let length: number
      if (o.region !== undefined) {
        const r = regionOf(o.region, p)
        const first = step.exprs.has(key('page')) ? ev(key('page'), env) : 0
        start = r.start + first * PAGE_SIZE
        pages = step.exprs.has(key('pages')) ? ev(key('pages'), env) : Math.ceil(r.length / PAGE_SIZE) - first
        length = pages * PAGE_SIZE
      } else {
        start = ev(key('addr'), env)
        if (step.exprs.has(key('length'))) {
          length = ev(key('length'), env)
          pages = Math.ceil(length / PAGE_SIZE)
        } else {
          pages = step.exprs.has(key('pages')) ? ev(key('pages'), env) : 1
          length = pages * PAGE_SIZE
        }
      }
      if (pages < 0) throw new WorkloadError(`the range has ${pages} pages`)
      return { start, length, pages }
    }

    /** Compare `actual` with a Cmp at `key`; `base` is the mark's value for `since`. */
    function compare(
      what: string,
      key: string,
      raw: unknown,
      actual: number,
      env: ExprEnv,
      baseOf?: (mark: string) => number,
    ) {
      let value = actual
      let suffix = ''
      if (typeof raw === 'object' && raw !== null) {
        const o = raw as { eq?: unknown; min?: unknown; max?: unknown; since?: string }
        if (o.since) {
          value = actual - baseOf!(o.since)
          suffix = ` since mark '${o.since}' (now ${actual})`
        }
        const fail = (want: string) => {
          throw new AssertionFailure(`${what}: expected ${want}${suffix}, got ${value}`)
        }
        if (o.eq !== undefined && value !== ev(`${key}.eq`, env)) fail(String(ev(`${key}.eq`, env)))
        if (o.min !== undefined && value < ev(`${key}.min`, env)) fail(`at least ${ev(`${key}.min`, env)}`)
        if (o.max !== undefined && value > ev(`${key}.max`, env)) fail(`at most ${ev(`${key}.max`, env)}`)
      } else if (value !== ev(key, env)) {
        throw new AssertionFailure(`${what}: expected ${ev(key, env)}, got ${value}`)
      }
    }

    function markOf(n: string) {
      const mk = marks.get(n)
      if (!mk) throw new WorkloadError(`mark '${n}' was not taken`)
      return mk
    }

    function runAssert(step: PlanStep): void {
      const x = a
      if (x.meminfo) {
        const mi = m.meminfo()
        for (const [f, raw] of Object.entries(x.meminfo)) {
          compare(
            `meminfo ${f} (kB)`,
            `meminfo.${f}`,
            raw,
            mi[f as keyof Meminfo],
            envFor(undefined),
            (mk) => markOf(mk).meminfo[f as keyof Meminfo],
          )
        }
      }
      if (x.stats) {
        const st = m.stats()
        for (const [f, raw] of Object.entries(x.stats)) {
          compare(`stats ${f}`, `stats.${f}`, raw, statAt(st, f), envFor(undefined), (mk) =>
            statAt(markOf(mk).stats, f),
          )
        }
      }
      if (x.processes !== undefined)
        compare('live processes', 'processes', x.processes, m.processes().length, envFor(undefined))
      if (x.process) {
        const p = resolve(x.process.proc)[0]!
        current = p
        if (x.process.alive !== undefined && p.alive !== x.process.alive)
          throw new AssertionFailure(
            `${who(p)} is ${p.alive ? 'alive' : 'dead'}, expected ${x.process.alive ? 'alive' : 'dead'}`,
          )
        if (x.process.killed_by !== undefined && p.killedBy !== x.process.killed_by)
          throw new AssertionFailure(
            `${who(p)} was killed by ${p.killedBy ?? 'nothing'}, expected ${x.process.killed_by}`,
          )
      }
      if (x.vmas) {
        const v = x.vmas
        const p = resolve(v.proc)[0]!
        current = p
        const env = envFor(p)
        const maps = p.maps()
        if (v.count !== undefined) compare(`vmas of ${who(p)}`, 'vmas.count', v.count, maps.length, env)
        if (v.at !== undefined) {
          const at = ev('vmas.at', env)
          const vma = maps.find((e) => e.start <= at && at < e.end)
          const mapped = v.mapped ?? true
          if (!vma && mapped) throw new AssertionFailure(`no vma of ${who(p)} contains ${hex(at)}`)
          if (vma && !mapped)
            throw new AssertionFailure(
              `${hex(at)} is mapped in ${who(p)} by ${hex(vma.start)}-${hex(vma.end)}, expected no vma`,
            )
          if (vma) {
            const want = (k: 'start' | 'end' | 'pgoff') => {
              if (v[k] === undefined) return
              const w = ev(`vmas.${k}`, env)
              if (vma[k] !== w)
                throw new AssertionFailure(
                  `vma at ${hex(at)} in ${who(p)}: ${k} ${hex(vma[k])}, expected ${hex(w)}`,
                )
            }
            want('start')
            want('end')
            want('pgoff')
            if (v.perms !== undefined && vma.perms !== v.perms)
              throw new AssertionFailure(
                `vma at ${hex(at)} in ${who(p)}: perms ${vma.perms}, expected ${v.perms}`,
              )
            if (v.file !== undefined && vma.file !== v.file)
              throw new AssertionFailure(
                `vma at ${hex(at)} in ${who(p)}: file '${vma.file}', expected '${v.file}'`,
              )
          }
        }
      }
      if (x.page) {
        const pa = x.page
        const p = resolve(pa.proc)[0]!
        current = p
        const env = envFor(p)
        const r = range(step, p, 'page')
        const other = (k: 'same_frame_as' | 'other_frame_than' | 'same_mapping_as', i: number) => {
          const o = pa[k]
          const q = resolve(o.proc)[0]!
          const qenv = envFor(q)
          const base =
            o.region !== undefined
              ? regionOf(o.region, q).start +
                (step.exprs.has(`page.${k}.page`) ? ev(`page.${k}.page`, qenv) : 0) * PAGE_SIZE
              : ev(`page.${k}.addr`, qenv)
          const addr = base + i * PAGE_SIZE
          return { q, addr, pm: q.pagemap(addr) }
        }
        for (let i = 0; i < r.pages; i++) {
          const addr = r.start + i * PAGE_SIZE
          env.i = i
          const pm = p.pagemap(addr)
          const where = `page at ${hex(addr)} in ${who(p)}`
          const bool = (k: 'present' | 'swapped' | 'write' | 'dirty' | 'young') => {
            if (pa[k] === undefined) return
            const got = Boolean(pm[k])
            if (got !== pa[k]) throw new AssertionFailure(`${where}: ${k} is ${got}, expected ${pa[k]}`)
          }
          bool('present')
          bool('swapped')
          if (pa.zero_page !== undefined) {
            const z = pm.present && pm.pfn === m.zeroPage
            if (z !== pa.zero_page)
              throw new AssertionFailure(
                `${where}: ${z ? 'maps' : 'does not map'} the ZERO_PAGE, expected ${pa.zero_page ? 'it to' : 'not'}`,
              )
          }
          const needFrame = [
            'write',
            'dirty',
            'young',
            'mapcount',
            'count',
            'flags',
            'not_flags',
            'mapping',
            'index',
            'value',
          ].some((k) => pa[k] !== undefined)
          if ((needFrame || pa.same_frame_as || pa.other_frame_than || pa.same_mapping_as) && !pm.present)
            throw new AssertionFailure(
              `${where}: not present (pte ${pm.swapped ? 'holds a swap entry' : pm.file !== undefined ? 'holds a file pte' : 'is none'})`,
            )
          bool('write')
          bool('dirty')
          bool('young')
          if (!pm.present) continue
          const info = m.page(pm.pfn!)
          if (pa.mapcount !== undefined)
            compare(`${where}: mapcount`, 'page.mapcount', pa.mapcount, info.mapcount, env)
          if (pa.count !== undefined) compare(`${where}: count`, 'page.count', pa.count, info.count, env)
          if (pa.index !== undefined) compare(`${where}: index`, 'page.index', pa.index, info.index, env)
          for (const f of pa.flags ?? [])
            if (!info.flags.includes(f))
              throw new AssertionFailure(
                `${where}: PG_${f} is clear, expected set (flags: ${info.flags.join(' ')})`,
              )
          for (const f of pa.not_flags ?? [])
            if (info.flags.includes(f)) throw new AssertionFailure(`${where}: PG_${f} is set, expected clear`)
          if (pa.mapping !== undefined && info.mapping.kind !== pa.mapping)
            throw new AssertionFailure(
              `${where}: page->mapping is ${info.mapping.kind}, expected ${pa.mapping}`,
            )
          if (pa.value !== undefined) {
            const want = ev('page.value', env) >>> 0
            if (info.content !== want)
              throw new AssertionFailure(`${where}: holds ${hex(info.content)}, expected ${hex(want)}`)
          }
          if (pa.same_frame_as) {
            const o = other('same_frame_as', i)
            if (o.pm.pfn !== pm.pfn)
              throw new AssertionFailure(
                `${where} maps pfn ${pm.pfn}; ${who(o.q)} at ${hex(o.addr)} maps ${o.pm.present ? `pfn ${o.pm.pfn}` : 'nothing'}, expected the same frame`,
              )
          }
          if (pa.other_frame_than) {
            const o = other('other_frame_than', i)
            if (o.pm.present && o.pm.pfn === pm.pfn)
              throw new AssertionFailure(
                `${where} and ${who(o.q)} at ${hex(o.addr)} both map pfn ${pm.pfn}, expected different frames`,
              )
          }
          if (pa.same_mapping_as) {
            const o = other('same_mapping_as', i)
            if (!o.pm.present) throw new AssertionFailure(`${who(o.q)} at ${hex(o.addr)}: not present`)
            const oi = m.page(o.pm.pfn!)
            if (oi.mapping.kind !== info.mapping.kind || oi.mapping.id !== info.mapping.id)
              throw new AssertionFailure(
                `${where}: page->mapping is ${info.mapping.kind} #${info.mapping.id}; ${who(o.q)} at ${hex(o.addr)} has ${oi.mapping.kind} #${oi.mapping.id}, expected the same`,
              )
          }
        }
      }
      if (x.frames) {
        const f = x.frames
        const pfns = new Set<number>()
        for (const p of resolve(f.proc)) {
          const r = range(step, p, 'frames')
          for (let i = 0; i < r.pages; i++) {
            const pm = p.pagemap(r.start + i * PAGE_SIZE)
            if (pm.present) pfns.add(pm.pfn!)
          }
        }
        compare('distinct frames', 'frames.distinct', f.distinct, pfns.size, envFor(undefined))
      }
    }
  }
  timeMs = performance.now() - t0 - checkMs

  const result: LayoutRun = {
    layout: name,
    arch: layout.arch.name,
    rmap: layout.rmap,
    profile: layout.profile,
    ram: layout.ram,
    cpus: layout.cpus,
    seed: layout.seed,
    ok: failure === undefined,
    failure,
    stepsRun,
    steps: w.steps.length,
    assertions,
    timeMs: Math.round(timeMs * 10) / 10,
    processes: m.processes().length,
    meminfo: m.meminfo(),
    stats: m.stats(),
    walks,
  }
  if (hooks.maps) {
    result.maps = m.processes().map((p) => ({ pid: p.pid, name: pname.get(p.pid) ?? '', maps: p.maps() }))
  }
  hooks.onMachine?.(m)
  return result
}

/** Run `fn`; when the step expects `fails`, the error must be that one. */
function expectOutcome<T>(fn: () => T, fails: string | undefined, what: string): T | undefined {
  if (!fails) return fn()
  let r: T
  try {
    r = fn()
  } catch (e) {
    const got =
      e instanceof SyscallError || e instanceof OutOfMemoryError
        ? e.errno
        : e instanceof SignalError
          ? e.signal
          : undefined
    if (got === fails) return undefined
    if (got)
      throw new AssertionFailure(
        `expected ${what} to fail with ${fails}, got ${got}: ${(e as Error).message}`,
      )
    throw e
  }
  const shown = typeof r === 'number' ? ` and returned ${hex(r)}` : ''
  throw new AssertionFailure(`expected ${what} to fail with ${fails}, but it succeeded${shown}`)
}

/** A dotted path into m.stats(). */
export function statAt(st: VmStats, path: string): number {
  let v: unknown = st
  for (const k of path.split('.')) v = (v as Record<string, unknown>)[k]
  return v as number
}

/** The failure of a step, classified, with the VM's error as the cause. */
function toFailure(e: unknown, step: PlanStep, process: string | undefined): Failure {
  const base = { step: step.index + 1, pos: step.pos, label: step.label, process }
  if (e instanceof AssertionFailure)
    return { ...base, kind: 'assertion', message: e.message, cause: undefined }
  if (e instanceof InvariantError)
    return {
      ...base,
      kind: 'invariant',
      message: e.message,
      cause: { name: e.name, violations: [...e.violations] },
    }
  if (e instanceof KernelBugError)
    return {
      ...base,
      kind: 'invariant',
      message: e.message,
      cause: { name: e.name, invariant: e.invariant, where: e.where },
    }
  if (e instanceof SyscallError)
    return {
      ...base,
      kind: 'error',
      message: `${e.syscall} failed with ${e.errno}: ${e.reason}`,
      cause: { name: e.name, syscall: e.syscall, errno: e.errno, reason: e.reason },
    }
  if (e instanceof SignalError)
    return {
      ...base,
      kind: 'error',
      message: `killed by ${e.signal} at 0x${e.address.toString(16)}: ${e.reason}`,
      cause: { name: e.name, signal: e.signal, address: e.address, pid: e.pid, reason: e.reason },
    }
  if (e instanceof RmapError || e instanceof WorkloadError || e instanceof RangeError) {
    const err = e as Error
    return { ...base, kind: 'error', message: err.message, cause: { name: err.name } }
  }
  throw e
}
