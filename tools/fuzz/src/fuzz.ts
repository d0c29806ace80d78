/**
 * Model-based random testing of the public API of @rmaplab/rmap.
 *
 * fast-check's `fc.commands` generates sequences of operations — syscalls of
 * several processes (mmap, munmap, mprotect, mremap, madvise, mlock, mlockall,
 * remap_file_pages, ftruncate, fork, exec, exit, reads and writes), machine
 * operations (pageout, reclaim, swapoff/swapon, sync, invalidate) and calls
 * with malformed arguments — and `fc.modelRun` runs each against a Machine and
 * a shadow model side by side. fast-check shrinks a failing sequence to a
 * short one and prints the seed and path that replay it.
 *
 * The shadow knows, for every process, every mapped page: anonymous, a
 * shared or private file page (with its file page offset, so nonlinear
 * remap_file_pages windows too), its protection, and the word last written to
 * it where that word belongs to the process (anonymous and COWed private
 * pages); for every file its size and the word of each page. From that it
 * predicts each access: the value a read returns, SIGSEGV (no vma, or a
 * protection that forbids it) or SIGBUS (a file page at or past the end).
 *
 * After every step: `m.check()`; each live process's /proc/PID/maps agrees
 * with the shadow page by page (file, offset, protection); a call with
 * malformed arguments threw a typed error (an RmapError, or a
 * TypeError/RangeError naming the call) and changed nothing. At the end every
 * process exits and no frame may stay allocated beyond the machine's own,
 * the page cache's and the swap cache's.
 *
 * Memory pressure is part of it: small RAM, optional swap, and a "hog" that
 * mlocks anonymous memory (faults without direct reclaim) so that
 * allocations fail, reclaim runs and the OOM killer may kill; a process the
 * OOM killer took is dropped from the shadow.
 */
import {
  type Arch,
  InvariantError,
  KernelBugError,
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MCL_CURRENT,
  MCL_CURRENT_PPC,
  MREMAP_MAYMOVE,
  O_CREAT,
  O_RDWR,
  OomKillError,
  OutOfMemoryError,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  type Process,
  ProcessExitedError,
  RmapError,
  type RmapStrategyName,
  SignalError,
  SyscallError,
  VM,
} from '@rmaplab/rmap'
import fc from 'fast-check'

const P = PAGE_SIZE

/** What the shadow knows of one mapped page. */
interface PageShadow {
  kind: 'anon' | 'shared' | 'private'
  /** The file (null for anonymous memory). */
  file: FileShadow | null
  /** The file page it shows (nonlinear windows included); for anonymous memory unused. */
  pgoff: number
  /** PROT_* bits. */
  prot: number
  /** The process's own word: anonymous pages and private pages after a COW write. */
  own?: number
}

interface FileShadow {
  path: string
  tmpfs: boolean
  size: number
  /** Word per page index; a page not here reads 0. */
  words: Map<number, number>
  /**
   * The EOF tail of the partial last page (the bytes past i_size, one word in
   * the model: filemap.ts, "The EOF tail"), or undefined when it cannot be
   * known: a disk file's tail written through a mapping is lost whenever
   * reclaim drops the page, so it reads as that word or 0.
   */
  tail: number | undefined
}

interface ProcShadow {
  proc: Process
  /** Page address → what it maps. */
  pages: Map<number, PageShadow>
  /** File path → fd open O_RDWR in this process. */
  fds: Map<string, number>
}

/** The real machine and its shadow, side by side (fast-check's model and real system in one). */
export class World {
  readonly m: Machine
  readonly procs: ProcShadow[] = []
  readonly files: FileShadow[] = []
  /** Frames in use when the machine was new (the zero page and boot memory). */
  readonly baselineUsed: number
  /** Operations run (each command's calls count one). */
  ops = 0
  readonly swapBytes: number

  constructor(arch: Arch, ram: string, swap: number, rmap: RmapStrategyName = 'objrmap') {
    this.m = new Machine({ arch, ram, swap, seed: 7, rmap })
    this.swapBytes = swap
    this.baselineUsed = this.usedFrames()
    const paths = ['/tmp/a', '/tmp/b', '/dev/shm/c']
    for (const [i, path] of paths.entries()) {
      const tmpfs = path.startsWith('/dev/shm')
      const size = (3 + i * 2) * P
      const inode = tmpfs
        ? this.m.fs.create(path, { size })
        : this.m.fs.create(path, { size, fill: 0x100 + i })
      const words = new Map<number, number>()
      for (let k = 0; k < inode.sizePages; k++) if (inode.diskWord(k) !== 0) words.set(k, inode.diskWord(k))
      this.files.push({ path, tmpfs, size, words, tail: 0 })
    }
    this.spawn()
  }

  usedFrames(): number {
    const mi = this.m.meminfo()
    return (mi.MemTotal - mi.MemFree) / 4
  }

