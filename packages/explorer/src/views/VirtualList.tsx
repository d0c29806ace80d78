import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'

/**
 * A fixed-row-height virtual list: only the rows in view (plus a small margin)
 * are rendered, so a pte page of 1024 entries or 64k frames costs the same as
 * twenty rows. `scrollTo` scrolls a row into view when it changes.
 */
export function VirtualList(props: {
  count: number
  rowHeight: number
  height: number
  row: (i: number) => ComponentChildren
  scrollTo?: number
  testid?: string
}) {
  const { count, rowHeight, height, row, scrollTo } = props
  const ref = useRef<HTMLDivElement>(null)
  const [top, setTop] = useState(0)
  useEffect(() => {
    const el = ref.current
    if (!el || scrollTo === undefined || scrollTo < 0) return
    const y = scrollTo * rowHeight
    if (y < el.scrollTop || y + rowHeight > el.scrollTop + height) {
      el.scrollTop = Math.max(0, y - height / 3)
      setTop(el.scrollTop)
    }
  }, [scrollTo, rowHeight, height])
  const first = Math.max(0, Math.floor(top / rowHeight) - 5)
  const last = Math.min(count, Math.ceil((top + height) / rowHeight) + 5)
  const rows: ComponentChildren[] = []
  for (let i = first; i < last; i++)
    rows.push(
      <div key={i} class="vrow" style={{ top: i * rowHeight, height: rowHeight }}>
        {row(i)}
      </div>,
    )
  return (
    <div
      ref={ref}
      class="vlist"
      data-testid={props.testid}
      style={{ height }}
      onScroll={(e) => setTop((e.currentTarget as HTMLDivElement).scrollTop)}
    >
      <div style={{ height: count * rowHeight, position: 'relative' }}>{rows}</div>
    </div>
  )
}
