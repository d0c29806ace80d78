/**
 * `rmaplab bugs`: the list, a demo caught with the bug and clean without it
 * (exit 0), JSON, and an unknown name (exit 2 with the valid names).
 */
import { describe, expect, it } from 'vitest'
import { inProcess } from './helpers.js'

describe('rmaplab bugs', () => {
  it('lists every bug with what it was, where the fix is and what catches it', async () => {
    const r = await inProcess(['bugs'])
    expect(r.code).toBe(0)
    for (const n of ['pg-anon-race', 'pagetables-0kb', 'shmem-swapcache-bug-on', 'ppc-no-pgtable-rmap'])
      expect(r.stdout).toContain(`${n} (`)
    expect(r.stdout).toMatch(/fix: +<20040318230628\.GA2050@dualathlon\.random>/)
    expect(r.stdout).toMatch(/caught by: /)
  })

  it('runs a race demo: the schedule of the buggy run, the fixed run clean to the bound', async () => {
    const r = await inProcess(['bugs', 'shmem-swapcache-bug-on'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/with the bug: CAUGHT by BUG_ON: kernel BUG at mm\/filemap\.c find_lock_page/)
    expect(r.stdout).toMatch(
      /cpu0 \(P\) preempted in find_lock_page at radix_tree_lookup→lock_page → cpu1 \(reclaim\)/,
    )
    expect(r.stdout).toMatch(/without it: clean, every schedule to bound 2/)
    expect(r.stdout).toMatch(/the demo behaves/)
  })

  it('runs a sequential demo with --json: the step where the check caught it', async () => {
    const r = await inProcess(['bugs', 'pagetables-0kb', '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ name: 'pagetables-0kb', ok: true })
    expect(j.cases[0].buggy).toMatchObject({ caught: true, by: 'm.check()' })
    expect(j.cases[0].buggy.at[0]).toMatch(/^step 2/)
    expect(j.cases[0].fixed.caught).toBe(false)
  })

  it('an unknown name is exit 2 with the valid names', async () => {
    const r = await inProcess(['bugs', 'nope'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/unknown bug 'nope'; valid: pg-anon-race, pg-anon-clear-race, pagetables-0kb/)
  })
})
