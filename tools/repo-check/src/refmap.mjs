/**
 * The map from the project's old references — paths into private inputs that
 * are not in the repository — to the concepts guide in `docs/` (or to the file
 * of the repository that now holds the thing), and the rewrite that applies it.
 *
 * Old forms handled (with or without a `../shared/` or `shared/` prefix, and
 * with the path broken over a comment line):
 *
 * - `kernel-facts/rmap.md §2.2`, `rmap.md §1.3, §2.2`, `§3.16–3.17`, `§3 (19)`
 *   → `docs/designs.md#…` (a bare `§N` later in the same file continues the
 *   document named last);
 * - `kernel-facts/arch.md §4, §6`, `arch.md §2–3`, `kernel-facts §6`
 *   → `docs/layouts.md#…`;
 * - `kernel-facts/vectors/<arch>.json` → the fixture module that ships those
 *   rows; `kernel-facts/vectors/` → `docs/layouts.md#the-test-vectors`;
 * - `shared/acceptance/scenarios.md`, `scenarios.md A1` → `docs/scenarios.md#a1`;
 * - `design.md, "Which kernel"` and the other design.md citations → the
 *   matching section of `docs/`;
 * - the seed message's copy (`kernel-facts/lkml-….txt`) → the thread's section
 *   of `docs/reverse-mapping.md`; the folders `kernel-facts/` and
 *   `acceptance/` → `docs/sources.md` and `docs/scenarios.md`.
 *
 * `conventions.md` (toolchain notes) has no page: it is reported, not
 * rewritten.
 *
 * How a target is written depends on the file: a Markdown link relative to the
 * file in Markdown prose, a plain `docs/page.md#anchor` in code and in
 * Markdown code spans, and a full GitHub URL in the cli's sources (its strings
 * are printed to users who may not have the repository).
 */
import { segments } from './markdown.mjs'

/** Where the docs are published, for text the cli prints. */
export const DOCS_URL = 'https://github.com/rmaplab/rmaplab/blob/main/'

/** Sections of the VM facts document → page#anchor under docs/. */
export const RMAP_SECTIONS = {
  0: 'sources.md#mail',
  1: 'designs.md#data-structures-and-sizes',
  1.6: 'designs.md#pte_chains',
  1.7: 'designs.md#anonmm',
  2: 'designs.md#objrmap-and-anon_vma',
  2.1: 'designs.md#locking-and-the-reclaim-order',
  2.2: 'designs.md#objrmap-and-anon_vma',
  2.3: 'designs.md#pte_chains',
  2.4: 'designs.md#anonmm',
  2.5: 'designs.md#what-267-merged',
  3: 'designs.md#invariants',
  4: 'designs.md#costs',
  5: 'designs.md#what-267-merged',
  6: 'designs.md#open-questions',
  7: 'designs.md#the-three-states-of-an-anonymous-page',
  8: 'designs.md#pte_chains',
}

/** Sections of the page-table facts document → page#anchor under docs/. */
export const ARCH_SECTIONS = {
  0: 'sources.md#kernel-trees',
  1: 'layouts.md#pagetables-accounting',
  1.1: 'layouts.md#pagetables-accounting',
  1.2: 'layouts.md#pagetables-accounting',
  1.3: 'layouts.md#swap-entries',
  1.4: 'layouts.md#finding-a-ptes-mm-and-address',
  2: 'layouts.md#i386',
  3: 'layouts.md#i386-pae',
  4: 'layouts.md#ppc',
  5: 'layouts.md#ppc64',
  6: 'layouts.md#mmu-cache-coherence',
  7: 'layouts.md#open-points',
  8: 'layouts.md#the-test-vectors',
}

/** A whole document cited without a section. */
const DOC_PAGES = { rmap: 'designs.md', arch: 'layouts.md' }

/** Quoted section titles that have a page section of their own. */
export const TITLES = {
  'Why anonymous vm_pgoff makes mremap free': 'designs.md#mremap-and-the-anonymous-vm_pgoff',
  'Published numbers (2004)': 'designs.md#published-numbers',
  'Which kernel': 'README.md#which-kernel',
  'content is never lost': 'simplifications.md#page-content',
  'Public API': 'README.md#the-public-api-in-one-example',
}