  spawn(): ProcShadow {
    const s: ProcShadow = { proc: this.m.spawn(), pages: new Map(), fds: new Map() }
    this.procs.push(s)
    return s
  }

  /** The live process `i` (modulo), or undefined when none lives. */
  proc(i: number): ProcShadow | undefined {
    return this.procs.length ? this.procs[i % this.procs.length] : undefined
  }

  fd(s: ProcShadow, f: FileShadow): number {
    let fd = s.fds.get(f.path)
    if (fd === undefined) {
      fd = s.proc.open(f.path, O_RDWR | O_CREAT)
      s.fds.set(f.path, fd)
    }
    return fd
  }

  /**
   * An address in `s`: a vma picked by `pick` and a page in it (so small vmas
   * are picked as often as big ones), or now and then a raw one near the
   * mappings.
   */
  addr(s: ProcShadow, pick: number): number {
    const maps = s.proc.alive ? s.proc.maps() : []
    if (maps.length === 0 || pick % 11 === 10) return this.m.taskUnmappedBase + (pick % 64) * P
    const e = maps[pick % maps.length]!
    const pages = (e.end - e.start) / P
    // Near the start of the vma more often: the edges are where vmas split and merge.
    const k = Math.floor(pick / maps.length) % Math.min(pages, 1 + (pick % 4 === 0 ? pages : 4))
    return e.start + k * P
  }

  /** Drop processes that died (a signal, the OOM killer). */
  reapDead(): void {
    for (let i = this.procs.length - 1; i >= 0; i--) if (!this.procs[i]!.proc.alive) this.procs.splice(i, 1)
  }

  /**
   * What an access at `offset` in the page at `addr` by `s` must do: a value
   * to read (undefined: not known, see FileShadow.tail), or the signal; and
   * whether it reaches the EOF tail.
   */
  expect(
    s: ProcShadow,
    addr: number,
    write: boolean,
    offset = 0,
  ): { signal: 'SIGSEGV' | 'SIGBUS' } | { value: number | undefined; tail: boolean } {
    const pg = s.pages.get(addr)
    if (!pg) return { signal: 'SIGSEGV' }
    if (write ? !(pg.prot & PROT_WRITE) : !(pg.prot & (PROT_READ | PROT_EXEC))) return { signal: 'SIGSEGV' }
    if (pg.kind === 'anon') return { value: pg.own ?? 0, tail: false }
    const f = pg.file!
    if (pg.pgoff >= Math.ceil(f.size / P)) return { signal: 'SIGBUS' }
    if (pg.pgoff * P + offset >= f.size)
      return { value: pg.own === undefined ? f.tail : undefined, tail: true } // a COWed copy's tail: not tracked
    return { value: pg.own ?? f.words.get(pg.pgoff) ?? 0, tail: false }
  }

  /** Every live process's maps against the shadow, page by page. */
  checkLayout(): void {
    for (const s of this.procs) {
      let n = 0
      for (const e of s.proc.maps()) {
        const vma = s.proc.mm.vmaAt(e.start)!
        const nonlinear = (vma.flags & VM.NONLINEAR) !== 0
        const prot =
          (e.perms[0] === 'r' ? PROT_READ : 0) |
          (e.perms[1] === 'w' ? PROT_WRITE : 0) |
          (e.perms[2] === 'x' ? PROT_EXEC : 0)
        for (let a = e.start; a < e.end; a += P, n++) {
          const pg = s.pages.get(a)
          const where = `pid ${s.proc.pid} 0x${a.toString(16)}`
          if (!pg) throw new Error(`${where}: mapped (${e.perms} ${e.file}) but the shadow has no page there`)
          if ((pg.file?.path ?? '') !== e.file)
            throw new Error(`${where}: maps says file '${e.file}', the shadow '${pg.file?.path ?? ''}'`)
          if (pg.prot !== prot) throw new Error(`${where}: maps says ${e.perms}, the shadow prot ${pg.prot}`)
          if (pg.file && !nonlinear && pg.pgoff !== e.pgoff / P + (a - e.start) / P)
            throw new Error(
              `${where}: maps says file page ${e.pgoff / P + (a - e.start) / P}, the shadow ${pg.pgoff}`,
            )
        }
      }
      if (n !== s.pages.size)
        throw new Error(`pid ${s.proc.pid}: maps has ${n} pages, the shadow ${s.pages.size}`)
    }
  }

  /** The step's end: invariants, layout, dead processes. */
  settle(): void {
    this.reapDead()
    this.m.check()
    this.checkLayout()
  }

