/**
 * The machine: physical memory and zones, per-cpu counters, the page tables of
 * every process on one arch layout, processes with their mms, and the reverse
 * mapping — the 2004 VM as one object.
 *
 * ```ts
 * const m = new Machine({ arch: i386Pae, ram: '256M', cpus: 2 })
 * const p = m.spawn()
 * const a = p.mmap(0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
 * p.write(a, 0x01); const c = p.fork(); p.write(a, 0xff); c.read(a) // → 0x01
 * m.meminfo().PageTables; m.check()
 * ```
 */
import { type Gfp, KERNEL_PROFILES, type KernelProfile, PageTableEnv } from './arch/env.js'
import type { PtePtr } from './arch/mmu.js'
import { PS } from './arch/percpu.js'
import type { Arch, PteCodec } from './arch/types.js'
import { type BugName, bugMask, bugNotOnArch, bugsNotInDesign } from './bugs.js'
import { runCheck } from './check.js'
import { Cpu } from './cpu.js'
import {
  ArchLimitError,
  KernelBugError,
  MachineOptionError,
  OutOfMemoryError,
  ProcessExitedError,
  SignalError,
  SyscallError,
} from './errors.js'
import { checkExecArgs, execMm } from './exec.js'
import { exitMmap } from './exit.js'
import { type AddressSpace, accessPastEof } from './filemap.js'
import { dupMmap } from './fork.js'
import { sysRemapFilePages } from './fremap.js'
import { FdTable, FileSystem, sysClose, sysFtruncate, sysOpen } from './fs.js'
import { LOCK, type Smp, testSetPageLocked, unlockPage } from './locks.js'
import { doMadvise } from './madvise.js'
import { type FaultKind, handleMmFault, segv } from './memory.js'
import { doMlock, doMlockall } from './mlock.js'
import { MappingTable } from './mm/objects.js'
import { NO_MAPPING, type PageFlag, type PageFrames, PG } from './mm/page.js'
import { type AnonVma, Mm, VM, type Vma } from './mm/vma.js'
import { addrText, doMmap, doMprotect, doMunmap, MAX_MAP_COUNT } from './mmap.js'
import { doMremap } from './mremap.js'
import { completeWriteback } from './page-writeback.js'
import { lookupPte, NO_PTE, pteWordOffset } from './pgtable.js'
import type { Anonmm } from './rmap/anonmm/anonmm.js'
import { type RmapDesign, type RmapDesignOptions, resolveRmapDesign } from './rmap/registry.js'
import type { RmapAccounting, RmapDesignName, RmapStrategy, RmapView, SwapResult } from './rmap/strategy.js'
import {
  type SwapoffReport,
  type SwaponOptions,
  SwapState,
  swapCount,
  sysSwapoff,
  sysSwapon,
} from './swapfile.js'
import { intArg, numberArg, numberArgs, show } from './validate.js'
import {
  directReclaim,
  FAULT_WATERMARK,
  newPageoutReport,
  type PageoutReport,
  type ReclaimReport,
  reclaim,
  SWAP_CLUSTER_MAX,
  shrinkPage,
  tryToFreePages,
} from './vmscan.js'

/** Options of {@link Machine}. */
export interface MachineOptions {
  /** The page-table layout. */
  arch: Arch
  /** Physical memory: bytes, or a size such as `'256M'`, `'1G'`, `'512K'`. Default `'64M'`. */
  ram?: number | string
  /**
   * Swap space: bytes or `'512M'`; when given (and not 0) the first swap area
   * is created at construction, as `m.swapon(swap)` would (slot 0 is its
   * header, so SwapTotal is one page less). Default 0: no swap.
   */
  swap?: number | string
  /** Number of cpus (1..32). Default 2. */
  cpus?: number
  /**
   * The reverse-mapping design (RMAP_DESIGNS): `'objrmap'` (2.6.5-aa objrmap +
   * anon_vma, the default), `'pte_chains'` (mainline 2.6.4) or `'anonmm'`
   * (Hugh's rmap 10/11). An unknown name throws UnknownRmapDesignError, a
   * design not modelled yet RmapDesignNotImplementedError (both RangeErrors).
   */
  rmap?: RmapDesignName
  /**
   * L1_CACHE_BYTES, the size of a 2.6.4 `struct pte_chain` (`rmap:
   * 'pte_chains'`): a power of two; default the layout's 2004 value (i386 and
   * ppc64 128, ppc 32). RangeError when a chain would not hold two ptes.
   */
  cacheLine?: number
  /** Kernel profile for the rules that differ between kernels. Default `'2.6.5-aa'`. */
  profile?: KernelProfile
  /** Seed of the deterministic choices (which cpu a process runs on). Default 1. */
  seed?: number
  /** sysctl vm.max_map_count: vmas per mm (mmap, split_vma and mremap check it). Default 65536. */
  maxMapCount?: number
  /**
   * How try_to_unmap treats the ptes of VM_NONLINEAR (remap_file_pages) vmas.
   * Default `'2.6.7-cluster'`.
   *
   * - `'2.6.7-cluster'`: as 2.6.7. page_referenced of a file page skips
   *   nonlinear vmas; try_to_unmap, after the linear walk, ages and unmaps
   *   clusters of 32 ptes (CLUSTER_SIZE) in each nonlinear vma of the file from
   *   the vma's cursor (`Vma.nonlinearCursor`), making each pte of a file page a
   *   file pte holding page->index (none at its linear address), until it has
   *   unmapped as many ptes as the page's mapcount or scanned every nonlinear
   *   vma once. VM_LOCKED nonlinear vmas are skipped (when all are, nothing
   *   is scanned and the answer is SWAP_AGAIN, as in 2.6.7; 2.6.8 made it
   *   SWAP_FAIL). The scan runs with the page's page_map_lock dropped and
   *   clears each pte through page_remove_rmap, as 2.6.7 mm/rmap.c does.
   * - `'aa-none'`: as the 2.6.5-aa tree. Nonlinear ptes are never found: the
   *   page stays mapped and try_to_unmap answers SWAP_AGAIN, so such pages are
   *   in effect locked in memory (a local DoS like unrestricted mlock).
   */
  nonlinearReclaim?: NonlinearReclaim
  /**
   * Bugs of the 2004 thread to re-introduce (BUG_NAMES, described in BUGS):
   * `'pg-anon-race'` (PG_anon set by the callers outside page_map_lock, the
   * 2.6.5-rc1-aa1 code), `'pg-anon-clear-race'` (PG_anon cleared after
   * page_map_lock is dropped), `'pagetables-0kb'`, `'shmem-swapcache-bug-on'`,
   * and the ppc/ppc64 ones (`'ppc-no-pgtable-rmap'`, `'ppc-early-pte-count'`,
   * `'ppc-young-no-flush'`, `'ppc-flush-hash-shift'`, only on the layouts
   * that had them). Default none: every path is the fixed kernel. An unknown
   * name throws a RangeError listing the valid ones.
   */
  bugs?: readonly BugName[]
}

/** Values of {@link MachineOptions.nonlinearReclaim}. */
export const NONLINEAR_RECLAIM = ['2.6.7-cluster', 'aa-none'] as const
/** How try_to_unmap treats nonlinear vmas (see {@link MachineOptions.nonlinearReclaim}). */
export type NonlinearReclaim = (typeof NONLINEAR_RECLAIM)[number]

/** /proc/meminfo, in kB, with the kernel's field names. */
export interface Meminfo {
  MemTotal: number
  MemFree: number
  Cached: number
  SwapCached: number
  Active: number
  Inactive: number
  HighTotal: number
  HighFree: number
  LowTotal: number
  LowFree: number
  SwapTotal: number
  SwapFree: number
  Dirty: number
  Writeback: number
  Mapped: number
  Slab: number
  PageTables: number
}

/** One line of /proc/PID/maps. */
export interface MapsEntry {
  start: number
  end: number
  /** `rwxp` / `rw-s` style. */
  perms: string
  /**
   * File offset in bytes: vm_pgoff << PAGE_SHIFT as an unsigned long (for
   * anonymous vmas, what the design's rule gave: the linear origin under
   * objrmap, the caller's offset or 0 under pte_chains and anonmm).
   */
  pgoff: number
  /** The file's path, or `''` for anonymous memory. */
  file: string
}

