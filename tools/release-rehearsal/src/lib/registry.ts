import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { cp, rename, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanEnv, onGroupChange, run, stopGroup, waitForExit } from './proc.js'

/** The pinned verdaccio install: package.json (with the node-fetch override) and its lockfile. */
const PINNED = fileURLToPath(new URL('../../verdaccio/', import.meta.url))
const CHILD = fileURLToPath(new URL('../registry-child.js', import.meta.url))

export interface VerdaccioInstall {
  /** verdaccio's bin script. */
  bin: string
  /** true when it came from the cache. */
  cached: boolean
  dir: string
}

/**
 * Where verdaccio is cached: $RMAPLAB_VERDACCIO_CACHE, else the XDG cache
 * directory (~/.cache/rmaplab-verdaccio). Outside the repository, so it
 * survives `git clean` and is shared by every clone on the machine.
 */
export function verdaccioCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['RMAPLAB_VERDACCIO_CACHE']
  if (explicit) return explicit
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'rmaplab-verdaccio')
}

/**
 * Installs verdaccio once per lockfile into the cache, with `npm ci` from the
 * pinned package.json + package-lock.json (the lockfile has no `resolved` URLs,
 * so it installs from whatever npm registry the machine is configured for).
 * The install goes to a staging folder renamed into place at the end, so an
 * interrupted install never leaves a half-filled cache entry behind.
 */
export async function ensureVerdaccio(track: (path: string) => void): Promise<VerdaccioInstall> {
  const manifest = readFileSync(join(PINNED, 'package.json'))
  const lock = readFileSync(join(PINNED, 'package-lock.json'))
  const hash = createHash('sha256').update(manifest).update(lock).digest('hex').slice(0, 16)
  const root = verdaccioCacheRoot()
  const dir = join(root, `verdaccio-5.33.0-${hash}`)
  const bin = join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
  if (existsSync(bin)) return { bin, cached: true, dir }

  mkdirSync(root, { recursive: true })
  removeStaleStaging(root)
  const staging = join(root, `.staging-${process.pid}-${Date.now()}`)
  track(staging)
  mkdirSync(staging)
  await cp(join(PINNED, 'package.json'), join(staging, 'package.json'))
  await cp(join(PINNED, 'package-lock.json'), join(staging, 'package-lock.json'))
  // --ignore-scripts: the only install script in the tree is core-js's banner.
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: staging,
    env: cleanEnv(),
    timeoutMs: 600_000,
  })
  try {
    await rename(staging, dir)
  } catch (err) {
    // Another rehearsal filled the cache first: use its copy.
    if (!existsSync(bin)) throw err
    await rm(staging, { recursive: true, force: true })
  }
  return { bin, cached: false, dir }
}

/** Staging folders of installs killed with SIGKILL (no cleanup could run), older than an hour. */
function removeStaleStaging(root: string): void {
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.staging-')) continue
    const path = join(root, name)
    try {
      if (Date.now() - statSync(path).mtimeMs > 3_600_000) void rm(path, { recursive: true, force: true })
    } catch {
      // Raced with its owner.
    }
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a small window before verdaccio takes it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))))
    })
  })
}

export interface Registry {
  url: string
  /** verdaccio's storage folder: one folder per package it holds. */
  storage: string
  port: number
  pid: number
  token: string
  logFile: string
  logTail(lines?: number): string
  stop(): Promise<void>
}

export interface StartOptions {
  bin: string
  /** Its own folder (storage, config, htpasswd, log). */
  dir: string
  /** The rehearsal's temporary root: the registry process removes it if the rehearsal dies. */
  rehearsalRoot: string
  /** Where packages other than @rmaplab/* come from: the machine's npm registry. */
  upstream: string
  /** Called with the child as soon as it is spawned, so cleanup can stop it even mid-start. */
  onSpawn: (child: ChildProcess) => void
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly logTail: string,
  ) {
    super(message)
    this.name = 'RegistryError'
  }
}

