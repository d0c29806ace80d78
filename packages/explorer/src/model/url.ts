/**
 * The view in the URL's hash, so that a link reproduces it:
 * `#x=andrea&p=size:4M,levels:2&a=i386&b=ppc64&s=4&pid=1&addr=0x40000000&pfn=345&v=pt`.
 * A workload loaded from a file has no name to put there: its links carry the
 * layout, step and selection, and say the file must be loaded again.
 * `bug=` opens the "Bugs of the thread" panel, `bug=pg-anon-race` with that
 * bug selected.
 */

export interface ViewState {
  /** Built-in experiment name, or '' for a loaded file. */
  experiment: string
  params: Record<string, string>
  /** Layout of lane A, and of lane B when comparing. */
  layout: string
  compare: string
  rmap: string
  step: number
  pid: number
  /** Selected virtual address (page aligned), or -1. */
  addr: number
  /** Selected frame, or -1. */
  pfn: number
  /** The bugs panel: null when closed, '' open with no bug selected, else the selected bug's name. */
  bug: string | null
}

export const DEFAULT_STATE: ViewState = {
  experiment: 'andrea',
  params: { size: '1M', levels: '2', walks: '4' },
  layout: 'i386',
  compare: '',
  rmap: '',
  step: 0,
  pid: -1,
  addr: -1,
  pfn: -1,
  bug: null,
}

function int(v: string | null, d: number): number {
  if (v === null || v === '') return d
  const n = v.startsWith('0x') ? Number.parseInt(v.slice(2), 16) : Number(v)
  return Number.isSafeInteger(n) ? n : d
}

export function parseHash(hash: string): ViewState {
  const q = new URLSearchParams(hash.replace(/^#/, ''))
  const x = q.get('x')
  const params: Record<string, string> = {}
  const p = q.get('p')
  if (p)
    for (const kv of p.split(',')) {
      const [k, v] = kv.split(':')
      if (k && v !== undefined) params[k] = v
    }
  return {
    experiment: x ?? DEFAULT_STATE.experiment,
    params: x === null ? { ...DEFAULT_STATE.params } : params,
    layout: q.get('a') ?? DEFAULT_STATE.layout,
    compare: q.get('b') ?? '',
    rmap: q.get('r') ?? '',
    step: int(q.get('s'), 0),
    pid: int(q.get('pid'), -1),
    addr: int(q.get('addr'), -1),
    pfn: int(q.get('pfn'), -1),
    bug: q.get('bug'),
  }
}

export function formatHash(s: ViewState): string {
  const q: string[] = []
  q.push(`x=${encodeURIComponent(s.experiment)}`)
  const ps = Object.entries(s.params)
  if (ps.length)
    q.push(`p=${ps.map(([k, v]) => `${encodeURIComponent(k)}:${encodeURIComponent(v)}`).join(',')}`)
  q.push(`a=${encodeURIComponent(s.layout)}`)
  if (s.compare) q.push(`b=${encodeURIComponent(s.compare)}`)
  if (s.rmap) q.push(`r=${encodeURIComponent(s.rmap)}`)
  q.push(`s=${s.step}`)
  if (s.pid >= 0) q.push(`pid=${s.pid}`)
  if (s.addr >= 0) q.push(`addr=0x${s.addr.toString(16)}`)
  if (s.pfn >= 0) q.push(`pfn=${s.pfn}`)
  if (s.bug !== null) q.push(`bug=${encodeURIComponent(s.bug)}`)
  return `#${q.join('&')}`
}
