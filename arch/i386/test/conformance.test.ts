import { describeArchConformance } from '@rmaplab/conformance'
import { i386, i386Pae } from '../src/index.js'

describeArchConformance(i386)
describeArchConformance(i386Pae)
