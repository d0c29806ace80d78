// The conformance suite on toy32, under each rmap design (the rmap axis): an
// arch package outside rmaplab runs the same grid.
import { describeArchConformance } from '@rmaplab/conformance'
import { RMAP_STRATEGIES } from '@rmaplab/rmap'
import { toy32 } from '../src/index.js'
import { toy32Vectors } from './fixtures.js'

for (const rmap of RMAP_STRATEGIES) describeArchConformance(toy32, { fixtures: toy32Vectors, rmap })
