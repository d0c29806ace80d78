// The rehearsal's registry process: verdaccio, run in this process, whose life
// is tied to the rehearsal's. The rehearsal stops it by pid (SIGTERM) and then
// removes its temporary folders. If the rehearsal dies without getting to do
// that (SIGKILL, OOM killer), the pipe on our stdin closes: we then stop the
// commands it had running (it writes `start PGID` / `end PGID` lines to that
// pipe for each one), remove its temporary root and exit, so even then no
// registry process and no temporary folder outlive it.
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const bin = process.env.RMAPLAB_VERDACCIO_BIN
const config = process.env.RMAPLAB_VERDACCIO_CONFIG
const root = process.env.RMAPLAB_REHEARSAL_ROOT
if (!bin || !config) {
  console.error('registry-child: RMAPLAB_VERDACCIO_BIN and RMAPLAB_VERDACCIO_CONFIG are required')
  process.exit(2)
}

/** Process groups of the rehearsal's running commands. */
const groups = new Set()
let pending = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  pending += chunk
  const lines = pending.split('\n')
  pending = lines.pop() ?? ''
  for (const line of lines) {
    const [event, id] = line.split(' ')
    const pgid = Number(id)
    if (!(pgid > 1)) continue
    if (event === 'start') groups.add(pgid)
    else if (event === 'end') groups.delete(pgid)
  }
})

let orphaned = false
function onOrphaned() {
  if (orphaned) return
  orphaned = true
  console.error(
    'registry-child: the rehearsal is gone; stopping its commands, removing its temporary folders',
  )
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  try {
    if (root?.includes('rmaplab-rehearsal-')) {
      rmSync(root, { recursive: true, force: true, maxRetries: 5 })
      // A command killed just now may have been writing: once more, after it is surely gone.
      setTimeout(() => {
        rmSync(root, { recursive: true, force: true, maxRetries: 5 })
        process.exit(0)
      }, 500)
      return
    }
  } catch {
    // exit anyway
  }
  process.exit(0)
}
process.stdin.on('end', onOrphaned)
process.stdin.on('error', onOrphaned)

// verdaccio's bin reads its arguments from process.argv.
process.argv = [process.argv[0] ?? process.execPath, bin, '--config', config]
createRequire(import.meta.url)(bin)
