/**
 * vitest globalSetup for the explorer: the e2e tests need Debian's Chromium
 * and the built app. Chromium is installed here when it is missing and we are
 * root (a fresh CI machine); otherwise the run fails saying how to install it.
 * dist/ is built when missing (turbo builds it first in `pnpm test`).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CHROMIUM, DIST } from './browser.js'

export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || process.env['CHROMIUM_PATH']) {
    throw new Error(
      `The explorer's e2e tests need Chromium at ${CHROMIUM}. Install it with ` +
        '`sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu), ' +
        'or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    )
  }
  console.log('[explorer e2e] installing chromium (apt-get install -y chromium)...')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env })
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get install chromium did not provide ${CHROMIUM}`)
}

export function ensureDist(): void {
  if (existsSync(`${DIST}index.html`)) return
  console.log('[explorer e2e] dist/ missing: building the explorer (vite build)...')
  execFileSync('pnpm', ['exec', 'vite', 'build'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: 'inherit',
  })
}

export default function setup(): void {
  ensureChromium()
  ensureDist()
}
