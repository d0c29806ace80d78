/**
 * The toy 32-bit layout of examples/arch-toy32, for the core's own tests.
 *
 * Imported from its source file, not as a package: the core cannot list an
 * arch package as a dependency (every arch package depends on the core, and
 * the build graph must stay acyclic). The example's `@rmaplab/rmap` import
 * resolves to this package's source through the workspace link, so the tests
 * and the toy layout share one copy of the core.
 */
export { toy32 } from '../../../../examples/arch-toy32/src/index.js'
