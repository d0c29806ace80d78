// The "Use it" example of README.md, run as written.
import { PageTableEnv, pteAllocMap, pteUnmap, pteVal } from '@rmaplab/rmap'
import { expect, it } from 'vitest'
import { toy32 } from '../src/index.js'

it('README: encode, allocate a pte page, set and read a pte', () => {
  expect(toy32.mkPte(0x1234n, toy32.prot.PAGE_KERNEL)).toBe(0x48d0e7n)
  const env = new PageTableEnv({ arch: toy32 })
  const mm = env.mmCreate()
  const ptr = pteAllocMap(env, mm, 0x401000)
  env.mmu.setPte(ptr, toy32.fast.mkPteLo(2, 0x53), 0)
  expect(pteVal(env, ptr)).toBe(0x853n)
  pteUnmap(env, ptr)
  expect(() => pteAllocMap(env, mm, 0x80000000)).toThrow(/below TASK_SIZE \(0x80000000\)/)
})
