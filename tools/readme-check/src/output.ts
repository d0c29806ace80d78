/**
 * A README's sample output against the real one. The figures must be the
 * same; what may differ: column padding (whitespace is collapsed, rules of
 * `─` compared as one), timings (`206.2 ms`, the `time ms` row), and what the
 * README leaves out: a line `…` (or `...`) stands for any number of lines,
 * `…` inside a line for any text.
 */
import { stripVTControlCharacters } from 'node:util'

function normalize(line: string): string {
  let l = stripVTControlCharacters(line).replace(/\s+/g, ' ').trim()
  l = l.replace(/─+/g, '─').replace(/-?[\d,]+(?:\.\d+)? ms\b/g, '# ms')
  if (/^time ms\b/.test(l)) l = l.replace(/(│ )[^│]*/g, '$1#')
  return l
}

const GAP = /^(…|\.\.\.)$/

type Segment = string[]

function segments(expected: string): { segs: Segment[]; openStart: boolean; openEnd: boolean } {
  const lines = expected.replace(/\n+$/, '').split('\n').map(normalize)
  const segs: Segment[] = [[]]
  for (const l of lines) {
    if (GAP.test(l)) segs.push([])
    else segs.at(-1)!.push(l)
  }
  return { segs, openStart: GAP.test(lines[0] ?? ''), openEnd: GAP.test(lines.at(-1) ?? '') }
}

function lineMatches(expected: string, actual: string): boolean {
  if (!expected.includes('…')) return expected === actual
  const re = new RegExp(
    `^${expected
      .split('…')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  )
  return re.test(actual)
}

const at = (seg: Segment, actual: string[], i: number) =>
  seg.every((l, k) => lineMatches(l, actual[i + k] ?? ''))

/** `undefined` when `actual` shows what `expected` says; else what differs. */
export function compareOutput(expected: string, actualText: string): string | undefined {
  const actual = actualText.replace(/\n+$/, '').split('\n').map(normalize)
  const { segs, openStart, openEnd } = segments(expected)
  let pos = 0
  for (const [n, seg] of segs.entries()) {
    if (seg.length === 0) continue
    const first = n === 0 && !openStart
    let found = -1
    if (first) found = at(seg, actual, 0) ? 0 : -1
    else
      for (let i = pos; i + seg.length <= actual.length && found < 0; i++) if (at(seg, actual, i)) found = i
    if (found < 0) {
      // Say where the closest attempt went wrong: the first expected line not found after pos.
      const missing = seg.find((l) => !actual.slice(pos).some((a) => lineMatches(l, a))) ?? seg[0]
      return `the README shows\n  ${seg.join('\n  ')}\nbut the output has no such lines (first missing: ${JSON.stringify(missing)}); the output:\n  ${actual.join('\n  ')}`
    }
    pos = found + seg.length
  }
  const last = segs.at(-1)!
  if (!openEnd && last.length > 0 && pos !== actual.length)
    return `the output goes on after what the README shows:\n  ${actual.slice(pos).join('\n  ')}`
  return undefined
}
