/**
 * Bad input never reaches exit 3 (issue 13): each input as a user would write
 * it, the exit code (2) and the message with its position in the file.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { inProcess, workloadFile } from './helpers.js'

/** Run `rmaplab run FILE` on a workload text; the exit code and stderr with the file name shortened to `w`. */
async function run(text: string, ext = 'yaml', args: string[] = []) {
  const file = workloadFile(text, ext)
  const r = await inProcess(['run', file, '--no-progress', ...args])
  return {
    code: r.code,
    err: r.stderr.replaceAll(file, `w.${ext}`),
    out: r.stdout.replaceAll(file, `w.${ext}`),
  }
}

const SPAWN = 'steps: [ { spawn: { as: p } } ]\n'

describe('rmap designs: a typo, a cache line that is not a power of two, a design listed twice', () => {
  it('each is one line naming the key and the valid values, with its position, exit 2, before anything runs', async () => {
    expect(await run(`machine: { arch: i386, rmap: pte_chain }\n${SPAWN}`)).toMatchObject({
      code: 2,
      out: '',
      err: 'w.yaml:1:30: machine.rmap: expected one of objrmap, pte_chains, anonmm, got "pte_chain"\n',
    })
    expect(await run(`machine: { arch: i386, rmap: pte_chains, cache_line: 48 }\n${SPAWN}`)).toMatchObject({
      code: 2,
      out: '',
      err: 'w.yaml:1:54: machine.cache_line: i386: cacheLine (L1_CACHE_BYTES) must be a power of two from 16 to 4096, got 48\n',
    })
    expect(await run(`machine: { arch: i386, rmap: [objrmap, anonmm, objrmap] }\n${SPAWN}`)).toMatchObject({
      code: 2,
      out: '',
      err: "w.yaml:1:48: machine.rmap[2]: 'objrmap' is listed twice; list each of objrmap, pte_chains, anonmm at most once\n",
    })
    expect((await run(`machine: { arch: [ppc, ppc] }\n${SPAWN}`)).err).toBe(
      "w.yaml:1:24: machine.arch[1]: 'ppc' is listed twice; list each of i386, i386-pae, ppc, ppc64 at most once\n",
    )
    // On the command line: --rmap with a typo or a design twice.
    expect(await run(SPAWN, 'yaml', ['--rmap', 'pte_chain'])).toMatchObject({
      code: 2,
      err: "unknown rmap design 'pte_chain'; valid: objrmap, pte_chains, anonmm, all\n",
    })
    expect(await run(SPAWN, 'yaml', ['--rmap', 'anonmm,anonmm'])).toMatchObject({
      code: 2,
      err: "--rmap: 'anonmm' is given twice (anonmm,anonmm)\n",
    })
    // A good cache line is taken (ppc's 32-byte lines: 7 pte addresses a chain).
    expect((await run(`machine: { arch: ppc, rmap: pte_chains, cache_line: 32 }\n${SPAWN}`)).code).toBe(0)
  })
})

