/** The linked selection every view reads and sets: a process, a virtual page, a frame. */
export interface Sel {
  pid: number
  addr: number
  pfn: number
}

export type Select = (s: Partial<Sel>) => void