/** The design document, cited without a title. */
const DESIGN_DEFAULT = 'README.md#the-public-api-in-one-example'

/** Files whose bare `§N` (with no document named before it) mean the page-table facts. */
const ARCH_DEFAULT = [
  /^packages\/conformance\/src\/checks\/(?:define|encodings|pgtable|mmu)\.ts$/,
  /^arch\//,
  /^examples\//,
]

/**
 * Whole sentences that need more than a path swap, applied first.
 * Each is [pattern, replacement].
 *
 * @type {Array<[RegExp, string]>}
 */
export const LITERALS = [
  [
    /`arch\.md` is `kernel-facts\/arch\.md`, the project's paraphrase of the 2\.6\s+headers; `§2`–`§5` are the sections of\s+i386, i386 PAE, ppc and ppc64\./g,
    "`docs/layouts.md` is the project's description of the four layouts; `#i386`,\n`#i386-pae`, `#ppc` and `#ppc64` are its sections for each.",
  ],
  // conformance's `generic()` prefixed every citation with the document; the
  // citation now starts with its own docs/ path.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the replacement is source text, not a template
  [/`arch\.md \$\{text\}`/g, '`${text}`'],
  // conformance's `sec()` joins a fixture's `doc` and `section` into test names;
  // a section that is an anchor (`#i386`) follows the page without a space.
  [
    /`\$\{f\.doc\} \$\{f\.section\} \$\{topic\}`/g,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the replacement is source text, not a template
    "`${f.doc}${f.section.startsWith('#') ? '' : ' '}${f.section} ${topic}`",
  ],
  [/\(e\.g\. `"§2"`\)/g, '(e.g. `"#i386"`, an anchor of that page)'],
  // conformance's own tests of the citation format
  [/\/\^§\[2-5\]\$\//g, '/^#(?:i386|i386-pae|ppc|ppc64)$/'],
  [
    /`\^scenarios\\\\\.md \$\{letter\}\\\\b`/g,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the replacement is source text, not a template
    '`^docs/scenarios\\\\.md#${letter.toLowerCase()}\\\\b`',
  ],
  [/\bkernel-facts(?= vector)/g, 'published'],
  [/§8 of\s+arch\.md explains the fields/g, 'arch.md §8 explains the fields'],
]

const PREFIX = String.raw`(?:\.\.\/)*(?:shared\/)?`
const BREAK = String.raw`(?:[ \t]*\n[ \t]*(?:\*|\/\/)?[ \t]*)`
const NOT_PATH = String.raw`(?<![\w/.#-])`

const START = new RegExp(
  [
    String.raw`(?<vec>${PREFIX}kernel-facts\/vectors\/(?:(?<vecname>i386-pae|i386|ppc64|ppc|<arch>)\.json)?)`,
    String.raw`(?<lkml>${PREFIX}kernel-facts\/lkml-[\w.-]+\.txt)`,
    String.raw`(?<kf>${PREFIX}kernel-facts(?=[ \t]+§))`,
    String.raw`(?<doc>(?:${PREFIX}kernel-facts\/${BREAK}?|${NOT_PATH})(?<docname>rmap|arch)\.md\b)`,
    String.raw`(?<kfdir>${PREFIX}kernel-facts\/?(?![\w<-]))`,
    String.raw`(?<accdir>${PREFIX}acceptance\/(?!scenarios\.md))`,
    String.raw`(?<scen>(?:${PREFIX}acceptance\/|${NOT_PATH})scenarios\.md\b)`,
    String.raw`(?<design>(?:${PREFIX}|${NOT_PATH})design\.md\b)`,
    String.raw`(?<sec>§[ \t]?\d+(?:\.\d+)*(?:[ \t]?[–-][ \t]?§?\d+(?:\.\d+)*)?)`,
  ].join('|'),
  'g',
)

const SEC =
  /^(?<lead>[ \t]*|[ \t]*\n[ \t]*(?:\*|\/\/)?[ \t]*)§[ \t]?(?<a>\d+(?:\.\d+)*)(?:[ \t]?[–-][ \t]?§?(?<b>\d+(?:\.\d+)*))?/
const MORE = /^(?:,[ \t]*|[ \t]+and[ \t]+|,?[ \t]*\n[ \t]*(?:\*|\/\/)?[ \t]*)(?=§[ \t]?\d)/
const TITLE = /^,?[ \t]*"([^"]+)"/
const SCEN_ID = /^[ \t]+([A-H]\d+)\b/
const SCEN_MORE = /^[ \t]*(?:,|–|-|…|\band\b)[ \t]*[A-H]\d*\b/