/** verdaccio logs JSON lines; show them as `time level message`, one line each. */
function readTail(file: string, lines: number): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return '(no registry log)'
  }
  const levels: Record<number, string> = {
    10: 'trace',
    20: 'debug',
    25: 'http',
    30: 'info',
    40: 'warn',
    50: 'error',
    60: 'fatal',
  }
  const compact: string[] = []
  for (const line of text.trimEnd().split('\n')) {
    try {
      const entry = JSON.parse(line) as { time?: number; level?: number; msg?: string }
      // One http line per request says it all; skip the info chatter around it.
      if (entry.level === 30) continue
      const time = entry.time ? new Date(entry.time).toISOString().slice(11, 23) : ''
      compact.push(`${time} ${levels[entry.level ?? 0] ?? entry.level} ${entry.msg ?? line}`)
    } catch {
      compact.push(line)
    }
  }
  return compact.slice(-lines).join('\n')
}

/**
 * Starts verdaccio on 127.0.0.1 and a free port with storage under `dir`;
 * `@rmaplab/*` is local only (never proxied, so nothing real can shadow the
 * rehearsal's packages) and publishable by an authenticated user, everything
 * else is proxied to `upstream`. Creates the user and returns its token.
 */
export async function startRegistry(opts: StartOptions): Promise<Registry> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  mkdirSync(join(opts.dir, 'storage'), { recursive: true })
  const configFile = join(opts.dir, 'config.yaml')
  const logFile = join(opts.dir, 'registry.log')
  // JSON is YAML: no quoting questions for paths and package patterns.
  const config = {
    storage: join(opts.dir, 'storage'),
    plugins: join(opts.dir, 'plugins'),
    listen: [`127.0.0.1:${port}`],
    auth: { htpasswd: { file: join(opts.dir, 'htpasswd'), max_users: 10, algorithm: 'bcrypt', rounds: 4 } },
    uplinks: { upstream: { url: opts.upstream, timeout: '60s' } },
    packages: {
      '@rmaplab/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
      '**': { access: '$all', publish: '$authenticated', proxy: 'upstream' },
    },
    web: { enable: false },
    log: { type: 'stdout', format: 'json', level: 'http' }, // compacted by readTail
  }
  await writeFile(configFile, JSON.stringify(config, null, 2))

  const logFd = openSync(logFile, 'a')
  const child = spawn(process.execPath, [CHILD], {
    cwd: opts.dir,
    env: cleanEnv({
      RMAPLAB_VERDACCIO_BIN: opts.bin,
      RMAPLAB_VERDACCIO_CONFIG: configFile,
      RMAPLAB_REHEARSAL_ROOT: opts.rehearsalRoot,
    }),
    // stdin is a pipe we never write to: the child watches it to notice our death.
    stdio: ['pipe', logFd, logFd],
    detached: true,
  })
  closeSync(logFd)
  opts.onSpawn(child)
  // Tell it which commands are running, so it can stop them if we die without cleaning up.
  child.stdin?.on('error', () => {})
  onGroupChange((event, pgid) => {
    if (child.stdin?.writable) child.stdin.write(`${event} ${pgid}\n`)
  })
  const pid = child.pid
  if (pid === undefined) throw new RegistryError('could not start verdaccio', readTail(logFile, 30))

  let exited: string | undefined
  child.once('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`
  })
  const deadline = Date.now() + 30_000
  for (;;) {
    if (exited) throw new RegistryError(`verdaccio ${exited} before it answered`, readTail(logFile, 30))
    if (Date.now() > deadline)
      throw new RegistryError(`verdaccio did not answer ${url}-/ping in 30 s`, readTail(logFile, 30))
    try {
      const res = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(2_000) })
      if (res.ok) break
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100))
  }

  // npm adduser, without npm: verdaccio's htpasswd plugin creates the user and returns a token.
  const res = await fetch(`${url}-/user/org.couchdb.user:rehearsal`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'rehearsal', password: `rehearsal-${process.pid}-${port}` }),
  })
  const body = (await res.json().catch(() => ({}))) as { token?: string }
  if (!res.ok || !body.token) {
    throw new RegistryError(`creating the registry user failed: HTTP ${res.status}`, readTail(logFile, 30))
  }

  return {
    url,
    storage: join(opts.dir, 'storage'),
    port,
    pid,
    token: body.token,
    logFile,
    logTail: (lines = 30) => readTail(logFile, lines),
    async stop() {
      await stopGroup(child, 5_000)
      if (!(await waitForExit(child, 0))) throw new Error(`verdaccio (pid ${pid}) did not stop`)
    },
  }
}
