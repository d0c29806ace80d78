#!/usr/bin/env node
// `pnpm explore`: the explorer's dev server on 127.0.0.1 (PORT, default 5173,
// or the next free one), with the URL to open printed on its own line.
import { fileURLToPath } from 'node:url'
import { createServer } from 'vite'

const root = fileURLToPath(new URL('..', import.meta.url))
const port = Number(process.env.PORT ?? 5173)
const server = await createServer({ root, server: { host: '127.0.0.1', port, strictPort: false } })
await server.listen()
const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${port}/`
console.log(`\n  rmaplab explorer: ${url}\n  (Ctrl-C to stop)\n`)