/** What /proc/PID/pagemap (and the pte itself) says about one virtual page. */
export interface PagemapEntry {
  present: boolean
  pfn?: number
  young?: boolean
  dirty?: boolean
  write?: boolean
  swapped: boolean
  swapType?: number
  swapOffset?: number
  /** A nonlinear file pte: the file page offset it holds. */
  file?: number
}

/** One page frame as `m.page(pfn)` reports it. */
export interface PageInfo {
  pfn: number
  count: number
  mapcount: number
  flags: PageFlag[]
  mapping: { kind: 'none' | 'anon_vma' | 'anonmm' | 'address_space' | 'mm'; id: number }
  index: number
  private: number
  zone: string
  /** The page's content word. */
  content: number
}

function newCounters() {
  return {
    faults: {
      anonymousZero: 0,
      anonymous: 0,
      wpCopy: 0,
      wpReuse: 0,
      minor: 0,
      file: 0,
      fileCow: 0,
      nonlinear: 0,
      swapCache: 0,
      swapMajor: 0,
    } satisfies Record<FaultKind, number>,
    /** Swap: slots given by add_to_swap, slots written and read, do_swap_page outcomes, pageout outcomes. */
    swap: {
      addToSwap: 0,
      pagesWritten: 0,
      pagesRead: 0,
      majorFaults: 0,
      cacheHits: 0,
      pageouts: 0,
      freed: 0,
      activated: 0,
    },
    /** Page cache and file work: pages read in and written back, truncation, do_no_page retries, SIGBUS, fremap. */
    filemap: {
      pagesRead: 0,
      writeback: 0,
      truncated: 0,
      nopageRetries: 0,
      sigbus: 0,
      installPage: 0,
      installFilePte: 0,
    },
    cow: { copies: 0, reuses: 0 },
    fork: { forks: 0, vmasCopied: 0, ptesCopied: 0 },
    rmap: {
      pageAddRmap: 0,
      pageRemoveRmap: 0,
      pageReferencedCalls: 0,
      pageReferencedFound: 0,
      tryToUnmapCalls: 0,
      vmasVisited: 0,
      ptesProbed: 0,
      trylockFailures: 0,
      swapSuccess: 0,
      swapAgain: 0,
      swapFail: 0,
      /** anonmm: mms an rmap walk tried (page_referenced_one / try_to_unmap_one calls). */
      mmsVisited: 0,
      /** anonmm: find_vma calls of try_to_unmap_one (the vma of a pte found through an mm). */
      findVmaCalls: 0,
      /** anonmm: pages page_referenced migrated off the anonmm of an exited mm. */
      anonmmMigrations: 0,
      /** anonmm (rmap 11): shared anonymous pages mremap copied before moving them ("mremap moved N cows"). */
      mremapCows: 0,
      /** anonmm (rmap 11): swapped-in pages copied because page->index named another address. */
      swapInCows: 0,
    },
    objects: { anonVmas: 0, vmas: 0 },
    /**
     * LRU scanning (vmscan.ts): m.reclaim calls (runs) and the balance_pgdat
     * passes they took, try_to_free_pages calls (directReclaims), pages
     * scanned, freed and moved between the lists, OOM kills.
     */
    reclaim: {
      runs: 0,
      passes: 0,
      directReclaims: 0,
      scanned: 0,
      freed: 0,
      deactivated: 0,
      activated: 0,
      oomKills: 0,
      /** Writes that completed (end_page_writeback). */
      writebacksCompleted: 0,
      /** Written pages moved to the inactive tail as their write completed (rotate_reclaimable_page, pgrotated). */
      rotated: 0,
    },
    /** The walk of the last `m.pageReferenced(pfn)` / `m.tryToUnmap(pfn)` call alone. */
    lastWalk: { vmasVisited: 0, ptesProbed: 0 },
  }
}

/** The counters `m.stats()` reports. */
export type VmCounters = ReturnType<typeof newCounters>

/** `m.stats()`: per-operation costs and the memory the rmap design costs. */
export interface VmStats extends VmCounters {
  /**
   * Bytes the reverse mapping costs at the arch's sizes: objrmap's structures
   * (0 under a design without them) and the design's total
   * (docs/designs.md#data-structures-and-sizes, docs/designs.md#costs).
   */
  rmapBytes: { anonVma: number; vmaFields: number; mapcount: number; total: number }
  /** The design's own accounting: bytes and objects by structure, lowmem frames it occupies. */
  rmapMemory: RmapAccounting
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }

/** Parse `'64M'`-style sizes (K, M, G; binary units) or a byte count. */
export function parseSize(v: number | string, what: string): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`${what}: ${v} is not a whole, non-negative number of bytes`)
    return v
  }
  if (typeof v !== 'string')
    throw new RangeError(`${what}: ${show(v)} is not a number of bytes or a size such as '64M'`)
  const match = /^\s*(\d+)\s*([KMG]?)B?\s*$/i.exec(v)
  if (!match) throw new RangeError(`${what}: '${v}' is not a size such as '64M', '1G' or '512K'`)
  return Number(match[1]) * UNITS[match[2]!.toUpperCase()]!
}

/** Zone sizes per layout: i386 DMA 16 MB, Normal up to 896 MB, HighMem above; ppc and ppc64 all low memory. */
function zonePages(arch: Arch, pages: number): { dma: number; low: number; high: number } {
  if (arch.name === 'i386' || arch.name === 'i386-pae') {
    const low = Math.min(pages, (896 * 1024 * 1024) / 4096)
    return { dma: Math.min(4096, Math.floor(low / 2)), low, high: pages - low }
  }
  return { dma: 0, low: pages, high: 0 }
}

/** Largest RAM per layout the model accepts. */
function maxRam(arch: Arch): number {
  if (arch.name === 'i386') return 4 * 1024 ** 3
  if (arch.name === 'ppc') return 768 * 1024 ** 2 // CONFIG_LOWMEM_SIZE: ppc without CONFIG_HIGHMEM
  return 16 * 1024 ** 3
}

/** The validated, defaulted options of a machine. */
interface ValidOptions {
  arch: Arch
  rmapDesign: RmapDesign
  rmapOptions: RmapDesignOptions
  profile: KernelProfile
  cpus: number
  ram: number
  swapBytes: number
  seed: number
  maxMapCount: number
  nonlinearReclaim: NonlinearReclaim
}

/** A size option in bytes, or a MachineOptionError naming it. */
function sizeOption(option: string, v: number | string): number {
  try {
    return parseSize(v, option)
  } catch (e) {
    if (e instanceof RangeError) throw new MachineOptionError(option, v, e.message)
    throw e
  }
}

/**
 * Check every option before anything is built: a MachineOptionError naming
 * the option and its bound (the arch's, for sizes) for the first bad one.
 */
