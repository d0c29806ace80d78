/**
 * Locks with owners, for the several-cpu runs of the interleaving explorer
 * (race/explore.ts). On a sequential machine every lock site costs one test of
 * `m.smp !== null` and keeps its one-thread flag (a lock found held there is a
 * self-deadlock, a kernel bug); the owner table below is only consulted under
 * the explorer. Each lock is taken by the cpu context (cpu.ts) of the path:
 *
 * - `mmap_sem`: the syscalls (machine.ts `enterWrite`) and the fault path;
 * - the page lock: `lockPage` / `testSetPageLocked` / `unlockPage` here, at
 *   every lock_page and TestSetPageLocked of the model (do_swap_page,
 *   do_wp_page, shrink_list, free_swap_cache, free_swap_and_cache,
 *   try_to_unuse, shmem_getpage, `m.tryToUnmap`);
 * - `i_shared_sem`: filemap.ts `downISharedSem` / `downTrylockISharedSem` /
 *   `upISharedSem` — vma_link and remove_shared_vm_struct (mmap.ts),
 *   invalidate_mmap_range (truncate.ts), and the down_trylock of objrmap's
 *   file walks (page_referenced_inode, try_to_unmap_inode);
 * - `mm->page_table_lock`: do_swap_page and copy_page_range (memory.ts);
 * - `page_map_lock`: the rmap design (objrmap.ts `pageMapLock`);
 * - the anon_vma lock: anon_vma_prepare, anon_vma_link, anon_vma_merge,
 *   anon_vma_unlink and the anon walks (page_referenced_anon,
 *   try_to_unmap_anon) in objrmap.ts.
 *
 * The lock classes and their order, outermost first:
 *
 * 1. `mmap_sem` (a read/write semaphore);
 * 2. the page lock (PG_locked, `lock_page`);
 * 3. `i_shared_sem` (the address_space's vma lists);
 * 4. `mm->page_table_lock`;
 * 5. `page_map_lock` (the PG_maplock bit: mapcount, PG_anon, mapping);
 * 6. the anon_vma lock.
 *
 * 4 → 5 → 6 is the order the header comment of 2.6.5-aa mm/mmap.c gives
 * (page_table_lock outside PG_maplock outside the anon_vma lock; fork
 * depends on it). mmap_sem → page lock is the 2.6 mm/filemap.c header
 * (access_process_vm); page lock → i_shared_sem → page_table_lock is where
 * 2.6.9's mm/rmap.c header puts i_mmap_lock, i_shared_sem's successor
 * (mapping->i_mmap_lock under lock_page, page_table_lock under it).
 *
 * A blocking acquire of a lock whose class ranks at or before a class the
 * cpu already holds is an out-of-order acquire: a {@link LockOrderError}
 * naming both locks (lockdep's report). Trylocks are exempt, as in lockdep:
 * reclaim trylocks page_table_lock and i_shared_sem from inside
 * page_map_lock precisely because the blocking order forbids it.
 *
 * A lock held by another cpu makes the acquiring cpu wait. The explorer runs
 * one cpu at a time, the others suspended at preemption points below it on
 * the stack, so a waiter can never let the owner run: {@link LockBlocked} is
 * thrown and the explorer drops that schedule as infeasible (counted).
 */
import type { Cpu } from './cpu.js'
import { KernelBugError, RmapError } from './errors.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'

/** Lock classes, by rank in the lock order (lower is taken first). */
export const LOCK = {
  mmap_sem: 0,
  page_lock: 1,
  i_shared_sem: 2,
  page_table_lock: 3,
  page_map_lock: 4,
  anon_vma_lock: 5,
} as const
/** A lock class. */
export type LockClass = (typeof LOCK)[keyof typeof LOCK]

/** Kernel names of the lock classes, by class. */
export const LOCK_NAMES: readonly string[] = [
  'mmap_sem',
  'page lock (PG_locked)',
  'i_shared_sem',
  'mm->page_table_lock',
  'page_map_lock (PG_maplock)',
  'anon_vma->lock',
]

/** What the instance id of each class is: a pfn, an mm id, an object id. */
const ID_NAMES = ['mm', 'pfn', 'address_space', 'mm', 'pfn', 'anon_vma']

function lockName(cls: number, id: number): string {
  return `${LOCK_NAMES[cls]} of ${ID_NAMES[cls]} ${id}`
}

/**
 * lockdep's "possible circular locking dependency": a cpu holding `held`
 * asked, blocking, for `wanted`, which the lock order puts before it.
 */
export class LockOrderError extends KernelBugError {
  override name = 'LockOrderError'
  constructor(
    /** The lock asked for. */
    readonly wanted: string,
    /** The lock already held that must be taken after it. */
    readonly held: string,
    readonly cpu: number,
  ) {
    super(
      `lock order: ${wanted} is taken before ${held}, not under it`,
      'lock order (2.6.5-aa mm/mmap.c header)',
      `cpu ${cpu} holds ${held} and asks for ${wanted}`,
    )
  }
}

