/** Processes: spawn, fork (one child, children, a fork tree), exec, exit (kernel/fork.c, fs/exec.c, kernel/exit.c). */
import type { Process } from '@rmaplab/rmap'
import { z } from 'zod'
import { expectOutcome } from '../context.js'
import { Fails, Name, Note, ProcRef } from '../format.js'
import { defineStep, procText } from './step.js'

export const spawn = defineStep({
  schema: z.strictObject({ note: Note, as: Name }).describe('A new process with an empty mm.'),
  analyze: (a, an) => an.defineProc(a.as, 'one', ['as']),
  label: (a) => `spawn → ${a.as}`,
  run(a, cx) {
    const p = cx.m.spawn()
    cx.bindOne(a.as, p)
    return `pid ${p.pid}`
  },
})

export const fork = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      as: Name.describe('Names the child; with children or levels, the group.'),
      children: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .describe('Each process forks this many children; `as` names all the children.')
        .optional(),
      levels: z
        .number()
        .int()
        .min(0)
        .max(16)
        .describe(
          'A fork tree: L times, every process in the group forks once; `as` names all 2^L processes.',
        )
        .optional(),
      fails: Fails.optional(),
      until_fails: Fails.describe(
        "With levels: a fork that fails with this errno (ENOMEM: memory ran out) ends the tree there instead of the run; the processes forked so far stay, `as` names them all, and the levels completed are the run's result `fork.levels` (`fork.ranOut` 1 when a fork failed; Andrea's fork test: the level a design reaches).",
      ).optional(),
    })
    .describe('fork(): children with copy-on-write copies of the address space.'),
  proc: 'any',
  analyze(a, an) {
    const { children, levels } = a
    if (children !== undefined && levels !== undefined)
      an.report([], "give either 'children' or 'levels', not both", { key: 'levels' })
    if (a.until_fails !== undefined && levels === undefined)
      an.report([], "'until_fails' needs 'levels' (a fork tree)", { key: 'until_fails' })
    if (a.until_fails !== undefined && a.fails !== undefined)
      an.report([], "give either 'fails' or 'until_fails', not both", { key: 'until_fails' })
    const ref = a.proc
    const group =
      children !== undefined || levels !== undefined || Array.isArray(ref) || an.procs.get(ref) === 'group'
    an.defineProc(a.as, group ? 'group' : 'one', ['as'])
  },
  label(a) {
    const how =
      a.levels !== undefined ? ` ${a.levels} levels` : a.children !== undefined ? ` ×${a.children}` : ''
    return `fork ${procText(a.proc)}${how} → ${a.as}`
  },
  run(a, cx) {
    const parents = cx.resolve(a.proc)
    /** fork, or undefined when it fails with `errno` (any other failure stops the run). */
    const forkUntil = (p: Process, errno: string): Process | undefined => {
      cx.current = p
      let c: Process
      try {
        c = p.fork()
      } catch (e) {
        if ((e as { errno?: unknown }).errno === errno) return undefined
        throw e
      }
      cx.inherit(p, c)
      return c
    }
    const forkOne = (p: Process): Process | undefined => {
      cx.current = p
      const c = expectOutcome(() => p.fork(), a.fails, 'fork')
      if (c) cx.inherit(p, c)
      return c
    }
    if (a.levels !== undefined) {
      let all = [...parents]
      if (a.until_fails !== undefined) {
        // Level by level; the first fork that fails with the errno ends the tree.
        let done = 0
        let failed = false
        for (; done < a.levels && !failed; ) {
          const level: Process[] = []
          for (const p of all) {
            const c = forkUntil(p, a.until_fails)
            if (!c) {
              failed = true
              break
            }
            level.push(c)
          }
          all = all.concat(level)
          if (!failed) done++
        }
        cx.bindGroup(a.as, all)
        cx.results['fork.levels'] = done
        cx.results['fork.ranOut'] = failed ? 1 : 0
        return failed
          ? `${all.length} processes: ${done} levels, then a fork of level ${done + 1} failed with ${a.until_fails}`
          : `${all.length} processes: ${done} levels`
      }
      for (let l = 0; l < a.levels; l++) all = all.concat(all.map((p) => forkOne(p)!).filter(Boolean))
      cx.bindGroup(a.as, all)
      return `${all.length} processes`
    }
    if (a.children !== undefined) {
      const kids: Process[] = []
      for (const p of parents) for (let k = 0; k < a.children; k++) kids.push(forkOne(p)!)
      cx.bindGroup(a.as, kids.filter(Boolean))
      return `${kids.length} children`
    }
    const kids = parents.map(forkOne).filter((c): c is Process => c !== undefined)
    if (kids.length === 1 && parents.length === 1 && !Array.isArray(a.proc)) cx.bindOne(a.as, kids[0]!)
    else cx.bindGroup(a.as, kids)
    return kids.map((k) => `pid ${k.pid}`).join(', ')
  },
})

export const exec = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      args: z.array(z.number().int()).optional(),
      fails: Fails.optional(),
    })
    .describe(
      'exec(): a fresh image (stack and argument pages); regions and fds of the process are forgotten.',
    ),
  proc: 'any',
  label: (a) => `exec ${procText(a.proc)}`,
  run(a, cx) {
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      expectOutcome(() => p.exec(a.args ?? [0]), a.fails, 'exec')
      cx.forget(p, 'regions')
    }
    return ''
  },
})

export const exit = defineStep({
  schema: z.strictObject({ note: Note, proc: ProcRef }).describe('exit(): the address space is released.'),
  proc: 'any',
  label: (a) => `exit ${procText(a.proc)}`,
  run(a, cx) {
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      if (!p.alive) continue
      p.exit()
      cx.forget(p, 'all')
    }
    return ''
  },
})
