/**
 * Assertions on the machine state: meminfo, m.stats(), pages (pagemap and
 * struct page), vmas (/proc/PID/maps), processes, distinct frames. A failed
 * one stops the run (the cli exits with 1).
 */
import { type Meminfo, PAGE_SIZE, RMAP_STRATEGIES } from '@rmaplab/rmap'
import { z } from 'zod'
import { AssertionFailure, hex, statAt, statsPaths } from '../context.js'
import {
  Cmp,
  Expr,
  MEMINFO_FIELDS,
  Note,
  PageFlag,
  PageRef,
  ProcName,
  ProcRef,
  RangeFields,
} from '../format.js'
import { defineStep } from './step.js'

const PageAssert = z
  .strictObject({
    proc: ProcName,
    ...RangeFields,
    present: z.boolean().optional(),
    swapped: z.boolean().optional(),
    write: z.boolean().describe('The pte is writable.').optional(),
    dirty: z.boolean().optional(),
    young: z.boolean().optional(),
    zero_page: z.boolean().describe('The pte maps the ZERO_PAGE.').optional(),
    mapcount: Cmp.optional(),
    count: Cmp.optional(),
    flags: z
      .array(PageFlag)
      .describe('Page flags that must be set (kernel names: anon, lru, dirty...).')
      .optional(),
    not_flags: z.array(PageFlag).describe('Page flags that must be clear.').optional(),
    mapping: z
      .enum(['none', 'anon_vma', 'anonmm', 'address_space'])
      .describe(
        'What page->mapping points at: an anon_vma (objrmap), an anonmm (anonmm), a file, or nothing (pte_chains keeps none for anonymous pages).',
      )
      .optional(),
    index: Cmp.describe('page->index.').optional(),
    value: Expr.describe(
      "The page's 32-bit content word, read without faulting (i: the page's index in the range).",
    ).optional(),
    same_frame_as: PageRef.describe('Another process page that must map the same frame.').optional(),
    other_frame_than: PageRef.describe('Another process page that must map a different frame.').optional(),
    same_mapping_as: PageRef.describe(
      'Another page whose page->mapping (anon_vma or file) must be the same.',
    ).optional(),
  })
  .describe('Every page of the range, as the process maps it (pagemap) and as its struct page says.')

const VmaAssert = z
  .strictObject({
    proc: ProcName,
    count: Cmp.describe('Number of vmas (map_count).').optional(),
    at: Expr.describe('The vma containing this address.').optional(),
    mapped: z.boolean().describe('With `at`: whether any vma contains it. Default true.').optional(),
    start: Expr.optional(),
    end: Expr.optional(),
    pgoff: Expr.describe('vm_pgoff in bytes, as /proc/PID/maps shows it.').optional(),
    perms: z
      .string()
      .regex(/^[r-][w-][x-][ps]$/, "expected perms such as 'rw-p' or 'r--s'")
      .optional(),
    file: z.string().describe("The mapped file's path, '' for anonymous memory.").optional(),
  })
  .describe('The vmas of a process (/proc/PID/maps).')

const AssertArgs = z
  .strictObject({
    note: Note,
    rmap: z
      .union([z.enum(RMAP_STRATEGIES), z.array(z.enum(RMAP_STRATEGIES)).min(1)])
      .describe(
        'Only under this rmap design (or these): the other designs skip the assertion. For what the designs answer differently by construction (where an anonymous page points, walk costs, rmap memory).',
      )
      .optional(),
    meminfo: z.partialRecord(z.enum(MEMINFO_FIELDS), Cmp).describe('meminfo fields, in kB.').optional(),
    stats: z
      .record(z.string(), Cmp)
      .describe("m.stats() figures by dotted path, e.g. 'cow.copies', 'rmap.vmasVisited', 'rmapBytes.total'.")
      .optional(),
    page: PageAssert.optional(),
    vmas: VmaAssert.optional(),
    process: z
      .strictObject({
        proc: ProcName,
        alive: z.boolean().optional(),
        killed_by: z.enum(['SIGSEGV', 'SIGBUS']).optional(),
      })
      .optional(),
    processes: Cmp.describe('Number of live processes.').optional(),
    frames: z
      .strictObject({ proc: ProcRef, ...RangeFields, distinct: Cmp })
      .describe('Distinct frames mapped over the range by the processes.')
      .optional(),
  })
  .describe('Assertions on the machine state; a failed one stops the run with exit code 1.')

