/** The README check itself: each part must catch what it is there to catch. */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { blocksOf, kindOf } from '../src/blocks.js'
import { claimModule, claimOf, splitComment } from '../src/claims.js'
import { commandsOf, words } from '../src/commands.js'
import { compareOutput } from '../src/output.js'
import { matches, recorder } from '../src/runtime.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

describe('blocksOf and kindOf', () => {
  const md = [
    'Intro',
    '',
    '```ts',
    "import { x } from '@rmaplab/rmap'",
    '```',
    '',
    '<!-- not-run: needs a published release -->',
    '',
    '```sh',
    'npm install @rmaplab/rmap',
    '```',
    '<!-- output-of: pnpm start -->',
    '```',
    'andrea',
    '```',
    '1. A step:',
    '',
    '   ```yaml',
    '   steps:',
    '     - spawn: { as: p }',
    '   ```',
    '```',
    'a listing',
    '```',
    '```',
    '$ rmaplab list',
    '```',
  ].join('\n')
  const b = blocksOf(md, 'X.md')

  it('finds each block with its line, language, marker, and the list indentation removed', () => {
    expect(b.map((x) => [x.line, x.lang])).toEqual([
      [3, 'ts'],
      [9, 'sh'],
      [13, ''],
      [18, 'yaml'],
      [22, ''],
      [25, ''],
    ])
    expect(b[1]!.notRun).toBe('needs a published release')
    expect(b[2]!.outputOf).toBe('pnpm start')
    expect(b[3]!.code).toBe('steps:\n  - spawn: { as: p }\n')
  })

  it('knows how to run each, and refuses an unmarked block it cannot run', () => {
    expect(b.map(kindOf).map((k) => (typeof k === 'string' ? k : 'unrunnable'))).toEqual([
      'ts',
      'not-run',
      'output-of',
      'workload',
      'unrunnable',
      'session',
    ])
  })
})

describe('claims', () => {
  it('splits a trailing comment outside quotes', () => {
    expect(splitComment("f('a // b') // 1")).toEqual({ code: "f('a // b')", comment: '1' })
    expect(splitComment('x')).toEqual({ code: 'x' })
  })

  it('reads values, partial literals, errors and printed text; prose is no claim', () => {
    expect(claimOf('0x01', false)).toEqual({ kind: 'value', expected: '0x01' })
    expect(claimOf('→ 0x01', false)).toEqual({ kind: 'value', expected: '0x01' })
    expect(claimOf('42: do_swap_page', false)).toEqual({ kind: 'value', expected: '42' })
    expect(claimOf("{ result: 'freed', ... }", false)).toEqual({
      kind: 'value',
      expected: "{ result: 'freed' }",
    })
    expect(claimOf('throws ArchLimitError: out of range', false)).toEqual({
      kind: 'throws',
      name: 'ArchLimitError',
      message: 'out of range',
    })
    expect(claimOf('throws an InvariantError naming every broken invariant', false)).toBeUndefined()
    expect(claimOf('1n', true)).toEqual({ kind: 'printed', expected: '1n' })
    expect(claimOf('a process with its own mm', false)).toBeUndefined()
  })

  it('a module whose claims hold passes; each wrong claim is reported with its line', async () => {
    const code = [
      'const x = 3n',
      'x * 2n // 6n',
      'x * 2n // 6: a number is not a bigint',
      '({ a: 1, b: { c: 2 }, d: 4 }) // { a: 1, b: { c: 2 }, ... }',
      '({ a: 1 }) // { a: 2 }',
      'console.log(x) // 3n',
      'console.log((255).toString(16)) // ff',
      "JSON.parse('{') // throws SyntaxError",
      'JSON.parse("1") // throws SyntaxError',
      'PAGE_SIZE // 4096',
    ].join('\n')
    const { source, claims } = claimModule(code, new Map([['PAGE_SIZE', '@rmaplab/rmap']]))
    expect(claims).toBe(9)
    expect(source).toContain("import { PAGE_SIZE } from '@rmaplab/rmap'")
    // Run the body the way the test does, without a module loader: the import is the only top-level statement.
    const body = source.slice(source.indexOf('{\n') + 2, source.lastIndexOf('}'))
    const { claim, results } = recorder()
    new Function('claim', 'PAGE_SIZE', body)(claim, 4096)
    expect(results.filter((r) => !r.ok).map((r) => r.line)).toEqual([
      'x * 2n // 6: a number is not a bigint',
      '({ a: 1 }) // { a: 2 }',
      'JSON.parse("1") // throws SyntaxError',
    ])
  })

  it('matches: objects partially, arrays by length, bigint never equals number', () => {
    expect(matches({ a: 1, b: 2 }, { a: 1 })).toBe(true)
    expect(matches([1, 2], [1])).toBe(false)
    expect(matches(1n, 1)).toBe(false)
    expect(matches([{ x: 1, y: 2 }], [{ x: 1 }])).toBe(true)
  })
})

describe('compareOutput', () => {
  const actual = ['title', '', 'rows  │ 1 │ 22', '──────┼───┼───', 'time ms │ 12.5 │ 9', 'trailer'].join('\n')

  it('passes with padding and timings that differ, and gaps', () => {
    expect(compareOutput('title\n\nrows │ 1 │ 22\n───┼──┼──\ntime ms │ 1 │ 2\n…\n', actual)).toBeUndefined()
    expect(compareOutput('…\nrows │ 1 │ …\n…\n', actual)).toBeUndefined()
  })

  it('fails on a changed figure, a missing line, and output the README does not show', () => {
    expect(compareOutput('title\n\nrows │ 1 │ 23\n…\n', actual)).toContain('first missing')
    expect(compareOutput('…\nno such line\n', actual)).toContain('no such line')
    expect(compareOutput('title\n\nrows │ 1 │ 22\n───┼──┼──\ntime ms │ 1 │ 2\n', actual)).toContain('goes on')
  })
})

describe('commandsOf', () => {
  it('runs rmaplab lines in-process, pnpm scripts through their arguments, set-up checked', () => {
    expect(words("rmaplab show a1 -p 'x=1 2' # note")).toEqual(['rmaplab', 'show', 'a1', '-p', 'x=1 2'])
    expect(commandsOf('pnpm start', ROOT)).toEqual([{ kind: 'rmaplab', args: ['compare', 'andrea'] }])
    expect(commandsOf('npx @rmaplab/cli list', ROOT)).toEqual([{ kind: 'rmaplab', args: ['list'] }])
    const [setup, run] = commandsOf('npm install -g pnpm@1.0.0 && pnpm rmaplab list', ROOT)
    expect(setup?.kind === 'setup' && setup.check?.()).toMatch(/installs pnpm 1\.0\.0; package\.json says/)
    expect(run).toEqual({ kind: 'rmaplab', args: ['list'] })
    expect(commandsOf('npm install @rmaplab/rmap', ROOT)[0]?.kind).toBe('unknown')
  })
})
