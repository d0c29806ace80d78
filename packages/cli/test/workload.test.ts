import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { schemaText } from '../scripts/write-schema.js'
import { BadInputError } from '../src/errors.js'
import { experiments } from '../src/experiments/index.js'
import { compileExpr, type ExprEnv, ExprError } from '../src/workload/expr.js'
import { parseText } from '../src/workload/source.js'
import { validateWorkload } from '../src/workload/validate.js'

/** Validate YAML text; the problems, or [] when it is valid. */
function problems(text: string, file = 'w.yaml'): string[] {
  try {
    const { data, source } = parseText(text, file)
    validateWorkload(data, source, 'w')
    return []
  } catch (e) {
    if (e instanceof BadInputError) return [...e.problems]
    throw e
  }
}

const env: ExprEnv = {
  region: (n) => {
    if (n === 'a') return { start: 0x40000000, length: 16 * 4096 }
    throw new Error(`no ${n}`)
  },
  i: 3,
  pid: 7,
  consts: {
    PAGE_SIZE: 4096,
    PTE_SPAN: 4 << 20,
    PGDIR_SPAN: 4 << 20,
    TASK_SIZE: 0xc0000000,
    TASK_UNMAPPED_BASE: 0x40000000,
  },
}

describe('expressions', () => {
  it.each([
    ['4096', 4096],
    ['0x1000', 4096],
    ['1_024', 1024],
    ['16p', 16 * 4096],
    ['3 pages', 3 * 4096],
    ['64K', 65536],
    ['2M + 4K', 2 * 1024 ** 2 + 4096],
    ['1G', 1024 ** 3],
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['-4 + 10', 6],
    ['7 / 2', 3],
    ['7 % 4', 3],
  ])('%s = %d', (text, value) => {
    const c = compileExpr(text)
    expect(c.constant).toBe(value)
    expect(c.eval(env)).toBe(value)
  })

  it('regions, their fields, variables, constants and functions', () => {
    expect(compileExpr('a + 3p').eval(env)).toBe(0x40003000)
    expect(compileExpr('a.end').eval(env)).toBe(0x40010000)
    expect(compileExpr('a.length').eval(env)).toBe(65536)
    expect(compileExpr('a.pages').eval(env)).toBe(16)
    expect(compileExpr('0x100 + i').eval(env)).toBe(0x103)
    expect(compileExpr('pid').eval(env)).toBe(7)
    expect(compileExpr('align(TASK_UNMAPPED_BASE + 1, PTE_SPAN)').eval(env)).toBe(0x40400000)
    expect(compileExpr('max(1, a.pages, 3)').eval(env)).toBe(16)
    const c = compileExpr('a + i')
    expect(c.regions).toEqual([{ name: 'a', offset: 0 }])
    expect([...c.vars]).toEqual(['i'])
    expect(c.constant).toBeUndefined()
  })

  it.each([
    ['a +', 3, /expected a number, a name or '\(' but found the end/],
    ['3q', 1, /unknown unit 'q'/],
    ['a.size', 2, /expected a region field after 'a.': start, end, length, pages/],
    ['nope(1)', 0, /unknown function 'nope'/],
    ['align(1)', 0, /align\(\) takes 2 argument/],
    ['(1 + 2', 6, /expected '\)'/],
    ['1 # 2', 2, /unexpected '#'/],
    ['pages', 0, /'pages' is a unit, not a value/],
  ])('%s is refused at offset %d', (text, offset, msg) => {
    let err: unknown
    try {
      compileExpr(text)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ExprError)
    expect((err as ExprError).offset).toBe(offset)
    expect((err as ExprError).message).toMatch(msg)
  })
})

