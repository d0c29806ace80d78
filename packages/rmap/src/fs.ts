/**
 * The files of a machine: the default disk filesystem (`m.fs`), open file
 * descriptions and per-process file descriptor tables, and the syscalls on
 * them (`open`, `close`, `ftruncate`), as fs/open.c and fs/namei.c have them.
 *
 * The disk filesystem behaves as ext2 with 4 KB blocks: a file is an inode with
 * an address_space (filemap.ts), its size limit is ext2's s_maxbytes, and its
 * blocks hold the page words written back. There are no directories,
 * permissions or owners: `open` fails with ENOENT or EEXIST only, never
 * EACCES; the access mode is kept because mmap and mprotect check it.
 * Paths under /dev/shm belong to tmpfs (swap-backed shmem, shmem.ts): such a
 * file starts as zeros, has no blocks, and its pages go to swap under
 * reclaim; `sync` does not write it (tmpfs is memory backed).
 *
 * `open` behaves as glibc's `open64` (and every 64-bit kernel, through
 * force_o_largefile): the file is opened with O_LARGEFILE, so `ftruncate`'s
 * 2 GB limit for small-file opens on 32-bit does not apply and only
 * s_maxbytes (EFBIG) bounds a file's size. A spawned process starts with an
 * empty table (no stdin/stdout/stderr), so its first open returns 0.
 */
import type { Cpu } from './cpu.js'
import { SyscallError } from './errors.js'
import { AddressSpace, removeFromPageCache, writePage } from './filemap.js'
import type { Machine } from './machine.js'
import { PG } from './mm/page.js'
import type { Vma } from './mm/vma.js'
import { ShmemInfo } from './shmem.js'
import { S_MAXBYTES, vmtruncate } from './truncate.js'
import { show } from './validate.js'

/** open(2) flags, with the values of the 2.6 headers (i386, ppc and ppc64 agree on these). */
export const O_ACCMODE = 0o3
export const O_RDONLY = 0o0
export const O_WRONLY = 0o1
export const O_RDWR = 0o2
export const O_CREAT = 0o100
export const O_EXCL = 0o200
export const O_TRUNC = 0o1000

/** f_mode bits: the file may be read / written through this open file. */
export const FMODE_READ = 1
export const FMODE_WRITE = 2

/** An open file description (`struct file`): the inode, the open flags and the access mode. */
export interface OpenFile {
  /** The file's address_space (the model keeps one object for inode and mapping). */
  readonly inode: AddressSpace
  /** The flags passed to open. */
  readonly flags: number
  /** f_mode: {@link FMODE_READ} and/or {@link FMODE_WRITE}, from the access mode as `(flags + 1) & O_ACCMODE`. */
  readonly mode: number
}

/** A process's file descriptor table (`files_struct`). */
export class FdTable {
  private readonly fds = new Map<number, OpenFile>()

  /** `get_unused_fd` + `fd_install`: the lowest free descriptor now refers to `file`. */
  install(file: OpenFile): number {
    let fd = 0
    while (this.fds.has(fd)) fd++
    this.fds.set(fd, file)
    return fd
  }

  /** `fget(fd)`: the open file, or undefined for a descriptor that is not open. */
  get(fd: number): OpenFile | undefined {
    return this.fds.get(fd)
  }

  /** Release `fd`; false if it was not open. */
  close(fd: number): boolean {
    return this.fds.delete(fd)
  }

  /** Open descriptors, ascending. */
  descriptors(): number[] {
    return [...this.fds.keys()].sort((a, b) => a - b)
  }

  /** `dup_fd` at fork: the child's table refers to the same open files. */
  copyFrom(other: FdTable): void {
    for (const [fd, file] of other.fds) this.fds.set(fd, file)
  }

  /** `exit_files`: close everything. */
  closeAll(): void {
    this.fds.clear()
  }
}

/** Options of {@link FileSystem.create}. */
export interface CreateOptions {
  /** i_size in bytes. Default 0. */
  size?: number
  /**
   * The word every page of the file holds on disk (e.g. `0` for a file of zeros,
   * `0x41414141` for one of 'A'). Default: a value derived from (file, page index).
   */
  fill?: number
}

