import { defineConfig } from 'vitest/config'

// One project per workspace package, from a glob, so a new arch/foo can never be
// silently untested. Each package's vitest.config.ts extends vitest.shared.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'arch/*', 'tools/*/vitest.config.ts', 'examples/*'],
    // `pnpm coverage`: the source of the published packages, measured by every test.
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts', 'arch/*/src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
    },
  },
})