function machineOptions(opts: MachineOptions): ValidOptions {
  if (typeof opts !== 'object' || opts === null)
    throw new MachineOptionError('options', opts, `options must be an object, got ${show(opts)}`)
  const { arch } = opts
  if (typeof arch !== 'object' || arch === null || typeof arch.mkPte !== 'function')
    throw new MachineOptionError(
      'arch',
      arch,
      'options.arch must be an Arch (e.g. i386 from @rmaplab/arch-i386)',
    )
  // UnknownRmapDesignError / RmapDesignNotImplementedError: MachineOptionErrors naming 'rmap'.
  const rmapDesign = resolveRmapDesign(opts.rmap ?? 'objrmap')
  const rmapOptions = { cacheLine: opts.cacheLine }
  // L1_CACHE_BYTES belongs to the machine, whatever the design: its form is checked always
  // (pte_chains then checks that a chain holds two pte addresses on the layout).
  const line = opts.cacheLine
  if (
    line !== undefined &&
    !(
      typeof line === 'number' &&
      Number.isInteger(line) &&
      line >= 16 &&
      line <= 4096 &&
      (line & (line - 1)) === 0
    )
  )
    throw new MachineOptionError(
      'cacheLine',
      line,
      `cacheLine (L1_CACHE_BYTES) must be a power of two from 16 to 4096, got ${show(line)}`,
    )
  try {
    rmapDesign.validate(arch, rmapOptions)
  } catch (e) {
    if (e instanceof RangeError && !(e instanceof MachineOptionError))
      throw new MachineOptionError('cacheLine', opts.cacheLine, e.message.replace(/^Machine: /, ''))
    throw e
  }
  // pte_chains are mainline 2.6.4's: its page-table accounting and KM_PTE2 come with them.
  const profile = opts.profile ?? (opts.rmap === 'pte_chains' ? '2.6.4' : '2.6.5-aa')
  if (!KERNEL_PROFILES.includes(profile)) {
    throw new MachineOptionError(
      'profile',
      profile,
      `unknown profile '${String(profile)}'; valid: ${KERNEL_PROFILES.join(', ')}`,
    )
  }
  const cpus = opts.cpus ?? 2
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 32)
    throw new MachineOptionError('cpus', cpus, `cpus must be a whole number in 1..32, got ${show(cpus)}`)
  const ram = sizeOption('ram', opts.ram ?? '64M')
  const limit = maxRam(arch)
  if (ram < 4 * 1024 ** 2 || ram > limit) {
    throw new MachineOptionError(
      'ram',
      opts.ram,
      `ram must be between 4M and ${limit / 1024 ** 2}M on ${arch.name}, got ${ram} bytes`,
    )
  }
  if (ram % 4096 !== 0)
    throw new MachineOptionError('ram', opts.ram, `ram ${ram} is not a whole number of 4 KB pages`)
  // swap: what sys_swapon would refuse, refused here first: below the header
  // page plus one slot, or more pages than the swap pte's offset field holds
  // (SWAP_MAXPAGES_LIMIT of the arch). 0 means no swap.
  const swapBytes = sizeOption('swap', opts.swap ?? 0)
  if (swapBytes !== 0) {
    const swapPages = Math.floor(swapBytes / 4096)
    const maxPages = Number(arch.geometry.SWAP_MAXPAGES_LIMIT)
    if (swapPages < 2 || swapPages > maxPages) {
      const max = maxPages * 4096
      const maxText = max % 1024 ** 3 === 0 ? `${max / 1024 ** 3}G` : `${Math.floor(max / 1024 ** 2)}M`
      throw new MachineOptionError(
        'swap',
        opts.swap,
        `swap must be 0 (none) or between 8K (the header page and one slot) and ${maxText} (SWAP_MAXPAGES_LIMIT, 0x${maxPages.toString(16)} pages) on ${arch.name}, got ${swapBytes} bytes`,
      )
    }
  }
  const seed = opts.seed ?? 1
  if (!Number.isInteger(seed))
    throw new MachineOptionError('seed', seed, `seed must be an integer, got ${show(seed)}`)
  const maxMapCount = opts.maxMapCount ?? MAX_MAP_COUNT
  if (!Number.isInteger(maxMapCount) || maxMapCount < 1 || maxMapCount > 0x7fffffff) {
    throw new MachineOptionError(
      'maxMapCount',
      maxMapCount,
      `maxMapCount (sysctl vm.max_map_count, an int) must be a whole number in 1..2147483647, got ${show(maxMapCount)}`,
    )
  }
  const nonlinearReclaim = opts.nonlinearReclaim ?? '2.6.7-cluster'
  if (!NONLINEAR_RECLAIM.includes(nonlinearReclaim)) {
    throw new MachineOptionError(
      'nonlinearReclaim',
      nonlinearReclaim,
      `unknown nonlinearReclaim '${String(nonlinearReclaim)}'; valid: ${NONLINEAR_RECLAIM.join(', ')}`,
    )
  }
  return { arch, rmapDesign, rmapOptions, profile, cpus, ram, swapBytes, seed, maxMapCount, nonlinearReclaim }
}

/** GFP_HIGHUSER: a user page may come from highmem (one object, not one per fault). */
const GFP_HIGHUSER: Gfp = Object.freeze({ highmem: true })

/** A process: a pid, an mm, and the syscalls of the kernel with their arguments. */
export class Process {
  /** The process id. */
  readonly pid: number
  /** Its address space. */
  mm: Mm
  /** False once it exited or was killed. */
  alive = true
  /** The signal that killed it, if one did. */
  killedBy: 'SIGSEGV' | 'SIGBUS' | 'SIGKILL' | undefined
  /** Its file descriptor table (inherited by fork, kept across exec, closed at exit). */
  readonly files = new FdTable()
  private readonly m: Machine
  /**
   * The pte page the last user access walked to (the model's memo, not a
   * kernel structure): its mm, the span of PTRS_PER_PTE pages it maps, its
   * pfn, and PageTableStore.freed then. A later access in the same span of
   * the same mm, with no page table freed since, finds the same pte page, so
   * the walk from the pgd is skipped (only on a sequential machine).
   */
  private walkMm: Mm | null = null
  /** The span's first address and its end (walkHi -1: no memo). */
  private walkLo = 0
  private walkHi = -1
  /** The pte location of the span's first page (its pte page's pfn × PTRS_PER_PTE). */
  private walkBase = -1
  private walkFreed = -1
  /** The vma of the last access that needed no fault (null after a fault), for its EOF check. */
  private accessVma: Vma | null = null

  constructor(m: Machine, pid: number, mm: Mm) {
    this.m = m
    this.pid = pid
    this.mm = mm
  }

  /** The cpu it runs on. */
  get cpu(): number {
    return this.mm.cpu
  }

  /**
   * The cpu context this process's kernel paths run on: its mm's cpu, or,
   * while the race explorer drives the machine, the explored cpu running
   * the program that made the call.
   */
  private cpuCtx(): Cpu {
    if (!this.alive) throw new ProcessExitedError(`pid ${this.pid} has exited`)
    return this.m.cpuFor(this.mm)
  }

  private enter<T>(fn: (c: Cpu) => T): T {
    return fn(this.cpuCtx())
  }

  /**
   * {@link enter} for the syscalls that take `down_write(&mm->mmap_sem)`
   * (mmap, munmap, mprotect, mremap): the semaphore is modelled only while
   * the interleaving explorer drives the machine.
   */
  private enterWrite<T>(fn: (c: Cpu) => T): T {
    const c = this.cpuCtx()
    const smp = this.m.smp
    if (smp === null) return fn(c)
    smp.locks.acquire(c.id, LOCK.mmap_sem, this.mm.id)
    try {
      return fn(c)
    } finally {
      smp.locks.release(c.id, LOCK.mmap_sem, this.mm.id)
    }
  }

  /** `mmap(addr, length, prot, flags, fd, offset)`: the address of the new mapping. */
  mmap(addr: number, length: number, prot: number, flags: number, fd?: number, offset = 0): number {
    numberArgs(
      'mmap',
      ['addr', addr],
      ['length', length],
      ['prot', prot],
      ['flags', flags],
      ['offset', offset],
    )
    // An fd is an int (ignored for MAP_ANONYMOUS, but still an int).
    if (fd !== undefined) intArg('mmap', 'fd', fd, -(2 ** 31), 2 ** 31 - 1)
    return this.enterWrite((c) =>
      doMmap(this.m, c, this.mm, addr, length, prot, flags, fd, offset, this.files),
    )
  }

  /** `open(path, flags)`: O_RDONLY/O_WRONLY/O_RDWR with O_CREAT, O_EXCL, O_TRUNC; the lowest free fd (see fs.ts). */
  open(path: string, flags: number): number {
    if (typeof path !== 'string') throw new TypeError(`open: path must be a string, got ${show(path)}`)
    numberArg('open', 'flags', flags)
    return this.enter((c) => sysOpen(this.m, c, this.files, path, flags))
  }

  /** `close(fd)`. Mappings of the file stay. */
  close(fd: number): void {
    numberArg('close', 'fd', fd)
    this.enter(() => sysClose(this.files, fd))
  }

  /** `ftruncate(fd, length)`: a shrink unmaps and drops the pages past the new end (truncate.ts). */
  ftruncate(fd: number, length: number): void {
    numberArgs('ftruncate', ['fd', fd], ['length', length])
    this.enter((c) => sysFtruncate(this.m, c, this.files, fd, length))
  }

