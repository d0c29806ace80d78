/**
 * The bugs panel's model in node: the registry as the panel lists it (what
 * its text names), a sequential and a race demo worded as `rmaplab bugs`
 * prints them, a demo that does not behave, and the queue that runs demos one
 * at a time.
 */
import { BUGS } from '@rmaplab/rmap'
import type { BugDemoResult, BugDemoRun } from '@rmaplab/workload'
import { describe, expect, it } from 'vitest'
import { bugList, type DemoEvent, demoReport, runBugDemo, runQueue } from '../src/model/bugs.js'
import { demoHost } from '../src/model/bugs-host.js'
import { DEFAULT_STATE, formatHash, parseHash } from '../src/model/url.js'

const AA_FIX = '<20040318230628.GA2050@dualathlon.random>'

describe('the registry as the panel lists it', () => {
  const list = bugList()
  const by = (name: string) => list.find((b) => b.name === name)!

  it('lists every bug of the registry, in its order, with its layouts and design', () => {
    expect(list.map((b) => b.name)).toEqual(BUGS.map((b) => b.name))
    expect(by('pg-anon-race').objrmapOnly).toBe(true)
    expect(by('pg-anon-race').designs).toEqual(['objrmap'])
    expect(by('move-vma-merge-first').designs).toEqual(['pte_chains'])
    expect(by('ppc-young-no-flush').designs).toBeNull()
    expect(by('pg-anon-race').arches).toBeNull()
    expect(by('ppc-young-no-flush').arches).toEqual(['ppc'])
    expect(by('ppc-no-pgtable-rmap').arches).toEqual(['ppc', 'ppc64'])
    for (const b of list) {
      expect(b.title.length, b.name).toBeGreaterThan(10)
      expect(['race', 'sequential']).toContain(b.kind)
    }
  })

  it('finds the kernels, the LKML message ids and the kernel files the text names', () => {
    const anon = by('pg-anon-race')
    expect(anon.messageIds).toEqual([AA_FIX, '<20040318221447.GA3248@dualathlon.random>'])
    expect(anon.files).toEqual(expect.arrayContaining(['mm/objrmap.c', 'mm/memory.c', 'fs/exec.c']))
    expect(by('pagetables-0kb').kernels).toContain('2.6.5-rc1-aa1')
    // An en dash in a range reads as a hyphen, once.
    expect(by('ppc-young-no-flush').kernels).toEqual(['2.6.4-2.6.10', '2.6.11'])
    expect(by('ppc-flush-hash-shift').kernels).toEqual(['2.6.4-2.6.10', '2.6.11-rc5'])
    expect(by('ppc-flush-hash-shift').files).toEqual(['arch/ppc/mm/tlb.c'])
    expect(by('ppc-early-pte-count').files).toContain('include/asm-ppc/rmap.h')
    // No message id is a kernel file and no file ends in punctuation.
    for (const b of list) for (const f of b.files) expect(f, b.name).toMatch(/^[a-z][\w./-]*\.[chS]$/)
  })
})

