/**
 * `rmaplab race`: the PG_anon race found in the pre-fix code (exit 1, the
 * schedule and a replay token that reproduces it), the fixed code clean to the
 * bound (exit 0), bad input exit 2.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { inProcess } from './helpers.js'

const RACE_FILE = fileURLToPath(new URL('../../workload/races/pg-anon.yaml', import.meta.url))

describe('rmaplab race', () => {
  it('finds the PG_anon race in the pre-fix code; the printed replay reproduces it', async () => {
    const r = await inProcess(['race', 'pg-anon', '--bugs', 'pg-anon-race'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/VIOLATION \(bug\): kernel BUG at mm\/objrmap\.c page_add_rmap/)
    expect(r.stdout).toMatch(/cpu0 preempted in do_swap_page at set_pte→page_add_rmap → cpu1/)
    const token = /--replay (\S+)/.exec(r.stdout)![1]!
    const again = await inProcess(['race', 'pg-anon', '--bugs', 'pg-anon-race', '--replay', token])
    expect(again.code).toBe(1)
    expect(again.stdout.split('interleaving:')[1]).toBe(r.stdout.split('interleaving:')[1])
  })

  it('the fixed code is clean to the bound, with --json', async () => {
    const r = await inProcess(['race', 'pg-anon', '--bound', '2', '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ scenario: 'pg-anon', mode: 'bound', boundReached: 2, failure: null, bugs: [] })
  })

  it("nonlinear-reclaim: clean on every layout (no lock-order error); 2.6.7's nr_mapped count is exit 1", async () => {
    for (const arch of ['i386', 'i386-pae', 'ppc', 'ppc64']) {
      const r = await inProcess(['race', 'nonlinear-reclaim', '--arch', arch, '--bound', '3', '--json'])
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({
        scenario: 'nonlinear-reclaim',
        boundReached: 3,
        failure: null,
      })
    }
    const bad = await inProcess(['race', 'nonlinear-reclaim', '--bugs', 'nonlinear-nr-mapped'])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/nr_mapped \(-1\) equals the mapped pages \(0\)/)
  })

  it('PCT finds the mirror race', async () => {
    const r = await inProcess([
      'race',
      'pg-anon-clear',
      '--bugs',
      'pg-anon-clear-race',
      '--pct',
      '--runs',
      '200',
      '--seed',
      '3',
    ])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/m\.check\(\)/)
    expect(r.stdout).toMatch(
      /already minimal: no schedule with fewer preemptions breaks it|shrunk from \d+ to 1 preemption/,
    )
  })

  it('bad input is exit 2 with the valid names', async () => {
    const [a, b, c, d] = await Promise.all([
      inProcess(['race', 'nope']),
      inProcess(['race', 'pg-anon', '--bugs', 'x']),
      inProcess(['race', 'pg-anon', '--bound', '-1']),
      inProcess(['race', 'pg-anon', '--replay', 'v1:7']),
    ])
    const e = await inProcess(['race', 'pg-anon', '--bugs', 'ppc-young-no-flush'])
    expect(e.code).toBe(2)
    expect(e.stderr).toMatch(/--bugs: 'ppc-young-no-flush' is in the code of ppc, not i386/)
    expect(a.code).toBe(2)
    expect(a.stderr).toMatch(
      /valid: pg-anon, pg-anon-clear, pg-anon-fork, shmem-getpage, shmem-truncate, nonlinear-reclaim, toy-counter, toy-counter-locked/,
    )
    expect(b.code).toBe(2)
    expect(b.stderr).toMatch(/valid: pg-anon-race, pg-anon-clear-race/)
    expect(c.code).toBe(2)
    expect(d.code).toBe(2)
    expect(d.stderr).toMatch(/--replay/)
  })

  it('explores a workload file with a cpus: section; run refuses it', async () => {
    const [bad, good, run] = await Promise.all([
      inProcess(['race', RACE_FILE, '--bugs', 'pg-anon-race']),
      inProcess(['race', RACE_FILE, '--bound', '2']),
      inProcess(['run', RACE_FILE]),
    ])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/cpu0 preempted in do_swap_page at set_pte→page_add_rmap → cpu1/)
    expect(bad.stdout).toMatch(/cpu0 \(b\) runs 'read b x \(line 26\)'/)
    expect(good.code).toBe(0)
    expect(good.stdout).toMatch(/bound reached: 2/)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/has a cpus: section.*rmaplab race/)
  })
})