  /** `remap_file_pages(start, size, prot, pgoff, flags)`: a nonlinear window on a shared file mapping (fremap.ts). */
  remapFilePages(start: number, size: number, prot: number, pgoff: number, flags = 0): void {
    numberArgs(
      'remap_file_pages',
      ['start', start],
      ['size', size],
      ['prot', prot],
      ['pgoff', pgoff],
      ['flags', flags],
    )
    this.enter((c) => sysRemapFilePages(this.m, c, this.mm, start, size, prot, pgoff, flags))
  }

  /** `munmap(addr, length)`. */
  munmap(addr: number, length: number): void {
    numberArgs('munmap', ['addr', addr], ['length', length])
    this.enterWrite((c) => doMunmap(this.m, c, this.mm, addr, length))
  }

  /** `mprotect(addr, length, prot)`. */
  mprotect(addr: number, length: number, prot: number): void {
    numberArgs('mprotect', ['addr', addr], ['length', length], ['prot', prot])
    this.enterWrite((c) => doMprotect(this.m, c, this.mm, addr, length, prot))
  }

  /**
   * `mremap(oldAddr, oldLen, newLen, flags, newAddr)`: shrink, grow in place, or
   * (MREMAP_MAYMOVE) move the mapping; MREMAP_FIXED moves it to `newAddr`.
   * Returns the mapping's address. Anonymous pages move without any rmap
   * change (see mremap.ts).
   */
  mremap(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
    numberArgs(
      'mremap',
      ['oldAddr', oldAddr],
      ['oldLen', oldLen],
      ['newLen', newLen],
      ['flags', flags],
      ['newAddr', newAddr],
    )
    return this.enterWrite((c) =>
      doMremap(this.m, c, this.mm, this.pid, oldAddr, oldLen, newLen, flags, newAddr),
    )
  }

  /** `mlock(addr, length)`: VM_LOCKED on the range, its pages faulted in (see mlock.ts). */
  mlock(addr: number, length: number): void {
    numberArgs('mlock', ['addr', addr], ['length', length])
    this.enter((c) => doMlock(this.m, c, this.mm, this.pid, addr, length, true))
  }

  /** `munlock(addr, length)`. */
  munlock(addr: number, length: number): void {
    numberArgs('munlock', ['addr', addr], ['length', length])
    this.enter((c) => doMlock(this.m, c, this.mm, this.pid, addr, length, false))
  }

  /** `mlockall(flags)`: MCL_CURRENT (the arch's value: 1 on i386, 0x2000 on ppc/ppc64); MCL_FUTURE is not modelled. */
  mlockall(flags: number): void {
    numberArg('mlockall', 'flags', flags)
    this.enter((c) => doMlockall(this.m, c, this.mm, this.pid, flags, 'mlockall'))
  }

  /** `munlockall()`. */
  munlockall(): void {
    this.enter((c) => doMlockall(this.m, c, this.mm, this.pid, 0, 'munlockall'))
  }

  /** `madvise(addr, length, advice)`: MADV_NORMAL/RANDOM/SEQUENTIAL/WILLNEED/DONTNEED (see madvise.ts). */
  madvise(addr: number, length: number, advice: number): void {
    numberArgs('madvise', ['addr', addr], ['length', length], ['advice', advice])
    this.enter((c) => doMadvise(this.m, c, this.mm, addr, length, advice))
  }

  /**
   * Read the content word of the page at `addr`, faulting it in as the cpu
   * would. In a file mapping, an address at a file offset at or past i_size
   * (the rest of the last page) reads the page's EOF tail: 0 unless written.
   */
  read(addr: number): number {
    if (typeof addr !== 'number') numberArg('read', 'addr', addr)
    // The hot path: no closure, as enter() would allocate one per access.
    const pfn = this.access(this.cpuCtx(), addr, false)
    if (this.pastEof(addr, pfn)) return this.m.fs.tails.get(pfn) ?? 0
    return this.m.frames.content[pfn]!
  }

  /** Write `value` (a 32-bit word) to the page at `addr`, faulting as needed. Past EOF it goes to the EOF tail. */
  write(addr: number, value: number): void {
    if (typeof addr !== 'number') numberArg('write', 'addr', addr)
    numberArg('write', 'value', value)
    if (!Number.isInteger(value)) throw new RangeError(`write: value ${value} is not an integer`)
    const pfn = this.access(this.cpuCtx(), addr, true)
    if (this.pastEof(addr, pfn)) this.m.fs.tails.set(pfn, value >>> 0)
    else this.m.frames.content[pfn] = value >>> 0
  }

  /** Does the access at `addr`, which reached `pfn`, fall past the end of a mapped file? */
  private pastEof(addr: number, pfn: number): boolean {
    if (this.m.fs.count === 0) return false
    // After a fault (which may run a test's racer) the vma is looked up again.
    const vma = this.accessVma ?? this.mm.vmaAt(addr)
    return vma !== null && vma.file !== null && accessPastEof(this.m, vma, addr, pfn)
  }

  /** The user access itself: the pfn it reaches, after any faults. Kills the process on a bad access. */
  private access(c: Cpu, addr: number, write: boolean): number {
    const m = this.m
    if (!Number.isInteger(addr) || addr < 0)
      throw new RangeError(
        `${write ? 'write' : 'read'}: address ${addrText(addr)} is not a non-negative integer`,
      )
    // Past 2^31 (ppc64's user addresses) `%` is a call to fmod; division by a
    // power of two and floor are single instructions.
    const page = Math.floor(addr / 4096) * 4096
    const vma = addr < m.taskSize ? this.mm.vmaAt(addr) : null
    let reason = ''
    if (!vma) reason = addr < m.taskSize ? 'no vma maps the address' : 'address at or above TASK_SIZE'
    else if (write && !(vma.flags & VM.WRITE)) reason = 'write to a vma without VM_WRITE'
    else if (!write && !(vma.flags & (VM.READ | VM.EXEC))) reason = 'read from a vma without VM_READ'
    if (!vma || reason) throw this.kill(segv(this.pid, addr, reason))
    // The cpu retries the access after each fault. A write to a swapped,
    // shared page takes two (do_swap_page maps it read-only, do_wp_page copies
    // it), and direct reclaim before a fault may swap out what the previous one
    // brought in; the pte is looked at again after the last fault too.
    const tables = m.env.tables
    let ptr = this.walk(page)
    this.accessVma = null
    for (let tries = 0; ; tries++) {
      if (ptr !== NO_PTE && m.env.mmu.access(this.mm.id, page, ptr, write, c.id)) {
        const w = m.env.tables.words
        const at = pteWordOffset(m.env, ptr)
        if (tries === 0) this.accessVma = vma
        return m.fast.pfn(w[at]!, m.fast.words === 2 ? w[at + 1]! : 0)
      }
      if (tries === 8) break
      // What freed the pte page of `ptr` would count here (see PageTableStore.freed).
      const freed = tables.freed
      // Direct reclaim (and the OOM killer) before the fault allocates: see vmscan.ts.
      if (m.env.nrFreePages() < FAULT_WATERMARK) directReclaim(m, c, this)
      let kind: FaultKind
      // do_page_fault: down_read(&mm->mmap_sem), modelled only under the explorer.
      const smp = m.smp
      if (smp !== null) smp.locks.downRead(c.id, this.mm.id)
      try {
        // The pte this walk found (none under the explorer: another cpu may
        // unmap while this one waits for mmap_sem).
        kind = handleMmFault(m, c, vma, page, write, this.pid, smp === null ? ptr : NO_PTE)
      } catch (e) {
        // VM_FAULT_SIGBUS: force_sig(SIGBUS) with the faulting address.
        if (e instanceof SignalError) throw this.kill(new SignalError(e.signal, addr, this.pid, e.reason))
        throw e
      } finally {
        if (smp !== null) smp.locks.upRead(c.id, this.mm.id)
      }
      m.counters.faults[kind]++
      // The cpu walks again for the retried access; on a sequential machine
      // the walk before the fault found the same location unless a page
      // table was freed since (a fault never frees one, but a reclaim or a
      // test's racer may) or there was no pte page then.
      if (smp !== null || ptr === NO_PTE || tables.freed !== freed) ptr = this.walk(page)
    }
    throw new KernelBugError(
      'the access completes once its faults are handled',
      'mm/memory.c handle_mm_fault',
      `pid ${this.pid}, 0x${addr.toString(16)}`,
    )
  }

