import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { pfnAt, pteAt, samePageOn } from '../model/introspect.js'
import { decodePte, fieldText, hexAddr } from '../model/pte.js'
import { Session } from '../model/session.js'
import { formatHash, parseHash, type ViewState } from '../model/url.js'
import {
  ARCH_NAMES,
  experimentList,
  type LoadedWorkload,
  loadExperiment,
  loadText,
  type Problem,
  WorkloadError,
} from '../model/workload.js'
import { BugsPanel } from './Bugs.js'
import { PageTables } from './PageTables.js'
import { Changes, Charts, Frames, Processes, Rmap, useRmap } from './Panels.js'
import type { Sel } from './types.js'

interface FileError {
  file: string
  text: string
  problems: Problem[]
}

interface Loaded {
  workload: LoadedWorkload
  /** The file it came from, when not a built-in experiment. */
  file: string
  /** The experiment and parameters it was loaded for (see `expKey`). */
  key: string
}

/** The experiment and its parameters, as one string. */
function experimentKey(st: ViewState): string {
  return `${st.experiment}|${JSON.stringify(st.params)}`
}

/** The run a view shows: the experiment, its parameters, the layouts and the rmap design. */
function runKey(st: ViewState): string {
  return `${experimentKey(st)}|${st.layout}|${st.compare}|${st.rmap}`
}

function load(st: ViewState): Loaded {
  return { workload: loadExperiment(st.experiment, st.params), file: '', key: experimentKey(st) }
}

