// The conformance suite on ppc, under each rmap design (the rmap axis).
import { describeArchConformance } from '@rmaplab/conformance'
import { RMAP_STRATEGIES } from '@rmaplab/rmap'
import { ppc } from '../src/index.js'

for (const rmap of RMAP_STRATEGIES) describeArchConformance(ppc, { rmap })