  /** The run's end: every process exits; no frame beyond the cache's may stay allocated. */
  finish(): void {
    for (const s of [...this.procs]) if (s.proc.alive) s.proc.exit()
    this.procs.length = 0
    this.m.check()
    const mi = this.m.meminfo()
    if (mi.PageTables !== 0)
      throw new Error(`leak: ${mi.PageTables} kB of page tables after every process exited`)
    const cached = (mi.Cached + mi.SwapCached) / 4
    // The design's own frames: pte_chains keep their slab frames (the model
    // does not reap), but no chain may stay allocated once nothing is mapped.
    const rm = this.m.stats().rmapMemory
    const chains = rm.objects['pteChain'] ?? 0
    if (chains !== 0) throw new Error(`leak: ${chains} pte_chains allocated after every process exited`)
    const slab = rm.lowmemFrames
    const used = this.usedFrames()
    if (used !== this.baselineUsed + cached + slab) {
      throw new Error(
        `leak: ${used} frames in use after every process exited; expected ${this.baselineUsed} + ${cached} cached + ${slab} of the rmap design`,
      )
    }
    this.ops++
  }
}

/** A finding: an outcome the shadow did not predict. */
function mismatch(what: string): never {
  throw new Error(`mismatch: ${what}`)
}

/** Run `fn`, returning its error (or undefined). Engine errors and untyped ones are findings. */
function attempt(what: string, fn: () => void): Error | undefined {
  try {
    fn()
    return undefined
  } catch (e) {
    // A kernel BUG, a broken invariant or a failure that names nothing: findings.
    if (e instanceof InvariantError || e instanceof KernelBugError) throw e
    if (e instanceof RmapError) return e
    if ((e instanceof TypeError || e instanceof RangeError) && /^[\w.]+: /.test(e.message)) return e
    throw new Error(`${what} threw an untyped error: ${String(e)}`, { cause: e })
  }
}

/** An access (at `offset` in the page at `addr`) and its predicted outcome. */
export function access(
  w: World,
  s: ProcShadow,
  addr: number,
  write: boolean,
  value: number,
  offset = 0,
): void {
  const want = w.expect(s, addr, write, offset)
  let got: number | undefined
  const at = addr + offset
  const err = attempt(`${write ? 'write' : 'read'} 0x${at.toString(16)}`, () => {
    if (write) s.proc.write(at, value)
    else got = s.proc.read(at)
  })
  const what = `pid ${s.proc.pid} ${write ? `write 0x${value.toString(16)} to` : 'read'} 0x${at.toString(16)}`
  if (err instanceof OomKillError) return // the OOM killer chose this process
  // Memory full of pages reclaim cannot take (mlocked) while swap slots are
  // free: out_of_memory kills nobody and the kernel's __alloc_pages would loop
  // for ever; the model gives up with OutOfMemoryError instead (vmscan.ts
  // directReclaim). Nothing was done: m.check() after the step says so.
  if (err instanceof OutOfMemoryError && w.m.swap.nrSwapPages > 0) return
  if ('signal' in want) {
    if (!(err instanceof SignalError) || err.signal !== want.signal)
      mismatch(`${what}: expected ${want.signal}, got ${err ? String(err) : `success (${got})`}`)
    return
  }
  if (err) mismatch(`${what}: expected success, got ${String(err)}`)
  if (write) {
    const pg = s.pages.get(addr)!
    if (want.tail) {
      // A store past i_size: the page's tail, never the file. Through a
      // private mapping it first COWs the page (the copy keeps the word).
      if (pg.kind === 'shared') pg.file!.tail = pg.file!.tmpfs ? value >>> 0 : undefined
      else if (pg.own === undefined) pg.own = pg.file!.words.get(pg.pgoff) ?? 0
    } else if (pg.kind === 'shared') pg.file!.words.set(pg.pgoff, value >>> 0)
    else pg.own = value >>> 0
  } else if (want.value !== undefined && got !== want.value) {
    mismatch(`${what}: expected 0x${want.value.toString(16)}, got 0x${got!.toString(16)}`)
  }
}

/** Pages [addr, addr + len) (page-aligned) of `s` that are in the shadow. */
function pagesIn(s: ProcShadow, addr: number, len: number): number[] {
  const out: number[] = []
  for (const a of s.pages.keys()) if (a >= addr && a < addr + len) out.push(a)
  return out
}

/** After truncation: private COW pages of file pages wholly past the end are zapped (even_cows). */
function truncateShadow(w: World, f: FileShadow, size: number): void {
  // The tail: zeroed by a shrink to mid-page (truncate_partial_page), new (0)
  // when the partial page is another page; a grow within the same page keeps it.
  const samePage = size > f.size && Math.floor(size / P) === Math.floor(f.size / P)
  if (size !== f.size && !samePage) f.tail = 0
  f.size = size
  const end = Math.ceil(size / P)
  for (const k of [...f.words.keys()]) if (k >= end) f.words.delete(k)
  for (const s of w.procs)
    for (const pg of s.pages.values())
      if (pg.file === f && pg.kind === 'private' && pg.pgoff >= end) delete pg.own
}

export type Cmd = fc.Command<World, World>

