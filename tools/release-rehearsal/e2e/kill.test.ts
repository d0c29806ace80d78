import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, test } from 'vitest'

/**
 * Kills the rehearsal mid-way, once its registry is up (it prints a
 * `registry up: URL (pid N, temporary root DIR)` line), and checks that the
 * registry's port is closed, its process gone and the temporary root removed.
 */
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))
const UP = /registry up: http:\/\/127\.0\.0\.1:(\d+)\/ \(pid (\d+), temporary root (\S+)\)/

interface Started {
  child: ChildProcess
  port: number
  registryPid: number
  root: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const started: Started[] = []

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function eventually(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Starts `node --import tsx src/main.ts` and resolves once the registry is up. */
function startRehearsal(): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PACKAGE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that afterEach can stop everything it started.
    detached: true,
  })
  let output = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const m = UP.exec(output)
      if (!m) return
      child.stdout?.off('data', onData)
      const s: Started = {
        child,
        port: Number(m[1]),
        registryPid: Number(m[2]),
        root: m[3] ?? '',
        output: () => output,
        exited,
      }
      started.push(s)
      resolve(s)
    }
    child.stdout?.on('data', onData)
    child.stdout?.on('data', (chunk: Buffer) => {
      if (UP.test(output)) output += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    void exited.then(({ code, signal }) =>
      reject(new Error(`the rehearsal exited (${code ?? signal}) before its registry was up:\n${output}`)),
    )
  })
}

afterEach(() => {
  // Whatever the assertions said: nothing of ours stays behind.
  for (const s of started.splice(0)) {
    if (s.child.pid !== undefined && s.child.exitCode === null && s.child.signalCode === null) {
      try {
        process.kill(-s.child.pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
    if (alive(s.registryPid)) {
      try {
        process.kill(-s.registryPid, 'SIGKILL')
      } catch {
        // gone
      }
    }
    if (s.root.includes('rmaplab-rehearsal-')) rmSync(s.root, { recursive: true, force: true })
  }
})

test('SIGTERM mid-way: the handler stops the registry by its pid and removes the temporary folders', async () => {
  const s = await startRehearsal()
  expect(await portOpen(s.port)).toBe(true)
  expect(existsSync(s.root)).toBe(true)

  s.child.kill('SIGTERM')
  const { code } = await s.exited
  expect(code).toBe(143)
  expect(s.output()).toContain('interrupted by SIGTERM')
  expect(await portOpen(s.port)).toBe(false)
  expect(alive(s.registryPid)).toBe(false)
  expect(existsSync(s.root)).toBe(false)
})

test('SIGKILL mid-way (no handler can run): the registry notices, stops itself and removes the folders', async () => {
  const s = await startRehearsal()
  expect(await portOpen(s.port)).toBe(true)

  s.child.kill('SIGKILL')
  await s.exited
  expect(await eventually(async () => !(await portOpen(s.port)), 10_000)).toBe(true)
  expect(await eventually(() => !alive(s.registryPid), 10_000)).toBe(true)
  expect(await eventually(() => !existsSync(s.root), 10_000)).toBe(true)
  // And it stays gone once the commands the rehearsal had running are stopped.
  await new Promise((r) => setTimeout(r, 1_500))
  expect(existsSync(s.root)).toBe(false)
})
