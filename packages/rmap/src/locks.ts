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
 *   try_to_unuse, shmem_getpage, `m.tryToUnmap`), and at the page
 *   add_to_swap_cache hands back locked to read_swap_cache_async (unlocked
 *   when the read completes, swap_state.ts);
 * - `i_shared_sem`: filemap.ts `downISharedSem` / `downTrylockISharedSem` /
 *   `upISharedSem` — vma_link and remove_shared_vm_struct (mmap.ts),
 *   invalidate_mmap_range (truncate.ts), and the down_trylock of objrmap's
 *   file walks (page_referenced_inode, try_to_unmap_inode);
 * - `mm->page_table_lock`: do_swap_page and copy_page_range (memory.ts), and
 *   the spin_trylock of every rmap walk that reaches a pte
 *   ({@link pageTableTrylock} / {@link pageTableUnlock}): objrmap's
 *   page_referenced_one, try_to_unmap_one and 2.6.7's try_to_unmap_cluster,
 *   anonmm's page_referenced_one and try_to_unmap_one, 2.6.4's
 *   try_to_unmap_one (pte_chains), held from the trylock to the spin_unlock
 *   after the pte work;
 * - `page_map_lock`: the rmap design (objrmap.ts `pageMapLock`, which anonmm
 *   shares); 2.6.4's `pte_chain_lock` (pte_chains/rmap.ts) is its own class;
 * - the anon_vma lock: anon_vma_prepare, anon_vma_link, anon_vma_merge,
 *   anon_vma_unlink and the anon walks (page_referenced_anon,
 *   try_to_unmap_anon) in objrmap.ts; anonmm's `anonmm->lock` of the group
 *   head (dup_rmap, exit_rmap, free_anonmm and its walks) in anonmm.ts.
 *
 * The lock classes and their order, outermost first:
 *
 * 1. `mmap_sem` (a read/write semaphore);
 * 2. the page lock (PG_locked, `lock_page`);
 * 3. `i_shared_sem` (the address_space's vma lists);
 * 4. `mm->page_table_lock`;
 * 5. `page_map_lock` (the PG_maplock bit: mapcount, PG_anon, mapping), or
 *    2.6.4's `pte_chain_lock` (the same bit, PG_chainlock);
 * 6. the anon_vma lock, or anonmm's head lock.
 *
 * 4 → 5 → 6 is the order the header comment of 2.6.5-aa mm/mmap.c gives
 * (page_table_lock outside PG_maplock outside the anon_vma lock; fork
 * depends on it); 2.6.4's mm/rmap.c header has the same place for
 * PG_chainlock (inside page_table_lock, inside the page lock), and rmap 10's
 * (anonmm) for PG_maplock. mmap_sem → page lock is the 2.6 mm/filemap.c
 * header (access_process_vm); page lock → i_shared_sem → page_table_lock is
 * where 2.6.9's mm/rmap.c header puts i_mmap_lock, i_shared_sem's successor
 * (mapping->i_mmap_lock under lock_page, page_table_lock under it).
 *
 * A blocking acquire of a lock whose class ranks at or before a class the
 * cpu already holds is an out-of-order acquire: a {@link LockOrderError}
 * naming both locks (lockdep's report). Trylocks are exempt, as in lockdep:
 * reclaim trylocks page_table_lock and i_shared_sem from inside
 * page_map_lock (and the anon_vma lock) precisely because the blocking order
 * forbids it ("because swapout locking is opposite to the locking order in
 * the page fault path, the swapout path uses trylocks", 2.6.4 mm/rmap.c). A
 * lock taken by a trylock is held like any other: a blocking acquire under
 * it is checked against it.
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
import type { Mm } from './mm/vma.js'

/**
 * Lock classes. The first six are numbered by their rank in the lock order;
 * the last two are the other designs' locks in the place of the -aa ones
 * (see {@link LOCK_RANK}). An owner-table key is `id * 8 + class`: eight
 * classes at most.
 */
export const LOCK = {
  mmap_sem: 0,
  page_lock: 1,
  i_shared_sem: 2,
  page_table_lock: 3,
  page_map_lock: 4,
  anon_vma_lock: 5,
  pte_chain_lock: 6,
  anonmm_lock: 7,
} as const
/** A lock class. */
export type LockClass = (typeof LOCK)[keyof typeof LOCK]

/**
 * The rank of each class in the lock order, by class (lower is taken first).
 * 2.6.4's pte_chain_lock (the PG_chainlock bit, which -aa renamed PG_maplock)
 * ranks with page_map_lock: under mm->page_table_lock, itself under the page
 * lock (the "Locking:" header of 2.6.4 mm/rmap.c). anonmm's lock (the group
 * head's `anonmm->lock`, rmap 10 mm/rmap.c) ranks with the anon_vma lock: its
 * walks take it inside page_map_lock, and clear_page_anon's free_anonmm takes
 * it there too.
 */
export const LOCK_RANK: readonly number[] = [0, 1, 2, 3, 4, 5, 4, 5]

/** Kernel names of the lock classes, by class. */
export const LOCK_NAMES: readonly string[] = [
  'mmap_sem',
  'page lock (PG_locked)',
  'i_shared_sem',
  'mm->page_table_lock',
  'page_map_lock (PG_maplock)',
  'anon_vma->lock',
  'pte_chain_lock (PG_chainlock)',
  'anonmm->lock',
]

/** What the instance id of each class is: a pfn, an mm id, an object id. */
const ID_NAMES = ['mm', 'pfn', 'address_space', 'mm', 'pfn', 'anon_vma', 'pfn', 'anonmm']

function lockName(cls: number, id: number): string {
  return `${LOCK_NAMES[cls]} of ${ID_NAMES[cls]} ${id}`
}

/** The kernel header that states the order between two classes: the design's own for its own locks. */
function orderSource(a: number, b: number): string | undefined {
  if (a === LOCK.pte_chain_lock || b === LOCK.pte_chain_lock) return '2.6.4 mm/rmap.c header'
  if (a === LOCK.anonmm_lock || b === LOCK.anonmm_lock) return 'rmap 10 mm/rmap.c header'
  return undefined
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
    /** Where the kernel states the order broken. */
    source = '2.6.5-aa mm/mmap.c header',
  ) {
    super(
      `lock order: ${wanted} is taken before ${held}, not under it`,
      `lock order (${source})`,
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
   * Forget a page lock whose PG_locked bit was cleared without this table (a
   * test clearing the bit by hand; every unlock_page of the model goes
   * through {@link unlockPage}). page_map_lock needs no such help: every site
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
    const rank = LOCK_RANK[cls]!
    for (const k of this.held[cpu]!) {
      const hc = k % 8
      const hr = LOCK_RANK[hc]!
      if (hr > rank || (hr === rank && (hc !== cls || !nested)))
        throw new LockOrderError(
          lockName(cls, id),
          lockName(hc, Math.floor(k / 8)),
          cpu,
          orderSource(cls, hc),
        )
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
 * acquire is a {@link LockOrderError} — then PG_locked; a bit set without
 * an owner record (by hand, in a test) counts as held by another cpu.
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
 * cpu holds it (a bit set without an owner record has none to drop).
 */
export function unlockPage(m: Machine, c: Cpu, pfn: number): void {
  const s = m.smp
  if (s !== null && s.locks.holder(LOCK.page_lock, pfn) === c.id) s.locks.release(c.id, LOCK.page_lock, pfn)
  m.frames.clear(pfn, PG.locked)
}

/**
 * `spin_trylock(&mm->page_table_lock)` of reclaim's rmap walks: true when the
 * lock is now held by `c`. It fails for an mm whose lock an experiment holds
 * (`m.heldPageTableLocks`) and, under the explorer, for one another cpu owns;
 * there a success records `c` as the owner until {@link pageTableUnlock}, so
 * another cpu's path sees the lock held and the lock order sees it nested
 * under page_map_lock and the walk's object lock. On a sequential machine
 * nothing is recorded (nothing else runs while the walk holds it).
 */
export function pageTableTrylock(m: Machine, c: Cpu, mm: Mm): boolean {
  const held = m.heldPageTableLocks
  if (held.size !== 0 && held.has(mm.id)) return false
  const s = m.smp
  return s === null || s.locks.trylock(c.id, LOCK.page_table_lock, mm.id)
}

/** `spin_unlock(&mm->page_table_lock)` after a {@link pageTableTrylock} that succeeded. */
export function pageTableUnlock(m: Machine, c: Cpu, mm: Mm): void {
  const s = m.smp
  if (s !== null) s.locks.release(c.id, LOCK.page_table_lock, mm.id)
}