/** A command: its label (with its arguments) and its step. */
function cmd(label: string, step: (w: World) => void): Cmd {
  return {
    check: () => true,
    run: (_model, w) => {
      w.ops++
      step(w)
      w.settle()
    },
    toString: () => label,
  }
}

const PROTS = [PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, 0, PROT_WRITE]

/** Values that are not what any argument takes. */
const BAD_VALUES: ReadonlyArray<[string, unknown]> = [
  ["'abc'", 'abc'],
  ['null', null],
  ['undefined', undefined],
  ['Symbol', Symbol('bad')],
  ['1n', 1n],
  ['{}', {}],
  ['[]', []],
  ['true', true],
  ['NaN', Number.NaN],
  ['1.5', 1.5],
]

type Call = (w: World, s: ProcShadow, a: unknown[]) => unknown
type Variadic = (...x: unknown[]) => unknown

/**
 * Calls for the malformed-argument command: name, arguments that are otherwise
 * valid (the address is filled in), the positions where undefined means "the
 * default", and the call.
 */
const CALLS: ReadonlyArray<[string, unknown[], number[], Call]> = [
  [
    'mmap',
    [0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0],
    [4, 5],
    (_w, s, a) => (s.proc.mmap as Variadic)(...a),
  ],
  ['munmap', [0, P], [], (_w, s, a) => (s.proc.munmap as Variadic)(...a)],
  ['mprotect', [0, P, PROT_READ], [], (_w, s, a) => (s.proc.mprotect as Variadic)(...a)],
  ['mremap', [0, P, P, 0, 0], [4], (_w, s, a) => (s.proc.mremap as Variadic)(...a)],
  ['mlock', [0, P], [], (_w, s, a) => (s.proc.mlock as Variadic)(...a)],
  ['munlock', [0, P], [], (_w, s, a) => (s.proc.munlock as Variadic)(...a)],
  ['mlockall', [1], [], (_w, s, a) => (s.proc.mlockall as Variadic)(...a)],
  ['madvise', [0, P, MADV_NORMAL], [], (_w, s, a) => (s.proc.madvise as Variadic)(...a)],
  ['remapFilePages', [0, P, 0, 0, 0], [4], (_w, s, a) => (s.proc.remapFilePages as Variadic)(...a)],
  ['ftruncate', [0, P], [], (_w, s, a) => (s.proc.ftruncate as Variadic)(...a)],
  ['close', [0], [], (_w, s, a) => (s.proc.close as Variadic)(...a)],
  ['open', ['/tmp/a', O_RDWR], [], (_w, s, a) => (s.proc.open as Variadic)(...a)],
  ['read', [0], [], (_w, s, a) => (s.proc.read as Variadic)(...a)],
  ['write', [0, 1], [], (_w, s, a) => (s.proc.write as Variadic)(...a)],
  ['pagemap', [0], [], (_w, s, a) => (s.proc.pagemap as Variadic)(...a)],
  ['exec', [[1]], [0], (_w, s, a) => (s.proc.exec as Variadic)(...a)],
  ['page', [0], [], (w, _s, a) => (w.m.page as Variadic)(...a)],
  ['pageout', [0], [], (w, _s, a) => (w.m.pageout as Variadic)(...a)],
  ['pageReferenced', [0], [], (w, _s, a) => (w.m.pageReferenced as Variadic)(...a)],
  ['tryToUnmap', [0], [], (w, _s, a) => (w.m.tryToUnmap as Variadic)(...a)],
  ['swapCount', [0, 0], [], (w, _s, a) => (w.m.swapCount as Variadic)(...a)],
  ['swapon', [P], [], (w, _s, a) => (w.m.swapon as Variadic)(...a)],
  ['swapoff', [0], [], (w, _s, a) => (w.m.swapoff as Variadic)(...a)],
  ['reclaim', [{ pages: 1 }], [], (w, _s, a) => (w.m.reclaim as Variadic)(...a)],
  ['fs.create', ['/tmp/new', { size: P }], [1], (w, _s, a) => (w.m.fs.create as Variadic).apply(w.m.fs, a)],
  ['fs.shmLock', ['/dev/shm/c', true], [], (w, _s, a) => (w.m.fs.shmLock as Variadic).apply(w.m.fs, a)],
]

/** A fingerprint of everything a refused call must leave alone. */
function fingerprint(w: World): string {
  return JSON.stringify({
    meminfo: w.m.meminfo(),
    objects: w.m.stats().objects,
    procs: w.m.processes().map((p) => [p.pid, p.maps(), p.mm.rss, p.mm.lockedVm]),
    files: w.m.fs.files().map((f) => [f.path, f.size]),
  })
}

/** The command generators. */
export function commands(): Array<fc.Arbitrary<Cmd>> {
  const all = baseCommands()
  // Accesses, mprotect and mlock twice as often: they are where vmas split,
  // merge and fault.
  return [...all, all[0]!, all[4]!, all[7]!]
}

