import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import {
  type BugEntry,
  bugList,
  type CaseReport,
  type DemoEvent,
  type DemoReport,
  runQueue,
} from '../model/bugs.js'
import { type DemoHost, demoHost } from '../model/bugs-host.js'

type Status =
  | { state: 'queued' }
  | { state: 'running'; since: number }
  | { state: 'done'; report: DemoReport; ms: number }
  | { state: 'error'; message: string }

/**
 * "Bugs of the thread": every bug of the registry with what it was, the
 * kernels and sources its text names, and a button that runs its demo (with
 * the bug and without it) off the page's thread, one demo at a time; the
 * result is worded as `rmaplab bugs NAME` prints it.
 */
export function BugsPanel(props: { selected: string; select: (name: string) => void; close: () => void }) {
  const { selected, select, close } = props
  const bugs = useMemo(() => bugList(), [])
  const [status, setStatus] = useState<Record<string, Status>>({})
  const [busy, setBusy] = useState(false)
  const host = useRef<DemoHost | null>(null)
  const gone = useRef(false)
  useEffect(
    () => () => {
      gone.current = true
      host.current?.close()
    },
    [],
  )
  // A selected bug (a click, or a link) scrolls into view.
  useEffect(() => {
    if (selected) document.querySelector(`[data-bug="${selected}"]`)?.scrollIntoView({ block: 'nearest' })
  }, [selected])

  const run = async (names: string[]) => {
    if (busy) return
    host.current ??= demoHost()
    const h = host.current
    setBusy(true)
    setStatus((s) => ({ ...s, ...Object.fromEntries(names.map((n) => [n, { state: 'queued' } as Status])) }))
    const on = (e: DemoEvent) => {
      if (gone.current) return
      setStatus((s) => {
        const prev = s[e.name]
        const next: Status =
          e.state === 'running'
            ? { state: 'running', since: performance.now() }
            : e.state === 'done'
              ? {
                  state: 'done',
                  report: e.report,
                  ms: prev?.state === 'running' ? performance.now() - prev.since : e.report.ms,
                }
              : { state: 'error', message: e.message }
        return { ...s, [e.name]: next }
      })
    }
    await runQueue(
      names,
      (n) => h.run(n),
      on,
      () => gone.current,
    )
    if (!gone.current) setBusy(false)
  }

  return (
    <section class="panel bugs" data-testid="bugs-panel">
      <h2>
        Bugs of the thread{' '}
        <span class="dim">
          — "Re: 2.6.5-rc1-aa1" (LKML, March 2004): each bug re-introduced on demand (<code>bugs: [...]</code>
          ), its demo run with it and without it
        </span>{' '}
        <button
          type="button"
          data-testid="bugs-run-all"
          disabled={busy}
          onClick={() => void run(bugs.map((b) => b.name))}
        >
          run all
        </button>{' '}
        <button type="button" onClick={close}>
          close
        </button>
      </h2>
      {bugs.map((b) => (
        <Bug
          key={b.name}
          bug={b}
          selected={b.name === selected}
          status={status[b.name]}
          busy={busy}
          select={() => select(b.name === selected ? '' : b.name)}
          run={() => void run([b.name])}
          where={host.current?.where ?? ''}
        />
      ))}
    </section>
  )
}

function Bug(props: {
  bug: BugEntry
  selected: boolean
  status: Status | undefined
  busy: boolean
  select: () => void
  run: () => void
  where: string
}) {
  const { bug: b, selected, status, busy } = props
  return (
    <article class={`bug ${selected ? 'sel' : ''}`} data-testid="bug" data-bug={b.name}>
      <div class="bug-head">
        <button type="button" class="rowbtn" data-testid="bug-select" onClick={props.select}>
          <b>{b.name}</b> <span class="dim">({b.kind})</span> — {b.title}
        </button>
        <span
          class="dim"
          data-testid="bug-kernels"
          title="the kernels the registry names · the layouts whose code had the bug · the rmap design it lives in"
        >
          kernel {b.kernels.length ? b.kernels.join(', ') : 'not named'}
          {' · '}
          {b.arches ? b.arches.join(', ') : 'every layout'}
          {b.designs ? ` · ${b.designs.join(', ')} only` : ''}
        </span>
        <button type="button" data-testid="bug-run" disabled={busy} onClick={props.run}>
          run demo
        </button>
        <StatusBadge status={status} />
      </div>
      {selected && (
        <table class="kv bug-about" data-testid="bug-about">
          <tbody>
            <tr>
              <th>what</th>
              <td>{b.what}</td>
            </tr>
            <tr>
              <th>fix</th>
              <td>{b.fix}</td>
            </tr>
            <tr>
              <th>caught by</th>
              <td>{b.caughtBy}</td>
            </tr>
            <tr>
              <th>messages</th>
              <td data-testid="bug-messages">
                {b.messageIds.length ? b.messageIds.map((m) => <code key={m}>{m} </code>) : '—'}
              </td>
            </tr>
            <tr>
              <th>kernel files</th>
              <td data-testid="bug-files">
                {b.files.length ? b.files.map((f) => <code key={f}>{f} </code>) : '—'}
              </td>
            </tr>
          </tbody>
        </table>
      )}
      {status?.state === 'done' && <Result report={status.report} ms={status.ms} where={props.where} />}
      {status?.state === 'error' && (
        <p class="bad" data-testid="bug-error">
          the demo raised: {status.message}
        </p>
      )}
    </article>
  )
}

