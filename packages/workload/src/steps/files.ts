/** Files: create (on the model's disk filesystem), open, close, ftruncate (fs/open.c, mm/memory.c vmtruncate). */
import { O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '@rmaplab/rmap'
import { z } from 'zod'
import { expectOutcome } from '../context.js'
import { Expr, Fails, Name, Note, Path, ProcRef, Word } from '../format.js'
import { defineStep, procText } from './step.js'

const OPEN_FLAGS: Record<string, number> = {
  rdonly: O_RDONLY,
  wronly: O_WRONLY,
  rdwr: O_RDWR,
  creat: O_CREAT,
  excl: O_EXCL,
  trunc: O_TRUNC,
}

export const create = defineStep({
  schema: z
    .strictObject({
      note: Note,
      path: Path,
      size: Expr,
      fill: Word.describe(
        'The 32-bit word every page holds on disk (default: one derived from the page).',
      ).optional(),
      fails: Fails.optional(),
    })
    .describe('A file on the disk filesystem (creat + ftruncate, its blocks written).'),
  analyze: (_a, an) => an.count(['size'], 0, 'size'),
  label: (a) => `create ${a.path} ${a.size}`,
  run(a, cx) {
    const size = cx.ev('size', cx.envFor(undefined))
    expectOutcome(
      () => cx.m.fs.create(a.path, a.fill === undefined ? { size } : { size, fill: a.fill }),
      a.fails,
      'create',
    )
    return `${size} bytes`
  },
})

export const open = defineStep({
  schema: z
    .strictObject({
      note: Note,
      proc: ProcRef,
      path: Path,
      flags: z
        .union([
          z.enum(['rdonly', 'wronly', 'rdwr', 'creat', 'excl', 'trunc']),
          z.array(z.enum(['rdonly', 'wronly', 'rdwr', 'creat', 'excl', 'trunc'])),
        ])
        .describe('O_ flags: one access mode (rdonly, wronly, rdwr), plus creat, excl, trunc. Default rdwr.')
        .optional(),
      as: Name.describe('Names the file descriptor.'),
      fails: Fails.optional(),
    })
    .describe('open(path, flags).'),
  proc: 'any',
  analyze: (a, an) => an.define('fd', a.as, ['as']),
  label: (a) => `open ${procText(a.proc)} ${a.path} → ${a.as}`,
  run(a, cx) {
    const list: string[] = a.flags === undefined ? ['rdwr'] : Array.isArray(a.flags) ? a.flags : [a.flags]
    const flags = list.reduce((f, n) => f | OPEN_FLAGS[n]!, 0)
    const out: number[] = []
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      const fd = expectOutcome(() => p.open(a.path, flags), a.fails, 'open')
      if (fd !== undefined) {
        if (!cx.fds.has(a.as)) cx.fds.set(a.as, new Map())
        cx.fds.get(a.as)!.set(p.pid, fd)
        out.push(fd)
      }
    }
    return out.length ? `fd ${[...new Set(out)].join(', ')}` : ''
  },
})

export const close = defineStep({
  schema: z
    .strictObject({ note: Note, proc: ProcRef, fd: Name, fails: Fails.optional() })
    .describe('close(fd).'),
  proc: 'any',
  analyze: (_a, an) => an.fd('fd'),
  label: (a) => `close ${procText(a.proc)} ${a.fd}`,
  run(a, cx) {
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      const fd = cx.fdOf(a.fd, p)
      expectOutcome(
        () => {
          p.close(fd)
          return true
        },
        a.fails,
        'close',
      )
      cx.fds.get(a.fd)!.delete(p.pid)
    }
    return ''
  },
})

export const ftruncate = defineStep({
  schema: z
    .strictObject({ note: Note, proc: ProcRef, fd: Name, length: Expr, fails: Fails.optional() })
    .describe('ftruncate(fd, length).'),
  proc: 'any',
  analyze(_a, an) {
    an.fd('fd')
    an.expr(['length'])
  },
  label: (a) => `ftruncate ${procText(a.proc)} ${a.fd} ${a.length}`,
  run(a, cx) {
    for (const p of cx.resolve(a.proc)) {
      cx.current = p
      const fd = cx.fdOf(a.fd, p)
      const len = cx.ev('length', cx.envFor(p))
      expectOutcome(
        () => {
          p.ftruncate(fd, len)
          return true
        },
        a.fails,
        'ftruncate',
      )
    }
    return ''
  },
})
