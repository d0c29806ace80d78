import { defineProject, mergeConfig } from 'vitest/config'
import { shared } from '../../vitest.shared.js'

// Unit tests of the model module run in node; the e2e tests drive the built
// app (dist/) in headless Chromium — globalSetup builds it when it is missing.
export default mergeConfig(
  shared,
  defineProject({
    test: { name: 'explorer', testTimeout: 120_000, hookTimeout: 180_000, globalSetup: ['test/setup.ts'] },
  }),
)
