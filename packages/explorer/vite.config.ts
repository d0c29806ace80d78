import { defineConfig } from 'vite'

// A static site: relative asset paths (`base: './'`) so dist/ works from any
// static file server and any sub-path. The workspace packages are bundled from
// their TypeScript sources (the `@rmaplab/source` export condition), so the
// explorer never waits for their tsc builds in dev.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@rmaplab/source'] },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // The bug demos run in a module worker (src/model/bugs-worker.ts).
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
})
