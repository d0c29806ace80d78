import { defineConfig } from 'vitest/config'

/**
 * Settings every vitest project in the workspace shares. Tests run against
 * TypeScript sources through the `@rmaplab/source` export condition, so no build
 * is needed first; the condition must be set for both the client and the SSR
 * resolver, which is the one vitest uses for node tests.
 */
export const shared = defineConfig({
  resolve: { conditions: ['@rmaplab/source'] },
  ssr: { resolve: { conditions: ['@rmaplab/source'] } },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    // Whole-machine checks on four layouts run for seconds on a quiet 2-core box, and for a
    // minute or more when it is shared (load 30–50 seen): the timeout only catches hangs.
    testTimeout: 180_000,
  },
})
