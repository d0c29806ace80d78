/**
 * The `rmaplab` executable: runs the command line and exits with its code.
 */
import { setFlagsFromString } from 'node:v8'
import { main } from './cli.js'

// The model's hot paths (a user access, its fault, the pte and rmap helpers
// under it) are a deep chain of small functions. V8's default budget for
// inlining into one optimized function (920 bytes of bytecode) runs out
// inside the fault path, leaving calls in the middle of it; 2000 lets the
// chain inline. The figures do not change, only the time: Martin Bligh's
// full-size database (`compare bligh -p tasks=1000 -p sga=2G --arch i386-pae
// --rmap objrmap`) takes 89 s instead of 108 s. Set before any hot code is
// optimized; the flag is the process's, so the worker threads of --jobs get
// it too. A library user can pass the same flag to node.
setFlagsFromString('--max-inlined-bytecode-size-cumulative=2000')

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