describe('machine sizes are checked before any Machine is built', () => {
  it('swap: 16 (a typo for 16M), swap: 1: below the smallest swap area, with a hint', async () => {
    expect(await run(`machine: { arch: i386, swap: 16 }\n${SPAWN}`)).toMatchObject({
      code: 2,
      err: "w.yaml:1:30: machine.swap: 16 bytes is below the header page plus one slot (8192 bytes), the smallest swap area; a size without a unit is bytes: did you mean '16M'?\n",
    })
    expect((await run(`machine: { arch: i386, swap: 1 }\n${SPAWN}`)).code).toBe(2)
  })

  it("swap: 100G is above i386's SWAP_MAXPAGES_LIMIT (the limit comes from the layout), fine on ppc64", async () => {
    expect(await run(`machine: { arch: [i386, ppc64], swap: 100G }\n${SPAWN}`)).toMatchObject({
      code: 2,
      err: 'w.yaml:1:39: machine.swap: i386: swap of 26214400 pages is above SWAP_MAXPAGES_LIMIT (0xfffffe pages, 63G), the largest offset the swap pte holds\n',
    })
    expect((await run(`machine: { arch: ppc64, swap: 100G, ram: 16M }\n${SPAWN}`)).code).toBe(0)
  })

  it('a swapon step too large for a layout is refused before the run', async () => {
    expect(await run('machine: { arch: i386 }\nsteps:\n  - swapon: { size: 100G }\n')).toMatchObject({
      code: 2,
      err: 'w.yaml:3:21: steps[0].swapon.size: i386: swap of 26214400 pages is above SWAP_MAXPAGES_LIMIT (0xfffffe pages, 63G), the largest offset the swap pte holds\n',
    })
    expect((await run('steps:\n  - swapon: { size: 4K }\n')).err).toMatch(
      /^w\.yaml:2:21: steps\[0\]\.swapon\.size: 4096 bytes is below the header page plus one slot/,
    )
  })

  it('one rule for units: right after the number, in sizes as in expressions', async () => {
    // 64MB is a size (MB = M) in ram as in a length; a space before the unit is refused in both.
    expect((await run(`machine: { arch: i386, ram: 64MB }\n${SPAWN}`)).code).toBe(0)
    expect(
      (
        await run(
          'machine: { arch: i386 }\nsteps:\n  - spawn: { as: p }\n  - mmap: { proc: p, length: 4MB, prot: rw }\n',
        )
      ).code,
    ).toBe(0)
    expect(await run(`machine: { arch: i386, ram: 64 M }\n${SPAWN}`)).toMatchObject({
      code: 2,
      err: `w.yaml:1:32: machine.ram: expected a size: a byte count, or a number with K, M or G such as '64M', got "64 M": unexpected 'M' after the expression\n`,
    })
    expect(
      await run(
        'machine: { arch: i386 }\nsteps:\n  - spawn: { as: p }\n  - mmap: { proc: p, length: 4 MB, prot: rw }\n',
      ),
    ).toMatchObject({
      code: 2,
      err: "w.yaml:4:32: steps[1].mmap.length: unexpected 'MB' after the expression in '4 MB'\n",
    })
  })
})

