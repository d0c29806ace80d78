import { ArchLimitError, SwapAreaError } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { BadInputError, loadExperiment, parseArchList, parseRmapList, resolveLayouts } from '../src/index.js'
import { optionOf } from '../src/layouts.js'

describe('errors of the Machine constructor, by class', () => {
  it('an option error names its option (the core MachineOptionError shape); swap errors are about swap', () => {
    class MachineOptionError extends RangeError {
      override name = 'MachineOptionError'
      constructor(
        readonly option: string,
        message: string,
      ) {
        super(message)
      }
    }
    expect(optionOf(new MachineOptionError('swap', 'Machine: whatever the text says about ram'))).toBe('swap')
    expect(optionOf(new MachineOptionError('maxMapCount', 'x'))).toBe('max_map_count')
    expect(optionOf(new MachineOptionError('options', 'x'))).toBe('')
    expect(optionOf(new SwapAreaError('MAX_SWAPFILES (32)', 'x'))).toBe('swap')
    expect(optionOf(new ArchLimitError('i386', 'swapon', 'size', 'limit', 1))).toBe('swap')
    // Not an option error: a bug, rethrown by resolveLayouts.
    expect(optionOf(new Error('boom'))).toBeUndefined()
  })

  it('names given twice are refused, not merged', () => {
    expect(() => parseArchList('i386,ppc,i386')).toThrow(BadInputError)
    expect(() => parseRmapList('objrmap,objrmap')).toThrow(
      "--rmap: 'objrmap' is given twice (objrmap,objrmap)",
    )
    expect(parseArchList('all')).toEqual(['i386', 'i386-pae', 'ppc', 'ppc64'])
  })

  it('ram beyond a layout is refused for that layout, with the position of ram', () => {
    const { workload } = loadExperiment('a1')
    const big = { ...workload.machine, ram: '1G' }
    expect(() => resolveLayouts(big, workload.source, { arch: ['ppc'] })).toThrow(
      /machine.ram: ppc: ram must be/,
    )
    expect(resolveLayouts(big, workload.source, { arch: ['ppc64'] })).toHaveLength(1)
  })
})
