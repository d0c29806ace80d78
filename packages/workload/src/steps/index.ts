/**
 * Every step kind, one handler each: its schema, its checks before the run,
 * its label and what it does. The order is the order of the documentation and
 * of the JSON Schema. A new kind is a new entry here (and a module that owns
 * it); nothing else in the package lists the kinds.
 */
import { read, write } from './access.js'
import { assert } from './assert.js'
import { check, mark } from './control.js'
import { close, create, ftruncate, open } from './files.js'
import { madvise, mlock, mmap, mprotect, mremap, munlock, munmap, remap_file_pages } from './memory.js'
import { exec, exit, fork, spawn } from './process.js'
import { page_referenced, pageout, try_to_unmap } from './rmap.js'
import { complete_writeback, reclaim, swapoff, swapon } from './swap.js'

export const STEPS = {
  spawn,
  fork,
  exec,
  exit,
  mmap,
  munmap,
  mprotect,
  mlock,
  munlock,
  madvise,
  mremap,
  remap_file_pages,
  create,
  open,
  close,
  ftruncate,
  read,
  write,
  page_referenced,
  try_to_unmap,
  swapon,
  swapoff,
  pageout,
  reclaim,
  complete_writeback,
  check,
  mark,
  assert,
} as const

export type { StepHandler } from './step.js'
