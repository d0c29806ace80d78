/**
 * The little Markdown knowledge the reference check and the codemod need:
 * which parts of a file are code (fenced blocks, inline code spans), and which
 * anchors a page offers (GitHub's heading slugs, explicit `<a id>` / `name`).
 *
 * Written here rather than taken from a Markdown parser: the pages this checks
 * are the project's own, the rules below are the whole of what GitHub does for
 * them (lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` for
 * repeats), and a parser would bring a dependency to every contributor's
 * install for forty lines of logic.
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})/

/**
 * Split Markdown text into alternating prose and code segments. Code is a
 * fenced block (with its fences) or an inline code span; everything else is
 * prose. Concatenating the `text` of the segments gives back the input.
 *
 * @param {string} text
 * @returns {Array<{ code: boolean, text: string }>}
 */
export function segments(text) {
  /** @type {Array<{ code: boolean, text: string }>} */
  const out = []
  const push = (code, t) => {
    if (!t) return
    const last = out[out.length - 1]
    if (last && last.code === code) last.text += t
    else out.push({ code, text: t })
  }
  const lines = text.split(/(?<=\n)/)
  let fence = null
  for (const line of lines) {
    if (fence) {
      push(true, line)
      const m = FENCE.exec(line)
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = null
      continue
    }
    const m = FENCE.exec(line)
    if (m) {
      fence = m[1]
      push(true, line)
      continue
    }
    // Inline code spans: a run of N backticks closed by the same run.
    let i = 0
    while (i < line.length) {
      const open = line.indexOf('`', i)
      if (open < 0) {
        push(false, line.slice(i))
        break
      }
      let n = 0
      while (line[open + n] === '`') n++
      const ticks = '`'.repeat(n)
      let close = line.indexOf(ticks, open + n)
      while (close >= 0 && line[close + n] === '`') close = line.indexOf(ticks, close + n + 1)
      if (close < 0) {
        push(false, line.slice(i))
        break
      }
      push(false, line.slice(i, open))
      push(true, line.slice(open, close + n))
      i = close + n
    }
  }
  return out
}

/**
 * GitHub's anchor for a heading text (the github-slugger rule for ASCII text:
 * inline markup dropped, lower case, every character that is not a letter,
 * digit, space, hyphen or underscore removed, spaces to hyphens).
 *
 * @param {string} heading
 */
export function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/**
 * Every anchor a Markdown page offers: heading slugs (with `-1`, `-2` ... for
 * repeats, as GitHub numbers them) and explicit `id` / `name` attributes.
 *
 * @param {string} text
 * @returns {Set<string>}
 */
export function anchors(text) {
  const found = new Set()
  const seen = new Map()
  for (const seg of segments(text)) {
    if (seg.code && /^ {0,3}(`{3,}|~{3,})/.test(seg.text)) continue
    for (const m of seg.text.matchAll(/\b(?:id|name)="([^"]+)"/g)) found.add(m[1])
  }
  let fence = null
  for (const line of text.split('\n')) {
    const f = FENCE.exec(line)
    if (fence) {
      if (f && f[1][0] === fence[0] && line.trim() === f[1]) fence = null
      continue
    }
    if (f) {
      fence = f[1]
      continue
    }
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!h) continue
    const base = slug(h[1])
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    found.add(n === 0 ? base : `${base}-${n}`)
  }
  return found
}
