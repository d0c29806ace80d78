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

process.exitCode = await main(process.argv.slice(2))
