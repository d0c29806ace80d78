/**
 * The reference check: no file of the repository may point at something a
 * reader of the repository does not have.
 *
 * - No paths into the project's private inputs: `../shared/...`,
 *   `kernel-facts/...`, `acceptance/scenarios.md`, and the bare names of those
 *   documents (`design.md`, `rmap.md`, `arch.md`, `scenarios.md`,
 *   `conventions.md`) or their section numbers (`§2.2`). The concepts guide in
 *   `docs/` replaces them; `tools/repo-check/src/refmap.mjs` maps each old form.
 * - Every `docs/<page>.md#anchor` named anywhere (code comments, test names,
 *   cli strings, URLs) exists, anchor included.
 * - Every relative Markdown link `[text](path#anchor)` resolves to a file or
 *   folder of the repository, and, for a Markdown target, to an anchor of it.
 *
 * Pure: it takes the file list and a reader, so a test can plant bad
 * references in an in-memory repository.
 */
import { posix } from 'node:path'
import { anchors, segments } from './markdown.mjs'

/** Files that hold the old forms on purpose (the codemod's table and its tests). */
export const EXEMPT = [/^tools\/repo-check\//]

/** Text files worth reading; everything else (images, the lockfile) is skipped. */
const TEXT = /\.(?:[cm]?[jt]sx?|json|jsonc|md|ya?ml|txt|svg|html|css|sh)$/
const SKIP = [/(^|\/)pnpm-lock\.yaml$/, /(^|\/)node_modules\//]

/** @typedef {{ file: string, line: number, rule: string, text: string, message: string }} Problem */

/** The forms that name the private inputs. */
export const FORBIDDEN = [
  {
    rule: 'shared',
    re: /\.\.\/shared\/[^\s'"`)\]>]*|(?<![\w/.-])shared\/(?:kernel-facts|acceptance)[^\s'"`)\]>]*/g,
  },
  { rule: 'kernel-facts', re: /kernel-facts[^\s'"`)\]>,;]*/g },
  { rule: 'acceptance', re: /acceptance\/scenarios\.md/g },
  { rule: 'input-doc', re: /(?<![\w/.#-])(?:design|rmap|arch|scenarios|conventions)\.md\b/g },
  { rule: 'section-number', re: /§\s?\d+(?:\.\d+)*/g },
]

const DOCS_REF = /(?<![\w.-])docs\/([\w.-]+\.md)(?:#([\w-]+))?/g
const MD_LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g

/**
 * @param {string} text
 * @param {number} index
 */
function lineOf(text, index) {
  let n = 1
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++
  return n
}

/**
 * Check every file. `files` are repository-relative POSIX paths (as `git
 * ls-files` gives them); `read(path)` returns a file's text; `exists(path)`
 * says whether a path (file or folder) exists.
 *
 * @param {{ files: readonly string[], read: (path: string) => string, exists: (path: string) => boolean }} repo
 * @returns {Problem[]}
 */
export function checkRefs({ files, read, exists }) {
  /** @type {Problem[]} */
  const problems = []
  /** @type {Map<string, Set<string>>} */
  const anchorCache = new Map()
  const anchorsOf = (path) => {
    let a = anchorCache.get(path)
    if (!a) {
      a = anchors(read(path))
      anchorCache.set(path, a)
    }
    return a
  }
  const report = (file, text, index, rule, match, message) =>
    problems.push({ file, line: lineOf(text, index), rule, text: match, message })

  for (const file of files) {
    if (!TEXT.test(file) || SKIP.some((re) => re.test(file))) continue
    if (EXEMPT.some((re) => re.test(file))) continue
    let text
    try {
      text = read(file)
    } catch {
      continue
    }

    for (const { rule, re } of FORBIDDEN) {
      for (const m of text.matchAll(re)) {
        // A relative reference to a page that does exist (docs/scenarios.md from docs/README.md).
        if (rule === 'input-doc' && exists(posix.join(posix.dirname(file), m[0]))) continue
        report(
          file,
          text,
          m.index,
          rule,
          m[0],
          'names a document that is not in the repository: point at docs/ (run tools/repo-check/src/rewrite-refs.mjs) or at the upstream source by name',
        )
      }
    }

    // In Markdown, a link's target is checked below as a link, not twice.
    const linkTargets = file.endsWith('.md') ? linkTargetRanges(text) : []
    for (const m of text.matchAll(DOCS_REF)) {
      if (linkTargets.some(([a, b]) => m.index >= a && m.index < b)) continue
      const page = `docs/${m[1]}`
      if (!exists(page)) {
        report(file, text, m.index, 'docs-page', m[0], `${page} does not exist`)
      } else if (m[2] && !anchorsOf(page).has(m[2])) {
        report(file, text, m.index, 'docs-anchor', m[0], `${page} has no anchor #${m[2]}`)
      }
    }

    if (!file.endsWith('.md')) continue
    let offset = 0
    for (const seg of segments(text)) {
      if (!seg.code) {
        for (const m of seg.text.matchAll(MD_LINK)) {
          const target = m[1]
          const at = offset + m.index
          if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue
          const hash = target.indexOf('#')
          const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
          const anchor = hash < 0 ? '' : target.slice(hash + 1)
          const resolved = pathPart ? posix.normalize(posix.join(posix.dirname(file), pathPart)) : file
          if (resolved.startsWith('..')) {
            report(file, text, at, 'link-outside', m[0], `${target} leaves the repository`)
            continue
          }
          const path = resolved.replace(/\/$/, '')
          if (!exists(path)) {
            report(file, text, at, 'link-missing', m[0], `${path} does not exist`)
          } else if (anchor && path.endsWith('.md') && !anchorsOf(path).has(anchor)) {
            report(file, text, at, 'link-anchor', m[0], `${path} has no anchor #${anchor}`)
          }
        }
      }
      offset += seg.text.length
    }
  }
  return problems
}

/**
 * Where the targets of the Markdown links in prose lie, as [start, end) offsets.
 *
 * @param {string} text
 * @returns {Array<[number, number]>}
 */
function linkTargetRanges(text) {
  /** @type {Array<[number, number]>} */
  const out = []
  let offset = 0
  for (const seg of segments(text)) {
    if (!seg.code) {
      for (const m of seg.text.matchAll(MD_LINK)) {
        const start = offset + m.index + m[0].lastIndexOf(m[1])
        out.push([start, start + m[1].length])
      }
    }
    offset += seg.text.length
  }
  return out
}

/**
 * One line per problem, `file:line [rule] text — message`.
 *
 * @param {Problem[]} problems
 */
export function formatProblems(problems) {
  return problems.map((p) => `${p.file}:${p.line} [${p.rule}] ${p.text} — ${p.message}`).join('\n')
}