/** True for a path that lives in tmpfs. */
function isShmPath(path: string): boolean {
  return path === '/dev/shm' || path.startsWith('/dev/shm/')
}

/** The default disk filesystem of a machine: `m.fs`. */
export class FileSystem {
  private readonly m: Machine
  private readonly byPath = new Map<string, AddressSpace>()
  /** Page-cache pages of every file (nr_pagecache; meminfo Cached). */
  nrPages = 0
  /** EOF tail words by pfn (filemap.ts); a frame without an entry has a zero tail. */
  readonly tails = new Map<number, number>()
  /**
   * A test hook, one-shot: called in `do_no_page` after `->nopage` returned a
   * page (and after an early COW copy), while the kernel runs without
   * page_table_lock, so a test can play another cpu that truncates the file
   * meanwhile (its calls run on their own process's cpu context). Cleared before it runs.
   */
  nopageRacer: ((vma: Vma, address: number) => void) | undefined = undefined

  constructor(m: Machine) {
    this.m = m
  }

  /**
   * Create a file of `size` bytes (as `creat` + `ftruncate` would, with its
   * blocks already written when `fill` is given). Throws SyscallError EEXIST
   * for an existing path, EFBIG past s_maxbytes. A path under /dev/shm is a
   * tmpfs file (shmem.ts): zeros, swap-backed; `fill` is refused for it
   * (RangeError), as a new tmpfs file has no content to fill.
   */
  create(path: string, opts: CreateOptions = {}): AddressSpace {
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw new RangeError(`fs.create: path ${show(path)} is not an absolute path`)
    if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
      throw new TypeError(`fs.create: options must be an object ({ size, fill }), got ${show(opts)}`)
    const shm = isShmPath(path)
    if (shm && (path === '/dev/shm' || path === '/dev/shm/'))
      throw new SyscallError('creat', 'EEXIST', `${path} is the tmpfs mount point`)
    if (shm && opts.fill !== undefined)
      throw new RangeError(`fs.create: fill is not accepted for tmpfs file ${path}`)
    const size = opts.size ?? 0
    if (!Number.isInteger(size) || size < 0)
      throw new RangeError(`fs.create: size ${show(size)} is not a whole, non-negative number of bytes`)
    if (size > S_MAXBYTES)
      throw new SyscallError('creat', 'EFBIG', `size ${size} exceeds s_maxbytes (${S_MAXBYTES})`)
    if (opts.fill !== undefined && !Number.isInteger(opts.fill))
      throw new RangeError(`fs.create: fill ${show(opts.fill)} is not an integer`)
    if (this.byPath.has(path)) throw new SyscallError('creat', 'EEXIST', `${path} exists`)
    const as = new AddressSpace(this.m.newObjectId(), path, size, shm ? 0 : (opts.fill ?? null))
    if (shm) as.shmem = new ShmemInfo()
    this.m.objects.set(as.id, as)
    this.byPath.set(path, as)
    return as
  }

  /**
   * `shmctl(SHM_LOCK / SHM_UNLOCK)` → `shmem_lock`: set or clear the tmpfs
   * inode's VM_LOCKED (info->flags); shmem_writepage then redirties its pages
   * instead of moving them to swap. EINVAL for a file that is not in tmpfs.
   */
  shmLock(file: string | AddressSpace, lock: boolean): void {
    const as = this.fileArg('shmLock', file)
    if (typeof lock !== 'boolean') throw new TypeError(`shmLock: lock must be a boolean, got ${show(lock)}`)
    if (!as) throw new SyscallError('shmctl', 'EINVAL', `no file ${String(file)}`)
    if (!as.shmem) throw new SyscallError('shmctl', 'EINVAL', `${as.path} is not a tmpfs (shmem) file`)
    as.shmem.locked = lock
  }

  /** A file named by path or given as its AddressSpace (undefined when no file has that path). */
  private fileArg(fn: string, file: unknown): AddressSpace | undefined {
    if (typeof file === 'string') return this.byPath.get(file)
    if (file instanceof AddressSpace) return file
    throw new TypeError(`${fn}: file must be a path or an AddressSpace, got ${show(file)}`)
  }

  /** The file at `path`, if there is one. */
  lookup(path: string): AddressSpace | undefined {
    return this.byPath.get(path)
  }

