import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { checkIntegrity, checkTarball } from '../src/lib/checks.js'
import { readTarball } from '../src/lib/tarball.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A package tarball as npm lays it out (everything under package/), made with the system tar. */
function pack(files: Record<string, string>, format: 'ustar' | 'pax' = 'pax'): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-tar-test-'))
  dirs.push(dir)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, 'package', path)), { recursive: true })
    writeFileSync(join(dir, 'package', path), content)
  }
  execFileSync('tar', ['czf', join(dir, 'out.tgz'), `--format=${format}`, '-C', dir, 'package'])
  return readFileSync(join(dir, 'out.tgz'))
}

const VERSION = '0.1.0-rehearsal-20040319000000'

function manifest(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name: '@rmaplab/arch-x',
    version: VERSION,
    type: 'module',
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    dependencies: { '@rmaplab/rmap': `^${VERSION}` },
    ...extra,
  })
}

const good = {
  'package.json': manifest(),
  'dist/index.js': 'export {}',
  'dist/index.d.ts': 'export {}',
  'README.md': '# x',
  LICENSE: 'MIT',
}

describe('readTarball', () => {
  test('reads regular files, including paths longer than 100 bytes (pax and ustar prefix)', () => {
    const long = `dist/${'d'.repeat(60)}/${'f'.repeat(60)}.js`
    for (const format of ['pax', 'ustar'] as const) {
      const files = readTarball(pack({ 'a.txt': 'alpha', [long]: 'long one' }, format))
      expect(files.get('package/a.txt')?.toString()).toBe('alpha')
      expect(files.get(`package/${long}`)?.toString()).toBe('long one')
    }
  })
})

describe('checkTarball', () => {
  test('passes a well-formed package and reports its internal dependencies', () => {
    const report = checkTarball(pack(good), '@rmaplab/arch-x', VERSION)
    expect(report.internalDeps).toEqual([`@rmaplab/rmap@^${VERSION}`])
    expect(report.files).toBe(5)
  })

  test('refuses a workspace: range left in the packed manifest', () => {
    const tgz = pack({
      ...good,
      'package.json': manifest({ dependencies: { '@rmaplab/rmap': 'workspace:^' } }),
    })
    expect(() => checkTarball(tgz, '@rmaplab/arch-x', VERSION)).toThrow(
      /dependencies\.@rmaplab\/rmap is still "workspace:\^"/,
    )
  })

  test('refuses the source condition, a missing export target, a missing licence and build info', () => {
    const exports = {
      '.': { '@rmaplab/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/main.js' },
    }
    const { LICENSE: _, ...rest } = good
    const tgz = pack({ ...rest, 'package.json': manifest({ exports }), 'dist/.tsbuildinfo': '{}' })
    const message = (() => {
      try {
        checkTarball(tgz, '@rmaplab/arch-x', VERSION)
        return ''
      } catch (err) {
        return (err as Error).message
      }
    })()
    expect(message).toContain('@rmaplab/source')
    expect(message).toContain('./dist/main.js (named by exports/bin) is not in the tarball')
    expect(message).toContain('./src/index.ts (named by exports/bin) is not in the tarball')
    expect(message).toContain('LICENSE is not in the tarball')
    expect(message).toContain('package/dist/.tsbuildinfo should not be published')
  })

  test('refuses a sibling dependency on another version than the one rehearsed', () => {
    const tgz = pack({ ...good, 'package.json': manifest({ dependencies: { '@rmaplab/rmap': '^0.0.0' } }) })
    expect(() => checkTarball(tgz, '@rmaplab/arch-x', VERSION)).toThrow(/not the rehearsed/)
  })

  test('warns about source maps that name files the tarball does not have', () => {
    const map = JSON.stringify({
      version: 3,
      file: 'index.d.ts',
      sourceRoot: '',
      sources: ['../src/index.ts'],
    })
    const without = checkTarball(pack({ ...good, 'dist/index.d.ts.map': map }), '@rmaplab/arch-x', VERSION)
    expect(without.warnings).toEqual([
      expect.stringMatching(/^1 files named by its source maps .*src\/index\.ts/),
    ])
    const withSources = pack({ ...good, 'dist/index.d.ts.map': map, 'src/index.ts': '' })
    expect(checkTarball(withSources, '@rmaplab/arch-x', VERSION).warnings).toEqual([])
  })

  test('checks a bin target is in the tarball', () => {
    const tgz = pack({ ...good, 'package.json': manifest({ bin: { x: './bin/x.js' } }) })
    expect(() => checkTarball(tgz, '@rmaplab/arch-x', VERSION)).toThrow(/\.\/bin\/x\.js/)
  })
})

describe('checkIntegrity', () => {
  test('accepts the matching sha512 and refuses another', () => {
    const tgz = pack(good)
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`
    expect(() => checkIntegrity(tgz, integrity)).not.toThrow()
    expect(() => checkIntegrity(tgz, `sha512-${'A'.repeat(86)}==`)).toThrow(/integrity mismatch/)
    expect(() => checkIntegrity(tgz, undefined)).toThrow(/no sha512/)
  })
})