  /**
   * The pte location of user page `page` (lookupPte), through the memo of
   * the last pte page walked to when it still holds (see walkBase).
   */
  private walk(page: number): PtePtr {
    const m = this.m
    const env = m.env
    if (
      page >= this.walkLo &&
      page < this.walkHi &&
      this.walkMm === this.mm &&
      this.walkFreed === env.tables.freed &&
      m.smp === null
    ) {
      return this.walkBase + env.arch.fast.pteIndex(page)
    }
    const ptr = lookupPte(env, this.mm.id, page)
    if (ptr === NO_PTE || m.smp !== null) {
      this.walkHi = -1
    } else {
      const n = m.arch.geometry.PTRS_PER_PTE
      const bytes = n * 4096
      this.walkMm = this.mm
      this.walkLo = page - (page % bytes)
      this.walkHi = this.walkLo + bytes
      this.walkBase = env.tables.ptePfn(ptr) * n
      this.walkFreed = env.tables.freed
    }
    return ptr
  }

  private kill(e: SignalError): SignalError {
    this.killedBy = e.signal
    this.m.reap(this)
    return e
  }

  /** `fork()`: a child with a copy-on-write copy of this address space. */
  fork(): Process {
    return this.enter((c) => this.m.forkProcess(c, this))
  }

  /**
   * `exec()`: replace the image with a fresh one whose stack holds `args` (one
   * word per argument page). Checked first: not an array of integers is a
   * TypeError/RangeError, more than MAX_ARG_PAGES (32) words SyscallError
   * E2BIG. The new image is built, with reclaim when memory is short, before
   * the old one goes: ENOMEM leaves the process as it was.
   */
  exec(args: readonly number[] = [0]): void {
    checkExecArgs(args)
    this.enter((c) => {
      const old = this.mm
      // The new image is built whole before the old one goes: a failure
      // (ENOMEM after reclaim) leaves the process as it was.
      this.mm = this.m.withReclaim(c, 'execve', 'the new image', () => execMm(this.m, c, args, old.cpu))
      this.m.releaseMm(old)
    })
  }

  /** `exit()`: release the address space. */
  exit(): void {
    this.enter(() => this.m.reap(this))
  }

  /** /proc/PID/maps. */
  maps(): MapsEntry[] {
    // vm_pgoff << PAGE_SHIFT in an unsigned long: a pgoff a merge took below 0
    // (2.6.4's anonymous rules) shows as the kernel prints it.
    const wrap = 2 ** this.m.arch.geometry.BITS_PER_LONG
    return this.mm.vmas.map((v) => ({
      start: v.start,
      end: v.end,
      perms: `${v.flags & VM.READ ? 'r' : '-'}${v.flags & VM.WRITE ? 'w' : '-'}${v.flags & VM.EXEC ? 'x' : '-'}${v.flags & VM.MAYSHARE ? 's' : 'p'}`,
      pgoff: v.pgoff < 0 ? wrap + ((v.pgoff * 4096) % wrap) : v.pgoff * 4096,
      file: v.file?.path ?? '',
    }))
  }

  /** What the pte of `addr` holds. */
  pagemap(addr: number): PagemapEntry {
    numberArg('pagemap', 'addr', addr)
    const m = this.m
    if (!Number.isInteger(addr) || addr < 0 || addr >= m.taskSize) {
      throw new ArchLimitError(
        m.arch.name,
        'pagemap',
        'address',
        `below TASK_SIZE (0x${m.taskSize.toString(16)})`,
        addr,
      )
    }
    if (!this.alive) throw new ProcessExitedError(`pid ${this.pid} has exited`)
    const ptr = lookupPte(m.env, this.mm.id, addr - (addr % 4096))
    if (ptr === NO_PTE) return { present: false, swapped: false }
    const w = m.env.tables.words
    const at = pteWordOffset(m.env, ptr)
    const lo = w[at]!
    const hi = m.fast.words === 2 ? w[at + 1]! : 0
    const f = m.fast
    if (f.present(lo, hi)) {
      return {
        present: true,
        pfn: f.pfn(lo, hi),
        young: (lo & f.YOUNG) !== 0,
        dirty: (lo & f.DIRTY) !== 0,
        write: (lo & f.WRITE) !== 0,
        swapped: false,
      }
    }
    if (f.none(lo, hi)) return { present: false, swapped: false }
    if (f.file(lo, hi)) return { present: false, swapped: false, file: f.pgoff(lo, hi) }
    return { present: false, swapped: true, swapType: f.swpType(lo, hi), swapOffset: f.swpOffset(lo, hi) }
  }
}

/** The machine. */
export class Machine {
  /** The layout. */
  readonly arch: Arch
  /** Its fast codec (hot paths). */
  readonly fast: PteCodec
  /** Frames, page tables, per-cpu state, kmap slots and the MMU cache. */
  readonly env: PageTableEnv
  /** struct page of every frame. */
  readonly frames: PageFrames
  /** ZERO_PAGE: reserved, reads 0, never counted in rss or tracked by rmap. */
  readonly zeroPage: number
  /** The reverse-mapping design, resolved once from the `rmap` option. */
  readonly rmap: RmapStrategy
  /** Objects page->mapping can name: anon_vmas (objrmap), anonmms (anonmm) and address_spaces. */
  readonly objects = new MappingTable<AnonVma | Anonmm | AddressSpace>()
  /** The default disk filesystem: files, their page caches, and the EOF tails (fs.ts). */
  readonly fs: FileSystem = new FileSystem(this)
  /** Counters behind `m.stats()`. */
  readonly counters: VmCounters = newCounters()
  /** TASK_SIZE as a number. */
  readonly taskSize: number
  /** TASK_UNMAPPED_BASE as a number. */
  readonly taskUnmappedBase: number
  /** Low word of _PAGE_CHG_MASK (what pte_modify keeps). */
  readonly pteChgMaskLo: number
  /** Scratch: the high word of the last pte read on a hot path. */
  hi = 0
  /** The `swap` option in bytes (the first area's size; 0 when none). */
  readonly swapBytes: number
  /** Swap areas, the swap map and the swap cache (swapfile.ts, swap_state.ts). */
  readonly swap: SwapState
  /** sysctl vm.max_map_count. */
  readonly maxMapCount: number
  /** The `nonlinearReclaim` option: how try_to_unmap treats nonlinear vmas. */
  readonly nonlinearReclaim: NonlinearReclaim
  /** Processes the OOM killer killed (SIGKILL), in order, with their badness (vmscan.ts outOfMemory). */
  readonly oomKills: Array<{ pid: number; badness: number }> = []
  private readonly procs = new Map<number, Process>()
  private nextPid = 1
  private nextObject = 1
  private rng: number
  /** The `bugs` option as a mask of BUG bits (0: the fixed kernel). */
  readonly bugs: number
  /**
   * The several-cpu context while the interleaving explorer drives this
   * machine (race/explore.ts); null otherwise, and then every lock is the
   * one-thread flag it always was.
   */
  smp: Smp | null = null
  /**
   * The cpus, one context each (cpu.ts): which cpu, and its per-cpu scratch.
   * Every kernel path runs on one of them, passed explicitly.
   */
  readonly cpus: readonly Cpu[]
  /**
   * mms whose page_table_lock an experiment holds: reclaim's trylock
   * (locks.ts `pageTableTrylock`) then fails, with or without the explorer.
   */
  readonly heldPageTableLocks = new Set<number>()
  /** @internal First page of each LRU list, per zone × {inactive, active} (vmscan.ts walks them). */
  readonly lruHead: Int32Array
  /** @internal Pages on each LRU list, per zone × {inactive, active}. */
  readonly lruCount: Int32Array