  /** Every file. */
  files(): AddressSpace[] {
    return [...this.byPath.values()]
  }

  /** Number of files. */
  get count(): number {
    return this.byPath.size
  }

  /**
   * `sys_sync`: write back every dirty page-cache page (PG_dirty; a dirty bit
   * still in a pte is not seen, as in the kernel, until the pte is zapped or
   * unmapped). Returns the pages written.
   */
  sync(): number {
    const c = this.m.runningCpu()
    let n = 0
    for (const as of this.byPath.values())
      if (!as.shmem) for (const pfn of as.pages.values()) if (writePage(this.m, c, pfn)) n++
    return n
  }

  /**
   * `invalidate_inode_pages(mapping)`: drop the clean, unlocked, unmapped pages
   * of a file from the page cache (a page another user holds, or a dirty one,
   * stays). Returns the pages dropped.
   */
  invalidateInodePages(file: string | AddressSpace): number {
    const as = this.fileArg('invalidateInodePages', file)
    if (!as) throw new SyscallError('invalidate_inode_pages', 'ENOENT', `no file ${String(file)}`)
    const fr = this.m.frames
    let n = 0
    for (const pfn of [...as.pages.values()]) {
      if (fr.test(pfn, PG.dirty) || fr.test(pfn, PG.locked) || fr.test(pfn, PG.writeback)) continue
      // invalidate_complete_page: only the cache's reference may remain.
      if (fr.mapcount[pfn]! > 0 || fr.count[pfn] !== 1) continue
      removeFromPageCache(this.m, pfn)
      n++
    }
    return n
  }
}

/** `sys_open(path, flags)`: the lowest free descriptor for a new open file. */
export function sysOpen(m: Machine, c: Cpu, files: FdTable, path: string, flags: number): number {
  const S = 'open'
  if (!Number.isInteger(flags) || flags < 0)
    throw new SyscallError(S, 'EINVAL', `flags ${flags} is not a non-negative integer`)
  if (typeof path !== 'string' || path === '') throw new SyscallError(S, 'ENOENT', 'the path is empty')
  let inode = m.fs.lookup(path)
  if (!inode) {
    if (!(flags & O_CREAT))
      throw new SyscallError(S, 'ENOENT', `${path} does not exist and O_CREAT is not set`)
    if (!path.startsWith('/')) throw new SyscallError(S, 'ENOENT', `${path} is not an absolute path`)
    inode = m.fs.create(path)
  } else if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) {
    throw new SyscallError(S, 'EEXIST', `${path} exists and O_CREAT|O_EXCL was given`)
  }
  // may_open: O_TRUNC truncates even with O_RDONLY (Linux behaviour), through do_truncate.
  if (flags & O_TRUNC && inode.size !== 0) vmtruncate(m, c, inode, 0, S)
  return files.install({ inode, flags, mode: (flags + 1) & O_ACCMODE })
}

/** `sys_close(fd)`. Mappings of the file keep their own reference and stay. */
export function sysClose(files: FdTable, fd: number): void {
  if (!files.close(fd)) throw new SyscallError('close', 'EBADF', `fd ${fd} is not open`)
}

/**
 * `sys_ftruncate(fd, length)` → `do_sys_ftruncate` → `do_truncate` →
 * `vmtruncate`, with the kernel's order of checks: EINVAL for a negative
 * length, EBADF for a descriptor that is not open, EINVAL for a file not
 * open for writing, EFBIG past s_maxbytes. A length equal to i_size changes
 * nothing (inode_setattr calls vmtruncate only when the size differs).
 */
export function sysFtruncate(m: Machine, c: Cpu, files: FdTable, fd: number, length: number): void {
  const S = 'ftruncate'
  if (!Number.isInteger(length)) throw new SyscallError(S, 'EINVAL', `length ${length} is not an integer`)
  if (length < 0) throw new SyscallError(S, 'EINVAL', `length ${length} is negative`)
  const file = files.get(fd)
  if (!file) throw new SyscallError(S, 'EBADF', `fd ${fd} is not open`)
  if (!(file.mode & FMODE_WRITE)) throw new SyscallError(S, 'EINVAL', `fd ${fd} is not open for writing`)
  if (length === file.inode.size) return
  vmtruncate(m, c, file.inode, length, S)
}