export function App() {
  const [st, setSt] = useState<ViewState>(() => parseHash(location.hash))
  const [loaded, setLoaded] = useState<Loaded | null>(null)
  const [fileError, setFileError] = useState<FileError | null>(null)
  const [loadError, setLoadError] = useState<string>('')
  const [version, setVersion] = useState(0)
  const session = useRef<Session | null>(null)
  /**
   * The hash the state was last read from or written to. A different one in
   * the address bar is a navigation whose hashchange event has not run yet.
   */
  const hashSeen = useRef(location.hash)
  /** hashchange events handled so far: a render from before the latest one is out of date. */
  const navigations = useRef(0)
  const navigation = navigations.current
  /** The experiment and layouts the session was made for: a step change waits for a new one. */
  const sessionFor = useRef('')
  const experiments = useMemo(() => experimentList(), [])
  /** The bugs panel stays mounted once opened, so that closing it keeps its results. */
  const bugsOpened = useRef(false)
  if (st.bug !== null) bugsOpened.current = true

  /**
   * The run stopped at `at` short of the step `asked` wanted (past the end, or
   * at a failed step): show that step, unless the view has moved on since (an
   * effect can run after a newer link or click already changed the state).
   */
  const settle = (asked: ViewState, at: number) =>
    setSt((x) => (x.step === asked.step && runKey(x) === runKey(asked) ? { ...x, step: at } : x))

  // (Re)load the built-in experiment when it or its parameters change.
  const expKey = experimentKey(st)
  useEffect(() => {
    if (st.experiment === '' && loaded?.file) return
    if (st.experiment === '') {
      setLoaded(null)
      setLoadError(
        'This link was made with a workload loaded from a file, which links do not carry: load the file again, or pick an experiment.',
      )
      return
    }
    try {
      setLoaded(load(st))
      setLoadError('')
    } catch (e) {
      setLoaded(null)
      setLoadError(e instanceof WorkloadError ? e.message : String(e))
    }
  }, [expKey])

  // A new session when the workload or the layouts change.
  const layoutKey = `${st.layout}|${st.compare}|${st.rmap}`
  useEffect(() => {
    if (!loaded) {
      session.current = null
      return
    }
    if (loaded.key !== expKey) return // the new experiment is still loading
    const layouts = [st.layout, ...(st.compare && st.compare !== st.layout ? [st.compare] : [])].filter((l) =>
      loaded.workload.layouts.includes(l),
    )
    if (layouts.length === 0) layouts.push(loaded.workload.layouts[0]!)
    let s: Session
    try {
      s = new Session(loaded.workload, layouts, st.rmap || undefined)
    } catch (e) {
      // A design or layout the link names that this workload or core cannot run.
      session.current = null
      setLoadError(e instanceof Error ? e.message : String(e))
      setVersion((v) => v + 1)
      return
    }
    setLoadError('')
    session.current = s
    sessionFor.current = `${expKey}|${layoutKey}`
    s.goTo(st.step)
    // A step past the end (or past a failed step) is where the run stopped.
    if (s.position !== st.step) settle(st, s.position)
    setVersion((v) => v + 1)
  }, [loaded, layoutKey])

  // Step changes. The time of each one (model, diff, and all of it up to the
  // rendered page) is kept in window.__rmaplabStep for the e2e tests to print.
  const stepStart = useRef(0)
  useEffect(() => {
    const s = session.current
    if (!s || s.position === st.step || sessionFor.current !== `${expKey}|${layoutKey}`) return
    stepStart.current = performance.now()
    s.goTo(st.step)
    if (s.position !== st.step) settle(st, s.position)
    setVersion((v) => v + 1)
  }, [st.step, version])
  useEffect(() => {
    const s = session.current
    const w = window as unknown as { __rmaplabStep?: unknown; __rmaplabAhead?: number }
    if (s && stepStart.current !== 0) {
      const total = performance.now() - stepStart.current
      stepStart.current = 0
      w.__rmaplabStep = { step: s.position, total, lanes: s.lanes.map((l) => l.lastStepMs) }
    }
    // Once the page has painted, run the next step ahead on a second machine.
    if (!s) return
    const id = setTimeout(() => {
      s.prefetch()
      w.__rmaplabAhead = s.position
    }, 60)
    return () => clearTimeout(id)
  }, [version])

  // The URL follows the state; a pasted URL (hashchange) sets it. Effects run
  // after the page paints or before the next render, so this one can come
  // after a navigation to a new hash: before its hashchange event, or after it
  // with the state of an earlier render. It must not write that old state over
  // the new link, which the hashchange handler reads.
  useEffect(() => {
    if (location.hash !== hashSeen.current) return // the hashchange handler sets the state
    if (navigation !== navigations.current) return // the state of a render before the last link
    const h = formatHash(st)
    if (location.hash !== h) history.replaceState(null, '', h)
    hashSeen.current = location.hash
  }, [st])
  useEffect(() => {
    const on = () => {
      navigations.current++
      hashSeen.current = location.hash
      setSt(parseHash(location.hash))
    }
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])

  const update = useCallback((p: Partial<ViewState>) => setSt((s) => ({ ...s, ...p })), [])
  const select = useCallback(
    (p: Partial<Sel>) =>
      setSt((s) => {
        const n = { ...s, ...p }
        // Selecting a virtual page selects the frame its pte maps.
        const lane = session.current?.lanes[0]
        if (p.addr !== undefined && p.pfn === undefined && lane)
          n.pfn = pfnAt(lane.stepper.machine, n.pid, n.addr)
        return n
      }),
    [],
  )
  // A link with a page but no frame: find the frame once the machine is there.
  useEffect(() => {
    if (st.pfn < 0 && st.addr >= 0 && session.current) select({ addr: st.addr })
  }, [version])

  const onFile = async (file: File) => {
    const text = await file.text()
    try {
      const w = loadText(text, file.name)
      setFileError(null)
      const next = { ...st, experiment: '', params: {}, step: 0, pid: -1, addr: -1, pfn: -1 }
      setLoaded({ workload: w, file: file.name, key: experimentKey(next) })
      setSt(next)
    } catch (e) {
      if (e instanceof WorkloadError) setFileError({ file: file.name, text, problems: e.problems })
      else setFileError({ file: file.name, text, problems: [{ message: String(e) }] })
    }
  }

  // Arrow keys step (outside text fields).
  const total = session.current?.length ?? 0
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return
      if (e.key === 'ArrowRight') setSt((s) => ({ ...s, step: Math.min(total, s.step + 1) }))
      else if (e.key === 'ArrowLeft') setSt((s) => ({ ...s, step: Math.max(0, s.step - 1) }))
    }
    addEventListener('keydown', key)
    return () => removeEventListener('keydown', key)
  }, [total])

  // Drop a workload file anywhere on the page.
  const onFileRef = useRef(onFile)
  onFileRef.current = onFile
  useEffect(() => {
    const over = (e: DragEvent) => e.preventDefault()
    const drop = (e: DragEvent) => {
      e.preventDefault()
      const f = e.dataTransfer?.files[0]
      if (f) void onFileRef.current(f)
    }
    addEventListener('dragover', over)
    addEventListener('drop', drop)
    return () => {
      removeEventListener('dragover', over)
      removeEventListener('drop', drop)
    }
  }, [])

  const s = session.current
  const lanes = s?.lanes ?? []
  const lane = lanes[0]
  const sel: Sel = { pid: st.pid, addr: st.addr, pfn: st.pfn }
  const rmap = useRmap(lane, st.pfn, version)
  const n = s?.length ?? 0
  const exp = experiments.find((e) => e.name === st.experiment)

  return (
    <div class="app">
      <header>
        <h1>rmaplab explorer</h1>
        <label>
          experiment{' '}
          <select
            data-testid="experiment"
            value={st.experiment}
            onChange={(e) => {
              const name = (e.currentTarget as HTMLSelectElement).value
              update({ experiment: name, params: {}, step: 0, pid: -1, addr: -1, pfn: -1 })
            }}
          >
            {st.experiment === '' && <option value="">{loaded?.file ?? 'file'}</option>}
            {experiments.map((e) => (
              <option key={e.name} value={e.name}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        {exp &&
          Object.entries(exp.params).map(([k, p]) => (
            <label key={k} title={p.description}>
              {k}{' '}
              <input
                class="param"
                data-testid={`param-${k}`}
                value={st.params[k] ?? String(p.default)}
                onChange={(e) =>
                  update({
                    params: { ...st.params, [k]: (e.currentTarget as HTMLInputElement).value },
                    step: 0,
                  })
                }
              />
            </label>
          ))}
        <label>
          layout{' '}
          <select
            data-testid="layout"
            value={st.layout}
            onChange={(e) => update({ layout: (e.currentTarget as HTMLSelectElement).value })}
          >
            {ARCH_NAMES.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          side by side with{' '}
          <select
            data-testid="compare"
            value={st.compare}
            onChange={(e) => update({ compare: (e.currentTarget as HTMLSelectElement).value })}
          >
            <option value="">—</option>
            {ARCH_NAMES.filter((a) => a !== st.layout).map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          rmap{' '}
          <select
            data-testid="rmap-design"
            value={st.rmap || loaded?.workload.rmaps[0]}
            onChange={(e) => update({ rmap: (e.currentTarget as HTMLSelectElement).value })}
          >
            {(loaded?.workload.rmaps ?? []).map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          data-testid="bugs-toggle"
          class={st.bug !== null ? 'on' : ''}
          onClick={() => update({ bug: st.bug === null ? '' : null })}
        >
          bugs of the thread
        </button>
        <label class="file">
          load workload…{' '}
          <input
            type="file"
            data-testid="file-input"
            accept=".yaml,.yml,.json"
            onChange={(e) => {
              const f = (e.currentTarget as HTMLInputElement).files?.[0]
              if (f) void onFile(f)
            }}
          />
        </label>
      </header>
      {loadError && (
        <p class="bad" data-testid="load-error">
          {loadError}
        </p>
      )}
      {fileError && <FileErrors err={fileError} onClose={() => setFileError(null)} />}
      {bugsOpened.current && (
        <div hidden={st.bug === null}>
          <BugsPanel
            selected={st.bug ?? ''}
            select={(name) => update({ bug: name })}
            close={() => update({ bug: null })}
          />
        </div>
      )}
      {s && (
        <nav class="steps">
          <button
            type="button"
            data-testid="step-first"
            onClick={() => update({ step: 0 })}
            disabled={st.step <= 0}
          >
            « first
          </button>
          <button
            type="button"
            data-testid="step-back"
            onClick={() => update({ step: st.step - 1 })}
            disabled={st.step <= 0}
          >
            ◀ back
          </button>
          <span data-testid="step-pos">
            step {s.position} / {n}
          </span>
          <button
            type="button"
            data-testid="step-next"
            onClick={() => update({ step: st.step + 1 })}
            disabled={st.step >= n || lanes.some((l) => l.failure !== null)}
          >
            step ▶
          </button>
          <button
            type="button"
            data-testid="step-last"
            onClick={() => update({ step: n })}
            disabled={st.step >= n || lanes.some((l) => l.failure !== null)}
          >
            last »
          </button>
          <p class="about" data-testid="workload-about">
            <b>{s.workload.name}</b>
            {s.workload.description ? ` — ${s.workload.description.trim().split('\n')[0]}` : ''}
          </p>
          <ol class="steplist" data-testid="steplist">
            {s.workload.steps.map((x, i) => (
              <li key={i} class={i < s.position ? 'done' : i === s.position ? 'next' : ''}>
                <button type="button" class="rowbtn" onClick={() => update({ step: i + 1 })}>
                  {i + 1}. {x.label}
                  {x.note ? <span class="dim"> — {x.note}</span> : null}
                </button>
              </li>
            ))}
          </ol>
        </nav>
      )}
      {lane && (
        <main>
          {lanes.length > 1 && (
            <div class="side" data-testid="side-by-side">
              {lanes.map((l, i) => {
                // Lane B shows the same page of the same mapping, wherever its layout put it.
                const addr =
                  i === 0 ? sel.addr : samePageOn(lane.stepper.machine, sel.pid, sel.addr, l.stepper.machine)
                const lsel =
                  i === 0 ? sel : { pid: sel.pid, addr, pfn: pfnAt(l.stepper.machine, sel.pid, addr) }
                // A click in lane B selects the same page of lane A (the frame is lane A's).
                const lselect: typeof select =
                  i === 0
                    ? select
                    : (p) =>
                        p.addr !== undefined && p.addr >= 0
                          ? select({
                              addr: samePageOn(l.stepper.machine, sel.pid, p.addr, lane.stepper.machine),
                            })
                          : undefined
                return (
                  <div key={l.layout} data-testid={`lane-${l.layout}`}>
                    <h3>{l.layout}</h3>
                    <PageTables lane={l} sel={lsel} select={lselect} version={version} />
                    <SamePage lane={l} sel={lsel} />
                  </div>
                )
              })}
            </div>
          )}
          <div class="col">
            <Processes lane={lane} sel={sel} select={select} rmap={rmap} />
            <Changes lane={lane} select={select} />
          </div>
          <div class="col wide">
            {lanes.length === 1 && <PageTables lane={lane} sel={sel} select={select} version={version} />}
            <Rmap
              lane={lane}
              view={rmap}
              sel={sel}
              select={select}
              call={(kind) => {
                const r = s!.callOnCopy(0, st.pfn, kind)
                return `→ ${r.result}; the walk visited ${r.vmasVisited} vma(s), probed ${r.ptesProbed} pte(s)`
              }}
            />
          </div>
          <div class="col">
            <Frames lane={lane} sel={sel} select={select} version={version} />
            <Charts lanes={lanes} position={s!.position} />
          </div>
        </main>
      )}
    </div>
  )
}

/** The selected virtual page's pte in this lane's layout (the compare view). */
function SamePage(props: { lane: import('../model/session.js').Lane; sel: Sel }) {
  const { lane, sel } = props
  const m = lane.stepper.machine
  const p = m.processes().find((x) => x.pid === sel.pid && x.alive)
  if (!p || sel.addr < 0) return null
  const at = pteAt(m, p.mm.id, sel.addr)
  const d = at ? decodePte(m.arch, at.lo, at.hi) : null
  return (
    <p class="same" data-testid="same-pte">
      pid {p.pid} {hexAddr(m.arch, sel.addr)} on {m.arch.name}: {d ? <code>{d.raw}</code> : 'no pte page'}{' '}
      {d?.kind} {d?.fields.map(fieldText).join(' ')}
    </p>
  )
}

function FileErrors(props: { err: FileError; onClose: () => void }) {
  const { err } = props
  const lines = err.text.split('\n')
  const byLine = new Map<number, Problem[]>()
  for (const p of err.problems) if (p.line) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p])
  return (
    <section class="panel errors" data-testid="file-error">
      <h2>
        {err.file}: {err.problems.length} problem{err.problems.length === 1 ? '' : 's'}{' '}
        <button type="button" onClick={props.onClose}>
          close
        </button>
      </h2>
      <ul>
        {err.problems.map((p, i) => (
          <li key={i} data-testid="problem">
            {p.message}
          </li>
        ))}
      </ul>
      <pre class="src">
        {lines.map((l, i) => {
          const ps = byLine.get(i + 1)
          return (
            <div key={i} class={ps ? 'errline' : ''}>
              <span class="ln">{String(i + 1).padStart(4)}</span>
              {` ${l}`}
              {ps?.map((p, j) => (
                <div key={j} class="caret" data-testid="inline-problem">
                  {`${' '.repeat(5 + Math.max(0, (p.col ?? 1) - 1))}^ ${p.message}`}
                </div>
              ))}
            </div>
          )
        })}
      </pre>
    </section>
  )
}
