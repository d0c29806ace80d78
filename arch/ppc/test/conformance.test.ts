import { describeArchConformance } from '@rmaplab/conformance'
import { ppc } from '../src/index.js'

describeArchConformance(ppc)
