import { type ChildProcess, spawn } from 'node:child_process'

/** A command that exited non-zero (or could not start, or timed out), with the tail of what it printed. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message)
    this.name = 'CommandError'
  }
}

export interface RunOptions {
  cwd: string
  env: NodeJS.ProcessEnv
  /** Kill the command (and everything it started) after this long. */
  timeoutMs?: number
}

const MAX_OUTPUT = 1 << 20

/**
 * Every command we start runs in its own process group (`detached`), so that
 * stopping it stops what it started too (pnpm → node → vitest workers). The
 * group id is the child's pid.
 */
const live = new Set<ChildProcess>()
let shuttingDown = false

/** Process-group watchers (the registry child keeps a list, to stop them if we are SIGKILLed). */
type GroupListener = (event: 'start' | 'end', pgid: number) => void
const listeners: GroupListener[] = []
export function onGroupChange(listener: GroupListener): void {
  listeners.push(listener)
  for (const child of live) if (child.pid !== undefined) listener('start', child.pid)
}
function announce(event: 'start' | 'end', child: ChildProcess): void {
  if (child.pid === undefined) return
  for (const listener of listeners) listener(event, child.pid)
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // ESRCH: already gone.
  }
}

/** Runs a command to completion; resolves with its stdout and stderr interleaved, rejects with CommandError. */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<string> {
  const shown = [cmd, ...args].join(' ')
  if (shuttingDown) return Promise.reject(new CommandError(`not starting ${shown}: shutting down`, ''))
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    live.add(child)
    announce('start', child)
    let output = ''
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      signalGroup(child, 'SIGKILL')
    }, opts.timeoutMs ?? 300_000)
    child.on('error', (err) => {
      clearTimeout(timer)
      live.delete(child)
      announce('end', child)
      reject(new CommandError(`could not run ${shown}: ${err.message}`, output))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      announce('end', child)
      if (code === 0) resolve(output)
      else if (timedOut)
        reject(new CommandError(`${shown} timed out after ${opts.timeoutMs ?? 300_000} ms`, output))
      else reject(new CommandError(`${shown} exited with ${code ?? signal} (in ${opts.cwd})`, output))
    })
  })
}

/** Waits until a child has exited, or `ms` elapsed; true if it exited. */
export function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Stops a child's process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  signalGroup(child, 'SIGTERM')
  if (await waitForExit(child, graceMs)) return
  signalGroup(child, 'SIGKILL')
  await waitForExit(child, 2_000)
}

/** Stops every command still running (on failure or on a signal), and refuses to start new ones. */
export async function stopAllCommands(): Promise<void> {
  shuttingDown = true
  await Promise.all([...live].map((child) => stopGroup(child, 3_000)))
}

/** Last resort from a `process.on('exit')` handler, which cannot wait. */
export function killAllCommandsNow(): void {
  for (const child of live) signalGroup(child, 'SIGKILL')
}

/** The last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n')
  return all.slice(-lines).join('\n')
}

const RUNNER_VARS = new Set(['INIT_CWD', 'PNPM_SCRIPT_SRC_DIR', 'PNPM_PACKAGE_NAME', 'NODE_OPTIONS'])

/**
 * The environment for the tools we start: ours, less what an enclosing
 * `pnpm run` or `npm run` put there (npm_config_*, npm_package_*, …), which
 * would otherwise leak the repository's settings into the fresh projects.
 * `node_modules/.bin` entries are dropped from PATH for the same reason.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    // A registry set in the environment is the user's choice, not the script runner's: keep it.
    if (key === 'npm_config_registry') {
      env[key] = value
      continue
    }
    if (/^(npm|pnpm)_/.test(key) || RUNNER_VARS.has(key)) continue
    env[key] = value
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(':')
    .filter((dir) => !dir.includes('/node_modules/.bin'))
    .join(':')
  env['npm_config_update_notifier'] = 'false'
  return { ...env, ...extra }
}