export const assert = defineStep({
  schema: AssertArgs,
  label: (a) =>
    `assert ${Object.keys(a)
      .filter((k) => k !== 'note' && k !== 'rmap')
      .join(', ')}${a.rmap === undefined ? '' : ` (${[a.rmap].flat().join(', ')})`}`,
  analyze(x, an) {
    const any = x.meminfo || x.stats || x.page || x.vmas || x.process || x.processes !== undefined || x.frames
    if (!any)
      an.report([], 'an assert needs at least one of meminfo, stats, page, vmas, process, processes, frames')
    for (const f of Object.keys(x.meminfo ?? {})) an.cmp(['meminfo', f])
    const known = statsPaths()
    for (const f of Object.keys(x.stats ?? {})) {
      if (!known.has(f)) {
        an.report(['stats'], `unknown m.stats() figure '${f}'; figures: ${[...known].join(', ')}`, { key: f })
      }
      an.cmp(['stats', f])
    }
    if (x.page) {
      an.proc(['page', 'proc'], true)
      an.range(x.page, ['page'], true)
      for (const k of ['mapcount', 'count', 'index']) an.cmp(['page', k], ['i', 'pid'])
      an.word(['page', 'value'], ['i', 'pid'])
      for (const k of ['same_frame_as', 'other_frame_than', 'same_mapping_as'] as const) {
        const r = x.page[k]
        if (!r) continue
        an.proc(['page', k, 'proc'], true)
        if (r.region === undefined && r.addr === undefined) an.report(['page', k], "give 'region' or 'addr'")
        an.region(['page', k, 'region'])
        an.expr(['page', k, 'page'])
        an.expr(['page', k, 'addr'])
      }
    }
    if (x.vmas) {
      an.proc(['vmas', 'proc'], true)
      an.cmp(['vmas', 'count'])
      for (const k of ['at', 'start', 'end', 'pgoff']) an.expr(['vmas', k])
      const needsAt = ['start', 'end', 'pgoff', 'perms', 'file', 'mapped'].filter(
        (k) => (x.vmas as Record<string, unknown>)[k] !== undefined,
      )
      if (needsAt.length && x.vmas.at === undefined)
        an.report(['vmas'], `'${needsAt[0]}' needs 'at' (an address in the vma)`)
    }
    if (x.process) an.proc(['process', 'proc'], true)
    an.cmp(['processes'])
    if (x.frames) {
      an.proc(['frames', 'proc'], false)
      an.range(x.frames, ['frames'], true)
      an.cmp(['frames', 'distinct'])
    }
  },
  run(x, cx) {
    const m = cx.m
    if (x.rmap !== undefined && ![x.rmap].flat().includes(m.rmap.name)) return `skipped under ${m.rmap.name}`
    const ev = (key: string, env: Parameters<typeof cx.ev>[1]) => cx.ev(key, env)
    if (x.meminfo) {
      const mi = m.meminfo()
      for (const [f, raw] of Object.entries(x.meminfo)) {
        cx.compare(
          `meminfo ${f} (kB)`,
          `meminfo.${f}`,
          raw,
          mi[f as keyof Meminfo],
          cx.envFor(undefined),
          (mk) => cx.markOf(mk).meminfo[f as keyof Meminfo],
        )
      }
    }
    if (x.stats) {
      const st = m.stats()
      for (const [f, raw] of Object.entries(x.stats)) {
        cx.compare(`stats ${f}`, `stats.${f}`, raw, statAt(st, f), cx.envFor(undefined), (mk) =>
          statAt(cx.markOf(mk).stats, f),
        )
      }
    }
    if (x.processes !== undefined)
      cx.compare('live processes', 'processes', x.processes, m.processes().length, cx.envFor(undefined))
    if (x.process) {
      const p = cx.one(x.process.proc)
      if (x.process.alive !== undefined && p.alive !== x.process.alive)
        throw new AssertionFailure(
          `${cx.who(p)} is ${p.alive ? 'alive' : 'dead'}, expected ${x.process.alive ? 'alive' : 'dead'}`,
        )
      if (x.process.killed_by !== undefined && p.killedBy !== x.process.killed_by)
        throw new AssertionFailure(
          `${cx.who(p)} was killed by ${p.killedBy ?? 'nothing'}, expected ${x.process.killed_by}`,
        )
    }
    if (x.vmas) {
      const v = x.vmas
      const p = cx.one(v.proc)
      const env = cx.envFor(p)
      const maps = p.maps()
      if (v.count !== undefined) cx.compare(`vmas of ${cx.who(p)}`, 'vmas.count', v.count, maps.length, env)
      if (v.at !== undefined) {
        const at = ev('vmas.at', env)
        const vma = maps.find((e) => e.start <= at && at < e.end)
        const mapped = v.mapped ?? true
        if (!vma && mapped) throw new AssertionFailure(`no vma of ${cx.who(p)} contains ${hex(at)}`)
        if (vma && !mapped)
          throw new AssertionFailure(
            `${hex(at)} is mapped in ${cx.who(p)} by ${hex(vma.start)}-${hex(vma.end)}, expected no vma`,
          )
        if (vma) {
          const want = (k: 'start' | 'end' | 'pgoff') => {
            if (v[k] === undefined) return
            const w = ev(`vmas.${k}`, env)
            if (vma[k] !== w)
              throw new AssertionFailure(
                `vma at ${hex(at)} in ${cx.who(p)}: ${k} ${hex(vma[k])}, expected ${hex(w)}`,
              )
          }
          want('start')
          want('end')
          want('pgoff')
          if (v.perms !== undefined && vma.perms !== v.perms)
            throw new AssertionFailure(
              `vma at ${hex(at)} in ${cx.who(p)}: perms ${vma.perms}, expected ${v.perms}`,
            )
          if (v.file !== undefined && vma.file !== v.file)
            throw new AssertionFailure(
              `vma at ${hex(at)} in ${cx.who(p)}: file '${vma.file}', expected '${v.file}'`,
            )
        }
      }
    }
    if (x.page) {
      const pa = x.page
      const p = cx.one(pa.proc)
      const env = cx.envFor(p)
      const r = cx.range(p, 'page')
      const other = (k: 'same_frame_as' | 'other_frame_than' | 'same_mapping_as', i: number) => {
        const o = pa[k]!
        const q = cx.resolve(o.proc)[0]!
        const qenv = cx.envFor(q)
        const base =
          o.region !== undefined
            ? cx.regionOf(o.region, q).start +
              (cx.has(`page.${k}.page`) ? ev(`page.${k}.page`, qenv) : 0) * PAGE_SIZE
            : ev(`page.${k}.addr`, qenv)
        const addr = base + i * PAGE_SIZE
        return { q, addr, pm: q.pagemap(addr) }
      }
      for (let i = 0; i < r.pages; i++) {
        const addr = r.start + i * PAGE_SIZE
        env.i = i
        const pm = p.pagemap(addr)
        const where = `page at ${hex(addr)} in ${cx.who(p)}`
        const bool = (k: 'present' | 'swapped' | 'write' | 'dirty' | 'young') => {
          if (pa[k] === undefined) return
          const got = Boolean(pm[k])
          if (got !== pa[k]) throw new AssertionFailure(`${where}: ${k} is ${got}, expected ${pa[k]}`)
        }
        bool('present')
        bool('swapped')
        if (pa.zero_page !== undefined) {
          const zp = pm.present && pm.pfn === m.zeroPage
          if (zp !== pa.zero_page)
            throw new AssertionFailure(
              `${where}: ${zp ? 'maps' : 'does not map'} the ZERO_PAGE, expected ${pa.zero_page ? 'it to' : 'not'}`,
            )
        }
        const needFrame = (
          [
            'write',
            'dirty',
            'young',
            'mapcount',
            'count',
            'flags',
            'not_flags',
            'mapping',
            'index',
            'value',
          ] as const
        ).some((k) => pa[k] !== undefined)
        if ((needFrame || pa.same_frame_as || pa.other_frame_than || pa.same_mapping_as) && !pm.present)
          throw new AssertionFailure(
            `${where}: not present (pte ${pm.swapped ? 'holds a swap entry' : pm.file !== undefined ? 'holds a file pte' : 'is none'})`,
          )
        bool('write')
        bool('dirty')
        bool('young')
        if (!pm.present) continue
        const info = m.page(pm.pfn!)
        if (pa.mapcount !== undefined)
          cx.compare(`${where}: mapcount`, 'page.mapcount', pa.mapcount, info.mapcount, env)
        if (pa.count !== undefined) cx.compare(`${where}: count`, 'page.count', pa.count, info.count, env)
        if (pa.index !== undefined) cx.compare(`${where}: index`, 'page.index', pa.index, info.index, env)
        for (const f of pa.flags ?? [])
          if (!(info.flags as readonly string[]).includes(f))
            throw new AssertionFailure(
              `${where}: PG_${f} is clear, expected set (flags: ${info.flags.join(' ')})`,
            )
        for (const f of pa.not_flags ?? [])
          if ((info.flags as readonly string[]).includes(f))
            throw new AssertionFailure(`${where}: PG_${f} is set, expected clear`)
        if (pa.mapping !== undefined && info.mapping.kind !== pa.mapping)
          throw new AssertionFailure(
            `${where}: page->mapping is ${info.mapping.kind}, expected ${pa.mapping}`,
          )
        if (pa.value !== undefined) {
          const want = ev('page.value', env) >>> 0
          if (info.content !== want)
            throw new AssertionFailure(`${where}: holds ${hex(info.content)}, expected ${hex(want)}`)
        }
        if (pa.same_frame_as) {
          const o = other('same_frame_as', i)
          if (o.pm.pfn !== pm.pfn)
            throw new AssertionFailure(
              `${where} maps pfn ${hex(pm.pfn!)}; ${cx.who(o.q)} at ${hex(o.addr)} maps ${o.pm.present ? `pfn ${hex(o.pm.pfn!)}` : 'nothing'}, expected the same frame`,
            )
        }
        if (pa.other_frame_than) {
          const o = other('other_frame_than', i)
          if (o.pm.present && o.pm.pfn === pm.pfn)
            throw new AssertionFailure(
              `${where} and ${cx.who(o.q)} at ${hex(o.addr)} both map pfn ${hex(pm.pfn!)}, expected different frames`,
            )
        }
        if (pa.same_mapping_as) {
          const o = other('same_mapping_as', i)
          if (!o.pm.present) throw new AssertionFailure(`${cx.who(o.q)} at ${hex(o.addr)}: not present`)
          const oi = m.page(o.pm.pfn!)
          if (oi.mapping.kind !== info.mapping.kind || oi.mapping.id !== info.mapping.id)
            throw new AssertionFailure(
              `${where}: page->mapping is ${info.mapping.kind} #${info.mapping.id}; ${cx.who(o.q)} at ${hex(o.addr)} has ${oi.mapping.kind} #${oi.mapping.id}, expected the same`,
            )
        }
      }
    }
    if (x.frames) {
      const f = x.frames
      const pfns = new Set<number>()
      for (const p of cx.resolve(f.proc)) {
        const r = cx.range(p, 'frames')
        for (let i = 0; i < r.pages; i++) {
          const pm = p.pagemap(r.start + i * PAGE_SIZE)
          if (pm.present) pfns.add(pm.pfn!)
        }
      }
      cx.compare('distinct frames', 'frames.distinct', f.distinct, pfns.size, cx.envFor(undefined))
    }
    cx.assertions.passed++
    return 'ok'
  },
})
