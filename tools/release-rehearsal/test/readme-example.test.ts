import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { exampleBlocks, exampleScript, withClaimsChecked } from '../src/lib/readme-example.js'
import { REPO_ROOT } from '../src/lib/workspace.js'

function runScript(js: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-readme-test-'))
  try {
    writeFileSync(join(dir, 'x.mjs'), js)
    const r = spawnSync(process.execPath, [join(dir, 'x.mjs')], { encoding: 'utf8' })
    return { status: r.status, out: r.stdout + r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('withClaimsChecked', () => {
  test('turns `expression // value…` lines into checks, and leaves everything else alone', () => {
    const block = [
      "import { ppc64 } from '@rmaplab/arch-ppc64'",
      'const a = 0x1fffffff000 // the last user page',
      'ppc64.pgdIndex(0x1ffffffffffn) // 1023: the last user pgd entry',
      'ppc64.pteNone(ppc64.bits._PAGE_HPTEFLAGS!) // true: pte_none ignores the HPTE flags',
      'mmu.ptepTestAndClearYoung(ptr) // true; 2.6.7 keeps the HPTE flags',
      'ppc64.mkPte(0x123456789n, ppc64.prot.PAGE_READONLY) // 0x1234567890113n: pfn << 16',
      'mmu.flushTlbPending() // flush_hash_page goes to the slot the old pte names',
      'pteUnmap(env, ptr) // a no-op on ppc64',
      'mmu.size // 0',
    ].join('\n')
    const { code, claims } = withClaimsChecked(block)
    expect(claims).toBe(5)
    const lines = code.split('\n')
    expect(lines[0]).toBe("import { ppc64 } from '@rmaplab/arch-ppc64'")
    expect(lines[1]).toBe('const a = 0x1fffffff000 // the last user page')
    expect(lines[2]).toMatch(/^__claim\(ppc64\.pgdIndex\(0x1ffffffffffn\), 1023, "/)
    expect(lines[3]).toMatch(/^__claim\(ppc64\.pteNone\(ppc64\.bits\._PAGE_HPTEFLAGS!\), true, "/)
    expect(lines[5]).toMatch(
      /^__claim\(ppc64\.mkPte\(0x123456789n, ppc64\.prot\.PAGE_READONLY\), 0x1234567890113n, "/,
    )
    expect(lines[6]).toBe('mmu.flushTlbPending() // flush_hash_page goes to the slot the old pte names')
    expect(lines[8]).toMatch(/^__claim\(mmu\.size, 0, "/)
  })
})

describe('exampleScript', () => {
  test('strips the types and passes when every claim holds', () => {
    const block = 'const x: bigint = 3n\nx * 2n // 6n: doubled\nconst n = Number(x) as number\nn + 1 // 4\n'
    const { js, claims } = exampleScript(block)
    expect(claims).toBe(2)
    const r = runScript(js)
    expect(r.out).toContain('README example ran; 2 claims hold')
    expect(r.status).toBe(0)
  })

  test('fails, naming the line, when a claim does not hold (a bigint is not a number)', () => {
    const { js } = exampleScript('const x = 3n\nx * 2n // 6: doubled\nx + 1n // 4n\n')
    const r = runScript(js)
    expect(r.status).toBe(1)
    expect(r.out).toContain('README claims that do not hold (1 of 2)')
    expect(r.out).toContain('x * 2n // 6: doubled')
    expect(r.out).toContain('evaluates to 6n')
  })
})

test('the arch-ppc64 README keeps runnable examples with checkable claims', () => {
  const blocks = exampleBlocks(readFileSync(join(REPO_ROOT, 'arch/ppc64/README.md'), 'utf8'))
  expect(blocks.length).toBeGreaterThanOrEqual(2)
  const claims = blocks.map((b) => withClaimsChecked(b).claims).reduce((a, b) => a + b, 0)
  expect(claims).toBeGreaterThanOrEqual(10)
})