describe('a demo run, in the cli words', () => {
  it('a sequential demo: caught by m.check() at the step that allocates the pte page, clean without it', () => {
    const r = runBugDemo('pagetables-0kb')
    expect(r.ok).toBe(true)
    const c = r.cases[0]!
    expect(c.buggy).toMatchObject({ caught: true, by: 'm.check()', steps: 2 })
    expect(c.buggy.message).toMatch(/nr_page_table_pages \(0\) equals the counted pte pages \(1\)/)
    expect(c.buggy.at[0]).toMatch(/^step 2: write every page/)
    expect(c.buggy.race).toBeUndefined()
    expect(c.fixed).toMatchObject({ caught: false, by: '', steps: 2 })
    expect(r.lines[0]).toBe(`bug pagetables-0kb: ${r.title}`)
    expect(r.lines).toContain('case: one process faults 8 pages in (i386)')
    expect(
      r.lines.some((l) => l.startsWith('  with the bug: CAUGHT by m.check(): nr_page_table_pages')),
    ).toBe(true)
    expect(r.lines.some((l) => /^ {4}at step 2: .* \(2 step\(s\), \d+ ms\)$/.test(l))).toBe(true)
    expect(r.lines.some((l) => /^ {2}without it: clean \(2 step\(s\), \d+ ms\)$/.test(l))).toBe(true)
    expect(r.lines.at(-1)).toBe('the demo behaves')
  })

  it('a race demo: the BUG_ON at mm/objrmap.c:271 on a one-preemption schedule, with its replay; clean to bound 2 without it', () => {
    const r = runBugDemo('pg-anon-race')
    expect(r.ok).toBe(true)
    const b = r.cases[0]!.buggy
    expect(b.by).toBe('BUG_ON')
    expect(b.message).toMatch(/^kernel BUG at mm\/objrmap\.c page_add_rmap: .*\(mm\/objrmap\.c:271\)/)
    expect(b.race!.preemptions).toBe(1)
    expect(b.at).toHaveLength(1)
    expect(b.at[0]).toMatch(/preempted in do_swap_page at .*page_add_rmap → cpu1 \(reclaim\)/)
    expect(b.race!.trace.at(-1)).toMatch(/raises kernel BUG at mm\/objrmap\.c/)
    expect(b.race!.replay).toBe(
      `rmaplab race pg-anon --arch i386 --bugs pg-anon-race --replay ${b.race!.token}`,
    )
    expect(b.race!.token).toMatch(/^v1:/)
    const f = r.cases[0]!.fixed
    expect(f.caught).toBe(false)
    expect(f.race!.boundReached).toBe(2)
    expect(f.race!.schedules).toBeGreaterThan(b.race!.schedules)
    expect(r.lines).toContain(`    replay: ${b.race!.replay}`)
    expect(r.lines.some((l) => l.startsWith('  without it: clean, every schedule to bound 2 ('))).toBe(true)
    // Plain data: what the worker posts to the page survives a structured clone.
    expect(structuredClone(r)).toEqual(r)
  })

  it('words a demo that does not behave: the bug not caught, the fixed run flagged', () => {
    const run = (over: Partial<BugDemoRun>): BugDemoRun => ({
      bugs: [],
      caught: false,
      by: '',
      message: '',
      at: [],
      steps: 3,
      ms: 1,
      ...over,
    })
    const res: BugDemoResult = {
      name: 'pagetables-0kb',
      ok: false,
      cases: [
        {
          label: 'x',
          arch: 'ppc',
          buggy: run({ bugs: ['pagetables-0kb'] }),
          fixed: run({ caught: true, by: 'BUG_ON', message: 'kernel BUG', at: ['step 3: y'] }),
          ok: false,
        },
      ],
    }
    const r = demoReport({ title: 't', fix: 'f' }, res, 5)
    expect(r.lines).toEqual([
      'bug pagetables-0kb: t',
      'fix: f',
      '',
      'case: x (ppc)',
      '  with the bug: NOT CAUGHT (3 step(s), 1 ms)',
      '  without it: FLAGGED by BUG_ON at step 3: y: kernel BUG',
      '',
      'THE DEMO DOES NOT BEHAVE',
    ])
  })

  it('names the valid bugs for an unknown one', () => {
    expect(() => runBugDemo('pg-anon')).toThrow(/unknown bug 'pg-anon'; valid: pg-anon-race, /)
  })
})

describe('the queue', () => {
  it('runs demos one at a time, yielding before each; an error is an event and the queue goes on', async () => {
    const log: string[] = []
    const events: DemoEvent[] = []
    await runQueue(
      ['pagetables-0kb', 'nope', 'ppc-young-no-flush'],
      (n) => {
        log.push(`run ${n}`)
        return runBugDemo(n)
      },
      (e) => {
        events.push(e)
        log.push(`${e.state} ${e.name}`)
      },
      () => false,
      async () => {
        log.push('pause')
      },
    )
    expect(log).toEqual([
      'running pagetables-0kb',
      'pause',
      'run pagetables-0kb',
      'done pagetables-0kb',
      'running nope',
      'pause',
      'run nope',
      'error nope',
      'running ppc-young-no-flush',
      'pause',
      'run ppc-young-no-flush',
      'done ppc-young-no-flush',
    ])
    const done = events.filter((e) => e.state === 'done')
    expect(done.map((e) => e.report.ok)).toEqual([true, true])
  })

  it('runs in this thread where no worker can start (node has no Worker)', async () => {
    const host = demoHost()
    expect(host.where).toBe('page')
    const r = await host.run('ppc-flush-hash-shift')
    expect(r.ok).toBe(true)
    expect(r.cases[0]!.buggy.by).toBe('m.check()')
    await expect(host.run('nope')).rejects.toThrow(/unknown bug 'nope'/)
    host.close()
  })

  it('stops before the next demo once cancelled', async () => {
    const ran: string[] = []
    let stop = false
    await runQueue(
      ['pagetables-0kb', 'ppc-young-no-flush'],
      (n) => {
        ran.push(n)
        stop = true
        return runBugDemo(n)
      },
      () => {},
      () => stop,
    )
    expect(ran).toEqual(['pagetables-0kb'])
  })
})

it('carries the bugs panel and the selected bug in the URL', () => {
  for (const bug of [null, '', 'pg-anon-race']) {
    const s = { ...DEFAULT_STATE, bug }
    expect(parseHash(formatHash(s))).toEqual(s)
  }
  expect(formatHash({ ...DEFAULT_STATE, bug: 'pg-anon-race' })).toMatch(/&bug=pg-anon-race$/)
  expect(formatHash(DEFAULT_STATE)).not.toContain('bug')
})