function baseCommands(): Array<fc.Arbitrary<Cmd>> {
  const pick = fc.nat(1000)
  const small = fc.integer({ min: 1, max: 8 })
  const word = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, -1, 0x7fffffff))
  return [
    fc.tuple(pick, word, fc.boolean()).map(([i, v, write]) =>
      cmd(`${write ? 'write' : 'read'}(proc ${i}, 0x${(v >>> 0).toString(16)})`, (w) => {
        const s = w.proc(i)
        if (s) access(w, s, w.addr(s, i * 7 + (v & 0xff)), write, v)
      }),
    ),
    fc.tuple(pick, pick, word, fc.boolean()).map(([i, fi, v, write]) =>
      cmd(
        `${write ? 'write' : 'read'} near the end of file ${fi} (proc ${i}, 0x${(v >>> 0).toString(16)})`,
        (w) => {
          const s = w.proc(i)
          if (!s) return
          // A mapped page of the file's last page, at offset 4000: past i_size
          // when the file ends in that page before it.
          const f = w.files[fi % w.files.length]!
          const last = Math.max(0, Math.ceil(f.size / P) - 1)
          const hits = [...s.pages].filter(([, pg]) => pg.file === f && pg.pgoff === last).map(([a]) => a)
          const addr = hits.length ? hits[i % hits.length]! : w.addr(s, i)
          access(w, s, addr, write, v, 4000)
        },
      ),
    ),
    fc
      .tuple(
        pick,
        fc.constantFrom('anon', 'shared', 'private'),
        small,
        pick,
        fc.nat(4),
        fc.nat(PROTS.length - 1),
      )
      .map(([i, kind, n, fi, pgoff, pr]) =>
        cmd(`mmap(proc ${i}, ${kind}, ${n} pages, file ${fi}, pgoff ${pgoff}, prot ${PROTS[pr]})`, (w) => {
          const s = w.proc(i)
          if (!s) return
          const prot = PROTS[pr]!
          const f = kind === 'anon' ? null : w.files[fi % w.files.length]!
          let addr = 0
          const err = attempt('mmap', () => {
            addr =
              f === null
                ? s.proc.mmap(0, n * P, prot, MAP_PRIVATE | MAP_ANONYMOUS)
                : s.proc.mmap(
                    0,
                    n * P,
                    prot,
                    kind === 'shared' ? MAP_SHARED : MAP_PRIVATE,
                    w.fd(s, f),
                    pgoff * P,
                  )
          })
          if (err) mismatch(`mmap: ${String(err)}`)
          for (let k = 0; k < n; k++)
            s.pages.set(addr + k * P, { kind: kind as PageShadow['kind'], file: f, pgoff: pgoff + k, prot })
        }),
      ),
    fc.tuple(pick, pick, small).map(([i, a, n]) =>
      cmd(`munmap(proc ${i}, addr ${a}, ${n} pages)`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const addr = w.addr(s, a)
        const err = attempt('munmap', () => s.proc.munmap(addr, n * P))
        const past = addr + n * P > w.m.taskSize // EINVAL, nothing unmapped
        if (past !== (err instanceof SyscallError && err.errno === 'EINVAL'))
          mismatch(`munmap 0x${addr.toString(16)}+${n}p: ${String(err ?? 'success')}`)
        if (past) return
        for (const pa of pagesIn(s, addr, n * P)) s.pages.delete(pa)
      }),
    ),
    fc.tuple(pick, pick, small, fc.nat(PROTS.length - 1)).map(([i, a, n, pr]) =>
      cmd(`mprotect(proc ${i}, addr ${a}, ${n} pages, prot ${PROTS[pr]})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const addr = w.addr(s, a)
        const prot = PROTS[pr]!
        const inRange = pagesIn(s, addr, n * P)
        const mapped = inRange.length === n
        // A shared file page was mapped from an O_RDWR fd: every protection is allowed.
        const err = attempt('mprotect', () => s.proc.mprotect(addr, n * P, prot))
        if (!err) {
          if (!mapped) mismatch(`mprotect 0x${addr.toString(16)}+${n}p over a hole succeeded`)
          for (const pa of inRange) s.pages.get(pa)!.prot = prot
          return
        }
        if (mapped) mismatch(`mprotect 0x${addr.toString(16)}+${n}p of a mapped range failed: ${String(err)}`)
        // ENOMEM at the hole, the vmas before it changed: take the protections from maps.
        for (const e of s.proc.maps()) {
          const prot2 =
            (e.perms[0] === 'r' ? PROT_READ : 0) |
            (e.perms[1] === 'w' ? PROT_WRITE : 0) |
            (e.perms[2] === 'x' ? PROT_EXEC : 0)
          for (let pa = e.start; pa < e.end; pa += P) {
            const pg = s.pages.get(pa)
            if (pg) pg.prot = prot2
          }
        }
      }),
    ),
    fc.tuple(pick, pick, small, small, fc.boolean()).map(([i, a, oldN, newN, move]) =>
      cmd(`mremap(proc ${i}, addr ${a}, ${oldN} → ${newN} pages${move ? ', MAYMOVE' : ''})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const addr = w.addr(s, a)
        let to = 0
        const err = attempt('mremap', () => {
          to = s.proc.mremap(addr, oldN * P, newN * P, move ? MREMAP_MAYMOVE : 0)
        })
        if (err) return // refused: nothing changed (the layout check says whether that holds)
        if (newN <= oldN) {
          // Shrinking (or the same length) always succeeds: do_munmap of the tail.
          if (to !== addr) mismatch(`mremap shrink of 0x${addr.toString(16)} returned 0x${to.toString(16)}`)
          for (const pa of pagesIn(s, addr + newN * P, (oldN - newN) * P)) s.pages.delete(pa)
          return
        }
        const first = s.pages.get(addr)
        if (!first) mismatch(`mremap of unmapped 0x${addr.toString(16)} succeeded`)
        const moved = new Map<number, PageShadow>()
        for (let k = 0; k < Math.min(oldN, newN); k++) {
          const pg = s.pages.get(addr + k * P)
          if (!pg) mismatch(`mremap moved unmapped page 0x${(addr + k * P).toString(16)}`)
          moved.set(to + k * P, pg)
        }
        for (let k = 0; k < oldN; k++) s.pages.delete(addr + k * P)
        for (const [pa, pg] of moved) s.pages.set(pa, pg)
        if (newN > oldN) {
          const e = s.proc.maps().find((x) => x.start <= to && to < x.end)!
          for (let k = oldN; k < newN; k++) {
            const pa = to + k * P
            s.pages.set(pa, {
              kind: first.kind,
              file: first.file,
              pgoff: e.pgoff / P + (pa - e.start) / P,
              prot: first.prot,
            })
          }
        }
      }),
    ),
    fc
      .tuple(
        pick,
        pick,
        small,
        fc.constantFrom(MADV_DONTNEED, MADV_WILLNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL),
      )
      .map(([i, a, n, advice]) =>
        cmd(`madvise(proc ${i}, addr ${a}, ${n} pages, ${advice})`, (w) => {
          const s = w.proc(i)
          if (!s) return
          const addr = w.addr(s, a)
          // MADV_DONTNEED zaps vma by vma, stopping at a VM_LOCKED one (EINVAL).
          const zapped: number[] = []
          if (advice === MADV_DONTNEED) {
            for (const v of s.proc.mm.vmas) {
              if (v.end <= addr || v.start >= addr + n * P) continue
              if (v.flags & VM.LOCKED) break
              for (const pa of pagesIn(
                s,
                Math.max(v.start, addr),
                Math.min(v.end, addr + n * P) - Math.max(v.start, addr),
              ))
                zapped.push(pa)
            }
          }
          attempt('madvise', () => s.proc.madvise(addr, n * P, advice))
          for (const pa of zapped) delete s.pages.get(pa)!.own
        }),
      ),
    fc.tuple(pick, pick, small, fc.boolean()).map(([i, a, n, on]) =>
      cmd(`${on ? 'mlock' : 'munlock'}(proc ${i}, addr ${a}, ${n} pages)`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const addr = w.addr(s, a)
        attempt('mlock', () => (on ? s.proc.mlock(addr, n * P) : s.proc.munlock(addr, n * P)))
      }),
    ),
    fc.tuple(pick, fc.boolean()).map(([i, on]) =>
      cmd(`${on ? 'mlockall(MCL_CURRENT)' : 'munlockall()'}(proc ${i})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const ppc = w.m.arch.name.startsWith('ppc')
        attempt('mlockall', () =>
          on ? s.proc.mlockall(ppc ? MCL_CURRENT_PPC : MCL_CURRENT) : s.proc.munlockall(),
        )
      }),
    ),
    fc.tuple(pick, pick, fc.integer({ min: 1, max: 3 }), fc.nat(8)).map(([i, a, n, pgoff]) =>
      cmd(`remapFilePages(proc ${i}, addr ${a}, ${n} pages, pgoff ${pgoff})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const addr = w.addr(s, a)
        const err = attempt('remap_file_pages', () => s.proc.remapFilePages(addr, n * P, 0, pgoff))
        if (err instanceof SyscallError && err.errno === 'ENOMEM') {
          // Out of memory half way: the pages installed before stay remapped
          // (filemap_populate keeps them); each is the file's page now.
          const f = s.pages.get(addr)?.file
          const inode = f ? w.m.fs.lookup(f.path) : undefined
          for (let k = 0; inode && k < n; k++) {
            const pg = s.pages.get(addr + k * P)
            const e = s.proc.pagemap(addr + k * P)
            if (pg?.kind === 'shared' && e.present && e.pfn === inode.pages.get(pgoff + k))
              pg.pgoff = pgoff + k
          }
          return
        }
        if (err) return
        for (let k = 0; k < n; k++) {
          const pg = s.pages.get(addr + k * P)
          if (pg?.kind !== 'shared') mismatch(`remap_file_pages over a page that is not shared file memory`)
          pg.pgoff = pgoff + k
        }
      }),
    ),
    fc.tuple(pick, pick, fc.nat(10), fc.constantFrom(0, 0, 100, 3000)).map(([i, fi, n, partial]) =>
      cmd(`ftruncate(proc ${i}, file ${fi}, ${n} pages + ${partial})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const f = w.files[fi % w.files.length]!
        const size = n * P + partial
        const err = attempt('ftruncate', () => s.proc.ftruncate(w.fd(s, f), size))
        if (err) mismatch(`ftruncate ${f.path} to ${size}: ${String(err)}`)
        truncateShadow(w, f, size)
      }),
    ),
    pick.map((i) =>
      cmd(`fork(proc ${i})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        let child: Process | undefined
        const err = attempt('fork', () => {
          child = s.proc.fork()
        })
        if (err) {
          if (!(err instanceof SyscallError && err.errno === 'ENOMEM')) mismatch(`fork: ${String(err)}`)
          return
        }
        const pages = new Map<number, PageShadow>()
        for (const [a, pg] of s.pages) pages.set(a, { ...pg })
        w.procs.push({ proc: child!, pages, fds: new Map(s.fds) })
      }),
    ),
    fc.tuple(pick, fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 34 })).map(([i, args]) =>
      cmd(`exec(proc ${i}, [${args.length} args])`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const err = attempt('exec', () => s.proc.exec(args))
        if (args.length > 32) {
          if (!(err instanceof SyscallError && err.errno === 'E2BIG'))
            mismatch(`exec of ${args.length} args: ${String(err)}`)
          return
        }
        if (err) {
          if (!(err instanceof SyscallError && err.errno === 'ENOMEM')) mismatch(`exec: ${String(err)}`)
          return
        }
        s.pages.clear()
        const n = Math.max(1, args.length)
        const top = w.m.taskSize
        for (let k = 0; k < n; k++)
          s.pages.set(top - (n - k) * P, {
            kind: 'anon',
            file: null,
            pgoff: 0,
            prot: PROT_READ | PROT_WRITE | PROT_EXEC,
            own: args[k] ?? 0,
          })
      }),
    ),
    pick.map((i) =>
      cmd(`exit(proc ${i})`, (w) => {
        const s = w.proc(i)
        if (s) s.proc.exit()
      }),
    ),
    fc.constant(
      cmd('spawn()', (w) => {
        if (w.procs.length >= 8) return
        const err = attempt('spawn', () => w.spawn())
        if (err && !(err instanceof SyscallError && err.errno === 'ENOMEM')) mismatch(`spawn: ${String(err)}`)
      }),
    ),
    fc.tuple(pick, fc.integer({ min: 16, max: 1400 })).map(([i, n]) =>
      cmd(`hog(proc ${i}, ${n} pages)`, (w) => {
        const s = w.proc(i)
        if (!s) return
        let addr = 0
        const err = attempt('mmap', () => {
          addr = s.proc.mmap(0, n * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        })
        if (err) mismatch(`hog mmap: ${String(err)}`)
        for (let k = 0; k < n; k++)
          s.pages.set(addr + k * P, { kind: 'anon', file: null, pgoff: 0, prot: PROT_READ | PROT_WRITE })
        attempt('mlock', () => s.proc.mlock(addr, n * P)) // may run out: ENOMEM, EPERM
      }),
    ),
    fc.tuple(pick, pick).map(([i, a]) =>
      cmd(`pageout(page of proc ${i} at ${a})`, (w) => {
        const s = w.proc(i)
        if (!s) return
        const e = s.proc.pagemap(w.addr(s, a))
        if (e.present && e.pfn !== undefined) attempt('pageout', () => w.m.pageout(e.pfn!))
      }),
    ),
    fc.tuple(pick, fc.boolean()).map(([fi, last]) =>
      cmd(`pageout(page-cache page of file ${fi}, ${last ? 'last' : 'first'} page)`, (w) => {
        // The pages where truncation, EOF tails and swap meet: taken through
        // shrink_list until they leave (a first pass may find them referenced).
        const f = w.files[fi % w.files.length]!
        const inode = w.m.fs.lookup(f.path)!
        const index = last ? Math.max(0, Math.ceil(f.size / P) - 1) : 0
        for (let k = 0; k < 3; k++) {
          const pfn = inode.pages.get(index)
          if (pfn === undefined) return
          attempt('pageout', () => w.m.pageout(pfn))
        }
      }),
    ),
    fc.integer({ min: 0, max: 256 }).map((n) =>
      cmd(`reclaim(${n})`, (w) => {
        const err = attempt('reclaim', () => w.m.reclaim({ pages: n }))
        if (err && !(err instanceof OomKillError)) mismatch(`reclaim: ${String(err)}`)
      }),
    ),
    fc.constant(
      cmd('swapoff(0); swapon', (w) => {
        if (w.swapBytes === 0 || w.m.swapAreas().length === 0) return
        const err = attempt('swapoff', () => w.m.swapoff(w.m.swapAreas()[0]!.type))
        // ENOMEM: up front nothing changed; half way the area is back on
        // swap_list and what came back stays in memory. Either way every word
        // is where the shadow says, and m.check() after the step holds.
        if (err) return
        w.m.swapon(w.swapBytes)
      }),
    ),
    fc.constant(
      cmd('sync; invalidate_inode_pages', (w) => {
        w.m.fs.sync()
        for (const f of w.files) w.m.fs.invalidateInodePages(f.path)
      }),
    ),
    fc
      .tuple(pick, fc.nat(CALLS.length - 1), fc.nat(5), fc.nat(BAD_VALUES.length - 1), pick)
      .map(([i, c, argIdx, b, a]) => {
        const [name, base, optional, call] = CALLS[c]!
        const at = argIdx % base.length
        const [badName, bad] = BAD_VALUES[b]!
        return cmd(`malformed ${name}(arg ${at} = ${badName})`, (w) => {
          const s = w.proc(i)
          if (!s) return
          // Values that are valid there: the default, exec's empty argument
          // list, fs.create's empty options.
          if (bad === undefined && optional.includes(at)) return
          if (name === 'exec' && Array.isArray(bad)) return
          if (name === 'fs.create' && at === 1 && badName === '{}') return
          if (name === 'fs.shmLock' && at === 1 && typeof bad === 'boolean') return
          const args = [...base]
          if (typeof args[0] === 'number' && name !== 'swapon' && name !== 'mlockall') args[0] = w.addr(s, a)
          args[at] = bad
          const before = fingerprint(w)
          const err = attempt(`${name} with ${badName}`, () => {
            call(w, s, args)
          })
          if (!err) mismatch(`${name} accepted ${badName} as argument ${at}`)
          if (err instanceof ProcessExitedError) return
          const after = fingerprint(w)
          if (after !== before)
            mismatch(`${name} with ${badName} as argument ${at} changed the machine (${String(err)})`)
        })
      }),
  ]
}