/**
 * Thrown, never to the user, when the running cpu would wait for a lock a
 * suspended cpu holds: the explorer discards the schedule as infeasible.
 */
export class LockBlocked extends RmapError {
  override name = 'LockBlocked'
  constructor(
    readonly lock: string,
    readonly cpu: number,
    readonly owner: number,
  ) {
    super(`cpu ${cpu} would wait for ${lock}, held by suspended cpu ${owner}`)
  }
}

/** Is the page-flag bit of a bit lock (page lock) still set? */
export type BitTest = (cls: number, id: number) => boolean

/**
 * The owner table of one several-cpu run: which cpu holds which lock, and in
 * what order each cpu took its locks. Keys are `id * 8 + class`.
 */
export class LockTable {
  /** key → owning cpu (exclusive locks and mmap_sem held for write). */
  private readonly owner = new Map<number, number>()
  /** key → bit mask of the cpus holding mmap_sem for read. */
  private readonly readers = new Map<number, number>()
  /** Per cpu: the keys it holds, in acquisition order. */
  private readonly held: number[][]
  /**
   * The first wait of this run ({@link wait}). A kernel path's clean-up on the
   * way out (fork's teardown of a half-built child, say) may raise something
   * else over it; the explorer still sees that the schedule could not run.
   */
  waited: LockBlocked | null = null

  constructor(
    cpus: number,
    /** For the bit locks (page lock, page_map_lock): is the bit still set? */
    private readonly bitHeld: BitTest,
  ) {
    this.held = Array.from({ length: cpus }, () => [])
  }

  /** The error that makes `cpu` wait for `lock`, held by `owner` (-1: a path that records no owner); remembered in {@link waited}. */
  wait(lock: string, cpu: number, owner: number): LockBlocked {
    const e = new LockBlocked(lock, cpu, owner)
    this.waited ??= e
    return e
  }

  /** The cpu holding the lock (exclusively), or -1. */
  holder(cls: LockClass, id: number): number {
    return this.ownerOf(id * 8 + cls) ?? -1
  }

  /**
   * The owner of key `k`. A page lock whose PG_locked bit a path without an
   * owner record cleared is forgotten here, whichever cpu held it.
   */
  private ownerOf(k: number): number | undefined {
    const o = this.owner.get(k)
    if (o !== undefined && k % 8 === LOCK.page_lock && !this.bitHeld(LOCK.page_lock, Math.floor(k / 8))) {
      this.owner.delete(k)
      this.drop(o, k)
      return undefined
    }
    return o
  }

  /** The locks `cpu` holds, by name, in the order it took them. */
  heldBy(cpu: number): string[] {
    this.prune(cpu)
    return this.held[cpu]!.map((k) => lockName(k % 8, Math.floor(k / 8)))
  }

  /**
   * Forget a page lock that a path not wired to this table released by
   * clearing PG_locked itself (the sequential code's unlock_page sites, e.g.
   * the end of shrink_list). page_map_lock needs no such help: every site
   * goes through page_map_lock/page_map_unlock.
   */
  private prune(cpu: number): void {
    const h = this.held[cpu]!
    for (let i = h.length - 1; i >= 0; i--) {
      const k = h[i]!
      const cls = k % 8
      if (cls === LOCK.page_lock && !this.bitHeld(cls, Math.floor(k / 8))) {
        h.splice(i, 1)
        if (this.owner.get(k) === cpu) this.owner.delete(k)
      }
    }
  }

  /** The lockdep check of a blocking acquire. */
  private checkOrder(cpu: number, cls: number, id: number, nested: boolean): void {
    this.prune(cpu)
    for (const k of this.held[cpu]!) {
      const hc = k % 8
      if (hc > cls || (hc === cls && !nested))
        throw new LockOrderError(lockName(cls, id), lockName(hc, Math.floor(k / 8)), cpu)
    }
  }

  /**
   * A blocking acquire (spin_lock, down, lock_page, page_map_lock). Self
   * deadlock is a kernel bug; a lock another cpu holds throws
   * {@link LockBlocked}. `nested` allows a second lock of the same class
   * (fork's two page_table_locks, lockdep's spin_lock_nested).
   */
  acquire(cpu: number, cls: LockClass, id: number, nested = false): void {
    const k = id * 8 + cls
    this.prune(cpu)
    const o = this.ownerOf(k)
    if (o === cpu)
      throw new KernelBugError(
        `${LOCK_NAMES[cls]} taken twice by one cpu (self-deadlock)`,
        'lock',
        lockName(cls, id),
      )
    if (o !== undefined) throw this.wait(lockName(cls, id), cpu, o)
    if (cls === LOCK.mmap_sem) {
      const r = this.readers.get(k) ?? 0
      if (r & ~(1 << cpu)) throw this.wait(lockName(cls, id), cpu, 31 - Math.clz32(r & ~(1 << cpu)))
    }
    this.checkOrder(cpu, cls, id, nested)
    this.owner.set(k, cpu)
    this.held[cpu]!.push(k)
  }

