/**
 * The real kernel of this machine: compile native/kernel-bench.c with the C
 * compiler found (BENCH_CC, else cc, else gcc) into a temporary directory, run
 * it with bounded sizes and a timeout, and parse its JSON lines. When there is
 * no compiler, or it fails, or the program does, the answer says why and the
 * bench goes on without the comparison.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NativeOp } from './vm.js'

/** One operation measured on the real kernel. */
export interface NativeResult {
  op: NativeOp
  pages: number
  rounds: number
  /** The median round, nanoseconds (whole operation: all faults, one munmap, one fork). */
  medianNs: number
  /** The fastest and the slowest round, nanoseconds: the probe's own spread. */
  minNs: number
  maxNs: number
}

/** The real-kernel run: results, or why there are none. */
export type Native =
  | { ok: true; kernel: string; compiler: string; results: Map<NativeOp, NativeResult> }
  | { ok: false; reason: string }

const SOURCE = fileURLToPath(new URL('../native/kernel-bench.c', import.meta.url))
const OPS: readonly NativeOp[] = ['anonWriteFault', 'zeroPageReadFault', 'cowFault', 'fork', 'munmap']

function message(e: unknown): string {
  if (e && typeof e === 'object') {
    const stderr = 'stderr' in e ? String(e.stderr ?? '').trim() : ''
    const msg = 'message' in e ? String(e.message).split('\n')[0] : String(e)
    return stderr ? `${msg}: ${stderr.split('\n').slice(0, 3).join(' | ')}` : (msg ?? '')
  }
  return String(e)
}

/** A C compiler that answers `--version`, or null. */
function findCompiler(): string | null {
  const candidates = process.env['BENCH_CC'] ? [process.env['BENCH_CC']] : ['cc', 'gcc']
  for (const cc of candidates) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore', timeout: 10_000 })
      return cc
    } catch {
      // not there, or not working: try the next
    }
  }
  return null
}

/**
 * Measure the real kernel: `faultPages` pages for the fault, COW and munmap
 * tests, `forkPages` for the fork test, `rounds` rounds each.
 */
export function runNative(faultPages: number, forkPages: number, rounds: number): Native {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` }
  if (!existsSync(SOURCE)) return { ok: false, reason: `${SOURCE} is missing` }
  const cc = findCompiler()
  if (!cc) {
    const tried = process.env['BENCH_CC'] ? `BENCH_CC=${process.env['BENCH_CC']}` : 'cc or gcc'
    return { ok: false, reason: `no C compiler (${tried} not found)` }
  }
  const dir = mkdtempSync(join(tmpdir(), 'rmaplab-kernel-bench-'))
  try {
    const exe = join(dir, 'kernel-bench')
    try {
      execFileSync(cc, ['-O2', '-o', exe, SOURCE], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 60_000,
        encoding: 'utf8',
      })
    } catch (e) {
      return { ok: false, reason: `${cc} -O2 failed: ${message(e)}` }
    }
    let out: string
    try {
      out = execFileSync(exe, [String(faultPages), String(forkPages), String(rounds)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
        killSignal: 'SIGKILL',
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      })
    } catch (e) {
      return { ok: false, reason: `kernel-bench failed: ${message(e)}` }
    }
    let kernel = 'unknown kernel'
    const results = new Map<NativeOp, NativeResult>()
    for (const line of out.split('\n')) {
      if (!line.trim()) continue
      let j: Record<string, unknown>
      try {
        j = JSON.parse(line) as Record<string, unknown>
      } catch {
        return { ok: false, reason: `kernel-bench printed a line that is not JSON: ${line.slice(0, 80)}` }
      }
      if (typeof j['kernel'] === 'string') kernel = j['kernel']
      const op = j['op'] as NativeOp
      if (OPS.includes(op)) {
        results.set(op, {
          op,
          pages: Number(j['pages']),
          rounds: Number(j['rounds']),
          medianNs: Number(j['median_ns']),
          minNs: Array.isArray(j['ns']) ? Math.min(...(j['ns'] as number[])) : Number(j['median_ns']),
          maxNs: Array.isArray(j['ns']) ? Math.max(...(j['ns'] as number[])) : Number(j['median_ns']),
        })
      }
    }
    const missing = OPS.filter((op) => !results.has(op))
    if (missing.length) return { ok: false, reason: `kernel-bench reported no ${missing.join(', ')}` }
    return { ok: true, kernel, compiler: cc, results }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The V8 flags this process runs with, for a report's header (the bench's
 * scripts pass the rmaplab command's inlining budget: see packages/cli/src/main.ts).
 */
export function v8Flags(): string {
  const flags = process.execArgv.filter((a) => a.startsWith('--max-inlined'))
  return flags.length > 0 ? ` ${flags.join(' ')}` : ''
}
