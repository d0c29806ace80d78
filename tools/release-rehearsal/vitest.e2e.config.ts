import { defineConfig } from 'vitest/config'

// The kill test: starts the real rehearsal (which may install verdaccio into its
// cache from the npm registry on first use), so it is not part of `pnpm test`.
export default defineConfig({
  test: {
    name: 'release-rehearsal-e2e',
    environment: 'node',
    include: ['e2e/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    // One rehearsal at a time: they share the machine's two cores.
    fileParallelism: false,
  },
})