  /** A trylock: takes the lock when it is free, never waits, never checks the order. */
  trylock(cpu: number, cls: LockClass, id: number): boolean {
    const k = id * 8 + cls
    this.prune(cpu)
    if (this.ownerOf(k) !== undefined) return false
    if (cls === LOCK.mmap_sem && (this.readers.get(k) ?? 0) !== 0) return false
    this.owner.set(k, cpu)
    this.held[cpu]!.push(k)
    return true
  }

  /** `down_read(mmap_sem)`. */
  downRead(cpu: number, id: number): void {
    const k = id * 8 + LOCK.mmap_sem
    const o = this.owner.get(k)
    if (o === cpu)
      throw new KernelBugError(
        'down_read of an mmap_sem held for write (self-deadlock)',
        'lock',
        lockName(LOCK.mmap_sem, id),
      )
    if (o !== undefined) throw this.wait(lockName(LOCK.mmap_sem, id), cpu, o)
    this.checkOrder(cpu, LOCK.mmap_sem, id, false)
    this.readers.set(k, (this.readers.get(k) ?? 0) | (1 << cpu))
    this.held[cpu]!.push(k)
  }

  /** `up_read(mmap_sem)`. */
  upRead(cpu: number, id: number): void {
    const k = id * 8 + LOCK.mmap_sem
    const r = this.readers.get(k) ?? 0
    if (!(r & (1 << cpu)))
      throw new KernelBugError(
        'up_read of an mmap_sem not held for read',
        'lock',
        lockName(LOCK.mmap_sem, id),
      )
    this.readers.set(k, r & ~(1 << cpu))
    this.drop(cpu, k)
  }

  /** Release a lock `cpu` holds exclusively. Releasing one it does not hold is a kernel bug. */
  release(cpu: number, cls: LockClass, id: number): void {
    const k = id * 8 + cls
    if (this.owner.get(k) !== cpu)
      throw new KernelBugError(
        `${LOCK_NAMES[cls]} released by a cpu that does not hold it`,
        'unlock',
        `${lockName(cls, id)}, cpu ${cpu}`,
      )
    this.owner.delete(k)
    this.drop(cpu, k)
  }

  private drop(cpu: number, k: number): void {
    const h = this.held[cpu]!
    const i = h.lastIndexOf(k)
    if (i >= 0) h.splice(i, 1)
  }
}

/**
 * The several-cpu context of a machine the explorer drives (`m.smp`): the
 * running cpu, the lock owners, and the preemption hook. `null` on a
 * sequential machine, which is every machine outside the explorer.
 */
export interface Smp {
  /** The cpu running now (the explorer's cpu ids, 0..n-1). */
  cpu: number
  readonly locks: LockTable
  /**
   * A named preemption point, `'function:where'`: the scheduler may run other
   * cpus here before this one goes on. Names are string literals (no
   * allocation per call).
   */
  preempt(point: string): void
}

/**
 * `lock_page(page)`: the page lock, blocking. On a sequential machine a page
 * already locked is a lock nobody will release (the model runs one path at a
 * time): a kernel bug reported at `where`. Under the explorer the owner table
 * decides first — another cpu's lock makes this one wait, an out-of-order
 * acquire is a {@link LockOrderError} — then PG_locked; a bit set by a path
 * that does not record an owner (a page just read in) counts as held by
 * another cpu.
 */
export function lockPage(m: Machine, c: Cpu, pfn: number, where: string): void {
  const s = m.smp
  if (s === null) {
    if (m.frames.testAndSet(pfn, PG.locked))
      throw new KernelBugError('lock_page of a page nobody unlocks', where, `pfn ${pfn}`)
    return
  }
  s.locks.acquire(c.id, LOCK.page_lock, pfn)
  if (m.frames.testAndSet(pfn, PG.locked)) {
    s.locks.release(c.id, LOCK.page_lock, pfn)
    throw s.locks.wait(`page lock (PG_locked) of pfn ${pfn}`, c.id, -1)
  }
}

/**
 * `TestSetPageLocked(page)`: true when the page was locked already (the lock
 * is not taken); false when this cpu now holds it. Under the explorer a page
 * whose lock another cpu owns counts as locked, and a success records `c` as
 * the owner. A trylock never waits and is exempt from the lock order.
 */
export function testSetPageLocked(m: Machine, c: Cpu, pfn: number): boolean {
  const s = m.smp
  if (s === null) return m.frames.testAndSet(pfn, PG.locked)
  if (!s.locks.trylock(c.id, LOCK.page_lock, pfn)) return true
  if (m.frames.testAndSet(pfn, PG.locked)) {
    s.locks.release(c.id, LOCK.page_lock, pfn)
    return true
  }
  return false
}

/**
 * `unlock_page(page)`. Under the explorer the owner record goes too when this
 * cpu holds it (a page locked by a path that records no owner, such as a read
 * completing, has none to drop).
 */
export function unlockPage(m: Machine, c: Cpu, pfn: number): void {
  const s = m.smp
  if (s !== null && s.locks.holder(LOCK.page_lock, pfn) === c.id) s.locks.release(c.id, LOCK.page_lock, pfn)
  m.frames.clear(pfn, PG.locked)
}
