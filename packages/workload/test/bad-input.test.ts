/**
 * Whatever the input, validation answers with a BadInputError or a workload:
 * never another error (the cli would exit 3 with a stack trace).
 */
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BadInputError,
  objectSource,
  parseText,
  parseWorkload,
  runToEnd,
  STEP_KINDS,
  validateWorkload,
} from '../src/index.js'

const onlyBadInput = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    if (!(e instanceof BadInputError)) throw e
  }
}

describe('bad input is only ever a BadInputError', () => {
  it('any value as a workload', () => {
    fc.assert(
      fc.property(fc.anything(), (data) =>
        onlyBadInput(() => validateWorkload(data, objectSource('x'), 'x')),
      ),
      { numRuns: 300 },
    )
  })

  it('steps of every kind with arbitrary arguments', () => {
    const arg = fc.oneof(
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      fc.constantFrom('p', 'a', 'q', '4p', '-1', '0x123456789', '64 M', 'a + 1p', 'kids[9]', 'rw', 'i', '1G'),
      fc.boolean(),
      fc.constant(null),
    )
    const step = fc
      .tuple(
        fc.constantFrom(...STEP_KINDS),
        fc.dictionary(
          fc.constantFrom(
            'as',
            'proc',
            'region',
            'page',
            'pages',
            'length',
            'value',
            'size',
            'prot',
            'addr',
            'stride',
          ),
          arg,
        ),
      )
      .map(([k, args]) => ({ [k]: args }))
    const workload = fc.record({
      machine: fc.record(
        {
          arch: fc.constantFrom('i386', 'ppc', 'all'),
          ram: fc.oneof(
            fc.integer({ min: 0, max: 2 ** 36 }),
            fc.constantFrom('64M', '64MB', '4 M', '1', '16p'),
          ),
          swap: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom('16M', '16', '100G', 'x')),
        },
        { requiredKeys: [] },
      ),
      steps: fc.array(fc.oneof(step, fc.constant({ spawn: { as: 'p' } })), { minLength: 1, maxLength: 8 }),
    })
    fc.assert(
      fc.property(workload, (data) => onlyBadInput(() => validateWorkload(data, objectSource('x'), 'x'))),
      { numRuns: 400 },
    )
  })

  it('any text as YAML or JSON', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom('w.yaml', 'w.json'), (text, file) =>
        onlyBadInput(() => parseWorkload(text, file)),
      ),
      { numRuns: 500 },
    )
  })

  it('a content word wider than 32 bits is refused at its position; 0xffffffff and -1 are words', () => {
    const w = (v: string) =>
      `steps:\n  - spawn: { as: p }\n  - mmap: { proc: p, as: a, length: 1p, prot: rw }\n  - write: { proc: p, region: a, value: ${v} }\n`
    expect(() => parseWorkload(w('0x123456789'))).toThrow(
      "workload.yaml:4:41: steps[2].write.value: 0x123456789 does not fit a page's content word",
    )
    expect(() => parseWorkload(w('0x100000000'))).toThrow(BadInputError)
    expect(() => parseWorkload(w('-2147483649'))).toThrow(BadInputError)
    expect(parseWorkload(w('0xffffffff')).steps).toHaveLength(3)
    expect(parseWorkload(w('-1')).steps).toHaveLength(3)
  })

  it('parseText locates alias bombs and deep nesting without reading them', () => {
    expect(() => parseText(`a: ${'['.repeat(65)}${']'.repeat(65)}`, 'd.yaml')).toThrow(
      'd.yaml:1:68: nested more than 64 levels deep',
    )
    expect(() => parseText(`a: ${'['.repeat(64)}${']'.repeat(64)}`, 'd.yaml')).not.toThrow()
  })
})

describe('host-agnostic', () => {
  it('no Node API in src/: no node: imports, no process, Buffer, require, __dirname', () => {
    const dir = new URL('../src/', import.meta.url)
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
    expect(files.length).toBeGreaterThan(10)
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8')
      expect(text, f).not.toMatch(
        /from 'node:|\bprocess\.(env|argv|exit|cwd|std\w+|platform)\b|\bBuffer\b|\brequire\(|__dirname|import\.meta\.url/,
      )
    }
  })
})

describe('a validated workload never throws when it runs: its failures are in the report', () => {
  it('random operations on a region, valid or not for the kernel', () => {
    const num = fc.oneof(
      fc.integer({ min: -3, max: 12 }),
      fc.constantFrom('a.pages', 'a.pages + 1', '-1p', '1p', 'pid * 3'),
    )
    const region = fc.record(
      { region: fc.constant('a'), page: num, pages: num },
      { requiredKeys: ['region'] },
    )
    const addr = fc.record({
      addr: fc.constantFrom('a', 'a + 1', 'a.end', '0', 'TASK_SIZE - 1p'),
      pages: num,
    })
    const range = fc.oneof(region, addr)
    const op = fc.oneof(
      range.map((r) => ({ write: { proc: 'p', ...r, value: 'i + pid' } })),
      range.map((r) => ({ read: { proc: 'p', ...r } })),
      range.map((r) => ({ munmap: { proc: 'p', ...r } })),
      range.map((r) => ({ mprotect: { proc: 'p', ...r, prot: 'r' } })),
      range.map((r) => ({ mlock: { proc: 'p', ...r } })),
      range.map((r) => ({ madvise: { proc: 'p', ...r, advice: 'dontneed' } })),
      range.map((r) => ({ mremap: { proc: 'p', ...r, new_length: '3p' } })),
      range.map((r) => ({ try_to_unmap: { proc: 'p', ...r } })),
      range.map((r) => ({ page_referenced: { proc: 'p', ...r, stride: 2 } })),
      range.map((r) => ({ pageout: { proc: 'p', ...r } })),
      fc.constant({ reclaim: { pages: 4 } }),
      fc.constant({ check: null }),
    )
    const workload = fc.record({
      machine: fc.record({
        arch: fc.constantFrom('i386', 'ppc', 'ppc64', 'i386-pae'),
        ram: fc.constant('8M'),
        swap: fc.constantFrom(0, '1M'),
      }),
      steps: fc
        .tuple(fc.constantFrom('4p', '1', '0', '1M', 'TASK_SIZE'), fc.array(op, { maxLength: 10 }))
        .map(([length, ops]) => [
          { spawn: { as: 'p' } },
          { mmap: { proc: 'p', as: 'a', length, prot: 'rw' } },
          ...ops,
        ]),
    })
    fc.assert(
      fc.property(workload, (data) => {
        let w: ReturnType<typeof validateWorkload>
        try {
          w = validateWorkload(data, objectSource('x'), 'x')
        } catch (e) {
          if (e instanceof BadInputError) return
          throw e
        }
        const r = runToEnd(w)
        expect(r.stepsRun + (r.failure ? 1 : 0)).toBeLessThanOrEqual(w.steps.length)
      }),
      { numRuns: 100 },
    )
  })
})
