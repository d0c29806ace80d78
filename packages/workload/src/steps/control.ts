/** Checks and marks: m.check(), and the snapshot `since` comparisons are measured from. */
import { z } from 'zod'
import { Name, Note } from '../format.js'
import { defineStep } from './step.js'

export const check = defineStep({
  schema: z
    .union([z.null(), z.strictObject({ note: Note })])
    .describe('m.check(): the whole-machine consistency check; a violation stops the run.'),
  label: () => 'check',
  run(_a, cx) {
    cx.m.check()
    return 'ok'
  },
})

export const mark = defineStep({
  schema: z
    .strictObject({ note: Note, as: Name })
    .describe('Remember meminfo and m.stats() now, for assertions with `since`.'),
  analyze: (a, an) => an.define('mark', a.as, ['as']),
  label: (a) => `mark ${a.as}`,
  run(a, cx) {
    cx.marks.set(a.as, { meminfo: cx.m.meminfo(), stats: cx.m.stats() })
    return ''
  },
})
