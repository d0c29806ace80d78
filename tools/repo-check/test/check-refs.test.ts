import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkRefs, formatProblems } from '../src/check-refs.mjs'
import { repoFiles, workingTree } from '../src/files.mjs'
import { anchors, slug } from '../src/markdown.mjs'
import { ARCH_SECTIONS, RMAP_SECTIONS, TITLES } from '../src/refmap.mjs'

/** An in-memory repository: path → text; folders exist when a file lies below them. */
function memoryRepo(files: Record<string, string>) {
  const paths = Object.keys(files)
  return {
    files: paths,
    read: (p: string) => {
      const t = files[p]
      if (t === undefined) throw new Error(`no file ${p}`)
      return t
    },
    exists: (p: string) => p in files || paths.some((f) => f.startsWith(`${p}/`)),
  }
}

describe('the reference check', () => {
  it('no tracked file references a path that is not in the repository', () => {
    const problems = checkRefs(workingTree())
    expect(formatProblems(problems)).toBe('')
  })

  it('every docs/ target of the codemod exists, anchor included', () => {
    const tree = workingTree()
    const targets = [
      ...Object.values(RMAP_SECTIONS),
      ...Object.values(ARCH_SECTIONS),
      ...Object.values(TITLES),
    ]
    const missing = targets.filter((t) => {
      const [page, anchor] = t.split('#')
      const path = `docs/${page}`
      return !tree.exists(path) || (anchor !== undefined && !anchors(tree.read(path)).has(anchor))
    })
    expect(missing).toEqual([])
  })

  it('catches every kind of bad reference planted in a repository', () => {
    const repo = memoryRepo({
      'docs/guide.md':
        '# Guide\n\n## The 2.6.7 merge\n\n<a id="custom"></a>\n\nSee [scenarios](scenarios.md#a1).\n',
      'docs/scenarios.md': '# Scenarios\n\n### A1\n',
      'src/a.ts': [
        '// fine: docs/guide.md#the-267-merge, docs/guide.md#custom, docs/scenarios.md#a1',
        '// (kernel-facts/rmap.md §2.2)',
        "const s = '../shared/notes.txt'",
        '// see acceptance/scenarios.md and design.md, "Which kernel"',
        '// continues §3.17',
        '// docs/guide.md#nowhere and docs/missing.md',
      ].join('\n'),
      'README.md': [
        '[ok](docs/guide.md#custom) [ok dir](src) [ok url](https://example.com/x.md#y) [self](#readme)',
        '# Readme',
        '[gone](docs/none.md) [no anchor](docs/guide.md#nope) [up](../outside.md)',
        '`[in code](docs/none.md)` and rmap.md in prose',
        '```',
        '[in a block](docs/none.md)',
        '```',
      ].join('\n'),
    })
    const rules = checkRefs(repo).map((p) => `${p.file}:${p.line} ${p.rule} ${p.text}`)
    expect(rules).toEqual([
      'src/a.ts:3 shared ../shared/notes.txt',
      'src/a.ts:2 kernel-facts kernel-facts/rmap.md',
      'src/a.ts:4 acceptance acceptance/scenarios.md',
      'src/a.ts:4 input-doc design.md',
      'src/a.ts:2 section-number §2.2',
      'src/a.ts:5 section-number §3.17',
      'src/a.ts:6 docs-anchor docs/guide.md#nowhere',
      'src/a.ts:6 docs-page docs/missing.md',
      'README.md:4 input-doc rmap.md',
      // named in code, still a page that is not there
      'README.md:4 docs-page docs/none.md',
      'README.md:6 docs-page docs/none.md',
      'README.md:3 link-missing [gone](docs/none.md)',
      'README.md:3 link-anchor [no anchor](docs/guide.md#nope)',
      'README.md:3 link-outside [up](../outside.md)',
    ])
  })

  it('finds GitHub heading anchors as GitHub writes them', () => {
    expect(slug('The "Re: 2.6.5-rc1-aa1" thread')).toBe('the-re-265-rc1-aa1-thread')
    expect(slug("Finding a pte's mm and address")).toBe('finding-a-ptes-mm-and-address')
    expect(slug('`pte_chains`')).toBe('pte_chains')
    expect(slug('i386 PAE')).toBe('i386-pae')
    const a = anchors('# A\n## Swap\n## Swap\n```\n## not a heading\n```\n<a name="x"></a>\n')
    expect([...a].sort()).toEqual(['a', 'swap', 'swap-1', 'x'])
  })

  it('walks a copy that is not a git checkout, leaving out what .gitignore would', () => {
    const root = mkdtempSync(join(tmpdir(), 'repo-check-'))
    try {
      for (const f of ['README.md', 'docs/a.md', 'node_modules/x/y.md', 'pkg/dist/z.js', 'pkg/src/i.ts']) {
        mkdirSync(join(root, f, '..'), { recursive: true })
        writeFileSync(join(root, f), '')
      }
      expect(repoFiles(root)).toEqual(['README.md', 'docs/a.md', 'pkg/src/i.ts'])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
