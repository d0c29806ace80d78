import { defineProject, mergeConfig } from 'vitest/config'
import { shared } from '../../vitest.shared.js'

// Unit tests only (no network, no registry). The kill test is in e2e/, run by
// `pnpm --filter @rmaplab/release-rehearsal test:kill` (vitest.e2e.config.ts).
export default mergeConfig(shared, defineProject({ test: { name: 'release-rehearsal' } }))
