/**
 * The cpus: section of the workload format: a race scenario written as a
 * workload, validated with positions like every other part of the format, and
 * explored by @rmaplab/rmap's explorer.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { explore } from '@rmaplab/rmap'
import { describe, expect, it } from 'vitest'
import { BadInputError, layoutFor, parseWorkload, raceScenarioOf } from '../src/index.js'

const file = fileURLToPath(new URL('../races/pg-anon.yaml', import.meta.url))
const text = readFileSync(file, 'utf8')

function problems(yaml: string): readonly string[] {
  try {
    parseWorkload(yaml, 'race.yaml')
  } catch (e) {
    if (e instanceof BadInputError) return e.problems
    throw e
  }
  return []
}

describe('a race scenario in the workload format (cpus:)', () => {
  it('races/pg-anon.yaml: the PG_anon race found with the bug, the fixed code clean to bound 2', () => {
    const w = parseWorkload(text, 'pg-anon.yaml')
    expect(w.cpus?.map((c) => c.name)).toEqual(['b', 'reclaim'])
    const bad = explore(raceScenarioOf(w, layoutFor(w, 'i386'), ['pg-anon-race']), { bound: 2 })
    expect(bad.failure?.violation.message).toMatch(/page_add_rmap of a page without mapping/)
    expect(bad.failure?.preemptions).toBe(1)
    const good = explore(raceScenarioOf(w, layoutFor(w, 'i386')), { bound: 2 })
    expect(good.failure).toBeNull()
    expect(good.boundReached).toBe(2)
  })

  it('races/nonlinear-reclaim.yaml: 2.6.7 nonlinear reclaim clean to bound 3; its nr_mapped double count found', () => {
    const nl = readFileSync(
      fileURLToPath(new URL('../races/nonlinear-reclaim.yaml', import.meta.url)),
      'utf8',
    )
    const w = parseWorkload(nl, 'nonlinear-reclaim.yaml')
    expect(w.cpus?.map((c) => c.name)).toEqual(['reclaim', 'p'])
    for (const layout of ['i386', 'ppc64'] as const) {
      const good = explore(raceScenarioOf(w, layoutFor(w, layout)), { bound: 3 })
      expect(good.failure).toBeNull()
      expect(good.boundReached).toBe(3)
    }
    const bad = explore(raceScenarioOf(w, layoutFor(w, 'i386'), ['nonlinear-nr-mapped']), { bound: 1 })
    expect(bad.failure?.violation.kind).toBe('check')
    expect(bad.failure?.violation.message).toMatch(/nr_mapped \(-1\) equals the mapped pages \(0\)/)
  })

  it('the machine section can re-introduce the bug itself', () => {
    const w = parseWorkload(text.replace('swap: 1M }', 'swap: 1M, bugs: [pg-anon-race] }'), 'pg-anon.yaml')
    const r = explore(raceScenarioOf(w, layoutFor(w, 'i386')), { bound: 1 })
    expect(r.failure?.violation.kind).toBe('bug')
  })

  it('cpu programs are validated with positions: kinds, shapes, names', () => {
    const base = `machine: { arch: i386 }
steps:
  - spawn: { as: a }
cpus:
  - name: one
    steps:
      - spawn: { as: c }
      - read: { proc: c, addr: 0 }
  - name: two
    steps:
      - raed: { proc: a, addr: 0 }
      - read: { proc: c, addr: 0 }
`
    const p = problems(base)
    expect(p).toHaveLength(1)
    expect(p[0]).toMatch(
      /^race\.yaml:11:9: cpus\[1\]\.steps\[0\]\.raed: unknown step kind 'raed' \(did you mean 'read'\?\)/,
    )
    // Once the kinds are right: a cpu sees the setup's names and its own, never another cpu's.
    const q = problems(base.replace('raed', 'read'))
    expect(q).toHaveLength(1)
    expect(q[0]).toMatch(
      /^race\.yaml:12:\d+: cpus\[1\]\.steps\[1\]\.read\.proc: no process or group named 'c'/,
    )
    expect(problems(`${base.split('cpus:')[0]}cpus: []\n`).join()).toMatch(
      /race\.yaml:4:7: cpus: expected at least 1 item/,
    )
    expect(
      problems(
        `steps:\n  - spawn: { as: a }\ncpus:\n  - { name: x, steps: [ { spawn: {} } ] }\n  - { name: x, steps: [ { spawn: {} } ] }\n`,
      ).join(),
    ).toMatch(/race\.yaml:5:\d+.*a cpu named 'x' is already listed/)
    expect(problems('steps:\n  - spawn: { as: a }\ncpus:\n  - { steps: [], nmae: x }\n').join()).toMatch(
      /unknown key 'nmae'/,
    )
  })

  it('a bug of another layout in the machine section is refused at the machine key', () => {
    const p = problems('machine: { arch: i386, bugs: [ppc-young-no-flush] }\nsteps:\n  - spawn: { as: a }\n')
    expect(p).toEqual([])
    // (the layout check runs when the layouts are resolved)
    const w = parseWorkload(
      'machine: { arch: i386, bugs: [ppc-young-no-flush] }\nsteps:\n  - spawn: { as: a }\n',
    )
    expect(() => layoutFor(w, 'i386')).toThrow(/ppc-young-no-flush.*not i386/)
  })

  it("a step's assertion in a cpu's program is the scenario's: a lost ordering is found", () => {
    const w = parseWorkload(
      `machine: { arch: i386 }
steps:
  - spawn: { as: a }
  - mmap: { proc: a, as: x, length: 1p, prot: rw }
  - write: { proc: a, region: x, value: 0 }
cpus:
  - name: writer
    steps:
      - write: { proc: a, region: x, value: 1 }
  - name: reader
    steps:
      - read: { proc: a, region: x, expect: 0 }
`,
      'order.yaml',
    )
    const r = explore(raceScenarioOf(w, layoutFor(w, 'i386')), { bound: 0 })
    expect(r.failure?.violation.kind).toBe('assertion')
    expect(r.failure?.violation.message).toMatch(/^reader: read a x \(line 12\): /)
  })
})
