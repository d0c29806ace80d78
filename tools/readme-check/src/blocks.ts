/**
 * The fenced code blocks of a README, each with what the text around it says
 * about it: a `<!-- not-run: reason -->` or `<!-- output-of: command -->`
 * comment on the last non-blank line before the fence.
 */

export interface Block {
  /** The README, relative to the repository root. */
  readonly file: string
  /** 1-based line of the opening fence. */
  readonly line: number
  /** The info string's first word (`ts`, `sh`, `yaml`), or '' for a bare fence. */
  readonly lang: string
  /** The text between the fences, with a final newline. */
  readonly code: string
  /** `<!-- not-run: reason -->` before the block. */
  readonly notRun?: string
  /** `<!-- output-of: command -->` before the block: the block is that command's output. */
  readonly outputOf?: string
}

const MARKER = /^<!--\s*(not-run|output-of):\s*(.*?)\s*-->$/

/** Every fenced block of `markdown` (``` or ~~~ fences, three or more). */
export function blocksOf(markdown: string, file: string): Block[] {
  const lines = markdown.split('\n')
  const out: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!)
    if (!open) continue
    const fence = open[2]!
    const start = i
    const body: string[] = []
    // A block inside a list item is indented like its fence: that indentation is not code.
    const indent = open[1]!.length
    for (i++; i < lines.length && !lines[i]!.trimStart().startsWith(fence); i++)
      body.push(lines[i]!.slice(Math.min(indent, /^\s*/.exec(lines[i]!)![0].length)))
    let before = start - 1
    while (before >= 0 && lines[before]!.trim() === '') before--
    const marker = before >= 0 ? MARKER.exec(lines[before]!.trim()) : null
    out.push({
      file,
      line: start + 1,
      lang: open[3]!.toLowerCase(),
      code: body.length ? `${body.join('\n')}\n` : '',
      ...(marker?.[1] === 'not-run' ? { notRun: marker[2]! } : {}),
      ...(marker?.[1] === 'output-of' ? { outputOf: marker[2]! } : {}),
    })
  }
  return out
}

/** `README.md:12 (ts)`, for test names and messages. */
export const where = (b: Block) => `${b.file}:${b.line}${b.lang ? ` (${b.lang})` : ''}`

/** How the README check runs a block, or why it cannot. */
export type BlockKind =
  | 'not-run'
  | 'output-of'
  | 'ts'
  | 'shell'
  | 'workload'
  | 'session'
  | { unrunnable: string }

export function kindOf(b: Block): BlockKind {
  if (b.notRun !== undefined) return 'not-run'
  if (b.outputOf !== undefined) return 'output-of'
  if (b.lang === 'ts' || b.lang === 'typescript') return 'ts'
  if (b.lang === 'sh' || b.lang === 'bash' || b.lang === 'shell') return 'shell'
  if ((b.lang === 'yaml' || b.lang === 'yml' || b.lang === 'json') && /^\s*"?steps"?:/m.test(b.code))
    return 'workload'
  if (b.lang === '' && b.code.startsWith('$ ')) return 'session'
  return {
    unrunnable: `a ${b.lang || 'bare'} block that is not a workload, a session (\`$ command\` then its output) or marked <!-- output-of: command -->; if it is not meant to run, put <!-- not-run: reason --> before it`,
  }
}