describe('the YAML itself', () => {
  it('an alias bomb (nine anchors, nine-fold) is refused at the alias that blows it up', async () => {
    const lines = [`a: &a [${Array(9).fill('"lol"').join(',')}]`]
    let prev = 'a'
    for (const c of 'bcdefghi') {
      lines.push(`${c}: &${c} [${Array(9).fill(`*${prev}`).join(',')}]`)
      prev = c
    }
    const r = await run(`${lines.join('\n')}\n${SPAWN}`)
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'w.yaml:5:8: YAML: this alias makes the document expand to more than 10000 nodes (an alias bomb?); write the values out, or use fewer nested aliases\n',
    )
  })

  it('very deep nesting says what is wrong, never "Maximum call stack size exceeded"', async () => {
    const flow = await run(`steps: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`)
    expect(flow).toMatchObject({
      code: 2,
      err: 'w.yaml:1:72: nested more than 64 levels deep; a workload needs only a few levels of maps and lists\n',
    })
    const block = await run(
      `steps:\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i + 1)}-\n`).join('')}`,
    )
    expect(block.code).toBe(2)
    expect(block.err).toMatch(/^w\.yaml:\d+:\d+: nested (too deeply to read|more than 64 levels deep)/)
    expect(block.err).not.toMatch(/call stack/)
  })

  it('JSON with a trailing comma in a .json file is refused with its position', async () => {
    const r = await run('{\n  "steps": [\n    { "spawn": { "as": "p" } },\n  ]\n}\n', 'json')
    expect(r).toMatchObject({
      code: 2,
      err: 'w.json:3:31: JSON syntax: a comma before the closing bracket (JSON allows none)\n',
    })
    // YAML would read single quotes; a .json file must be JSON.
    const q = await run(`{ 'steps': [ { "spawn": { "as": "p" } } ] }\n`, 'json')
    expect(q.code).toBe(2)
    expect(q.err).toMatch(/^w\.json:1:3: JSON syntax: /)
  })
})

describe('values and names', () => {
  const W =
    'machine: { arch: i386 }\nsteps:\n  - spawn: { as: p }\n  - mmap: { proc: p, as: a, length: 1p, prot: rw }\n'

  it("a write value wider than the page's 32-bit content word is refused (it was stored cut)", async () => {
    expect(await run(`${W}  - write: { proc: p, region: a, value: 0x123456789 }\n`)).toMatchObject({
      code: 2,
      err: "w.yaml:5:41: steps[2].write.value: 0x123456789 does not fit a page's content word, which is 32 bits: 0..0xffffffff (or a negative int32)\n",
    })
    expect((await run(`${W}  - write: { proc: p, region: a, value: 0xffffffff }\n`)).code).toBe(0)
    // Computed values are checked when they are computed: the step fails (exit 1), nothing is cut.
    const r = await run(`${W}  - write: { proc: p, region: a, value: 0xfffffff0 + pid * 0x100 }\n`)
    expect(r.code).toBe(1)
    expect(r.out).toContain(
      "    value 0x1000000f0 does not fit a page's content word, which is 32 bits: 0..0xffffffff (or a negative int32)\n",
    )
  })

  it('create: { size: -1 } and reclaim: { pages: -5 } are found before anything runs', async () => {
    expect(
      await run(
        'machine: { arch: i386 }\nsteps:\n  - create: { path: /f, size: -1 }\n  - reclaim: { pages: -5 }\n',
      ),
    ).toMatchObject({
      code: 2,
      err: 'w.yaml:3:31: steps[0].create.size: size must be a whole number ≥ 0, got -1\nw.yaml:4:23: steps[1].reclaim.pages: pages must be a whole number ≥ 0, got -5\n',
    })
  })

  it('a process or region name defined twice is refused', async () => {
    const r = await run(
      'machine: { arch: i386 }\nsteps:\n  - spawn: { as: p }\n  - spawn: { as: p }\n  - mmap: { proc: p, as: a, length: 1p, prot: rw }\n  - mmap: { proc: p, as: a, length: 1p, prot: rw }\n',
    )
    expect(r).toMatchObject({
      code: 2,
      err: "w.yaml:4:18: steps[1].spawn.as: a process or group named 'p' is already defined: choose another name\nw.yaml:6:26: steps[3].mmap.as: a region named 'a' is already defined by an earlier step: choose another name (mremap's 'as' may re-bind a name)\n",
    })
  })
})

describe('the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rmaplab-dir-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('--arch i386,i386 is refused (two identical columns), not merged', async () => {
    const r = await inProcess(['run', 'a1', '--arch', 'i386,i386'])
    expect(r).toMatchObject({ code: 2, stderr: "--arch: 'i386' is given twice (i386,i386)\n" })
  })

  it('a directory as the target is said to be a directory', async () => {
    const r = await inProcess(['run', dir])
    expect(r).toMatchObject({
      code: 2,
      stderr: `${dir}: is a directory; give a workload file (.yaml, .yml, .json) or an experiment name\n`,
    })
  })

  it('try_to_unmap and pageout on pages that are not present say so in the normal output', async () => {
    const r = await run(
      'machine: { arch: i386 }\nsteps:\n  - spawn: { as: p }\n  - mmap: { proc: p, as: a, length: 4p, prot: rw }\n  - write: { proc: p, region: a, pages: 2, value: 1 }\n  - try_to_unmap: { proc: p, region: a }\n  - pageout: { proc: p, region: a }\n',
    )
    expect(r.code).toBe(0)
    expect(r.out).toContain(
      '    note: step 4 (w.yaml:6:5) try_to_unmap p a: 2 of 4 page(s) from 0x40000000 in p (pid 1) not present (no frame to walk), skipped\n',
    )
    expect(r.out).toContain('    note: step 5 (w.yaml:7:5) pageout p a: 2 of 4 page(s) from 0x40000000')
  })
})