describe('workload validation', () => {
  it('accepts a well-formed workload and compiles its steps', () => {
    const { data, source } = parseText(
      `name: demo
machine: { arch: i386, ram: 32M }
steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 4p, prot: rw }
  - write: { proc: p, region: a, value: i }
  - fork: { proc: p, children: 3, as: kids }
  - read: { proc: kids, region: a, page: 1, pages: 2, expect: i + 1 }
  - assert: { page: { proc: 'kids[0]', region: a, mapcount: 4 } }
`,
      'demo.yaml',
    )
    const w = validateWorkload(data, source, 'fallback')
    expect(w.name).toBe('demo')
    expect(w.machine).toEqual({ arch: 'i386', ram: '32M' })
    expect(w.steps.map((s) => s.kind)).toEqual(['spawn', 'mmap', 'write', 'fork', 'read', 'assert'])
    expect(w.steps[1]!.pos).toEqual({ line: 5, col: 5 })
    expect(w.steps[1]!.label).toBe('mmap p 4p rw → a')
    expect(w.steps[4]!.exprs.get('expect')!.text).toBe('i + 1')
  })

  it('accepts JSON, with positions', () => {
    const text =
      '{\n  "steps": [\n    { "spawn": { "as": "p" } },\n    { "mmap": { "proc": "p", "length": 4096, "prot": "rwz" } }\n  ]\n}\n'
    expect(problems(text, 'w.json')).toEqual([
      'w.json:4:54: steps[1].mmap.prot: expected one of none, r, w, x, rw, rx, wx, rwx, got "rwz"',
    ])
  })

  it('a wrong value: file, line, column, where, and what was expected', () => {
    expect(
      problems(`steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 4p, prot: rwz }
`),
    ).toEqual(['w.yaml:3:47: steps[1].mmap.prot: expected one of none, r, w, x, rw, rx, wx, rwx, got "rwz"'])
  })

  it('an unknown key points at the key and suggests the right one', () => {
    expect(
      problems(`steps:
  - spawn: { as: p }
  - mmap: { proc: p, lenght: 4p, prot: rw }
`),
    ).toEqual([
      "w.yaml:3:11: steps[1].mmap.length: missing: expected an integer or an expression such as 'a + 3p', '64M' or '0x1000'",
      "w.yaml:3:22: steps[1].mmap.lenght: unknown key 'lenght' (did you mean 'length'?); valid keys: note, proc, as, length, prot, shared, fd, offset, addr, fixed, fails",
    ])
  })

  it('an unknown step kind lists the kinds', () => {
    const [p] = problems(`steps:
  - spawn: { as: p }
  - mmpa: { proc: p }
`)
    expect(p).toMatch(
      /^w\.yaml:3:5: steps\[1\]\.mmpa: unknown step kind 'mmpa' \(did you mean 'mmap'\?\); step kinds: spawn, fork, exec, exit, mmap/,
    )
  })

  it('two kinds in one step, a step that is not a map, a missing steps list', () => {
    expect(problems('steps:\n  - spawn: { as: p }\n    exit: { proc: p }\n')).toEqual([
      'w.yaml:3:5: steps[0].exit: a step has one kind, this one has spawn and exit: make them separate steps',
    ])
    expect(problems('steps:\n  - spawn\n')[0]).toMatch(
      /^w\.yaml:2:5: steps\[0\]: expected a step: a map with one key naming the step kind/,
    )
    expect(problems('name: x\n')).toEqual(['w.yaml:1:1: steps: missing: expected a list'])
    expect(problems('- 1\n')).toEqual([
      "w.yaml:1:1: expected a map with 'steps' (and optionally name, description, machine), got a list",
    ])
  })

  it('machine fields are checked, unions report the branch that fits', () => {
    expect(problems('machine: { arch: sparc, cpus: 0 }\nsteps: [ { spawn: { as: p } } ]\n')).toEqual([
      'w.yaml:1:18: machine.arch: expected one of i386, i386-pae, ppc, ppc64, all, got "sparc"',
      'w.yaml:1:31: machine.cpus: expected at least 1, got 0',
    ])
    expect(problems('machine: { ram: lots }\nsteps: [ { spawn: { as: p } } ]\n')).toEqual([
      'w.yaml:1:17: machine.ram: expected a size: a byte count, or a number with K, M or G such as \'64M\', got "lots"',
    ])
  })

  it('names must be defined by an earlier step', () => {
    expect(
      problems(`steps:
  - mmap: { proc: p, as: a, length: 4p, prot: rw }
  - spawn: { as: p }
  - write: { proc: p, region: b, value: 1 }
  - read: { proc: p, addr: a + 1p }
  - assert: { meminfo: { PageTables: { since: m0, eq: 4 } } }
  - close: { proc: p, fd: f }
`),
    ).toEqual([
      "w.yaml:2:19: steps[0].mmap.proc: no process or group named 'p' before this step (create one with - spawn: { as: p })",
      "w.yaml:4:31: steps[2].write.region: no region named 'b' is mapped by an earlier step (regions so far: a)",
      "w.yaml:6:47: steps[4].assert.meminfo.PageTables.since: no mark named 'm0' before this step (define it with - mark: { as: m0 })",
      "w.yaml:7:27: steps[5].close.fd: no file descriptor named 'f' before this step (open one with - open: { ..., as: f })",
    ])
  })

  it('an expression error points into the expression', () => {
    expect(
      problems(`steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 4p, prot: rw }
  - read: { proc: p, addr: a + 2q }
  - read: { proc: p, addr: "a + b" }
`),
    ).toEqual([
      "w.yaml:4:33: steps[2].read.addr: unknown unit 'q' after 2; units are K, M, G (binary) and p / page / pages (4096 bytes) in 'a + 2q'",
      "w.yaml:5:33: steps[3].read.addr: no region named 'b' is mapped by an earlier step (regions so far: a)",
    ])
  })

  it('range forms, group-only arguments and misplaced variables', () => {
    expect(
      problems(`steps:
  - spawn: { as: p }
  - fork: { proc: p, children: 2, as: kids }
  - mmap: { proc: p, as: a, length: i, prot: rw }
  - munmap: { proc: p }
  - read: { proc: p, region: a, addr: 0 }
  - page_referenced: { proc: kids, region: a }
`),
    ).toEqual([
      "w.yaml:4:37: steps[2].mmap.length: 'i' can be used only in value, expect and page assertions (it is the page index or the pid)",
      "w.yaml:5:13: steps[3].munmap: missing the range: give 'region' (a mapped region) or 'addr' (an address)",
      "w.yaml:6:33: steps[4].read.addr: give either 'region' or 'addr', not both",
      "w.yaml:7:30: steps[5].page_referenced.proc: 'kids' is a group: this needs one process",
    ])
  })

  it('an unquoted comma inside a flow map gets a hint', () => {
    const [p] = problems(`steps:
  - spawn: { as: p }
  - mmap: { proc: p, as: a, length: 4p, prot: rw, addr: align(a, PTE_SPAN) }
`)
    expect(p).toMatch(/an expression with a comma inside \{ \} must be quoted/)
  })

  it('YAML syntax errors carry their position', () => {
    const [p] = problems('steps:\n  - spawn: { as: p\n')
    expect(p).toMatch(/^w\.yaml:\d+:\d+: YAML syntax: /)
  })

  it('unknown m.stats() figures are refused with the list', () => {
    const [p] = problems('steps:\n  - assert: { stats: { cow.copy: 1 } }\n')
    expect(p).toMatch(
      /^w\.yaml:2:24: steps\[0\]\.assert\.stats\.cow\.copy: unknown m\.stats\(\) figure 'cow\.copy'; figures: faults\.anonymousZero/,
    )
  })
})

describe('the JSON Schema', () => {
  const file = new URL('../schema/workload.schema.json', import.meta.url)

  it('schema/workload.schema.json is up to date (pnpm --filter @rmaplab/cli run schema)', () => {
    // Compared as data: the file is formatted by biome, the generator's text by JSON.stringify.
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(schemaText()))
  })

  it('accepts every built-in workload and refuses a malformed one', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false })
    const validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')))
    for (const e of experiments()) {
      const { data } = e.load([])
      expect(validate(data), `${e.name}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
    expect(validate({ steps: [{ mmap: { proc: 'p', length: 1, prot: 'rwz' } }] })).toBe(false)
    expect(validate({ steps: [{ spawn: { as: 'p' }, exit: { proc: 'p' } }] })).toBe(false)
  })
})