  constructor(opts: MachineOptions) {
    const {
      arch,
      rmapDesign,
      rmapOptions,
      profile,
      cpus,
      ram,
      swapBytes,
      seed,
      maxMapCount,
      nonlinearReclaim,
    } = machineOptions(opts)
    this.swapBytes = swapBytes
    this.bugs = bugMask(opts.bugs, 'Machine')
    const offDesign = bugsNotInDesign(this.bugs, rmapDesign.name)
    if (offDesign.length > 0) {
      const designs = offDesign[0]!.designs!
      throw new MachineOptionError(
        'bugs',
        opts.bugs,
        `bugs [${offDesign.map((b) => b.name).join(', ')}] are bugs of the ${designs.join(' and ')} design; use rmap: '${designs[0]}'`,
      )
    }
    const offArch = bugNotOnArch(this.bugs, arch.name)
    if (offArch)
      throw new MachineOptionError(
        'bugs',
        opts.bugs,
        `bug '${offArch.name}' is in the code of ${offArch.arches!.join(' and ')}, not ${arch.name}`,
      )
    this.nonlinearReclaim = nonlinearReclaim
    this.maxMapCount = maxMapCount
    this.rng = seed >>> 0 || 1
    this.arch = arch
    this.fast = arch.fast
    const z = zonePages(arch, ram / 4096)
    this.env = new PageTableEnv({
      arch,
      profile,
      cpus,
      lowmemPages: z.low,
      highmemPages: z.high,
      dmaPages: z.dma,
      bugs: this.bugs,
    })
    this.frames = this.env.frames
    this.cpus = Array.from({ length: cpus }, (_, i) => new Cpu(i, newPageoutReport(), SWAP_CLUSTER_MAX * 4))
    this.zeroPage = this.env.allocPage({ highmem: false })
    this.frames.set(this.zeroPage, PG.reserved)
    this.rmap = rmapDesign.create(this, rmapOptions)
    this.taskSize = Number(arch.geometry.TASK_SIZE)
    const base = arch.geometry.TASK_UNMAPPED_BASE ?? arch.geometry.TASK_SIZE / 3n
    this.taskUnmappedBase = Math.ceil(Number(base) / 4096) * 4096
    // pte_modify keeps _PAGE_CHG_MASK (pfn, accessed, dirty); an arch without
    // one keeps the pfn field and those two bits.
    const chg =
      arch.bits['_PAGE_CHG_MASK'] ??
      -(1n << BigInt(arch.geometry.PTE_PFN_SHIFT)) | BigInt(arch.fast.YOUNG | arch.fast.DIRTY)
    this.pteChgMaskLo = Number(BigInt.asUintN(32, chg))
    this.lruHead = new Int32Array(this.env.zones.length * 2).fill(-1)
    this.lruCount = new Int32Array(this.env.zones.length * 2)
    this.swap = new SwapState(arch)
    if (this.swapBytes > 0) sysSwapon(this, this.swapBytes)
  }

  /**
   * `swapon`: add a swap area of `size` bytes (or `'512M'`), optionally with a
   * priority; returns its type (0..31). Throws, with nothing changed, a
   * SwapAreaError for a 33rd area (MAX_SWAPFILES) or a size below two pages
   * (the header page plus one slot), an ArchLimitError for a size above the
   * arch's SWAP_MAXPAGES_LIMIT pages. See swapfile.ts.
   */
  swapon(sizeOrOptions: number | string | SwaponOptions): number {
    return sysSwapon(this, sizeOrOptions)
  }

  /**
   * `swapoff(type)`: try_to_unuse brings every page of the area back (into
   * the ptes that held it, and tmpfs files' page caches) and frees the area.
   * SyscallError EINVAL for an unknown area or one already being turned off,
   * ENOMEM when free memory cannot hold its pages (nothing changed then), or
   * when an allocation fails half way (2.6.4's pte_chain_alloc, say): the area
   * goes back on swap_list, as sys_swapoff does, and the pages already brought
   * back stay in memory. See swapfile.ts.
   */
  swapoff(type: number): SwapoffReport {
    numberArg('swapoff', 'type', type)
    return sysSwapoff(this, this.runningCpu(), type)
  }

  /** Every swap area: type, priority, usable slots and slots in use, in swap_list (priority) order. */
  swapAreas(): Array<{ type: number; priority: number; pages: number; used: number }> {
    const out: Array<{ type: number; priority: number; pages: number; used: number }> = []
    for (let t = this.swap.head; t >= 0; t = this.swap.areas[t]!.next) {
      const a = this.swap.areas[t]!
      out.push({ type: a.type, priority: a.prio, pages: a.pages, used: a.inusePages })
    }
    return out
  }

  /** swap_map[offset] of area `type`: the references to that slot (0 when free). */
  swapCount(type: number, offset: number): number {
    numberArgs('swapCount', ['type', type], ['offset', offset])
    if (!Number.isInteger(type) || type < 0 || type >= 32 || !Number.isInteger(offset) || offset < 0)
      throw new RangeError(`swapCount: (${type}, ${offset}) is not a swap type 0..31 and an offset`)
    return swapCount(this, this.swap.entry(type, offset))
  }

  /**
   * Take one page through the -aa shrink_list (vmscan.ts): trylock the page,
   * a page under write-back is kept, page_map_lock, page_referenced
   * (referenced and in use → activated; an unmapped page is never
   * referenced), add_to_swap for a mapped anonymous page not yet in the swap
   * cache, try_to_unmap (SWAP_FAIL → activated, SWAP_AGAIN → kept,
   * SWAP_SUCCESS → on). A dirty page that only the cache and reclaim hold is
   * then written — result `'written'`: the page is under write-back and back
   * on the inactive list; after `m.completeWriteback()` the next pageout frees
   * it. A clean one leaves the swap or page cache and is freed. Returns what
   * happened at each stage. Throws RangeError for a pfn that is not a page on
   * an LRU list.
   */
  pageout(pfn: number): PageoutReport {
    this.checkPfn('pageout', pfn)
    const f = this.frames
    if (f.count[pfn] === 0 || !f.test(pfn, PG.lru) || f.test(pfn, PG.reserved)) {
      throw new RangeError(
        `pageout: pfn ${pfn} is not a page on an LRU list (shrink_list only sees LRU pages)`,
      )
    }
    return shrinkPage(this, this.runningCpu(), pfn)
  }

  /**
   * Run the LRU scan as kswapd would (vmscan.ts, the -aa tree's scan):
   * balance_pgdat — shrink_zone's nr_scan_active / nr_scan_inactive
   * accumulators, refill_inactive_zone and shrink_cache over every zone at
   * priorities DEF_PRIORITY (12) down to 1 — again while zone->prev_priority
   * falls, writes were started or completed (the writes in flight complete
   * between runs), or an accumulator grew, until `pages` are freed or no
   * progress is possible. Returns a report; `progress: false` when fewer than
   * `pages` could be freed (shrink_cache scans all of max_scan, so `freed` may
   * exceed `pages`). Throws a RangeError naming the limit, with nothing
   * changed, when `pages` is not a whole number in 0..2^31-1.
   */
  reclaim(opts: { pages: number }): ReclaimReport {
    return reclaim(this, this.runningCpu(), opts?.pages)
  }

  /**
   * Complete every write in flight (the disk catching up): each page under
   * write-back loses PG_writeback (meminfo Writeback drops) and, if reclaim
   * wrote it and it is still inactive, clean and unlocked, moves to the
   * inactive tail so the next scan frees it first (end_page_writeback,
   * rotate_reclaimable_page). Reclaim itself completes writes where the kernel
   * sleeps (between kswapd runs, blk_congestion_wait); `m.pageout` never does.
   * Returns how many writes completed.
   */
  completeWriteback(): number {
    return completeWriteback(this, this.runningCpu())
  }

  /** A new object id for an anon_vma or address_space. */
  newObjectId(): number {
    return this.nextObject++
  }

  /** The next cpu, from the seeded generator (xorshift32). */
  private pickCpu(): number {
    let x = this.rng
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.rng = x >>> 0
    return this.rng % this.env.cpus
  }

