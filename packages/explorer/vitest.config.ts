import { defineProject, mergeConfig } from 'vitest/config'
import { shared } from '../../vitest.shared.js'

// Unit tests of the model module run in node; the e2e tests drive the built
// app (dist/) in headless Chromium — globalSetup builds it when it is missing.
export default mergeConfig(
  shared,
  defineProject({
    test: {
      name: 'explorer',
      testTimeout: 120_000,
      hookTimeout: 180_000,
      globalSetup: ['test/setup.ts'],
      // expect.poll waits for the page to show something. Its default timeout (1 s)
      // is a time budget: on a 2-core CI machine running every package's tests at
      // once a render can miss it. 30 s, as Playwright's own waits (waitFor, click):
      // like them it only catches a page that never gets there.
      expect: { poll: { timeout: 30_000 } },
    },
  }),
)
