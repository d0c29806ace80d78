import { describe, expect, it } from 'vitest'
import { checkRefs, EXEMPT, formatProblems } from '../src/check-refs.mjs'
import { workingTree } from '../src/files.mjs'
import { DOCS_URL, rewriteRefs } from '../src/refmap.mjs'

describe('the codemod (rewrite-refs)', () => {
  it.each([
    [
      'packages/conformance/src/checks/vm.ts',
      "cite: () => 'scenarios.md A1; rmap.md §2.2 do_wp_page, fork',",
      "cite: () => 'docs/scenarios.md#a1; docs/designs.md#objrmap-and-anon_vma do_wp_page, fork',",
    ],
    [
      'packages/rmap/src/mremap.ts',
      ' * nothing (kernel-facts/\n * rmap.md §2.2, "Why anonymous vm_pgoff makes mremap free"): an',
      ' * nothing (docs/designs.md#mremap-and-the-anonymous-vm_pgoff): an',
    ],
    [
      'tools/x.test.ts',
      '// (kernel-facts/rmap.md §2.1, §2.2, §3.16–3.17, §7; scenarios.md F2, C1)',
      '// (docs/designs.md#locking-and-the-reclaim-order, docs/designs.md#objrmap-and-anon_vma, docs/designs.md#invariants (16–17), docs/designs.md#the-three-states-of-an-anonymous-page; docs/scenarios.md F2, C1)',
    ],
    [
      'packages/rmap/src/objrmap.ts',
      ' * Strategy B (kernel-facts/rmap.md\n * §2.2), then later §3 (19) and kernel-facts §6',
      ' * Strategy B (docs/designs.md#objrmap-and-anon_vma), then later docs/designs.md#invariants (19) and docs/layouts.md#mmu-cache-coherence',
    ],
    [
      'arch/i386/README.md',
      'Facts worth knowing (kernel-facts/arch.md §2–3):\n`kernel-facts/vectors/i386.json`',
      'Facts worth knowing ([docs/layouts#i386](../../docs/layouts.md#i386), [docs/layouts#i386-pae](../../docs/layouts.md#i386-pae)):\n`packages/conformance/src/fixtures/i386.ts`',
    ],
    [
      'packages/cli/src/cli.ts',
      "'Acceptance scenarios (shared/acceptance/scenarios.md), with their outcomes'",
      `'Acceptance scenarios (${DOCS_URL}docs/scenarios.md), with their outcomes'`,
    ],
    [
      'packages/conformance/src/fixtures/ppc.ts',
      "    doc: 'arch.md',\n    section: '§4',",
      "    doc: 'docs/layouts.md',\n    section: '#ppc',",
    ],
    [
      'packages/rmap/src/truncate.ts',
      ' * follows that (design.md, "Which kernel"); content (design.md "content is never lost")',
      ' * follows that (docs/README.md#which-kernel); content (docs/simplifications.md#page-content)',
    ],
    [
      'README.md',
      '(see ../shared/kernel-facts/rmap.md §4)',
      '(see [docs/designs#costs](docs/designs.md#costs))',
    ],
    [
      'packages/rmap/src/x.ts',
      '// the seed (kernel-facts/lkml-2004-03-19-andrea-re-2.6.5-rc1-aa1.txt); facts in `kernel-facts/`, `acceptance/`',
      '// the seed (docs/reverse-mapping.md#the-re-265-rc1-aa1-thread); facts in `docs/sources.md`, `docs/scenarios.md`',
    ],
  ])('%s', (file, before, after) => {
    const r = rewriteRefs(file, before)
    expect(r.unresolved).toEqual([])
    expect(r.text).toBe(after)
    expect(rewriteRefs(file, r.text).text).toBe(after)
  })

  it('reports a section number it cannot place, and leaves it', () => {
    const r = rewriteRefs('packages/rmap/src/x.ts', '// see §2.2 somewhere')
    expect(r.text).toBe('// see §2.2 somewhere')
    expect(r.unresolved).toHaveLength(1)
  })

  it('rewritten, the whole repository passes the reference check, and a second run changes nothing', () => {
    const tree = workingTree()
    const rewritten = new Map<string, string>()
    const unresolved: string[] = []
    for (const file of tree.files) {
      if (file.startsWith('docs/') || EXEMPT.some((re) => re.test(file))) continue
      if (!/\.(?:[cm]?[jt]sx?|json|md|ya?ml)$/.test(file) || file.endsWith('pnpm-lock.yaml')) continue
      const text = tree.read(file)
      const once = rewriteRefs(file, text)
      unresolved.push(...once.unresolved)
      expect(rewriteRefs(file, once.text).text, file).toBe(once.text)
      if (once.text !== text) rewritten.set(file, once.text)
    }
    expect(unresolved).toEqual([])
    const problems = checkRefs({
      files: tree.files,
      read: (p) => rewritten.get(p) ?? tree.read(p),
      exists: tree.exists,
    })
    expect(formatProblems(problems)).toBe('')
  })
})