  /** A process with its own, empty mm (its pgd allocated with reclaim: SyscallError ENOMEM when even that fails). */
  spawn(): Process {
    const cpu = this.pickCpu()
    const mm = this.withReclaim(
      this.runningCpu(),
      'spawn',
      "the new mm's pgd",
      () => new Mm(this.env.mmCreate(), cpu),
    )
    // mm_alloc of a fresh image: the design's exec hook (anonmm: exec_rmap's new group head).
    this.rmap.mmExec(this, this.cpuFor(mm), mm)
    const p = new Process(this, this.nextPid++, mm)
    this.procs.set(p.pid, p)
    return p
  }

  /** Live processes, by pid. */
  processes(): Process[] {
    return [...this.procs.values()]
  }

  /** @internal fork: dup_mmap into a child on a cpu of its own. */
  forkProcess(c: Cpu, parent: Process): Process {
    const cpu = this.pickCpu()
    // copy_mm allocates page tables with GFP_KERNEL: the allocator reclaims
    // and retries; when that frees nothing fork fails with ENOMEM, the partial
    // child torn down (dupMmap does that), nothing else changed.
    const mm = this.withReclaim(c, 'fork', "the child's page tables", () => dupMmap(this, c, parent.mm, cpu))
    const child = new Process(this, this.nextPid++, mm)
    child.files.copyFrom(parent.files)
    this.counters.fork.forks++
    this.procs.set(child.pid, child)
    return child
  }

  /**
   * @internal Run `build`, which allocates with GFP_KERNEL/GFP_HIGHUSER and
   * undoes its own partial work when an allocation fails: as the allocator
   * does, reclaim (try_to_free_pages) and retry while reclaim frees
   * something; then fail with SyscallError ENOMEM naming `syscall`.
   */
  withReclaim<T>(c: Cpu, syscall: string, what: string, build: () => T): T {
    for (let tries = 0; ; tries++) {
      try {
        return build()
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e
        if (tries >= 3 || tryToFreePages(this, c).freed === 0)
          throw new SyscallError(syscall, 'ENOMEM', `no page frames for ${what}, even after reclaim`)
      }
    }
  }

  /** @internal A process is gone: release its mm. */
  reap(p: Process): void {
    if (!p.alive) return
    p.alive = false
    this.procs.delete(p.pid)
    p.files.closeAll()
    this.releaseMm(p.mm)
  }

  /** @internal mmput: the last user of an mm tears it down (on the exiting task's cpu, {@link cpuFor}). */
  releaseMm(mm: Mm): void {
    if (--mm.users > 0) return
    exitMmap(this, this.cpuFor(mm), mm)
  }

  /**
   * @internal The cpu context a kernel path on behalf of `mm`'s task runs on:
   * the cpu the process was placed on, or, while the race explorer drives the
   * machine, the explored cpu whose program made the call.
   */
  cpuFor(mm: Mm): Cpu {
    const smp = this.smp
    return this.cpus[smp === null ? mm.cpu : smp.cpu]!
  }

  /**
   * @internal The cpu context of a machine-level entry point that no process
   * makes (reclaim as kswapd, pageout, swapon/swapoff, sync, the rmap walks of
   * `m.pageReferenced`/`m.tryToUnmap`, the consistency check): cpu 0, or the
   * explored cpu under the race explorer.
   */
  runningCpu(): Cpu {
    const smp = this.smp
    return this.cpus[smp === null ? 0 : smp.cpu]!
  }

  /** @internal alloc_page(GFP_HIGHUSER) for user memory. */
  allocUserPage(): number {
    return this.env.allocPage(GFP_HIGHUSER)
  }

  /** @internal get_page. Reserved pages are not reference-counted here (the kernel's count of them only drifts). */
  getPage(pfn: number): void {
    if (!this.frames.test(pfn, PG.reserved)) this.frames.count[pfn]!++
  }

  /** @internal put_page: at zero the page leaves the LRU and is freed. */
  putPage(pfn: number): void {
    const f = this.frames
    if (f.test(pfn, PG.reserved)) return
    if (f.count[pfn] === 1 && f.test(pfn, PG.lru)) this.lruDel(pfn)
    if (f.count[pfn] === 1 && this.fs.tails.size !== 0) this.fs.tails.delete(pfn)
    this.env.freePage(pfn)
  }

  private lruList(pfn: number, active: boolean): number {
    return this.frames.zone(pfn) * 2 + (active ? 1 : 0)
  }

  /** @internal lru_cache_add_active: at once (no per-cpu pagevecs in the model). */
  lruAddActive(pfn: number): void {
    this.lruAdd(pfn, true)
  }

  /** @internal lru_cache_add: onto the inactive list (a page-cache page read in), at once. */
  lruAddInactive(pfn: number): void {
    this.lruAdd(pfn, false)
  }

  /** @internal list_add_tail onto the inactive list (rotate_reclaimable_page). */
  lruAddInactiveTail(pfn: number): void {
    const f = this.frames
    const list = this.lruList(pfn, false)
    let tail = this.lruHead[list]!
    for (let guard = this.lruCount[list]!; tail >= 0 && f.lruNext[tail]! >= 0 && guard > 0; guard--)
      tail = f.lruNext[tail]!
    f.lruNext[pfn] = -1
    f.lruPrev[pfn] = tail
    if (tail >= 0) f.lruNext[tail] = pfn
    else this.lruHead[list] = pfn
    this.lruCount[list]!++
    f.set(pfn, PG.lru)
  }

  /** Link `pfn` at the head of its zone's active or inactive list. */
  private lruAdd(pfn: number, active: boolean): void {
    const f = this.frames
    const list = this.lruList(pfn, active)
    const head = this.lruHead[list]!
    f.lruPrev[pfn] = -1
    f.lruNext[pfn] = head
    if (head >= 0) f.lruPrev[head] = pfn
    this.lruHead[list] = pfn
    this.lruCount[list]!++
    f.set(pfn, PG.lru)
    if (active) f.set(pfn, PG.active)
  }

  /** @internal del_page_from_lru. */
  lruDel(pfn: number): void {
    const f = this.frames
    const list = this.lruList(pfn, f.test(pfn, PG.active))
    const prev = f.lruPrev[pfn]!
    const next = f.lruNext[pfn]!
    if (prev >= 0) f.lruNext[prev] = next
    else this.lruHead[list] = next
    if (next >= 0) f.lruPrev[next] = prev
    f.lruPrev[pfn] = -1
    f.lruNext[pfn] = -1
    this.lruCount[list]!--
    f.clear(pfn, PG.lru)
    f.clear(pfn, PG.active)
  }

  /** Pages on the active and inactive lists of every zone. */
  lruPages(): { active: number; inactive: number } {
    let active = 0
    let inactive = 0
    for (let i = 0; i < this.lruCount.length; i++) {
      if (i % 2) active += this.lruCount[i]!
      else inactive += this.lruCount[i]!
    }
    return { active, inactive }
  }

  /** /proc/meminfo, kB. */
  meminfo(): Meminfo {
    const kb = 4
    const env = this.env
    const free = env.freePagesPerZone()
    const memFree = free.reduce((a, b) => a + b, 0)
    const hi = env.zones.findIndex((z) => z.name === 'HighMem')
    const highTotal = hi >= 0 ? env.zones[hi]!.end - env.zones[hi]!.start : 0
    const highFree = hi >= 0 ? free[hi]! : 0
    const memTotal = env.totalPages - env.bootmemPages - 1
    const lru = this.lruPages()
    const ps = env.pageState
    return {
      MemTotal: memTotal * kb,
      MemFree: memFree * kb,
      Cached: this.fs.nrPages * kb,
      SwapCached: this.swap.cache.size * kb,
      Active: lru.active * kb,
      Inactive: lru.inactive * kb,
      HighTotal: highTotal * kb,
      HighFree: highFree * kb,
      LowTotal: (memTotal - highTotal) * kb,
      LowFree: (memFree - highFree) * kb,
      SwapTotal: this.swap.totalSwapPages * kb,
      SwapFree: this.swap.nrSwapPages * kb,
      Dirty: ps.count(PS.nr_dirty) * kb,
      Writeback: ps.count(PS.nr_writeback) * kb,
      Mapped: ps.count(PS.nr_mapped) * kb,
      // The slab frames the model draws from RAM: 2.6.4's pte_chain cache (0 under objrmap).
      Slab: this.rmap.accounting(this).lowmemFrames * kb,
      PageTables: ps.count(PS.nr_page_table_pages) * kb,
    }
  }