function StatusBadge(props: { status: Status | undefined }) {
  const s = props.status
  if (!s) return null
  if (s.state === 'queued')
    return (
      <span class="dim" data-testid="bug-status">
        queued
      </span>
    )
  if (s.state === 'running')
    return (
      <span class="running" data-testid="bug-status">
        running…
      </span>
    )
  if (s.state === 'error')
    return (
      <span class="bad" data-testid="bug-status">
        error
      </span>
    )
  return (
    <span class={s.report.ok ? 'good' : 'bad'} data-testid="bug-status">
      {s.report.ok ? 'the demo behaves' : 'THE DEMO DOES NOT BEHAVE'}
    </span>
  )
}

function Result(props: { report: DemoReport; ms: number; where: string }) {
  const { report: r, ms, where } = props
  return (
    <div class="bug-result" data-testid="bug-result" data-ms={ms.toFixed(0)}>
      {r.cases.map((c, i) => (
        <Case key={i} c={c} />
      ))}
      <p>
        <b class={r.ok ? 'good' : 'bad'} data-testid="bug-verdict">
          {r.ok ? 'the demo behaves' : 'THE DEMO DOES NOT BEHAVE'}
        </b>{' '}
        <span class="dim">
          (ran in {ms.toFixed(0)} ms{where ? `, in the ${where}` : ''})
        </span>
      </p>
      <details>
        <summary>
          as <code>rmaplab bugs {r.name}</code> prints it
        </summary>
        <pre class="bug-text" data-testid="bug-text">
          {r.lines.join('\n')}
        </pre>
      </details>
    </div>
  )
}

function Case(props: { c: CaseReport }) {
  const { c } = props
  const b = c.buggy
  const f = c.fixed
  return (
    <div class="bug-case" data-testid="bug-case">
      <h4>
        case: {c.label} <span class="dim">({c.arch})</span>
      </h4>
      <p data-testid="bug-buggy">
        with the bug:{' '}
        {b.caught ? (
          <>
            <b class="good">caught</b> by <b>{b.by}</b>: <span data-testid="bug-message">{b.message}</span>
          </>
        ) : (
          <>
            <b class="bad">not caught</b> ({b.figures})
          </>
        )}
      </p>
      {b.caught && !b.race && (
        <p class="where" data-testid="bug-where">
          at {b.at.join('; ')} <span class="dim">({b.figures})</span>
        </p>
      )}
      {b.caught && b.race && (
        <div class="where" data-testid="bug-where">
          <p>
            after {b.race.schedules} schedule(s), {b.race.runs} run(s) of which {b.race.infeasible}{' '}
            infeasible, {b.ms.toFixed(0)} ms; schedule,{' '}
            <span data-testid="bug-preemptions">{b.race.preemptions}</span> preemption(s):
          </p>
          <ul>
            {b.at.map((s, i) => (
              <li key={i}>{s}</li>
            ))}
          </ul>
          <details>
            <summary>interleaving ({b.race.trace.length} lines)</summary>
            <ol class="trace" data-testid="bug-trace">
              {b.race.trace.map((s, i) => (
                <li key={i}>{s}</li>
              ))}
            </ol>
          </details>
          <p>
            replay: <code data-testid="bug-replay">{b.race.replay}</code>
          </p>
        </div>
      )}
      <p data-testid="bug-fixed">
        without it:{' '}
        {f.caught ? (
          <>
            <b class="bad">flagged</b> by {f.by} at {f.at.join('; ')}: {f.message}
          </>
        ) : (
          <>
            <b class="good">clean</b>
            {f.race ? `, every schedule to bound ${f.race.boundReached}` : ''}{' '}
            <span class="dim">({f.figures})</span>
          </>
        )}
      </p>
    </div>
  )
}