/**
 * @param {'rmap' | 'arch'} doc
 * @param {string} sec
 * @returns {string | null}
 */
export function resolveSection(doc, sec) {
  const table = doc === 'rmap' ? RMAP_SECTIONS : ARCH_SECTIONS
  if (Object.hasOwn(table, sec)) return table[sec]
  const major = sec.split('.')[0]
  return Object.hasOwn(table, major) ? table[major] : null
}

/** The sections a `§a` or `§a–b` names. */
function expand(a, b) {
  if (!b) return [a]
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && Number(b) > Number(a) && Number(b) - Number(a) < 8) {
    const out = []
    for (let i = Number(a); i <= Number(b); i++) out.push(String(i))
    return out
  }
  return [a, b]
}

/**
 * How a file writes a reference: `md` (links in prose, plain in code),
 * `url` (full URLs: the cli's sources), `plain`.
 *
 * @param {string} file
 */
export function modeOf(file) {
  if (file.endsWith('.md')) return 'md'
  if (file.startsWith('packages/cli/src/')) return 'url'
  return 'plain'
}

/**
 * Write one target. `target` is `page.md#anchor` under docs/, or a
 * repository path (`packages/...`).
 */
function render(target, file, mode, code) {
  const repoPath = target.startsWith('packages/') ? target : `docs/${target}`
  if (mode === 'url' && !repoPath.includes('<')) return `${DOCS_URL}${repoPath}`
  if (mode !== 'md' || code || repoPath.includes('<')) return repoPath
  const [path, anchor] = repoPath.split('#')
  const from = file.split('/').slice(0, -1)
  const to = path.split('/')
  let i = 0
  while (i < from.length && i < to.length - 1 && from[i] === to[i]) i++
  const rel = [...from.slice(i).map(() => '..'), ...to.slice(i)].join('/')
  const label = path.startsWith('docs/') ? path.replace(/\.md$/, '') : path
  return `[${label}${anchor ? `#${anchor}` : ''}](${rel}${anchor ? `#${anchor}` : ''})`
}

/**
 * Rewrite one piece of text. `state.doc` carries the document named last
 * (so that a later bare `§N` continues it) across the pieces of one file.
 *
 * @param {string} text
 * @param {{ file: string, mode: string, code: boolean, state: { doc: 'rmap' | 'arch' | null }, unresolved: string[] }} ctx
 */
