import { describeArchConformance } from '@rmaplab/conformance'
import { ppc64 } from '../src/index.js'

describeArchConformance(ppc64)