/** Options of one fuzz campaign. */
export interface FuzzOptions {
  arch: Arch
  /** The rmap design of every machine (default objrmap): the shadow is the same for all three. */
  rmap?: RmapStrategyName
  /** fast-check runs (sequences). */
  runs: number
  /** Commands per sequence, at most. */
  maxCommands?: number
  seed?: number
  /** Replay path printed by a failure. */
  path?: string
  /**
   * The command sequence's own replay path (fast-check's `replayPath` of
   * `fc.commands`), printed by a failure: without it the shrunk sequence
   * does not replay.
   */
  replayPath?: string
  /** Stop after this many milliseconds (fast-check's interruptAfterTimeLimit). */
  timeLimitMs?: number
}

/** One campaign on one layout; returns the operations run. Throws fast-check's report on a finding. */
export function fuzz(opts: FuzzOptions): { ops: number; runs: number } {
  let ops = 0
  let runs = 0
  const configs = fc.record({
    ram: fc.constantFrom('4M', '6M', '8M'),
    swap: fc.constantFrom(0, 1 << 20, 2 << 20),
  })
  const property = fc.property(
    configs,
    fc.commands(commands(), {
      maxCommands: opts.maxCommands ?? 60,
      size: 'max',
      ...(opts.replayPath !== undefined ? { replayPath: opts.replayPath } : {}),
    }),
    ({ ram, swap }, cmds) => {
      const setup = () => {
        const w = new World(opts.arch, ram, swap, opts.rmap)
        return { model: w, real: w }
      }
      let world: World | undefined
      fc.modelRun(() => {
        const s = setup()
        world = s.real
        return s
      }, cmds)
      world!.finish()
      ops += world!.ops
      runs++
    },
  )
  const out = fc.check(property, {
    numRuns: opts.runs,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.path !== undefined ? { path: opts.path } : {}),
    ...(opts.timeLimitMs !== undefined ? { interruptAfterTimeLimit: opts.timeLimitMs } : {}),
  })
  if (out.failed) {
    const error = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance)
    const report = fc.defaultReportMessage(out) ?? ''
    throw new FuzzFinding(
      `${report}\nError: ${error}`,
      out.counterexamplePath ?? '',
      /replayPath="([^"]*)"/.exec(report)?.[1],
    )
  }
  return { ops, runs }
}

/** A failing run: fast-check's report, and the two paths that replay it. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding'
  constructor(
    message: string,
    /** The run's path (`--path`). */
    readonly path: string,
    /** The command sequence's replay path (`--replay-path`), when the report carries one. */
    readonly replayPath: string | undefined,
  ) {
    super(message)
  }
}