function rewritePiece(text, ctx) {
  const { file, mode, code, state } = ctx
  let out = ''
  let last = 0
  START.lastIndex = 0
  for (let m = START.exec(text); m; m = START.exec(text)) {
    const g = m.groups
    let end = m.index + m[0].length
    /** @type {string[]} */
    let targets = []
    /** Numbers to show after a target (invariant numbers), by target. */
    const notes = new Map()
    let replacement = null

    const sections = (doc) => {
      const found = []
      let rest = text.slice(end)
      let first = true
      for (;;) {
        if (!first) {
          const more = MORE.exec(rest)
          if (!more) break
          rest = rest.slice(more[0].length)
          end += more[0].length
        }
        const s = SEC.exec(rest)
        if (!s || (!first && s.groups.lead)) break
        for (const sec of expand(s.groups.a, s.groups.b)) {
          const t = resolveSection(doc, sec)
          if (t) found.push(t)
          else ctx.unresolved.push(`${file}: ${doc} §${sec}`)
        }
        // The invariants keep their numbers: §3.17 → #invariants (17).
        const inv = doc === 'rmap' && /^3\.(\d+)$/.exec(s.groups.a)
        if (inv) {
          const to = s.groups.b && /^3\.(\d+)$/.exec(s.groups.b)
          const list = notes.get(RMAP_SECTIONS[3]) ?? []
          list.push(to ? `${inv[1]}–${to[1]}` : inv[1])
          notes.set(RMAP_SECTIONS[3], list)
        }
        rest = rest.slice(s[0].length)
        end += s[0].length
        first = false
      }
      const title = TITLE.exec(rest)
      if (title && Object.hasOwn(TITLES, title[1]) && TITLES[title[1]].startsWith('designs.md')) {
        found.splice(Math.max(found.length - 1, 0), 1, TITLES[title[1]])
        end += title[0].length
      }
      return found
    }

    if (g.vec) {
      state.doc = 'arch'
      targets = [
        g.vecname ? `packages/conformance/src/fixtures/${g.vecname}.ts` : 'layouts.md#the-test-vectors',
      ]
    } else if (g.lkml) {
      targets = ['reverse-mapping.md#the-re-265-rc1-aa1-thread']
    } else if (g.kfdir) {
      targets = ['sources.md']
    } else if (g.accdir) {
      targets = ['scenarios.md']
    } else if (g.kf) {
      state.doc = 'arch'
      targets = sections('arch')
      if (!targets.length) targets = [DOC_PAGES.arch]
    } else if (g.doc) {
      const doc = /** @type {'rmap' | 'arch'} */ (g.docname)
      state.doc = doc
      targets = sections(doc)
      if (!targets.length) targets = [DOC_PAGES[doc]]
    } else if (g.scen) {
      const rest = text.slice(end)
      const id = SCEN_ID.exec(rest)
      if (id && !SCEN_MORE.test(rest.slice(id[0].length))) {
        targets = [`scenarios.md#${id[1].toLowerCase()}`]
        end += id[0].length
      } else {
        targets = ['scenarios.md']
      }
    } else if (g.design) {
      const rest = text.slice(end)
      const title = TITLE.exec(rest)
      const api = /^,?[ \t]+Public API\b/.exec(rest)
      if (title && Object.hasOwn(TITLES, title[1])) {
        targets = [TITLES[title[1]]]
        end += title[0].length
      } else if (api) {
        targets = [TITLES['Public API']]
        end += api[0].length
      } else if (/^:[ \t]*writeback/.test(rest)) {
        targets = [TITLES['content is never lost']]
      } else {
        targets = [DESIGN_DEFAULT]
      }
    } else if (g.sec) {
      const doc = state.doc ?? (ARCH_DEFAULT.some((re) => re.test(file)) ? 'arch' : null)
      if (!doc) {
        ctx.unresolved.push(`${file}: ${m[0]} (no document named before it)`)
        continue
      }
      end = m.index
      targets = sections(doc)
      if (!targets.length) continue
      // The conformance fixtures' `section: '§2'` joins `doc: 'docs/layouts.md'` in test names.
      if (/section:\s*'$/.test(text.slice(0, m.index))) replacement = `#${targets[0].split('#')[1]}`
    }

    const unique = [...new Set(targets)]
    replacement ??= unique
      .map((t) => render(t, file, mode, code) + (notes.has(t) ? ` (${notes.get(t).join(', ')})` : ''))
      .join(', ')
    out += text.slice(last, m.index) + replacement
    last = end
    START.lastIndex = end
  }
  return out + text.slice(last)
}

/**
 * Rewrite every old reference in one file's text. Idempotent: the output has
 * no old form left, so a second run changes nothing.
 *
 * @param {string} file repository-relative POSIX path
 * @param {string} text
 * @returns {{ text: string, unresolved: string[] }}
 */
export function rewriteRefs(file, text) {
  let t = text
  for (const [re, rep] of LITERALS) t = t.replace(re, rep)
  const mode = modeOf(file)
  const state = { doc: ARCH_DEFAULT.some((re) => re.test(file)) ? 'arch' : null }
  /** @type {string[]} */
  const unresolved = []
  if (mode !== 'md') {
    t = rewritePiece(t, { file, mode, code: false, state, unresolved })
  } else {
    // Markdown: prose gets links, code spans and blocks get plain paths.
    t = segments(t)
      .map((s) => rewritePiece(s.text, { file, mode, code: s.code, state, unresolved }))
      .join('')
  }
  return { text: t, unresolved }
}
