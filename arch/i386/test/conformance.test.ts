// The conformance suite on both i386 layouts, under each rmap design (the rmap axis).
import { describeArchConformance } from '@rmaplab/conformance'
import { RMAP_STRATEGIES } from '@rmaplab/rmap'
import { i386, i386Pae } from '../src/index.js'

for (const arch of [i386, i386Pae])
  for (const rmap of RMAP_STRATEGIES) describeArchConformance(arch, { rmap })
