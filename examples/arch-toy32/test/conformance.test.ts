import { describeArchConformance } from '@rmaplab/conformance'
import { toy32 } from '../src/index.js'
import { toy32Vectors } from './fixtures.js'

describeArchConformance(toy32, { fixtures: toy32Vectors })
