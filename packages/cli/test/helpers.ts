import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'

/** The package directory. */
export const PKG = fileURLToPath(new URL('..', import.meta.url))
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))

export interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Run the real `rmaplab` command (from source, as `pnpm rmaplab` does) and collect its output; `env` adds variables. */
export function rmaplab(
  args: readonly string[],
  cwd = PKG,
  env: Record<string, string> = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@rmaplab/source', '--import', 'tsx', MAIN, ...args],
      {
        cwd,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const dir = mkdtempSync(join(tmpdir(), 'rmaplab-test-'))
// The workloads written here go when the test file that wrote them is done.
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

/** Write a workload to a fresh temporary file; returns its path. */
export function workloadFile(text: string, ext = 'yaml'): string {
  const file = join(dir, `w${n++}.${ext}`)
  writeFileSync(file, text)
  return file
}

/** The same command line in this process (no spawn): for the many cases where only the output matters. */
export async function inProcess(args: readonly string[]): Promise<Result> {
  const { main } = await import('../src/cli.js')
  const out: string[] = []
  const err: string[] = []
  const code = await main(args, {
    out: (s) => out.push(`${s}\n`),
    err: (s) => err.push(`${s}\n`),
    isTTY: false,
  })
  return { code, stdout: out.join(''), stderr: err.join('') }
}
