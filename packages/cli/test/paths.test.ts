/**
 * Where the command reads and writes: relative paths from where the user stands
 * (`pnpm rmaplab` runs in the repository root), output directories checked
 * before anything runs, the report kept when an output fails, and a `show`
 * copy whose `$schema` works wherever it is saved.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { inProcess, type Result, rmaplab } from './helpers.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const tmp = mkdtempSync(join(tmpdir(), 'rmaplab-paths-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** `pnpm <script> …` as pnpm runs it: in the repository root, INIT_CWD the user's directory. */
function viaPnpm(script: string, initCwd: string, args: readonly string[]): Promise<Result> {
  return rmaplab(args, ROOT, { npm_lifecycle_event: script, INIT_CWD: initCwd })
}

describe('pnpm rmaplab resolves paths from where the user stands', () => {
  it('cd arch && pnpm rmaplab run ../packages/workload/workloads/a1.yaml', async () => {
    const r = await viaPnpm('rmaplab', join(ROOT, 'arch'), [
      'run',
      '../packages/workload/workloads/a1.yaml',
      '--arch',
      'i386',
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('A1 basic COW after fork')
  })

  it('only the repository scripts move: inside another npm script, paths stay relative to the working directory', async () => {
    const r = await viaPnpm('build', join(ROOT, 'arch'), ['run', '../packages/workload/workloads/a1.yaml'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('../packages/workload/workloads/a1.yaml: no such file')
  })

  it('--chart mycharts writes under the user directory, not the repository root', async () => {
    const here = mkdtempSync(join(tmp, 'cwd-'))
    const r = await viaPnpm('rmaplab', here, [
      'compare',
      'rik',
      '-p',
      'children=2',
      '-p',
      'pages=2',
      '-p',
      'walks=1',
      '--arch',
      'i386',
      '--chart',
      'mycharts',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('chart: mycharts/rik-pagetables.svg')
    expect(existsSync(join(here, 'mycharts', 'rik-pagetables.svg'))).toBe(true)
    expect(existsSync(join(ROOT, 'mycharts'))).toBe(false)
  })
})

describe('--chart: the output directory is checked before anything runs', () => {
  const small = ['-p', 'children=2', '-p', 'pages=2', '-p', 'walks=1', '--arch', 'i386']

  it('--chart /etc/passwd/sub: exit 2, names the file in the way, nothing runs', async () => {
    const r = await inProcess(['compare', 'rik', ...small, '--chart', '/etc/passwd/sub'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('--chart /etc/passwd/sub: /etc/passwd is a file, not a directory')
    expect(r.stdout).toBe('')
  })

  it.runIf(existsSync('/proc/self'))('--chart /proc/nope: exit 2 at once (no retry loop)', async () => {
    const r = await inProcess(['compare', 'rik', ...small, '--chart', '/proc/nope'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^--chart \/proc\/nope: cannot create \/proc\/nope \(E[A-Z]+\)$/)
    expect(r.stdout).toBe('')
  })

  it('a file deeper in the path, and missing parents made one level at a time', async () => {
    const file = join(tmp, 'plain')
    writeFileSync(file, 'x')
    const r = await inProcess(['compare', 'rik', ...small, '--chart', join(file, 'a', 'b')])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${file} is a file, not a directory`)
    const deep = join(tmp, 'x', 'y', 'z')
    const ok = await inProcess(['compare', 'rik', ...small, '--chart', deep])
    expect(ok.code, ok.stderr).toBe(0)
    expect(existsSync(join(deep, 'rik-rmap-bytes.svg'))).toBe(true)
  })

  it('a chart that cannot be written after the run: the report is still printed, then the error, exit 2', async () => {
    const dir = join(tmp, 'clash')
    // A directory where the first chart file goes: the directory passes the check, the write fails.
    mkdirSync(join(dir, 'rik-pagetables.svg'), { recursive: true })
    const r = await inProcess(['compare', 'rik', ...small, '--chart', dir])
    expect(r.code).toBe(2)
    expect(r.stdout).toContain('rmap bytes')
    expect(r.stderr).toMatch(/^--chart: EISDIR/)
    const json = await inProcess(['compare', 'rik', ...small, '--chart', dir, '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout).runs[0].arch).toBe('i386')
  })
})

describe('rmaplab show > file.yaml', () => {
  it('points $schema at the published schema (its $id), for a demo and a generated workload alike', async () => {
    const id = (JSON.parse((await inProcess(['schema'])).stdout) as { $id: string }).$id
    expect(id).toMatch(/^https:\/\//)
    for (const name of ['a1', 'andrea']) {
      const r = await inProcess(['show', name])
      expect(r.code).toBe(0)
      const lines = r.stdout.split('\n').filter((l) => l.includes('$schema='))
      expect(lines, name).toEqual([`# yaml-language-server: $schema=${id}`])
    }
  })
})
