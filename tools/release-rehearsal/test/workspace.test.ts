import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { copyWorkingTree, fingerprintChanges, gitFingerprint } from '../src/lib/workspace.js'

let repo: string
let scratch: string

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'rehearsal-ws-test-'))
  scratch = mkdtempSync(join(tmpdir(), 'rehearsal-ws-copy-'))
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo })
  git('init', '-q')
  writeFileSync(join(repo, '.gitignore'), 'dist/\nnode_modules/\n')
  writeFileSync(join(repo, 'a.txt'), 'committed\n')
  git('add', '.')
  git('commit', '-qm', 'init')
})

afterEach(() => {
  rmSync(repo, { recursive: true, force: true })
  rmSync(scratch, { recursive: true, force: true })
})

test('fingerprintChanges sees new entries and edits to already-modified files, and nothing else', () => {
  writeFileSync(join(repo, 'a.txt'), 'edited once\n')
  const before = gitFingerprint(repo)
  expect(fingerprintChanges(before, gitFingerprint(repo))).toEqual([])

  writeFileSync(join(repo, 'a.txt'), 'edited twice\n') // same `git status` line, new content
  writeFileSync(join(repo, 'b.txt'), 'new\n')
  mkdirSync(join(repo, 'dist'))
  writeFileSync(join(repo, 'dist', 'ignored.js'), '') // ignored: not a change
  expect(fingerprintChanges(before, gitFingerprint(repo)).sort()).toEqual([
    'content changed: a.txt',
    'git status now shows: ?? b.txt',
  ])
})

test('copyWorkingTree copies tracked files as on disk and untracked ones, not ignored ones', async () => {
  writeFileSync(join(repo, 'a.txt'), 'uncommitted edit\n')
  writeFileSync(join(repo, 'untracked.txt'), 'u\n')
  mkdirSync(join(repo, 'node_modules'))
  writeFileSync(join(repo, 'node_modules', 'x.js'), '')
  const before = gitFingerprint(repo)

  const copied = await copyWorkingTree(repo, scratch)
  expect(copied).toBe(3) // .gitignore, a.txt, untracked.txt
  expect(readFileSync(join(scratch, 'a.txt'), 'utf8')).toBe('uncommitted edit\n')
  expect(existsSync(join(scratch, 'untracked.txt'))).toBe(true)
  expect(existsSync(join(scratch, 'node_modules'))).toBe(false)
  expect(existsSync(join(scratch, '.git'))).toBe(false)
  expect(fingerprintChanges(before, gitFingerprint(repo))).toEqual([])
})
