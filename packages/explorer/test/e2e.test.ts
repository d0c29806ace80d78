/**
 * End-to-end: the built explorer (dist/) in headless Chromium. Each test opens
 * a URL and reads what the page shows, through data-testid hooks.
 */

import { join } from 'node:path'
import { i386, i386Pae } from '@rmaplab/arch-i386'
import { experiments, loadExperiment } from '@rmaplab/workload'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBugDemo } from '../src/model/bugs.js'
import { DIST, launch, serve } from './browser.js'

let server: Awaited<ReturnType<typeof serve>>
let browser: Awaited<ReturnType<typeof launch>>

beforeAll(async () => {
  server = await serve()
  browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

async function open(hash = ''): Promise<Page> {
  const page = await browser.page()
  await page.goto(`${server.url}${hash}`)
  await page.getByTestId('step-pos').waitFor()
  return page
}

/** A text filter that matches `text` and nothing more. */
function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
}

async function stepTo(page: Page, n: number, total: number): Promise<void> {
  await page
    .getByTestId('step-pos')
    .filter({ hasText: exactly(`step ${n} / ${total}`) })
    .waitFor()
}

describe('explorer in Chromium', () => {
  it("opens on the default experiment, steps, and shows a page's rmap list with one vma per process", async () => {
    const page = await open()
    const total = Number((await page.getByTestId('step-pos').textContent())!.split('/')[1])
    expect(total).toBeGreaterThanOrEqual(5)
    await stepTo(page, 0, total)
    // Step forward one at a time to the fork and the read (default: levels 2 → 4 processes).
    for (let i = 1; i <= 5; i++) {
      await page.getByTestId('step-next').click()
      await stepTo(page, i, total)
    }
    await expect.poll(() => page.getByTestId('proc').count()).toBe(4)
    await page.getByTestId('proc').first().click()
    await page.getByTestId('pte-row').first().click()
    const entries = page.getByTestId('rmap-entry')
    await expect.poll(() => entries.count()).toBe(4)
    expect(await page.getByTestId('rmap-object').textContent()).toMatch(/^anon_vma #\d+$/)
    expect(await page.getByTestId('rmap-found').textContent()).toBe('4')
    expect(await page.getByTestId('page-mapcount').textContent()).toBe('4')
    // Clicking another vma's entry selects that process's pte of the same page.
    const pid = /pid (\d+)/.exec((await entries.nth(2).textContent())!)![1]
    expect(pid).not.toBe('1')
    await entries.nth(2).click()
    await expect.poll(() => page.url()).toMatch(new RegExp(`pid=${pid}&`))
    await expect.poll(() => page.locator('[data-testid=pte-row].sel').count()).toBe(1)
    await page.close()
  })

  it("decodes a known pte in the layout's own bits (i386: present, rw, user, accessed, dirty)", async () => {
    const page = await open('#x=andrea&p=size:1M,levels:2,walks:4&a=i386&s=3&pid=1&addr=0x40000000')
    const row = page.locator('[data-testid=pte-row].sel')
    await row.waitFor()
    const raw = BigInt((await row.getByTestId('pte-raw').textContent())!)
    const decoded = (await row.getByTestId('pte-decoded').textContent())!
    // Independently of the view: the bits the i386 header names.
    const b = i386.bits
    for (const name of ['_PAGE_PRESENT', '_PAGE_RW', '_PAGE_USER', '_PAGE_ACCESSED', '_PAGE_DIRTY']) {
      expect(raw & b[name]!, name).toBe(b[name])
      expect(decoded).toContain(name.slice(6))
    }
    expect(decoded).toContain(`pfn ${i386.ptePfn(raw)}`)
    // The struct page the selection shows is that pfn's.
    expect(await page.getByTestId('struct-page').textContent()).toContain(String(i386.ptePfn(raw)))
    await page.close()
  })

  it('walks the 3-level PAE tables: pgd → pmd page → pte page, 64-bit ptes decoded', async () => {
    const page = await open('#x=andrea&p=size:1M,levels:2,walks:4&a=i386-pae&s=3&pid=1&addr=0x40001000')
    const row = page.locator('[data-testid=pte-row].sel')
    await row.waitFor()
    // The tree names the pmd page between the pgd entry and the pte page.
    const tree = (await page.getByTestId('pte-pages').textContent())!
    expect(tree).toMatch(/\[1\] → pmd@\d+\[0\] → pfn \d+/) // 0x40000000: pgd index 1, pmd index 0
    const rawText = (await row.getByTestId('pte-raw').textContent())!
    expect(rawText).toHaveLength(18)
    const raw = BigInt(rawText)
    const b = i386Pae.bits
    expect(raw & b['_PAGE_PRESENT']!).toBe(b['_PAGE_PRESENT'])
    expect(await row.getByTestId('pte-decoded').textContent()).toContain(`pfn ${i386Pae.ptePfn(raw)}`)
    await page.close()
  })

  it('shows ppc64 ptes with their hash bits, side by side with i386', async () => {
    const page = await open('#x=andrea&p=size:1M,levels:2,walks:4&a=i386&b=ppc64&s=5&pid=1&addr=0x40000000')
    const same = page.getByTestId('same-pte')
    await expect.poll(() => same.count()).toBe(2)
    const ppc64Lane = page.getByTestId('lane-ppc64')
    const row = ppc64Lane.locator('[data-testid=pte-row].sel')
    await row.waitFor()
    const raw = BigInt((await row.getByTestId('pte-raw').textContent())!)
    expect((await row.getByTestId('pte-raw').textContent())!.length).toBe(18) // 64-bit pte
    const decoded = (await row.getByTestId('pte-decoded').textContent())!
    // A pte the hash MMU has seen carries _PAGE_HASHPTE and its slot bits.
    expect(decoded.includes('HASHPTE')).toBe((raw & 0x400n) !== 0n)
    const slot = Number((raw & 0x7000n) >> 12n)
    if (slot) expect(decoded).toContain(`GROUP_IX=${slot}`)
    await page.close()
  })

  it('lands on the same view from a link', async () => {
    const hash = '#x=andrea&p=size:1M,levels:2,walks:4&a=i386&s=5&pid=2&addr=0x40003000'
    const page = await open(hash)
    await stepTo(page, 5, Number((await page.getByTestId('step-pos').textContent())!.split('/')[1]))
    const row = page.locator('[data-testid=pte-row].sel')
    await row.waitFor()
    expect(await row.getAttribute('data-addr')).toBe(String(0x40003000))
    await expect.poll(() => page.getByTestId('rmap-entry').count()).toBe(4)
    // The app put the selected frame in the URL: opening that URL gives the same page.
    const url = page.url()
    expect(url).toMatch(/pfn=\d+/)
    const again = await browser.page()
    await again.goto(url)
    await again.locator('[data-testid=pte-row].sel').waitFor()
    expect(await again.getByTestId('struct-page').textContent()).toBe(
      await page.getByTestId('struct-page').textContent(),
    )
    await again.close()
    await page.close()
  })

  it('follows a link opened while the page is still applying an earlier change', async () => {
    const page = await open('#x=a1&a=i386&s=2')
    await stepTo(page, 2, loadExperiment('a1').workload.steps.length)
    const to = '#x=b4&a=ppc&s=3'
    // The race, made to happen every time: the page updates the URL in an
    // effect, which preact runs after the next paint or before the next render,
    // while a navigation's hashchange event is a task of its own.
    const shown = await page.evaluate(async (hash) => {
      const next = document.querySelector<HTMLButtonElement>('[data-testid=step-next]')!
      const microtasks = async () => {
        for (let i = 0; i < 20; i++) await Promise.resolve()
      }
      next.click() // renders at once (a microtask); the URL effect waits for the paint
      await microtasks()
      location.hash = hash // the link: its hashchange event is queued
      next.click() // renders again, which runs the pending effects first: before the hashchange event
      await microtasks()
      return location.hash
    }, to)
    // The pending effect left the link in the address bar, for the hashchange handler to read.
    expect(shown).toBe(to)
    await expect.poll(() => page.getByTestId('experiment').inputValue()).toBe('b4')
    await stepTo(page, 3, loadExperiment('b4').workload.steps.length)
    await expect.poll(() => page.url()).toContain(to)
    expect(await page.getByTestId('layout').inputValue()).toBe('ppc')
    await page.close()
  })

  it("lands on a link's own step when the previous link's run settles after it", async () => {
    // `events`: the link's hashchange event comes once (sent here at once), or
    // twice (here, and then the browser's own, as for two links in a row).
    for (const events of [1, 2]) {
      const page = await open('#x=a1&a=i386&s=2')
      await stepTo(page, 2, loadExperiment('a1').workload.steps.length)
      const to = '#x=b4&a=ppc&s=3'
      await page.evaluate(
        async ({ hash, events }) => {
          const changed = () => new Promise((ok) => addEventListener('hashchange', ok, { once: true }))
          const microtasks = async () => {
            for (let i = 0; i < 20; i++) await Promise.resolve()
          }
          // A link past the end: the page renders it, and runs it to its end in an effect, after the paint.
          location.hash = '#x=a1&a=i386&s=9999'
          await changed()
          await microtasks()
          // The next link's hashchange handler runs before that effect (the
          // event is sent here at once): the effects of the first link's render
          // run after the state already names the second link.
          if (events === 2) location.hash = hash
          else history.replaceState(null, '', hash)
          dispatchEvent(new HashChangeEvent('hashchange'))
          await microtasks()
        },
        { hash: to, events },
      )
      await expect
        .poll(() => page.getByTestId('experiment').inputValue(), { message: `${events}` })
        .toBe('b4')
      await stepTo(page, 3, loadExperiment('b4').workload.steps.length)
      await expect.poll(() => page.url(), { message: `${events}` }).toContain(to)
      await page.close()
    }
  })

  it("lists page_referenced's probes, and the real call on a copy agrees without changing the page shown", async () => {
    const page = await open('#x=andrea&p=size:1M,levels:2,walks:4&a=i386&s=5&pid=1&addr=0x40002000')
    await page.getByTestId('rmap-found').waitFor()
    const walk = page.getByTestId('walk-page_referenced')
    await walk.locator('summary').click()
    expect(await walk.locator('summary').textContent()).toMatch(/4 probes, 4 references/)
    await page.getByTestId('call-page_referenced').click()
    const called = page.getByTestId('called-page_referenced')
    await expect.poll(() => called.textContent()).toMatch(/visited 4 vma\(s\), probed 4 pte\(s\)/)
    // The page on screen still has its young ptes: the call ran on a copy.
    expect(await walk.locator('summary').textContent()).toMatch(/4 references/)
    await page.close()
  })

  it('works from a sub-path of any static server (relative asset paths)', async () => {
    const parent = await serve(join(DIST, '..'))
    const page = await browser.page()
    await page.goto(`${parent.url}dist/index.html#x=a1&a=ppc&s=3`)
    await stepTo(page, 3, Number((await page.getByTestId('step-pos').textContent())!.split('/')[1]))
    await page.close()
    await parent.close()
  })

  it('loads a workload file, runs it, and stops at a failing step with its message', async () => {
    const page = await open()
    const text = [
      'name: fails at step 4',
      'steps:',
      '  - spawn: { as: p }',
      '  - mmap: { proc: p, as: a, length: 1p, prot: rw }',
      '  - write: { proc: p, region: a, value: 1 }',
      '  - read: { proc: p, region: a, expect: 2 }',
      '  - read: { proc: p, region: a, expect: 1 }',
      '',
    ].join('\n')
    await page.getByTestId('file-input').setInputFiles({
      name: 'fails.yaml',
      mimeType: 'text/yaml',
      buffer: Buffer.from(text),
    })
    await expect.poll(() => page.getByTestId('workload-about').textContent()).toContain('fails at step 4')
    await page.getByTestId('step-last').click()
    const failure = page.getByTestId('step-failure')
    await failure.waitFor()
    expect(await failure.textContent()).toMatch(
      /^step 4 failed: assertion in p \(pid 1\): .*expected 0x2, got 0x1/,
    )
    // The run stays before the failed step, and shows what that step changed before it failed.
    await stepTo(page, 3, 5)
    expect(await page.getByTestId('changes').textContent()).not.toContain('Nothing yet')
    expect(await page.getByTestId('step-next').isDisabled()).toBe(true)
    await page.close()
  })

  it("shows the same page's reverse map under 2.6.4's pte_chains: the chain of ptes", async () => {
    const page = await open(
      '#x=andrea&p=size:1M,levels:2,walks:4&a=i386&r=pte_chains&s=5&pid=1&addr=0x40000000',
    )
    await expect.poll(() => page.getByTestId('rmap-object').textContent()).toBe('pte_chain of 4 ptes')
    expect(await page.getByTestId('rmap-found').textContent()).toBe('4')
    expect(await page.getByTestId('rmap-design').inputValue()).toBe('pte_chains')
    await page.close()
  })

  it('says so when a link names an rmap design the core does not know', async () => {
    const page = await browser.page()
    await page.goto(`${server.url}#x=a1&a=i386&r=anon_mm&s=2`)
    await expect.poll(() => page.getByTestId('load-error').textContent()).toMatch(/anon_mm/)
    await page.close()
  })

  it("shows a malformed workload's problems at their positions", async () => {
    const page = await open()
    const text = [
      'name: broken',
      'steps:',
      '  - spawn: { as: p }',
      '  - mmapp: { proc: p, length: 4K }',
      '',
    ].join('\n')
    await page.getByTestId('file-input').setInputFiles({
      name: 'broken.yaml',
      mimeType: 'text/yaml',
      buffer: Buffer.from(text),
    })
    const err = page.getByTestId('file-error')
    await err.waitFor()
    const problems = await page.getByTestId('problem').allTextContents()
    expect(problems.some((p) => p.startsWith('broken.yaml:4:'))).toBe(true)
    expect(await page.getByTestId('inline-problem').count()).toBeGreaterThan(0)
    await page.close()
  })

  it('runs every demo to its end on every layout without a page error or a failed step', async () => {
    const page = await browser.page()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    const demos = experiments().filter((e) => e.group === 'demo')
    expect(demos.length).toBeGreaterThan(10)
    const layouts = ['i386', 'i386-pae', 'ppc', 'ppc64']
    for (const [i, d] of demos.entries()) {
      const layout = layouts[i % layouts.length]!
      const what = `${d.name} on ${layout}`
      const workload = loadExperiment(d.name).workload
      const total = workload.steps.length
      // The page is not reloaded: the previous demo stays on screen until the
      // link's run replaces it. Wait for this demo's run (its workload's name),
      // then for where it stopped: its end, or a failed step.
      await page.goto(`${server.url}#x=${d.name}&a=${layout}&s=9999&pid=1`)
      await expect.poll(() => page.getByTestId('experiment').inputValue(), { message: what }).toBe(d.name)
      await page
        .getByTestId('workload-about')
        .locator('b')
        .filter({ hasText: exactly(workload.name) })
        .waitFor()
      const failure = page.getByTestId('step-failure')
      const end = page.getByTestId('step-pos').filter({ hasText: exactly(`step ${total} / ${total}`) })
      await failure.or(end).first().waitFor()
      expect(await failure.allTextContents(), what).toEqual([])
      expect(errors, what).toEqual([])
      if (i === 0) {
        // A step past the end lands on the end: one back is the step before it.
        await expect.poll(() => page.url()).toContain(`s=${total}`)
        await page.getByTestId('step-back').click()
        await stepTo(page, total - 1, total)
      }
      // Select the first present pte, if any, and check its rmap agrees with mapcount.
      const present = page.locator('[data-testid=pte-row].present')
      if ((await present.count()) > 0) {
        await present.first().click()
        await page.getByTestId('rmap-found').waitFor()
        const found = await page.getByTestId('rmap-found').textContent()
        expect(found, what).toBe(await page.getByTestId('page-mapcount').textContent())
      }
    }
    expect(errors).toEqual([])
    await page.close()
  })

  it('lists the bugs of the thread and runs a sequential and a race demo off the page thread', async () => {
    const page = await open('#x=a1&a=i386&s=0')
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.getByTestId('bugs-toggle').click()
    await expect.poll(() => page.url()).toMatch(/&bug=$/)
    const bugs = page.getByTestId('bug')
    await expect.poll(() => bugs.count()).toBe(10)
    const bug = (name: string) => page.locator(`[data-testid=bug][data-bug="${name}"]`)
    // Selecting a bug puts it in the link and shows what the registry says of it.
    await bug('pg-anon-race').getByTestId('bug-select').click()
    await expect.poll(() => page.url()).toMatch(/&bug=pg-anon-race$/)
    expect(await bug('pg-anon-race').getByTestId('bug-messages').textContent()).toContain(
      '<20040318230628.GA2050@dualathlon.random>',
    )
    expect(await bug('pg-anon-race').getByTestId('bug-files').textContent()).toContain('mm/objrmap.c')
    expect(await bug('ppc-young-no-flush').getByTestId('bug-kernels').textContent()).toContain('2.6.4-2.6.10')

    // The same demos in node: the page must show what they find.
    const want = { seq: runBugDemo('pagetables-0kb'), race: runBugDemo('pg-anon-race') }
    const times: string[] = []
    for (const [name, r] of [
      ['pagetables-0kb', want.seq],
      ['pg-anon-race', want.race],
    ] as const) {
      const b = bug(name)
      const t0 = Date.now()
      await b.getByTestId('bug-run').click()
      await expect.poll(() => b.getByTestId('bug-verdict').count(), { timeout: 60_000 }).toBe(1)
      times.push(
        `${name}: ${await b.getByTestId('bug-result').getAttribute('data-ms')} ms in the page, ${Date.now() - t0} ms click to result`,
      )
      expect(await b.getByTestId('bug-verdict').textContent()).toBe('the demo behaves')
      expect(await b.getByTestId('bug-status').textContent()).toBe('the demo behaves')
      expect(await b.getByTestId('bug-result').textContent()).toContain('in the worker')
      const buggy = (await b.getByTestId('bug-buggy').textContent())!
      expect(buggy).toMatch(/^with the bug: caught by /)
      expect(buggy).toContain(`by ${r.cases[0]!.buggy.by}: ${r.cases[0]!.buggy.message}`)
      expect(await b.getByTestId('bug-fixed').textContent()).toMatch(/^without it: clean/)
      expect(await b.getByTestId('bug-where').textContent()).toContain(r.cases[0]!.buggy.at[0]!)
    }
    // The race: the BUG_ON of page_add_rmap, its schedule and the replay token of the node run.
    const race = bug('pg-anon-race')
    expect(await race.getByTestId('bug-message').textContent()).toMatch(
      /^kernel BUG at mm\/objrmap\.c page_add_rmap: .*mm\/objrmap\.c:271/,
    )
    expect(await race.getByTestId('bug-preemptions').textContent()).toBe('1')
    expect(await race.getByTestId('bug-replay').textContent()).toBe(want.race.cases[0]!.buggy.race!.replay)
    expect(await race.getByTestId('bug-fixed').textContent()).toContain('every schedule to bound 2')
    expect(await race.getByTestId('bug-text').textContent()).toContain(
      `  with the bug: CAUGHT by BUG_ON: ${want.race.cases[0]!.buggy.message}`,
    )
    // The sequential demo: caught by m.check() at step 2.
    expect(await bug('pagetables-0kb').getByTestId('bug-where').textContent()).toMatch(/^at step 2: /)

    // Run all: every demo behaves, in order, the page showing which one runs.
    await page.getByTestId('bugs-run-all').click()
    await expect
      .poll(() => page.getByTestId('bug-status').allTextContents(), { timeout: 120_000 })
      .toEqual(Array(10).fill('the demo behaves'))
    for (const b of await bugs.all())
      times.push(
        `${await b.getAttribute('data-bug')} (run all): ${await b.getByTestId('bug-result').getAttribute('data-ms')} ms`,
      )
    // The cases on two layouts (ppc-no-pgtable-rmap) and two code paths (shmem) each show.
    expect(await bug('ppc-no-pgtable-rmap').getByTestId('bug-case').count()).toBe(2)
    expect(await bug('shmem-swapcache-bug-on').getByTestId('bug-case').count()).toBe(2)
    // Closing keeps the results; the link drops the panel.
    await page.getByTestId('bugs-toggle').click()
    await expect.poll(() => page.url()).not.toContain('bug=')
    await page.getByTestId('bugs-toggle').click()
    expect(await page.getByTestId('bug-verdict').count()).toBe(10)
    expect(errors).toEqual([])
    console.log(`[explorer e2e] bug demos (in a worker):\n  ${times.join('\n  ')}`)
    await page.close()
  })

  it('opens the bugs panel on the bug a link names', async () => {
    const page = await open('#x=a1&a=i386&s=0&bug=shmem-swapcache-bug-on')
    const about = page
      .locator('[data-testid=bug][data-bug="shmem-swapcache-bug-on"]')
      .getByTestId('bug-about')
    await about.waitFor()
    expect(await about.textContent()).toContain('mm/truncate.c')
    expect(await page.getByTestId('bug-about').count()).toBe(1)
    await page.close()
  })

  it('steps the 64 MB fork test (prints the time per step)', async () => {
    const page = await open('#x=andrea&p=size:64M,ram:256M,levels:5,walks:64&a=i386&s=0')
    const total = Number((await page.getByTestId('step-pos').textContent())!.split('/')[1])
    const times: string[] = []
    type Timing = { step: number; total: number; lanes: Array<{ model: number; diff: number }> }
    const timing = () =>
      page.evaluate(() => (window as unknown as { __rmaplabStep?: Timing }).__rmaplabStep ?? null)
    const ahead = () => page.evaluate(() => (window as unknown as { __rmaplabAhead?: number }).__rmaplabAhead)
    const go = async (label: string, button: string, to: number) => {
      // As a reader would: the page has run the next step ahead while it was read.
      if (button === 'step-next') await expect.poll(ahead, { timeout: 60_000 }).toBe(to - 1)
      const t0 = Date.now()
      await page.getByTestId(button).click()
      await stepTo(page, to, total)
      await expect.poll(async () => (await timing())?.step).toBe(to)
      const t = (await timing())!
      const lane = t.lanes[0]!
      times.push(
        `${label}: ${t.total.toFixed(0)} ms in the page, ${Date.now() - t0} ms click to assertion (the step itself: model ${lane.model.toFixed(0)} ms, diff ${lane.diff.toFixed(0)} ms${button === 'step-next' ? ', run ahead' : ''})`,
      )
    }
    for (let i = 1; i <= total; i++) await go(`step ${i}`, 'step-next', i)
    await go(`back to step ${total - 1} (re-run from the start)`, 'step-back', total - 1)
    console.log(
      `[explorer e2e] andrea size=64M levels=5 (32 processes) on i386, per step:\n  ${times.join('\n  ')}`,
    )
    await page.close()
  }, 300_000)
})