  /** One page frame's struct page. */
  page(pfn: number): PageInfo {
    numberArg('page', 'pfn', pfn)
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.frames.n) {
      throw new RangeError(`page: pfn ${pfn} is outside 0..${this.frames.n - 1}`)
    }
    const f = this.frames
    const id = f.mapping[pfn]!
    const obj = this.objects.get(id)
    const kind =
      id === NO_MAPPING
        ? 'none'
        : this.env.tables.has(pfn)
          ? 'mm'
          : obj && 'vmas' in obj
            ? 'anon_vma'
            : obj && 'ring' in obj
              ? 'anonmm'
              : 'address_space'
    return {
      pfn,
      count: f.count[pfn]!,
      mapcount: f.mapcount[pfn]!,
      flags: f.flagNames(pfn),
      mapping: { kind, id },
      // A page-table page's index is the base address it maps; its content word
      // is its slot in the page-table store, not user data.
      index: this.env.tables.has(pfn) ? this.env.pageIndexNumber(pfn) : f.index[pfn]!,
      private: f.getPrivate(pfn),
      zone: this.env.zoneOfPfn(pfn).name,
      content: this.env.tables.has(pfn) ? 0 : f.content[pfn]!,
    }
  }

  /** Refuse a pfn that names no page frame. */
  private checkPfn(fn: string, pfn: number): void {
    numberArg(fn, 'pfn', pfn)
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.frames.n) {
      throw new RangeError(
        `${fn}: pfn ${pfn} is not a page frame; valid pfns are 0..${this.frames.n - 1} (max_mapnr ${this.frames.n})`,
      )
    }
  }

  /** Record the rmap walk cost since the counters read `v0`, `p0` as `lastWalk`. */
  private recordWalk(v0: number, p0: number): void {
    const ctr = this.counters
    ctr.lastWalk.vmasVisited = ctr.rmap.vmasVisited - v0
    ctr.lastWalk.ptesProbed = ctr.rmap.ptesProbed - p0
  }

  /**
   * `page_referenced(page)` on one frame, as reclaim calls it: under
   * page_map_lock (taken and dropped here). Returns how many references it
   * found — PG_referenced (test-and-cleared) plus every young pte, each of
   * which it clears — so a second call with no access in between returns 0.
   * The walk visits every vma on the page's anon_vma list (or its file's
   * i_mmap lists); its cost is in `m.stats().lastWalk`. A free, reserved or
   * unmapped page answers 0 and keeps its PG_referenced bit: the -aa
   * page_referenced returns before it looks at the bit (mainline 2.6.5's
   * mm/rmap.c tested and cleared it first).
   * Throws RangeError for a pfn outside 0..max_mapnr-1.
   */
  pageReferenced(pfn: number): number {
    this.checkPfn('pageReferenced', pfn)
    const ctr = this.counters.rmap
    const v0 = ctr.vmasVisited
    const p0 = ctr.ptesProbed
    const c = this.runningCpu()
    this.rmap.pageMapLock(this, c, pfn)
    try {
      return this.rmap.pageReferenced(this, c, pfn)
    } finally {
      this.rmap.pageMapUnlock(this, c, pfn)
      this.recordWalk(v0, p0)
    }
  }

  /**
   * `try_to_unmap(page)` on one frame with the locking shrink_list does around
   * it: the page's reference taken (as isolate_lru_page holds one), the page
   * lock trylocked — a page already locked is left alone and the answer is
   * SWAP_AGAIN — then page_map_lock; all of it released before returning.
   *
   * - An anonymous page not in the swap cache is SWAP_AGAIN at once (the -aa
   *   tree unmaps anonymous pages only once add_to_swap gave them a slot), so
   *   its walk visits nothing.
   * - A page mapped in a VM_LOCKED vma is SWAP_FAIL.
   * - A file page still mapped after the linear walk, in a file with
   *   VM_NONLINEAR vmas: with the default `nonlinearReclaim: '2.6.7-cluster'`
   *   the nonlinear vmas are aged and unmapped in clusters of 32 ptes from
   *   each vma's cursor (other pages' ptes too; nothing when every nonlinear
   *   vma is VM_LOCKED); with `'aa-none'` they are left alone (SWAP_AGAIN).
   * - An unmapped page (mapcount 0) with a mapping is SWAP_SUCCESS without a
   *   walk: shrink_list calls try_to_unmap only for mapped pages.
   * - A reserved page (the ZERO_PAGE among them) and a page with no mapping
   *   (a free page, a page-table page, an anonymous page no pte maps) throw the
   *   KernelBugError of try_to_unmap's BUG_ONs; nothing is left locked.
   *
   * Throws RangeError for a pfn outside 0..max_mapnr-1.
   */
  tryToUnmap(pfn: number): SwapResult {
    this.checkPfn('tryToUnmap', pfn)
    const f = this.frames
    const ctr = this.counters.rmap
    this.recordWalk(ctr.vmasVisited, ctr.ptesProbed)
    if (f.test(pfn, PG.reserved))
      throw new KernelBugError(
        'try_to_unmap of a reserved page',
        `${this.rmap.source} try_to_unmap`,
        `pfn ${pfn}`,
      )
    // A mapped page's backing is the design's business (pte_chains' anonymous
    // pages have no page->mapping); an unmapped one needs a mapping here.
    if (
      f.count[pfn] === 0 ||
      this.env.tables.has(pfn) ||
      (f.mapcount[pfn] === 0 && f.mapping[pfn] === NO_MAPPING)
    ) {
      const what =
        f.count[pfn] === 0 ? 'free page' : this.env.tables.has(pfn) ? 'page-table page' : 'no mapping'
      throw new KernelBugError(
        'try_to_unmap of a page without mapping',
        `${this.rmap.source} try_to_unmap`,
        `pfn ${pfn}: ${what}`,
      )
    }
    if (f.mapcount[pfn] === 0) return 'SWAP_SUCCESS'
    // TestSetPageLocked: someone else holds the page lock.
    const c = this.runningCpu()
    if (testSetPageLocked(this, c, pfn)) return 'SWAP_AGAIN'
    const v0 = ctr.vmasVisited
    const p0 = ctr.ptesProbed
    this.getPage(pfn)
    try {
      this.rmap.pageMapLock(this, c, pfn)
      try {
        return this.rmap.tryToUnmap(this, c, pfn)
      } finally {
        this.rmap.pageMapUnlock(this, c, pfn)
      }
    } finally {
      unlockPage(this, c, pfn)
      this.putPage(pfn)
      this.recordWalk(v0, p0)
    }
  }

  /** Per-operation costs and rmap memory. */
  stats(): VmStats {
    const c = structuredClone(this.counters)
    const acc = this.rmap.accounting(this)
    const b = acc.bytes
    return {
      ...c,
      rmapBytes: {
        anonVma: b.anonVma ?? 0,
        vmaFields: b.vmaFields ?? 0,
        mapcount: b.mapcount ?? 0,
        total: acc.total,
      },
      rmapMemory: acc,
    }
  }

  /**
   * The reverse map of page `pfn` as data, for tools: the design, mapcount,
   * the object page->mapping names (objrmap: the anon_vma or the file's
   * address_space) and every vma the design's walk visits, in walk order, each
   * with vm_start, vm_end, vm_pgoff, the address the walk computes there and
   * the pte found at it (raw words, and whether it maps this page). Reads
   * only; allocates its answer (an introspection call, not for hot paths).
   * Throws RangeError for a pfn outside 0..max_mapnr-1.
   */
  rmapOf(pfn: number): RmapView {
    this.checkPfn('rmapOf', pfn)
    return this.rmap.describe(this, pfn)
  }

  /** The whole-machine consistency check; throws an InvariantError naming every violation. */
  check(): void {
    runCheck(this)
  }
}
