/**
 * The shell commands READMEs show, and how a test runs each one: rmaplab
 * commands in-process through the cli's `main` (no spawn, no build), the
 * set-up commands checked against the repository rather than run.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export type Command =
  /** An rmaplab command line, run through `main(args)`. */
  | { kind: 'rmaplab'; args: string[] }
  /** A set-up step the test environment has already done; `check` says why it holds. */
  | { kind: 'setup'; check?: () => string | undefined }
  | { kind: 'unknown'; why: string }

/** Words of a command line: spaces split, quotes group, `# …` ends it. */
export function words(line: string): string[] {
  const out: string[] = []
  let cur: string | undefined
  let quote: string | undefined
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = undefined
      else cur = (cur ?? '') + c
    } else if (c === "'" || c === '"') {
      quote = c
      cur ??= ''
    } else if (c === '#' && cur === undefined) break
    else if (/\s/.test(c)) {
      if (cur !== undefined) out.push(cur)
      cur = undefined
    } else cur = (cur ?? '') + c
  }
  if (cur !== undefined) out.push(cur)
  return out
}

interface RootPackage {
  packageManager: string
  scripts: Record<string, string>
}

/** The arguments a root script passes to the cli's main.ts (`pnpm start` → `compare andrea`). */
function scriptArgs(root: RootPackage, name: string): string[] | undefined {
  const s = root.scripts[name]
  const m = s && /packages\/cli\/src\/main\.ts(.*)$/.exec(s)
  return m ? words(m[1]!) : undefined
}

/** Each `&&`-joined command of a shell line, as the test runs it. */
export function commandsOf(line: string, repoRoot: string): Command[] {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as RootPackage
  return line.split('&&').map((part): Command => {
    const w = words(part)
    const [a, b, ...rest] = w
    if (a === 'rmaplab') return { kind: 'rmaplab', args: w.slice(1) }
    if (a === 'npx' && b === '@rmaplab/cli') return { kind: 'rmaplab', args: rest }
    if (a === 'pnpm' && b !== undefined) {
      const script = scriptArgs(root, b)
      if (script) return { kind: 'rmaplab', args: [...script, ...rest] }
      if (b === 'install' && rest.join(' ') === '--frozen-lockfile') return { kind: 'setup' }
    }
    if (
      a === 'npm' &&
      b === 'install' &&
      rest[0] === '-g' &&
      rest[1]?.startsWith('pnpm@') &&
      rest.length === 2
    ) {
      const want = rest[1].slice('pnpm@'.length)
      const have = root.packageManager.replace(/^pnpm@/, '')
      return {
        kind: 'setup',
        check: () => (want === have ? undefined : `installs pnpm ${want}; package.json says ${have}`),
      }
    }
    return {
      kind: 'unknown',
      why: `'${part.trim()}' is not a command the README check can run (rmaplab, npx @rmaplab/cli, pnpm <cli script>, set-up); mark the block <!-- not-run: reason -->`,
    }
  })
}
