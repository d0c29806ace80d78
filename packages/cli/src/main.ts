/**
 * The `rmaplab` executable: runs the command line and exits with its code.
 */
import { main } from './cli.js'

// `rmaplab list | head`: a closed pipe ends the output quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}

// `pnpm rmaplab …` and `pnpm start` in the repository run this file from source
// in the repository root (pnpm runs scripts where package.json is); INIT_CWD is
// where the user typed the command, so relative targets and --chart resolve from
// there. The published command (dist/main.js) always uses its own directory:
// inside someone else's npm script INIT_CWD is not where its paths are relative to.
const script = process.env.npm_lifecycle_event
const init = process.env.INIT_CWD
if (import.meta.url.endsWith('.ts') && (script === 'rmaplab' || script === 'start') && init)
  process.chdir(init)

process.exitCode = await main(process.argv.slice(2))
